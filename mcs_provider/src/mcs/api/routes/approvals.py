"""Approval routes: the approvals a run's steps asked for, and answering one."""

from __future__ import annotations

from fastapi import APIRouter

from mcs.api.datamodels.approvals import ApprovalBody, ApprovalCollectionResponse, ApprovalResponse
from mcs.api.deps import SessionDep
from mcs.api.errors import ERROR_RESPONSES
from mcs.api.security import CurrentUser
from mcs.api.services import approvals

router = APIRouter(tags=["approvals"], responses=ERROR_RESPONSES)


@router.get("/runs/{run_id}/approvals", response_model=ApprovalCollectionResponse)
def list_approvals(run_id: int, session: SessionDep, user: CurrentUser):
    items = approvals.list_approvals(session, run_id)
    return ApprovalCollectionResponse(approvals=items, total_entries=len(items))


@router.post("/runs/{run_id}/approvals/{node_key}", response_model=ApprovalResponse)
def answer_approval(run_id: int, node_key: str, body: ApprovalBody, session: SessionDep, user: CurrentUser):
    return approvals.answer_approval(session, run_id, node_key, body.answer, body.comment, user)
