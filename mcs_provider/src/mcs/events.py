"""Run events: one ``run_event`` row per thing that happened in a run, also pushed to Redis.

Anything that records what happened (listeners, rules, commands, the API) calls
:func:`record_event`. The row is the history; the Redis stream ``[mcs] event_stream`` feeds the
live views (Server-Sent Events, the MQTT events topic) without polling the database.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from mcs import settings
from mcs.db.engine import session_scope
from mcs.db.models import RunEvent, Workflow, WorkflowRun

log = logging.getLogger(__name__)

EVENT_KINDS = ("run_state", "node_state", "skip", "end", "command", "message_matched", "alert")


def _publish(event: dict[str, Any]) -> None:
    import redis

    client = redis.Redis.from_url(settings.redis_url(), socket_timeout=2)
    try:
        client.xadd(
            settings.get("event_stream"),
            {"event": json.dumps(event, ensure_ascii=False, default=str)},
            maxlen=int(settings.get("event_stream_maxlen")),
            approximate=True,
        )
    finally:
        client.close()


def record_event(
    dag_id: str,
    dag_run_id: str,
    kind: str,
    *,
    node_key: str | None = None,
    state: str | None = None,
    message: str = "",
    data: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Store an event of the MCS run behind ``dag_id``/``dag_run_id`` and push it to the stream.

    Returns the event as sent, or None when the DAG run is not an MCS run. Never raises: losing
    an event must not fail the step that reports it, so failures are logged instead.
    """
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}, expected one of {', '.join(EVENT_KINDS)}")
    try:
        with session_scope() as session:
            row = session.execute(
                select(WorkflowRun.id, Workflow.key)
                .join(Workflow, Workflow.id == WorkflowRun.workflow_id)
                .where(WorkflowRun.dag_id == dag_id, WorkflowRun.dag_run_id == dag_run_id)
            ).first()
            if row is None:
                return None
            run_id, workflow_key = row
            event_row = RunEvent(
                run_id=run_id, node_key=node_key, kind=kind, state=state, message=message, data=data or {}
            )
            session.add(event_row)
            session.flush()
            event = {
                "id": event_row.id,
                "run_id": run_id,
                "workflow_key": workflow_key,
                "kind": kind,
                "node_key": node_key,
                "state": state,
                "message": message,
                "data": data or {},
                "created_at": datetime.now(UTC).isoformat(),
            }
    except Exception:
        log.exception("Could not record the %s event of %s/%s", kind, dag_id, dag_run_id)
        return None
    try:
        _publish(event)
    except Exception as exc:
        log.warning("Could not push the %s event of %s/%s to Redis: %s", kind, dag_id, dag_run_id, exc)
    return event
