"""What a state change becomes: events, the ``workflow_run`` row, and alerts.

The listeners and the gateway's watcher turn what Airflow tells them into :class:`NodeChange` and
:class:`RunChange` (plain values, so a change can be handed to another thread) and call
:func:`report_node` or :func:`report_run`. Both are safe to call twice for the same change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mcs import alerts
from mcs.events.record import NODE_STATES, iso_utc, record_state_change
from mcs.events.runs import RunStart, apply_run_state, ensure_run_row

log = logging.getLogger(__name__)

# Exceptions that mean "a wait ran out of time", by class name so no Airflow import is needed.
TIMEOUT_ERRORS = ("AirflowSensorTimeout", "TaskDeferralTimeout")


def is_timeout(error: Any) -> bool:
    """Whether the error a task failed with is a wait's timeout."""
    if isinstance(error, BaseException):
        return any(cls.__name__ in TIMEOUT_ERRORS for cls in type(error).__mro__)
    return False


def _iso(moment: datetime | None) -> str:
    return iso_utc(moment or datetime.now(UTC))


@dataclass(frozen=True)
class NodeChange:
    """A node (task instance) reached a state.

    :param dag_id: the Airflow dag_id.
    :param dag_run_id: the Airflow run id.
    :param node_key: the Airflow task id, which is the node's key.
    :param state: one of :data:`mcs.events.NODE_STATES`.
    :param try_number: the task instance's try number.
    :param map_index: the index of a mapped task's instance, -1 otherwise.
    :param at: when Airflow made the change (the task's start or end date), if known.
    :param message: why (the error of a failure).
    :param timed_out: the node failed because a wait ran out of time.
    :param source: who noticed: ``listener``, ``sweep`` or ``watcher``.
    """

    dag_id: str
    dag_run_id: str
    node_key: str
    state: str
    try_number: int = 0
    map_index: int = -1
    at: datetime | None = None
    message: str = ""
    timed_out: bool = False
    source: str = "listener"


@dataclass(frozen=True)
class RunChange:
    """A run reached a state.

    :param dag_id: the Airflow dag_id.
    :param dag_run_id: the Airflow run id.
    :param state: ``running``, ``success`` or ``failed`` (Airflow's state).
    :param started_at: the DAG run's start date.
    :param ended_at: the DAG run's end date.
    :param message: why (Airflow's reason for a failure).
    :param nodes: the states of its nodes, reported before the run's own state.
    :param start: for a run that starts, what is needed to give it a ``workflow_run`` row.
    :param source: who noticed: ``listener`` or ``watcher``.
    """

    dag_id: str
    dag_run_id: str
    state: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    message: str = ""
    nodes: tuple[NodeChange, ...] = ()
    start: RunStart | None = None
    source: str = "listener"


def report_node(change: NodeChange) -> dict[str, Any] | None:
    """Record the node's state if it is new; raise a ``wait_timeout`` alert when a wait timed out."""
    if change.state not in NODE_STATES:
        return None
    event = record_state_change(
        change.dag_id,
        change.dag_run_id,
        change.state,
        node_key=change.node_key,
        try_number=change.try_number,
        map_index=change.map_index,
        message=change.message[:2000],
        data={"at": _iso(change.at), "source": change.source},
    )
    if change.state == "failed" and change.timed_out:
        alerts.raise_alert(
            change.dag_id, change.dag_run_id, "wait_timeout", node_key=change.node_key, reason=change.message
        )
    return event


def report_run(change: RunChange) -> dict[str, Any] | None:
    """Create the row of a run MCS did not start, report its nodes, update the row, record the run's state."""
    try:
        if change.start is not None:
            ensure_run_row(change.start)
        for node in change.nodes:
            report_node(node)
        state = apply_run_state(
            change.dag_id, change.dag_run_id, change.state, change.started_at, change.ended_at
        )
    except Exception:
        log.exception("Could not report that run %s/%s is %s", change.dag_id, change.dag_run_id, change.state)
        return None
    if state is None:
        return None
    at = change.ended_at if state != "running" else change.started_at
    event = record_state_change(
        change.dag_id,
        change.dag_run_id,
        state,
        message=change.message[:2000],
        data={"at": _iso(at), "source": change.source},
    )
    if state == "failed":
        failed = sorted({node.node_key for node in change.nodes if node.state == "failed"})
        alerts.raise_alert(
            change.dag_id, change.dag_run_id, "run_failed", reason=change.message, failed_nodes=failed
        )
    return event
