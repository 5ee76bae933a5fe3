"""Settings of the ``[mcs]`` section of Airflow's configuration.

Every option can be set as ``AIRFLOW__MCS__<OPTION>`` in the environment. The defaults point at
loopback; a deployment sets its own servers in ``.env``.
"""

from __future__ import annotations

import os
from pathlib import Path

SECTION = "mcs"

DEFAULTS: dict[str, tuple[str, str]] = {
    "database_url": (
        "postgresql+psycopg2://postgres@127.0.0.1:5432/mcs",
        "SQLAlchemy URL of the `mcs` database (created on `mcs db upgrade` if missing).",
    ),
    "redis_url": (
        "redis://127.0.0.1:6379/1",
        "Redis URL for the device message journal, caches and locks.",
    ),
    "mqtt_conn_id": ("mcs_mqtt", "Airflow Connection id of the MQTT broker used by workflows."),
    "journal_stream": ("mcs:device_messages", "Redis stream that records device messages."),
    "journal_maxlen": ("100000", "Approximate number of device messages the journal keeps."),
    "gateway_client_id": (
        "",
        "MQTT client id of the gateway's persistent session. Empty: `mcs-gateway-<hostname>`.",
    ),
    "device_topics": (
        "",
        "Comma-separated topic filters the gateway records besides those of the published `mqtt_wait` nodes.",
    ),
    "event_stream": ("mcs:events", "Redis stream of run events, read by live views and the gateway."),
    "event_stream_maxlen": ("100000", "Approximate number of run events the event stream keeps."),
    "dag_cache_path": (
        "",
        "File where the DAG factory keeps the last published definitions it read, so DAGs survive "
        "a moment when the `mcs` database is unreachable. Empty: `$AIRFLOW_HOME/mcs/definitions.json`.",
    ),
    # Control from outside (design section 6): the gateway's commands and the HTTP hooks.
    "topic_prefix": (
        "mcs",
        "First level of MCS's own MQTT topics: `<prefix>/workflows/{key}/command`, `.../ack`, `.../events`. "
        "Give each MCS installation that shares a broker its own.",
    ),
    "gateway_share_group": (
        "",
        "MQTT 5 shared subscription group of the gateways' command subscription "
        "(`$share/<group>/mcs/workflows/+/command`). Empty: `mcs-gateway-<name of the mcs database>`, "
        "so two MCS installations on one broker never take each other's commands.",
    ),
    "gateway_command_workers": (
        "4",
        "Commands the gateway handles at the same time; commands for one workflow are handled in order.",
    ),
    "command_retention_days": (
        "7",
        "Days a command id is remembered: a command repeated within them is answered, not run again.",
    ),
    "hook_rate_limit": ("60", "Requests a minute that one HTTP hook accepts before answering 429."),
    "strict_dag_factory": (
        "False",
        "Raise on the first workflow that cannot be built instead of logging it and going on.",
    ),
}


def get(option: str) -> str:
    """Return the value of ``[mcs] option``, falling back to the documented default."""
    from airflow.configuration import conf

    return conf.get(SECTION, option, fallback=DEFAULTS[option][0])


def get_bool(option: str) -> bool:
    return get(option).strip().lower() in {"1", "true", "yes", "on"}


def database_url() -> str:
    return get("database_url")


def redis_url() -> str:
    return get("redis_url")


def dag_cache_path() -> Path:
    value = get("dag_cache_path")
    if value:
        return Path(value)
    home = os.environ.get("AIRFLOW_HOME") or "~/airflow"
    return Path(home).expanduser() / "mcs" / "definitions.json"
