"""A thousand MQTT waits pending at once in one Airflow triggerer: its memory, and how fast each resumes.

Run it with the project's virtualenv python (PostgreSQL on 127.0.0.1; the bench starts its own
Mosquitto and Redis on free loopback ports)::

    .venv/bin/python bench/mqtt_waits.py                          # 1,000 waits, burst at 20 a second
    .venv/bin/python bench/mqtt_waits.py --waits 40 --no-doc      # a quick look

It starts a stack of its own with ``scripts/stack.py`` (run dir ``test-output/bench/waits/stack``,
port 8480, databases ``airflow_bench_waits`` and ``mcs_bench_waits`` dropped first) and publishes
one workflow whose single node waits on ``bench/waits/{{ params.i }}``. Then:

1. ``--real`` runs (default 16) start and defer the way any run does, on the Celery worker.
2. The DAG is paused, the other runs are started, and ``waits_defer.py`` defers their tasks as
   the worker would have (the same trigger, stored the same way), and the DAG is unpaused. On
   two shared cores a worker needs tens of seconds per task start, so the real path for all of
   them would take hours; the triggerer cannot tell the two kinds of waits apart.
3. Once every task is DEFERRED and every wait is connected to the broker, the triggerer's
   memory is read from ``/proc``.
4. ``--probes`` messages (default 10) are published one at a time, each after the task before it
   succeeded: message to success with an idle worker.
5. The other messages are published at ``--rate`` a second (default 20), and each is timed to
   the moments Airflow records (``waits_report.py``) until all have left DEFERRED, and for at
   most ``--drain-seconds`` more while the worker resumes them.

The stack and the private servers are stopped at the end, also on failure or SIGTERM; figures go
to ``docs/performance.md`` (section ``mqtt_waits:results``) and ``test-output/bench/mqtt_waits.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import stack  # noqa: E402
from figures import load_average, machine, now_utc, write_section  # noqa: E402
from proc_memory import memory_samples  # noqa: E402
from waits_report import results_section, timings  # noqa: E402
from waits_services import PrivateBroker, PrivateRedis, Publisher, ServiceError  # noqa: E402
from waits_stack import (  # noqa: E402
    TASK_ID,
    TOPIC_PREFIX,
    WORKFLOW_KEY,
    AirflowDb,
    BenchError,
    McsClient,
    trigger_fired_times,
    waits_workflow,
)

OUTPUT = REPO / "test-output" / "bench"
RUN_DIR = OUTPUT / "waits"
DEFER = Path(__file__).resolve().parent / "waits_defer.py"
# Settings that decide whether a thousand runs can all reach DEFERRED; read back from the stack.
LIMIT_KEYS = [
    ("core", "parallelism"),
    ("core", "max_active_runs_per_dag"),
    ("core", "max_active_tasks_per_dag"),
    ("triggerer", "capacity"),
    ("triggerer", "max_trigger_to_select_per_loop"),
    ("celery", "worker_concurrency"),
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
        reset_databases=True,
        read_dotenv=False,
    )


def raise_open_files(wanted: int) -> tuple[int, int]:
    """Raise this process's soft open-files limit (the stack inherits it) to ``wanted`` or the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def run_program(env: dict[str, str], *argv: str) -> dict:
    result = subprocess.run(
        [sys.executable, *argv], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        raise BenchError(f"{argv[0]} exited with {result.returncode}:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def wait_for(what: str, check, timeout: float, every: float = 2, fail: bool = True) -> bool:
    """Call ``check`` until it answers (True, progress); False (or raise) at the deadline."""
    deadline, last = time.monotonic() + timeout, ""
    while True:
        done, progress = check()
        if done:
            return True
        if progress != last:
            say(f"{what}: {progress}")
            last = progress
        if time.monotonic() > deadline:
            if fail:
                raise BenchError(f"{what} not reached within {timeout:.0f} s: {progress}")
            return False
        time.sleep(every)


def state_check(db: AirflowDb, wanted, what: str = "wanted"):
    def check():
        states = db.states(WORKFLOW_KEY)
        if states.get("failed") or states.get("upstream_failed"):
            raise BenchError(f"task instances failed: {states}; see the stack's logs")
        return wanted(states), json.dumps(states, sort_keys=True)

    return check


def start_runs(client: McsClient, first: int, last: int) -> list[str]:
    return [client.start_run(WORKFLOW_KEY, {"i": i}) for i in range(first, last)]


def set_up_waits(client, db, env, broker, args, record) -> list[str]:
    """Steps 1 and 2: every wait deferred and connected; return the run ids in order of ``i``."""
    began = time.monotonic()
    run_ids = start_runs(client, 0, args.real)
    wait_for("real path", state_check(db, lambda s: s.get("deferred", 0) == args.real), args.setup_timeout)
    record["real_path_seconds"] = time.monotonic() - began
    say(f"{args.real} waits deferred on the worker in {record['real_path_seconds']:.0f} s")

    client.set_paused(WORKFLOW_KEY, True)
    began = time.monotonic()
    run_ids += start_runs(client, args.real, args.waits)
    record["start_requests_seconds"] = time.monotonic() - began
    say(f"started {args.waits - args.real} more runs in {record['start_requests_seconds']:.0f} s")
    began = time.monotonic()
    record["bench_deferred"] = run_program(env, str(DEFER), WORKFLOW_KEY, TASK_ID, TOPIC_PREFIX)["deferred"]
    record["bench_defer_seconds"] = time.monotonic() - began
    client.set_paused(WORKFLOW_KEY, False)
    wait_for("all deferred", state_check(db, lambda s: s.get("deferred", 0) == args.waits), 600)
    wanted = record["baseline_clients"] + args.waits
    connected = lambda: (broker.connected() >= wanted, f"{broker.connected()} clients, want {wanted}")  # noqa: E731
    wait_for("all waits connected to the broker", connected, 900)
    record["all_subscribed_seconds"] = time.monotonic() - began
    say(f"all {args.waits} waits connected {record['all_subscribed_seconds']:.0f} s after the bench deferred")
    return run_ids


def publish_messages(db, publisher, run_ids, args, record) -> dict[str, float]:
    """Steps 4 and 5: the probes one by one, then the burst; return the publish time of each run."""
    published: dict[str, float] = {}
    for i in range(args.probes):
        published[run_ids[i]] = time.time()
        publisher.publish(f"{TOPIC_PREFIX}/{i}", {"i": i})
        wait_for(f"probe {i}", state_check(db, lambda s, n=i + 1: s.get("success", 0) >= n), 600, every=0.2)
    say(f"{args.probes} probes done")

    record["load_before_burst"] = load_average()
    start = time.monotonic()
    for i in range(args.probes, args.waits):
        pause = start + (i - args.probes) / args.rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        published[run_ids[i]] = time.time()
        publisher.publish(f"{TOPIC_PREFIX}/{i}", {"i": i})
    record["burst_seconds"] = time.monotonic() - start
    record["load_after_burst"] = load_average()
    say(f"published {args.waits - args.probes} messages in {record['burst_seconds']:.1f} s")

    wait_for("none deferred", state_check(db, lambda s: not s.get("deferred")), 600)
    done = lambda s: s.get("success", 0) + s.get("failed", 0) == args.waits  # noqa: E731
    record["drained"] = wait_for("resumed tasks ending", state_check(db, done), args.drain_seconds, 5, False)
    record["drain_end"] = time.time()
    return published


def measure(profile: stack.Profile, env: dict, broker: PrivateBroker, args: argparse.Namespace) -> dict:
    client = McsClient(profile.base_url, stack.ADMIN_USER, stack.admin_password(profile))
    db = AirflowDb(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    publisher = Publisher(broker.port)
    pid = int((profile.pids_dir / "triggerer.pid").read_text().split()[0])
    record: dict = {"limits": run_program(env, "-c", CONFIG_PROGRAM, json.dumps(LIMIT_KEYS))}
    try:
        client.publish_workflow(waits_workflow(args.waits))
        time.sleep(3)
        record["baseline_clients"] = broker.connected()
        record["triggerer_idle"] = memory_samples(pid, args.samples)
        say(f"triggerer with no wait: {record['triggerer_idle']}")
        run_ids = set_up_waits(client, db, env, broker, args, record)
        time.sleep(args.settle)
        record["triggerer_waiting"] = memory_samples(pid, args.samples)
        say(f"triggerer with {args.waits} waits: {record['triggerer_waiting']}")
        published = publish_messages(db, publisher, run_ids, args, record)
        record["triggerer_after"] = memory_samples(pid, 3)
    finally:
        publisher.close()
        db.close()
        client.close()

    record["waits"] = [
        {
            "run_id": run_id,
            "phase": "probe" if i < args.probes else "burst",
            "path": "worker" if i < args.real else "bench",
            "published": published[run_id],
        }
        for i, run_id in enumerate(run_ids)
    ]
    collect(record, profile, env)
    return record


def collect(record: dict, profile: stack.Profile, env: dict) -> None:
    """Add to each wait what Airflow recorded: the task instance's moments, the fired log line.

    It reads only the stack's database and log files, which stay after the stack is stopped, so
    ``--report-only`` can run it again.
    """
    db = AirflowDb(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        rows = db.task_times(WORKFLOW_KEY, TASK_ID)
    finally:
        db.close()
    run_ids = [wait["run_id"] for wait in record["waits"]]
    logs = Path(env["AIRFLOW_HOME"]) / "logs"
    fired, record["fired_from_triggerer_log"] = trigger_fired_times(
        logs, profile.logs_dir / "triggerer.log", WORKFLOW_KEY, TASK_ID, run_ids
    )
    kept = ("run_id", "phase", "path", "published")
    record["waits"] = [
        {
            **{key: wait[key] for key in kept},
            **rows.get(wait["run_id"], {}),
            "fired": fired.get(wait["run_id"]),
        }
        for wait in record["waits"]
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waits", type=int, default=1000, help="waits pending at once (default 1000)")
    parser.add_argument("--real", type=int, default=16, help="waits deferred by the worker (default 16)")
    parser.add_argument("--probes", type=int, default=10, help="messages sent one at a time (default 10)")
    parser.add_argument("--rate", type=float, default=20, help="burst messages a second (default 20)")
    parser.add_argument("--drain-seconds", type=float, default=900, help="most seconds to wait for resumes")
    parser.add_argument("--port", type=int, default=8480, help="api-server port of the bench stack")
    parser.add_argument("--samples", type=int, default=10, help="seconds of memory samples (default 10)")
    parser.add_argument("--settle", type=float, default=20, help="seconds before the memory reading")
    parser.add_argument("--setup-timeout", type=float, default=1800, help="seconds for the real path")
    parser.add_argument("--open-files", type=int, default=65536, help="soft open-files limit for the stack")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/performance.md")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: read the last run's database and logs again and rewrite the figures",
    )
    args = parser.parse_args(argv)
    if not 0 < args.probes <= args.real < args.waits:
        parser.error("need 0 < --probes <= --real < --waits")
    return args


def report(record: dict, no_doc: bool) -> None:
    record["timings"] = timings(record["waits"])
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "mqtt_waits.json").write_text(json.dumps(record, indent=2))
    section = results_section(record)
    print(section)
    if not no_doc:
        write_section("mqtt_waits:results", section, "bench/mqtt_waits.py")
        say("wrote the figures into docs/performance.md")


def report_again(args: argparse.Namespace) -> int:
    """``--report-only``: the figures of the last run, read again from its kept database and logs."""
    record = json.loads((OUTPUT / "mqtt_waits.json").read_text())
    profile = bench_profile(record["args"]["port"])
    for key in [key for key in os.environ if key.startswith("AIRFLOW") or key == stack.MARKER]:
        del os.environ[key]
    collect(record, profile, stack.build_env(profile))
    report(record, args.no_doc)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_only:
        return report_again(args)
    # SIGTERM (a timeout, `kill`) ends the bench through its `finally`, which stops what it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    profile = bench_profile(args.port)
    stack.stop(profile)
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    soft, hard = raise_open_files(args.open_files)
    for key in [key for key in os.environ if key.startswith("AIRFLOW") or key == stack.MARKER]:
        del os.environ[key]

    broker, redis = PrivateBroker(RUN_DIR / "broker"), PrivateRedis()
    when, load_at_start, began = now_utc(), load_average(), time.monotonic()
    try:
        broker.start()
        redis.start()
        os.environ.update(
            AIRFLOW_CONN_MCS_MQTT=f"mqtt://127.0.0.1:{broker.port}",
            AIRFLOW__CELERY__BROKER_URL=redis.url(0),
            AIRFLOW__MCS__REDIS_URL=redis.url(1),
        )
        say(
            f"stack on {profile.base_url}, broker :{broker.port}, redis :{redis.port}, open files {soft}/{hard}"
        )
        env = stack.up(profile, log=say)
        record = measure(profile, env, broker, args)
    except (stack.StackError, BenchError, ServiceError) as exc:
        print(f"[waits] failed: {exc}\n[waits] logs: {profile.logs_dir}", file=sys.stderr)
        return 1
    finally:
        left = stack.stop(profile, log=say)
        broker.stop()
        redis.stop()
        if left:
            print(f"[waits] still running after the stack was stopped: {left}", file=sys.stderr)

    record.update(
        when=when,
        machine=machine(),
        load_at_start=load_at_start,
        load_at_end=load_average(),
        open_files_limit=[soft, hard],
        args=vars(args),
        total_seconds=time.monotonic() - began,
    )
    report(record, args.no_doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
