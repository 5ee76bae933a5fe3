"""The watcher: state changes of active MCS runs that no Airflow listener reports.

No listener fires when a task defers, when the scheduler or an MCS rule skips a task, or when
MCS stops a run (``stop_run`` sets Airflow's states directly). The gateway calls
:meth:`RunWatcher.poll` about once a second: it reads the states of the task instances of every
queued or running MCS run from Airflow's database and reports each one that changed since its
last look. Reports go through :func:`mcs.events.report.report_node` and ``report_run``, which
record a state only if no one (a listener, another gateway) has recorded it already.

A run that leaves the active set is reported one last time after :data:`FINAL_GRACE` seconds:
the listener has usually reported its end by then, and a stop has had time to mark the row
``stopped`` (so a stopped run is never reported as failed).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, select, tuple_

from mcs.db.engine import get_engine, session_scope
from mcs.db.models import Workflow
from mcs.events.record import NODE_STATES
from mcs.events.report import NodeChange, RunChange, report_node, report_run
from mcs.events.runs import RunStart

log = logging.getLogger(__name__)

FINAL_GRACE = 3.0
KEYS_REFRESH = 10.0
ACTIVE = ("queued", "running")


# The columns the watcher reads of Airflow's tables. Plain tables, not Airflow's models: importing
# those in a thread while the gateway's main thread imports Airflow can deadlock.
_AIRFLOW = MetaData()
DAG_RUN = Table(
    "dag_run",
    _AIRFLOW,
    Column("dag_id", String),
    Column("run_id", String),
    Column("state", String),
    Column("start_date", DateTime(timezone=True)),
    Column("end_date", DateTime(timezone=True)),
    Column("run_type", String),
    Column("triggered_by", String),
    Column("triggering_user_name", String),
    Column("conf", JSON),
)
TASK_INSTANCE = Table(
    "task_instance",
    _AIRFLOW,
    Column("dag_id", String),
    Column("run_id", String),
    Column("task_id", String),
    Column("map_index", Integer),
    Column("try_number", Integer),
    Column("state", String),
    Column("start_date", DateTime(timezone=True)),
    Column("end_date", DateTime(timezone=True)),
)


def _airflow_engine():
    from airflow.configuration import conf

    return get_engine(conf.get("database", "sql_alchemy_conn"))


def _state(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


class RunWatcher:
    """Remembers what it saw of each active run and reports what changed.

    :param final_grace: seconds between a run leaving the active set and its last report.
    """

    def __init__(self, final_grace: float = FINAL_GRACE) -> None:
        self.final_grace = final_grace
        self.seen: dict[tuple[str, str], dict[tuple[str, int], str]] = {}
        self.ended_at: dict[tuple[str, str], float] = {}
        self._keys: set[str] = set()
        self._keys_read = 0.0
        self._engine = _airflow_engine()

    def _workflow_keys(self) -> set[str]:
        if time.monotonic() - self._keys_read > KEYS_REFRESH:
            with session_scope() as session:
                self._keys = set(session.scalars(select(Workflow.key).where(Workflow.deleted_at.is_(None))))
            self._keys_read = time.monotonic()
        return self._keys

    def poll(self) -> int:
        """Look once; return how many changes were handed to the reports."""
        keys = self._workflow_keys()
        if not keys and not self.seen:
            return 0
        with self._engine.connect() as connection:
            runs = {
                (run.dag_id, run.run_id): run
                for run in connection.execute(
                    select(*DAG_RUN.c).where(DAG_RUN.c.state.in_(ACTIVE), DAG_RUN.c.dag_id.in_(keys or {""}))
                )
            }
            due = [key for key in self.seen if key not in runs and self._due(key)]
            ended = {}
            if due:
                ended = {
                    (run.dag_id, run.run_id): run
                    for run in connection.execute(
                        select(*DAG_RUN.c).where(tuple_(DAG_RUN.c.dag_id, DAG_RUN.c.run_id).in_(due))
                    )
                }
            wanted = [key for key, run in runs.items() if run.state == "running"] + list(ended)
            instances: dict[tuple[str, str], list[Any]] = {key: [] for key in wanted}
            if wanted:
                query = select(*TASK_INSTANCE.c).where(
                    tuple_(TASK_INSTANCE.c.dag_id, TASK_INSTANCE.c.run_id).in_(wanted)
                )
                for row in connection.execute(query):
                    instances[(row.dag_id, row.run_id)].append(row)
        changes = 0
        for key, run in runs.items():
            changes += self._report_active(key, run, instances.get(key, []))
        for key, run in ended.items():
            report_run(self._final_change(run, instances.get(key, [])))
            changes += 1
        for key in due:
            self.seen.pop(key, None)
            self.ended_at.pop(key, None)
        return changes

    def _due(self, key: tuple[str, str]) -> bool:
        first = self.ended_at.setdefault(key, time.monotonic())
        return time.monotonic() - first >= self.final_grace

    @staticmethod
    def _start_of(run: Any) -> RunStart:
        # The version is left to `ensure_run_row`: the workflow's latest, as the DAG's tags are not at hand.
        return RunStart(
            dag_id=run.dag_id,
            dag_run_id=run.run_id,
            run_type=_state(run.run_type),
            triggered_by=_state(run.triggered_by),
            triggering_user=run.triggering_user_name or "",
            conf=dict(run.conf or {}),
        )

    def _report_active(self, key: tuple[str, str], run: Any, rows: list[Any]) -> int:
        seen = self.seen.setdefault(key, {})
        self.ended_at.pop(key, None)
        changes = 0
        if _state(run.state) == "running" and seen.get(("", -1)) != "running":
            start = self._start_of(run)
            report_run(
                RunChange(key[0], key[1], "running", started_at=run.start_date, start=start, source="watcher")
            )
            seen[("", -1)] = "running"
            changes += 1
        for row in rows:
            state, node = _state(row.state), (row.task_id, row.map_index)
            value = f"{row.try_number}:{state}"
            if state not in NODE_STATES or seen.get(node) == value:
                continue
            at = row.start_date if state == "running" else (row.end_date or row.start_date)
            report_node(
                NodeChange(
                    key[0], key[1], row.task_id, state, row.try_number, row.map_index, at, source="watcher"
                )
            )
            seen[node] = value
            changes += 1
        return changes

    @staticmethod
    def _final_change(run: Any, rows: list[Any]) -> RunChange:
        nodes = tuple(
            NodeChange(
                run.dag_id,
                run.run_id,
                row.task_id,
                _state(row.state),
                row.try_number,
                row.map_index,
                row.end_date or row.start_date,
                source="watcher",
            )
            for row in rows
        )
        return RunChange(
            run.dag_id,
            run.run_id,
            _state(run.state),
            started_at=run.start_date,
            ended_at=run.end_date,
            nodes=nodes,
            source="watcher",
        )
