"""Workflow routes: CRUD, validate and publish."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response, status

from mcs.api.datamodels.workflows import (
    ValidationResponse,
    VersionResponse,
    WorkflowCollectionResponse,
    WorkflowResponse,
    WorkflowSummary,
)
from mcs.api.deps import SessionDep
from mcs.api.errors import ERROR_RESPONSES
from mcs.api.security import CurrentUser, user_name
from mcs.api.services import airflow_dags, workflows
from mcs.dag_factory.builder import dag_id_for
from mcs.db.models import Workflow
from mcs.definition import WorkflowDefinition, parse_definition, validate_definition
from mcs.errors import DefinitionError

router = APIRouter(prefix="/workflows", tags=["workflows"], responses=ERROR_RESPONSES)

DefinitionBody = Annotated[WorkflowDefinition, Body(description="The workflow definition document.")]


def _response(workflow: Workflow) -> WorkflowResponse:
    return WorkflowResponse(
        key=workflow.key,
        name=workflow.name,
        description=workflow.description,
        owner=workflow.owner,
        tags=workflow.tags,
        enabled=workflow.enabled,
        latest_version=workflow.latest_version,
        dag_id=dag_id_for(workflow.key),
        draft=workflow.draft,
        created_at=workflow.created_at,
        updated_at=workflow.updated_at,
    )


def _checked(body: WorkflowDefinition) -> WorkflowDefinition:
    return parse_definition(body.model_dump(mode="json", by_alias=True, exclude_unset=True))


@router.get("", response_model=WorkflowCollectionResponse)
def list_workflows(
    session: SessionDep,
    user: CurrentUser,
    search: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    rows, total = workflows.list_workflows(session, search, limit, offset)
    items = [WorkflowSummary.model_validate(row, from_attributes=True) for row in rows]
    return WorkflowCollectionResponse(workflows=items, total_entries=total)


@router.post("", response_model=WorkflowResponse, status_code=status.HTTP_201_CREATED)
def create_workflow(body: DefinitionBody, session: SessionDep, user: CurrentUser):
    workflow = workflows.create_workflow(session, _checked(body), user_name(user))
    session.flush()
    session.refresh(workflow)
    return _response(workflow)


@router.post("/validate", response_model=ValidationResponse)
def validate_workflow(body: Annotated[dict[str, Any], Body()], user: CurrentUser):
    _, problems = validate_definition(body)
    return ValidationResponse(valid=not problems, problems=problems)


@router.get("/{key}", response_model=WorkflowResponse)
def get_workflow(key: str, session: SessionDep, user: CurrentUser):
    return _response(workflows.get_workflow(session, key))


@router.put("/{key}", response_model=WorkflowResponse)
def update_workflow(key: str, body: DefinitionBody, session: SessionDep, user: CurrentUser):
    if body.key != key:
        raise DefinitionError(
            key,
            [
                {
                    "path": "key",
                    "message": f"must equal the URL's key `{key}`, found "
                    f"`{body.key}`; a workflow's key cannot change",
                }
            ],
        )
    workflow = workflows.update_workflow(session, key, _checked(body))
    session.flush()
    session.refresh(workflow)
    return _response(workflow)


@router.delete("/{key}", status_code=status.HTTP_204_NO_CONTENT)
def delete_workflow(key: str, session: SessionDep, user: CurrentUser) -> Response:
    workflows.delete_workflow(session, key)
    session.commit()
    airflow_dags.request_reparse()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{key}/publish", response_model=VersionResponse, status_code=status.HTTP_201_CREATED)
def publish_workflow(
    key: str,
    session: SessionDep,
    user: CurrentUser,
    wait_seconds: Annotated[float, Query(ge=0, le=120, description="Wait until Airflow has loaded it.")] = 30,
):
    version, unchanged = workflows.publish_workflow(
        session, key, user_name(user), active_runs=airflow_dags.active_run_count(key)
    )
    session.commit()
    if not unchanged:
        airflow_dags.request_reparse()
    loaded = airflow_dags.wait_until_loaded(key, version.version, wait_seconds) if wait_seconds else False
    return VersionResponse(
        workflow_key=key,
        version=version.version,
        checksum=version.checksum,
        dag_id=dag_id_for(key),
        published_by=version.published_by,
        published_at=version.published_at,
        unchanged=unchanged,
        loaded=loaded,
    )
