"""Alembic environment of the ``mcs`` database.

Run through :mod:`mcs.db.migrate` (``mcs db upgrade``), which hands over an open connection in
``config.attributes["connection"]``. Without one, it connects to ``[mcs] database_url``.
Revisions are recorded in ``mcs_alembic_version`` so they never mix with Airflow's own
``alembic_version``, even if both ever share a database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from mcs import settings
from mcs.db.migrate import VERSION_TABLE, include_object
from mcs.db.models import Base

# Any fixed number will do, as long as every MCS process uses the same one: it makes two
# `mcs db upgrade` started at the same moment run one after the other.
MIGRATION_LOCK_KEY = 0x6D63_7300

config = context.config
target_metadata = Base.metadata


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        include_object=include_object,
        compare_type=True,
        compare_server_default=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=settings.database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return

    engine = create_engine(settings.database_url(), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            _run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
