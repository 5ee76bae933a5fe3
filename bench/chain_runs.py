"""Start one run of the bench chain, through MCS or through Airflow's REST API, and time it.

Both kinds of run are timed the same way, from Airflow's own record: the start request is stamped
here just before it is sent; the run's end and each step's start and end are the dag run's
``end_date`` and the task instances' ``start_date``/``end_date`` (one clock: the same machine).
A subscriber on the bench topic checks that each run published the ten expected messages.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import paho.mqtt.client as mqtt

MCS_API = "/mcs/api/v1"
MCS_KEY = "bench_chain_mcs"
# The plain DAG (``plain_chain_dag.py``) uses the same dag id, steps, topic and message.
PLAIN_DAG_ID = "bench_chain_plain"
STEPS = 10
TOPIC = "mcs-bench/chain"
RUN_TIMEOUT = 180.0
POLL_SECONDS = 0.2


class BenchError(Exception):
    """A run could not be started, failed, or did not do what the chain does."""


def message(step: int) -> dict:
    return {"bench": "chain_speed", "step": step}


def step_key(step: int) -> str:
    return f"step_{step:02d}"


def chain_workflow() -> dict:
    """The MCS definition of the chain: ten ``mqtt_publish`` nodes, each after the one before."""
    nodes = [
        {
            "key": step_key(step),
            "kind": "mqtt_publish",
            "name": f"第 {step} 步",
            "config": {"topic": TOPIC, "payload": message(step), "qos": 1},
        }
        for step in range(1, STEPS + 1)
    ]
    edges = [{"source": step_key(step), "target": step_key(step + 1)} for step in range(1, STEPS)]
    return {
        "key": MCS_KEY,
        "name": "基准：十步 MQTT 链",
        "description": "Bench chain: ten MQTT publishes, one after the other (bench/chain_speed.py).",
        "tags": ["bench"],
        "nodes": nodes,
        "edges": edges,
    }


@dataclass
class RunTiming:
    """One run, in seconds. ``gaps`` are next step's start minus previous step's end."""

    system: str
    dag_run_id: str
    total: float
    request: float
    start: float
    finish: float
    gaps: list[float] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)

    @property
    def median_gap(self) -> float:
        return statistics.median(self.gaps)

    @property
    def median_duration(self) -> float:
        return statistics.median(self.durations)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _check(answer: httpx.Response, what: str) -> dict:
    if answer.is_error:
        raise BenchError(f"{what} answered {answer.status_code}: {answer.text[:500]}")
    return answer.json()


class StackClient:
    """The MCS API and Airflow's REST API of one stack, as the admin user."""

    def __init__(self, base_url: str, user: str, password: str) -> None:
        answer = httpx.post(
            f"{base_url}/auth/token", json={"username": user, "password": password}, timeout=30
        )
        token = _check(answer, "POST /auth/token")["access_token"]
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def close(self) -> None:
        self.http.close()

    def publish_chain_workflow(self) -> None:
        """Create the MCS workflow and publish it; return once Airflow has loaded its DAG."""
        _check(self.http.post(f"{MCS_API}/workflows", json=chain_workflow()), "POST /workflows")
        version = _check(
            self.http.post(f"{MCS_API}/workflows/{MCS_KEY}/publish", params={"wait_seconds": 120}),
            "POST /workflows/{key}/publish",
        )
        if not version["loaded"]:
            raise BenchError(f"Airflow did not load the DAG of `{MCS_KEY}` within 120 s of publishing it")

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        """Wait until Airflow has parsed ``dag_id`` and it is not paused."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.http.get(f"/api/v2/dags/{dag_id}")
            if answer.status_code == 200 and not answer.json()["is_paused"]:
                return
            time.sleep(1)
        raise BenchError(
            f"Airflow has no unpaused DAG `{dag_id}` after {timeout:.0f} s; see the dag-processor log"
        )

    def start_mcs(self) -> tuple[str, str, int]:
        answer = self.http.post(f"{MCS_API}/workflows/{MCS_KEY}/runs", json={"params": {}})
        run = _check(answer, "POST /workflows/{key}/runs")
        return run["dag_id"], run["dag_run_id"], run["id"]

    def start_plain(self, index: int) -> tuple[str, str]:
        body = {"dag_run_id": f"bench__{index:03d}_{uuid.uuid4().hex[:8]}", "logical_date": None, "conf": {}}
        run = _check(self.http.post(f"/api/v2/dags/{PLAIN_DAG_ID}/dagRuns", json=body), "POST dagRuns")
        return run["dag_id"], run["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str) -> dict:
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            run = _check(self.http.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}"), "GET dagRun")
            if run["state"] == "success":
                return run
            if run["state"] == "failed":
                raise BenchError(f"run {run_id} of {dag_id} failed; see the worker log and the task logs")
            time.sleep(POLL_SECONDS)
        raise BenchError(f"run {run_id} of {dag_id} did not end within {RUN_TIMEOUT:.0f} s")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return _check(self.http.get(path, params={"limit": 100}), "GET taskInstances")["task_instances"]

    def mcs_run_state(self, run_id: int) -> str:
        return _check(self.http.get(f"{MCS_API}/runs/{run_id}"), "GET /runs/{id}")["state"]


class MessageLog:
    """Records every message on the bench topic, to check what each run published."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.payloads: list[dict] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-log-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect(host, port)
        self.client.subscribe(TOPIC, qos=1)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise BenchError(f"no SUBACK from the MQTT broker {host}:{port} for `{TOPIC}`")

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            self.payloads.append(json.loads(msg.payload))

    def mark(self) -> int:
        with self._lock:
            return len(self.payloads)

    def check_run(self, since: int, what: str) -> None:
        """Raise unless the messages after ``since`` are the chain's ten, in order."""
        expected = [message(step) for step in range(1, STEPS + 1)]
        deadline = time.monotonic() + 5
        while True:
            with self._lock:
                got = self.payloads[since:]
            if len(got) >= STEPS or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if got != expected:
            raise BenchError(f"{what} published {got}, expected {expected}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _timing(system: str, requested: datetime, request: float, run: dict, instances: list[dict]) -> RunTiming:
    by_key = {ti["task_id"]: ti for ti in instances}
    steps = [by_key.get(step_key(step)) for step in range(1, STEPS + 1)]
    if any(ti is None or ti["state"] != "success" for ti in steps):
        states = {step_key(n): (ti or {}).get("state") for n, ti in enumerate(steps, 1)}
        raise BenchError(f"run {run['dag_run_id']} ended without ten successful steps: {states}")
    starts = [_time(ti["start_date"]) for ti in steps]
    ends = [_time(ti["end_date"]) for ti in steps]
    run_end = _time(run["end_date"])
    return RunTiming(
        system=system,
        dag_run_id=run["dag_run_id"],
        total=(run_end - requested).total_seconds(),
        request=request,
        start=(starts[0] - requested).total_seconds(),
        finish=(run_end - ends[-1]).total_seconds(),
        gaps=[(starts[i + 1] - ends[i]).total_seconds() for i in range(STEPS - 1)],
        durations=[(end - start).total_seconds() for start, end in zip(starts, ends, strict=True)],
    )


def run_once(client: StackClient, messages: MessageLog, system: str, index: int) -> RunTiming:
    """Start one run of ``system`` ("mcs" or "plain"), wait for its success, and time it."""
    since = messages.mark()
    requested, clock = datetime.now(UTC), time.monotonic()
    if system == "mcs":
        dag_id, run_id, mcs_id = client.start_mcs()
    else:
        dag_id, run_id = client.start_plain(index)
    request = time.monotonic() - clock

    run = client.wait_for_run(dag_id, run_id)
    timing = _timing(system, requested, request, run, client.task_instances(dag_id, run_id))
    messages.check_run(since, f"run {run_id} of {dag_id}")
    if system == "mcs" and (state := client.mcs_run_state(mcs_id)) != "success":
        raise BenchError(f"MCS records run {mcs_id} as {state} although Airflow says success")
    return timing
