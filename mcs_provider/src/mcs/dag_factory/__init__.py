"""The DAG factory: published workflows in the ``mcs`` database become Airflow DAGs.

Loading (``loader``), validating (``mcs.definition``) and building (``builder``) are separate
steps. A workflow that cannot be built is logged with its key and the path of the bad field; the
others still load. ``[mcs] strict_dag_factory`` turns that log into an error, for CI.
"""

from __future__ import annotations

import logging
from typing import Any

from mcs import settings
from mcs.dag_factory.builder import build_dag, dag_id_for
from mcs.dag_factory.loader import load_published
from mcs.errors import DefinitionError

log = logging.getLogger(__name__)


def _target_key() -> str | None:
    """When a worker parses the file to run one task, the dag_id it needs; otherwise None."""
    from airflow.sdk import get_parsing_context

    return get_parsing_context().dag_id


def generate_dags(namespace: dict[str, Any]) -> list[str]:
    """Put one DAG per published workflow into ``namespace``; return the dag_ids built."""
    from mcs.definition import parse_definition

    strict = settings.get_bool("strict_dag_factory")
    built = []
    for workflow in load_published(_target_key()):
        try:
            definition = parse_definition(workflow.definition)
            dag = build_dag(definition, workflow.version)
        except DefinitionError as exc:
            log.error("Workflow `%s` version %s cannot be built: %s", workflow.key, workflow.version, exc)
            if strict:
                raise
            continue
        except Exception:
            log.exception("Workflow `%s` version %s cannot be built", workflow.key, workflow.version)
            if strict:
                raise
            continue
        namespace[dag_id_for(workflow.key)] = dag
        built.append(dag.dag_id)
    return built
