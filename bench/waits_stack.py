"""The parts of ``mqtt_waits.py`` that talk to its stack: the MCS API, Airflow's API and database, logs.

- ``waits_workflow``: the bench workflow, one ``mqtt_wait`` on ``bench/waits/{{ params.i }}``.
- ``McsClient``: the MCS API as the admin user (create and publish the workflow, start runs), and
  Airflow's REST API with the same token (pause and unpause the DAG).
- ``AirflowDb``: read-only queries on the stack's Airflow database: task instance states and
  timestamps, the value each wait returned (XCom).
- ``trigger_fired_times``: the "Trigger fired event" time of each wait, from the task instances'
  trigger logs or the triggerer's own log.

It imports the standard library, ``httpx`` and ``psycopg2``; not Airflow, not ``mcs``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import httpx
import psycopg2

WORKFLOW_KEY = "bench_waits"
TASK_ID = "wait"
TOPIC_PREFIX = "bench/waits"


class BenchError(Exception):
    """The bench could not set up, start or observe what it measures; the message says which."""


def waits_workflow(waits: int) -> dict:
    """One ``mqtt_wait`` node on ``bench/waits/<i>``, where ``i`` is a param of the run."""
    return {
        "key": WORKFLOW_KEY,
        "name": "基准：等待设备消息",
        "description": "Bench: one wait for an MQTT message per run (bench/mqtt_waits.py).",
        "tags": ["bench"],
        "params": {"i": {"type": "integer", "default": 0, "description": "which message to wait for"}},
        "max_active_runs": waits,
        "nodes": [
            {
                "key": TASK_ID,
                "kind": "mqtt_wait",
                "name": "等待消息",
                "config": {"topic": f"{TOPIC_PREFIX}/{{{{ params.i }}}}"},
            }
        ],
        "edges": [],
    }


def _answer(response: httpx.Response, what: str) -> dict:
    if response.is_error:
        raise BenchError(f"{what} answered {response.status_code}: {response.text[:500]}")
    return response.json()


class McsClient:
    """The MCS API of the bench stack, as the admin user."""

    def __init__(self, base_url: str, user: str, password: str) -> None:
        token = _answer(
            httpx.post(f"{base_url}/auth/token", json={"username": user, "password": password}, timeout=30),
            "POST /auth/token",
        )["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        self.http = httpx.Client(base_url=f"{base_url}/mcs/api/v1", headers=headers, timeout=120)
        self.airflow = httpx.Client(base_url=f"{base_url}/api/v2", headers=headers, timeout=60)

    def publish_workflow(self, definition: dict) -> None:
        _answer(self.http.post("/workflows", json=definition), "POST /workflows")
        key = definition["key"]
        version = _answer(
            self.http.post(f"/workflows/{key}/publish", params={"wait_seconds": 120}),
            "POST /workflows/{key}/publish",
        )
        if not version["loaded"]:
            raise BenchError(f"Airflow did not load the DAG of `{key}` within 120 s of publishing it")

    def start_run(self, key: str, params: dict) -> str:
        """Start one run; return its Airflow ``dag_run_id``."""
        return _answer(self.http.post(f"/workflows/{key}/runs", json={"params": params}), "POST runs")[
            "dag_run_id"
        ]

    def set_paused(self, dag_id: str, paused: bool) -> None:
        """Pause or unpause the DAG in Airflow (a paused DAG's new runs stay queued, untouched)."""
        _answer(self.airflow.patch(f"/dags/{dag_id}", json={"is_paused": paused}), "PATCH /dags/{dag_id}")

    def close(self) -> None:
        self.http.close()
        self.airflow.close()


def _received_at(value) -> str | None:
    """The first ``received_at`` found in a JSON value (a wait's return value, or its ``next_kwargs``)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, dict):
        if isinstance(value.get("received_at"), str):
            return value["received_at"]
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list) and (found := _received_at(item)):
                return found
    return None


class AirflowDb:
    """Read-only queries on the Airflow database of the bench stack (``postgresql+psycopg2://`` URL)."""

    def __init__(self, sql_alchemy_conn: str) -> None:
        self.conn = psycopg2.connect(sql_alchemy_conn.replace("postgresql+psycopg2://", "postgresql://"))
        self.conn.autocommit = True

    def states(self, dag_id: str) -> dict[str, int]:
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT coalesce(state, 'none'), count(*) FROM task_instance WHERE dag_id = %s GROUP BY 1",
                (dag_id,),
            )
            return dict(cur.fetchall())

    def task_times(self, dag_id: str, task_id: str) -> dict[str, dict]:
        """Per ``run_id``: state, the TI's timestamps and the wait's ``received_at`` (from its return
        value, or from the event in ``next_kwargs`` while the resumed task has not run yet)."""
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT ti.run_id, ti.state, ti.scheduled_dttm, ti.queued_dttm, ti.start_date, ti.end_date, "
                "ti.try_number, ti.next_kwargs, x.value "
                "FROM task_instance ti LEFT JOIN xcom x ON x.dag_id = ti.dag_id AND x.run_id = ti.run_id "
                "AND x.task_id = ti.task_id AND x.key = 'return_value' "
                "WHERE ti.dag_id = %s AND ti.task_id = %s",
                (dag_id, task_id),
            )
            rows = cur.fetchall()
        found = {}
        for run_id, state, scheduled, queued, start, end, try_number, next_kwargs, value in rows:
            # The event is in next_kwargs from the moment the task leaves DEFERRED until it runs.
            received = _received_at(value) or _received_at(next_kwargs)
            found[run_id] = {
                "state": state,
                "try_number": try_number,
                "scheduled": scheduled.timestamp() if scheduled else None,
                "queued": queued.timestamp() if queued else None,
                "start": start.timestamp() if start else None,
                "end": end.timestamp() if end else None,
                "received": datetime.fromisoformat(received).timestamp() if received else None,
            }
        return found

    def close(self) -> None:
        self.conn.close()


def _fired_in_task_log(logs: Path, dag_id: str, run_id: str, task_id: str) -> float | None:
    folder = logs / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    for path in sorted(folder.glob("attempt=*.log.trigger.*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if "Trigger fired event" in line:
                return datetime.fromisoformat(json.loads(line)["timestamp"]).timestamp()
    return None


def _fired_in_triggerer_log(triggerer_log: Path) -> dict[str, float]:
    """run_id -> time, from the "Trigger fired event" lines that landed in the triggerer's own log."""
    found = {}
    for line in triggerer_log.read_text(errors="replace").splitlines():
        if "Trigger fired event" not in line:
            continue
        match = re.search(r" run_id=(\S+)", line)
        if match:
            found[match.group(1)] = datetime.fromisoformat(line.split(" ", 1)[0]).timestamp()
    return found


def trigger_fired_times(
    logs: Path, triggerer_log: Path, dag_id: str, task_id: str, run_ids: list[str]
) -> tuple[dict[str, float], int]:
    """The "Trigger fired event" time of each run's wait, and how many came from the triggerer's log.

    The line belongs in the task's trigger log; when the trigger ends quickly after firing, Airflow
    3.3 often writes it to the triggerer's own log instead, so that is read too.
    """
    fallback = _fired_in_triggerer_log(triggerer_log)
    times, from_fallback = {}, 0
    for run_id in run_ids:
        moment = _fired_in_task_log(logs, dag_id, run_id, task_id)
        if moment is None and run_id in fallback:
            moment, from_fallback = fallback[run_id], from_fallback + 1
        if moment is not None:
            times[run_id] = moment
    return times, from_fallback
