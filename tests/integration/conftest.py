"""Fixtures for tests against the real Mosquitto and Redis on loopback.

Each test gets its own topics (a uuid), its own journal stream in Redis db 15, and the Airflow
Connection ``mcs_mqtt`` pointing at the shared broker (or at a private one it can restart).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion

BROKER_HOST = "127.0.0.1"
BROKER_PORT = 1883
TEST_REDIS_URL = "redis://127.0.0.1:6379/15"


def mqtt_connection_uri(port: int, protocol: str = "5") -> str:
    return json.dumps(
        {"conn_type": "mqtt", "host": BROKER_HOST, "port": port, "extra": {"protocol": protocol}}
    )


@pytest.fixture
def journal_stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A journal stream of this test's own in Redis db 15, deleted afterwards."""
    stream = f"mcs-test:journal:{uuid.uuid4().hex}"
    monkeypatch.setenv("AIRFLOW__MCS__REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setenv("AIRFLOW__MCS__JOURNAL_STREAM", stream)
    yield stream
    redis.Redis.from_url(TEST_REDIS_URL).delete(stream)


@pytest.fixture
def mqtt_conn(monkeypatch: pytest.MonkeyPatch, journal_stream: str) -> str:
    """The Connection ``mcs_mqtt`` on the shared broker (MQTT 5)."""
    monkeypatch.setenv("AIRFLOW_CONN_MCS_MQTT", mqtt_connection_uri(BROKER_PORT))
    return "mcs_mqtt"


@pytest.fixture
def topic() -> str:
    return f"mcs-test/{uuid.uuid4().hex}"


def _publish(topic: str, payload: str | bytes, port: int = BROKER_PORT, qos: int = 1) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"device-{uuid.uuid4().hex[:12]}")
    client.connect(BROKER_HOST, port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=qos).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def device() -> Callable[..., None]:
    """``device(topic, payload, port=1883, qos=1)`` publishes as a device and waits for the broker."""
    return _publish


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((BROKER_HOST, 0))
        return sock.getsockname()[1]


class PrivateBroker:
    """A Mosquitto of this test's own on a free loopback port, which the test may restart."""

    def __init__(self, directory: Path) -> None:
        self.port = _free_port()
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} {BROKER_HOST}\nallow_anonymous true\npersistence false\n"
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen(
            [binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((BROKER_HOST, self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not start on {BROKER_HOST}:{self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def restart(self, pause: float = 0.5) -> None:
        self.stop()
        time.sleep(pause)
        self.start()


@pytest.fixture
def private_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, journal_stream: str
) -> Iterator[PrivateBroker]:
    """A private Mosquitto, with the Connection ``mcs_mqtt`` pointing at it."""
    broker = PrivateBroker(tmp_path)
    broker.start()
    monkeypatch.setenv("AIRFLOW_CONN_MCS_MQTT", mqtt_connection_uri(broker.port))
    yield broker
    broker.stop()


@pytest.fixture
def subscriber() -> Iterator[Callable[[str, int], list[paho.MQTTMessage]]]:
    """Subscribe to a topic on the shared broker; the returned list fills as messages arrive."""
    clients: list[paho.Client] = []

    def subscribe(topic_filter: str, qos: int = 1) -> list[paho.MQTTMessage]:
        received: list[paho.MQTTMessage] = []
        ready = threading.Event()
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"watcher-{uuid.uuid4().hex[:12]}")
        client.on_message = lambda _c, _u, message: received.append(message)
        client.on_subscribe = lambda *_args: ready.set()
        client.connect(BROKER_HOST, BROKER_PORT)
        client.loop_start()
        client.subscribe(topic_filter, qos=qos)
        assert ready.wait(5), "the broker did not acknowledge the subscription"
        clients.append(client)
        return received

    yield subscribe
    for client in clients:
        client.disconnect()
        client.loop_stop()
