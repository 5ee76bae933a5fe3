"""A simulated device for the demo: answers commands on ``demo/devices/<id>/command``.

For a JSON command such as ``{"cmd": "read"}`` it replies, about half a second later, on
``demo/devices/<id>/reply`` with ``{"ok": true, "value": <number>, "device": "<id>"}``. Any other
command gets ``{"ok": false, "error": ...}``. It stops on SIGTERM or Ctrl-C.

    .venv/bin/python scripts/demo_device.py [--broker mqtt://127.0.0.1:1883]

The broker defaults to the ``AIRFLOW_CONN_MCS_MQTT`` connection URI when it is set.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import sys
import threading
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

log = logging.getLogger("demo_device")

COMMAND_TOPIC = "demo/devices/+/command"
REPLY_DELAY_SECONDS = 0.5


def reply_for(device_id: str, payload: bytes) -> dict:
    """Return the reply to one command; a reading is a pump pressure in bar."""
    try:
        command = json.loads(payload)
    except ValueError:
        return {"ok": False, "device": device_id, "error": "the command is not JSON"}
    if not isinstance(command, dict) or command.get("cmd") != "read":
        return {"ok": False, "device": device_id, "error": f"unknown command {command!r}"}
    return {"ok": True, "value": round(random.uniform(2.0, 4.0), 2), "device": device_id}


def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
    device_id = message.topic.split("/")[2]
    reply = reply_for(device_id, message.payload)
    topic = f"demo/devices/{device_id}/reply"
    log.info("command on %s: %s", message.topic, message.payload.decode(errors="replace"))

    def send() -> None:
        client.publish(topic, json.dumps(reply), qos=1)
        log.info("reply on %s: %s", topic, json.dumps(reply))

    threading.Timer(REPLY_DELAY_SECONDS, send).start()


def on_connect(client: mqtt.Client, userdata: object, flags, reason_code, properties) -> None:
    if reason_code.is_failure:
        log.error("connection refused: %s", reason_code)
        return
    # Subscribing here also subscribes again after a reconnect.
    client.subscribe(COMMAND_TOPIC, qos=1)
    log.info("connected, listening on %s", COMMAND_TOPIC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default=os.environ.get("AIRFLOW_CONN_MCS_MQTT", "mqtt://127.0.0.1:1883"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    broker = urlsplit(args.broker)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"mcs-demo-device-{os.getpid()}")
    client.on_connect = on_connect
    client.on_message = on_message
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    client.connect(broker.hostname or "127.0.0.1", broker.port or 1883, keepalive=30)

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    client.loop_start()
    stopping.wait()
    log.info("stopping")
    client.disconnect()
    client.loop_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
