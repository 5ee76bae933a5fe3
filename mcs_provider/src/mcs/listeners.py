"""Airflow listeners that turn run and node state changes into MCS events (design section 7).

The plugin (``plugins/mcs_plugin.py``) registers this module. Where each hook fires in Airflow 3.3:

- ``on_dag_run_running``: the scheduler, when it starts a queued run.
- ``on_dag_run_success`` / ``on_dag_run_failed``: the scheduler, when it decides the run's end
  (``DagRun.update_state``, or a run timeout); the api-server, when someone sets the run's state
  in Airflow's UI or REST API.
- ``on_task_instance_running``: the task's own process on the worker, before it executes (again
  after a deferred wait resumes).
- ``on_task_instance_success`` / ``_failed`` / ``_skipped``: the task's process on the worker,
  once its state was sent (``_failed`` also for up_for_retry); the scheduler, for a task whose
  worker died (``_failed``); the api-server, when someone sets a task's state.

No hook fires when a task defers, when the scheduler skips a task (trigger rules, a branch, an
MCS rule or end step, a stopped run) or when MCS stops a run. The run-end hooks therefore report
the final state of every node first (the "sweep"), and the gateway's watcher
(:mod:`mcs.events.watch`) reports the rest while a run is active.

In the scheduler and the api-server a report is handed to a background thread, so their loops
never wait for PostgreSQL or Redis; in a task's process it is written at once (the process may
end right after). A listener never raises.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl

from mcs.events import dispatch
from mcs.events.report import NodeChange, RunChange, is_timeout, report_node, report_run
from mcs.events.runs import RunStart, version_from_tags

log = logging.getLogger(__name__)


def _orm_bound(obj: Any) -> bool:
    """Whether ``obj`` is a database row (scheduler, api-server), not a worker's runtime object."""
    return hasattr(obj, "_sa_instance_state")


def _state(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def _node_change(ti: Any, state: str, message: str = "", timed_out: bool = False) -> NodeChange:
    at = getattr(ti, "start_date", None) if state == "running" else getattr(ti, "end_date", None)
    return NodeChange(
        dag_id=ti.dag_id,
        dag_run_id=ti.run_id,
        node_key=ti.task_id,
        state=state,
        try_number=int(getattr(ti, "try_number", 0) or 0),
        map_index=int(getattr(ti, "map_index", -1) if getattr(ti, "map_index", None) is not None else -1),
        at=at,
        message=message,
        timed_out=timed_out,
    )


def _report_node(ti: Any, change: NodeChange) -> None:
    if _orm_bound(ti):
        dispatch.submit(lambda: report_node(change))
    else:
        report_node(change)


def _guarded(name: str, ti: Any, state: str, error: Any = None) -> None:
    try:
        message = "" if error is None else str(error)
        change = _node_change(ti, state, message=message, timed_out=is_timeout(error))
        _report_node(ti, change)
    except Exception:
        log.exception("The MCS listener %s failed", name)


@hookimpl
def on_task_instance_running(previous_state: Any, task_instance: Any) -> None:
    _guarded("on_task_instance_running", task_instance, "running")


@hookimpl
def on_task_instance_success(previous_state: Any, task_instance: Any) -> None:
    _guarded("on_task_instance_success", task_instance, "success")


@hookimpl
def on_task_instance_failed(previous_state: Any, task_instance: Any, error: Any) -> None:
    state = _state(getattr(task_instance, "state", None))
    _guarded("on_task_instance_failed", task_instance, state if state == "up_for_retry" else "failed", error)


@hookimpl
def on_task_instance_skipped(previous_state: Any, task_instance: Any) -> None:
    _guarded("on_task_instance_skipped", task_instance, "skipped")


def _sweep(dag_run: Any) -> tuple[NodeChange, ...]:
    """Every node's state as the caller's session sees it (including what it has not committed yet)."""
    from airflow.models.taskinstance import TaskInstance as TI
    from sqlalchemy import select
    from sqlalchemy.orm import object_session

    session = object_session(dag_run)
    if session is None:
        return ()
    rows = session.execute(
        select(TI.task_id, TI.map_index, TI.try_number, TI.state, TI.start_date, TI.end_date).where(
            TI.dag_id == dag_run.dag_id, TI.run_id == dag_run.run_id
        )
    ).all()
    return tuple(
        NodeChange(
            dag_id=dag_run.dag_id,
            dag_run_id=dag_run.run_id,
            node_key=task_id,
            state=_state(state),
            try_number=int(try_number or 0),
            map_index=int(map_index if map_index is not None else -1),
            at=end_date or start_date,
            source="sweep",
        )
        for task_id, map_index, try_number, state, start_date, end_date in rows
    )


def _run_start(dag_run: Any) -> RunStart:
    dag = getattr(dag_run, "dag", None)
    return RunStart(
        dag_id=dag_run.dag_id,
        dag_run_id=dag_run.run_id,
        run_type=_state(getattr(dag_run, "run_type", "")),
        triggered_by=_state(getattr(dag_run, "triggered_by", "")),
        triggering_user=getattr(dag_run, "triggering_user_name", None) or "",
        conf=dict(getattr(dag_run, "conf", None) or {}),
        version=version_from_tags(getattr(dag, "tags", None)) if dag is not None else None,
    )


def _report_run(name: str, dag_run: Any, state: str, msg: str) -> None:
    try:
        change = RunChange(
            dag_id=dag_run.dag_id,
            dag_run_id=dag_run.run_id,
            state=state,
            started_at=getattr(dag_run, "start_date", None),
            ended_at=getattr(dag_run, "end_date", None),
            message="" if state == "running" else msg or "",
            nodes=() if state == "running" else _sweep(dag_run),
            start=_run_start(dag_run) if state == "running" else None,
        )
        dispatch.submit(lambda: report_run(change))
    except Exception:
        log.exception("The MCS listener %s failed", name)


@hookimpl
def on_dag_run_running(dag_run: Any, msg: str) -> None:
    _report_run("on_dag_run_running", dag_run, "running", msg)


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    _report_run("on_dag_run_success", dag_run, "success", msg)


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    _report_run("on_dag_run_failed", dag_run, "failed", msg)
