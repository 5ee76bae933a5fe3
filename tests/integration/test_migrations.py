"""The Alembic migrations of the ``mcs`` database, run against a real PostgreSQL on loopback.

Each test gets its own throwaway database ``mcs_test_migrate_<random>``, dropped afterwards. The
server is ``MCS_TEST_POSTGRES_URL`` (any database on it; default the local ``postgres``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from mcs import cli
from mcs.db import migrate
from mcs.db.models import Base, Workflow, WorkflowRun
from mcs.errors import ServiceUnavailableError

SERVER_URL = make_url(
    os.environ.get("MCS_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
)
MCS_TABLES = {
    "workflow",
    "workflow_version",
    "task_node",
    "task_edge",
    "trigger_binding",
    "workflow_run",
    "run_event",
    "device_message",
    "control_command",
}
HEAD = "0002"


def _server_engine() -> Engine:
    return create_engine(SERVER_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")


def _database_exists(name: str) -> bool:
    engine = _server_engine()
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": name}
            )
            return found.scalar_one() == 1
    finally:
        engine.dispose()


def _drop_database(name: str) -> None:
    engine = _server_engine()
    try:
        with engine.connect() as connection:
            quoted = engine.dialect.identifier_preparer.quote_identifier(name)
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    finally:
        engine.dispose()


def _throwaway(name: str) -> Iterator[str]:
    url = SERVER_URL.set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        _drop_database(name)


@pytest.fixture
def database_url() -> Iterator[str]:
    """URL of a database that does not exist yet; dropped after the test."""
    yield from _throwaway(f"mcs_test_migrate_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def migrated(database_url: str) -> Iterator[Engine]:
    """An engine on a throwaway database migrated to head."""
    migrate.upgrade(database_url)
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def _workflow(key: str, name: str = "", deleted_at: datetime | None = None) -> Workflow:
    return Workflow(key=key, name=name or key, draft={"nodes": [], "edges": []}, deleted_at=deleted_at)


def test_upgrade_creates_missing_database_with_all_tables(database_url: str) -> None:
    name = make_url(database_url).database
    assert not _database_exists(name)

    migrate.upgrade(database_url)

    assert _database_exists(name)
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        assert set(inspect(engine).get_table_names()) == MCS_TABLES | {"mcs_alembic_version"}
        with engine.connect() as connection:
            encoding = connection.execute(text("SHOW server_encoding")).scalar_one()
        assert encoding == "UTF8"
    finally:
        engine.dispose()
    assert migrate.current(database_url) == HEAD


def test_upgrade_keeps_its_revisions_apart_from_airflows(migrated: Engine) -> None:
    with migrated.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM mcs_alembic_version")).scalars().all()

    assert versions == [HEAD]
    assert "alembic_version" not in inspect(migrated).get_table_names()


def test_upgrade_twice_is_a_no_op(database_url: str, migrated: Engine) -> None:
    with Session(migrated) as session:
        session.add(_workflow("kept"))
        session.commit()

    migrate.upgrade(database_url)

    assert migrate.current(database_url) == HEAD
    with Session(migrated) as session:
        assert session.scalars(select(Workflow.key)).all() == ["kept"]


def test_migrated_schema_matches_models(migrated: Engine) -> None:
    with migrated.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "version_table": migrate.VERSION_TABLE,
                "include_object": migrate.include_object,
                "compare_type": True,
                "compare_server_default": True,
            },
        )
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def _predicate(sql: str | None) -> str:
    return re.sub(r"[()\s]", "", sql or "").lower()


def test_partial_index_predicates_match_models(migrated: Engine) -> None:
    # Autogenerate does not compare an index's WHERE clause, so this test does.
    inspector = inspect(migrated)
    for table in Base.metadata.sorted_tables:
        expected = {
            index.name: _predicate(str(index.dialect_options["postgresql"]["where"]))
            for index in table.indexes
            if index.dialect_options["postgresql"]["where"] is not None
        }
        found = {
            index["name"]: _predicate(index.get("dialect_options", {}).get("postgresql_where"))
            for index in inspector.get_indexes(table.name)
            if index["name"] in expected
        }
        assert found == expected, table.name


def test_downgrade_to_base_removes_every_table(database_url: str, migrated: Engine) -> None:
    migrate.downgrade(database_url, "base")

    assert set(inspect(migrated).get_table_names()) == {"mcs_alembic_version"}
    assert migrate.current(database_url) is None


def test_downgrade_then_upgrade_restores_the_tables(database_url: str, migrated: Engine) -> None:
    migrate.downgrade(database_url, "base")
    migrate.upgrade(database_url)

    assert set(inspect(migrated).get_table_names()) == MCS_TABLES | {"mcs_alembic_version"}


def test_chinese_key_and_name_round_trip(migrated: Engine) -> None:
    with Session(migrated) as session:
        session.add(_workflow("温度巡检", "仓库温度巡检（每小时）"))
        session.commit()

    with Session(migrated) as session:
        stored = session.scalars(select(Workflow).where(Workflow.key == "温度巡检")).one()
        assert (stored.key, stored.name) == ("温度巡检", "仓库温度巡检（每小时）")


def test_deleted_workflow_key_can_be_reused(migrated: Engine) -> None:
    with Session(migrated) as session:
        session.add(_workflow("泵站", deleted_at=datetime(2026, 1, 1, tzinfo=UTC)))
        session.commit()
        session.add(_workflow("泵站"))
        session.commit()

        count = session.scalar(select(func.count()).select_from(Workflow).where(Workflow.key == "泵站"))
    assert count == 2


def test_two_live_workflows_with_same_key_are_rejected(migrated: Engine) -> None:
    with Session(migrated) as session:
        session.add(_workflow("泵站"))
        session.commit()
        session.add(_workflow("泵站"))

        with pytest.raises(IntegrityError, match="uq_workflow_key_live"):
            session.commit()


def _run(workflow_id: int, dag_run_id: str, command_id: str | None) -> WorkflowRun:
    return WorkflowRun(
        workflow_id=workflow_id,
        version=1,
        dag_id="mcs__pump",
        dag_run_id=dag_run_id,
        started_by_kind="mqtt",
        command_id=command_id,
    )


def test_same_command_id_twice_is_rejected(migrated: Engine) -> None:
    with Session(migrated) as session:
        workflow = _workflow("pump")
        session.add(workflow)
        session.flush()
        session.add(_run(workflow.id, "run-1", "cmd-42"))
        session.commit()
        session.add(_run(workflow.id, "run-2", "cmd-42"))

        with pytest.raises(IntegrityError, match="uq_workflow_run_command"):
            session.commit()


def test_runs_without_command_id_do_not_clash(migrated: Engine) -> None:
    with Session(migrated) as session:
        workflow = _workflow("pump")
        session.add(workflow)
        session.flush()
        session.add_all([_run(workflow.id, "run-1", None), _run(workflow.id, "run-2", None)])
        session.commit()

        count = session.scalar(select(func.count()).select_from(WorkflowRun))
    assert count == 2


def test_database_name_needing_quotes_is_created() -> None:
    name = f'mcs test "迁移" {uuid.uuid4().hex[:8]}'
    for url in _throwaway(name):
        migrate.upgrade(url)

        assert _database_exists(name)
        assert migrate.current(url) == HEAD


def _unreachable(password: str | None = None) -> URL:
    return URL.create("postgresql+psycopg2", username="postgres", password=password, host="127.0.0.1", port=1)


def test_unreachable_server_raises_service_unavailable_naming_host_and_port() -> None:
    url = _unreachable().set(database="mcs")

    with pytest.raises(ServiceUnavailableError, match=r"^PostgreSQL at 127\.0\.0\.1:1 cannot be reached: "):
        migrate.upgrade(url.render_as_string(hide_password=False))


def test_unreachable_server_message_leaves_out_the_password() -> None:
    url = _unreachable(password="s3cret-pw").set(database="mcs")

    with pytest.raises(ServiceUnavailableError) as raised:
        migrate.upgrade(url.render_as_string(hide_password=False))

    assert "s3cret-pw" not in str(raised.value)


def test_cli_db_upgrade_reports_unreachable_server_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _unreachable().set(database="mcs").render_as_string(hide_password=False)
    monkeypatch.setenv("AIRFLOW__MCS__DATABASE_URL", url)

    code = cli.main(["db", "upgrade"])

    assert code == 1
    assert "PostgreSQL at 127.0.0.1:1 cannot be reached" in capsys.readouterr().err


def test_two_upgrades_at_once_both_succeed(database_url: str) -> None:
    # Separate processes, as in a real deployment: Alembic's `context` is one per process.
    script = "import sys; from mcs.db.migrate import upgrade; upgrade(sys.argv[1])"
    processes = [
        subprocess.Popen([sys.executable, "-c", script, database_url], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    errors = [process.communicate(timeout=120)[1] for process in processes]

    assert [process.returncode for process in processes] == [0, 0], errors
    assert migrate.current(database_url) == HEAD
