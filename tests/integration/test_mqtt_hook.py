"""The MQTT hook and the publish operator against the real Mosquitto on loopback."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from mcs.errors import MqttError
from mcs.hooks.mqtt import MqttHook, build_client_id
from mcs.operators.mqtt import MqttPublishOperator


def _wait_for(received: list, count: int = 1, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_publish_plain_text_arrives(mqtt_conn: str, topic: str, subscriber, qos: int) -> None:
    received = subscriber(topic, 2)
    hook = MqttHook(mqtt_conn_id=mqtt_conn, client_id=build_client_id("mcs-test", topic, qos))

    hook.publish(topic, "OPEN", qos=qos)
    hook.close()
    _wait_for(received)

    assert [(m.payload, m.qos) for m in received] == [(b"OPEN", qos)]


def test_publish_json_arrives_as_utf8_json(mqtt_conn: str, topic: str, subscriber) -> None:
    received = subscriber(topic, 1)
    hook = MqttHook(mqtt_conn_id=mqtt_conn)

    hook.publish(topic, json.dumps({"门": "开", "n": 1}, ensure_ascii=False), qos=1)
    hook.close()
    _wait_for(received)

    assert [json.loads(m.payload) for m in received] == [{"门": "开", "n": 1}]


def test_mqtt_311_connection_publishes(
    monkeypatch: pytest.MonkeyPatch, journal_stream: str, topic: str, subscriber
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_MCS_MQTT",
        json.dumps({"conn_type": "mqtt", "host": "127.0.0.1", "port": 1883, "extra": {"protocol": "3.1.1"}}),
    )
    received = subscriber(topic, 1)
    hook = MqttHook()

    hook.publish(topic, "x", qos=1)
    hook.close()
    _wait_for(received)

    assert hook.is_v5 is False
    assert [m.payload for m in received] == [b"x"]


def test_async_client_kwargs_follow_the_connection(mqtt_conn: str) -> None:
    kwargs = MqttHook(mqtt_conn_id=mqtt_conn).async_client_kwargs("mcs-x", persistent=True)

    assert kwargs["hostname"] == "127.0.0.1"
    assert kwargs["port"] == 1883
    assert kwargs["identifier"] == "mcs-x"
    assert kwargs["clean_start"] is False
    assert kwargs["properties"].SessionExpiryInterval == 7 * 24 * 3600


def test_client_id_is_stable_and_safe() -> None:
    first = build_client_id("mcs-wait", "温度 dag", "task.1", "manual__2024", 0, 1)

    assert first == build_client_id("mcs-wait", "温度 dag", "task.1", "manual__2024", 0, 1)
    assert first != build_client_id("mcs-wait", "温度 dag", "task.1", "manual__2024", 0, 2)
    assert first.startswith("mcs-wait-dag_task_1-")
    assert all(c.isascii() and (c.isalnum() or c in "-_") for c in first)


def _context(task_id: str = "publish") -> dict:
    ti = SimpleNamespace(dag_id="dag", task_id=task_id, run_id="manual__1", map_index=-1, try_number=1)
    return {"ti": ti}


def test_operator_publishes_json_and_returns_what_it_sent(mqtt_conn: str, topic: str, subscriber) -> None:
    received = subscriber(topic, 1)
    operator = MqttPublishOperator(task_id="publish", topic=topic, payload={"cmd": "open", "门": 1})

    result = operator.execute(_context())
    _wait_for(received)

    assert [m.payload.decode() for m in received] == ['{"cmd": "open", "门": 1}']
    assert {k: result[k] for k in ("topic", "payload", "qos", "retain")} == {
        "topic": topic,
        "payload": {"cmd": "open", "门": 1},
        "qos": 1,
        "retain": False,
    }
    assert result["started_at"] <= result["published_at"]
    assert result["started_at"].endswith("+00:00")


def test_operator_sends_plain_text_as_it_is(mqtt_conn: str, topic: str, subscriber) -> None:
    received = subscriber(topic, 1)

    result = MqttPublishOperator(task_id="publish", topic=topic, payload="OPEN", qos=0).execute(_context())
    _wait_for(received)

    assert [m.payload for m in received] == [b"OPEN"]
    assert result["payload"] == "OPEN"


@pytest.mark.parametrize("bad", ["", "devices/+/cmd", "devices/#"])
def test_operator_rejects_a_topic_it_cannot_publish_to(mqtt_conn: str, bad: str) -> None:
    with pytest.raises(MqttError, match="non-empty|wildcard"):
        MqttPublishOperator(task_id="publish", topic=bad, payload="x").execute(_context())
