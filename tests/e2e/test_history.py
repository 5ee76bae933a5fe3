"""The history routes: runs of every workflow with filters, and a published version's definition."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import api_client, wait_for_run

pytestmark = pytest.mark.e2e


def short(key: str, seconds: float) -> dict:
    return {
        "key": key,
        "name": "历史 " + key,
        "nodes": [{"key": "pause", "kind": "delay", "config": {"seconds": seconds}}],
    }


@pytest.fixture(scope="module")
def client(stack):
    with api_client(stack.base_url, stack.token()) as client:
        yield client


@pytest.fixture(scope="module")
def finished_runs(client):
    """Two runs of `e2e_hist_a` and one of `e2e_hist_b`, all ended; the runs by workflow key."""
    runs: dict[str, list[dict]] = {"e2e_hist_a": [], "e2e_hist_b": []}
    for key in runs:
        assert client.post("/workflows", json=short(key, 0.5)).status_code == 201
        assert client.post(f"/workflows/{key}/publish").json()["loaded"] is True
    for key in ["e2e_hist_a", "e2e_hist_a", "e2e_hist_b"]:
        started = client.post(f"/workflows/{key}/runs", json={"params": {}})
        assert started.status_code == 201, started.text
        runs[key].append(wait_for_run(client, started.json()["id"], {"success", "failed"}))
    return runs


class TestListAllRuns:
    def test_runs_of_every_workflow_newest_first(self, client, finished_runs):
        answer = client.get("/runs", params={"search": "e2e_hist_"}).json()

        expected = sorted((run["id"] for runs in finished_runs.values() for run in runs), reverse=True)
        assert [run["id"] for run in answer["runs"]] == expected
        assert answer["total_entries"] == 3

    def test_summary_names_workflow_and_duration(self, client, finished_runs):
        run = finished_runs["e2e_hist_b"][0]

        row = client.get("/runs", params={"workflow": "e2e_hist_b"}).json()["runs"][0]

        assert (row["id"], row["workflow_key"], row["workflow_name"]) == (
            run["id"],
            "e2e_hist_b",
            "历史 e2e_hist_b",
        )
        assert (row["state"], row["started_by_kind"], row["started_by"]) == ("success", "api", "admin")
        assert row["duration_seconds"] >= 0.5

    def test_latest_per_workflow_keeps_one_run_each(self, client, finished_runs):
        answer = client.get("/runs", params={"search": "e2e_hist_", "latest_per_workflow": True}).json()

        assert sorted(run["id"] for run in answer["runs"]) == sorted(
            [finished_runs["e2e_hist_a"][-1]["id"], finished_runs["e2e_hist_b"][-1]["id"]]
        )

    def test_filters_by_state_and_starter(self, client, finished_runs):
        failed = client.get("/runs", params={"search": "e2e_hist_", "state": "failed"}).json()
        by_mqtt = client.get("/runs", params={"search": "e2e_hist_", "started_by_kind": "mqtt"}).json()

        assert (failed["total_entries"], by_mqtt["total_entries"]) == (0, 0)

    def test_filters_by_creation_time(self, client, finished_runs):
        first = finished_runs["e2e_hist_a"][0]

        answer = client.get(
            "/runs", params={"search": "e2e_hist_", "created_before": first["created_at"]}
        ).json()

        assert answer["total_entries"] == 0

    def test_pages_with_limit_and_offset(self, client, finished_runs):
        answer = client.get("/runs", params={"search": "e2e_hist_", "limit": 1, "offset": 1}).json()

        assert [run["id"] for run in answer["runs"]] == [finished_runs["e2e_hist_a"][1]["id"]]
        assert answer["total_entries"] == 3

    def test_bad_state_is_422(self, client):
        answer = client.get("/runs", params={"state": "exploded"})

        assert answer.status_code == 422
        assert answer.json()["detail"]["problems"][0]["path"] == "query.state"

    def test_needs_login(self, stack):
        assert client_without_login(stack).get("/runs").status_code == 401


class TestGetVersion:
    def test_published_definition_is_returned(self, client, finished_runs):
        answer = client.get("/workflows/e2e_hist_a/versions/1")

        assert answer.status_code == 200
        body = answer.json()
        assert (body["workflow_key"], body["version"], body["published_by"]) == ("e2e_hist_a", 1, "admin")
        assert [node["key"] for node in body["definition"]["nodes"]] == ["pause"]

    def test_unknown_version_is_404(self, client, finished_runs):
        answer = client.get("/workflows/e2e_hist_a/versions/9")

        assert answer.status_code == 404
        assert answer.json() == {"detail": "workflow `e2e_hist_a` has no version 9"}

    def test_unknown_workflow_is_404(self, client):
        assert client.get("/workflows/e2e_no_such/versions/1").status_code == 404


def client_without_login(stack):
    import httpx

    return httpx.Client(base_url=stack.base_url + "/mcs/api/v1", timeout=30)
