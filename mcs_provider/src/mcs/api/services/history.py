"""Read the history: runs of every workflow with filters, and the definition of a published version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from mcs.api.datamodels.history import RunSummary, VersionDefinitionResponse
from mcs.api.services import runs
from mcs.api.services.workflows import ACTIVE_RUN_STATES, get_workflow
from mcs.db.models import Workflow, WorkflowRun, WorkflowVersion
from mcs.errors import NotFoundError


@dataclass(frozen=True)
class RunFilter:
    """What the history list is narrowed to; None means no narrowing."""

    workflow: str | None = None
    search: str | None = None
    state: str | None = None
    started_by_kind: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    latest_per_workflow: bool = False


def _query(where: RunFilter) -> Select:
    query = (
        select(WorkflowRun, Workflow.key, Workflow.name)
        .join(Workflow, Workflow.id == WorkflowRun.workflow_id)
        .where(Workflow.deleted_at.is_(None))
    )
    if where.workflow:
        query = query.where(Workflow.key == where.workflow)
    if where.search:
        pattern = f"%{where.search}%"
        query = query.where(or_(Workflow.key.ilike(pattern), Workflow.name.ilike(pattern)))
    if where.state:
        query = query.where(WorkflowRun.state == where.state)
    if where.started_by_kind:
        query = query.where(WorkflowRun.started_by_kind == where.started_by_kind)
    if where.created_after:
        query = query.where(WorkflowRun.created_at >= where.created_after)
    if where.created_before:
        query = query.where(WorkflowRun.created_at < where.created_before)
    if where.latest_per_workflow:
        latest = select(func.max(WorkflowRun.id)).group_by(WorkflowRun.workflow_id)
        query = query.where(WorkflowRun.id.in_(latest.scalar_subquery()))
    return query


def _summary(run: WorkflowRun, key: str, name: str) -> RunSummary:
    duration = None
    if run.started_at is not None and run.ended_at is not None:
        duration = max((run.ended_at - run.started_at).total_seconds(), 0.0)
    return RunSummary(
        id=run.id,
        workflow_key=key,
        workflow_name=name,
        version=run.version,
        dag_id=run.dag_id,
        dag_run_id=run.dag_run_id,
        state=run.state,
        started_by_kind=run.started_by_kind,
        started_by=run.started_by,
        created_at=run.created_at,
        started_at=run.started_at,
        ended_at=run.ended_at,
        duration_seconds=duration,
        stopped_by=run.stopped_by,
        stop_reason=run.stop_reason,
    )


def list_runs(session: Session, where: RunFilter, limit: int, offset: int) -> tuple[list[RunSummary], int]:
    """Runs newest first. Active runs on the page are brought up to date with Airflow first."""
    query = _query(where)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(WorkflowRun.id.desc()).limit(limit).offset(offset)).all()
    for run, _, _ in rows:
        if run.state in ACTIVE_RUN_STATES:
            runs.describe_run(session, run)
    return [_summary(run, key, name) for run, key, name in rows], total


def get_version(session: Session, key: str, version: int) -> VersionDefinitionResponse:
    workflow = get_workflow(session, key)
    row = session.scalar(
        select(WorkflowVersion).where(
            WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.version == version
        )
    )
    if row is None:
        raise NotFoundError(f"workflow `{key}` has no version {version}")
    return VersionDefinitionResponse(
        workflow_key=key,
        version=row.version,
        checksum=row.checksum,
        published_by=row.published_by,
        published_at=row.published_at,
        definition=row.definition,
    )
