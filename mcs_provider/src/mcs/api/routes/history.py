"""History routes: runs of every workflow with filters, and the definition of a published version."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from mcs.api.datamodels.history import RunSummaryCollectionResponse, VersionDefinitionResponse
from mcs.api.datamodels.runs import RunState
from mcs.api.deps import SessionDep
from mcs.api.errors import ERROR_RESPONSES
from mcs.api.security import CurrentUser
from mcs.api.services import history

router = APIRouter(tags=["history"], responses=ERROR_RESPONSES)


@router.get("/runs", response_model=RunSummaryCollectionResponse)
def list_all_runs(
    session: SessionDep,
    user: CurrentUser,
    workflow: Annotated[str | None, Query(description="Only the runs of this workflow key.")] = None,
    search: Annotated[str | None, Query(description="Part of a workflow's key or name.")] = None,
    state: RunState | None = None,
    started_by_kind: Annotated[str | None, Query(description="ui, api, mqtt, http, schedule...")] = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    latest_per_workflow: Annotated[bool, Query(description="Only the newest run of each workflow.")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    where = history.RunFilter(
        workflow=workflow,
        search=search,
        state=state,
        started_by_kind=started_by_kind,
        created_after=created_after,
        created_before=created_before,
        latest_per_workflow=latest_per_workflow,
    )
    rows, total = history.list_runs(session, where, limit, offset)
    return RunSummaryCollectionResponse(runs=rows, total_entries=total)


@router.get("/workflows/{key}/versions/{version}", response_model=VersionDefinitionResponse)
def get_version(key: str, version: int, session: SessionDep, user: CurrentUser):
    return history.get_version(session, key, version)
