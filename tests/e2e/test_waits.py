"""Waiting steps on the real Airflow: long waits, MQTT requests, approvals, sub-workflows, loops."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import paho.mqtt.client as mqtt
import pytest

from tests.e2e.flows import run_workflow, states, step
from tests.e2e.helpers import wait_for, wait_for_run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(stack):
    with stack.client("/mcs/api/v1") as client:
        yield client


def publish_and_start(client, definition: dict, params: dict | None = None) -> int:
    if client.post("/workflows", json=definition).status_code == 409:
        assert client.put(f"/workflows/{definition['key']}", json=definition).status_code == 200
    published = client.post(f"/workflows/{definition['key']}/publish")
    assert published.status_code == 201, published.text
    started = client.post(f"/workflows/{definition['key']}/runs", json={"params": params or {}})
    assert started.status_code == 201, started.text
    return started.json()["id"]


def node_state(client, run_id: int, key: str) -> str | None:
    return states(client.get(f"/runs/{run_id}").json())[key]


def airflow_task_instances(stack, state: str) -> list[dict]:
    answer = httpx.get(
        stack.base_url + "/api/v2/dags/~/dagRuns/~/taskInstances",
        params={"state": state},
        headers={"Authorization": f"Bearer {stack.token()}"},
    )
    return answer.json()["task_instances"]


def send(topic: str, payload: dict) -> None:
    device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"e2e-device-{uuid.uuid4().hex[:8]}")
    device.connect("127.0.0.1", 1883)
    device.loop_start()
    device.publish(topic, json.dumps(payload), qos=1).wait_for_publish(5)
    device.loop_stop()
    device.disconnect()


def test_long_wait_is_deferred_holding_no_worker_and_resumes_on_its_message(stack, client):
    topic = f"e2e/waits/{uuid.uuid4().hex[:8]}/status"
    definition = {
        "key": "wait_long",
        "name": "长时间等待",
        "nodes": [
            {
                "key": "wait",
                "kind": "mqtt_wait",
                "config": {"topic": topic, "condition": "payload.ready", "timeout_seconds": 86400},
            },
            step("after"),
        ],
        "edges": [{"source": "wait", "target": "after"}],
    }
    run_id = publish_and_start(client, definition)
    wait_for(lambda: node_state(client, run_id, "wait") == "deferred", 180, "the wait to be deferred")

    running = [ti for ti in airflow_task_instances(stack, "running") if ti["dag_id"] == "wait_long"]
    deferred = [ti for ti in airflow_task_instances(stack, "deferred") if ti["dag_id"] == "wait_long"]
    assert running == []
    assert [ti["task_id"] for ti in deferred] == ["wait"]

    send(topic, {"ready": False})
    send(topic, {"ready": True, "level": 7})
    run = wait_for_run(client, run_id, {"success", "failed"})

    assert run["state"] == "success"
    assert states(run) == {"wait": "success", "after": "success"}


def reply_before_anyone_waits(request_topic: str, reply_topic: str) -> mqtt.Client:
    """A device that answers each request at once, echoing its correlation field."""
    device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"e2e-fast-{uuid.uuid4().hex[:8]}")

    def answer(client, userdata, message):
        request = json.loads(message.payload)
        client.publish(reply_topic, json.dumps({"request_id": request["request_id"], "value": 21}), qos=1)

    device.on_message = answer
    device.connect("127.0.0.1", 1883)
    device.subscribe(request_topic, qos=1)
    device.loop_start()
    return device


def test_mqtt_request_gets_a_reply_sent_the_moment_the_request_arrives(client):
    prefix = f"e2e/requests/{uuid.uuid4().hex[:8]}"
    device = reply_before_anyone_waits(f"{prefix}/cmd", f"{prefix}/reply")
    try:
        nodes = [
            {
                "key": "ask",
                "kind": "mqtt_request",
                "config": {
                    "topic": f"{prefix}/cmd",
                    "reply_topic": f"{prefix}/reply",
                    "payload": {"cmd": "read"},
                    "correlation": "field",
                    "timeout_seconds": 60,
                },
            },
            step("use", {"doubled": "{{ nodes.ask.reply.payload.value * 2 }}"}),
        ]
        run = run_workflow(client, "wait_request", nodes, [{"source": "ask", "target": "use"}])
    finally:
        device.loop_stop()
        device.disconnect()

    assert run["state"] == "success"
    assert states(run) == {"ask": "success", "use": "success"}


def approval_workflow(key: str) -> dict:
    return {
        "key": key,
        "name": "审批",
        "nodes": [
            {"key": "approve", "kind": "approval", "config": {"subject": "允许开泵？", "reject_fails": True}},
            step("pump_on"),
        ],
        "edges": [{"source": "approve", "target": "pump_on"}],
    }


@pytest.mark.parametrize(
    "answer,run_state,pump", [("approve", "success", "success"), ("reject", "failed", "upstream_failed")]
)
def test_approval_answered_from_the_api(client, answer, run_state, pump):
    key = f"wait_approval_{answer}"
    run_id = publish_and_start(client, approval_workflow(key))
    wait_for(lambda: client.get(f"/runs/{run_id}/approvals").json()["approvals"], 180, "the approval request")
    pending = client.get(f"/runs/{run_id}/approvals").json()["approvals"]
    assert [(a["node_key"], a["subject"], a["state"]) for a in pending] == [
        ("approve", "允许开泵？", "pending")
    ]

    answered = client.post(f"/runs/{run_id}/approvals/approve", json={"answer": answer, "comment": "ok"})
    assert answered.status_code == 200, answered.text
    run = wait_for_run(client, run_id, {"success", "failed"})

    assert run["state"] == run_state
    assert states(run)["pump_on"] == pump
    again = client.post(f"/runs/{run_id}/approvals/approve", json={"answer": answer})
    assert again.status_code == 409


def test_sub_workflow_runs_as_its_own_run_and_its_failure_fails_the_step(client):
    child = {
        "key": "wait_child",
        "name": "子流程",
        "params": {"fail": {"type": "boolean", "default": False}},
        "nodes": [step("c1", rules=[{"when": "params.fail", "action": "end_failure", "reason": "asked to"}])],
        "edges": [],
    }
    assert client.post("/workflows", json=child).status_code in (201, 409)
    assert client.post("/workflows/wait_child/publish").status_code == 201
    parent_nodes = [
        {
            "key": "sub",
            "kind": "sub_workflow",
            "config": {"workflow": "wait_child", "params": {"fail": "{{ params.fail }}"}},
        }
    ]
    parent = {"params": {"fail": {"type": "boolean", "default": False}}}

    ok = run_workflow(client, "wait_parent", parent_nodes, [], run_params={"fail": False}, **parent)
    bad = run_workflow(client, "wait_parent", parent_nodes, [], run_params={"fail": True}, **parent)

    assert ok["state"] == "success"
    assert bad["state"] == "failed"
    children = client.get("/workflows/wait_child/runs").json()["runs"]
    assert sorted(run["state"] for run in children[:2]) == ["failed", "success"]
    assert {run["started_by_kind"] for run in children[:2]} == {"parent"}


def test_loop_runs_again_when_the_last_run_ends_until_stopped(client):
    definition = {
        "key": "wait_loop",
        "name": "循环",
        "schedule": {"kind": "continuous"},
        "nodes": [step("tick")],
        "edges": [],
    }
    assert client.post("/workflows", json=definition).status_code in (201, 409)
    assert client.post("/workflows/wait_loop/publish").status_code == 201

    def finished_runs():
        runs = client.get("/workflows/wait_loop/runs").json()["runs"]
        return len([run for run in runs if run["state"] == "success"]) >= 3

    wait_for(finished_runs, 180, "three runs of the loop")
    stopped = client.post("/workflows/wait_loop/stop", json={"reason": "enough"})
    assert stopped.status_code == 200, stopped.text

    time.sleep(8)
    before = client.get("/workflows/wait_loop/runs").json()["total_entries"]
    time.sleep(8)
    after = client.get("/workflows/wait_loop/runs").json()
    assert after["total_entries"] == before
    assert all(run["state"] in ("success", "stopped", "failed") for run in after["runs"])
    assert client.get("/workflows/wait_loop").json()["enabled"] is False
