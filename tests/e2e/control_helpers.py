"""Helpers of the control tests: an MQTT commander, a slow HTTP service, the stack's databases and logs."""

from __future__ import annotations

import json
import select
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.e2e.helpers import wait_for


class Commander:
    """An MQTT client that sends commands to workflows and collects the gateway's acks."""

    def __init__(self, prefix: str = "mcs", port: int = 1883) -> None:
        self.prefix = prefix
        self.acks: list[tuple[str, dict]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"test-commander-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(f"{prefix}/workflows/+/ack", qos=1)
        assert subscribed.wait(5), "the broker did not acknowledge the ack subscription"

    def _on_message(self, client, userdata, message) -> None:
        key = message.topic.removeprefix(f"{self.prefix}/workflows/").split("/")[0]
        with self._lock:
            self.acks.append((key, json.loads(message.payload)))

    def send(self, key: str, payload: dict | bytes | str) -> None:
        body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
        self.client.publish(f"{self.prefix}/workflows/{key}/command", body, qos=1).wait_for_publish(5)

    def acks_for(self, key: str, command_id: str | None = None) -> list[dict]:
        with self._lock:
            return [
                ack
                for k, ack in self.acks
                if k == key and (command_id is None or ack["command_id"] == command_id)
            ]

    def wait_ack(
        self, key: str, command_id: str | None = None, count: int = 1, timeout: float = 30
    ) -> list[dict]:
        def enough() -> list[dict] | None:
            found = self.acks_for(key, command_id)
            return found if len(found) >= count else None

        return wait_for(
            enough, timeout, f"{count} ack(s) of {command_id or 'a command'} for {key}", interval=0.05
        )

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class SlowService:
    """An HTTP service on loopback that answers only after ``delay`` seconds, and notices a caller
    that gives up: ``aborted`` holds the paths of the requests whose connection closed first."""

    def __init__(self, delay: float = 120) -> None:
        self.requests: list[str] = []
        self.aborted: list[str] = []
        self.answered: list[str] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                self.rfile.read(length)
                service.requests.append(self.path)
                deadline = time.monotonic() + delay
                while time.monotonic() < deadline:
                    readable, _, _ = select.select([self.connection], [], [], 0.05)
                    if readable and not self.connection.recv(1, 2):  # MSG_PEEK: b"" means closed
                        service.aborted.append(self.path)
                        return
                service.answered.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"slow": true}')

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def create_and_publish(client: httpx.Client, definition: dict) -> None:
    created = client.post("/workflows", json=definition)
    assert created.status_code == 201, created.text
    published = client.post(f"/workflows/{definition['key']}/publish")
    assert published.status_code == 201, published.text
    assert published.json()["loaded"] is True


def node_states(client: httpx.Client, run_id: int) -> dict[str, str | None]:
    return {node["key"]: node["state"] for node in client.get(f"/runs/{run_id}").json()["nodes"]}


def mcs_engine(env: dict[str, str]) -> Iterator[Engine]:
    engine = create_engine(env["AIRFLOW__MCS__DATABASE_URL"])
    try:
        yield engine
    finally:
        engine.dispose()


def query(engine: Engine, sql: str, **params: Any) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql), params)]


def task_log(env: dict[str, str], dag_id: str, dag_run_id: str, task_id: str) -> str:
    """The task's log files on this machine (every attempt), as one text."""
    folder = (
        Path(env["AIRFLOW_HOME"])
        / "logs"
        / f"dag_id={dag_id}"
        / f"run_id={dag_run_id}"
        / f"task_id={task_id}"
    )
    return "\n".join(path.read_text(errors="replace") for path in sorted(folder.glob("*.log")))


def log_count(path: Path, needle: str) -> int:
    return path.read_text(errors="replace").count(needle) if path.exists() else 0
