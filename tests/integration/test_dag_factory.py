"""The DAG factory against a real ``mcs`` database: publish, build, survive outages and bad rows."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest
from airflow.sdk.definitions._internal.dag_parsing_context import _airflow_parsing_context_manager
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from mcs.api.services import workflows
from mcs.dag_factory import generate_dags
from mcs.db.migrate import upgrade
from mcs.db.models import Workflow, WorkflowVersion
from mcs.definition import parse_definition
from tests.unit.definitions import demo

SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432"


@pytest.fixture
def mcs_db(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[str]:
    name = f"mcs_test_factory_{uuid.uuid4().hex[:10]}"
    url = f"{SERVER}/{name}"
    upgrade(url)
    monkeypatch.setenv("AIRFLOW__MCS__DATABASE_URL", url)
    monkeypatch.setenv("AIRFLOW__MCS__DAG_CACHE_PATH", str(tmp_path / "definitions.json"))
    yield url
    server = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def publish(url: str, doc: dict) -> None:
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        workflows.create_workflow(session, parse_definition(doc), "tester")
        workflows.publish_workflow(session, doc["key"], "tester")
    engine.dispose()


def workflow_doc(key: str) -> dict:
    doc = demo()
    doc["key"] = key
    return doc


def test_each_published_workflow_becomes_a_dag(mcs_db):
    publish(mcs_db, workflow_doc("first"))
    publish(mcs_db, workflow_doc("second"))
    namespace: dict = {}

    built = generate_dags(namespace)

    assert built == ["first", "second"]
    assert namespace["first"].dag_id == "first"
    assert "v1" in namespace["second"].tags


def test_draft_only_workflow_has_no_dag(mcs_db):
    engine = create_engine(mcs_db)
    with Session(engine) as session, session.begin():
        workflows.create_workflow(session, parse_definition(workflow_doc("draft_only")), "tester")
    engine.dispose()

    assert generate_dags({}) == []


def test_broken_definition_is_logged_and_others_still_load(mcs_db, caplog):
    publish(mcs_db, workflow_doc("good"))
    publish(mcs_db, workflow_doc("bad"))
    engine = create_engine(mcs_db)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE workflow_version SET definition = jsonb_set(definition, '{nodes,0,kind}', '\"warp\"') "
                "WHERE workflow_id = (SELECT id FROM workflow WHERE key = 'bad')"
            )
        )
    engine.dispose()
    caplog.set_level(logging.ERROR, logger="mcs.dag_factory")

    built = generate_dags({})

    assert built == ["good"]
    assert "Workflow `bad` version 1 cannot be built" in caplog.text
    assert "nodes[0].kind" in caplog.text


def test_strict_mode_raises_on_a_broken_definition(mcs_db, monkeypatch):
    publish(mcs_db, workflow_doc("bad"))
    engine = create_engine(mcs_db)
    with Session(engine) as session, session.begin():
        version = session.query(WorkflowVersion).one()
        version.definition = {**version.definition, "edges": [{"source": "send", "target": "ghost"}]}
    engine.dispose()
    monkeypatch.setenv("AIRFLOW__MCS__STRICT_DAG_FACTORY", "True")

    with pytest.raises(Exception, match="dangling edge"):
        generate_dags({})


def test_dags_survive_an_unreachable_database(mcs_db, monkeypatch):
    publish(mcs_db, workflow_doc("kept"))
    assert generate_dags({}) == ["kept"]
    monkeypatch.setenv("AIRFLOW__MCS__DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:1/mcs")
    namespace: dict = {}

    built = generate_dags(namespace)

    assert built == ["kept"]
    assert namespace["kept"].get_task("reply").topic == "devices/+/reply"


def test_worker_parse_builds_only_the_dag_it_runs(mcs_db):
    for key in ("one", "two", "three"):
        publish(mcs_db, workflow_doc(key))

    with _airflow_parsing_context_manager(dag_id="two", task_id="send"):
        built = generate_dags({})

    assert built == ["two"]


def test_deleted_workflow_disappears(mcs_db):
    publish(mcs_db, workflow_doc("gone"))
    engine = create_engine(mcs_db)
    with Session(engine) as session, session.begin():
        session.query(Workflow).filter_by(key="gone").one().deleted_at = text("now()")
    engine.dispose()

    assert generate_dags({}) == []
