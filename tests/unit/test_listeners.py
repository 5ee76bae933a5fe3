"""What the Airflow listeners make of the objects Airflow hands them."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout, TaskDeferralTimeout

from mcs import listeners
from mcs.events.report import NodeChange, is_timeout
from mcs.events.runs import version_from_tags

START = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
END = datetime(2026, 1, 1, 8, 0, 5, tzinfo=UTC)


def runtime_ti(**fields) -> SimpleNamespace:
    """A worker's task instance: plain attributes, no database row behind it."""
    values = {
        "dag_id": "pump",
        "run_id": "mcs__1",
        "task_id": "read",
        "try_number": 1,
        "map_index": -1,
        "state": None,
        "start_date": START,
        "end_date": END,
    }
    return SimpleNamespace(**{**values, **fields})


@pytest.fixture
def reported(monkeypatch) -> list[NodeChange]:
    changes: list[NodeChange] = []
    monkeypatch.setattr(listeners, "report_node", changes.append)
    return changes


def test_running_on_a_worker_is_reported_at_once_with_the_start_date(reported):
    listeners.on_task_instance_running(previous_state="queued", task_instance=runtime_ti())

    assert reported == [NodeChange("pump", "mcs__1", "read", "running", 1, -1, START)]


def test_success_carries_the_end_date(reported):
    listeners.on_task_instance_success(previous_state="running", task_instance=runtime_ti())

    assert reported == [NodeChange("pump", "mcs__1", "read", "success", 1, -1, END)]


def test_a_failure_with_retries_left_is_up_for_retry(reported):
    ti = runtime_ti(state="up_for_retry")

    listeners.on_task_instance_failed(previous_state="running", task_instance=ti, error=ValueError("boom"))

    assert [(c.state, c.message, c.timed_out) for c in reported] == [("up_for_retry", "boom", False)]


def test_a_wait_that_ran_out_of_time_is_a_timed_out_failure(reported):
    ti = runtime_ti(task_id="reply", state="failed")

    listeners.on_task_instance_failed(
        previous_state="running", task_instance=ti, error=AirflowSensorTimeout("late")
    )

    assert [(c.node_key, c.state, c.message, c.timed_out) for c in reported] == [
        ("reply", "failed", "late", True)
    ]


def test_a_mapped_instance_keeps_its_index(reported):
    listeners.on_task_instance_skipped(previous_state="running", task_instance=runtime_ti(map_index=2))

    assert [(c.state, c.map_index) for c in reported] == [("skipped", 2)]


def test_a_database_row_is_reported_on_the_background_thread(monkeypatch, reported):
    submitted = []
    monkeypatch.setattr(listeners.dispatch, "submit", submitted.append)
    row = runtime_ti(_sa_instance_state=object())

    listeners.on_task_instance_success(previous_state=None, task_instance=row)

    assert reported == [] and len(submitted) == 1
    submitted[0]()
    assert [c.state for c in reported] == ["success"]


def test_a_listener_never_raises(monkeypatch, caplog):
    def broken(change):
        raise RuntimeError("database down")

    monkeypatch.setattr(listeners, "report_node", broken)

    listeners.on_task_instance_success(previous_state=None, task_instance=runtime_ti())

    assert "The MCS listener on_task_instance_success failed" in caplog.text


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (AirflowSensorTimeout("late"), True),
        (TaskDeferralTimeout("late"), True),
        (ValueError("late"), False),
        ("AirflowSensorTimeout as text", False),
        (None, False),
    ],
)
def test_is_timeout(error, expected):
    assert is_timeout(error) is expected


def test_version_comes_from_the_dags_vn_tag():
    assert version_from_tags(["mcs", "v3", "设备"]) == 3
    assert version_from_tags([SimpleNamespace(name="v12"), SimpleNamespace(name="v2")]) == 12
    assert version_from_tags(["demo"]) is None
