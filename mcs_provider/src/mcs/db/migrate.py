"""Create the ``mcs`` database if it is missing and bring its tables up to date with Alembic.

``mcs db upgrade`` calls :func:`upgrade`. The Alembic configuration is built here in code, pointing
at the ``migrations`` folder next to this module, so it works from an installed wheel and from any
working directory without an ``alembic.ini``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from mcs import settings
from mcs.db.models import Base
from mcs.errors import ServiceUnavailableError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "mcs_alembic_version"
MAINTENANCE_DATABASE = "postgres"
CONNECT_TIMEOUT_SECONDS = 10


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Create the database named in ``url`` if it does not exist, then migrate it to ``revision``.

    :param url: SQLAlchemy URL of the ``mcs`` database; ``[mcs] database_url`` when not given.
    :param revision: Alembic revision to upgrade to.
    :raises ServiceUnavailableError: when the PostgreSQL server cannot be reached.
    """
    db_url = make_url(url or settings.database_url())
    create_database_if_missing(db_url)

    engine = _engine(db_url)
    try:
        with _connect(engine, db_url) as connection:
            config = make_config(connection)
            command.upgrade(config, revision)
    finally:
        engine.dispose()
    log.info("Database %s is at revision %s", db_url.database, revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    """Migrate the database down to ``revision`` (``base`` removes every MCS table).

    :param url: SQLAlchemy URL of the ``mcs`` database; ``[mcs] database_url`` when not given.
    :param revision: Alembic revision to downgrade to.
    """
    db_url = make_url(url or settings.database_url())
    engine = _engine(db_url)
    try:
        with _connect(engine, db_url) as connection:
            command.downgrade(make_config(connection), revision)
    finally:
        engine.dispose()


def current(url: str | None = None) -> str | None:
    """Return the revision the database is at, or None when it has never been migrated.

    :param url: SQLAlchemy URL of the ``mcs`` database; ``[mcs] database_url`` when not given.
    """
    db_url = make_url(url or settings.database_url())
    engine = _engine(db_url)
    try:
        with _connect(engine, db_url) as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()
    finally:
        engine.dispose()


def make_config(connection: Connection | None = None) -> Config:
    """Build the Alembic configuration of the ``mcs`` migrations.

    ``migrations/env.py`` uses ``connection`` when one is given, otherwise it connects to
    ``[mcs] database_url``. Developers writing a new migration can pass this to
    ``alembic.command.revision``.

    :param connection: an open connection to the ``mcs`` database.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic ``include_object`` hook: look only at MCS tables when comparing with the database.

    A table found in the database but not in the models belongs to someone else (Airflow's, if a
    deployment ever shares one database): autogenerate must not propose to drop it.
    """
    if type_ == "table" and reflected and compare_to is None:
        return name in Base.metadata.tables
    return True


def create_database_if_missing(url: URL) -> bool:
    """Create the database named in ``url`` (UTF8) unless it exists; return True if it was created.

    :param url: SQLAlchemy URL of the database to create; its server must accept connections to
        the ``postgres`` maintenance database.
    """
    name = url.database
    if not name:
        raise ValueError("the database URL names no database")

    engine = _engine(url.set(database=MAINTENANCE_DATABASE), isolation_level="AUTOCOMMIT")
    try:
        with _connect(engine, url) as connection:
            if _database_exists(connection, name):
                return False

            quoted = engine.dialect.identifier_preparer.quote_identifier(name)
            # template0, because template1 may carry another encoding than the UTF8 asked for.
            statement = f"CREATE DATABASE {quoted} ENCODING 'UTF8' TEMPLATE template0"
            try:
                connection.exec_driver_sql(statement)
            except DBAPIError:
                # Another `mcs db upgrade` may have created it a moment ago (PostgreSQL then
                # reports either "already exists" or a unique violation on pg_database).
                if _database_exists(connection, name):
                    return False
                raise
            log.info("Created database %s", name)
            return True
    finally:
        engine.dispose()


def _database_exists(connection: Connection, name: str) -> bool:
    found = connection.execute(text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": name})
    return found.scalar_one() > 0


def _engine(url: URL, **kwargs: object) -> Engine:
    connect_args = {}
    if url.get_driver_name() in {"psycopg2", "psycopg"}:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    # One short-lived connection per step: nothing to pool.
    return create_engine(url, poolclass=NullPool, connect_args=connect_args, **kwargs)


def _connect(engine: Engine, url: URL) -> Connection:
    """Open a connection, turning a server that cannot be reached into ServiceUnavailableError."""
    try:
        return engine.connect()
    except OperationalError as exc:
        raise ServiceUnavailableError(
            f"PostgreSQL at {server_address(url)} cannot be reached: {_reason(exc, url)}"
        ) from exc


def server_address(url: URL) -> str:
    """``host:port`` of the server in ``url``, as a person would type it (never the password)."""
    host = url.host or "localhost"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{url.port or 5432}"


def _reason(exc: OperationalError, url: URL) -> str:
    # libpq spreads one failure over several lines (the error, then a hint); keep them on one.
    reason = " ".join(line.strip() for line in str(exc.orig or exc).splitlines() if line.strip())
    if url.password:
        reason = reason.replace(str(url.password), "***")
    return reason or "no reason given"
