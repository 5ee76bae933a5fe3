"""The approval step: the request it writes, the wait it parks in, and the answer it returns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from airflow.providers.standard.exceptions import HITLRejectException
from airflow.providers.standard.operators import hitl
from airflow.sdk import DAG, Param
from airflow.sdk.exceptions import AirflowSensorTimeout, TaskAwaitingInput

from mcs.operators.approval import ApprovalStep

ANSWERED_AT = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


def _step(**kwargs) -> ApprovalStep:
    with DAG("d", schedule=None, params={"device": Param("pump-1", type="string")}):
        return ApprovalStep(task_id="approve", subject="开阀？", body="Pump {{ params.device }}", **kwargs)


def _answer(option: str, user: dict | None = None, comment: str = "") -> dict:
    return {
        "chosen_options": [option],
        "params_input": {"comment": comment},
        "responded_at": ANSWERED_AT,
        "responded_by_user": user if user is not None else {"id": "7", "name": "王工"},
        "timedout": False,
    }


def test_step_asks_approve_or_reject_with_a_comment_field() -> None:
    step = _step(timeout_seconds=3600)

    assert step.options == ["approve", "reject"]
    assert step.multiple is False
    assert list(step.serialized_params) == ["comment"]
    assert step.response_timeout == timedelta(hours=1)


def test_step_does_not_take_options() -> None:
    with pytest.raises(ValueError, match="`options`"):
        _step(options=["yes", "no"])


def test_execute_writes_the_request_and_parks_with_started_at(monkeypatch: pytest.MonkeyPatch) -> None:
    written = {}
    monkeypatch.setattr(hitl, "upsert_hitl_detail", lambda **kwargs: written.update(kwargs))
    context = {"task_instance": SimpleNamespace(id="ti-1")}

    with pytest.raises(TaskAwaitingInput) as waiting:
        _step(timeout_seconds=60).execute(context)

    assert (written["ti_id"], written["subject"], written["options"]) == (
        "ti-1",
        "开阀？",
        ["approve", "reject"],
    )
    assert written["defaults"] is None
    assert waiting.value.method_name == "execute_complete"
    assert waiting.value.timeout == timedelta(seconds=60)
    assert datetime.fromisoformat(waiting.value.kwargs["started_at"]).tzinfo is not None


def test_approve_returns_the_answer_and_who_gave_it() -> None:
    result = _step().execute_complete({}, _answer("approve", comment="ok"), started_at="t0")

    assert result == {
        "answer": "approve",
        "by": "王工",
        "comment": "ok",
        "answered_at": "2024-05-01T08:30:00+00:00",
        "started_at": "t0",
    }


def test_reject_succeeds_with_answer_reject_by_default() -> None:
    assert _step().execute_complete({}, _answer("reject"), started_at="t0")["answer"] == "reject"


def test_reject_fails_the_step_when_configured() -> None:
    with pytest.raises(HITLRejectException, match="`开阀？` was rejected by 王工: too hot"):
        _step(reject_fails=True).execute_complete({}, _answer("reject", comment="too hot"))


def test_no_answer_in_time_raises_sensor_timeout() -> None:
    event = {"error": "The Human-in-the-loop response timeout has passed.", "error_type": "timeout"}

    with pytest.raises(AirflowSensorTimeout, match="nobody answered the approval `开阀？` within 60s"):
        _step(timeout_seconds=60).execute_complete({}, event)


def test_execution_timeout_counts_as_the_time_to_answer() -> None:
    step = _step(execution_timeout=timedelta(minutes=5))

    assert (step.timeout_seconds, step.response_timeout, step.execution_timeout) == (
        300,
        timedelta(minutes=5),
        None,
    )
