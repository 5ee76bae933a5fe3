"""What the MCS API asks of Airflow's metadata database: is a DAG loaded, reparse it now."""

from __future__ import annotations

import logging
import time

from airflow.models.dag import DagModel, DagTag
from airflow.models.dagbag import DagPriorityParsingRequest
from airflow.models.dagrun import DagRun
from airflow.utils.session import create_session
from sqlalchemy import func, select

from mcs.dag_factory.builder import dag_id_for

log = logging.getLogger(__name__)

DAG_FILE = "mcs_workflows.py"
DAGS_FOLDER_BUNDLE = "dags-folder"


def request_reparse() -> None:
    """Ask the dag-processor to parse the MCS DAG file now instead of at its next interval."""
    with create_session() as session:
        row = session.execute(
            select(DagModel.bundle_name, DagModel.relative_fileloc)
            .where(DagModel.relative_fileloc.like(f"%{DAG_FILE}"))
            .limit(1)
        ).first()
        bundle, path = (row[0], row[1]) if row else (DAGS_FOLDER_BUNDLE, DAG_FILE)
        session.add(DagPriorityParsingRequest(bundle_name=bundle, relative_fileloc=path))
    log.info("Requested a reparse of %s in bundle %s", path, bundle)


def active_run_count(key: str) -> int:
    """Runs of the workflow's DAG that are queued or running in Airflow now."""
    with create_session() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(DagRun)
                .where(DagRun.dag_id == dag_id_for(key), DagRun.state.in_(("queued", "running")))
            )
            or 0
        )


def loaded_version(key: str) -> int | None:
    """The workflow version Airflow has loaded as a DAG (from its `vN` tag), or None."""
    with create_session() as session:
        dag = session.get(DagModel, dag_id_for(key))
        if dag is None or dag.is_stale:
            return None
        tags = session.scalars(select(DagTag.name).where(DagTag.dag_id == dag.dag_id)).all()
    versions = [int(tag[1:]) for tag in tags if tag.startswith("v") and tag[1:].isdigit()]
    return max(versions) if versions else None


def wait_until_loaded(key: str, version: int, timeout: float) -> bool:
    """Poll until Airflow has loaded ``version`` of the workflow, for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        current = loaded_version(key)
        if current is not None and current >= version:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.25)
