"""The sub-workflow step: child run ids, the trigger, and how the step starts and ends."""

from __future__ import annotations

import asyncio
import re
import time
from types import SimpleNamespace

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, TaskDeferred
from airflow.sdk.execution_time import task_runner
from airflow.sdk.execution_time.comms import ErrorResponse, OKResponse, TriggerDagRun

from mcs.operators import sub_workflow
from mcs.operators.sub_workflow import SubWorkflowOperator, child_run_id, child_run_prefix
from mcs.triggers import sub_workflow as trigger_module
from mcs.triggers.sub_workflow import SubWorkflowTrigger

ALLOWED = re.compile(r"^[A-Za-z0-9_.~:+-]+$")
PARENT_RUN = "mcs__20240501T080000_ab12cd34"


def test_child_run_id_is_readable_and_starts_with_the_parent_prefix() -> None:
    run_id = child_run_id("parent", PARENT_RUN, "call_child", 1)

    assert run_id.startswith(child_run_prefix("parent", PARENT_RUN))
    assert re.fullmatch(rf"sub__{PARENT_RUN}_[0-9a-f]{{10}}__call_child__try1", run_id)


def test_each_try_gets_its_own_child_run() -> None:
    assert child_run_id("p", PARENT_RUN, "s", 1) != child_run_id("p", PARENT_RUN, "s", 2)


def test_same_run_id_of_two_workflows_gives_different_prefixes() -> None:
    scheduled = "scheduled__2024-05-01T08:00:00+00:00"

    assert child_run_prefix("a", scheduled) != child_run_prefix("b", scheduled)


@pytest.mark.parametrize(
    ("parent_run", "task_id"),
    [
        (PARENT_RUN, "调用子流程"),
        ("x" * 250, "y" * 250),
        ("scheduled__2024-05-01T08:00:00+00:00", "a..b"),
        (f"sub__{'z' * 240}", "子.流程"),
    ],
)
def test_child_run_id_fits_airflow(parent_run: str, task_id: str) -> None:
    run_id = child_run_id("父流程", parent_run, task_id, 12, map_index=3)

    assert len(run_id) <= 250
    assert ALLOWED.match(run_id)
    assert ".." not in run_id
    assert run_id.startswith(child_run_prefix("父流程", parent_run))


def test_chinese_node_keys_do_not_collide() -> None:
    assert child_run_id("p", PARENT_RUN, "开始", 1) != child_run_id("p", PARENT_RUN, "结束", 1)


def test_trigger_serialize_round_trip() -> None:
    trigger = SubWorkflowTrigger(
        dag_id="子流程", run_id="sub__x__y__try1", poll_interval=0.5, timeout_at=1_700_000_000.5
    )

    classpath, kwargs = trigger.serialize()

    assert classpath == "mcs.triggers.sub_workflow.SubWorkflowTrigger"
    assert kwargs == {
        "dag_id": "子流程",
        "run_id": "sub__x__y__try1",
        "poll_interval": 0.5,
        "timeout_at": 1_700_000_000.5,
    }
    assert SubWorkflowTrigger(**kwargs).serialize() == (classpath, kwargs)


async def _first_event(trigger: SubWorkflowTrigger) -> dict:
    events = trigger.run()
    try:
        return (await anext(events)).payload
    finally:
        await events.aclose()


def test_trigger_fires_when_the_run_has_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    states = iter(["queued", "running", "failed"])

    async def state(dag_id: str, run_id: str) -> str:
        return next(states)

    monkeypatch.setattr(trigger_module, "_dag_run_state", state)

    event = asyncio.run(_first_event(SubWorkflowTrigger(dag_id="c", run_id="r", poll_interval=0.01)))

    assert event == {"status": "finished", "state": "failed"}


def test_trigger_times_out_while_the_run_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    async def state(dag_id: str, run_id: str) -> str:
        return "running"

    monkeypatch.setattr(trigger_module, "_dag_run_state", state)
    timeout_at = time.time() + 0.2

    event = asyncio.run(
        _first_event(SubWorkflowTrigger(dag_id="c", run_id="r", poll_interval=0.05, timeout_at=timeout_at))
    )

    assert event == {"status": "timeout", "timeout_at": timeout_at, "state": "running"}


class FakeComms:
    def __init__(self, answer) -> None:
        self.answer = answer
        self.sent: list = []

    def send(self, msg):
        self.sent.append(msg)
        return self.answer


def _operator(**kwargs) -> SubWorkflowOperator:
    with DAG("parent", schedule=None):
        return SubWorkflowOperator(task_id="call_child", workflow_key="child", **kwargs)


def _context(pushed: dict) -> dict:
    ti = SimpleNamespace(
        dag_id="parent",
        task_id="call_child",
        run_id=PARENT_RUN,
        map_index=-1,
        try_number=2,
        get_dag=lambda dag_id: SimpleNamespace(is_paused=False),
        xcom_push=lambda key, value: pushed.update({key: value}),
    )
    return {"ti": ti, "task_instance": ti}


@pytest.fixture
def child_recorded(monkeypatch: pytest.MonkeyPatch) -> list:
    recorded: list = []
    monkeypatch.setattr(sub_workflow, "_child_workflow", lambda key: (11, 4))
    monkeypatch.setattr(sub_workflow, "_record_child_run", lambda *args: recorded.append(args) or 99)
    monkeypatch.setattr(
        sub_workflow, "_mark_child_failed", lambda run_id, reason: recorded.append(("failed", run_id))
    )
    return recorded


def test_execute_records_then_triggers_then_defers(
    monkeypatch: pytest.MonkeyPatch, child_recorded: list
) -> None:
    comms = FakeComms(OKResponse(ok=True))
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)
    pushed: dict = {}
    expected_run_id = child_run_id("parent", PARENT_RUN, "call_child", 2)

    with pytest.raises(TaskDeferred) as deferred:
        _operator(workflow_params={"device": "p1"}, timeout_seconds=600, poll_interval=1).execute(
            _context(pushed)
        )

    assert child_recorded == [
        (11, 4, "child", expected_run_id, f"parent/{PARENT_RUN}/call_child", {"device": "p1"})
    ]
    [message] = comms.sent
    assert isinstance(message, TriggerDagRun)
    assert (message.dag_id, message.run_id, message.conf, message.logical_date) == (
        "child",
        expected_run_id,
        {"device": "p1"},
        None,
    )
    assert pushed["trigger_run_id"] == expected_run_id
    assert deferred.value.trigger.serialize()[1] == {
        "dag_id": "child",
        "run_id": expected_run_id,
        "poll_interval": 1,
        "timeout_at": deferred.value.trigger.timeout_at,
    }
    assert {k: deferred.value.kwargs[k] for k in ("run_id", "dag_run_id")} == {
        "run_id": 99,
        "dag_run_id": expected_run_id,
    }


def test_execute_fails_and_marks_the_child_when_airflow_refuses(
    monkeypatch: pytest.MonkeyPatch, child_recorded: list
) -> None:
    monkeypatch.setattr(
        task_runner, "SUPERVISOR_COMMS", FakeComms(ErrorResponse(detail={"m": "no dag"})), raising=False
    )

    with pytest.raises(AirflowException, match="cannot start run `sub__.*` of the sub-workflow `child`"):
        _operator().execute(_context({}))

    assert child_recorded[-1] == ("failed", 99)


def test_execute_complete_returns_the_child_run() -> None:
    result = _operator().execute_complete(
        {}, {"status": "finished", "state": "success"}, started_at="t0", run_id=99, dag_run_id="sub__x"
    )

    assert result == {
        "workflow_key": "child",
        "run_id": 99,
        "dag_run_id": "sub__x",
        "state": "success",
        "started_at": "t0",
    }


def test_child_failure_fails_the_step_naming_the_child() -> None:
    with pytest.raises(
        AirflowException, match=r"run `sub__x` \(MCS run 99\) of the sub-workflow `child` ended as failed"
    ):
        _operator().execute_complete(
            {}, {"status": "finished", "state": "failed"}, run_id=99, dag_run_id="sub__x"
        )


def test_timeout_raises_sensor_timeout() -> None:
    with pytest.raises(AirflowSensorTimeout, match="did not end within 60s"):
        _operator(timeout_seconds=60).execute_complete(
            {}, {"status": "timeout", "state": "running"}, run_id=99, dag_run_id="sub__x"
        )
