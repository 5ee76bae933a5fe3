"""Nothing is lost when the gateway or the triggerer goes away, or when a device answers very fast."""

from __future__ import annotations

import json
import signal
import time
import uuid
from datetime import datetime

import httpx
import paho.mqtt.client as mqtt
import pytest

from tests.e2e.control_helpers import (
    Commander,
    create_and_publish,
    log_count,
    mcs_engine,
    node_states,
    query,
    task_log,
)
from tests.e2e.helpers import Device, api_client, wait_for, wait_for_run

pytestmark = pytest.mark.e2e

COMMANDS = 50


@pytest.fixture(scope="module")
def client(stack):
    with api_client(stack.base_url, stack.token()) as client:
        yield client


@pytest.fixture(scope="module")
def mcs_db(stack):
    yield from mcs_engine(stack.env)


def publisher() -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:8]}")
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    return client


def device_wait_workflow(key: str, prefix: str) -> dict:
    return {
        "key": key,
        "name": "等待设备 " + key,
        "nodes": [
            {
                "key": "command",
                "kind": "mqtt_publish",
                "config": {"topic": prefix + "/command", "payload": {"cmd": "read"}},
            },
            {
                "key": "reply",
                "kind": "mqtt_wait",
                "config": {"topic": prefix + "/reply", "condition": "payload.ok", "timeout_seconds": 300},
            },
        ],
        "edges": [{"source": "command", "target": "reply"}],
    }


def test_gateway_killed_while_50_commands_arrive_handles_each_once(stack, client, mcs_db):
    key = "e2e_gateway_kill"
    # One run at a time and a long first step: the other runs stay queued and cost the worker nothing.
    create_and_publish(
        client,
        {
            "key": key,
            "name": "网关重启",
            "max_active_runs": 1,
            "nodes": [{"key": "pause", "kind": "delay", "config": {"seconds": 600}}],
        },
    )
    gateway_log = stack.logs_dir / "gateway.log"
    ids = [f"kill-{n:02d}" for n in range(COMMANDS)]
    commander = Commander(stack.topic_prefix)
    try:
        for command_id in ids[:20]:
            commander.send(key, {"action": "start", "command_id": command_id})
        commander.wait_ack(key, count=1, timeout=60)
        stack.kill("gateway", signal.SIGKILL)
        killed_after = len(commander.acks_for(key))
        for command_id in ids[20:]:
            commander.send(key, {"action": "start", "command_id": command_id})
        connected = log_count(gateway_log, "Taking commands on")
        stack.start("gateway")
        wait_for(
            lambda: log_count(gateway_log, "Taking commands on") > connected, 60, "the gateway to come back"
        )

        def all_answered() -> bool:
            return {ack["command_id"] for ack in commander.acks_for(key) if ack["ok"]} == set(ids)

        wait_for(all_answered, 120, f"an ok ack for each of the {COMMANDS} commands")
        acks = commander.acks_for(key)
    finally:
        commander.close()

    runs = query(
        mcs_db,
        "SELECT r.command_id FROM workflow_run r JOIN workflow w ON w.id = r.workflow_id WHERE w.key = :key",
        key=key,
    )
    commands = query(
        mcs_db,
        "SELECT c.command_id FROM control_command c JOIN workflow w ON w.id = c.workflow_id WHERE w.key = :key",
        key=key,
    )
    assert 0 < killed_after < 20
    assert sorted(command_id for (command_id,) in runs) == ids
    assert sorted(command_id for (command_id,) in commands) == ids
    first = {}
    for ack in acks:
        first.setdefault(ack["command_id"], ack)
        assert ack["run_id"] == first[ack["command_id"]]["run_id"]
    assert all(not ack["duplicate"] for ack in first.values())
    stopped = client.post(f"/workflows/{key}/stop", json={"reason": "test over"})
    assert len(stopped.json()["stopped_runs"]) == COMMANDS


def test_device_reply_before_the_wait_starts_is_not_lost(client):
    key, prefix = "e2e_fast_device", f"e2e/{uuid.uuid4().hex[:8]}"
    create_and_publish(client, device_wait_workflow(key, prefix))
    replied_at: list[float] = []
    device = Device(prefix, {"ok": True, "value": 1})
    device.client.on_publish = lambda *_: replied_at.append(time.time())
    try:
        run_id = client.post(f"/workflows/{key}/runs", json={"params": {}}).json()["id"]
        run = wait_for_run(client, run_id, {"success", "failed"}, timeout=90)
    finally:
        device.close()

    wait_started = datetime.fromisoformat(next(n for n in run["nodes"] if n["key"] == "reply")["started_at"])
    assert run["state"] == "success"
    assert replied_at and replied_at[0] < wait_started.timestamp()


def test_triggerer_restart_while_waiting_still_completes_the_wait(stack, client):
    key, prefix = "e2e_triggerer_restart", f"e2e/{uuid.uuid4().hex[:8]}"
    create_and_publish(client, device_wait_workflow(key, prefix))
    started = client.post(f"/workflows/{key}/runs", json={"params": {}}).json()
    run_id, dag_run_id = started["id"], started["dag_run_id"]
    wait_for(lambda: node_states(client, run_id)["reply"] == "deferred", 60, "the wait to be deferred")
    wait_for(
        lambda: f"Subscribed to {prefix}/reply" in task_log(stack.env, key, dag_run_id, "reply"),
        30,
        "the trigger to subscribe",
    )

    stack.kill("triggerer", signal.SIGTERM)
    device = publisher()
    try:
        device.publish(prefix + "/reply", json.dumps({"ok": True}), qos=1).wait_for_publish(5)
    finally:
        device.loop_stop()
        device.disconnect()
    restarted = time.time()
    stack.start("triggerer")
    run = wait_for_run(client, run_id, {"success", "failed"}, timeout=120)

    assert run["state"] == "success"
    health = httpx.get(f"{stack.base_url}/api/v2/monitor/health", timeout=10).json()["triggerer"]
    assert health["status"] == "healthy"
    assert datetime.fromisoformat(health["latest_triggerer_heartbeat"]).timestamp() > restarted
