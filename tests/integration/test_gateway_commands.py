"""The gateway's MQTT session acknowledges only what it dealt with; hook messages are journaled once."""

from __future__ import annotations

import asyncio
import time
import uuid

import paho.mqtt.client as paho
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mcs import journal
from mcs.api.services.hooks import retry_after
from mcs.gateway.client import JOURNALED_PROPERTY, GatewayClient
from mcs.gateway.main import Gateway
from mcs.hooks.mqtt import MqttHook
from tests.integration.conftest import BROKER_HOST, TEST_REDIS_URL, PrivateBroker


def _publish_v5(port: int, topic: str, payload: str, user_property: tuple[str, str] | None = None) -> None:
    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id=f"dev-{uuid.uuid4().hex[:8]}", protocol=paho.MQTTv5
    )
    client.connect(BROKER_HOST, port)
    client.loop_start()
    properties = None
    if user_property:
        properties = Properties(PacketTypes.PUBLISH)
        properties.UserProperty = user_property
    try:
        client.publish(topic, payload, qos=1, properties=properties).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


async def _next(client: GatewayClient, timeout: float):
    async with asyncio.timeout(timeout):
        async for message in client.messages:
            return message


def test_message_not_acknowledged_comes_back_after_reconnect(
    private_broker: PrivateBroker, topic: str
) -> None:
    kwargs = MqttHook().async_client_kwargs(f"gw-ack-{uuid.uuid4().hex[:8]}", persistent=True)

    async def scenario() -> tuple[bytes, bytes, bool, bool]:
        async with GatewayClient(**kwargs) as client:
            await client.subscribe(topic, qos=1)
            await asyncio.to_thread(_publish_v5, private_broker.port, topic, "one")
            first = await _next(client, 5)
        async with GatewayClient(**kwargs) as client:
            again = await _next(client, 5)
            client.ack(again)
            await asyncio.sleep(0.3)
        async with GatewayClient(**kwargs) as client:
            try:
                await _next(client, 1.5)
                third = True
            except TimeoutError:
                third = False
        return first.payload, again.payload, again.mid == first.mid, third

    first, again, same_mid, third = asyncio.run(scenario())

    assert (first, again, same_mid, third) == (b"one", b"one", True, False)


def test_gateway_skips_message_journaled_by_a_hook(
    mqtt_conn: str, journal_stream: str, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__MCS__DEVICE_TOPICS", f"{topic}/#")
    monkeypatch.setenv(
        "AIRFLOW__MCS__DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/mcs_absent_db"
    )

    async def scenario() -> list[journal.JournalEntry]:
        kwargs = MqttHook().async_client_kwargs(f"gw-skip-{uuid.uuid4().hex[:8]}")
        task = asyncio.create_task(Gateway(kwargs, refresh_seconds=0.2, commands=False).serve())
        since_ms = int(time.time() * 1000) - 1000
        entries: list[journal.JournalEntry] = []
        deadline = time.monotonic() + 15
        while not entries and time.monotonic() < deadline:
            await asyncio.to_thread(_publish_v5, 1883, f"{topic}/a", "from-hook", (JOURNALED_PROPERTY, "1-0"))
            await asyncio.to_thread(_publish_v5, 1883, f"{topic}/b", "from-device")
            await asyncio.sleep(0.3)
            entries = await journal.read_since(since_ms, 100)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return entries

    entries = asyncio.run(scenario())

    assert {entry.payload for entry in entries} == {"from-device"}


def test_hook_rate_limit_answers_seconds_to_wait_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__MCS__REDIS_URL", TEST_REDIS_URL)
    hook_id = f"test-{uuid.uuid4().hex}"
    # Start at the beginning of a window so all four requests fall into it.
    time.sleep(60 - time.time() % 60 if time.time() % 60 > 58 else 0)

    answers = [retry_after(hook_id, limit=3) for _ in range(4)]

    assert answers[:3] == [None, None, None]
    assert 1 <= answers[3] <= 60
    keys = redis.Redis.from_url(TEST_REDIS_URL).keys(f"mcs:hook-rate:{hook_id}:*")
    assert len(keys) == 1 and 60 < redis.Redis.from_url(TEST_REDIS_URL).ttl(keys[0]) <= 120


def test_gateway_does_not_journal_a_retained_message_replayed_at_subscription(
    private_broker: PrivateBroker, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__MCS__DEVICE_TOPICS", f"{topic}/#")
    monkeypatch.setenv(
        "AIRFLOW__MCS__DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/mcs_absent_db"
    )
    old = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"dev-{uuid.uuid4().hex[:8]}")
    old.connect(BROKER_HOST, private_broker.port)
    old.loop_start()
    old.publish(f"{topic}/state", "old state", qos=1, retain=True).wait_for_publish(5)
    old.disconnect()
    old.loop_stop()

    async def scenario() -> list[journal.JournalEntry]:
        kwargs = MqttHook().async_client_kwargs(f"gw-retain-{uuid.uuid4().hex[:8]}")
        task = asyncio.create_task(Gateway(kwargs, refresh_seconds=0.2, commands=False).serve())
        since_ms = int(time.time() * 1000) - 5000
        entries: list[journal.JournalEntry] = []
        deadline = time.monotonic() + 15
        while not entries and time.monotonic() < deadline:
            await asyncio.to_thread(_publish_v5, private_broker.port, f"{topic}/live", "new")
            await asyncio.sleep(0.3)
            entries = await journal.read_since(since_ms, 100)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return entries

    entries = asyncio.run(scenario())

    assert {(entry.topic, entry.payload) for entry in entries} == {(f"{topic}/live", "new")}
