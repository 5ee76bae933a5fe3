"""The HTTP condition sensor and trigger: the Connection read, deferral, conditions and the result."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from airflow.sdk import DAG, BaseHook
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, TaskDeferred

from mcs.expressions import matches
from mcs.sensors.http import HttpConditionSensor, connection_target, join_url
from mcs.triggers.http import HttpConditionTrigger, redact_url, response_variables


def _trigger(**kwargs) -> HttpConditionTrigger:
    arguments = {
        "url": "http://127.0.0.1:9/jobs/7",
        "condition": "status == 200 and body.state == 'done'",
        "method": "POST",
        "headers": {"Authorization": "Basic c2VjcmV0", "X-Device": "泵1"},
        "json_body": {"id": 7},
        "params": {"limit": 3},
        "interval_seconds": 0.5,
        "timeout_at": 1_700_000_060.5,
        "verify": False,
        **kwargs,
    }
    return HttpConditionTrigger(**arguments)


def test_serialize_round_trip_keeps_every_argument() -> None:
    classpath, kwargs = _trigger().serialize()

    assert classpath == "mcs.triggers.http.HttpConditionTrigger"
    assert kwargs == {
        "url": "http://127.0.0.1:9/jobs/7",
        "condition": "status == 200 and body.state == 'done'",
        "method": "POST",
        "headers": {"Authorization": "Basic c2VjcmV0", "X-Device": "泵1"},
        "json_body": {"id": 7},
        "params": {"limit": 3},
        "interval_seconds": 0.5,
        "timeout_at": 1_700_000_060.5,
        "verify": False,
    }
    assert HttpConditionTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_repr_leaves_out_header_values_and_url_password() -> None:
    text = repr(_trigger(url="http://user:pw@127.0.0.1:9/x"))

    assert "c2VjcmV0" not in text
    assert "pw@" not in text
    assert "'Authorization': '***'" in text


def test_redact_url_hides_only_the_password() -> None:
    assert redact_url("https://bob:secret@127.0.0.1:8443/a?b=1") == "https://bob:***@127.0.0.1:8443/a?b=1"
    assert redact_url("http://127.0.0.1/a") == "http://127.0.0.1/a"


def test_condition_sees_status_headers_and_parsed_body() -> None:
    response = httpx.Response(200, json={"state": "done", "n": 3}, headers={"X-Job": "7"})
    variables = {**response_variables(response), "params": {"min": 2}}

    assert variables["headers"]["x-job"] == "7"
    assert matches("status == 200 and body.state == 'done' and body.n >= params.min", variables) is True
    assert matches("headers['x-job'] == '8'", variables) is False


def test_text_body_stays_text() -> None:
    assert response_variables(httpx.Response(503, text="busy"))["body"] == "busy"


def test_connection_target_reads_it_as_the_http_provider() -> None:
    conn = SimpleNamespace(
        host="127.0.0.1",
        schema="https",
        port=8443,
        login="bob",
        password="secret",
        extra_dejson={"X-Api-Key": "k", "verify": "false", "timeout": 5},
    )

    base_url, headers, verify = connection_target(conn)

    assert base_url == "https://127.0.0.1:8443"
    assert headers == {"X-Api-Key": "k", "Authorization": "Basic Ym9iOnNlY3JldA=="}
    assert verify is False


def test_connection_target_keeps_a_host_with_scheme() -> None:
    conn = SimpleNamespace(host="http://127.0.0.1/api", schema=None, port=None, login=None, extra_dejson={})

    assert connection_target(conn) == ("http://127.0.0.1/api", {}, True)


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        ("http://h/api", "/jobs", "http://h/api/jobs"),
        ("http://h/api/", "jobs", "http://h/api/jobs"),
        ("http://h", "", "http://h"),
    ],
)
def test_join_url_puts_one_slash_between(base, path, expected) -> None:
    assert join_url(base, path) == expected


def _sensor(**kwargs) -> HttpConditionSensor:
    arguments = {"url": "http://127.0.0.1:9/jobs/7", "condition": "body.state == 'done'", **kwargs}
    with DAG("d", schedule=None):
        return HttpConditionSensor(task_id="poll", **arguments)


def test_execute_defers_with_the_connection_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = SimpleNamespace(
        host="127.0.0.1", schema="http", port=8080, login="bob", password="pw", extra_dejson={"X-A": "1"}
    )
    monkeypatch.setattr(BaseHook, "get_connection", classmethod(lambda cls, conn_id: conn))

    with pytest.raises(TaskDeferred) as deferred:
        _sensor(
            url="/jobs/7", http_conn_id="svc", headers={"X-A": "2"}, interval_seconds=3, timeout_seconds=60
        ).execute({"params": {"job": 7}})

    trigger = deferred.value.trigger
    assert trigger.url == "http://127.0.0.1:8080/jobs/7"
    assert trigger.headers == {"X-A": "2", "Authorization": "Basic Ym9iOnB3"}
    assert (trigger.interval_seconds, trigger.params, trigger.condition) == (
        3,
        {"job": 7},
        "body.state == 'done'",
    )
    assert trigger.timeout_at is not None
    assert list(deferred.value.kwargs) == ["started_at"]


def test_execute_needs_an_absolute_url_without_connection() -> None:
    with pytest.raises(ValueError, match="must be absolute"):
        _sensor(url="/jobs/7").execute({})


def test_execute_complete_returns_the_answer() -> None:
    event = {
        "status": "success",
        "response": {"status": 200, "headers": {"a": "b"}, "body": {"state": "done"}},
        "polls": 3,
    }

    result = _sensor().execute_complete({}, event, started_at="t0")

    assert result == {
        "status": 200,
        "headers": {"a": "b"},
        "body": {"state": "done"},
        "polls": 3,
        "started_at": "t0",
    }


def test_execute_complete_raises_sensor_timeout_naming_the_url() -> None:
    event = {"status": "timeout", "timeout_at": 1.0, "polls": 4, "last": "status 503"}

    with pytest.raises(
        AirflowSensorTimeout,
        match=r"`GET http://127.0.0.1:9/jobs/7` did not satisfy .* within 60s \(4 polls, last: status 503\)",
    ):
        _sensor(timeout_seconds=60).execute_complete({}, event)


def test_execute_complete_raises_on_error() -> None:
    with pytest.raises(AirflowException, match="polling `http://127.0.0.1:9/jobs/7` failed: boom"):
        _sensor().execute_complete({}, {"status": "error", "error": "boom"})
