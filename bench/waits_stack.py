"""The parts of ``mqtt_waits.py`` that talk to its stack: broker, MCS API, Airflow's database, logs.

- ``PrivateBroker``: a Mosquitto of the bench's own on a free loopback port, no connection limit,
  ``$SYS`` topics every second (to count the waits' connections), stopped at the end.
- ``McsClient``: the MCS API as the admin user: create and publish the workflow, start runs.
- ``AirflowDb``: read-only queries on the stack's Airflow database: task instance states and
  timestamps, the value each wait returned (XCom).
- ``trigger_fired_at``: the "Trigger fired event" time in a task instance's trigger log.

It imports the standard library, ``httpx``, ``paho-mqtt`` and ``psycopg2``; not Airflow, not ``mcs``.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateBroker:
    """A Mosquitto of the bench's own; ``connected()`` is the broker's own count of its clients."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "mosquitto.conf"
        self.log = directory / "mosquitto.log"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "max_connections -1\nsys_interval 1\nconnection_messages false\n"
            f"log_dest file {self.log}\nlog_type error\nlog_type warning\n"
        )
        self.process: subprocess.Popen | None = None
        self._connected = -1
        self._watcher: mqtt.Client | None = None

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen(
            [binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError(f"mosquitto did not start on 127.0.0.1:{self.port}") from None
                time.sleep(0.05)
        self._watcher = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-sys-{uuid.uuid4().hex[:6]}"
        )
        self._watcher.on_message = self._on_sys
        self._watcher.connect("127.0.0.1", self.port)
        self._watcher.subscribe("$SYS/broker/clients/connected")
        self._watcher.loop_start()

    def _on_sys(self, client, userdata, message) -> None:
        self._connected = int(message.payload)

    def connected(self) -> int:
        """Clients connected, as the broker said at most a second ago (-1 before its first word)."""
        return self._connected

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.disconnect()
            self._watcher.loop_stop()
            self._watcher = None
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class Publisher:
    """Publishes as a device would, QoS 1, returning once the broker acknowledged."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-device-{uuid.uuid4().hex[:6]}"
        )
        connected = threading.Event()
        self.client.on_connect = lambda *args: connected.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not connected.wait(10):
            raise BenchError(f"no CONNACK from the bench broker on port {port}")

    def publish(self, topic: str, payload: dict) -> None:
        info = self.client.publish(topic, json.dumps(payload), qos=1)
        info.wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


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
        self.http = httpx.Client(
            base_url=f"{base_url}/mcs/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=120
        )

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

    def close(self) -> None:
        self.http.close()


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
        """Per ``run_id``: state, the TI's timestamps and the ``received_at`` of its return value."""
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT ti.run_id, ti.state, ti.scheduled_dttm, ti.queued_dttm, ti.start_date, ti.end_date, "
                "ti.try_number, x.value "
                "FROM task_instance ti LEFT JOIN xcom x ON x.dag_id = ti.dag_id AND x.run_id = ti.run_id "
                "AND x.task_id = ti.task_id AND x.key = 'return_value' "
                "WHERE ti.dag_id = %s AND ti.task_id = %s",
                (dag_id, task_id),
            )
            rows = cur.fetchall()
        found = {}
        for run_id, state, scheduled, queued, start, end, try_number, value in rows:
            value = json.loads(value) if isinstance(value, str) else value
            received = value.get("received_at") if isinstance(value, dict) else None
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


def trigger_fired_at(logs: Path, dag_id: str, run_id: str, task_id: str) -> float | None:
    """Epoch seconds of the "Trigger fired event" line in the TI's trigger log, or None."""
    folder = logs / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    for path in sorted(folder.glob("attempt=*.log.trigger.*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if "Trigger fired event" not in line:
                continue
            try:
                return datetime.fromisoformat(json.loads(line)["timestamp"]).timestamp()
            except (ValueError, KeyError):
                return None
    return None
