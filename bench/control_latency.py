"""How fast control from outside acts: start by MQTT command or HTTP hook, stop by MQTT command.

Starts a stack of its own (``scripts/stack.py``; run dir ``test-output/bench/control/stack``, port
8290, databases ``airflow_bench_control`` and ``mcs_bench_control``, Redis dbs 8 and 9 unless
``--redis-dbs`` says otherwise), publishes two workflows and times, one try at a time:

- start: MQTT start command, HTTP start hook, and Airflow's own ``POST /api/v2/dags/{id}/dagRuns``
  on the same DAG, each until the first step is running (its ``start_date`` in Airflow), in turn;
- stop: an MQTT stop command, and Airflow's own ``PATCH .../dagRuns/{run}`` to ``failed``, each
  on a run whose HTTP step is waiting on a slow local service and whose MQTT wait is deferred,
  until the ack (or the REST answer), until Airflow records every step as ended, and until the
  slow service sees the step's request aborted (the step's process was really stopped).

It writes its figures between the ``control_latency`` markers of ``docs/performance.md``.

    .venv/bin/python bench/control_latency.py              # 50 tries of each
    .venv/bin/python bench/control_latency.py --tries 5 --no-doc
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import httpx  # noqa: E402
import stack  # noqa: E402
from control_tries import (  # noqa: E402
    START_KEY,
    AirflowRecord,
    BenchError,
    Commander,
    SlowService,
    Starts,
    Stops,
    start_workflow,
    stop_workflow,
)

OUTPUT = REPO / "test-output" / "bench" / "control"
DOC = REPO / "docs" / "performance.md"
BEGIN = "<!-- control_latency begin: written by bench/control_latency.py -->"
END = "<!-- control_latency end -->"
PREFIX = "mcs-bench-control"


def say(text: str) -> None:
    print(f"[bench] {text}", flush=True)


def p95(values: list[float]) -> float:
    """The 95th percentile by nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def bench_profile(port: int, redis_dbs: tuple[int, int]) -> stack.Profile:
    return stack.Profile(
        name="bench-control",
        run_dir=(OUTPUT / "stack").resolve(),
        api_port=port,
        airflow_db="airflow_bench_control",
        mcs_db="mcs_bench_control",
        broker_redis_db=redis_dbs[0],
        mcs_redis_db=redis_dbs[1],
        reset_databases=True,
        read_dotenv=False,
    )


def publish(api: httpx.Client, definition: dict) -> None:
    for answer in (
        api.post("/mcs/api/v1/workflows", json=definition),
        api.post(f"/mcs/api/v1/workflows/{definition['key']}/publish"),
    ):
        if answer.status_code != 201:
            raise BenchError(f"publishing {definition['key']} failed: {answer.status_code} {answer.text}")


def measure(profile: stack.Profile, env: dict[str, str], tries: int) -> dict[str, list[float]]:
    token = httpx.post(
        f"{profile.base_url}/auth/token",
        json={"username": stack.ADMIN_USER, "password": stack.admin_password(profile)},
        timeout=60,
    ).json()["access_token"]
    api = httpx.Client(base_url=profile.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    slow = SlowService()
    commander = Commander(PREFIX)
    record = AirflowRecord(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        publish(api, start_workflow("mcs-bench/control/started"))
        publish(api, stop_workflow(slow.url, "mcs-bench/control/never"))
        hook = api.post(f"/mcs/api/v1/workflows/{START_KEY}/hooks", json={"action": "start"}).json()
        starts = Starts(profile.base_url, token, hook, commander, record)
        stops = Stops(profile.base_url, token, slow, commander, record)
        ways = {
            "start_mqtt": starts.mqtt,
            "start_hook": starts.hook_call,
            "start_airflow": starts.airflow_rest,
        }

        say("warming up: two untimed tries of each")
        for _ in range(2):
            for way in ways.values():
                way()
            stops.mqtt()
            stops.airflow_rest()

        figures: dict[str, list[float]] = {}
        for n in range(tries):
            for name, way in ways.items():
                figures.setdefault(name, []).append(way())
            for name, stop in (("stop_mqtt", stops.mqtt), ("stop_airflow", stops.airflow_rest)):
                for part, seconds in stop().items():
                    figures.setdefault(f"{name}_{part}", []).append(seconds)
            if (n + 1) % 10 == 0:
                say(f"{n + 1} of {tries} tries done")
        starts.close()
        stops.close()
        return figures
    finally:
        commander.close()
        slow.close()
        record.close()
        api.close()


ROWS = [
    ("start: MQTT command → first step running", "start_mqtt"),
    ("start: HTTP hook → first step running", "start_hook"),
    ("start: Airflow REST `POST /api/v2/dags/{id}/dagRuns` → first step running", "start_airflow"),
    ("stop: MQTT command → ack received", "stop_mqtt_ack"),
    ("stop: MQTT command → Airflow records every step ended", "stop_mqtt_recorded"),
    ("stop: MQTT command → running HTTP step's request aborted", "stop_mqtt_killed"),
    ("stop: MQTT command → deferred wait's trigger removed", "stop_mqtt_cancelled"),
    ("stop: MQTT command → all steps ended (the latest of the three above)", "stop_mqtt_all"),
    ("stop: Airflow REST `PATCH .../dagRuns/{run}` failed → answer", "stop_airflow_ack"),
    ("stop: Airflow REST → Airflow records every step ended", "stop_airflow_recorded"),
    ("stop: Airflow REST → running HTTP step's request aborted", "stop_airflow_killed"),
    ("stop: Airflow REST → deferred wait's trigger removed", "stop_airflow_cancelled"),
    ("stop: Airflow REST → all steps ended", "stop_airflow_all"),
]


def report(figures: dict[str, list[float]], tries: int, started: datetime, load: tuple[float, float]) -> str:
    lines = [
        BEGIN,
        "## Control from outside",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC with `bench/control_latency.py`: {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, Airflow 3.3.2 (CeleryExecutor, one worker), the stack's "
        f"`PERFORMANCE_SETTINGS`. {tries} timed tries of each after two untimed warm-up tries, one at a time; "
        "the three ways to start take turns, then the two ways to stop. Times are from just before the "
        "command or request is sent; a step's start is its `start_date` in Airflow. p95 by nearest rank.",
        "",
        f"Load average of the machine (1 min) at start and end: {load[0]:.1f} and {load[1]:.1f}: "
        "other programs shared the machine, so compare the columns with each other rather than with "
        "figures taken elsewhere.",
        "",
        "| measure | median | p95 |",
        "|---|---:|---:|",
    ]
    for title, name in ROWS:
        values = figures[name]
        lines.append(f"| {title} | {statistics.median(values):.2f} s | {p95(values):.2f} s |")
    lines += [
        "",
        "A start over MQTT or a hook goes through the same `trigger_dag` as Airflow's REST API, after "
        "the command is checked and stored (`control_command`) and the workflow's DAG is found loaded; "
        "what follows, the scheduler queueing the first step and the worker starting it, is the same "
        "for all three.",
        "",
        "A stop fails the run's steps in Airflow's database at once (the ack comes after that). A running "
        "step's process is stopped when its supervisor next heartbeats (`[workers] min_heartbeat_interval`, "
        "5 s by default) and is told the task should not run any more: it sends SIGTERM, the HTTP step's "
        '`on_kill` aborts the request. That heartbeat is most of "request aborted", for MCS and plain '
        "Airflow alike. Each try stops its run about half a second after the HTTP step started, that is "
        "just after the step's first heartbeat, so the figure is close to the worst case, 5 s less that "
        "half second; a stop at a random moment waits 2.5 s on average. A shorter interval stops steps "
        "sooner at the cost of one API call a second per running step.",
        END,
    ]
    return "\n".join(lines)


def write_doc(section: str) -> None:
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tries", type=int, default=50)
    parser.add_argument("--port", type=int, default=8290)
    parser.add_argument("--redis-dbs", type=int, nargs=2, default=[8, 9], metavar=("BROKER", "MCS"))
    parser.add_argument("--no-doc", action="store_true", help="print the figures, leave docs/performance.md")
    args = parser.parse_args(argv)

    profile = bench_profile(args.port, tuple(args.redis_dbs))
    for key in [key for key in os.environ if key.startswith("AIRFLOW") or key == stack.MARKER]:
        del os.environ[key]
    os.environ["AIRFLOW__MCS__TOPIC_PREFIX"] = PREFIX
    stack.stop(profile)
    shutil.rmtree(profile.run_dir, ignore_errors=True)
    started = datetime.now(UTC)
    load_start = os.getloadavg()[0]
    try:
        say(f"starting the bench stack on {profile.base_url}, logs in {profile.logs_dir}")
        env = stack.up(profile, log=say)
        figures = measure(profile, env, args.tries)
    except (stack.StackError, BenchError) as exc:
        print(f"[bench] failed: {exc}\n[bench] logs: {profile.logs_dir}", file=sys.stderr)
        return 1
    finally:
        say("stopping the bench stack")
        stack.stop(profile, log=say)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "figures.json").write_text(json.dumps(figures, indent=1))
    section = report(figures, args.tries, started, (load_start, os.getloadavg()[0]))
    print(section)
    if not args.no_doc:
        write_doc(section)
        say(f"wrote the figures to {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
