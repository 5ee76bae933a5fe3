"""Validation of a workflow definition: shape, each node's config, then the graph.

Every problem is reported as ``{"path": "nodes[1].config.topic", "message": "..."}`` so the API,
the DAG factory's log and the designer can point at the field that is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from mcs.definition.flow_checks import flow_problems, group_problems
from mcs.definition.model import WorkflowDefinition
from mcs.definition.nodes import NODE_KINDS
from mcs.errors import DefinitionError

MAX_DOCUMENT_BYTES = 1_000_000


def format_loc(loc: Iterable[Any], prefix: str = "") -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(document)"


def pydantic_problems(exc: ValidationError, prefix: str = "") -> list[dict]:
    problems = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is required"
        elif error["type"] == "extra_forbidden":
            message = "is not a known field"
        problem = {"path": format_loc(error["loc"], prefix), "message": message}
        if error["type"] not in ("missing", "extra_forbidden", "value_error"):
            problem["found"] = _short(error.get("input"))
        problems.append(problem)
    return problems


def _short(value: Any) -> Any:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return value if len(text) <= 80 else text[:77] + "..."


def _config_problems(definition: WorkflowDefinition) -> list[dict]:
    problems = []
    for index, node in enumerate(definition.nodes):
        try:
            typed = NODE_KINDS[node.kind].model_validate(node.config)
        except ValidationError as exc:
            problems += pydantic_problems(exc, f"nodes[{index}].config")
            continue
        node.config = typed.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return problems


def _graph_problems(definition: WorkflowDefinition) -> list[dict]:
    problems = []
    index_of: dict[str, int] = {}
    for index, node in enumerate(definition.nodes):
        if node.key in index_of:
            problems.append(
                {
                    "path": f"nodes[{index}].key",
                    "message": f"duplicate node key `{node.key}`, also at nodes[{index_of[node.key]}]",
                }
            )
        else:
            index_of[node.key] = index

    seen_edges: set[tuple[str, str]] = set()
    for index, edge in enumerate(definition.edges):
        for end in ("source", "target"):
            key = getattr(edge, end)
            if key not in index_of:
                problems.append(
                    {
                        "path": f"edges[{index}].{end}",
                        "message": f"no node has the key `{key}` (dangling edge)",
                    }
                )
        if edge.source == edge.target:
            problems.append({"path": f"edges[{index}]", "message": f"node `{edge.source}` links to itself"})
        if (edge.source, edge.target) in seen_edges:
            problems.append(
                {"path": f"edges[{index}]", "message": f"edge `{edge.source}` -> `{edge.target}` is repeated"}
            )
        seen_edges.add((edge.source, edge.target))

    if problems:
        return problems
    problems += group_problems(definition, index_of)
    if problems:
        return problems
    cycle = find_cycle(definition)
    if cycle:
        return [{"path": "edges", "message": "the edges form a cycle: " + " -> ".join(cycle)}]
    return flow_problems(definition, index_of)


def find_cycle(definition: WorkflowDefinition) -> list[str] | None:
    """Return the keys along one cycle (first key repeated at the end), or None."""
    children: dict[str, list[str]] = {node.key: [] for node in definition.nodes}
    for edge in definition.edges:
        children.setdefault(edge.source, []).append(edge.target)

    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in children:
        if state.get(start):
            continue
        path, stack = [start], [iter(children[start])]
        state[start] = 1
        while stack:
            child = next(stack[-1], None)
            if child is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(child) == 1:
                return path[path.index(child) :] + [child]
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append(iter(children.get(child, [])))
    return None


def validate_definition(data: Any) -> tuple[WorkflowDefinition | None, list[dict]]:
    """Check a definition document; return the model (when the shape is right) and the problems."""
    if not isinstance(data, dict):
        return None, [
            {"path": "(document)", "message": f"expected a JSON object, found {type(data).__name__}"}
        ]
    size = len(json.dumps(data, ensure_ascii=False).encode())
    if size > MAX_DOCUMENT_BYTES:
        return None, [
            {
                "path": "(document)",
                "message": f"the definition is {size} bytes, the limit is {MAX_DOCUMENT_BYTES}",
            }
        ]
    try:
        definition = WorkflowDefinition.model_validate(data)
    except ValidationError as exc:
        return None, pydantic_problems(exc)

    problems = _config_problems(definition) + _graph_problems(definition)
    return (definition if not problems else None), problems


def parse_definition(data: Any) -> WorkflowDefinition:
    """Return the validated definition or raise :class:`DefinitionError` naming every problem."""
    definition, problems = validate_definition(data)
    if problems:
        key = data.get("key") if isinstance(data, dict) else None
        raise DefinitionError(str(key or "?"), problems)
    assert definition is not None
    return definition
