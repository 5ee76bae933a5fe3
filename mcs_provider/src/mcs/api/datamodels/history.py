"""Response shapes of the history routes: runs across workflows, a published version's definition."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from mcs.api.datamodels.runs import RunState


class RunSummary(BaseModel):
    """A run without its nodes: one row of the history."""

    id: int
    workflow_key: str
    workflow_name: str
    version: int
    dag_id: str
    dag_run_id: str
    state: RunState
    started_by_kind: str
    started_by: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None = Field(description="From start to end; None until the run has both.")
    stopped_by: str | None
    stop_reason: str | None


class RunSummaryCollectionResponse(BaseModel):
    runs: list[RunSummary]
    total_entries: int


class VersionDefinitionResponse(BaseModel):
    workflow_key: str
    version: int
    checksum: str
    published_by: str
    published_at: datetime
    definition: dict[str, Any] = Field(description="The definition document as it was published.")
