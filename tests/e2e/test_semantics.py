"""Every row of the flow semantics table, run as a DAG on the real Airflow."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.e2e.flows import chain, events, run_workflow, states, step

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(stack):
    with stack.client("/mcs/api/v1") as client:
        yield client


def skip_rule(*targets: str, when: str = "output.payload.go", reason: str = "") -> dict:
    return {"when": when, "action": "skip", "targets": list(targets), "reason": reason}


def test_rule_skips_the_next_node_and_the_flow_continues(stack, client):
    nodes = [step("a", {"go": True}, rules=[skip_rule("b", reason="device is idle")]), step("b"), step("c")]

    run = run_workflow(client, "sem_skip_one", nodes, chain("a", "b", "c"))

    assert run["state"] == "success"
    assert states(run) == {"a": "success", "b": "skipped", "c": "success"}
    recorded = events(stack, run["id"], "skip")
    assert [(e["node_key"], e["message"], e["data"]["targets"]) for e in recorded] == [
        ("a", "device is idle", ["b"])
    ]


def test_rule_that_does_not_hold_skips_nothing(client):
    nodes = [step("a", {"go": False}, rules=[skip_rule("b")]), step("b"), step("c")]

    run = run_workflow(client, "sem_skip_none", nodes, chain("a", "b", "c"))

    assert states(run) == {"a": "success", "b": "success", "c": "success"}


def test_rule_skips_two_nodes_and_the_one_after_runs(client):
    nodes = [step("a", {"go": True}, rules=[skip_rule("b", "c")]), step("b"), step("c"), step("d")]

    run = run_workflow(client, "sem_skip_two", nodes, chain("a", "b", "c", "d"))

    assert run["state"] == "success"
    assert states(run) == {"a": "success", "b": "skipped", "c": "skipped", "d": "success"}


def test_condition_skips_branches_not_chosen_all_the_way_down_and_the_join_runs(client):
    condition = {
        "key": "x",
        "kind": "condition",
        "config": {
            "branches": [{"name": "hot", "when": "params.t > 30"}, {"name": "cold", "when": "params.t <= 30"}]
        },
    }
    nodes = [condition, step("h1"), step("h2"), step("c1"), step("c2"), step("j")]
    edges = [
        {"source": "x", "target": "h1", "branch": "hot"},
        {"source": "x", "target": "c1", "branch": "cold"},
        *chain("h1", "h2", "j"),
        *chain("c1", "c2", "j"),
    ]

    run = run_workflow(client, "sem_condition", nodes, edges, run_params={"t": 35})

    assert run["state"] == "success"
    assert states(run) == {
        "x": "success",
        "h1": "success",
        "h2": "success",
        "c1": "skipped",
        "c2": "skipped",
        "j": "success",
    }


def test_rule_ends_the_run_as_success(stack, client):
    end = {"when": "output.payload.done", "action": "end_success", "reason": "nothing left to do"}
    nodes = [step("a", {"done": True}, rules=[end]), step("b"), step("c")]

    run = run_workflow(client, "sem_end_success", nodes, chain("a", "b", "c"))

    assert run["state"] == "success"
    assert states(run) == {"a": "success", "b": "skipped", "c": "skipped"}
    assert [(e["node_key"], e["message"]) for e in events(stack, run["id"], "end")] == [
        ("a", "nothing left to do")
    ]


def test_rule_ends_the_run_as_failure_and_the_rest_shows_skipped(stack, client):
    end = {"when": "output.payload.alarm", "action": "end_failure", "reason": "pressure alarm"}
    nodes = [step("a", {"alarm": True}, rules=[end]), step("b"), step("c")]

    run = run_workflow(client, "sem_end_failure", nodes, chain("a", "b", "c"))

    assert run["state"] == "failed"
    assert states(run) == {"a": "failed", "b": "skipped", "c": "skipped"}
    assert events(stack, run["id"], "end")[0]["data"]["result"] == "failure"


def test_end_node_finishes_the_run_and_parallel_steps_do_not_start(client):
    end = {"key": "stop_here", "kind": "end", "config": {"result": "success", "reason": "enough"}}
    pause = {"key": "slow", "kind": "delay", "config": {"seconds": 5}}
    nodes = [step("a"), end, pause, step("after_slow")]
    edges = [*chain("a", "stop_here"), *chain("a", "slow", "after_slow")]

    run = run_workflow(client, "sem_end_node", nodes, edges)

    assert run["state"] == "success"
    assert states(run)["after_slow"] == "skipped"


def test_parallel_steps_run_at_the_same_time_and_the_join_waits_for_both(client):
    nodes = [
        step("a"),
        {"key": "b", "kind": "delay", "config": {"seconds": 3}},
        {"key": "c", "kind": "delay", "config": {"seconds": 3}},
        step("d"),
    ]
    edges = [*chain("a", "b", "d"), *chain("a", "c", "d")]

    run = run_workflow(client, "sem_parallel", nodes, edges)

    timing = {node["key"]: node for node in run["nodes"]}
    start = {key: datetime.fromisoformat(timing[key]["started_at"]) for key in "abcd"}
    end = {key: datetime.fromisoformat(timing[key]["ended_at"]) for key in "abcd"}
    assert run["state"] == "success"
    assert start["b"] < end["c"] and start["c"] < end["b"]
    assert start["d"] >= max(end["b"], end["c"])


def test_group_runs_between_the_edges_into_and_out_of_it(client):
    group = {"key": "g", "kind": "group", "name": "分组"}
    nodes = [step("a"), group, step("g1", parent="g"), step("g2", parent="g"), step("b")]
    edges = [*chain("a", "g", "b"), *chain("g1", "g2")]

    run = run_workflow(client, "sem_group", nodes, edges)

    timing = {node["key"]: node for node in run["nodes"] if node["key"] != "g"}
    assert run["state"] == "success"
    assert timing["g1"]["started_at"] >= timing["a"]["ended_at"]
    assert timing["g2"]["started_at"] >= timing["g1"]["ended_at"]
    assert timing["b"]["started_at"] >= timing["g2"]["ended_at"]


def wait_node(on_timeout: str) -> dict:
    return {
        "key": "wait",
        "kind": "mqtt_wait",
        "on_timeout": on_timeout,
        "config": {"topic": "e2e/flows/nobody/answers", "timeout_seconds": 2},
    }


def test_wait_that_times_out_fails_the_run_by_default(client):
    run = run_workflow(
        client, "sem_timeout_fail", [step("a"), wait_node("fail"), step("b")], chain("a", "wait", "b")
    )

    assert run["state"] == "failed"
    assert states(run) == {"a": "success", "wait": "failed", "b": "upstream_failed"}


def test_wait_that_times_out_is_skipped_and_the_flow_continues(client):
    run = run_workflow(
        client, "sem_timeout_skip", [step("a"), wait_node("skip"), step("b")], chain("a", "wait", "b")
    )

    assert run["state"] == "success"
    assert states(run) == {"a": "success", "wait": "skipped", "b": "success"}


def test_wait_that_times_out_follows_its_timeout_edge(client):
    nodes = [step("a"), wait_node("branch"), step("on_reply"), step("on_timeout")]
    edges = [*chain("a", "wait", "on_reply"), {"source": "wait", "target": "on_timeout", "branch": "timeout"}]

    run = run_workflow(client, "sem_timeout_branch", nodes, edges)

    assert run["state"] == "success"
    assert states(run) == {"a": "success", "wait": "success", "on_reply": "skipped", "on_timeout": "success"}
