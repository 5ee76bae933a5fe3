"""The private services of ``mqtt_waits.py``: its own Mosquitto and Redis, and a device that publishes.

The bench keeps a thousand MQTT connections and a Celery queue of its own, so it starts both
servers itself on free loopback ports instead of sharing the machine's: the shared broker and
Redis stay as they are for everyone else, and no other stack's worker can take the bench's tasks
(Redis db numbers are only a convention between stacks). Both are stopped at the end.

- ``PrivateBroker``: Mosquitto with no connection limit and ``$SYS`` topics every second;
  ``connected()`` is the broker's own count of its clients.
- ``PrivateRedis``: ``redis-server`` keeping nothing on disk.
- ``Publisher``: publishes as a device would, QoS 1, returning once the broker acknowledged.

It imports the standard library and ``paho-mqtt``.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt


class ServiceError(Exception):
    """A private service did not start; the message says which and where."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(name: str, port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise ServiceError(f"{name} did not start on 127.0.0.1:{port}") from None
            time.sleep(0.05)


def _client(prefix: str) -> mqtt.Client:
    return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-{uuid.uuid4().hex[:6]}")


class PrivateBroker:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_connections -1\nsys_interval 1\nconnection_messages false\n"
            f"log_dest file {directory / 'mosquitto.log'}\nlog_type error\nlog_type warning\n"
        )
        self.process: subprocess.Popen | None = None
        self._connected = -1
        self._watcher: mqtt.Client | None = None

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen(
            [binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_for_port("mosquitto", self.port)
        self._watcher = _client("bench-sys")
        self._watcher.on_message = self._on_sys
        self._watcher.connect("127.0.0.1", self.port)
        self._watcher.subscribe("$SYS/broker/clients/connected")
        self._watcher.loop_start()

    def _on_sys(self, client, userdata, message) -> None:
        self._connected = int(message.payload)

    def connected(self) -> int:
        """Clients connected, as the broker said at most a second ago (-1 before its first word)."""
        return self._connected

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.disconnect()
            self._watcher.loop_stop()
            self._watcher = None
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port("redis-server", self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class Publisher:
    def __init__(self, port: int) -> None:
        self.client = _client("bench-device")
        connected = threading.Event()
        self.client.on_connect = lambda *args: connected.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not connected.wait(10):
            raise ServiceError(f"no CONNACK from the bench broker on port {port}")

    def publish(self, topic: str, payload: dict) -> None:
        self.client.publish(topic, json.dumps(payload), qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
