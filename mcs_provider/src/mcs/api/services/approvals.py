"""Approvals of a run: the human-in-the-loop requests of its steps, read and answered through Airflow.

An approval step (:class:`mcs.operators.approval.ApprovalStep`) writes Airflow's ``hitl_detail``
row and parks its task. Answering goes through Airflow's own response handler, so the same
checks apply as in Airflow's UI (assigned users, one answer only) and the parked task resumes.
"""

from __future__ import annotations

import logging

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
from airflow.api_fastapi.core_api.security import get_auth_manager
from airflow.models.dag import DagModel
from airflow.models.hitl import HITLDetail
from airflow.models.taskinstance import TaskInstance
from airflow.utils.session import create_session
from airflow.utils.state import State
from fastapi import HTTPException, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from mcs.api.datamodels.approvals import ApprovalResponse
from mcs.api.security import user_name
from mcs.api.services.runs import get_run
from mcs.db.models import WorkflowRun
from mcs.errors import ConflictError, NotFoundError
from mcs.operators.approval import COMMENT

log = logging.getLogger(__name__)


def _describe(detail: HITLDetail) -> ApprovalResponse:
    ti = detail.task_instance
    node_state = str(ti.state) if ti.state is not None else None
    if detail.responded_at is not None:
        state = "answered"
    elif ti.state in State.finished:
        state = "closed"
    else:
        state = "pending"
    responded_by = detail.responded_by or {}
    return ApprovalResponse(
        node_key=ti.task_id,
        subject=detail.subject,
        body=detail.body,
        options=list(detail.options or []),
        state=state,
        answer=(detail.chosen_options or [None])[0],
        by=responded_by.get("name") or responded_by.get("id"),
        comment=str((detail.params_input or {}).get(COMMENT) or ""),
        asked_at=detail.created_at,
        answered_at=detail.responded_at,
        node_state=node_state,
    )


def _details(airflow_session: Session, run: WorkflowRun, node_key: str | None = None) -> list[HITLDetail]:
    query = (
        select(HITLDetail)
        .join(TaskInstance, HITLDetail.ti_id == TaskInstance.id)
        .where(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.dag_run_id)
        .order_by(HITLDetail.created_at, TaskInstance.task_id)
    )
    if node_key is not None:
        query = query.where(TaskInstance.task_id == node_key)
    return list(airflow_session.scalars(query).unique())


def list_approvals(session: Session, run_id: int) -> list[ApprovalResponse]:
    """The approvals the steps of the MCS run ``run_id`` asked for, pending and answered, oldest first."""
    run = get_run(session, run_id)
    with create_session() as airflow_session:
        return [_describe(detail) for detail in _details(airflow_session, run)]


def _check_may_answer(airflow_session: Session, dag_id: str, user: BaseUser) -> None:
    allowed = get_auth_manager().is_authorized_dag(
        method="PUT",
        access_entity=DagAccessEntity.HITL_DETAIL,
        details=DagDetails(id=dag_id, team_name=DagModel.get_team_name(dag_id, session=airflow_session)),
        user=user,
    )
    if not allowed:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"`{user_name(user)}` may not answer approvals of `{dag_id}`"
        )


def answer_approval(
    session: Session, run_id: int, node_key: str, answer: str, comment: str, user: BaseUser
) -> ApprovalResponse:
    """Answer the approval of step ``node_key`` of run ``run_id`` as ``user``; the step resumes.

    :raises NotFoundError: no such run, or the step asked for no approval (yet).
    :raises ConflictError: the approval was answered already, or the step no longer waits.
    :raises RequestValidationError: ``answer`` is not one of the approval's options.
    :raises HTTPException: 403, the user may not answer it.
    """
    run = get_run(session, run_id)
    with create_session() as airflow_session:
        found = _details(airflow_session, run, node_key)
        if not found:
            raise NotFoundError(f"step `{node_key}` of run `{run_id}` has not asked for an approval")
        detail = found[0]
        ti = detail.task_instance
        if detail.responded_at is not None:
            by = (detail.responded_by or {}).get("name") or "the timeout default"
            raise ConflictError(
                f"the approval of step `{node_key}` was answered already: "
                f"`{(detail.chosen_options or ['?'])[0]}` by {by}"
            )
        if ti.state in State.finished:
            raise ConflictError(f"step `{node_key}` no longer waits for an answer; it is {ti.state}")
        if answer not in (detail.options or []):
            expected = ", ".join(f"`{option}`" for option in detail.options or [])
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", "answer"),
                        "msg": f"expected one of {expected}, found `{answer}`",
                        "type": "value_error",
                    }
                ]
            )
        _check_may_answer(airflow_session, run.dag_id, user)

        payload = UpdateHITLDetailPayload(
            chosen_options=[answer],
            params_input={COMMENT: comment} if COMMENT in (detail.params or {}) else {},
        )
        try:
            update_hitl_detail(
                dag_id=run.dag_id,
                dag_run_id=run.dag_run_id,
                task_id=node_key,
                update_hitl_detail_payload=payload,
                user=user,
                session=airflow_session,
                map_index=ti.map_index,
            )
        except HTTPException as exc:
            # A race with another answer or a clear, or a check only Airflow makes (assigned users).
            if exc.status_code == status.HTTP_409_CONFLICT:
                raise ConflictError(f"the approval of step `{node_key}` was answered already") from exc
            if exc.status_code == status.HTTP_404_NOT_FOUND:
                raise NotFoundError(
                    f"step `{node_key}` of run `{run_id}` has not asked for an approval"
                ) from exc
            raise
        airflow_session.flush()
        log.info(
            "Approval of %s in run %s answered %s by %s", node_key, run.dag_run_id, answer, user_name(user)
        )
        airflow_session.refresh(detail)
        return _describe(detail)
