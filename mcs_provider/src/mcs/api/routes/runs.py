"""Run routes: start, list, read and stop runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from mcs.api.datamodels.runs import RunBody, RunCollectionResponse, RunResponse, RunState, StopBody
from mcs.api.deps import SessionDep
from mcs.api.errors import ERROR_RESPONSES
from mcs.api.security import CurrentUser, user_name
from mcs.api.services import runs

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES)


@router.post("/workflows/{key}/runs", response_model=RunResponse, status_code=status.HTTP_201_CREATED)
def start_run(key: str, body: RunBody, session: SessionDep, user: CurrentUser):
    run = runs.start_run(session, key, body.params, kind="api", started_by=user_name(user))
    session.commit()
    return runs.describe_run(session, run)


@router.get("/workflows/{key}/runs", response_model=RunCollectionResponse)
def list_runs(
    key: str,
    session: SessionDep,
    user: CurrentUser,
    state: RunState | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    rows, total = runs.list_runs(session, key, state, limit, offset)
    return RunCollectionResponse(runs=[runs.describe_run(session, run) for run in rows], total_entries=total)


@router.get("/runs/{run_id}", response_model=RunResponse)
def get_run(run_id: int, session: SessionDep, user: CurrentUser):
    return runs.describe_run(session, runs.get_run(session, run_id))


@router.post("/runs/{run_id}/stop", response_model=RunResponse)
def stop_run(run_id: int, body: StopBody, session: SessionDep, user: CurrentUser):
    run = runs.stop_run(session, run_id, user_name(user), body.reason)
    session.commit()
    return runs.describe_run(session, run)
