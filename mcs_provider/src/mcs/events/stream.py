"""Reading events for the API: a run's history, and Server-Sent Events from the live stream.

A run's stream first sends the run's ``run_event`` rows after ``Last-Event-ID``, then follows the
Redis stream. The stream position is taken before the history is read, so an event recorded in
between arrives twice at most, and the second copy is dropped by its id. Once the run's final
``run_state`` event is sent, the stream waits :data:`END_GRACE` seconds for stragglers (an alert),
sends an ``end`` event and closes.

Each generator owns one asyncio Redis client and closes it however it ends: the client went
away (Starlette cancels the generator), the run ended, or the server shuts down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import redis
import redis.asyncio
from sqlalchemy import func, select

from mcs import settings
from mcs.db.engine import session_scope
from mcs.db.models import RunEvent, Workflow, WorkflowRun
from mcs.errors import NotFoundError
from mcs.events.record import FINAL_RUN_STATES, event_payload, stream_name

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
END_GRACE = 2.0
RETRY_MS = 3000
# Longer than the longest XREAD block (a heartbeat), or redis-py gives up on a quiet stream.
SOCKET_TIMEOUT = HEARTBEAT_SECONDS + 15
# A stream whose Redis reads fail this long ends; the browser reconnects with Last-Event-ID.
REDIS_GIVE_UP = 60.0
HISTORY_LIMIT = 5000
# A finished run whose history holds no final run_state (it ended before listeners existed)
# ends its stream once it has been over for this long.
STALE_END_SECONDS = 10.0


def sse_message(event: dict[str, Any]) -> str:
    """One SSE message: ``id`` is the event id, ``data`` the event JSON, the default event type."""
    return f"id: {event['id']}\ndata: {json.dumps(event, ensure_ascii=False, default=str)}\n\n"


def sse_end(run_id: int, state: str) -> str:
    return f"event: end\ndata: {json.dumps({'run_id': run_id, 'state': state})}\n\n"


def run_history(
    run_id: int, after_id: int | None = None, limit: int = HISTORY_LIMIT
) -> tuple[list[dict], Any]:
    """The run's events after ``after_id``, oldest first, and its ``workflow_run`` row; raises if no run."""
    with session_scope() as session:
        run = session.get(WorkflowRun, run_id)
        if run is None:
            raise NotFoundError(f"run `{run_id}` does not exist")
        key = session.scalar(select(Workflow.key).where(Workflow.id == run.workflow_id)) or ""
        query = select(RunEvent).where(RunEvent.run_id == run_id)
        if after_id is not None:
            query = query.where(RunEvent.id > after_id)
        rows = session.scalars(query.order_by(RunEvent.id).limit(limit)).all()
        return [event_payload(row, key, run.dag_run_id) for row in rows], run


def workflow_history(key: str, after_id: int, limit: int = 500) -> list[dict]:
    """The events of a workflow's runs after ``after_id`` (to resume a workflow stream), oldest first."""
    with session_scope() as session:
        rows = session.execute(
            select(RunEvent, WorkflowRun.dag_run_id)
            .join(WorkflowRun, WorkflowRun.id == RunEvent.run_id)
            .join(Workflow, Workflow.id == WorkflowRun.workflow_id)
            .where(Workflow.key == key, Workflow.deleted_at.is_(None), RunEvent.id > after_id)
            .order_by(RunEvent.id)
            .limit(limit)
        ).all()
        return [event_payload(row, key, dag_run_id) for row, dag_run_id in rows]


def count_events(run_id: int) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).where(RunEvent.run_id == run_id)) or 0


def check_run(run_id: int) -> None:
    with session_scope() as session:
        if session.get(WorkflowRun, run_id) is None:
            raise NotFoundError(f"run `{run_id}` does not exist")


def check_workflow(key: str) -> None:
    with session_scope() as session:
        found = session.scalar(select(Workflow.id).where(Workflow.key == key, Workflow.deleted_at.is_(None)))
    if found is None:
        raise NotFoundError(f"workflow `{key}` does not exist")


def _client() -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(
        settings.redis_url(), decode_responses=True, socket_timeout=SOCKET_TIMEOUT
    )


async def _tail(client: redis.asyncio.Redis) -> str:
    last = await client.xrevrange(stream_name(), count=1)
    return last[0][0] if last else "0-0"


async def _follow(
    client: redis.asyncio.Redis,
    position: str,
    wanted: Callable[[dict], bool],
    until: Callable[[], float | None],
) -> AsyncIterator[dict | None]:
    """Yield the wanted events after ``position``, and None whenever a heartbeat is due.

    ``until`` answers the monotonic time at which to stop, or None to go on.
    """
    quiet_since, failing_since = time.monotonic(), None
    while True:
        now = time.monotonic()
        stop_at = until()
        if stop_at is not None and now >= stop_at:
            return
        wait = HEARTBEAT_SECONDS - (now - quiet_since)
        if stop_at is not None:
            wait = min(wait, stop_at - now)
        try:
            answer = await client.xread({stream_name(): position}, count=200, block=max(int(wait * 1000), 1))
            failing_since = None
        except redis.RedisError as exc:
            # Redis restarting, or this process too busy to read in time: keep the position and retry.
            failing_since = failing_since or time.monotonic()
            if time.monotonic() - failing_since > REDIS_GIVE_UP:
                log.warning("Ending an event stream: Redis has failed for %ss: %s", REDIS_GIVE_UP, exc)
                return
            log.info("Reading the event stream failed (retrying): %s", exc)
            await asyncio.sleep(1.0)
            answer = None
        for _, entries in answer or ():
            for entry_id, fields in entries:
                position = entry_id
                try:
                    event = json.loads(fields.get("event", ""))
                except ValueError:
                    continue
                if wanted(event):
                    quiet_since = time.monotonic()
                    yield event
        if time.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
            quiet_since = time.monotonic()
            yield None


async def run_events(run_id: int, last_event_id: int | None) -> AsyncIterator[str]:
    """The SSE text of a run's stream: history after ``last_event_id``, then live, then ``end``."""
    client = _client()
    try:
        position = await _tail(client)
        history, run = await asyncio.to_thread(run_history, run_id, last_event_id)
        yield f"retry: {RETRY_MS}\n\n"
        sent: set[int] = set()
        final: dict[str, Any] = {}
        for event in history:
            sent.add(event["id"])
            if event["kind"] == "run_state" and event["state"] in FINAL_RUN_STATES:
                final.update(state=event["state"], at=time.monotonic())
            yield sse_message(event)
        ended_long_ago = (
            run.state in FINAL_RUN_STATES
            and run.ended_at is not None
            and time.time() - run.ended_at.timestamp() > STALE_END_SECONDS
        )
        if final or ended_long_ago:
            yield sse_end(run_id, final.get("state", run.state))
            return

        def wanted(event: dict) -> bool:
            return event.get("run_id") == run_id and event.get("id") not in sent

        def until() -> float | None:
            return final["at"] + END_GRACE if final else None

        async for event in _follow(client, position, wanted, until):
            if event is None:
                yield ": ping\n\n"
                continue
            sent.add(event["id"])
            if event["kind"] == "run_state" and event["state"] in FINAL_RUN_STATES and not final:
                final.update(state=event["state"], at=time.monotonic())
            yield sse_message(event)
        if final:
            yield sse_end(run_id, final["state"])
    finally:
        await client.aclose()


async def workflow_events(key: str | None, last_event_id: int | None) -> AsyncIterator[str]:
    """The SSE text of live events of one workflow (``key``) or of all; it never ends by itself.

    With ``last_event_id`` (a reconnecting browser), the missed events of that workflow are sent first.
    """
    client = _client()
    try:
        position = await _tail(client)
        yield f"retry: {RETRY_MS}\n\n"
        sent: set[int] = set()
        if key is not None and last_event_id is not None:
            for event in await asyncio.to_thread(workflow_history, key, last_event_id):
                sent.add(event["id"])
                yield sse_message(event)

        def wanted(event: dict) -> bool:
            return (key is None or event.get("workflow_key") == key) and event.get("id") not in sent

        async for event in _follow(client, position, wanted, lambda: None):
            if event is None:
                yield ": ping\n\n"
                continue
            yield sse_message(event)
    finally:
        await client.aclose()
