"""Run events against real PostgreSQL and Redis: each state recorded once, rows kept in step, alerts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
from sqlalchemy import create_engine, select, text

from mcs.db import migrate
from mcs.db.engine import get_engine, session_scope
from mcs.db.models import RunEvent, Workflow, WorkflowRun, WorkflowVersion
from mcs.events import record
from mcs.events.report import NodeChange, RunChange, report_node, report_run
from mcs.events.runs import RunStart, ensure_run_row, started_by_kind

SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/15"
T0 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A throwaway `mcs` database and an event stream of this test's own in Redis db 15."""
    name = f"mcs_test_events_{uuid.uuid4().hex[:12]}"
    url = f"{SERVER}/{name}"
    migrate.upgrade(url)
    stream = f"mcs-test:events:{uuid.uuid4().hex}"
    monkeypatch.setenv("AIRFLOW__MCS__DATABASE_URL", url)
    monkeypatch.setenv("AIRFLOW__MCS__REDIS_URL", REDIS_URL)
    monkeypatch.setenv("AIRFLOW__MCS__EVENT_STREAM", stream)
    yield stream
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(stream, *client.keys("mcs:last_states:pump:*"))
    get_engine(url).dispose()
    server = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def add_run(dag_run_id: str, alerts: dict | None = None, **run) -> int:
    """The workflow `pump` (published version 1) and one run of it; returns the run's id."""
    with session_scope() as session:
        workflow = session.scalar(select(Workflow).where(Workflow.key == "pump"))
        if workflow is None:
            workflow = Workflow(key="pump", name="水泵", draft={}, latest_version=1)
            session.add(workflow)
            session.flush()
            definition = {"key": "pump", "alerts": alerts} if alerts is not None else {"key": "pump"}
            session.add(
                WorkflowVersion(workflow_id=workflow.id, version=1, checksum="x", definition=definition)
            )
        values = {"started_by_kind": "api", "state": "queued", **run}
        row = WorkflowRun(workflow_id=workflow.id, version=1, dag_id="pump", dag_run_id=dag_run_id, **values)
        session.add(row)
        session.flush()
        return row.id


def recorded(run_id: int) -> list[tuple]:
    with session_scope() as session:
        rows = session.scalars(select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.id))
        return [(row.kind, row.node_key, row.state) for row in rows]


def streamed(stream: str) -> list[dict]:
    entries = redis.Redis.from_url(REDIS_URL, decode_responses=True).xrange(stream)
    return [json.loads(fields["event"]) for _, fields in entries]


def test_a_state_reported_twice_is_recorded_once(stores):
    run_id = add_run("mcs__1")
    change = NodeChange("pump", "mcs__1", "read", "success", try_number=1, at=T0)

    first = report_node(change)
    second = report_node(NodeChange("pump", "mcs__1", "read", "success", try_number=1, source="watcher"))

    assert first is not None and second is None
    assert recorded(run_id) == [("node_state", "read", "success")]


def test_a_resumed_wait_is_running_again_and_a_retry_is_new(stores):
    run_id = add_run("mcs__2")
    for state, try_number in [
        ("running", 1),
        ("deferred", 1),
        ("running", 1),
        ("up_for_retry", 1),
        ("running", 2),
    ]:
        report_node(NodeChange("pump", "mcs__2", "wait", state, try_number=try_number))

    assert recorded(run_id) == [
        ("node_state", "wait", "running"),
        ("node_state", "wait", "deferred"),
        ("node_state", "wait", "running"),
        ("node_state", "wait", "up_for_retry"),
        ("node_state", "wait", "running"),
    ]


def test_a_late_running_report_does_not_undo_a_finished_try(stores):
    run_id = add_run("mcs__12")
    report_node(NodeChange("pump", "mcs__12", "read", "running", try_number=1))
    report_node(NodeChange("pump", "mcs__12", "read", "success", try_number=1))

    late = report_node(NodeChange("pump", "mcs__12", "read", "running", try_number=1, source="watcher"))

    assert late is None
    assert recorded(run_id) == [("node_state", "read", "running"), ("node_state", "read", "success")]


def test_a_late_running_report_does_not_reopen_an_ended_run(stores):
    run_id = add_run("mcs__13")
    report_run(RunChange("pump", "mcs__13", "running", started_at=T0))
    report_run(RunChange("pump", "mcs__13", "success", started_at=T0, ended_at=T0))

    late = report_run(RunChange("pump", "mcs__13", "running", started_at=T0, source="watcher"))

    assert late is None
    assert recorded(run_id) == [("run_state", None, "running"), ("run_state", None, "success")]


def test_the_stream_carries_the_same_event_as_the_history(stores):
    add_run("mcs__3")

    event = report_node(NodeChange("pump", "mcs__3", "read", "running", try_number=1, at=T0))

    assert streamed(stores) == [event]
    assert event["kind"] == "node_state"
    assert event["workflow_key"] == "pump"
    assert event["dag_run_id"] == "mcs__3"
    assert event["data"] == {"at": "2026-01-01T08:00:00Z", "source": "listener", "try_number": 1}


def test_run_end_reports_nodes_first_then_the_run_and_updates_the_row(stores):
    run_id = add_run("mcs__4", state="running")
    nodes = (
        NodeChange("pump", "mcs__4", "read", "success", try_number=1, source="sweep"),
        NodeChange("pump", "mcs__4", "report", "skipped", source="sweep"),
    )

    report_run(RunChange("pump", "mcs__4", "success", started_at=T0, ended_at=T0, nodes=nodes))

    assert recorded(run_id) == [
        ("node_state", "read", "success"),
        ("node_state", "report", "skipped"),
        ("run_state", None, "success"),
    ]
    with session_scope() as session:
        row = session.get(WorkflowRun, run_id)
        assert (row.state, row.started_at, row.ended_at) == ("success", T0, T0)


def test_a_stopped_run_is_never_reported_failed(stores):
    run_id = add_run("mcs__5", state="stopped", stopped_by="admin", ended_at=T0)

    report_run(RunChange("pump", "mcs__5", "failed", ended_at=T0, message="task_failure"))

    assert recorded(run_id) == [("run_state", None, "stopped")]
    with session_scope() as session:
        assert session.get(WorkflowRun, run_id).state == "stopped"


def test_a_failed_run_raises_one_alert(stores):
    run_id = add_run("mcs__6", state="running")
    failed = (NodeChange("pump", "mcs__6", "report", "failed", try_number=1, source="sweep"),)

    report_run(RunChange("pump", "mcs__6", "failed", ended_at=T0, message="task_failure", nodes=failed))
    report_run(RunChange("pump", "mcs__6", "failed", ended_at=T0, message="task_failure", source="watcher"))

    assert recorded(run_id) == [
        ("node_state", "report", "failed"),
        ("run_state", None, "failed"),
        ("alert", None, "run_failed"),
    ]
    alert = streamed(stores)[-1]
    assert alert["message"] == "the run failed (task_failure); failed nodes: `report`"
    assert alert["data"] == {
        "alert": "run_failed",
        "workflow_name": "水泵",
        "reason": "task_failure",
        "failed_nodes": ["report"],
    }


def test_a_timed_out_wait_raises_an_alert_only_if_the_workflow_asks(stores):
    run_id = add_run("mcs__7", alerts={"on": ["run_failed"]})

    report_node(
        NodeChange("pump", "mcs__7", "wait", "failed", try_number=1, message="no reply", timed_out=True)
    )

    assert recorded(run_id) == [("node_state", "wait", "failed")]


def test_a_timed_out_wait_raises_a_wait_timeout_alert(stores):
    run_id = add_run("mcs__8")

    report_node(
        NodeChange("pump", "mcs__8", "wait", "failed", try_number=1, message="no reply", timed_out=True)
    )

    assert recorded(run_id) == [("node_state", "wait", "failed"), ("alert", "wait", "wait_timeout")]


def test_a_scheduled_run_gets_its_row(stores):
    add_run("mcs__9")
    start = RunStart("pump", "scheduled__2026-01-01T08:00:00+00:00", run_type="scheduled", version=1)

    assert ensure_run_row(start) is True
    assert ensure_run_row(start) is False

    with session_scope() as session:
        row = session.scalar(select(WorkflowRun).where(WorkflowRun.dag_run_id == start.dag_run_id))
        assert (row.started_by_kind, row.started_by, row.version, row.state) == (
            "schedule",
            "airflow",
            1,
            "queued",
        )


def test_runs_mcs_starts_and_unknown_dags_get_no_row(stores):
    add_run("mcs__10")

    assert ensure_run_row(RunStart("pump", "mcs__not_yet_committed", run_type="manual")) is False
    assert ensure_run_row(RunStart("not_a_workflow", "manual__1", run_type="manual")) is False


@pytest.mark.parametrize(
    ("run_type", "triggered_by", "kind"),
    [
        ("scheduled", "timetable", "schedule"),
        ("asset_triggered", "asset", "schedule"),
        ("manual", "ui", "ui"),
        ("manual", "rest_api", "api"),
        ("operator_triggered", "operator", "parent"),
    ],
)
def test_started_by_kind_names_what_airflow_started(run_type, triggered_by, kind):
    assert started_by_kind(run_type, triggered_by) == kind


def test_last_states_expire(stores):
    add_run("mcs__11")
    report_node(NodeChange("pump", "mcs__11", "read", "running", try_number=1))

    ttl = redis.Redis.from_url(REDIS_URL).ttl("mcs:last_states:pump:mcs__11")

    assert 0 < ttl <= record.LAST_STATES_TTL
