"""The ``workflow_run`` row of a DAG run: created for runs MCS did not start, kept in step with Airflow.

Runs started through MCS (API, MQTT, hooks) get their row from ``mcs.api.services.runs.start_run``,
with a dag_run_id that begins with :data:`MCS_RUN_PREFIX`. Runs that Airflow starts by itself (a
schedule), or that someone starts from Airflow's UI, get theirs here when they start running.

"Stopped" is never decided here: a run whose row says it was stopped stays stopped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from mcs.db.engine import session_scope
from mcs.db.models import Workflow, WorkflowRun

log = logging.getLogger(__name__)

# The prefix of the dag_run_ids that `start_run` gives the runs it creates (with their row).
MCS_RUN_PREFIX = "mcs__"
FINISHED = ("success", "failed", "stopped")


@dataclass(frozen=True)
class RunStart:
    """What is known of a DAG run when it starts, as plain values (no Airflow session needed).

    :param dag_id: the Airflow dag_id, which is the workflow's key.
    :param dag_run_id: the Airflow run id.
    :param run_type: Airflow's run type: ``scheduled``, ``manual``, ``operator_triggered``...
    :param triggered_by: what triggered it: ``timetable``, ``ui``, ``rest_api``, ``operator``...
    :param triggering_user: the user who triggered it, when there is one.
    :param conf: the run's conf (its params).
    :param version: the workflow version of the DAG (its ``vN`` tag), when known.
    """

    dag_id: str
    dag_run_id: str
    run_type: str = ""
    triggered_by: str = ""
    triggering_user: str = ""
    conf: dict[str, Any] = field(default_factory=dict)
    version: int | None = None


def started_by_kind(run_type: str, triggered_by: str) -> str:
    """How ``workflow_run.started_by_kind`` names a run that Airflow started."""
    if run_type in ("scheduled", "asset_triggered", "backfill") or triggered_by in ("timetable", "asset"):
        return "schedule"
    if run_type == "operator_triggered" or triggered_by == "operator":
        return "parent"
    if triggered_by == "ui":
        return "ui"
    return "api"


def version_from_tags(tags: Any) -> int | None:
    """The workflow version in a DAG's tags (``v3``), or None."""
    versions = []
    for tag in tags or ():
        name = getattr(tag, "name", tag)
        if isinstance(name, str) and name.startswith("v") and name[1:].isdigit():
            versions.append(int(name[1:]))
    return max(versions) if versions else None


def ensure_run_row(start: RunStart) -> bool:
    """Create the ``workflow_run`` row of a DAG run MCS did not start; return whether one was created.

    Nothing is done for runs MCS started (their row is being written by the API) or for DAGs that
    are not MCS workflows.
    """
    if start.dag_run_id.startswith(MCS_RUN_PREFIX):
        return False
    with session_scope() as session:
        exists = session.scalar(
            select(WorkflowRun.id).where(
                WorkflowRun.dag_id == start.dag_id, WorkflowRun.dag_run_id == start.dag_run_id
            )
        )
        if exists is not None:
            return False
        workflow = session.scalar(
            select(Workflow).where(Workflow.key == start.dag_id, Workflow.deleted_at.is_(None))
        )
        version = start.version or (workflow.latest_version if workflow else None)
        if workflow is None or version is None:
            return False
        kind = started_by_kind(start.run_type, start.triggered_by)
        inserted = session.execute(
            insert(WorkflowRun)
            .values(
                workflow_id=workflow.id,
                version=version,
                dag_id=start.dag_id,
                dag_run_id=start.dag_run_id,
                started_by_kind=kind,
                started_by=start.triggering_user or ("airflow" if kind == "schedule" else ""),
                trigger_payload=start.conf or {},
                state="queued",
            )
            .on_conflict_do_nothing(constraint="uq_workflow_run_dag_run")
            .returning(WorkflowRun.id)
        ).first()
    if inserted is not None:
        log.info("Recorded run %s of workflow %s (started by %s)", start.dag_run_id, start.dag_id, kind)
    return inserted is not None


def apply_run_state(
    dag_id: str,
    dag_run_id: str,
    state: str,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
) -> str | None:
    """Bring the row's state, start and end in line with Airflow; return the state to report.

    The state to report is ``stopped`` for a run that was stopped, whatever Airflow says, and
    Airflow's state otherwise. None: the run has no row (not an MCS run, or not committed yet).

    :param dag_id: the Airflow dag_id.
    :param dag_run_id: the Airflow run id.
    :param state: Airflow's run state: ``running``, ``success`` or ``failed``.
    :param started_at: the DAG run's start date.
    :param ended_at: the DAG run's end date.
    """
    with session_scope() as session:
        run = session.scalar(
            select(WorkflowRun)
            .where(WorkflowRun.dag_id == dag_id, WorkflowRun.dag_run_id == dag_run_id)
            .with_for_update()
        )
        if run is None:
            return None
        if run.state == "stopped" or run.stopped_by is not None:
            return "stopped"
        if started_at is not None and run.started_at is None:
            run.started_at = started_at
        if state == "running" and run.state == "queued":
            run.state = "running"
        elif state in ("success", "failed") and run.state not in FINISHED:
            run.state = state
            run.ended_at = ended_at or datetime.now(UTC)
    return state
