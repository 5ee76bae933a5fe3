"""Control routes: stop a workflow (every run, and its loop), enable or disable it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from mcs.api.datamodels.hooks import ControlBody, EnabledResponse, StopWorkflowResponse
from mcs.api.deps import SessionDep
from mcs.api.errors import ERROR_RESPONSES
from mcs.api.security import CurrentUser, user_name
from mcs.api.services import control
from mcs.events import record_event

router = APIRouter(prefix="/workflows/{key}", tags=["control"], responses=ERROR_RESPONSES)

OptionalBody = Annotated[ControlBody | None, Body()]


@router.post("/stop", response_model=StopWorkflowResponse)
def stop_workflow(key: str, session: SessionDep, user: CurrentUser, body: OptionalBody = None):
    """Stop every active run of the workflow; if it loops (cron, interval, continuous), disable it too."""
    reason = body.reason if body else ""
    result = control.stop_workflow(session, key, user_name(user), reason)
    session.commit()
    for run in result.runs:
        record_event(
            run.dag_id,
            run.dag_run_id,
            "command",
            message=f"stop from the API ({user_name(user)})",
            data={"action": "stop", "source": "api", "reason": reason},
        )
    return StopWorkflowResponse(
        workflow_key=key,
        stopped_runs=[run.id for run in result.runs],
        stopped_dag_runs=[run.dag_run_id for run in result.runs] + result.untracked_dag_run_ids,
        loop_stopped=result.loop_stopped,
    )


@router.post("/enable", response_model=EnabledResponse)
def enable_workflow(key: str, session: SessionDep, user: CurrentUser):
    """Let the workflow run again: unpause its DAG."""
    workflow = control.set_enabled(session, key, True, user_name(user))
    session.commit()
    return EnabledResponse(workflow_key=key, enabled=workflow.enabled)


@router.post("/disable", response_model=EnabledResponse)
def disable_workflow(key: str, session: SessionDep, user: CurrentUser, body: OptionalBody = None):
    """Stop new runs (schedule, commands, hooks, the UI): pause the DAG. Nothing is deleted."""
    workflow = control.set_enabled(session, key, False, user_name(user), body.reason if body else "")
    session.commit()
    return EnabledResponse(workflow_key=key, enabled=workflow.enabled)
