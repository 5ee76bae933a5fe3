"""Commands over MQTT: the gateway starts, stops, enables and disables workflows and acks each command."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.e2e.control_helpers import (
    Commander,
    SlowService,
    create_and_publish,
    log_count,
    mcs_engine,
    node_states,
    query,
    task_log,
)
from tests.e2e.helpers import api_client, wait_for, wait_for_run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(stack):
    with api_client(stack.base_url, stack.token()) as client:
        yield client


@pytest.fixture(scope="module")
def commander(stack):
    gateway_log = stack.logs_dir / "gateway.log"
    wait_for(lambda: log_count(gateway_log, "Taking commands on"), 60, "the gateway to take commands")
    commander = Commander(stack.topic_prefix)
    yield commander
    commander.close()


@pytest.fixture(scope="module")
def mcs_db(stack):
    yield from mcs_engine(stack.env)


@pytest.fixture
def slow():
    service = SlowService()
    yield service
    service.close()


def short_workflow(key: str) -> dict:
    return {
        "key": key,
        "name": "短流程 " + key,
        "nodes": [{"key": "pause", "kind": "delay", "config": {"seconds": 1}}],
    }


def http_and_wait_workflow(key: str, url: str, prefix: str) -> dict:
    """A command to a device, then a slow HTTP call beside a wait for a device that never answers."""
    return {
        "key": key,
        "name": "停止测试 " + key,
        "nodes": [
            {
                "key": "call",
                "kind": "http_request",
                "config": {"method": "POST", "url": url + "/slow", "json": {}},
            },
            {
                "key": "command",
                "kind": "mqtt_publish",
                "config": {"topic": prefix + "/command", "payload": "go"},
            },
            {
                "key": "reply",
                "kind": "mqtt_wait",
                "config": {"topic": prefix + "/reply", "timeout_seconds": 3600},
            },
        ],
        "edges": [{"source": "command", "target": "call"}, {"source": "command", "target": "reply"}],
    }


def test_same_start_command_three_times_starts_one_run(client, commander, mcs_db):
    key = "e2e_cmd_once"
    create_and_publish(client, short_workflow(key))
    command = {"action": "start", "command_id": "cmd-once-1", "conf": {}, "client": "tester"}

    for _ in range(3):
        commander.send(key, command)
    acks = commander.wait_ack(key, "cmd-once-1", count=3)

    assert [(ack["ok"], ack["duplicate"]) for ack in acks] == [(True, False), (True, True), (True, True)]
    assert len({ack["run_id"] for ack in acks}) == 1
    runs = query(
        mcs_db,
        "SELECT r.id, r.started_by_kind, r.started_by FROM workflow_run r JOIN workflow w ON w.id = r.workflow_id "
        "WHERE w.key = :key",
        key=key,
    )
    assert runs == [(acks[0]["run_id"], "mqtt", "mqtt:tester")]


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        (b"{not json", "payload", "invalid"),
        ({"action": "jump", "command_id": "c1"}, "action", "invalid"),
        ({"action": "start"}, "command_id", "invalid"),
        ({"action": "start", "command_id": "c1", "conf": [1]}, "conf", "invalid"),
        ({"action": "start", "command_id": "c1", "comand": "typo"}, "comand", "invalid"),
    ],
    ids=["not json", "unknown action", "no command_id", "conf not an object", "unknown field"],
)
def test_bad_command_is_acked_false_naming_the_field(commander, payload, field, code):
    key = f"e2e_bad_{uuid.uuid4().hex[:8]}"

    commander.send(key, payload)
    (ack,) = commander.wait_ack(key)

    assert (ack["ok"], ack["code"], ack["field"]) == (False, code, field)
    assert f"`{field}`" in ack["error"] or field == "payload"


def test_command_for_unknown_workflow_is_acked_false(commander):
    key = f"e2e_ghost_{uuid.uuid4().hex[:8]}"

    commander.send(key, {"action": "start", "command_id": "ghost-1"})
    (ack,) = commander.wait_ack(key, "ghost-1")

    assert (ack["ok"], ack["code"], ack["error"]) == (False, "not_found", f"workflow `{key}` does not exist")


def test_stop_command_kills_running_http_step_and_cancels_wait(stack, client, commander, mcs_db, slow):
    key, prefix = "e2e_cmd_stop", f"e2e/{uuid.uuid4().hex[:8]}"
    create_and_publish(client, http_and_wait_workflow(key, slow.url, prefix))
    commander.send(key, {"action": "start", "command_id": "stop-test-start"})
    (started,) = commander.wait_ack(key, "stop-test-start")
    assert started["ok"], started
    run_id = started["run_id"]
    wait_for(
        lambda: slow.requests and node_states(client, run_id)["reply"] == "deferred", 60, "call and wait"
    )

    asked = time.monotonic()
    commander.send(
        key, {"action": "stop", "command_id": "stop-test-stop", "reason": "测试停止", "client": "tester"}
    )
    (ack,) = commander.wait_ack(key, "stop-test-stop")
    wait_for(lambda: slow.aborted, 20, "the HTTP request to be aborted", interval=0.05)
    aborted_after = time.monotonic() - asked

    assert (ack["ok"], ack["stopped_runs"], ack["loop_stopped"]) == (True, [run_id], False)
    assert slow.aborted == ["/slow"] and slow.answered == []
    assert aborted_after < 15
    run = wait_for_run(client, run_id, {"stopped"}, timeout=10)
    assert (run["stopped_by"], run["stop_reason"]) == ("mqtt:tester", "测试停止")
    wait_for(
        lambda: node_states(client, run_id) == {"call": "failed", "command": "success", "reply": "failed"},
        20,
        "the step and the wait to end failed",
    )
    assert "Stopped: aborting POST" in task_log(stack.env, key, run["dag_run_id"], "call")
    events = query(mcs_db, "SELECT message FROM run_event WHERE run_id = :id AND kind = 'command'", id=run_id)
    assert [message for (message,) in events] == [
        "start command stop-test-start from mqtt (mqtt)",
        "stop command stop-test-stop from mqtt (mqtt:tester)",
    ]


def test_disable_command_pauses_the_dag_and_refuses_starts(stack, client, commander):
    key = "e2e_cmd_disable"
    create_and_publish(client, short_workflow(key))
    airflow = httpx.Client(
        base_url=stack.base_url, headers={"Authorization": f"Bearer {stack.token()}"}, timeout=30
    )

    commander.send(key, {"action": "disable", "command_id": "dis-1", "reason": "maintenance"})
    disabled = commander.wait_ack(key, "dis-1")[0]
    commander.send(key, {"action": "start", "command_id": "dis-start"})
    refused = commander.wait_ack(key, "dis-start")[0]
    paused = airflow.get(f"/api/v2/dags/{key}").json()["is_paused"]
    commander.send(key, {"action": "enable", "command_id": "en-1"})
    enabled = commander.wait_ack(key, "en-1")[0]

    assert (disabled["ok"], disabled["enabled"], paused) == (True, False, True)
    assert (refused["ok"], refused["code"]) == (False, "conflict")
    assert refused["error"] == f"workflow `{key}` is disabled; enable it before starting a run"
    assert (enabled["ok"], enabled["enabled"]) == (True, True)
    assert airflow.get(f"/api/v2/dags/{key}").json()["is_paused"] is False
    assert client.get(f"/workflows/{key}").json()["enabled"] is True
