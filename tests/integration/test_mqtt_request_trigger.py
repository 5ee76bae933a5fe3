"""The MQTT request trigger, driven directly in asyncio against the real Mosquitto.

A test device answers every request at once (so a reply that came before the subscription would
be lost), first with a decoy that carries another correlation id, then with the real reply.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mcs.triggers.mqtt_request import MqttRequestTrigger
from tests.integration.conftest import BROKER_HOST, BROKER_PORT, mqtt_connection_uri

Reply = Callable[[paho.MQTTMessage], list[tuple[str, bytes, Properties | None]]]


async def _first_event(trigger: MqttRequestTrigger, timeout: float = 15.0) -> dict:
    events = trigger.run()
    try:
        event = await asyncio.wait_for(anext(events), timeout)
    finally:
        await events.aclose()
    return event.payload


def _reply_properties(correlation_data: bytes) -> Properties:
    properties = Properties(PacketTypes.PUBLISH)
    properties.CorrelationData = correlation_data
    return properties


@pytest.fixture
def device() -> Iterator[Callable[[str, Reply], list[paho.MQTTMessage]]]:
    """``device(topic, reply)``: an MQTT 5 device that answers each request on ``topic`` with ``reply(request)``."""
    clients: list[paho.Client] = []

    def start(topic: str, reply: Reply) -> list[paho.MQTTMessage]:
        requests: list[paho.MQTTMessage] = []
        ready = threading.Event()
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"device-{uuid.uuid4().hex[:12]}", protocol=paho.MQTTv5
        )

        def on_message(_client, _userdata, message: paho.MQTTMessage) -> None:
            requests.append(message)
            for reply_topic, payload, properties in reply(message):
                client.publish(reply_topic, payload, qos=1, properties=properties)

        client.on_message = on_message
        client.on_subscribe = lambda *_args: ready.set()
        client.connect(BROKER_HOST, BROKER_PORT)
        client.loop_start()
        client.subscribe(topic, qos=1)
        assert ready.wait(5), "the broker did not acknowledge the device's subscription"
        clients.append(client)
        return requests

    yield start
    for client in clients:
        client.disconnect()
        client.loop_stop()


def test_mqtt5_reply_with_correlation_data_succeeds_and_decoy_is_ignored(
    mqtt_conn: str, topic: str, device
) -> None:
    def reply(request: paho.MQTTMessage) -> list:
        reply_topic = request.properties.ResponseTopic
        return [
            (reply_topic, b'{"value": -1}', _reply_properties(b"someone-else")),
            (reply_topic, b'{"value": 21.5}', _reply_properties(request.properties.CorrelationData)),
        ]

    requests = device(f"{topic}/cmd", reply)
    trigger = MqttRequestTrigger(
        topic=f"{topic}/cmd",
        payload='{"op": "read"}',
        reply_topic=f"{topic}/reply",
        correlation_id="cid-mqtt5-1",
        timeout_at=time.time() + 15,
    )

    event = asyncio.run(_first_event(trigger))

    assert event["status"] == "success"
    assert {k: event["reply"][k] for k in ("topic", "payload")} == {
        "topic": f"{topic}/reply",
        "payload": {"value": 21.5},
    }
    assert requests[0].payload == b'{"op": "read"}'
    assert requests[0].properties.ResponseTopic == f"{topic}/reply"
    assert requests[0].properties.CorrelationData == b"cid-mqtt5-1"


def test_field_reply_with_the_same_id_succeeds_and_decoy_is_ignored(
    mqtt_conn: str, topic: str, device
) -> None:
    def reply(request: paho.MQTTMessage) -> list:
        request_id = json.loads(request.payload)["request_id"]
        return [
            (f"{topic}/reply/p1", json.dumps({"request_id": "wrong", "v": 0}).encode(), None),
            (f"{topic}/reply/p1", json.dumps({"request_id": request_id, "v": 7}).encode(), None),
        ]

    requests = device(f"{topic}/cmd", reply)
    trigger = MqttRequestTrigger(
        topic=f"{topic}/cmd",
        payload='{"op": "read", "request_id": "cid-field-1"}',
        reply_topic=f"{topic}/reply/+",
        correlation_id="cid-field-1",
        correlation="field",
        timeout_at=time.time() + 15,
    )

    event = asyncio.run(_first_event(trigger))

    assert event["status"] == "success"
    assert event["reply"]["payload"] == {"request_id": "cid-field-1", "v": 7}
    assert event["reply"]["topic"] == f"{topic}/reply/p1"
    assert len(requests) == 1


def test_correlated_reply_must_also_satisfy_the_condition(mqtt_conn: str, topic: str, device) -> None:
    def reply(request: paho.MQTTMessage) -> list:
        properties = _reply_properties(request.properties.CorrelationData)
        return [
            (f"{topic}/reply", b'{"ok": false}', properties),
            (f"{topic}/reply", b'{"ok": true, "n": 2}', properties),
        ]

    device(f"{topic}/cmd", reply)
    trigger = MqttRequestTrigger(
        topic=f"{topic}/cmd",
        payload="READ",
        reply_topic=f"{topic}/reply",
        correlation_id="cid-cond",
        condition="payload.ok and payload.n >= params.min",
        params={"min": 2},
        timeout_at=time.time() + 15,
    )

    assert asyncio.run(_first_event(trigger))["reply"]["payload"] == {"ok": True, "n": 2}


def test_no_reply_times_out(mqtt_conn: str, topic: str) -> None:
    timeout_at = time.time() + 1.0
    trigger = MqttRequestTrigger(
        topic=f"{topic}/cmd",
        payload="READ",
        reply_topic=f"{topic}/reply",
        correlation_id="c",
        timeout_at=timeout_at,
    )

    assert asyncio.run(_first_event(trigger)) == {"status": "timeout", "timeout_at": timeout_at}


def test_only_decoys_time_out(mqtt_conn: str, topic: str, device) -> None:
    device(f"{topic}/cmd", lambda request: [(f"{topic}/reply", b"{}", _reply_properties(b"not-ours"))])
    timeout_at = time.time() + 1.5
    trigger = MqttRequestTrigger(
        topic=f"{topic}/cmd",
        payload="READ",
        reply_topic=f"{topic}/reply",
        correlation_id="c",
        timeout_at=timeout_at,
    )

    assert asyncio.run(_first_event(trigger)) == {"status": "timeout", "timeout_at": timeout_at}


def test_field_on_mqtt311_ignores_its_own_request_on_a_shared_topic(
    monkeypatch: pytest.MonkeyPatch, journal_stream: str, topic: str, device
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_MCS_MQTT", mqtt_connection_uri(BROKER_PORT, protocol="3.1.1"))

    def reply(request: paho.MQTTMessage) -> list:
        document = json.loads(request.payload)
        if document.get("op") != "read":
            return []
        return [(f"{topic}/rpc", json.dumps({"request_id": document["request_id"], "v": 3}).encode(), None)]

    device(f"{topic}/rpc", reply)
    trigger = MqttRequestTrigger(
        topic=f"{topic}/rpc",
        payload='{"op": "read", "request_id": "cid-311"}',
        reply_topic=f"{topic}/rpc",
        correlation_id="cid-311",
        correlation="field",
        timeout_at=time.time() + 15,
    )

    assert asyncio.run(_first_event(trigger))["reply"]["payload"] == {"request_id": "cid-311", "v": 3}


def test_mqtt5_correlation_on_mqtt311_connection_is_an_error(
    monkeypatch: pytest.MonkeyPatch, journal_stream: str, topic: str
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_MCS_MQTT", mqtt_connection_uri(BROKER_PORT, protocol="3.1.1"))
    trigger = MqttRequestTrigger(
        topic=f"{topic}/cmd",
        payload="READ",
        reply_topic=f"{topic}/reply",
        correlation_id="c",
        timeout_at=time.time() + 5,
    )

    event = asyncio.run(_first_event(trigger))

    assert event["status"] == "error"
    assert "correlation `mqtt5` needs an MQTT 5 connection" in event["error"]


def test_request_is_published_again_after_the_connection_is_lost(mqtt_conn: str, topic: str, device) -> None:
    def reply(request: paho.MQTTMessage) -> list:
        # Only the second request is answered: it comes only if the trigger publishes again.
        if len(requests) < 2:
            return []
        return [
            (request.properties.ResponseTopic, b"DONE", _reply_properties(request.properties.CorrelationData))
        ]

    requests = device(f"{topic}/cmd", reply)
    trigger = MqttRequestTrigger(
        topic=f"{topic}/cmd",
        payload="READ",
        reply_topic=f"{topic}/reply",
        correlation_id="cid-again",
        timeout_at=time.time() + 20,
        client_id=f"mcs-req-test-{uuid.uuid4().hex[:8]}",
    )

    async def scenario() -> dict:
        task = asyncio.create_task(_first_event(trigger, timeout=20))
        while not requests:
            await asyncio.sleep(0.05)
        # A client with the same id takes the session over: the broker drops the trigger's connection.
        await asyncio.to_thread(_take_over, trigger.client_id)
        return await asyncio.wait_for(task, 20)

    event = asyncio.run(scenario())

    assert event["status"] == "success"
    assert event["reply"]["payload"] == "DONE"
    assert [r.properties.CorrelationData for r in requests] == [b"cid-again", b"cid-again"]


def _take_over(client_id: str) -> None:
    connected = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    client.on_connect = lambda *_args: connected.set()
    client.connect(BROKER_HOST, BROKER_PORT)
    client.loop_start()
    try:
        assert connected.wait(5), "the broker did not accept the take-over client"
    finally:
        client.disconnect()
        client.loop_stop()
