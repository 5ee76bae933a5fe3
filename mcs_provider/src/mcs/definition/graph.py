"""The workflow's graph at the level of Airflow tasks: groups expanded into their members.

An edge into a group reaches the group's first nodes, an edge out of it leaves from its last
ones, as in Airflow's task groups. Validation, the DAG builder and the steps' skip decisions all
reason on this one graph.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from mcs.definition.model import WorkflowDefinition


@dataclass
class TaskGraph:
    tasks: list[str]
    # task -> [(child task, branch)], task -> [(parent task, branch)]
    children: dict[str, list[tuple[str, str | None]]] = field(default_factory=lambda: defaultdict(list))
    parents: dict[str, list[tuple[str, str | None]]] = field(default_factory=lambda: defaultdict(list))
    members: dict[str, list[str]] = field(default_factory=dict)  # group -> its tasks, nested too

    def expand(self, key: str) -> list[str]:
        """The tasks a node key stands for: itself, or every task inside a group."""
        return self.members.get(key, [key])

    def descendants(self, key: str) -> set[str]:
        found: set[str] = set()
        stack = list(self.expand(key))
        while stack:
            for child, _ in self.children.get(stack.pop(), []):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return found - set(self.expand(key))

    def topological(self, keys: set[str]) -> list[str]:
        order = {task: index for index, task in enumerate(self.tasks)}
        return sorted(keys, key=order.__getitem__)

    def branch_skips(self, task: str, chosen: set[str | None]) -> set[str]:
        """Tasks that no live path reaches once ``task`` follows only the ``chosen`` branches.

        A task is skipped when every edge into it comes from ``task`` on a branch not chosen, or
        from a task that is itself skipped; a task with one live way in still runs (a join).
        """
        skipped: set[str] = set()
        for candidate in self.topological(self.descendants(task)):
            incoming = self.parents[candidate]
            if incoming and all(
                (parent == task and branch not in chosen) or parent in skipped for parent, branch in incoming
            ):
                skipped.add(candidate)
        return skipped

    def as_children(self) -> dict[str, list[list[str | None]]]:
        """A plain, JSON-able copy of ``children`` for the steps."""
        return {task: [[child, branch] for child, branch in edges] for task, edges in self.children.items()}

    @classmethod
    def from_children(cls, tasks: list[str], children: dict[str, list[list[str | None]]]) -> TaskGraph:
        graph = cls(tasks=tasks)
        for task, edges in children.items():
            for child, branch in edges:
                graph.children[task].append((child, branch))
                graph.parents[child].append((task, branch))
        return graph


def _group_members(definition: WorkflowDefinition) -> dict[str, list[str]]:
    kids: dict[str, list[str]] = defaultdict(list)
    for node in definition.nodes:
        if node.parent:
            kids[node.parent].append(node.key)
    groups = {node.key for node in definition.nodes if node.kind == "group"}

    def tasks_in(group: str, seen: frozenset[str]) -> list[str]:
        found = []
        for key in kids.get(group, []):
            if key in groups and key not in seen:
                found += tasks_in(key, seen | {key})
            elif key not in groups:
                found.append(key)
        return found

    return {group: tasks_in(group, frozenset({group})) for group in groups}


def build_task_graph(definition: WorkflowDefinition) -> TaskGraph:
    """Expand groups; edges between siblings become edges between tasks."""
    members = _group_members(definition)
    tasks = [node.key for node in definition.nodes if node.kind != "group"]
    graph = TaskGraph(tasks=[], members=members)

    expanded_edges = []
    for edge in definition.edges:
        for source in _ends(edge.source, members, definition, last=True):
            for target in _ends(edge.target, members, definition, last=False):
                expanded_edges.append((source, target, edge.branch))
    for source, target, branch in expanded_edges:
        graph.children[source].append((target, branch))
        graph.parents[target].append((source, branch))

    graph.tasks = _topological(tasks, graph)
    return graph


def _ends(key: str, members: dict[str, list[str]], definition: WorkflowDefinition, last: bool) -> list[str]:
    """A node's own key, or a group's first (``last=False``) or last tasks, following nesting."""
    if key not in members:
        return [key]
    inside = {node.key for node in definition.nodes if node.parent == key}
    linked = {
        e.source if last else e.target for e in definition.edges if e.source in inside and e.target in inside
    }
    ends = [k for k in inside if k not in linked]
    found: list[str] = []
    for end in sorted(ends):
        found += _ends(end, members, definition, last)
    return found


def _topological(tasks: list[str], graph: TaskGraph) -> list[str]:
    remaining = {task: len({p for p, _ in graph.parents.get(task, [])}) for task in tasks}
    ready = [task for task in tasks if remaining[task] == 0]
    order: list[str] = []
    while ready:
        task = ready.pop(0)
        order.append(task)
        for child in dict.fromkeys(c for c, _ in graph.children.get(task, [])):
            remaining[child] -= 1
            if remaining[child] == 0:
                ready.append(child)
    return order + [task for task in tasks if task not in order]
