"""One timed try of each way to start or stop a workflow from outside (``control_latency.py``).

Every time is taken on this machine's clock: the moment just before the command or request is
sent, and what Airflow records in its database (a task instance's ``start_date``), or what this
process sees (the ack, the slow service noticing that the step's request was aborted).
"""

from __future__ import annotations

import json
import select
import threading
import time
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import paho.mqtt.client as mqtt
from sqlalchemy import create_engine, text

START_KEY = "bench_control_start"
STOP_KEY = "bench_control_stop"
POLL = 0.02
TIMEOUT = 120.0


class BenchError(Exception):
    """A try did not do what it should (no ack, no step, not stopped)."""


def start_workflow(topic: str) -> dict:
    """One quick step: what is timed is how soon it is running."""
    return {
        "key": START_KEY,
        "name": "基准：外部启动",
        "tags": ["bench"],
        "max_active_runs": 16,
        "nodes": [{"key": "first", "kind": "mqtt_publish", "config": {"topic": topic, "payload": "started"}}],
    }


def stop_workflow(slow_url: str, topic: str) -> dict:
    """A slow HTTP call beside a wait that nothing answers, both after a first quick step: what is timed
    is how soon the call and the wait have ended."""
    return {
        "key": STOP_KEY,
        "name": "基准：外部停止",
        "tags": ["bench"],
        "nodes": [
            {"key": "begin", "kind": "mqtt_publish", "config": {"topic": topic + "/begin", "payload": "go"}},
            {
                "key": "call",
                "kind": "http_request",
                "config": {"method": "POST", "url": slow_url, "json": {}},
            },
            {"key": "wait", "kind": "mqtt_wait", "config": {"topic": topic, "timeout_seconds": 3600}},
        ],
        "edges": [{"source": "begin", "target": "call"}, {"source": "begin", "target": "wait"}],
    }


class SlowService:
    """Answers after ten minutes; records when a caller gave up (its connection closed)."""

    def __init__(self) -> None:
        self.received: dict[str, float] = {}
        self.aborted: dict[str, float] = {}
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                run = self.headers.get("X-Run", self.path)
                service.received[run] = time.time()
                deadline = time.monotonic() + 600
                while time.monotonic() < deadline:
                    readable, _, _ = select.select([self.connection], [], [], 0.01)
                    if readable and not self.connection.recv(1, 2):
                        service.aborted[run] = time.time()
                        return
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/slow"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Commander:
    """Sends MQTT commands and notes when each ack arrives."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.acks: dict[str, tuple[float, dict]] = {}
        ready = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-commander-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: ready.set()
        self.client.connect("127.0.0.1", 1883)
        self.client.loop_start()
        self.client.subscribe(f"{prefix}/workflows/+/ack", qos=1)
        if not ready.wait(10):
            raise BenchError("the broker did not acknowledge the ack subscription")

    def _on_message(self, client, userdata, message) -> None:
        ack = json.loads(message.payload)
        self.acks.setdefault(ack.get("command_id") or "", (time.time(), ack))

    def send(self, key: str, command: dict) -> float:
        sent = time.time()
        self.client.publish(f"{self.prefix}/workflows/{key}/command", json.dumps(command), qos=1)
        return sent

    def ack(self, command_id: str) -> tuple[float, dict]:
        deadline = time.monotonic() + TIMEOUT
        while command_id not in self.acks:
            if time.monotonic() > deadline:
                raise BenchError(f"no ack for command {command_id}")
            time.sleep(POLL)
        at, ack = self.acks[command_id]
        if not ack.get("ok"):
            raise BenchError(f"command {command_id} was refused: {ack}")
        return at, ack

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class AirflowRecord:
    """Reads task instance times and states from Airflow's database."""

    def __init__(self, sql_alchemy_conn: str) -> None:
        self.engine = create_engine(sql_alchemy_conn)

    def tasks(self, dag_id: str, run_id: str) -> dict[str, tuple[str | None, datetime | None]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT task_id, state, start_date FROM task_instance WHERE dag_id = :d AND run_id = :r"
                ),
                {"d": dag_id, "r": run_id},
            )
            return {task: (state, start) for task, state, start in rows}

    def trigger_of(self, dag_id: str, run_id: str, task_id: str) -> int | None:
        with self.engine.connect() as connection:
            return connection.execute(
                text(
                    "SELECT trigger_id FROM task_instance WHERE dag_id = :d AND run_id = :r AND task_id = :t"
                ),
                {"d": dag_id, "r": run_id, "t": task_id},
            ).scalar()

    def trigger_gone(self, trigger_id: int) -> bool:
        with self.engine.connect() as connection:
            found = connection.execute(
                text("SELECT count(*) FROM trigger WHERE id = :i"), {"i": trigger_id}
            ).scalar()
        return found == 0

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        with self.engine.connect() as connection:
            return connection.execute(
                text("SELECT state FROM dag_run WHERE dag_id = :d AND run_id = :r"),
                {"d": dag_id, "r": run_id},
            ).scalar()

    def until(self, check, what: str):
        deadline = time.monotonic() + TIMEOUT
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise BenchError(f"timed out waiting for {what}")
            time.sleep(POLL)

    def first_step_started(self, dag_id: str, run_id: str) -> float:
        def started():
            found = [start for _, start in self.tasks(dag_id, run_id).values() if start is not None]
            return min(found).timestamp() if found else None

        return self.until(started, f"a step of {run_id} to start")

    def wait_finished(self, dag_id: str, run_id: str) -> None:
        self.until(lambda: self.run_state(dag_id, run_id) in ("success", "failed"), f"{run_id} to end")

    def close(self) -> None:
        self.engine.dispose()


class Starts:
    """Start the quick workflow four ways and time each until its first step runs."""

    def __init__(
        self, base_url: str, token: str, hook: dict, commander: Commander, record: AirflowRecord
    ) -> None:
        self.api = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        self.public = httpx.Client(timeout=60)
        self.hook = hook
        self.commander = commander
        self.record = record

    def _timed(self, sent: float, run_id: str) -> float:
        started = self.record.first_step_started(START_KEY, run_id)
        self.record.wait_finished(START_KEY, run_id)
        return started - sent

    def mqtt(self) -> float:
        command_id = f"bench-{uuid.uuid4().hex}"
        sent = self.commander.send(START_KEY, {"action": "start", "command_id": command_id})
        _, ack = self.commander.ack(command_id)
        return self._timed(sent, ack["dag_run_id"])

    def hook_call(self) -> float:
        sent = time.time()
        answer = self.public.post(
            self.hook["url"], json={}, headers={"Authorization": f"Bearer {self.hook['token']}"}
        )
        if answer.status_code != 201:
            raise BenchError(f"the start hook answered {answer.status_code}: {answer.text}")
        return self._timed(sent, answer.json()["dag_run_id"])

    def airflow_rest(self) -> float:
        sent = time.time()
        answer = self.api.post(f"/api/v2/dags/{START_KEY}/dagRuns", json={"logical_date": None})
        if answer.status_code != 200:
            raise BenchError(f"Airflow's REST API answered {answer.status_code}: {answer.text}")
        return self._timed(sent, answer.json()["dag_run_id"])

    def close(self) -> None:
        self.api.close()
        self.public.close()


class Stops:
    """Start the slow workflow, then stop it over MQTT or through Airflow's REST API, and time it."""

    def __init__(
        self, base_url: str, token: str, slow: SlowService, commander: Commander, record: AirflowRecord
    ):
        self.api = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        self.slow = slow
        self.commander = commander
        self.record = record

    def _running(self, run_id: str) -> int:
        """Wait until the call runs and the wait is deferred; return the wait's trigger id."""

        def both() -> bool:
            tasks = self.record.tasks(STOP_KEY, run_id)
            return tasks.get("wait", (None,))[0] == "deferred" and tasks.get("call", (None,))[0] == "running"

        self.record.until(both, f"{run_id}'s call to run and its wait to defer")
        self.record.until(lambda: self.slow.received, "the slow service to get the call")
        time.sleep(0.5)
        return self.record.until(
            lambda: self.record.trigger_of(STOP_KEY, run_id, "wait"), "the wait's trigger"
        )

    def _ended(self, sent: float, run_id: str, trigger_id: int) -> dict[str, float]:
        """Poll the three signs of a stopped run together; note when each first shows."""
        final = ("success", "failed", "skipped", "upstream_failed", "removed")
        checks = {
            "recorded": lambda: all(
                state in final for state, _ in self.record.tasks(STOP_KEY, run_id).values()
            ),
            "killed": lambda: "/slow" in self.slow.aborted,
            "cancelled": lambda: self.record.trigger_gone(trigger_id),
        }
        seen: dict[str, float] = {}
        deadline = time.monotonic() + TIMEOUT
        while len(seen) < len(checks):
            for name, check in checks.items():
                if name not in seen and check():
                    seen[name] = (self.slow.aborted["/slow"] if name == "killed" else time.time()) - sent
            if time.monotonic() > deadline:
                raise BenchError(f"{run_id} was not stopped: only {sorted(seen)} within {TIMEOUT:.0f} s")
            time.sleep(POLL)
        self.slow.aborted.clear()
        return {**seen, "all": max(seen.values())}

    def mqtt(self) -> dict[str, float]:
        self.slow.received.clear()
        run_id = self.api.post(f"/mcs/api/v1/workflows/{STOP_KEY}/runs", json={"params": {}}).json()[
            "dag_run_id"
        ]
        trigger_id = self._running(run_id)
        command_id = f"bench-stop-{uuid.uuid4().hex}"
        sent = self.commander.send(STOP_KEY, {"action": "stop", "command_id": command_id, "reason": "bench"})
        acked, _ = self.commander.ack(command_id)
        return {"ack": acked - sent, **self._ended(sent, run_id, trigger_id)}

    def airflow_rest(self) -> dict[str, float]:
        self.slow.received.clear()
        run_id = self.api.post(f"/api/v2/dags/{STOP_KEY}/dagRuns", json={"logical_date": None}).json()[
            "dag_run_id"
        ]
        trigger_id = self._running(run_id)
        sent = time.time()
        answer = self.api.patch(f"/api/v2/dags/{STOP_KEY}/dagRuns/{run_id}", json={"state": "failed"})
        acked = time.time()
        if answer.status_code != 200:
            raise BenchError(f"Airflow's REST API answered {answer.status_code}: {answer.text}")
        return {"ack": acked - sent, **self._ended(sent, run_id, trigger_id)}

    def close(self) -> None:
        self.api.close()
