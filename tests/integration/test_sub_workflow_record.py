"""The sub-workflow step's record of its child run in a real ``mcs`` database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from airflow.sdk.exceptions import AirflowException
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from mcs.db.migrate import upgrade
from mcs.db.models import Workflow, WorkflowRun
from mcs.operators.sub_workflow import _child_workflow, _mark_child_failed, _record_child_run

SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432"


@pytest.fixture
def mcs_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"mcs_test_sub_{uuid.uuid4().hex[:10]}"
    url = f"{SERVER}/{name}"
    upgrade(url)
    monkeypatch.setenv("AIRFLOW__MCS__DATABASE_URL", url)
    yield url
    server = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def _workflow(url: str, key: str, latest_version: int | None = 3, enabled: bool = True) -> int:
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        workflow = Workflow(key=key, name=key, draft={}, latest_version=latest_version, enabled=enabled)
        session.add(workflow)
        session.flush()
        workflow_id = workflow.id
    engine.dispose()
    return workflow_id


def _runs(url: str) -> list[WorkflowRun]:
    engine = create_engine(url)
    with Session(engine) as session:
        rows = list(session.scalars(select(WorkflowRun).order_by(WorkflowRun.id)))
    engine.dispose()
    return rows


def test_child_workflow_gives_id_and_latest_version(mcs_db: str) -> None:
    workflow_id = _workflow(mcs_db, "子流程")

    assert _child_workflow("子流程") == (workflow_id, 3)


@pytest.mark.parametrize(
    ("latest_version", "enabled", "message"),
    [(None, True, "has no published version"), (2, False, "is disabled")],
)
def test_child_workflow_that_cannot_run_is_named(mcs_db: str, latest_version, enabled, message) -> None:
    _workflow(mcs_db, "child", latest_version, enabled)

    with pytest.raises(AirflowException, match=f"the sub-workflow `child` {message}"):
        _child_workflow("child")


def test_unknown_child_workflow_is_named(mcs_db: str) -> None:
    with pytest.raises(AirflowException, match="the sub-workflow `missing` does not exist"):
        _child_workflow("missing")


def test_child_run_is_recorded_once_as_started_by_its_parent(mcs_db: str) -> None:
    workflow_id = _workflow(mcs_db, "child")
    arguments = (workflow_id, 3, "child", "sub__r_abc__call__try1", "parent/r/call", {"device": "泵1"})

    first = _record_child_run(*arguments)
    second = _record_child_run(*arguments)

    [run] = _runs(mcs_db)
    assert first == second == run.id
    assert (run.dag_id, run.dag_run_id, run.version, run.state) == (
        "child",
        "sub__r_abc__call__try1",
        3,
        "queued",
    )
    assert (run.started_by_kind, run.started_by, run.trigger_payload) == (
        "parent",
        "parent/r/call",
        {"device": "泵1"},
    )


def test_child_run_that_airflow_refused_is_marked_failed(mcs_db: str) -> None:
    run_id = _record_child_run(_workflow(mcs_db, "child"), 1, "child", "sub__x", "p/r/t", {})

    _mark_child_failed(run_id, "Airflow did not start the run: DAGRUN_ALREADY_EXISTS")

    [run] = _runs(mcs_db)
    assert (run.state, run.stop_reason) == ("failed", "Airflow did not start the run: DAGRUN_ALREADY_EXISTS")
    assert run.ended_at is not None
