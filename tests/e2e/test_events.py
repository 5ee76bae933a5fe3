"""Run events end to end: the SSE stream of a run, the MQTT events topic, alerts to a webhook."""

from __future__ import annotations

import json
import threading
import time
import uuid
from urllib.parse import urlsplit

import httpx
import paho.mqtt.client as mqtt
import pytest
import redis

from tests.e2e.helpers import HttpSink, api_client, wait_for, wait_for_run

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(stack):
    with api_client(stack.base_url, stack.token()) as client:
        yield client


@pytest.fixture
def sink():
    sink = HttpSink()
    yield sink
    sink.close()


class Watcher:
    """An MQTT client subscribed to a workflow's events topic."""

    def __init__(self, key: str) -> None:
        self.events: list[dict] = []
        subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-events-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_message = lambda _c, _u, message: self.events.append(json.loads(message.payload))
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.connect("127.0.0.1", 1883)
        self.client.loop_start()
        self.client.subscribe(f"mcs/workflows/{key}/events", qos=1)
        assert subscribed.wait(5), "the broker did not acknowledge the subscription"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish_step(key: str) -> dict:
    return {
        "key": key,
        "kind": "mqtt_publish",
        "config": {"topic": f"e2e/events/{key}", "payload": {"step": key}},
    }


def start(client: httpx.Client, definition: dict) -> int:
    assert client.post("/workflows", json=definition).status_code == 201
    published = client.post(f"/workflows/{definition['key']}/publish")
    assert published.status_code == 201, published.text
    started = client.post(f"/workflows/{definition['key']}/runs", json={"params": {}})
    assert started.status_code == 201, started.text
    return started.json()["id"]


def read_stream(
    stack, path: str, headers: dict | None = None, timeout: float = 120
) -> tuple[list[dict], dict]:
    """Read an SSE stream until its `end` event; return the events and the end's data."""
    events, end, kind = [], None, None
    headers = {"Authorization": f"Bearer {stack.token()}", **(headers or {})}
    with httpx.stream("GET", stack.base_url + path, headers=headers, timeout=timeout) as answer:
        assert answer.status_code == 200, answer.read()
        assert answer.headers["content-type"].startswith("text/event-stream")
        for line in answer.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data = json.loads(line.split(":", 1)[1])
                if kind == "end":
                    end = data
                    break
                events.append(data)
            elif not line:
                kind = None
    assert end is not None, "the stream closed without an `end` event"
    return events, end


def test_run_stream_shows_each_node_state_in_order_and_mqtt_gets_the_same(stack, client):
    key = f"e2e_events_{uuid.uuid4().hex[:6]}"
    watcher = Watcher(key)
    try:
        run_id = start(
            client,
            {
                "key": key,
                "name": "事件 " + key,
                "nodes": [publish_step("first"), publish_step("second"), publish_step("third")],
                "edges": [{"source": "first", "target": "second"}, {"source": "second", "target": "third"}],
            },
        )
        events, end = read_stream(stack, f"/mcs/api/v1/runs/{run_id}/events")
        wait_for(lambda: len(watcher.events) >= len(events), 15, "the events on MQTT")
    finally:
        watcher.close()

    assert [(e["node_key"], e["state"]) for e in events if e["kind"] == "node_state"] == [
        ("first", "running"),
        ("first", "success"),
        ("second", "running"),
        ("second", "success"),
        ("third", "running"),
        ("third", "success"),
    ]
    run_states = [e["state"] for e in events if e["kind"] == "run_state"]
    assert run_states == ["running", "success"]
    assert events[0]["kind"] == "run_state" and events[-1]["kind"] == "run_state"
    assert end == {"run_id": run_id, "state": "success"}
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert [e["id"] for e in watcher.events] == [e["id"] for e in events]
    assert client.get(f"/runs/{run_id}").json()["state"] == "success"

    history = client.get(f"/runs/{run_id}/history").json()
    assert history["events"] == events
    resumed, _ = read_stream(
        stack, f"/mcs/api/v1/runs/{run_id}/events", {"Last-Event-ID": str(events[2]["id"])}
    )
    assert resumed == events[3:]


def test_failed_run_alerts_the_webhook_and_mqtt(stack, client, sink):
    key = f"e2e_alert_{uuid.uuid4().hex[:6]}"
    watcher = Watcher(key)
    try:
        run_id = start(
            client,
            {
                "key": key,
                "name": "告警 " + key,
                "nodes": [
                    publish_step("before"),
                    # Nothing listens on port 9 of loopback: the request fails at once.
                    {
                        "key": "call",
                        "kind": "http_request",
                        "config": {"method": "GET", "url": "http://127.0.0.1:9/"},
                    },
                ],
                "edges": [{"source": "before", "target": "call"}],
                "alerts": {"webhooks": [{"url": sink.url + "/alerts?token=secret-1", "format": "json"}]},
            },
        )
        run = wait_for_run(client, run_id, {"success", "failed", "stopped"})
        wait_for(lambda: sink.requests, 30, "the alert webhook")
        wait_for(lambda: any(e["kind"] == "alert" for e in watcher.events), 15, "the alert on MQTT")
    finally:
        watcher.close()

    assert run["state"] == "failed"
    path, body = sink.requests[0]
    assert path == "/alerts?token=secret-1"
    assert {k: body[k] for k in ("alert", "workflow_key", "workflow_name", "run_id", "failed_nodes")} == {
        "alert": "run_failed",
        "workflow_key": key,
        "workflow_name": "告警 " + key,
        "run_id": run_id,
        "failed_nodes": ["call"],
    }
    alert = next(e for e in watcher.events if e["kind"] == "alert")
    assert (alert["run_id"], alert["state"], alert["id"]) == (run_id, "run_failed", body["event_id"])
    assert "secret-1" not in stack.log_tail("gateway", 400)


def test_streams_need_a_login_and_take_the_ui_cookie(stack):
    path = stack.base_url + "/mcs/api/v1/events"
    assert httpx.get(path, timeout=10).status_code == 401

    with httpx.stream("GET", path, cookies={"_token": stack.token()}, timeout=10) as answer:
        assert answer.status_code == 200
        assert next(answer.iter_lines()) == "retry: 3000"


def test_closed_streams_leave_no_redis_connection_behind(stack):
    url = stack.env["AIRFLOW__MCS__REDIS_URL"]
    port, db = urlsplit(url).port or 6379, int(urlsplit(url).path.strip("/") or 0)
    admin = redis.Redis(host="127.0.0.1", port=port)

    def connections() -> int:
        return sum(1 for entry in admin.client_list() if int(entry["db"]) == db and entry["cmd"] == "xread")

    before = connections()
    headers = {"Authorization": f"Bearer {stack.token()}"}
    streams = [httpx.stream("GET", stack.base_url + "/mcs/api/v1/events", headers=headers) for _ in range(4)]
    # Keep each line iterator: dropping one closes its response.
    lines = [answer.__enter__().iter_lines() for answer in streams]
    assert [next(line) for line in lines] == ["retry: 3000"] * 4
    wait_for(lambda: connections() == before + 4, 10, "the streams to read Redis")
    for answer in streams:
        answer.__exit__(None, None, None)

    wait_for(lambda: connections() == before, 10, "the streams' Redis connections to close")
    time.sleep(0.5)
    assert connections() == before
