"""Create, change, publish and delete workflows in the ``mcs`` database."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from mcs.db.models import TaskEdge, TaskNode, Workflow, WorkflowRun, WorkflowVersion
from mcs.definition import WorkflowDefinition, parse_definition
from mcs.errors import ConflictError, DefinitionError, NotFoundError

log = logging.getLogger(__name__)

ACTIVE_RUN_STATES = ("queued", "running")


def document(definition: WorkflowDefinition) -> dict:
    return definition.model_dump(mode="json", by_alias=True)


def checksum(doc: dict) -> str:
    canonical = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_sub_workflows(
    session: Session, definition: WorkflowDefinition, require_published: bool = True
) -> None:
    """No sub-workflow includes this workflow again, directly or not; on publish, each is published."""
    problems = []
    for index, node in enumerate(definition.nodes):
        if node.kind != "sub_workflow":
            continue
        path = _sub_workflow_path(session, node.config["workflow"], definition.key, [definition.key])
        if path == "missing" and require_published:
            problems.append(
                {
                    "path": f"nodes[{index}].config.workflow",
                    "message": f"workflow `{node.config['workflow']}` does not exist or is not published",
                }
            )
        elif isinstance(path, list):
            problems.append(
                {
                    "path": f"nodes[{index}].config.workflow",
                    "message": "sub-workflows include this workflow again: " + " -> ".join(path),
                }
            )
    if problems:
        raise DefinitionError(definition.key, problems)


def _sub_workflow_path(session: Session, key: str, root: str, trail: list[str]) -> list[str] | str | None:
    """The chain of keys leading back to ``root`` through published sub-workflows, if any."""
    if key == root:
        return [*trail, key]
    if key in trail:
        return None
    stored = session.scalar(
        select(WorkflowVersion.definition)
        .join(Workflow, Workflow.id == WorkflowVersion.workflow_id)
        .where(
            Workflow.key == key,
            Workflow.deleted_at.is_(None),
            WorkflowVersion.version == Workflow.latest_version,
        )
    )
    if stored is None:
        return "missing" if len(trail) == 1 else None
    for node in stored.get("nodes", []):
        if node.get("kind") == "sub_workflow":
            found = _sub_workflow_path(session, node["config"]["workflow"], root, [*trail, key])
            if isinstance(found, list):
                return found
    return None


def get_workflow(session: Session, key: str) -> Workflow:
    workflow = session.scalar(select(Workflow).where(Workflow.key == key, Workflow.deleted_at.is_(None)))
    if workflow is None:
        raise NotFoundError(f"workflow `{key}` does not exist")
    return workflow


def list_workflows(
    session: Session, search: str | None, limit: int, offset: int
) -> tuple[list[Workflow], int]:
    query = select(Workflow).where(Workflow.deleted_at.is_(None))
    if search:
        pattern = f"%{search}%"
        query = query.where(or_(Workflow.key.ilike(pattern), Workflow.name.ilike(pattern)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Workflow.key).limit(limit).offset(offset)).all()
    return list(rows), total


def _store_graph(
    session: Session, workflow: Workflow, definition: WorkflowDefinition, version_id: int | None
):
    for table in (TaskNode, TaskEdge):
        same_version = table.version_id.is_(None) if version_id is None else table.version_id == version_id
        session.execute(delete(table).where(table.workflow_id == workflow.id, same_version))
    for node in definition.nodes:
        session.add(
            TaskNode(
                workflow_id=workflow.id,
                version_id=version_id,
                node_key=node.key,
                kind=node.kind,
                name=node.name,
                parent_key=node.parent,
                config=node.config,
                retries=node.retries,
                retry_delay_seconds=node.retry_delay_seconds,
                timeout_seconds=node.timeout_seconds,
                position=node.position.model_dump() if node.position else {},
            )
        )
    for edge in definition.edges:
        session.add(
            TaskEdge(
                workflow_id=workflow.id,
                version_id=version_id,
                source_key=edge.source,
                target_key=edge.target,
                label=edge.label,
            )
        )


def _apply_draft(workflow: Workflow, definition: WorkflowDefinition) -> None:
    workflow.name = definition.name
    workflow.description = definition.description
    workflow.owner = definition.owner or workflow.owner
    workflow.tags = definition.tags
    workflow.draft = document(definition)
    workflow.updated_at = datetime.now(UTC)


def create_workflow(session: Session, definition: WorkflowDefinition, user: str) -> Workflow:
    live = session.scalar(
        select(Workflow.id).where(Workflow.key == definition.key, Workflow.deleted_at.is_(None))
    )
    if live is not None:
        raise ConflictError(f"workflow `{definition.key}` already exists")
    check_sub_workflows(session, definition, require_published=False)
    workflow = Workflow(key=definition.key, owner=definition.owner or user, enabled=True)
    _apply_draft(workflow, definition)
    session.add(workflow)
    session.flush()
    _store_graph(session, workflow, definition, None)
    log.info("Created workflow %s", definition.key)
    return workflow


def update_workflow(session: Session, key: str, definition: WorkflowDefinition) -> Workflow:
    workflow = get_workflow(session, key)
    check_sub_workflows(session, definition, require_published=False)
    _apply_draft(workflow, definition)
    _store_graph(session, workflow, definition, None)
    return workflow


def delete_workflow(session: Session, key: str) -> Workflow:
    workflow = get_workflow(session, key)
    active = session.scalar(
        select(func.count()).where(
            WorkflowRun.workflow_id == workflow.id, WorkflowRun.state.in_(ACTIVE_RUN_STATES)
        )
    )
    if active:
        raise ConflictError(f"workflow `{key}` has {active} active run(s); stop them before deleting it")
    workflow.deleted_at = datetime.now(UTC)
    log.info("Deleted workflow %s", key)
    return workflow


def publish_workflow(
    session: Session, key: str, user: str, active_runs: int = 0
) -> tuple[WorkflowVersion, bool]:
    """Publish the draft as a new immutable version; return it and whether it was unchanged.

    A run's steps are built from the published version when they start, so a new version is
    refused while runs are active rather than changing steps under a running run.
    """
    workflow = get_workflow(session, key)
    definition = parse_definition(workflow.draft)
    check_sub_workflows(session, definition)
    doc = document(definition)
    digest = checksum(doc)

    if workflow.latest_version is not None:
        latest = session.scalar(
            select(WorkflowVersion).where(
                WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.version == workflow.latest_version
            )
        )
        if latest is not None and latest.checksum == digest:
            return latest, True

    if active_runs:
        raise ConflictError(
            f"workflow `{key}` has {active_runs} active run(s), which would pick up the new version's "
            "steps; wait for them to end, or stop them (and disable a looping workflow), then publish"
        )
    version = WorkflowVersion(
        workflow_id=workflow.id,
        version=(workflow.latest_version or 0) + 1,
        checksum=digest,
        definition=doc,
        schedule=doc["schedule"],
        params=doc["params"],
        published_by=user,
    )
    session.add(version)
    session.flush()
    _store_graph(session, workflow, definition, version.id)
    workflow.latest_version = version.version
    log.info("Published workflow %s version %s", key, version.version)
    return version, False
