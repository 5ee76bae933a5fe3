"""Read the published workflows from the ``mcs`` database, with a local copy for outages.

After every full read the definitions are written to a cache file; when the database cannot be
reached at parse time the cache answers instead, so published DAGs do not vanish from Airflow.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from mcs import settings
from mcs.db.models import Workflow, WorkflowVersion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishedWorkflow:
    key: str
    version: int
    definition: dict[str, Any]


def _query(only_key: str | None) -> list[PublishedWorkflow]:
    # A parse runs in a short-lived process: no pool to keep, and a short connect timeout so an
    # unreachable database falls back to the cache well before Airflow's import timeout.
    engine = create_engine(settings.database_url(), poolclass=NullPool, connect_args={"connect_timeout": 3})
    statement = (
        select(Workflow.key, WorkflowVersion.version, WorkflowVersion.definition)
        .join(
            WorkflowVersion,
            (WorkflowVersion.workflow_id == Workflow.id)
            & (WorkflowVersion.version == Workflow.latest_version),
        )
        .where(Workflow.deleted_at.is_(None))
        .order_by(Workflow.key)
    )
    if only_key is not None:
        statement = statement.where(Workflow.key == only_key)
    try:
        with engine.connect() as connection:
            return [PublishedWorkflow(*row) for row in connection.execute(statement)]
    finally:
        engine.dispose()


def _write_cache(path: Path, workflows: list[PublishedWorkflow]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = [{"key": w.key, "version": w.version, "definition": w.definition} for w in workflows]
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False)
    os.replace(handle.name, path)


def _read_cache(path: Path, only_key: str | None) -> list[PublishedWorkflow]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        log.error("No cached workflow definitions at %s: no MCS DAG can be built", path)
        return []
    except (OSError, ValueError) as exc:
        log.error("The cached workflow definitions at %s cannot be read: %s", path, exc)
        return []
    return [
        PublishedWorkflow(item["key"], item["version"], item["definition"])
        for item in data
        if only_key is None or item["key"] == only_key
    ]


def load_published(only_key: str | None = None) -> list[PublishedWorkflow]:
    """The latest published version of every live workflow (or of ``only_key``)."""
    cache = settings.dag_cache_path()
    try:
        workflows = _query(only_key)
    except SQLAlchemyError as exc:
        log.warning(
            "The mcs database cannot be reached (%s); using the cached definitions in %s",
            str(exc).splitlines()[0],
            cache,
        )
        return _read_cache(cache, only_key)
    if only_key is None:
        try:
            _write_cache(cache, workflows)
        except OSError as exc:
            log.warning("Cannot write the definition cache %s: %s", cache, exc)
    return workflows
