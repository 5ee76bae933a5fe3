"""The gateway publishes run events on MQTT through a Redis consumer group, and re-reads what it missed."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio

from mcs.gateway import events as gateway_events
from mcs.hooks.mqtt import MqttHook

TEST_REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def event_stream(monkeypatch: pytest.MonkeyPatch, mqtt_conn: str) -> Iterator[str]:
    stream = f"mcs-test:events:{uuid.uuid4().hex}"
    monkeypatch.setenv("AIRFLOW__MCS__EVENT_STREAM", stream)
    yield stream
    redis.Redis.from_url(TEST_REDIS_URL).delete(stream)


def add_event(stream: str, **event) -> None:
    redis.Redis.from_url(TEST_REDIS_URL).xadd(stream, {"event": json.dumps(event)})


def test_events_are_published_on_their_workflows_topic(event_stream, subscriber):
    key = f"wf_{uuid.uuid4().hex[:8]}"
    received = subscriber(f"mcs/workflows/{key}/events")
    kwargs = MqttHook().async_client_kwargs(f"mcs-test-events-{uuid.uuid4().hex[:8]}")

    async def scenario() -> None:
        task = asyncio.create_task(gateway_events.forward(kwargs))
        await asyncio.sleep(1.0)
        for number, state in enumerate(["running", "success"], start=1):
            add_event(event_stream, id=number, run_id=3, workflow_key=key, kind="node_state", state=state)
        for _ in range(50):
            if len(received) == 2:
                break
            await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())

    assert [json.loads(message.payload)["state"] for message in received] == ["running", "success"]
    assert {message.qos for message in received} == {1}
    pending = redis.Redis.from_url(TEST_REDIS_URL).xpending(event_stream, gateway_events.MQTT_GROUP)
    assert pending["pending"] == 0


def test_an_event_left_unacknowledged_is_read_again_after_a_restart(event_stream):
    async def read_one(client: redis.asyncio.Redis, consumer: str) -> tuple[str, dict]:
        async for entry in gateway_events.consume(client, "test-group", consumer):
            return entry
        raise AssertionError("no entry")

    async def scenario() -> tuple[dict, dict]:
        client = redis.asyncio.Redis.from_url(TEST_REDIS_URL, decode_responses=True)
        try:
            await gateway_events._ensure_group(client, "test-group")
            add_event(event_stream, id=7, run_id=1, workflow_key="w", kind="run_state", state="running")
            _, first = await read_one(client, "gateway-a")
            # No acknowledgement: the gateway "stopped" here. It comes back under the same name.
            entry_id, again = await read_one(client, "gateway-a")
            await client.xack(event_stream, "test-group", entry_id)
            return first, again
        finally:
            await client.aclose()

    first, again = asyncio.run(scenario())

    assert (
        first == again == {"id": 7, "run_id": 1, "workflow_key": "w", "kind": "run_state", "state": "running"}
    )
