"""Validation of workflow definitions: every problem names its path and what was wrong."""

from __future__ import annotations

import pytest

from mcs.definition import parse_definition, validate_definition
from mcs.errors import DefinitionError
from tests.unit.definitions import demo


def problems_of(doc) -> list[dict]:
    definition, problems = validate_definition(doc)
    assert definition is None
    return problems


def paths_of(doc) -> list[str]:
    return [problem["path"] for problem in problems_of(doc)]


def test_demo_definition_is_valid():
    definition = parse_definition(demo())

    assert [node.key for node in definition.nodes] == ["send", "reply", "report"]
    assert definition.nodes[1].config == {
        "topic": "devices/+/reply",
        "condition": "payload.ok",
        "timeout_seconds": 60,
    }


def test_chinese_keys_are_accepted():
    doc = demo()
    doc["key"] = "水泵_巡检"
    doc["nodes"][0]["key"] = "发送"
    doc["edges"][0]["source"] = "发送"

    assert parse_definition(doc).key == "水泵_巡检"


@pytest.mark.parametrize("key", ["has space", "a/b", "", "tab\there"])
def test_workflow_key_with_space_or_slash_is_rejected(key):
    doc = demo()
    doc["key"] = key

    assert paths_of(doc) == ["key"]


def test_node_key_with_slash_is_rejected():
    doc = demo()
    doc["nodes"][2]["key"] = "re/port"

    assert paths_of(doc) == ["nodes[2].key"]


def test_cycle_is_rejected_with_its_path():
    doc = demo()
    doc["edges"].append({"source": "report", "target": "send"})

    problems = problems_of(doc)

    assert problems == [
        {"path": "edges", "message": "the edges form a cycle: send -> reply -> report -> send"}
    ]


def test_dangling_edge_names_the_missing_node():
    doc = demo()
    doc["edges"].append({"source": "report", "target": "ghost"})

    problems = problems_of(doc)

    assert problems == [{"path": "edges[2].target", "message": "no node has the key `ghost` (dangling edge)"}]


def test_duplicate_node_key_is_rejected():
    doc = demo()
    doc["nodes"].append({"key": "send", "kind": "delay", "config": {"seconds": 1}})

    problems = problems_of(doc)

    assert problems == [{"path": "nodes[3].key", "message": "duplicate node key `send`, also at nodes[0]"}]


def test_unknown_node_kind_is_rejected():
    doc = demo()
    doc["nodes"][1]["kind"] = "teleport"

    problems = problems_of(doc)

    assert problems[0]["path"] == "nodes[1].kind"
    assert "unknown node kind 'teleport'" in problems[0]["message"]


def test_missing_topic_is_rejected():
    doc = demo()
    del doc["nodes"][0]["config"]["topic"]

    assert problems_of(doc) == [{"path": "nodes[0].config.topic", "message": "is required"}]


def test_publish_topic_with_wildcard_is_rejected():
    doc = demo()
    doc["nodes"][0]["config"]["topic"] = "devices/+/command"

    assert paths_of(doc) == ["nodes[0].config.topic"]


def test_unknown_config_field_is_rejected():
    doc = demo()
    doc["nodes"][0]["config"]["topik"] = "x"

    assert problems_of(doc) == [{"path": "nodes[0].config.topik", "message": "is not a known field"}]


def test_relative_url_without_connection_is_rejected():
    doc = demo()
    doc["nodes"][2]["config"]["url"] = "/readings"

    assert paths_of(doc) == ["nodes[2].config"]


def test_unsafe_condition_is_rejected():
    doc = demo()
    doc["nodes"][1]["config"]["condition"] = "payload.__class__.__mro__"

    assert paths_of(doc) == ["nodes[1].config.condition"]


def test_qos_out_of_range_reports_what_was_found():
    doc = demo()
    doc["nodes"][0]["config"]["qos"] = 3

    problems = problems_of(doc)

    assert problems[0]["path"] == "nodes[0].config.qos"
    assert problems[0]["found"] == 3


def test_document_that_is_not_an_object_is_rejected():
    assert problems_of([1, 2]) == [{"path": "(document)", "message": "expected a JSON object, found list"}]


def test_oversized_document_is_rejected():
    doc = demo()
    doc["description"] = "x" * 1_100_000

    assert problems_of(doc)[0]["message"].startswith("the definition is ")


def test_parse_definition_raises_with_workflow_and_every_problem():
    doc = demo()
    doc["edges"].append({"source": "report", "target": "ghost"})
    doc["edges"].append({"source": "nobody", "target": "send"})

    with pytest.raises(DefinitionError) as caught:
        parse_definition(doc)

    assert caught.value.workflow == "pump_check"
    assert [p["path"] for p in caught.value.problems] == ["edges[2].target", "edges[3].source"]
