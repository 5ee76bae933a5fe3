"""Helpers of the end-to-end tests: an MCS API client, a device and an HTTP service on loopback."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import paho.mqtt.client as mqtt

API = "/mcs/api/v1"


def api_client(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base_url + API, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def wait_for_run(client: httpx.Client, run_id: int, states: set[str], timeout: float = 90) -> dict:
    def check():
        run = client.get(f"/runs/{run_id}").json()
        return run if run["state"] in states else None

    return wait_for(check, timeout, f"run {run_id} to reach {states}")


class Device:
    """An MQTT device: answers each command on ``<prefix>/command`` with a reply on ``<prefix>/reply``."""

    def __init__(self, prefix: str, reply: dict, port: int = 1883) -> None:
        self.prefix = prefix
        self.reply = reply
        self.commands: list[dict] = []
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-device-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{prefix}/command", qos=1)
        self.client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        command = json.loads(message.payload)
        self.commands.append(command)
        client.publish(f"{self.prefix}/reply", json.dumps(self.reply), qos=1)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class HttpSink:
    """An HTTP service on loopback that records the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                sink.requests.append((self.path, json.loads(self.rfile.read(length) or b"null")))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"stored": true}')

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def device_workflow(key: str, prefix: str, sink_url: str, timeout_seconds: int = 60) -> dict:
    """Publish a command to a device, wait for its reply, POST a value from the reply."""
    return {
        "key": key,
        "name": "设备读数 " + key,
        "description": "Command a device, wait for its reply, report the value.",
        "tags": ["test"],
        "params": {"device": {"type": "string", "default": "unset"}},
        "nodes": [
            {
                "key": "command",
                "kind": "mqtt_publish",
                "name": "发送命令",
                "config": {
                    "topic": prefix + "/command",
                    "payload": {"cmd": "read", "device": "{{ params.device }}"},
                },
            },
            {
                "key": "reply",
                "kind": "mqtt_wait",
                "name": "等待回复",
                "config": {
                    "topic": prefix + "/reply",
                    "condition": "payload.ok",
                    "timeout_seconds": timeout_seconds,
                },
            },
            {
                "key": "report",
                "kind": "http_request",
                "name": "上报",
                "config": {
                    "method": "POST",
                    "url": sink_url + "/readings",
                    "json": {"device": "{{ params.device }}", "value": "{{ nodes.reply.payload.value }}"},
                },
            },
        ],
        "edges": [{"source": "command", "target": "reply"}, {"source": "reply", "target": "report"}],
    }
