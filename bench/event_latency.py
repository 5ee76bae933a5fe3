"""How late a browser learns of a state change: Airflow's change to the SSE message arriving.

Run it against a running stack (``make up``, or any stack started by ``scripts/stack.py``)::

    .venv/bin/python bench/event_latency.py                         # the `make up` stack (.run/, :8080)
    .venv/bin/python bench/event_latency.py --run-dir test-output/stack --base-url http://127.0.0.1:8180
    .venv/bin/python bench/event_latency.py --runs 2 --no-doc       # a quick look

It publishes a workflow of ``--steps`` ``mqtt_publish`` nodes in a chain, starts ``--warm-up``
untimed runs and then ``--runs`` timed runs one after the other, and reads each run's
``GET /mcs/api/v1/runs/{id}/events`` stream as a browser does, noting when each message arrives. For every ``node_state`` and ``run_state`` event:

- change to browser: arrival minus ``data.at``, the moment Airflow made the change (the task's
  ``start_date`` for running, its ``end_date`` for the end of a try, the run's dates for runs);
- change to recorded: the event's ``created_at`` minus ``data.at`` (listener or watcher delay);
- recorded to browser: arrival minus ``created_at`` (Redis stream, API server, network).

All clocks are this machine's. It writes the median and p95 into its marked section of
``docs/performance.md`` (raw figures in ``test-output/bench/event_latency.json``). It imports the
standard library and ``httpx``; not Airflow and not ``mcs``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "performance.md"
OUTPUT = REPO / "test-output" / "bench" / "event_latency.json"
BEGIN = "<!-- event_latency begin: written by bench/event_latency.py -->"
END = "<!-- event_latency end -->"
KEY = "bench_event_latency"


def login(base_url: str, run_dir: Path) -> httpx.Client:
    password = json.loads((run_dir / "secrets.json").read_text())["admin_password"]
    answer = httpx.post(
        f"{base_url}/auth/token", json={"username": "admin", "password": password}, timeout=30
    )
    answer.raise_for_status()
    token = answer.json()["access_token"]
    return httpx.Client(
        base_url=base_url + "/mcs/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


def publish_chain(client: httpx.Client, steps: int) -> None:
    nodes = [
        {
            "key": f"s{n}",
            "kind": "mqtt_publish",
            "config": {"topic": f"mcs-bench/events/s{n}", "payload": {"n": n}},
        }
        for n in range(1, steps + 1)
    ]
    edges = [{"source": f"s{n}", "target": f"s{n + 1}"} for n in range(1, steps)]
    definition = {"key": KEY, "name": "事件延迟基准", "nodes": nodes, "edges": edges}
    if client.post("/workflows", json=definition).status_code == 409:
        client.put(f"/workflows/{KEY}", json=definition).raise_for_status()
    published = client.post(f"/workflows/{KEY}/publish")
    if published.status_code not in (200, 201):
        raise SystemExit(f"publishing the bench workflow failed: {published.status_code} {published.text}")


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def one_run(client: httpx.Client) -> list[dict]:
    """Start a run, read its stream until `end`; return one record per state event."""
    started = client.post(f"/workflows/{KEY}/runs", json={"params": {}})
    started.raise_for_status()
    run_id = started.json()["id"]
    records, kind = [], None
    with client.stream("GET", f"/runs/{run_id}/events", timeout=300) as answer:
        answer.raise_for_status()
        for line in answer.iter_lines():
            arrived = time.time()
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind == "end":
                break
            elif line.startswith("data:"):
                event = json.loads(line.split(":", 1)[1])
                if event["kind"] in ("node_state", "run_state") and "at" in event["data"]:
                    at, recorded = _seconds(event["data"]["at"]), _seconds(event["created_at"])
                    records.append(
                        {
                            "run_id": run_id,
                            "kind": event["kind"],
                            "node": event["node_key"],
                            "state": event["state"],
                            "source": event["data"].get("source"),
                            "change_to_browser": arrived - at,
                            "change_to_recorded": recorded - at,
                            "recorded_to_browser": arrived - recorded,
                        }
                    )
            elif not line:
                kind = None
    return records


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summary(records: list[dict]) -> dict:
    out = {}
    for measure in ("change_to_browser", "change_to_recorded", "recorded_to_browser"):
        values = [r[measure] for r in records]
        out[measure] = {
            "median": statistics.median(values),
            "p95": percentile(values, 0.95),
            "n": len(values),
        }
    return out


def load_average() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def section(args: argparse.Namespace, records: list[dict], load_before: str, load_after: str) -> str:
    rows = [
        ("state change to SSE message in the browser", "change_to_browser"),
        ("state change to event recorded", "change_to_recorded"),
        ("event recorded to SSE message in the browser", "recorded_to_browser"),
    ]
    groups = {
        "all state events": records,
        "node events noticed by a listener": [
            r for r in records if r["kind"] == "node_state" and r["source"] == "listener"
        ],
        "node events noticed by the watcher": [
            r for r in records if r["kind"] == "node_state" and r["source"] == "watcher"
        ],
        "run events": [r for r in records if r["kind"] == "run_state"],
    }
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        BEGIN,
        "## Run events: state change to browser",
        "",
        f"Measured {when} with `bench/event_latency.py` on {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}: {args.runs} runs of a chain of {args.steps} `mqtt_publish` nodes "
        f"after {args.warm_up} untimed warm-up run, "
        "one at a time, each run's `GET /mcs/api/v1/runs/{id}/events` read as a browser reads it "
        f"(same machine, same clock). Load average (1/5/15 min) before: {load_before}; after: {load_after}.",
        "",
        '"State change" is `data.at` of the event: when Airflow made the change (a task\'s '
        '`start_date` or `end_date`, a run\'s). "Recorded" is its `created_at`. A listener reports '
        "from the task's own process (running, success, failed) or the scheduler (runs); the "
        "gateway's watcher, polling about once a second, reports what no listener does and whatever "
        "it sees first (a task's `running` is usually seen by the watcher before the task's process "
        "has parsed its DAG and called the listener).",
        "",
        "| events | n | measure | median | p95 |",
        "|---|---:|---|---:|---:|",
    ]
    for name, group in groups.items():
        if not group:
            continue
        figures = summary(group)
        for label, measure in rows:
            figure = figures[measure]
            lines.append(
                f"| {name} | {figure['n']} | {label} | {figure['median'] * 1000:.0f} ms | {figure['p95'] * 1000:.0f} ms |"
            )
    lines += ["", END]
    return "\n".join(lines)


def write_section(text: str) -> None:
    doc = DOC.read_text() if DOC.exists() else "# Performance\n"
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        doc = head + text + tail
    else:
        doc = doc.rstrip("\n") + "\n\n" + text + "\n"
    DOC.write_text(doc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8080")
    parser.add_argument("--run-dir", default=str(REPO / ".run"), help="the stack's run dir (for the login)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warm-up", type=int, default=1, help="untimed runs first (cold worker children)")
    parser.add_argument("--no-doc", action="store_true", help="do not write docs/performance.md")
    args = parser.parse_args(argv)

    client = login(args.base_url, Path(args.run_dir))
    publish_chain(client, args.steps)
    for _ in range(args.warm_up):
        one_run(client)
    load_before = load_average()
    records = []
    for number in range(1, args.runs + 1):
        run_records = one_run(client)
        records += run_records
        print(f"run {number}: {len(run_records)} state events", flush=True)
    load_after = load_average()
    if len(records) < 50:
        print(f"only {len(records)} events; use more --runs or --steps for 50 or more", file=sys.stderr)

    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps({"args": vars(args), "records": records}, indent=1))
    text = section(args, records, load_before, load_after)
    print(text)
    if not args.no_doc:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
