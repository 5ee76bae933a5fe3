"""Event routes: a run's history, and live Server-Sent Events of a run or of workflows.

The SSE routes answer ``text/event-stream``: each message has ``id:`` (the event id) and
``data:`` (the event JSON, see ``docs/events.md``); ``: ping`` comments keep the connection open
every 15 s; a run's stream ends with an ``end`` event. Both need an Airflow login like every
route (a browser on the same origin sends the ``_token`` cookie).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from mcs.api.datamodels.events import RunEventCollectionResponse
from mcs.api.errors import ERROR_RESPONSES
from mcs.api.security import CurrentUser
from mcs.events import stream

router = APIRouter(tags=["events"], responses=ERROR_RESPONSES)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SSE_RESPONSE = {200: {"content": {"text/event-stream": {}}, "description": "A stream of SSE messages."}}
LastEventId = Annotated[int | None, Header(alias="Last-Event-ID", description="Resume after this event id.")]


def _sse(body) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream", headers=SSE_HEADERS)


@router.get("/runs/{run_id}/history", response_model=RunEventCollectionResponse)
async def run_history(
    run_id: int,
    user: CurrentUser,
    after: Annotated[int | None, Query(description="Only events with a larger id.")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
):
    events, _ = await asyncio.to_thread(stream.run_history, run_id, after, limit)
    total = await asyncio.to_thread(stream.count_events, run_id)
    return RunEventCollectionResponse(events=events, total_entries=total)


@router.get("/runs/{run_id}/events", response_class=StreamingResponse, responses=SSE_RESPONSE)
async def run_events(
    run_id: int,
    user: CurrentUser,
    last_event_id: LastEventId = None,
    after: Annotated[
        int | None, Query(description="Like `Last-Event-ID`, for clients that cannot set it.")
    ] = None,
):
    """The run's events so far, then live ones until the run ends (then an `end` event)."""
    await asyncio.to_thread(stream.check_run, run_id)
    return _sse(stream.run_events(run_id, last_event_id if last_event_id is not None else after))


@router.get("/events", response_class=StreamingResponse, responses=SSE_RESPONSE)
async def live_events(
    user: CurrentUser,
    workflow: Annotated[str | None, Query(description="Only the events of this workflow key.")] = None,
    last_event_id: LastEventId = None,
):
    """Live events of every run of a workflow (or of all workflows), as they happen."""
    if workflow is not None:
        await asyncio.to_thread(stream.check_workflow, workflow)
    return _sse(stream.workflow_events(workflow, last_event_id))
