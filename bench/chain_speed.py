"""How fast a chain of ten short steps runs in MCS and in plain Airflow, and what an idle stack costs.

Run it with the project's virtualenv python (PostgreSQL, Redis and Mosquitto on 127.0.0.1)::

    .venv/bin/python bench/chain_speed.py                     # the stack's PERFORMANCE_SETTINGS
    .venv/bin/python bench/chain_speed.py --airflow-defaults  # Airflow's defaults for the same keys

It starts a stack of its own with ``scripts/stack.py`` (run dir ``test-output/bench/stack``, port
8280, databases ``airflow_bench`` and ``mcs_bench`` dropped first, Redis db 14 for both Celery and
MCS), whose dags folder is ``<run dir>/dags``: copies of ``dags/mcs_workflows.py`` and of
``plain_chain_dag.py``.
It publishes the chain as an MCS workflow, times ``--runs`` runs of each chain, measures the idle
CPU of the stack, stops the stack, and writes the figures into ``docs/performance.md`` (raw
figures in ``test-output/bench/chain_speed-<mode>.json``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

import redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import stack  # noqa: E402
from chain_report import machine, mode_section, settings_section, write_section  # noqa: E402
from chain_runs import MCS_KEY, PLAIN_DAG_ID, BenchError, MessageLog, StackClient, run_once  # noqa: E402
from stack_cpu import CpuMeter, machine_busy, measure_idle  # noqa: E402

OUTPUT = REPO / "test-output" / "bench"
DOC = REPO / "docs" / "performance.md"
SYSTEMS = ("mcs", "plain")
REDIS_MARK = "mcs-bench:run-dir"
MODES = {
    "tuned": "With the stack's `PERFORMANCE_SETTINGS`",
    "airflow-defaults": "With Airflow's defaults (`--airflow-defaults`)",
}

# Airflow's default for each of the keys, read from Airflow's configuration description in a
# process with the bench's environment (importing Airflow here would write an airflow.cfg).
DEFAULTS_PROGRAM = """
import json, sys
from airflow.configuration import conf
keys = json.loads(sys.argv[1])
print(json.dumps({key: conf.get_default_value(*key.lower().split("__")[1:3]) for key in keys}))
"""


def say(text: str) -> None:
    print(f"[bench] {text}", flush=True)


def bench_profile(port: int, redis_dbs: tuple[int, int]) -> stack.Profile:
    return stack.Profile(
        name="bench",
        run_dir=(OUTPUT / "stack").resolve(),
        api_port=port,
        airflow_db="airflow_bench",
        mcs_db="mcs_bench",
        broker_redis_db=redis_dbs[0],
        mcs_redis_db=redis_dbs[1],
        reset_databases=True,
        read_dotenv=False,
    )


def use_environment(profile: stack.Profile) -> Path:
    """Make this process's environment the bench's; return the dags folder it names.

    The stack lays the caller's environment over its defaults, so whatever a shell holds for
    another stack (``eval "$(stack.py env)"``) goes first. The dags folder holds copies, so the
    plain DAG never lands in the repository's ``dags/``.
    """
    for key in [key for key in os.environ if key.startswith("AIRFLOW") or key == stack.MARKER]:
        del os.environ[key]
    dags = profile.run_dir / "dags"
    dags.mkdir(parents=True)
    shutil.copy2(REPO / "dags" / "mcs_workflows.py", dags / "mcs_workflows.py")
    shutil.copy2(Path(__file__).parent / "plain_chain_dag.py", dags / "bench_chain_plain.py")
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
    return dags


def _redis(env: dict[str, str], db: int) -> redis.Redis:
    parts = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    return redis.Redis(host=parts.hostname or "127.0.0.1", port=parts.port or 6379, db=db, socket_timeout=5)


def claim_redis_dbs(profile: stack.Profile, env: dict[str, str]) -> None:
    """Raise if another program uses the bench's Redis dbs: the stack empties them when it starts.

    A db is the bench's when no client is connected to it and it is empty or carries the mark
    that an earlier bench left (``REDIS_MARK``).
    """
    clients = _redis(env, 0).client_list()
    for db in sorted({profile.broker_redis_db, profile.mcs_redis_db}):
        users = [client for client in clients if int(client.get("db", -1)) == db]
        if users:
            raise BenchError(
                f"Redis db {db} is in use by {len(users)} other client(s), e.g. {users[0].get('addr')}; "
                "pick a free db with --redis-dbs"
            )
        connection = _redis(env, db)
        keys, mark = connection.dbsize(), connection.get(REDIS_MARK)
        if keys and (mark or b"").decode() != str(profile.run_dir):
            raise BenchError(
                f"Redis db {db} holds {keys} keys that the bench did not leave; "
                "pick a free db with --redis-dbs"
            )


def mark_redis_dbs(profile: stack.Profile, env: dict[str, str]) -> None:
    for db in sorted({profile.broker_redis_db, profile.mcs_redis_db}):
        _redis(env, db).set(REDIS_MARK, str(profile.run_dir))


def check_redis_marks(profile: stack.Profile, env: dict[str, str]) -> None:
    """Raise if a mark is gone: another program emptied a db while the bench ran."""
    for db in sorted({profile.broker_redis_db, profile.mcs_redis_db}):
        if _redis(env, db).get(REDIS_MARK) is None:
            raise BenchError(f"Redis db {db} was emptied by another program during the bench; run it again")


def airflow_defaults(profile: stack.Profile, keys: list[str]) -> dict[str, str]:
    env = stack.build_env(profile)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-c", DEFAULTS_PROGRAM, json.dumps(keys)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(profile: stack.Profile, env: dict[str, str], args: argparse.Namespace) -> dict:
    client = StackClient(profile.base_url, stack.ADMIN_USER, stack.admin_password(profile))
    broker = urlsplit(env["AIRFLOW_CONN_MCS_MQTT"])
    messages = MessageLog(broker.hostname or "127.0.0.1", broker.port or 1883)
    meter = CpuMeter(profile.pids_dir, (profile.airflow_db, profile.mcs_db))
    try:
        say(f"publishing the MCS workflow `{MCS_KEY}`; waiting for the plain DAG `{PLAIN_DAG_ID}`")
        client.publish_chain_workflow()
        client.wait_for_dag(PLAIN_DAG_ID)

        warmups, runs = [], []
        for index in range(args.warmup + args.runs):
            counted = index >= args.warmup
            if index == args.warmup:
                meter.start()
            for system in SYSTEMS:
                timing = run_once(client, messages, system, index)
                (runs if counted else warmups).append(timing)
                say(
                    f"{'run' if counted else 'warm-up'} {index + 1 - args.warmup * counted} {system:5}: "
                    f"{timing.total:5.2f} s, median gap {timing.median_gap:.3f} s"
                )
                time.sleep(args.pause)
        busy = meter.result()
    finally:
        messages.close()
        client.close()
    say(f"during the runs: stack {busy.stack:.0f} %, whole machine {busy.machine:.0f} % of one core")

    say(f"settling for {args.settle:.0f} s, then measuring idle CPU for {args.idle_seconds:.0f} s")
    time.sleep(args.settle)
    idle = measure_idle(meter, args.idle_seconds)
    parts = ", ".join(f"{name} {value:.1f}" for name, value in idle.components.items())
    say(f"idle: stack {idle.stack:.1f} % of one core ({parts}); whole machine {idle.machine:.0f} %")
    return {"warmups": warmups, "runs": runs, "busy": busy, "idle": idle}


def wait_for_quiet(limit: float, timeout: float) -> None:
    """Wait until the machine has used less than ``limit`` % of one core for 30 s, or ``timeout`` passed."""
    deadline, quiet = time.monotonic() + timeout, 0
    while quiet < 3 and time.monotonic() < deadline:
        busy = machine_busy(10)
        quiet = quiet + 1 if busy < limit else 0
        say(f"machine busy {busy:.0f} % of one core ({'quiet' if busy < limit else 'waiting'})")
    if quiet < 3:
        say(f"the machine did not get quiet within {timeout:.0f} s; measuring anyway")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each chain (default 10)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each chain first (default 1)")
    parser.add_argument(
        "--airflow-defaults",
        action="store_true",
        help="start the stack with Airflow's defaults instead of stack.PERFORMANCE_SETTINGS",
    )
    parser.add_argument(
        "--port", type=int, default=8280, help="api-server port of the bench stack (default 8280)"
    )
    parser.add_argument(
        "--redis-dbs",
        type=int,
        nargs=2,
        default=[14, 14],
        metavar=("BROKER", "MCS"),
        help="Redis dbs of the Celery broker and of MCS, emptied at start (default 14 for both: `make up` "
        "uses 0-1, the e2e instances 2-13, the integration tests 15; their keys do not overlap)",
    )
    parser.add_argument("--idle-seconds", type=float, default=20, help="idle CPU window (default 20)")
    parser.add_argument(
        "--settle", type=float, default=10, help="seconds between the last run and the idle window"
    )
    parser.add_argument("--pause", type=float, default=1, help="seconds between two runs (default 1)")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to this long until the machine is quiet (see --quiet; default 0: do not wait)",
    )
    parser.add_argument(
        "--quiet",
        type=float,
        default=50,
        metavar="PERCENT",
        help="quiet means under this %% of one core busy for 30 s, all programs together (default 50)",
    )
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/performance.md")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")
    return args


def record(profile: stack.Profile, args: argparse.Namespace, facts: dict, result: dict) -> None:
    """Write the raw figures to ``test-output/bench`` and, unless ``--no-doc``, the doc's sections."""
    mode = facts["mode"]
    OUTPUT.mkdir(parents=True, exist_ok=True)
    raw = {
        **facts,
        **{key: [dataclasses.asdict(t) for t in result[key]] for key in ("warmups", "runs")},
        **{key: dataclasses.asdict(result[key]) for key in ("busy", "idle")},
    }
    (OUTPUT / f"chain_speed-{mode}.json").write_text(json.dumps(raw, indent=2, ensure_ascii=False))

    command = "bench/chain_speed.py" + (f" --runs {args.runs}" if args.runs != 10 else "")
    command += " --airflow-defaults" if args.airflow_defaults else ""
    section = mode_section(
        title=MODES[mode],
        command=command,
        when=facts["when"],
        machine_info=facts["machine"],
        airflow_version=facts["airflow"],
        settings=facts["settings"],
        warmups=result["warmups"],
        runs=result["runs"],
        busy=result["busy"],
        idle=result["idle"],
        databases=(profile.airflow_db, profile.mcs_db),
    )
    print(section)
    if not args.no_doc:
        write_section(
            DOC, "settings", settings_section(dict(stack.PERFORMANCE_SETTINGS), facts["airflow_defaults"])
        )
        write_section(DOC, mode, section)
        say(f"wrote the `{mode}` figures into {DOC.relative_to(REPO)}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = "airflow-defaults" if args.airflow_defaults else "tuned"
    profile = bench_profile(args.port, tuple(args.redis_dbs))
    if args.wait_quiet:
        wait_for_quiet(args.quiet, args.wait_quiet)
    began = time.monotonic()

    # What a killed bench left running goes first, then its files.
    stack.stop(profile)
    shutil.rmtree(profile.run_dir, ignore_errors=True)
    use_environment(profile)
    try:
        claim_redis_dbs(profile, stack.build_env(profile))
    except BenchError as exc:
        print(f"[bench] {exc}", file=sys.stderr)
        return 1
    defaults = airflow_defaults(profile, list(stack.PERFORMANCE_SETTINGS))
    settings = defaults if args.airflow_defaults else dict(stack.PERFORMANCE_SETTINGS)
    os.environ.update(settings)
    facts = {
        "mode": mode,
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "airflow": version("apache-airflow"),
        "settings": settings,
        "airflow_defaults": defaults,
    }

    try:
        say(f"starting the bench stack ({mode}) on {profile.base_url}, logs in {profile.logs_dir}")
        env = stack.up(profile, log=say)
        mark_redis_dbs(profile, env)
        result = measure(profile, env, args)
        check_redis_marks(profile, env)
    except (stack.StackError, BenchError) as exc:
        print(f"[bench] failed: {exc}\n[bench] logs: {profile.logs_dir}", file=sys.stderr)
        return 1
    finally:
        left = stack.stop(profile, log=say)
        if left:
            print(f"[bench] still running after the stack was stopped: {left}", file=sys.stderr)

    record(profile, args, facts, result)
    say(f"done in {time.monotonic() - began:.0f} s")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
