"""Load the demo workflow into a running MCS, publish it, run it once and show how it went.

    .venv/bin/python scripts/load_demo.py [--base-url http://127.0.0.1:8080]

It logs in as ``admin`` with the password from ``.run/simple_auth_manager_passwords.json`` (written
by ``scripts/stack.py``), creates or updates ``docs/examples/demo-workflow.json`` through the MCS
API, publishes it, waits for Airflow to have the DAG, starts a run and polls it until it ends.
Exit status 0 when the run succeeded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent


class DemoError(Exception):
    """A call to the API did not answer as expected; the message says which and what came back."""


def _check(response: requests.Response, *expected: int) -> requests.Response:
    if response.status_code not in expected:
        raise DemoError(
            f"{response.request.method} {response.url} answered {response.status_code}, "
            f"expected {' or '.join(map(str, expected))}: {response.text[:500]}"
        )
    return response


def login(base_url: str, username: str, password: str) -> requests.Session:
    response = _check(
        requests.post(
            f"{base_url}/auth/token", json={"username": username, "password": password}, timeout=10
        ),
        200,
        201,
    )
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return session


def save_and_publish(session: requests.Session, api: str, definition: dict) -> str:
    key = definition["key"]
    created = session.post(f"{api}/workflows", json=definition, timeout=30)
    if created.status_code == 409:
        print(f"workflow {key} exists; updating it")
        _check(session.put(f"{api}/workflows/{key}", json=definition, timeout=30), 200)
    else:
        _check(created, 200, 201)
        print(f"workflow {key} created")
    _check(session.post(f"{api}/workflows/{key}/publish", timeout=30), 200, 201)
    print(f"workflow {key} published")
    return key


def _poll(session: requests.Session, url: str) -> requests.Response | None:
    """One GET of a poll; None when it timed out, as on a busy two-core machine: the next poll retries."""
    try:
        return session.get(url, timeout=10)
    except requests.Timeout:
        print(f"  no answer from {url} within 10 s; asking again")
        return None


def wait_for_dag(session: requests.Session, base_url: str, dag_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (answer := _poll(session, f"{base_url}/api/v2/dags/{dag_id}")) is None or answer.status_code != 200:
        if time.monotonic() > deadline:
            raise DemoError(f"Airflow has no DAG `{dag_id}` after {timeout:.0f} s; see the dag-processor log")
        time.sleep(1)
    print(f"Airflow has the DAG {dag_id}")


def _node_states(run: dict) -> str:
    nodes = run.get("nodes") or []
    if isinstance(nodes, dict):
        pairs = [
            (key, value.get("state") if isinstance(value, dict) else value) for key, value in nodes.items()
        ]
    else:
        pairs = [(node.get("key") or node.get("node_key"), node.get("state")) for node in nodes]
    return ", ".join(f"{key}={state}" for key, state in pairs) or "(no nodes yet)"


def run_and_follow(session: requests.Session, api: str, key: str, timeout: float) -> str:
    started = _check(session.post(f"{api}/workflows/{key}/runs", json={"params": {}}, timeout=30), 200, 201)
    body = started.json()
    run_id = body.get("id") or body.get("run_id")
    print(f"run {run_id} started")

    deadline = time.monotonic() + timeout
    last = None
    while True:
        answer = _poll(session, f"{api}/runs/{run_id}")
        if answer is not None:
            run = _check(answer, 200).json()
            line = f"  {run.get('state')}: {_node_states(run)}"
            if line != last:
                print(line, flush=True)
                last = line
            if run.get("state") in ("success", "failed"):
                return run["state"]
        if time.monotonic() > deadline:
            raise DemoError(f"run {run_id} did not end within {timeout:.0f} s")
        time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8080")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password-file", default=str(REPO / ".run" / "simple_auth_manager_passwords.json"))
    parser.add_argument("--definition", default=str(REPO / "docs" / "examples" / "demo-workflow.json"))
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for the DAG and the run")
    args = parser.parse_args(argv)

    base_url = args.base_url.rstrip("/")
    api = f"{base_url}/mcs/api/v1"
    definition = json.loads(Path(args.definition).read_text(encoding="utf-8"))
    password = json.loads(Path(args.password_file).read_text())[args.user]
    try:
        session = login(base_url, args.user, password)
        key = save_and_publish(session, api, definition)
        wait_for_dag(session, base_url, key, args.timeout)
        state = run_and_follow(session, api, key, args.timeout)
    except (DemoError, requests.RequestException) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    print(f"run ended: {state}")
    return 0 if state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
