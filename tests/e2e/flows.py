"""Building blocks of the flow semantics tests: small workflows and a way to run them."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import create_engine, text

from tests.e2e.helpers import wait_for_run


def step(key: str, payload: dict | None = None, **node) -> dict:
    """A quick real step: publish ``payload`` to a topic of its own."""
    return {
        "key": key,
        "kind": "mqtt_publish",
        "config": {"topic": f"e2e/flows/{uuid.uuid4().hex[:8]}/{key}", "payload": payload or {"step": key}},
        **node,
    }


def chain(*keys: str) -> list[dict]:
    return [{"source": a, "target": b} for a, b in zip(keys, keys[1:], strict=False)]


def run_workflow(
    client: httpx.Client, key: str, nodes: list[dict], edges: list[dict], run_params=None, **extra
):
    """Create (or replace), publish and run a workflow; return the finished run."""
    definition = {"key": key, "name": key, "nodes": nodes, "edges": edges, **extra}
    if client.post("/workflows", json=definition).status_code == 409:
        assert client.put(f"/workflows/{key}", json=definition).status_code == 200
    published = client.post(f"/workflows/{key}/publish")
    assert published.status_code == 201, published.text
    started = client.post(f"/workflows/{key}/runs", json={"params": run_params or {}})
    assert started.status_code == 201, started.text
    return wait_for_run(client, started.json()["id"], {"success", "failed", "stopped"}, timeout=120)


def states(run: dict) -> dict[str, str | None]:
    return {node["key"]: node["state"] for node in run["nodes"]}


def events(stack, run_id: int, kind: str) -> list[dict]:
    """The run's recorded events of one kind, oldest first."""
    engine = create_engine(stack.env["AIRFLOW__MCS__DATABASE_URL"])
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT node_key, message, data FROM run_event WHERE run_id = :run AND kind = :kind ORDER BY id"
                ),
                {"run": run_id, "kind": kind},
            )
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()
