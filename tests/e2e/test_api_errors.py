"""Bad input to the MCS API gets a clear answer naming the field, and loses nothing stored."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.helpers import API, api_client

pytestmark = pytest.mark.e2e

KEY = "e2e_errors"


def valid() -> dict:
    return {
        "key": KEY,
        "name": "错误测试",
        "nodes": [
            {"key": "send", "kind": "mqtt_publish", "config": {"topic": "e2e/errors/cmd", "payload": "go"}},
            {"key": "pause", "kind": "delay", "config": {"seconds": 1}},
        ],
        "edges": [{"source": "send", "target": "pause"}],
    }


@pytest.fixture(scope="module")
def client(stack):
    with api_client(stack.base_url, stack.token()) as client:
        if client.get(f"/workflows/{KEY}").status_code == 404:
            assert client.post("/workflows", json=valid()).status_code == 201
        yield client


def broken(change) -> dict:
    doc = valid()
    change(doc)
    return doc


CASES = {
    "cycle": (lambda d: d["edges"].append({"source": "pause", "target": "send"}), "edges"),
    "dangling edge": (lambda d: d["edges"].append({"source": "pause", "target": "ghost"}), "edges[1].target"),
    "duplicate node key": (
        lambda d: d["nodes"].append({"key": "send", "kind": "delay", "config": {"seconds": 1}}),
        "nodes[2].key",
    ),
    "unknown kind": (lambda d: d["nodes"][1].update(kind="teleport"), "nodes[1].kind"),
    "missing topic": (lambda d: d["nodes"][0]["config"].pop("topic"), "nodes[0].config.topic"),
    "key with space": (lambda d: d.update(key="has space"), "key"),
    "key with slash": (lambda d: d.update(key="a/b"), "key"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_invalid_definition_is_answered_422_naming_the_field(client, case):
    change, path = CASES[case]

    answer = (
        client.put(f"/workflows/{KEY}", json=broken(change))
        if "key with" not in case
        else client.post("/workflows", json=broken(change))
    )

    assert answer.status_code == 422
    assert path in [problem["path"] for problem in answer.json()["detail"]["problems"]]


def test_rejected_update_keeps_the_stored_draft(client):
    client.put(f"/workflows/{KEY}", json=broken(CASES["cycle"][0]))

    assert client.get(f"/workflows/{KEY}").json()["draft"]["edges"] == [
        {"source": "send", "target": "pause", "label": "", "branch": None}
    ]


def test_body_that_is_not_json_is_answered_422(client):
    answer = client.post("/workflows", content=b"{not json", headers={"Content-Type": "application/json"})

    assert answer.status_code == 422
    assert answer.json()["detail"]["problems"][0]["path"] == "body"
    assert answer.json()["detail"]["problems"][0]["message"].startswith("the body is not valid JSON")


def test_unknown_workflow_is_answered_404(client):
    answer = client.get("/workflows/no_such_workflow")

    assert answer.status_code == 404
    assert answer.json()["detail"] == "workflow `no_such_workflow` does not exist"


def test_duplicate_key_is_answered_409(client):
    answer = client.post("/workflows", json=valid())

    assert answer.status_code == 409
    assert answer.json()["detail"] == f"workflow `{KEY}` already exists"


def test_validate_lists_problems_without_storing(client):
    answer = client.post("/workflows/validate", json=broken(CASES["unknown kind"][0]))

    assert answer.status_code == 200
    assert answer.json()["valid"] is False
    assert answer.json()["problems"][0]["path"] == "nodes[1].kind"


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/workflows"),
        ("POST", "/workflows"),
        ("GET", "/runs/1"),
        ("POST", f"/workflows/{KEY}/publish"),
    ],
)
def test_every_route_needs_a_login(stack, method, path):
    answer = httpx.request(method, stack.base_url + API + path, json={})

    assert answer.status_code == 401


def test_start_of_unpublished_workflow_is_answered_409(client):
    answer = client.post(f"/workflows/{KEY}/runs", json={"params": {}})

    assert answer.status_code == 409
    assert "has no published version" in answer.json()["detail"]
