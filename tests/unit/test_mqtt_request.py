"""The MQTT request operator and trigger: correlation, the request sent, deferral and the result."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, TaskDeferred

from mcs.errors import MqttError
from mcs.operators.mqtt_request import MqttRequestOperator, request_text
from mcs.triggers.mqtt_request import MqttRequestTrigger, reply_correlates

CID = "7b0c5a52-3f7e-4c55-9a43-0d6c2b1f9e10"


def test_serialize_round_trip_keeps_every_argument() -> None:
    trigger = MqttRequestTrigger(
        topic="dev/pump1/cmd",
        payload='{"op": "read", "request_id": "abc"}',
        reply_topic="dev/+/reply",
        correlation_id="abc",
        correlation="field",
        correlation_field="request_id",
        qos=2,
        condition="payload.ok",
        params={"设备": "泵1"},
        timeout_at=1_700_000_060.5,
        mqtt_conn_id="broker",
        client_id="mcs-req-x",
    )

    classpath, kwargs = trigger.serialize()

    assert classpath == "mcs.triggers.mqtt_request.MqttRequestTrigger"
    assert kwargs == {
        "topic": "dev/pump1/cmd",
        "payload": '{"op": "read", "request_id": "abc"}',
        "reply_topic": "dev/+/reply",
        "correlation_id": "abc",
        "correlation": "field",
        "correlation_field": "request_id",
        "qos": 2,
        "condition": "payload.ok",
        "params": {"设备": "泵1"},
        "timeout_at": 1_700_000_060.5,
        "mqtt_conn_id": "broker",
        "client_id": "mcs-req-x",
    }
    assert MqttRequestTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_trigger_rejects_unknown_correlation() -> None:
    with pytest.raises(ValueError, match="correlation must be one of"):
        MqttRequestTrigger(topic="a", payload="", reply_topic="b", correlation_id="c", correlation="header")


@pytest.mark.parametrize(
    ("data", "expected"),
    [(CID.encode(), True), (b"other", False), (None, False), (bytearray(CID.encode()), True)],
)
def test_mqtt5_reply_correlates_by_correlation_data(data, expected) -> None:
    assert reply_correlates("mqtt5", CID, {"request_id": CID}, data) is expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [({"request_id": CID, "v": 1}, True), ({"request_id": "x"}, False), ({"v": 1}, False), (CID, False)],
)
def test_field_reply_correlates_by_payload_field(payload, expected) -> None:
    assert reply_correlates("field", CID, payload, CID.encode(), "request_id") is expected


def test_field_correlation_uses_the_named_field() -> None:
    assert reply_correlates("field", CID, {"rid": CID}, None, "rid") is True


def test_request_text_mqtt5_sends_payload_unchanged() -> None:
    assert request_text({"op": "read"}, "mqtt5", "request_id", CID) == '{"op": "read"}'
    assert request_text("PING", "mqtt5", "request_id", CID) == "PING"


@pytest.mark.parametrize("payload", [{"op": "读"}, '{"op": "读"}'])
def test_request_text_field_adds_the_correlation_id(payload) -> None:
    assert json.loads(request_text(payload, "field", "request_id", CID)) == {"op": "读", "request_id": CID}


@pytest.mark.parametrize("payload", [[1, 2], "PING", 42])
def test_request_text_field_needs_a_json_object(payload) -> None:
    with pytest.raises(MqttError, match="payload must be a JSON object"):
        request_text(payload, "field", "request_id", CID)


def _operator(**kwargs) -> MqttRequestOperator:
    arguments = {"topic": "dev/p1/cmd", "payload": {"op": "read"}, "reply_topic": "dev/p1/reply", **kwargs}
    with DAG("d", schedule=None):
        return MqttRequestOperator(task_id="ask", **arguments)


def _context() -> dict:
    ti = SimpleNamespace(dag_id="d", task_id="ask", run_id="r1", map_index=-1, try_number=2)
    return {"ti": ti, "params": {"limit": 5}}


def test_execute_defers_with_a_fresh_correlation_id_in_the_payload() -> None:
    with pytest.raises(TaskDeferred) as deferred:
        _operator(correlation="field", timeout_seconds=30, condition="payload.ok").execute(_context())

    _, kwargs = deferred.value.trigger.serialize()
    cid = kwargs["correlation_id"]
    assert str(uuid.UUID(cid)) == cid
    assert json.loads(kwargs["payload"]) == {"op": "read", "request_id": cid}
    assert (kwargs["topic"], kwargs["reply_topic"], kwargs["correlation"], kwargs["params"]) == (
        "dev/p1/cmd",
        "dev/p1/reply",
        "field",
        {"limit": 5},
    )
    assert kwargs["client_id"].startswith("mcs-req-d_ask-")
    assert deferred.value.kwargs["correlation_id"] == cid
    assert deferred.value.kwargs["request"] == {"op": "read", "request_id": cid}
    assert set(deferred.value.kwargs) == {"started_at", "correlation_id", "request"}


def test_execute_mqtt5_needs_an_exact_reply_topic() -> None:
    with pytest.raises(MqttError, match="wildcard"):
        _operator(reply_topic="dev/+/reply").execute(_context())


def test_execute_field_allows_a_reply_topic_filter() -> None:
    with pytest.raises(TaskDeferred) as deferred:
        _operator(correlation="field", reply_topic="dev/+/reply").execute(_context())

    assert deferred.value.trigger.reply_topic == "dev/+/reply"


def test_execute_complete_returns_request_and_reply() -> None:
    event = {
        "status": "success",
        "reply": {"topic": "dev/p1/reply", "payload": {"ok": True}, "received_at": "t2"},
        "published_at": "t1",
    }

    result = _operator().execute_complete(
        {}, event, started_at="t0", correlation_id=CID, request={"op": "read"}
    )

    assert result == {
        "topic": "dev/p1/cmd",
        "request": {"op": "read"},
        "correlation_id": CID,
        "reply": {"topic": "dev/p1/reply", "payload": {"ok": True}, "received_at": "t2"},
        "started_at": "t0",
    }


def test_execute_complete_raises_sensor_timeout_naming_the_wait() -> None:
    with pytest.raises(AirflowSensorTimeout, match=rf"`dev/p1/reply`.*`dev/p1/cmd`.*`{CID}`.*within 30s"):
        _operator(timeout_seconds=30).execute_complete({}, {"status": "timeout"}, correlation_id=CID)


def test_execute_complete_raises_on_error() -> None:
    with pytest.raises(AirflowException, match="the request to `dev/p1/cmd` failed: boom"):
        _operator().execute_complete({}, {"status": "error", "error": "boom"})
