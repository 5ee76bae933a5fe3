"""The MQTT message trigger survives serialisation (how the triggerer receives it)."""

from __future__ import annotations

from mcs.triggers.mqtt import MqttMessageTrigger


def test_serialize_round_trip_keeps_every_argument() -> None:
    trigger = MqttMessageTrigger(
        topic="devices/+/reply",
        condition="payload.ok",
        params={"device": "门1"},
        since_ms=1_700_000_000_000,
        timeout_at=1_700_000_060.5,
        mqtt_conn_id="my_broker",
        client_id="mcs-wait-abc",
    )

    classpath, kwargs = trigger.serialize()
    copy = MqttMessageTrigger(**kwargs)

    assert classpath == "mcs.triggers.mqtt.MqttMessageTrigger"
    assert kwargs == {
        "topic": "devices/+/reply",
        "condition": "payload.ok",
        "params": {"device": "门1"},
        "since_ms": 1_700_000_000_000,
        "timeout_at": 1_700_000_060.5,
        "mqtt_conn_id": "my_broker",
        "client_id": "mcs-wait-abc",
    }
    assert copy.serialize() == (classpath, kwargs)


def test_serialize_keeps_generated_client_id() -> None:
    trigger = MqttMessageTrigger(topic="a/b")

    _, kwargs = trigger.serialize()

    assert MqttMessageTrigger(**kwargs).client_id == trigger.client_id
    assert trigger.client_id.startswith("mcs-wait-a_b-")
