"""Start, stop and read workflow runs: an MCS ``workflow_run`` row beside each Airflow DAG run."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from datetime import UTC, datetime

from airflow.api.common.mark_tasks import set_dag_run_state_to_failed
from airflow.api.common.trigger_dag import trigger_dag
from airflow.exceptions import DagRunAlreadyExists
from airflow.models.dagbag import DBDagBag
from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState
from airflow.utils.types import DagRunTriggeredByType
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from mcs.api.datamodels.runs import NodeStateResponse, RunResponse
from mcs.api.services import airflow_dags
from mcs.api.services.workflows import get_workflow
from mcs.dag_factory.builder import dag_id_for
from mcs.db.models import Workflow, WorkflowRun, WorkflowVersion
from mcs.errors import ConflictError, NotFoundError
from mcs.operators.sub_workflow import child_run_prefix

log = logging.getLogger(__name__)

FINISHED = ("success", "failed", "stopped")
DAG_LOAD_TIMEOUT = 30.0


def dag_run_id_for(workflow_id: int, command_id: str | None) -> str:
    """The Airflow run id of a new run: random, or derived from the command id that starts it.

    A derived id makes a start command idempotent on Airflow's side too: if an earlier attempt
    created the Airflow run but stopped before the MCS row was committed, the retry finds it.
    """
    if command_id:
        digest = hashlib.sha256(f"{workflow_id}\x1f{command_id}".encode()).hexdigest()[:24]
        return f"mcs__cmd_{digest}"
    return f"mcs__{datetime.now(UTC):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:8]}"


def start_run(
    session: Session, key: str, params: dict, *, kind: str, started_by: str, command_id: str | None = None
) -> WorkflowRun:
    workflow = get_workflow(session, key)
    if workflow.latest_version is None:
        raise ConflictError(f"workflow `{key}` has no published version; publish it first")
    if not workflow.enabled:
        raise ConflictError(f"workflow `{key}` is disabled; enable it before starting a run")
    if not airflow_dags.wait_until_loaded(key, workflow.latest_version, DAG_LOAD_TIMEOUT):
        raise ConflictError(
            f"Airflow has not loaded version {workflow.latest_version} of workflow `{key}` yet; "
            "check the dag-processor and try again"
        )

    run = WorkflowRun(
        workflow_id=workflow.id,
        version=workflow.latest_version,
        dag_id=dag_id_for(key),
        dag_run_id=dag_run_id_for(workflow.id, command_id),
        started_by_kind=kind,
        started_by=started_by,
        trigger_payload=params,
        command_id=command_id,
        state="queued",
    )
    session.add(run)
    session.flush()
    try:
        with create_session() as airflow_session:
            trigger_dag(
                run.dag_id,
                run_id=run.dag_run_id,
                conf=params,
                triggered_by=DagRunTriggeredByType.REST_API,
                triggering_user_name=started_by,
                session=airflow_session,
            )
    except DagRunAlreadyExists:
        if command_id is None:
            raise
        log.info("The Airflow run %s of command %s exists already; recording it", run.dag_run_id, command_id)
    log.info("Started run %s of workflow %s (%s by %s)", run.dag_run_id, key, kind, started_by)
    return run


def get_run(session: Session, run_id: int) -> WorkflowRun:
    run = session.get(WorkflowRun, run_id)
    if run is None:
        raise NotFoundError(f"run `{run_id}` does not exist")
    return run


def _sync(run: WorkflowRun, dag_run: DagRun | None) -> None:
    """Bring the MCS record up to date with Airflow's view of the run."""
    if dag_run is None or run.state in FINISHED:
        return
    state = str(dag_run.state)
    if run.stopped_by is not None and state in ("failed", "success"):
        state = "stopped"
    run.state = state if state in ("queued", "running", "success", "failed", "stopped") else run.state
    run.started_at = dag_run.start_date
    if run.state in FINISHED:
        run.ended_at = dag_run.end_date or datetime.now(UTC)


def describe_run(session: Session, run: WorkflowRun) -> RunResponse:
    workflow = session.get(Workflow, run.workflow_id)
    version = session.scalar(
        select(WorkflowVersion).where(
            WorkflowVersion.workflow_id == run.workflow_id, WorkflowVersion.version == run.version
        )
    )
    with create_session() as airflow_session:
        dag_run = airflow_session.scalar(
            select(DagRun).where(DagRun.dag_id == run.dag_id, DagRun.run_id == run.dag_run_id)
        )
        instances = {
            ti.task_id: ti
            for ti in airflow_session.scalars(
                select(TaskInstance).where(
                    TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.dag_run_id
                )
            )
        }
        _sync(run, dag_run)
        nodes = [
            NodeStateResponse(
                key=node["key"],
                name=node.get("name") or node["key"],
                kind=node["kind"],
                state=str(ti.state) if ti is not None and ti.state is not None else None,
                try_number=ti.try_number if ti is not None else 0,
                started_at=ti.start_date if ti is not None else None,
                ended_at=ti.end_date if ti is not None else None,
            )
            for node in (version.definition["nodes"] if version else [])
            for ti in [instances.get(node["key"])]
        ]
    return RunResponse(
        id=run.id,
        workflow_key=workflow.key if workflow else "",
        version=run.version,
        dag_id=run.dag_id,
        dag_run_id=run.dag_run_id,
        state=run.state,
        started_by_kind=run.started_by_kind,
        started_by=run.started_by,
        params=run.trigger_payload,
        created_at=run.created_at,
        started_at=run.started_at,
        ended_at=run.ended_at,
        stopped_by=run.stopped_by,
        stop_reason=run.stop_reason,
        nodes=nodes,
    )


def list_runs(
    session: Session, key: str, state: str | None, limit: int, offset: int
) -> tuple[list[WorkflowRun], int]:
    workflow = get_workflow(session, key)
    query = select(WorkflowRun).where(WorkflowRun.workflow_id == workflow.id)
    if state:
        query = query.where(WorkflowRun.state == state)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(WorkflowRun.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total


STOP_ATTEMPTS = 3


def _fail_in_airflow(session: Session, run: WorkflowRun, stopped_by: str, reason: str) -> None:
    with create_session() as airflow_session:
        dag_run = airflow_session.scalar(
            select(DagRun).where(DagRun.dag_id == run.dag_id, DagRun.run_id == run.dag_run_id)
        )
        if dag_run is not None:
            dag = DBDagBag().get_dag_for_run(dag_run, session=airflow_session)
            set_dag_run_state_to_failed(dag=dag, run_id=run.dag_run_id, commit=True, session=airflow_session)
            _stop_child_runs(session, airflow_session, run, stopped_by, reason)


def stop_run(session: Session, run_id: int, stopped_by: str, reason: str) -> WorkflowRun:
    """Stop a run: running steps are failed (their process is killed), waits cancelled, the rest skipped."""
    run = get_run(session, run_id)
    describe_run(session, run)
    if run.state in FINISHED:
        raise ConflictError(f"run `{run_id}` has already ended as {run.state}")

    # The scheduler updates the same rows; PostgreSQL may pick this transaction as a deadlock's
    # victim, and then a second try succeeds.
    for attempt in range(1, STOP_ATTEMPTS + 1):
        try:
            _fail_in_airflow(session, run, stopped_by, reason)
            break
        except OperationalError as exc:
            if "deadlock" not in str(exc).lower() or attempt == STOP_ATTEMPTS:
                raise
            log.warning("Deadlock while stopping run %s (try %s); trying again", run.dag_run_id, attempt)
            time.sleep(0.2 * attempt)
    run.state = "stopped"
    run.stopped_by = stopped_by
    run.stop_reason = reason
    run.ended_at = datetime.now(UTC)
    log.info(
        "Stopped run %s of %s (by %s: %s)", run.dag_run_id, run.dag_id, stopped_by, reason or "no reason"
    )
    return run


# Sub-workflow runs: the child runs that a run's sub-workflow steps started (see
# mcs.operators.sub_workflow), found by the prefix of their run ids and stopped with their parent.


def child_dag_runs(airflow_session: Session, dag_id: str, dag_run_id: str) -> list[DagRun]:
    """The unfinished Airflow runs started by sub-workflow steps of a run, and by theirs, all the way down."""
    active, parents, seen = [], [(dag_id, dag_run_id)], set()
    while parents:
        prefix = child_run_prefix(*parents.pop())
        children = airflow_session.scalars(
            select(DagRun).where(DagRun.run_id.startswith(prefix, autoescape=True))
        )
        for child in children:
            if (child.dag_id, child.run_id) in seen:
                continue
            seen.add((child.dag_id, child.run_id))
            parents.append((child.dag_id, child.run_id))
            if child.state in (DagRunState.QUEUED, DagRunState.RUNNING):
                active.append(child)
    return active


def _stop_child_runs(
    session: Session, airflow_session: Session, run: WorkflowRun, stopped_by: str, reason: str
) -> None:
    why = f"parent run {run.dag_run_id} stopped" + (f": {reason}" if reason else "")
    for child in child_dag_runs(airflow_session, run.dag_id, run.dag_run_id):
        dag = DBDagBag().get_dag_for_run(child, session=airflow_session)
        set_dag_run_state_to_failed(dag=dag, run_id=child.run_id, commit=True, session=airflow_session)
        session.execute(
            update(WorkflowRun)
            .where(
                WorkflowRun.dag_id == child.dag_id,
                WorkflowRun.dag_run_id == child.run_id,
                WorkflowRun.state.not_in(FINISHED),
            )
            .values(state="stopped", stopped_by=stopped_by, stop_reason=why, ended_at=datetime.now(UTC))
        )
        log.info("Stopped child run %s of %s with its parent %s", child.run_id, child.dag_id, run.dag_run_id)
