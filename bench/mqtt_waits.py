"""A thousand MQTT waits pending at once in one Airflow triggerer: its memory, and how fast each resumes.

Run it with the project's virtualenv python (PostgreSQL and Redis on 127.0.0.1; the broker is a
private Mosquitto the bench starts)::

    .venv/bin/python bench/mqtt_waits.py                 # 1,000 waits, messages at 20 a second
    .venv/bin/python bench/mqtt_waits.py --waits 20 --no-doc   # a quick look

It starts a stack of its own with ``scripts/stack.py`` (run dir ``test-output/bench/waits/stack``,
port 8480, databases ``airflow_bench_waits`` and ``mcs_bench_waits`` dropped first, Redis dbs 12
and 13), pointed at the private broker. It publishes one workflow whose single node waits on
``bench/waits/{{ params.i }}``, starts ``--waits`` runs (``i`` = 0, 1, ...), waits until every
task instance is deferred and every wait is connected to the broker, reads the triggerer's memory
from ``/proc``, then publishes the awaited messages one by one at ``--rate`` a second and times
each from the publish to the moments Airflow records (see ``waits_report.py``). The stack and the
broker are stopped at the end, also on failure; figures go to ``docs/performance.md`` (section
``mqtt_waits:results``) and ``test-output/bench/mqtt_waits.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import stack  # noqa: E402
from figures import load_average, machine, now_utc, write_section  # noqa: E402
from proc_memory import cpu_seconds, tree_memory  # noqa: E402
from waits_report import results_section, timings  # noqa: E402
from waits_stack import (  # noqa: E402
    TASK_ID,
    TOPIC_PREFIX,
    WORKFLOW_KEY,
    AirflowDb,
    BenchError,
    McsClient,
    PrivateBroker,
    Publisher,
    trigger_fired_at,
    waits_workflow,
)

OUTPUT = REPO / "test-output" / "bench"
RUN_DIR = OUTPUT / "waits"
# Airflow settings that decide whether a thousand runs can all reach DEFERRED; their values in
# the bench's stack are read back and written into the doc.
LIMIT_KEYS = [
    ("core", "parallelism"),
    ("core", "max_active_runs_per_dag"),
    ("core", "max_active_tasks_per_dag"),
    ("triggerer", "capacity"),
    ("celery", "worker_concurrency"),
    ("scheduler", "max_tis_per_query"),
    ("scheduler", "task_queued_timeout"),
]
CONFIG_PROGRAM = """
import json, sys
from airflow.configuration import conf
print(json.dumps({f"{s}.{k}": conf.get(s, k) for s, k in json.loads(sys.argv[1])}))
"""


def say(text: str) -> None:
    print(f"[waits] {text} (load {load_average()})", flush=True)


def bench_profile(port: int) -> stack.Profile:
    return stack.Profile(
        name="bench-waits",
        run_dir=(RUN_DIR / "stack").resolve(),
        api_port=port,
        airflow_db="airflow_bench_waits",
        mcs_db="mcs_bench_waits",
        broker_redis_db=12,
        mcs_redis_db=13,
        reset_databases=True,
        read_dotenv=False,
    )


def raise_open_files(wanted: int) -> tuple[int, int]:
    """Raise this process's soft open-files limit (inherited by the stack) to ``wanted`` or the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def effective_limits(env: dict[str, str]) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-c", CONFIG_PROGRAM, json.dumps(LIMIT_KEYS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def triggerer_pid(profile: stack.Profile) -> int:
    return int((profile.pids_dir / "triggerer.pid").read_text().split()[0])


def memory_samples(pid: int, seconds: int) -> dict:
    """Sample the triggerer tree once a second; its CPU over the same window in % of one core."""
    first = tree_memory(pid)
    cpu_before, clock = cpu_seconds(first.pids), time.monotonic()
    samples = [first]
    for _ in range(seconds):
        time.sleep(1)
        samples.append(tree_memory(pid))
    cpu = (cpu_seconds(samples[-1].pids) - cpu_before) / (time.monotonic() - clock) * 100
    last = samples[-1]
    return {
        "processes": len(last.pids),
        "rss_mib": max(s.rss_mib for s in samples),
        "pss_mib": max(s.pss_mib for s in samples),
        "largest_rss_mib": max(s.largest_rss_mib for s in samples),
        "open_files": last.open_files,
        "threads": last.threads,
        "cpu_percent": cpu,
        "load": load_average(),
    }


def wait_for(what: str, check, timeout: float, every: float = 5) -> None:
    deadline, last = time.monotonic() + timeout, ""
    while True:
        done, progress = check()
        if done:
            return
        if progress != last:
            say(f"{what}: {progress}")
            last = progress
        if time.monotonic() > deadline:
            raise BenchError(f"{what} not reached within {timeout:.0f} s: {progress}")
        time.sleep(every)


def measure(profile: stack.Profile, env: dict, broker: PrivateBroker, args: argparse.Namespace) -> dict:
    password = stack.admin_password(profile)
    client, db = (
        McsClient(profile.base_url, stack.ADMIN_USER, password),
        AirflowDb(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]),
    )
    publisher = Publisher(broker.port)
    pid = triggerer_pid(profile)
    record: dict = {"limits": effective_limits(env)}
    try:
        client.publish_workflow(waits_workflow(args.waits))
        time.sleep(3)
        baseline_clients = broker.connected()
        record["triggerer_idle"] = memory_samples(pid, args.samples)
        say(f"triggerer with no wait: {record['triggerer_idle']}")

        began = time.monotonic()
        run_ids = [client.start_run(WORKFLOW_KEY, {"i": i}) for i in range(args.waits)]
        record["start_requests_seconds"] = time.monotonic() - began
        say(f"started {args.waits} runs in {record['start_requests_seconds']:.0f} s")

        def all_deferred():
            states = db.states(WORKFLOW_KEY)
            if states.get("failed") or states.get("upstream_failed"):
                raise BenchError(f"task instances failed before deferring: {states}; see the worker log")
            return states.get("deferred", 0) == args.waits, json.dumps(states, sort_keys=True)

        wait_for("all deferred", all_deferred, args.setup_timeout)
        record["all_deferred_seconds"] = time.monotonic() - began
        wanted = baseline_clients + args.waits
        wait_for(
            "all waits connected to the broker",
            lambda: (broker.connected() >= wanted, f"{broker.connected()} clients, want {wanted}"),
            300,
            every=1,
        )
        record["all_subscribed_seconds"] = time.monotonic() - began
        say(
            f"{args.waits} waits deferred and connected after {record['all_subscribed_seconds']:.0f} s; settling"
        )
        time.sleep(args.settle)
        record["triggerer_waiting"] = memory_samples(pid, args.samples)
        say(f"triggerer with {args.waits} waits: {record['triggerer_waiting']}")

        published = {}
        record["load_before_publish"] = load_average()
        start = time.monotonic()
        for i, run_id in enumerate(run_ids):
            pause = start + i / args.rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            published[run_id] = time.time()
            publisher.publish(f"{TOPIC_PREFIX}/{i}", {"i": i})
        record["publish_seconds"] = time.monotonic() - start
        record["load_after_publish"] = load_average()
        say(f"published {args.waits} messages in {record['publish_seconds']:.1f} s")

        def all_done():
            states = db.states(WORKFLOW_KEY)
            return states.get("success", 0) + states.get("failed", 0) == args.waits, json.dumps(
                states, sort_keys=True
            )

        wait_for("all resumed and ended", all_done, args.setup_timeout)
        record["triggerer_after"] = memory_samples(pid, 3)
        rows = db.task_times(WORKFLOW_KEY, TASK_ID)
    finally:
        publisher.close()
        db.close()
        client.close()

    logs = Path(env["AIRFLOW_HOME"]) / "logs"
    record["waits"] = [
        {
            "run_id": run_id,
            "published": published[run_id],
            **rows.get(run_id, {}),
            "fired": trigger_fired_at(logs, WORKFLOW_KEY, run_id, TASK_ID),
        }
        for run_id in run_ids
    ]
    return record


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waits", type=int, default=1000, help="waits pending at once (default 1000)")
    parser.add_argument("--rate", type=float, default=20, help="messages published a second (default 20)")
    parser.add_argument("--port", type=int, default=8480, help="api-server port of the bench stack")
    parser.add_argument("--samples", type=int, default=10, help="seconds of memory samples (default 10)")
    parser.add_argument(
        "--settle", type=float, default=20, help="seconds between the last wait and the memory reading"
    )
    parser.add_argument("--setup-timeout", type=float, default=5400, help="seconds for all to defer / to end")
    parser.add_argument("--open-files", type=int, default=65536, help="soft open-files limit for the stack")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/performance.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = bench_profile(args.port)
    stack.stop(profile)
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    soft, hard = raise_open_files(args.open_files)
    for key in [key for key in os.environ if key.startswith("AIRFLOW") or key == stack.MARKER]:
        del os.environ[key]

    broker = PrivateBroker(RUN_DIR / "broker")
    broker.start()
    os.environ["AIRFLOW_CONN_MCS_MQTT"] = f"mqtt://127.0.0.1:{broker.port}"
    when, load_at_start = now_utc(), load_average()
    began = time.monotonic()
    try:
        say(
            f"starting the bench stack on {profile.base_url}, broker on port {broker.port}, open files {soft}/{hard}"
        )
        env = stack.up(profile, log=say)
        record = measure(profile, env, broker, args)
    except (stack.StackError, BenchError) as exc:
        print(f"[waits] failed: {exc}\n[waits] logs: {profile.logs_dir}", file=sys.stderr)
        return 1
    finally:
        left = stack.stop(profile, log=say)
        broker.stop()
        if left:
            print(f"[waits] still running after the stack was stopped: {left}", file=sys.stderr)

    record.update(
        when=when,
        machine=machine(),
        load_at_start=load_at_start,
        load_at_end=load_average(),
        open_files_limit=[soft, hard],
        waits_count=args.waits,
        rate=args.rate,
        total_seconds=time.monotonic() - began,
    )
    record["timings"] = timings(record["waits"])
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "mqtt_waits.json").write_text(json.dumps(record, indent=2))
    section = results_section(record)
    print(section)
    if not args.no_doc:
        write_section("mqtt_waits:results", section, "bench/mqtt_waits.py")
        say("wrote the figures into docs/performance.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
