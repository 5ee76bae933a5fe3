"""Validation of how a workflow flows: every invalid definition gets the right error at the right path."""

from __future__ import annotations

import pytest

from mcs.definition import parse_definition, validate_definition
from mcs.definition.graph import build_task_graph


def node(key: str, kind: str = "delay", **extra) -> dict:
    config = {
        "delay": {"seconds": 1},
        "mqtt_wait": {"topic": "t/+", "timeout_seconds": 5},
        "condition": {"branches": [{"name": "yes", "when": "params.x"}]},
        "group": {},
        "end": {"result": "failure"},
        "sub_workflow": {"workflow": "other"},
        "wait_until": {"until": "2030-01-01T00:00:00"},
    }[kind]
    return {"key": key, "kind": kind, "config": extra.pop("config", config), **extra}


def doc(nodes: list[dict], edges: list[tuple], **extra) -> dict:
    return {
        "key": "flow",
        "name": "flow",
        "nodes": nodes,
        "edges": [
            {"source": e[0], "target": e[1], **({"branch": e[2]} if len(e) > 2 else {})} for e in edges
        ],
        **extra,
    }


INVALID = {
    "end node with an edge out": (
        doc([node("a"), node("e", "end"), node("b")], [("a", "e"), ("e", "b")]),
        "edges[1]",
        "end node `e` cannot have edges out",
    ),
    "skip rule naming an earlier node": (
        doc(
            [node("a"), node("b", rules=[{"when": "true", "action": "skip", "targets": ["a"]}])], [("a", "b")]
        ),
        "nodes[1].rules[0].targets",
        "`a` does not come after `b`",
    ),
    "skip rule naming a parallel node": (
        doc(
            [node("a"), node("b", rules=[{"when": "true", "action": "skip", "targets": ["c"]}]), node("c")],
            [("a", "b"), ("a", "c")],
        ),
        "nodes[1].rules[0].targets",
        "`c` does not come after `b`",
    ),
    "skip rule naming nothing": (
        doc([node("a", rules=[{"when": "true", "action": "skip"}]), node("b")], [("a", "b")]),
        "nodes[0].rules[0].targets",
        "a skip rule names at least one node",
    ),
    "skip rule naming an unknown node": (
        doc(
            [node("a", rules=[{"when": "true", "action": "skip", "targets": ["zz"]}]), node("b")],
            [("a", "b")],
        ),
        "nodes[0].rules[0].targets",
        "no node has the key `zz`",
    ),
    "end rule with targets": (
        doc(
            [node("a", rules=[{"when": "true", "action": "end_success", "targets": ["b"]}]), node("b")],
            [("a", "b")],
        ),
        "nodes[0].rules[0].targets",
        "only skip rules name targets",
    ),
    "unsafe rule expression": (
        doc([node("a", rules=[{"when": "output.__class__", "action": "end_success"}])], []),
        "nodes[0].rules[0].when",
        "uses the attribute `__class__`",
    ),
    "rule reading a file": (
        doc([node("a", rules=[{"when": "open('/etc/passwd')", "action": "end_success"}])], []),
        "nodes[0].rules[0].when",
        "uses the name `open`",
    ),
    "edge crossing into a group": (
        doc(
            [node("a"), node("g", "group"), node("g1", parent="g"), node("g2", parent="g")],
            [("a", "g2"), ("g1", "g2")],
        ),
        "edges[0]",
        "crosses a group's border",
    ),
    "parent that is not a group": (
        doc([node("a"), node("b", parent="a")], [("a", "b")]),
        "nodes[1].parent",
        "`a` is not a group node",
    ),
    "empty group": (
        doc([node("a"), node("g", "group")], [("a", "g")]),
        "nodes[1]",
        "group `g` holds no node",
    ),
    "unreachable node": (
        doc([node("a"), node("b"), node("lonely")], [("a", "b")]),
        "nodes[2]",
        "unreachable",
    ),
    "condition edge without a branch": (
        doc([node("x", "condition"), node("a")], [("x", "a")]),
        "edges[0].branch",
        "must name one of its branches (yes, default)",
    ),
    "condition edge with an unknown branch": (
        doc([node("x", "condition"), node("a")], [("x", "a", "maybe")]),
        "edges[0].branch",
        "found 'maybe'",
    ),
    "branch on an edge out of a plain node": (
        doc([node("a"), node("b")], [("a", "b", "yes")]),
        "edges[0].branch",
        "only conditions and waits have branches",
    ),
    "timeout edge from a wait that fails on timeout": (
        doc([node("w", "mqtt_wait"), node("b")], [("w", "b", "timeout")]),
        "edges[0].branch",
        "with on_timeout `fail`",
    ),
    "timeout branch without a timeout edge": (
        doc([node("w", "mqtt_wait", on_timeout="branch"), node("b")], [("w", "b")]),
        "nodes[0].on_timeout",
        "`branch` needs an edge marked `timeout`",
    ),
    "on_timeout on a node that does not wait": (
        doc([node("a", on_timeout="skip")], []),
        "nodes[0].on_timeout",
        "a delay node does not wait",
    ),
    "sub-workflow running itself": (
        doc([node("s", "sub_workflow", config={"workflow": "flow"})], []),
        "nodes[0].config.workflow",
        "a workflow cannot run itself",
    ),
    "bad cron": (
        doc([node("a")], [], schedule={"kind": "cron", "cron": "every day"}),
        "schedule",
        "valid cron",
    ),
    "interval without seconds": (
        doc([node("a")], [], schedule={"kind": "interval"}),
        "schedule",
        "`interval_seconds` is required",
    ),
    "unknown time zone": (
        doc([node("a")], [], schedule={"kind": "cron", "cron": "0 8 * * *", "timezone": "Mars/Olympus"}),
        "schedule.timezone",
        "unknown time zone 'Mars/Olympus'",
    ),
    "reserved node key": (doc([node("mcs_result")], []), "nodes[0].key", "reserved"),
    "condition with no branch": (
        doc([node("x", "condition", config={"branches": []})], []),
        "nodes[0].config.branches",
        "at least 1",
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_flow_is_rejected_at_its_path(case):
    document, path, words = INVALID[case]

    definition, problems = validate_definition(document)

    assert definition is None
    assert path in [problem["path"] for problem in problems], problems
    assert any(words in problem["message"] for problem in problems if problem["path"] == path), problems


def test_group_edges_reach_its_first_and_last_nodes():
    definition = parse_definition(
        doc(
            [node("a"), node("g", "group"), node("g1", parent="g"), node("g2", parent="g"), node("b")],
            [("a", "g"), ("g", "b"), ("g1", "g2")],
        )
    )

    graph = build_task_graph(definition)

    assert graph.tasks == ["a", "g1", "g2", "b"]
    assert graph.children["a"] == [("g1", None)]
    assert graph.children["g2"] == [("b", None)]


def test_branches_not_chosen_are_skipped_down_to_the_join():
    definition = parse_definition(
        doc(
            [
                node(
                    "x",
                    "condition",
                    config={"branches": [{"name": "l", "when": "1"}, {"name": "r", "when": "1"}]},
                ),
                node("l1"),
                node("l2"),
                node("r1"),
                node("j"),
                node("after"),
            ],
            [("x", "l1", "l"), ("x", "r1", "r"), ("l1", "l2"), ("l2", "j"), ("r1", "j"), ("j", "after")],
        )
    )

    skipped = build_task_graph(definition).branch_skips("x", {"r"})

    assert skipped == {"l1", "l2"}
