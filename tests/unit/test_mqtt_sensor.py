"""The MQTT message sensor defers to the trigger and turns its event into a result or an error."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, TaskDeferred

from mcs.sensors.mqtt import MqttMessageSensor

RUN_START = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def _sensor(**kwargs) -> MqttMessageSensor:
    with DAG("d", schedule=None):
        publish = MqttMessageSensor(task_id="publish_stand_in", topic="x")
        sensor = MqttMessageSensor(task_id="wait", topic="dev/+/reply", condition="payload.ok", **kwargs)
        publish >> sensor
    return sensor


def _context(xcoms: list) -> dict:
    ti = SimpleNamespace(
        dag_id="d", task_id="wait", run_id="r1", map_index=-1, try_number=1, xcom_pull=lambda task_ids: xcoms
    )
    return {"ti": ti, "dag_run": SimpleNamespace(start_date=RUN_START), "params": {"door": 1}}


def test_sensor_defers_with_since_from_upstream_started_at() -> None:
    with pytest.raises(TaskDeferred) as deferred:
        _sensor(timeout_seconds=30).execute(_context([{"started_at": "2024-05-01T08:00:05+00:00"}]))

    _, kwargs = deferred.value.trigger.serialize()
    assert kwargs["since_ms"] == int(datetime(2024, 5, 1, 8, 0, 5, tzinfo=UTC).timestamp() * 1000)
    assert (kwargs["topic"], kwargs["condition"], kwargs["params"]) == (
        "dev/+/reply",
        "payload.ok",
        {"door": 1},
    )
    assert kwargs["client_id"].startswith("mcs-wait-d_wait-")
    assert deferred.value.method_name == "execute_complete"


def test_sensor_falls_back_to_run_start_without_upstream_started_at() -> None:
    with pytest.raises(TaskDeferred) as deferred:
        _sensor().execute(_context([None]))

    assert deferred.value.trigger.since_ms == int(RUN_START.timestamp() * 1000)
    assert deferred.value.trigger.timeout_at is None


def test_execute_complete_returns_the_message() -> None:
    event = {
        "status": "success",
        "message": {"topic": "dev/1/reply", "payload": {"ok": True}, "received_at": "t"},
    }

    result = _sensor().execute_complete({}, event, started_at="s")

    assert result == {"topic": "dev/1/reply", "payload": {"ok": True}, "received_at": "t", "started_at": "s"}


def test_execute_complete_raises_sensor_timeout_naming_the_topic() -> None:
    with pytest.raises(AirflowSensorTimeout, match=r"`dev/\+/reply`.*within 30s"):
        _sensor(timeout_seconds=30).execute_complete({}, {"status": "timeout", "timeout_at": 1.0})


def test_execute_complete_raises_on_error() -> None:
    with pytest.raises(AirflowException, match=r"waiting on `dev/\+/reply` failed: boom"):
        _sensor().execute_complete({}, {"status": "error", "error": "boom"})
