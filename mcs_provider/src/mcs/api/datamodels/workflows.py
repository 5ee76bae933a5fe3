"""Request and response shapes of the workflow routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class Problem(BaseModel):
    path: str = Field(description="Where in the definition, e.g. `nodes[1].config.topic`.")
    message: str
    found: Any = None


class ValidationResponse(BaseModel):
    valid: bool
    problems: list[Problem]


class WorkflowResponse(BaseModel):
    key: str
    name: str
    description: str
    owner: str
    tags: list[str]
    enabled: bool
    latest_version: int | None
    dag_id: str
    draft: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class WorkflowSummary(BaseModel):
    key: str
    name: str
    description: str
    tags: list[str]
    enabled: bool
    latest_version: int | None
    updated_at: datetime


class WorkflowCollectionResponse(BaseModel):
    workflows: list[WorkflowSummary]
    total_entries: int


class VersionResponse(BaseModel):
    workflow_key: str
    version: int
    checksum: str
    dag_id: str
    published_by: str
    published_at: datetime
    unchanged: bool = Field(False, description="True when the draft equals the latest version.")
    loaded: bool = Field(False, description="True once Airflow has loaded this version as a DAG.")
