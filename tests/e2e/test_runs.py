"""A stored workflow runs as an Airflow DAG against a real MQTT device and a real HTTP service."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.e2e.helpers import Device, HttpSink, api_client, device_workflow, wait_for, wait_for_run

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


def deferred_count(stack, dag_id: str) -> int:
    answer = httpx.get(
        stack.base_url + f"/api/v2/dags/{dag_id}/dagRuns/~/taskInstances",
        params={"state": "deferred"},
        headers={"Authorization": f"Bearer {stack.token()}"},
    )
    return answer.json()["total_entries"]


def create_and_publish(client, definition: dict) -> dict:
    assert client.post("/workflows", json=definition).status_code == 201
    published = client.post(f"/workflows/{definition['key']}/publish")
    assert published.status_code == 201, published.text
    assert published.json()["loaded"] is True
    return published.json()


def test_device_reply_is_posted_to_http_service_and_run_succeeds(client, sink):
    prefix = f"e2e/{uuid.uuid4().hex[:8]}"
    device = Device(prefix, {"ok": True, "value": 42.5})
    try:
        create_and_publish(client, device_workflow("e2e_read_device", prefix, sink.url))

        started = client.post("/workflows/e2e_read_device/runs", json={"params": {"device": "pump-7"}})
        assert started.status_code == 201, started.text
        run = wait_for_run(client, started.json()["id"], {"success", "failed"})
    finally:
        device.close()

    assert run["state"] == "success"
    assert device.commands == [{"cmd": "read", "device": "pump-7"}]
    assert sink.requests == [("/readings", {"device": "pump-7", "value": 42.5})]
    assert [(node["key"], node["state"]) for node in run["nodes"]] == [
        ("command", "success"),
        ("reply", "success"),
        ("report", "success"),
    ]
    assert run["started_by_kind"] == "api"
    assert run["params"] == {"device": "pump-7"}


def test_stopping_a_run_cancels_its_wait(stack, client, sink):
    prefix = f"e2e/{uuid.uuid4().hex[:8]}"
    create_and_publish(client, device_workflow("e2e_stop_wait", prefix, sink.url, timeout_seconds=3600))
    run_id = client.post("/workflows/e2e_stop_wait/runs", json={"params": {}}).json()["id"]

    def reply_deferred():
        nodes = {node["key"]: node["state"] for node in client.get(f"/runs/{run_id}").json()["nodes"]}
        return nodes["reply"] == "deferred"

    wait_for(reply_deferred, 60, "the wait to be deferred")

    asked = time.monotonic()
    stopped = client.post(f"/runs/{run_id}/stop", json={"reason": "operator test"})
    assert stopped.status_code == 200, stopped.text
    run = wait_for_run(client, run_id, {"stopped"}, timeout=10)
    assert time.monotonic() - asked < 10

    assert run["stop_reason"] == "operator test"
    assert run["stopped_by"] == "admin"
    states = {node["key"]: node["state"] for node in run["nodes"]}
    assert states["command"] == "success"
    assert states["reply"] != "deferred"
    assert states["report"] in ("skipped", "upstream_failed")
    wait_for(lambda: deferred_count(stack, "e2e_stop_wait") == 0, 30, "no task instance left deferred")
    assert sink.requests == []
    assert client.post(f"/runs/{run_id}/stop", json={}).status_code == 409
