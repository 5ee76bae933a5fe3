"""How long Airflow takes to parse ``dags/mcs_workflows.py`` with 1,000 published twenty-node workflows.

Run it with the project's virtualenv python (PostgreSQL on 127.0.0.1)::

    .venv/bin/python bench/dag_factory.py                  # 1,000 workflows, 3 parses of each kind
    .venv/bin/python bench/dag_factory.py --workflows 50 --repeats 2 --no-doc   # a quick look

It drops and creates the database ``mcs_bench_factory``, creates and publishes the workflows of
``factory_workflows.py`` through ``mcs.api.services.workflows`` (as the API does), then times, each
in a fresh process (``factory_parse.py``): the dag-processor's full parse of the file (all DAGs
built and serialized), and a worker's parse for one task (only its DAG built), cold and with the
MCS modules already imported. With ``--profile`` (on by default when an aim is missed) it also
writes cProfile's top costs of one full and one single parse. The database is dropped at the end.
Figures go to ``docs/performance.md`` (section ``dag_factory:results``) and
``test-output/bench/dag_factory.json``. It imports ``mcs`` (to publish) and SQLAlchemy; Airflow
is imported only in the parse processes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from factory_report import results_section  # noqa: E402
from factory_workflows import NODES_PER_WORKFLOW, workflow  # noqa: E402
from figures import load_average, machine, now_utc, summary, write_section  # noqa: E402

SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432"
DATABASE = "mcs_bench_factory"
OUTPUT = REPO / "test-output" / "bench"
WORK = OUTPUT / "factory"
DAG_FILE = REPO / "dags" / "mcs_workflows.py"
PARSE = Path(__file__).resolve().parent / "factory_parse.py"
AIMS = {"full_seconds": 5.0, "one_seconds": 0.05}
PARSE_TIMEOUT = 900
# Airflow 3.3.2's defaults: `[core] dagbag_import_timeout` (the file's run) and
# `[dag_processor] dag_file_processor_timeout` (the whole parse, serializing included).
AIRFLOW_TIMEOUTS = {"dagbag_import_timeout": 30.0, "dag_file_processor_timeout": 50.0}


def say(text: str) -> None:
    print(f"[factory] {text} (load {load_average()})", flush=True)


def drop_database() -> None:
    from sqlalchemy import create_engine, text

    server = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    server.dispose()


def publish_all(count: int) -> float:
    """Create and publish ``count`` workflows as the API does; return the seconds it took."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from mcs.api.services import workflows
    from mcs.db.migrate import upgrade
    from mcs.definition import parse_definition

    url = f"{SERVER}/{DATABASE}"
    upgrade(url)
    engine = create_engine(url)
    began = time.monotonic()
    for index in range(count):
        doc = workflow(index)
        with Session(engine) as session, session.begin():
            workflows.create_workflow(session, parse_definition(doc), "bench")
            workflows.publish_workflow(session, doc["key"], "bench")
    engine.dispose()
    return time.monotonic() - began


def parse_env() -> dict[str, str]:
    """The parse processes' environment: this bench's database, an Airflow home of its own."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    home = WORK / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAG_FILE.parent),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        # Raised so that a slow parse is measured instead of cut off; the report compares the times
        # with Airflow's defaults (30 s for the file, 50 s for the dag-processor's whole parse).
        AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT=str(PARSE_TIMEOUT),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__MCS__DATABASE_URL=f"{SERVER}/{DATABASE}",
        AIRFLOW__MCS__DAG_CACHE_PATH=str(WORK / "definitions.json"),
        PYTHONPATH=str(REPO),
    )
    return env


def parse_once(env: dict[str, str], mode: str, *extra: str) -> dict:
    result = subprocess.run(
        [sys.executable, str(PARSE), mode, str(DAG_FILE), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=PARSE_TIMEOUT + 60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the parse process exited with {result.returncode}:\n{result.stderr[-3000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["load"] = load_average()
    return figures


def top_costs(path: Path, lines: int = 25) -> str:
    """cProfile's heaviest functions by own time and by cumulative time, as text."""
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(lines)
    stats.sort_stats("cumulative").print_stats(lines)
    return out.getvalue()


def measure(args: argparse.Namespace) -> dict:
    env = parse_env()
    one = ["--dag-id", workflow(args.workflows // 2)["key"], "--task-id", "wait_status"]
    runs: dict[str, list[dict]] = {"full": [], "one_cold": [], "one_warm": []}
    for repeat in range(args.repeats):
        runs["full"].append(parse_once(env, "full"))
        runs["one_cold"].append(parse_once(env, "one", *one))
        runs["one_warm"].append(parse_once(env, "one", *one, "--warm"))
        say(
            f"repeat {repeat + 1}: full {runs['full'][-1]['total_seconds']:.2f} s, one (cold) "
            f"{runs['one_cold'][-1]['total_seconds']:.3f} s, one (warm) {runs['one_warm'][-1]['total_seconds']:.3f} s"
        )
    for name, found in runs.items():
        errors = [run["import_errors"] for run in found if run["import_errors"]]
        if errors:
            raise RuntimeError(f"the {name} parse reported import errors: {errors[0]}")
    record: dict = {"runs": runs}
    for name, found in runs.items():
        record[name] = {
            key: summary([run[key] for run in found])
            for key in (
                "total_seconds",
                "parse_seconds",
                "serialize_seconds",
                "total_cpu_seconds",
                "parse_cpu_seconds",
                "serialize_cpu_seconds",
                "peak_rss_mib",
                "rss_after_mib",
            )
        }
        record[name]["rss_growth_mib"] = summary(
            [run["rss_after_mib"] - run["rss_before_mib"] for run in found]
        )
        record[name]["dags"], record[name]["tasks"] = found[0]["dags"], found[0]["tasks"]

    missed = (
        record["full"]["total_seconds"]["median"] > AIMS["full_seconds"]
        or record["one_cold"]["total_seconds"]["median"] > AIMS["one_seconds"]
    )
    if args.profile or (missed and not args.no_profile):
        for name, extra in (("full", []), ("one_cold", ["one", *one])):
            path = OUTPUT / f"dag_factory_{name}.prof"
            mode = extra[0] if extra else "full"
            parse_once(env, mode, *extra[1:], "--profile", str(path))
            text = top_costs(path)
            (OUTPUT / f"dag_factory_{name}_profile.txt").write_text(text)
            say(f"profile of the {name} parse in test-output/bench/dag_factory_{name}_profile.txt")
        record["profiled"] = True
    return record


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workflows", type=int, default=1000, help="published workflows (default 1000)")
    parser.add_argument("--repeats", type=int, default=3, help="parses of each kind (default 3)")
    parser.add_argument("--profile", action="store_true", help="profile even if the aims are met")
    parser.add_argument("--no-profile", action="store_true", help="never profile")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/performance.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    when, load_at_start = now_utc(), load_average()
    shutil.rmtree(WORK, ignore_errors=True)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    drop_database()
    try:
        say(f"creating and publishing {args.workflows} workflows of {NODES_PER_WORKFLOW} nodes in {DATABASE}")
        publish_seconds = publish_all(args.workflows)
        say(f"published in {publish_seconds:.0f} s; parsing")
        record = measure(args)
    finally:
        drop_database()
    record.update(
        when=when,
        machine=machine(),
        load_at_start=load_at_start,
        load_at_end=load_average(),
        workflows=args.workflows,
        nodes=NODES_PER_WORKFLOW,
        repeats=args.repeats,
        publish_seconds=publish_seconds,
        aims=AIMS,
        airflow_timeouts=AIRFLOW_TIMEOUTS,
        parse_timeout=PARSE_TIMEOUT,
    )
    (OUTPUT / "dag_factory.json").write_text(json.dumps(record, indent=2))
    section = results_section(record)
    print(section)
    if not args.no_doc:
        write_section("dag_factory:results", section, "bench/dag_factory.py")
        say("wrote the figures into docs/performance.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
