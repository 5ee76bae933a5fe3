"""Response shapes of the event routes: a run's history of events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

EventKind = Literal["run_state", "node_state", "skip", "end", "command", "message_matched", "alert"]


class RunEventResponse(BaseModel):
    """One thing that happened in a run; the same object is the `data` of each SSE message."""

    id: int = Field(description="Increasing event id; the SSE `id`, so `Last-Event-ID` resumes after it.")
    run_id: int
    workflow_key: str
    dag_run_id: str
    kind: EventKind
    node_key: str | None = Field(description="The node the event is about; None for the run itself.")
    state: str | None = Field(
        description="`run_state`: running, success, failed, stopped. `node_state`: Airflow's task state "
        "(running, deferred, up_for_retry, success, failed, skipped, upstream_failed...). `alert`: "
        "run_failed or wait_timeout."
    )
    message: str
    data: dict[str, Any] = Field(
        description="Details by kind; state events carry `at` (when Airflow made the change), `source`, "
        "and for nodes `try_number` (and `map_index` for mapped nodes)."
    )
    created_at: datetime = Field(description="When MCS recorded the event.")


class RunEventCollectionResponse(BaseModel):
    events: list[RunEventResponse]
    total_entries: int
