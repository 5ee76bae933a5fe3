"""Build one Airflow DAG from one validated workflow definition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, CronTriggerTimetable, DeltaTriggerTimetable, Param, TaskGroup

from mcs.dag_factory.steps import step_arguments
from mcs.definition.graph import build_task_graph
from mcs.definition.model import ParamSpec, WorkflowDefinition
from mcs.operators.result import RESULT_TASK_ID, RunResultOperator

START_DATE = datetime(2024, 1, 1, tzinfo=UTC)


def dag_id_for(key: str) -> str:
    """The Airflow dag_id of a workflow: its key, unchanged, so both UIs show the same name."""
    return key


def _doc_md(definition: WorkflowDefinition, version: int | None) -> str:
    lines = [f"### {definition.name}", "", definition.description or "", ""]
    if version is not None:
        lines.append(f"MCS workflow `{definition.key}`, published version {version}.")
    return "\n".join(lines)


def _param(spec: ParamSpec) -> Param:
    extra = {"description": spec.description, "title": spec.title}
    return Param(spec.default, type=[spec.type, "null"], **{k: v for k, v in extra.items() if v})


def can_end_as_failure(definition: WorkflowDefinition) -> bool:
    """Whether a rule or an end node may end a run as failure (then a run-result step is added)."""
    return any(
        (node.kind == "end" and node.config.get("result") == "failure")
        or any(rule.action == "end_failure" for rule in node.rules)
        for node in definition.nodes
    )


def _task_groups(definition: WorkflowDefinition, dag: DAG) -> dict[str, TaskGroup]:
    """One Airflow task group per group node, nested as drawn; task ids keep their node keys."""
    nodes = {node.key: node for node in definition.nodes}
    groups: dict[str, TaskGroup] = {}

    def make(key: str) -> TaskGroup:
        if key not in groups:
            node = nodes[key]
            parent = make(node.parent) if node.parent else None
            groups[key] = TaskGroup(
                group_id=key,
                prefix_group_id=False,
                tooltip=node.name or key,
                parent_group=parent,
                dag=dag,
            )
        return groups[key]

    for node in definition.nodes:
        if node.kind == "group":
            make(node.key)
    return groups


def _schedule(definition: WorkflowDefinition) -> Any:
    schedule = definition.schedule
    if schedule.kind == "cron":
        return CronTriggerTimetable(schedule.cron, timezone=schedule.timezone)
    if schedule.kind == "interval":
        return DeltaTriggerTimetable(timedelta(seconds=schedule.interval_seconds or 0))
    if schedule.kind == "continuous":
        return "@continuous"
    return None


def build_dag(definition: WorkflowDefinition, version: int | None = None) -> DAG:
    """Return the DAG of ``definition``; node keys become task ids, edges become dependencies."""
    params = {name: _param(spec) for name, spec in definition.params.items()}
    tags = ["mcs", *definition.tags]
    if version is not None:
        tags.append(f"v{version}")

    dag = DAG(
        dag_id=dag_id_for(definition.key),
        dag_display_name=definition.name,
        description=(definition.description or definition.name)[:1000],
        doc_md=_doc_md(definition, version),
        tags=tags,
        schedule=_schedule(definition),
        start_date=START_DATE,
        catchup=False,
        params=params,
        # Airflow runs a continuous schedule with one active run: the next starts when it ends.
        max_active_runs=1 if definition.schedule.kind == "continuous" else definition.max_active_runs,
        is_paused_upon_creation=False,
        default_args={"owner": definition.owner or "mcs"},
    )

    graph = build_task_graph(definition)
    shared_graph = {"tasks": graph.tasks, "children": graph.as_children()}
    groups = _task_groups(definition, dag)
    built: dict[str, Any] = dict(groups)
    for node in definition.nodes:
        if node.kind == "group":
            continue
        operator_class, arguments = step_arguments(node)
        task = operator_class(
            task_id=node.key,
            task_display_name=node.name or node.key,
            doc_md=node.description or None,
            retries=node.retries,
            retry_delay=timedelta(seconds=node.retry_delay_seconds),
            execution_timeout=timedelta(seconds=node.timeout_seconds) if node.timeout_seconds else None,
            # A node skipped by a rule is passed over: what follows it still runs. Branches not
            # taken are skipped all the way down by the step that chose (see FlowMixin).
            trigger_rule="none_failed",
            render_template_as_native_obj=True,
            task_group=groups.get(node.parent) if node.parent else None,
            dag=dag,
            **arguments,
        )
        task.mcs_rules = [rule.model_dump(mode="json") for rule in node.rules]
        task.mcs_on_timeout = node.on_timeout
        task.mcs_graph = shared_graph
        built[node.key] = task
    for edge in definition.edges:
        built[edge.source] >> built[edge.target]
    if can_end_as_failure(definition):
        result = RunResultOperator(
            task_id=RESULT_TASK_ID, task_display_name="运行结果 (run result)", step_ids=graph.tasks, dag=dag
        )
        # After every step, not only the last ones: the step that ends the run skips the last
        # ones while it is itself still running, and the result must see how it ended.
        [built[task] for task in graph.tasks] >> result
    return dag
