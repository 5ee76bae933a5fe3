"""Recording an event: a ``run_event`` row, then the same event on the Redis stream.

:func:`record_event` records whatever it is given. :func:`record_state_change` records a run or
node state only when it differs from the last one reported for that run or node, so the
listeners, the run-end sweep and the gateway's watcher can all report a change and it is
recorded once.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import redis
from sqlalchemy import select

from mcs import settings
from mcs.db.engine import session_scope
from mcs.db.models import RunEvent, Workflow, WorkflowRun

log = logging.getLogger(__name__)

EVENT_KINDS = ("run_state", "node_state", "skip", "end", "command", "message_matched", "alert")
# Node states worth an event; Airflow's `scheduled` and `queued` only mean "about to run".
NODE_STATES = (
    "running",
    "deferred",
    "up_for_retry",
    "up_for_reschedule",
    "awaiting_input",
    "success",
    "failed",
    "skipped",
    "upstream_failed",
)
# Where a node's try ends; a report of `running` or `deferred` arriving after one of these is late.
NODE_FINAL_STATES = ("success", "failed", "skipped", "upstream_failed", "up_for_retry")
RUN_STATES = ("running", "success", "failed", "stopped")
FINAL_RUN_STATES = ("success", "failed", "stopped")
# How long the last reported states of a run are remembered in Redis.
LAST_STATES_TTL = 3 * 24 * 3600

# Set field ARGV[1] of hash KEYS[1] to ARGV[2] unless it holds that already, or one of the
# comma-separated values of ARGV[4] (a later state, which a late report must not undo).
# Answers {changed, previous}.
_COMPARE_AND_SET = """
local previous = redis.call('HGET', KEYS[1], ARGV[1])
if previous == ARGV[2] then return {0, previous} end
if previous then
    for later in string.gmatch(ARGV[4], '[^,]+') do
        if previous == later then return {0, previous} end
    end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return {1, previous or ''}
"""


def stream_name() -> str:
    return settings.get("event_stream")


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    # redis-py reconnects its pool after a fork, so a cached client is safe in Celery children.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)


def redis_client() -> redis.Redis:
    """The process' Redis client for events (``[mcs] redis_url``)."""
    return _client(settings.redis_url())


def iso_utc(moment: datetime) -> str:
    """``2026-01-01T08:00:00.5Z``: ISO 8601 in UTC, as the API's JSON writes datetimes."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_payload(row: RunEvent, workflow_key: str, dag_run_id: str) -> dict[str, Any]:
    """The JSON shape of an event, the same in the history, the SSE streams and on MQTT."""
    return {
        "id": row.id,
        "run_id": row.run_id,
        "workflow_key": workflow_key,
        "dag_run_id": dag_run_id,
        "kind": row.kind,
        "node_key": row.node_key,
        "state": row.state,
        "message": row.message,
        "data": row.data or {},
        "created_at": iso_utc(row.created_at),
    }


def publish(event: dict[str, Any]) -> None:
    """Append an event (as recorded) to the Redis stream ``[mcs] event_stream``."""
    redis_client().xadd(
        stream_name(),
        {"event": json.dumps(event, ensure_ascii=False, default=str)},
        maxlen=int(settings.get("event_stream_maxlen")),
        approximate=True,
    )


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

    :param dag_id: the Airflow dag_id of the run.
    :param dag_run_id: the Airflow run id.
    :param kind: one of :data:`EVENT_KINDS`.
    :param node_key: the node the event is about, if any.
    :param state: the new state (``run_state``, ``node_state``) or the alert (``alert``).
    :param message: a sentence for people.
    :param data: anything else, as JSON.
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
                run_id=run_id,
                node_key=node_key,
                kind=kind,
                state=state,
                message=message,
                data=data or {},
                created_at=datetime.now(UTC),
            )
            session.add(event_row)
            session.flush()
            event = event_payload(event_row, workflow_key, dag_run_id)
    except Exception:
        log.exception("Could not record the %s event of %s/%s", kind, dag_id, dag_run_id)
        return None
    try:
        publish(event)
    except Exception as exc:
        log.warning("Could not push the %s event of %s/%s to Redis: %s", kind, dag_id, dag_run_id, exc)
    return event


def _last_states_key(dag_id: str, dag_run_id: str) -> str:
    return f"mcs:last_states:{dag_id}:{dag_run_id}"


def claim_change(
    dag_id: str, dag_run_id: str, field: str, value: str, later: tuple[str, ...] = ()
) -> tuple[bool, str | None]:
    """Note ``value`` as the last reported ``field`` of a run; return (changed, previous value).

    Nothing changes when the last value is ``value`` or one of ``later`` (a report that arrives
    after a later state was recorded). When Redis cannot be reached the change counts as new: a
    repeated event is better than a lost one.
    """
    try:
        changed, previous = redis_client().eval(
            _COMPARE_AND_SET,
            1,
            _last_states_key(dag_id, dag_run_id),
            field,
            value,
            LAST_STATES_TTL,
            ",".join(later),
        )
    except redis.RedisError as exc:
        log.warning("Cannot compare the %s of %s/%s with the last one: %s", field, dag_id, dag_run_id, exc)
        return True, None
    return bool(changed), previous or None


def _unclaim(dag_id: str, dag_run_id: str, field: str, previous: str | None) -> None:
    """Put back what :func:`claim_change` replaced, so that a later report records the change."""
    try:
        key = _last_states_key(dag_id, dag_run_id)
        if previous is None:
            redis_client().hdel(key, field)
        else:
            redis_client().hset(key, field, previous)
    except redis.RedisError:
        log.debug("Cannot restore the last %s of %s/%s", field, dag_id, dag_run_id)


def record_state_change(
    dag_id: str,
    dag_run_id: str,
    state: str,
    *,
    node_key: str | None = None,
    try_number: int = 0,
    map_index: int = -1,
    message: str = "",
    data: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Record a ``run_state`` (no ``node_key``) or ``node_state`` event if the state is new.

    Returns the event, or None when the same state was reported already, or the run is not an
    MCS run. A node state is new when its try number or its state differs from the last one; a
    late ``running`` or ``deferred`` (read before the try ended, reported after) is not new, nor
    is ``running`` for a run that has ended.

    :param dag_id: the Airflow dag_id of the run.
    :param dag_run_id: the Airflow run id.
    :param state: the run's or node's new state.
    :param node_key: the node (Airflow task id), or None for the run itself.
    :param try_number: the node's try number.
    :param map_index: the index of a mapped node's instance; -1 when the node is not mapped.
    :param message: a sentence for people (the reason of a failure, for instance).
    :param data: more details; ``try_number`` and ``map_index`` are added for nodes.
    """
    details = dict(data or {})
    if node_key is None:
        kind, field, value = "run_state", "run", state
        later = FINAL_RUN_STATES if state == "running" else ()
    else:
        kind, field, value = "node_state", f"node:{node_key}:{map_index}", f"{try_number}:{state}"
        later = () if state in NODE_FINAL_STATES else tuple(f"{try_number}:{s}" for s in NODE_FINAL_STATES)
        details["try_number"] = try_number
        if map_index >= 0:
            details["map_index"] = map_index
    changed, previous = claim_change(dag_id, dag_run_id, field, value, later)
    if not changed:
        return None
    event = record_event(
        dag_id, dag_run_id, kind, node_key=node_key, state=state, message=message, data=details
    )
    if event is None:
        _unclaim(dag_id, dag_run_id, field, previous)
    return event
