"""Build one Airflow DAG from one validated workflow definition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, Param

from mcs.dag_factory.steps import step_arguments
from mcs.definition.model import ParamSpec, WorkflowDefinition

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
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        params=params,
        max_active_runs=definition.max_active_runs,
        is_paused_upon_creation=False,
        default_args={"owner": definition.owner or "mcs"},
    )

    tasks = {}
    for node in definition.nodes:
        operator_class, arguments = step_arguments(node)
        tasks[node.key] = operator_class(
            task_id=node.key,
            task_display_name=node.name or node.key,
            doc_md=node.description or None,
            retries=node.retries,
            retry_delay=timedelta(seconds=node.retry_delay_seconds),
            execution_timeout=timedelta(seconds=node.timeout_seconds) if node.timeout_seconds else None,
            render_template_as_native_obj=True,
            dag=dag,
            **arguments,
        )
    for edge in definition.edges:
        tasks[edge.source] >> tasks[edge.target]
    return dag
