"""The MQTT message trigger, driven directly in asyncio against the real Mosquitto and Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from mcs import journal
from mcs.triggers.mqtt import MqttMessageTrigger


async def _first_event(trigger: MqttMessageTrigger, timeout: float = 15.0) -> dict:
    events = trigger.run()
    try:
        event = await asyncio.wait_for(anext(events), timeout)
    finally:
        await events.aclose()
    return event.payload


async def _until_done(
    task: asyncio.Task, send: Callable[[], None], every: float = 0.2, timeout: float = 15.0
) -> dict:
    """Keep sending (the trigger may not have subscribed yet) until the trigger fires."""
    deadline = time.monotonic() + timeout
    while not task.done() and time.monotonic() < deadline:
        await asyncio.to_thread(send)
        await asyncio.wait([task], timeout=every)
    return await task


def _now_ms() -> int:
    return int(time.time() * 1000)


def test_matching_live_message_succeeds(mqtt_conn: str, topic: str, device) -> None:
    async def scenario() -> dict:
        trigger = MqttMessageTrigger(
            topic=f"{topic}/+/reply", condition="payload.ok", timeout_at=time.time() + 20
        )
        task = asyncio.create_task(_first_event(trigger))
        return await _until_done(task, lambda: device(f"{topic}/door1/reply", '{"ok": true, "n": 7}'))

    event = asyncio.run(scenario())

    assert event["status"] == "success"
    assert {k: event["message"][k] for k in ("topic", "payload", "source")} == {
        "topic": f"{topic}/door1/reply",
        "payload": {"ok": True, "n": 7},
        "source": "mqtt",
    }


def test_non_matching_message_is_ignored(mqtt_conn: str, topic: str, device) -> None:
    def send() -> None:
        device(topic, '{"state": "CLOSED"}')
        device(topic, '{"state": "OPEN"}')

    async def scenario() -> dict:
        trigger = MqttMessageTrigger(
            topic=topic, condition="payload.state == 'OPEN'", timeout_at=time.time() + 20
        )
        return await _until_done(asyncio.create_task(_first_event(trigger)), send)

    event = asyncio.run(scenario())

    assert event["message"]["payload"] == {"state": "OPEN"}


def test_only_non_matching_messages_time_out(mqtt_conn: str, topic: str, device) -> None:
    timeout_at = time.time() + 1.5

    async def scenario() -> dict:
        trigger = MqttMessageTrigger(topic=topic, condition="payload.state == 'OPEN'", timeout_at=timeout_at)
        return await _until_done(
            asyncio.create_task(_first_event(trigger)), lambda: device(topic, '{"state": "X"}')
        )

    assert asyncio.run(scenario()) == {"status": "timeout", "timeout_at": timeout_at}


def test_message_journaled_before_the_wait_satisfies_it(mqtt_conn: str, topic: str) -> None:
    since_ms = _now_ms() - 1000
    journal.append(topic, b'{"ok": 1}', source="http", client_id="door1")
    trigger = MqttMessageTrigger(
        topic=topic, condition="payload.ok == 1", since_ms=since_ms, timeout_at=time.time() + 10
    )

    event = asyncio.run(_first_event(trigger))

    assert event["status"] == "success"
    assert {k: event["message"][k] for k in ("topic", "payload", "source")} == {
        "topic": topic,
        "payload": {"ok": 1},
        "source": "journal",
    }


def test_message_journaled_before_since_does_not_count(mqtt_conn: str, topic: str) -> None:
    journal.append(topic, "OPEN")
    time.sleep(0.01)
    timeout_at = time.time() + 1
    trigger = MqttMessageTrigger(topic=topic, since_ms=_now_ms(), timeout_at=timeout_at)

    assert asyncio.run(_first_event(trigger)) == {"status": "timeout", "timeout_at": timeout_at}


def test_no_message_times_out(mqtt_conn: str, topic: str) -> None:
    timeout_at = time.time() + 0.5
    trigger = MqttMessageTrigger(topic=topic, timeout_at=timeout_at)

    assert asyncio.run(_first_event(trigger)) == {"status": "timeout", "timeout_at": timeout_at}


@pytest.mark.parametrize(
    ("sent", "condition", "expected"), [("OPEN", "payload == 'OPEN'", "OPEN"), ("42", "payload > 40", 42)]
)
def test_plain_payload_matches(
    mqtt_conn: str, topic: str, device, sent: str, condition: str, expected: object
) -> None:
    async def scenario() -> dict:
        trigger = MqttMessageTrigger(topic=topic, condition=condition, timeout_at=time.time() + 20)
        return await _until_done(asyncio.create_task(_first_event(trigger)), lambda: device(topic, sent))

    assert asyncio.run(scenario())["message"]["payload"] == expected


def test_condition_sees_params_and_topic(mqtt_conn: str, topic: str, device) -> None:
    async def scenario() -> dict:
        trigger = MqttMessageTrigger(
            topic=f"{topic}/#",
            condition="topic.endswith(params.door) and payload.v >= params.min",
            params={"door": "d2", "min": 5},
            timeout_at=time.time() + 20,
        )

        def send() -> None:
            device(f"{topic}/d1", '{"v": 9}')
            device(f"{topic}/d2", '{"v": 9}')

        return await _until_done(asyncio.create_task(_first_event(trigger)), send)

    assert asyncio.run(scenario())["message"]["topic"] == f"{topic}/d2"


def test_cancelled_trigger_stops_cleanly(mqtt_conn: str, topic: str) -> None:
    async def scenario() -> bool:
        task = asyncio.create_task(_first_event(MqttMessageTrigger(topic=topic)))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert asyncio.run(scenario()) is True


def test_trigger_resubscribes_after_broker_restart(private_broker, topic: str, device) -> None:
    async def scenario() -> dict:
        trigger = MqttMessageTrigger(topic=topic, condition="payload == 'after'", timeout_at=time.time() + 30)
        task = asyncio.create_task(_first_event(trigger, timeout=30))
        await asyncio.sleep(1.0)
        await asyncio.to_thread(private_broker.restart)
        return await _until_done(task, lambda: device(topic, "after", port=private_broker.port), timeout=30)

    event = asyncio.run(scenario())

    assert event["status"] == "success"
    assert event["message"]["source"] == "mqtt"


def test_message_journaled_during_outage_satisfies_the_wait(private_broker, topic: str) -> None:
    async def scenario() -> dict:
        trigger = MqttMessageTrigger(topic=topic, condition="payload.n == 3", timeout_at=time.time() + 30)
        task = asyncio.create_task(_first_event(trigger, timeout=30))
        await asyncio.sleep(1.0)
        await asyncio.to_thread(private_broker.stop)
        journal.append(topic, '{"n": 3}', source="http")
        await asyncio.sleep(1.0)
        await asyncio.to_thread(private_broker.start)
        return await asyncio.wait_for(task, 30)

    event = asyncio.run(scenario())

    assert event["status"] == "success"
    assert event["message"]["source"] == "journal"
    assert event["message"]["payload"] == {"n": 3}
