"""The services a stack needs and does not start: PostgreSQL, Redis and the MQTT broker.

``check_services`` tries a connection to each address the environment names (``SERVICE_SETTINGS``)
and, for each one that is down, says which setting holds it and how to start the service
(``START_COMMANDS``). ``ensure_databases`` creates the Airflow and MCS databases; ``flush_redis``
empties the profile's Redis dbs.

It imports the standard library, ``stack_env``, and ``psycopg2`` and ``redis`` where they are used.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

from stack_env import StackError

START_COMMANDS = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | head -n1) main start",
    "Redis": (
        'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
        "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
    ),
    "MQTT broker": "mosquitto -d -c /etc/mosquitto/mosquitto.conf",
}

# Each service, the settings that hold its address, and its port when a URL names none.
SERVICE_SETTINGS: dict[str, tuple[tuple[str, ...], int]] = {
    "PostgreSQL": (("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__MCS__DATABASE_URL"), 5432),
    "Redis": (("AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__MCS__REDIS_URL"), 6379),
    "MQTT broker": (("AIRFLOW_CONN_MCS_MQTT",), 1883),
}


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def check_services(env: Mapping[str, str]) -> None:
    """Raise naming each of PostgreSQL, Redis and the MQTT broker that does not accept connections.

    Every address is tried once; the message names the settings that hold an unreachable one,
    since an address set in ``.env`` may point where nothing runs.
    """
    down = []
    for name, (keys, default_port) in SERVICE_SETTINGS.items():
        addresses: dict[tuple[str, int], list[str]] = {}
        for key in keys:
            addresses.setdefault(_host_port(env[key], default_port), []).append(key)

        for (host, port), named_by in addresses.items():
            try:
                socket.create_connection((host, port), timeout=2).close()
            except OSError as exc:
                down.append(
                    f"{name} is not reachable at {host}:{port}, the address in {' and '.join(named_by)}"
                    f" ({exc}). Start it with:\n    {START_COMMANDS[name]}\n"
                    f"or point {' and '.join(named_by)} at one that runs (in .env, see README.md)."
                )
    if down:
        raise StackError("\n".join(down))


def _postgres_admin(sql_url: str):
    """Connect to the maintenance database of the server that ``sql_url`` names (autocommit)."""
    import psycopg2

    parts = urlsplit(sql_url)
    conn = psycopg2.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname="postgres",
        connect_timeout=5,
    )
    conn.autocommit = True
    return conn


def ensure_databases(env: Mapping[str, str], reset: bool) -> None:
    """Create the Airflow and MCS databases if missing, each on the server its URL names.

    With ``reset`` they are dropped first.
    """
    for url in (env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], env["AIRFLOW__MCS__DATABASE_URL"]):
        name = urlsplit(url).path.lstrip("/")
        conn = _postgres_admin(url)
        try:
            with conn.cursor() as cur:
                if reset:
                    cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
        finally:
            conn.close()


def flush_redis(env: Mapping[str, str]) -> None:
    """Empty the Redis databases of the profile (test profile: a clean broker and journal)."""
    import redis

    for url in (env["AIRFLOW__CELERY__BROKER_URL"], env["AIRFLOW__MCS__REDIS_URL"]):
        client = redis.Redis.from_url(url, socket_timeout=5)
        client.flushdb()
        client.close()
