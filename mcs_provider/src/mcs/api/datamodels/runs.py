"""Request and response shapes of the run routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

RunState = Literal["queued", "running", "success", "failed", "stopped"]


class RunBody(BaseModel):
    params: dict[str, Any] = Field(default_factory=dict, description="Values for the workflow's params.")
    note: str = Field("", max_length=1000)


class StopBody(BaseModel):
    reason: str = Field("", max_length=1000)


class NodeStateResponse(BaseModel):
    key: str
    name: str
    kind: str
    state: str | None = Field(description="Airflow's task state, None while not yet scheduled.")
    try_number: int
    started_at: datetime | None
    ended_at: datetime | None


class RunResponse(BaseModel):
    id: int
    workflow_key: str
    version: int
    dag_id: str
    dag_run_id: str
    state: RunState
    started_by_kind: str
    started_by: str
    params: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    stopped_by: str | None
    stop_reason: str | None
    nodes: list[NodeStateResponse] = Field(default_factory=list)


class RunCollectionResponse(BaseModel):
    runs: list[RunResponse]
    total_entries: int
