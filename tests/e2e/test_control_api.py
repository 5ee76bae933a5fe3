"""The control routes of the MCS API: stop a workflow (and its loop), enable and disable it."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.control_helpers import create_and_publish
from tests.e2e.helpers import api_client, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(stack):
    with api_client(stack.base_url, stack.token()) as client:
        yield client


@pytest.fixture(scope="module")
def airflow(stack):
    with httpx.Client(
        base_url=stack.base_url + "/api/v2", headers={"Authorization": f"Bearer {stack.token()}"}, timeout=60
    ) as client:
        yield client


def airflow_runs(airflow, key: str, *states: str) -> list[dict]:
    params = [("state", state) for state in states]
    return airflow.get(f"/dags/{key}/dagRuns", params=params).json()["dag_runs"]


def test_stop_ends_the_current_run_of_a_loop_and_the_loop(client, airflow):
    key = "e2e_loop_stop"
    create_and_publish(
        client,
        {
            "key": key,
            "name": "循环",
            "schedule": {"kind": "continuous"},
            "nodes": [{"key": "pause", "kind": "delay", "config": {"seconds": 30}}],
        },
    )
    wait_for(lambda: airflow_runs(airflow, key, "running"), 90, "the loop's first run")

    stopped = client.post(f"/workflows/{key}/stop", json={"reason": "停止循环"})
    time.sleep(3)

    assert stopped.status_code == 200, stopped.text
    answer = stopped.json()
    assert answer["loop_stopped"] is True and len(answer["stopped_dag_runs"]) == 1
    assert airflow_runs(airflow, key, "queued", "running") == []
    assert [run["state"] for run in airflow_runs(airflow, key)] == ["failed"]
    assert airflow.get(f"/dags/{key}").json()["is_paused"] is True
    assert client.get(f"/workflows/{key}").json()["enabled"] is False


def test_stop_of_a_workflow_without_runs_stops_nothing(client):
    key = "e2e_stop_idle"
    create_and_publish(
        client,
        {"key": key, "name": "空闲", "nodes": [{"key": "p", "kind": "delay", "config": {"seconds": 1}}]},
    )

    answer = client.post(f"/workflows/{key}/stop")

    assert answer.status_code == 200
    assert answer.json() == {
        "workflow_key": key,
        "stopped_runs": [],
        "stopped_dag_runs": [],
        "loop_stopped": False,
    }
    assert client.get(f"/workflows/{key}").json()["enabled"] is True


def test_disable_refuses_new_runs_and_enable_allows_them_again(client, airflow):
    key = "e2e_disable_api"
    create_and_publish(
        client,
        {"key": key, "name": "停用", "nodes": [{"key": "p", "kind": "delay", "config": {"seconds": 1}}]},
    )

    disabled = client.post(f"/workflows/{key}/disable", json={"reason": "maintenance"})
    refused = client.post(f"/workflows/{key}/runs", json={"params": {}})
    paused = airflow.get(f"/dags/{key}").json()["is_paused"]
    enabled = client.post(f"/workflows/{key}/enable")
    started = client.post(f"/workflows/{key}/runs", json={"params": {}})

    assert (disabled.status_code, disabled.json()) == (200, {"workflow_key": key, "enabled": False})
    assert (refused.status_code, refused.json()["detail"]) == (
        409,
        f"workflow `{key}` is disabled; enable it before starting a run",
    )
    assert paused is True
    assert (enabled.status_code, enabled.json()) == (200, {"workflow_key": key, "enabled": True})
    assert started.status_code == 201
    assert airflow.get(f"/dags/{key}").json()["is_paused"] is False


@pytest.mark.parametrize("action", ["stop", "enable", "disable"])
def test_control_of_unknown_workflow_is_answered_404(client, action):
    answer = client.post(f"/workflows/e2e_no_such_workflow/{action}")

    assert (answer.status_code, answer.json()["detail"]) == (
        404,
        "workflow `e2e_no_such_workflow` does not exist",
    )


@pytest.mark.parametrize("action", ["stop", "enable", "disable"])
def test_control_without_login_is_answered_401(stack, action):
    answer = httpx.post(f"{stack.base_url}/mcs/api/v1/workflows/e2e_loop_stop/{action}", timeout=30)

    assert answer.status_code == 401
