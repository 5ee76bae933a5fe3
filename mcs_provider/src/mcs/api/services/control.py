"""Control a workflow from outside: stop it (its runs and its loop), enable or disable it, commands.

``stop_workflow`` and ``set_enabled`` serve the API routes, the gateway's MQTT commands and the
HTTP hooks alike. ``execute_command`` adds what a command from outside needs: its id is stored in
``control_command`` together with the answer it got, in the same transaction as what it did, so a
command repeated with the same id is answered again and never acted on twice, even when two
gateways receive it at the same moment (the second waits on the unique index, then reads the answer).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.api.common.mark_tasks import set_dag_run_state_to_failed
from airflow.models.dag import DagModel
from airflow.models.dagbag import DBDagBag
from airflow.models.dagrun import DagRun
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from mcs import settings
from mcs.api.services import runs
from mcs.api.services.workflows import ACTIVE_RUN_STATES, get_workflow
from mcs.dag_factory.builder import dag_id_for
from mcs.db.engine import session_scope
from mcs.db.models import ControlCommand, Workflow, WorkflowRun, WorkflowVersion
from mcs.errors import ConflictError, NotFoundError
from mcs.events import record_event

log = logging.getLogger(__name__)

ACTIONS = ("start", "stop", "enable", "disable")
SOURCES = ("mqtt", "http_hook")


@dataclass
class StopResult:
    """What a stop ended: the MCS runs, Airflow runs MCS had no record of, and whether a loop stopped."""

    runs: list[WorkflowRun] = field(default_factory=list)
    untracked_dag_run_ids: list[str] = field(default_factory=list)
    loop_stopped: bool = False


@dataclass(frozen=True)
class Command:
    """A command from outside, already checked for shape (see :mod:`mcs.gateway.commands`).

    :param key: the workflow key.
    :param action: one of :data:`ACTIONS`.
    :param command_id: the sender's id of the command; ``None`` only for hook calls without one.
    :param conf: the run's params (start).
    :param reason: why (stop, disable).
    :param source: ``"mqtt"`` or ``"http_hook"``.
    :param sent_by: who sent it, recorded as ``started_by``/``stopped_by``.
    """

    key: str
    action: str
    command_id: str | None
    conf: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    source: str = "mqtt"
    sent_by: str = "mqtt"


def is_looping(session: Session, workflow: Workflow) -> bool:
    """Whether the workflow's latest published version starts runs by itself (cron, interval, continuous)."""
    if workflow.latest_version is None:
        return False
    schedule = session.scalar(
        select(WorkflowVersion.schedule).where(
            WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.version == workflow.latest_version
        )
    )
    return bool(schedule) and schedule.get("kind", "none") != "none"


def _set_paused(dag_id: str, paused: bool) -> bool:
    """Pause or unpause the Airflow DAG; False when Airflow does not know the DAG (never published)."""
    with create_session() as airflow_session:
        dag = airflow_session.get(DagModel, dag_id)
        if dag is None:
            return False
        dag.is_paused = paused
    return True


def _stop_untracked(dag_id: str, tracked: set[str]) -> list[str]:
    """Fail the active Airflow runs of ``dag_id`` that have no ``workflow_run`` row (a schedule's)."""
    stopped = []
    with create_session() as airflow_session:
        active = airflow_session.scalars(
            select(DagRun).where(
                DagRun.dag_id == dag_id, DagRun.state.in_((DagRunState.QUEUED, DagRunState.RUNNING))
            )
        ).all()
        for dag_run in active:
            if dag_run.run_id in tracked:
                continue
            dag = DBDagBag().get_dag_for_run(dag_run, session=airflow_session)
            set_dag_run_state_to_failed(dag=dag, run_id=dag_run.run_id, commit=True, session=airflow_session)
            stopped.append(dag_run.run_id)
    return stopped


def stop_workflow(session: Session, key: str, by: str, reason: str) -> StopResult:
    """Stop every active run of the workflow and, if it loops, the loop.

    A looping workflow is disabled and its DAG paused first, so that the schedule cannot start a
    new run while the current ones are being stopped. Running steps are failed (the worker kills
    their process, which runs the operator's ``on_kill``), waits are cancelled, the rest skipped.

    :param session: a session of the ``mcs`` database; the caller commits.
    :param key: the workflow key.
    :param by: who stops it, recorded as ``stopped_by``.
    :param reason: why, recorded as ``stop_reason``.
    """
    workflow = get_workflow(session, key)
    result = StopResult()
    if is_looping(session, workflow):
        workflow.enabled = False
        _set_paused(dag_id_for(key), True)
        result.loop_stopped = True

    active = session.scalars(
        select(WorkflowRun)
        .where(WorkflowRun.workflow_id == workflow.id, WorkflowRun.state.in_(ACTIVE_RUN_STATES))
        .order_by(WorkflowRun.id)
    ).all()
    for run in active:
        try:
            result.runs.append(runs.stop_run(session, run.id, by, reason))
        except ConflictError:
            log.debug("Run %s ended by itself before it could be stopped", run.dag_run_id)
    tracked = set(
        session.scalars(select(WorkflowRun.dag_run_id).where(WorkflowRun.workflow_id == workflow.id)).all()
    )
    result.untracked_dag_run_ids = _stop_untracked(dag_id_for(key), tracked)
    log.info(
        "Stopped workflow %s (by %s: %s): %s runs, loop stopped: %s",
        key,
        by,
        reason or "no reason",
        len(result.runs) + len(result.untracked_dag_run_ids),
        result.loop_stopped,
    )
    return result


def set_enabled(session: Session, key: str, enabled: bool, by: str, reason: str = "") -> Workflow:
    """Enable or disable the workflow: unpause or pause its DAG. Nothing is deleted.

    While disabled, no run starts (schedule, commands, hooks and the UI are refused), and as with
    any paused Airflow DAG, a run already going makes no further step until enabled or stopped.

    :param session: a session of the ``mcs`` database; the caller commits.
    :param key: the workflow key.
    :param enabled: the new state.
    :param by: who changed it, for the log.
    :param reason: why, for the log.
    """
    workflow = get_workflow(session, key)
    workflow.enabled = enabled
    workflow.updated_at = datetime.now(UTC)
    _set_paused(dag_id_for(key), not enabled)
    log.info(
        "%s workflow %s (by %s: %s)", "Enabled" if enabled else "Disabled", key, by, reason or "no reason"
    )
    return workflow


# ---------------------------------------------------------------- commands from outside


@dataclass
class _Outcome:
    answer: dict[str, Any]
    events: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)


def error_answer(command_id: str | None, action: str | None, code: str, error: str) -> dict[str, Any]:
    """The answer to a command that was not carried out; ``code`` is invalid, not_found or conflict."""
    return {
        "command_id": command_id,
        "action": action,
        "ok": False,
        "duplicate": False,
        "code": code,
        "error": error,
    }


def _act(session: Session, command: Command) -> _Outcome:
    answer: dict[str, Any] = {
        "command_id": command.command_id,
        "action": command.action,
        "ok": True,
        "duplicate": False,
    }
    what = f"{command.action} command {command.command_id or ''} from {command.source} ({command.sent_by})"
    data = {"command_id": command.command_id, "action": command.action, "source": command.source}
    if command.action == "start":
        run = runs.start_run(
            session,
            command.key,
            command.conf,
            kind=command.source,
            started_by=command.sent_by,
            command_id=command.command_id,
        )
        answer.update(run_id=run.id, dag_run_id=run.dag_run_id)
        return _Outcome(answer, [(run.dag_id, run.dag_run_id, what, data)])
    if command.action == "stop":
        result = stop_workflow(session, command.key, command.sent_by, command.reason)
        answer.update(
            stopped_runs=[run.id for run in result.runs],
            stopped_dag_runs=[run.dag_run_id for run in result.runs] + result.untracked_dag_run_ids,
            loop_stopped=result.loop_stopped,
        )
        events = [
            (run.dag_id, run.dag_run_id, what, {**data, "reason": command.reason}) for run in result.runs
        ]
        return _Outcome(answer, events)
    workflow = set_enabled(session, command.key, command.action == "enable", command.sent_by, command.reason)
    answer.update(enabled=workflow.enabled)
    return _Outcome(answer)


def _claim(session: Session, workflow: Workflow, command: Command) -> dict[str, Any] | None:
    """Store the command id; if it was stored before, return the answer it got then."""
    claimed = session.scalar(
        insert(ControlCommand)
        .values(
            workflow_id=workflow.id,
            command_id=command.command_id,
            action=command.action,
            source=command.source,
            sent_by=command.sent_by[:200],
            ok=False,
            answer={},
        )
        .on_conflict_do_nothing(constraint="uq_control_command")
        .returning(ControlCommand.id)
    )
    if claimed is not None:
        return None
    earlier = session.scalar(
        select(ControlCommand).where(
            ControlCommand.workflow_id == workflow.id, ControlCommand.command_id == command.command_id
        )
    )
    # JSONB does not keep the order of keys; answer in the order the first answer had.
    order = ["command_id", "action", "ok", "duplicate"]
    answer = {**earlier.answer, "duplicate": True}
    return {key: answer[key] for key in order if key in answer} | answer


def _execute(session: Session, command: Command) -> _Outcome:
    try:
        workflow = get_workflow(session, command.key)
    except NotFoundError as exc:
        return _Outcome(error_answer(command.command_id, command.action, "not_found", str(exc)))

    if command.command_id is not None:
        earlier = _claim(session, workflow, command)
        if earlier is not None:
            log.info("Command %s for %s was handled before; answering again", command.command_id, command.key)
            return _Outcome(earlier)

    try:
        # A savepoint: a failed action leaves nothing half done, and its answer is still stored.
        with session.begin_nested():
            outcome = _act(session, command)
    except NotFoundError as exc:
        outcome = _Outcome(error_answer(command.command_id, command.action, "not_found", str(exc)))
    except ConflictError as exc:
        outcome = _Outcome(error_answer(command.command_id, command.action, "conflict", str(exc)))
    except ValueError as exc:
        # Airflow checks a run's conf against the DAG's params when it creates the run.
        outcome = _Outcome(
            error_answer(command.command_id, command.action, "invalid", f"`conf` is not valid: {exc}")
        )

    if command.command_id is not None:
        stored = session.scalar(
            select(ControlCommand).where(
                ControlCommand.workflow_id == workflow.id, ControlCommand.command_id == command.command_id
            )
        )
        stored.ok = outcome.answer["ok"]
        stored.answer = outcome.answer
    return outcome


def execute_command(command: Command) -> dict[str, Any]:
    """Carry out ``command`` once per command id and return the answer to send back.

    Raises only when a database cannot be reached (the caller retries later); every other failure
    is an answer with ``ok`` false, ``code`` and ``error``.

    :param command: the command.
    """
    if command.action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}, found {command.action!r}")
    with session_scope() as session:
        outcome = _execute(session, command)
    for dag_id, dag_run_id, message, data in outcome.events:
        record_event(dag_id, dag_run_id, "command", message=message, data=data)
    return outcome.answer


def forget_old_commands(days: int | None = None) -> int:
    """Delete commands older than ``[mcs] command_retention_days``; return how many."""
    days = int(settings.get("command_retention_days")) if days is None else days
    cutoff = datetime.now(UTC) - timedelta(days=days)
    with session_scope() as session:
        deleted = session.execute(delete(ControlCommand).where(ControlCommand.received_at < cutoff)).rowcount
    if deleted:
        log.info("Forgot %s commands older than %s days", deleted, days)
    return deleted
