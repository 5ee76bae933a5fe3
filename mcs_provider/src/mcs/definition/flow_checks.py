"""Checks of how a workflow flows: groups, branches, timeouts, rules and end nodes."""

from __future__ import annotations

from mcs.definition.graph import build_task_graph
from mcs.definition.model import WorkflowDefinition
from mcs.definition.nodes import WAITING_KINDS


def group_problems(definition: WorkflowDefinition, index_of: dict[str, int]) -> list[dict]:
    problems = []
    nodes = definition.nodes
    for index, node in enumerate(nodes):
        if node.parent is None:
            continue
        parent = nodes[index_of[node.parent]] if node.parent in index_of else None
        if parent is None or parent.kind != "group":
            problems.append(
                {
                    "path": f"nodes[{index}].parent",
                    "message": f"`{node.parent}` is not a group node of this workflow",
                }
            )
            continue
        seen, current = {node.key}, parent
        while current is not None and current.parent is not None:
            if current.key in seen:
                problems.append(
                    {"path": f"nodes[{index}].parent", "message": "groups contain each other in a loop"}
                )
                break
            seen.add(current.key)
            current = nodes[index_of[current.parent]] if current.parent in index_of else None
    if problems:
        return problems

    for index, edge in enumerate(definition.edges):
        source, target = nodes[index_of[edge.source]], nodes[index_of[edge.target]]
        if source.parent != target.parent:
            problems.append(
                {
                    "path": f"edges[{index}]",
                    "message": f"edge `{edge.source}` -> `{edge.target}` crosses a group's border; connect "
                    f"to the group `{target.parent or source.parent}` itself, not to a node inside it",
                }
            )
    for index, node in enumerate(nodes):
        if node.kind == "group" and not any(other.parent == node.key for other in nodes):
            problems.append({"path": f"nodes[{index}]", "message": f"group `{node.key}` holds no node"})
    return problems


def _edge_problems(definition: WorkflowDefinition, index_of: dict[str, int]) -> list[dict]:
    problems = []
    nodes = definition.nodes
    for index, edge in enumerate(definition.edges):
        source = nodes[index_of[edge.source]]
        path = f"edges[{index}].branch"
        if source.kind == "end":
            problems.append(
                {"path": f"edges[{index}]", "message": f"end node `{source.key}` cannot have edges out"}
            )
        elif source.kind == "condition":
            names = [branch["name"] for branch in source.config["branches"]]
            default = source.config.get("default", "default")
            allowed = names + ([default] if default else [])
            if edge.branch not in allowed:
                problems.append(
                    {
                        "path": path,
                        "message": f"an edge out of condition `{source.key}` must name one of its "
                        f"branches ({', '.join(allowed)}), found {edge.branch!r}",
                    }
                )
        elif edge.branch == "timeout":
            if source.kind not in WAITING_KINDS or source.on_timeout != "branch":
                problems.append(
                    {
                        "path": path,
                        "message": f"a `timeout` edge needs a waiting node with on_timeout `branch`; "
                        f"`{source.key}` is a {source.kind} with on_timeout `{source.on_timeout}`",
                    }
                )
        elif edge.branch is not None:
            problems.append(
                {
                    "path": path,
                    "message": f"only conditions and waits have branches; `{source.key}` is a {source.kind}",
                }
            )
    return problems


def _node_problems(definition: WorkflowDefinition) -> list[dict]:
    problems = []
    graph = build_task_graph(definition)
    keys = {node.key for node in definition.nodes}
    linked = {edge.source for edge in definition.edges} | {edge.target for edge in definition.edges}
    parent_of = {node.key: node.parent for node in definition.nodes}
    # Scopes (the top level, each group) in which some nodes are connected: a node left out of
    # the edges there was most likely forgotten. A scope with no edge at all runs all in parallel.
    connected_scopes = {parent_of[edge.source] for edge in definition.edges}

    for index, node in enumerate(definition.nodes):
        if node.on_timeout != "fail" and node.kind not in WAITING_KINDS:
            problems.append(
                {"path": f"nodes[{index}].on_timeout", "message": f"a {node.kind} node does not wait"}
            )
        if node.on_timeout == "branch" and not any(
            e.source == node.key and e.branch == "timeout" for e in definition.edges
        ):
            problems.append(
                {"path": f"nodes[{index}].on_timeout", "message": "`branch` needs an edge marked `timeout`"}
            )
        if node.kind == "sub_workflow" and node.config["workflow"] == definition.key:
            problems.append(
                {"path": f"nodes[{index}].config.workflow", "message": "a workflow cannot run itself"}
            )
        if node.parent in connected_scopes and node.key not in linked:
            problems.append(
                {"path": f"nodes[{index}]", "message": f"node `{node.key}` is not connected: unreachable"}
            )

        later = graph.descendants(node.key)
        for number, rule in enumerate(node.rules):
            path = f"nodes[{index}].rules[{number}]"
            if rule.action == "skip" and not rule.targets:
                problems.append({"path": f"{path}.targets", "message": "a skip rule names at least one node"})
            if rule.action != "skip" and rule.targets:
                problems.append({"path": f"{path}.targets", "message": "only skip rules name targets"})
            for target in rule.targets:
                if target not in keys:
                    problems.append({"path": f"{path}.targets", "message": f"no node has the key `{target}`"})
                elif not set(graph.expand(target)) <= later:
                    problems.append(
                        {
                            "path": f"{path}.targets",
                            "message": f"`{target}` does not come after `{node.key}`; "
                            "a rule can only skip later nodes",
                        }
                    )
    return problems


def flow_problems(definition: WorkflowDefinition, index_of: dict[str, int]) -> list[dict]:
    return _edge_problems(definition, index_of) or _node_problems(definition)
