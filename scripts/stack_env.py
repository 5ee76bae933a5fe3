"""What a stack is before anything starts: its profile, the environment of its processes, its secrets.

``Profile`` says what differs between ``make up`` and the e2e tests (ports, databases, Redis db
numbers, the demo); ``build_env`` turns a profile, ``.env`` and the caller's environment into the
environment every process gets, with ``PERFORMANCE_SETTINGS`` for the scheduler, worker and
dag-processor. The admin password and the keys are generated once per run dir, in
``<run_dir>/secrets.json``. ``StackError`` is the one exception of the stack modules.

It imports only the standard library; the other ``stack_*`` modules import it.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ADMIN_USER = "admin"
MARKER = "MCS_STACK_RUN_DIR"

# Settings that make a chain of short steps fast without spinning while idle. `docs/performance.md`
# cites this dict; measure with `bench/` before changing a value.
PERFORMANCE_SETTINGS: dict[str, str] = {
    # The scheduler sleeps this long after a loop that queued nothing and saw no executor event.
    # The default 1 s is paid once per step of a chain (a finished task is noticed on the next
    # loop); 0.25 s cuts that to a quarter while an idle scheduler still runs only four cheap loops
    # a second. A busy scheduler never sleeps, whatever this is. Measured on 2 cores, a chain of 10
    # tasks (bench/chain_speed.py): Airflow's defaults -> about 12 s a run; these settings -> about
    # 5 s (plain DAG) and 8 s (MCS), idle scheduler 8 % of a core; 0.1 s -> no faster, 15 %.
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
    # The dag-processor loops once a second and serves priority parse requests (the API's
    # `PUT /api/v2/parseDagFile/...`) on the next loop. Without one, a published workflow shows up
    # when `dags/mcs_workflows.py` is parsed again: every 10 s instead of 30 s. One parse of the
    # entry file every 10 s is a small, bounded cost.
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
    # How often the dags folder is listed for new or deleted files. `dags/` holds one entry file,
    # so this matters only when a file is added by hand: 30 s instead of 300 s.
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
    # One parsing process: there is one DAG file, and a second process would only compete with
    # the scheduler and the worker for the two cores.
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    # A republished workflow's serialized DAG may be rewritten at most this often, and the
    # scheduler's and api-server's cached copies are revalidated on the same clock. 5 s instead of
    # 30 s so a republish is seen within seconds; writes happen only when the DAG changed.
    "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "5",
    # All published workflows are built from one file; with many hundreds of them a parse takes
    # tens of seconds (see docs/performance.md), past Airflow's 30 s and 50 s defaults.
    "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
    "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "360",
    # Eight task slots: enough for the parallel branches of a workflow and a few workflows at once.
    # Long waits defer to the triggerer and hold no slot. The default 16 forks sixteen idle
    # children on a two-core machine for nothing.
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "8",
    # Prefork (the default, said here on purpose): each task's supervisor forks the task process,
    # which is safe from a single-threaded prefork child and not from a thread pool.
    "AIRFLOW__CELERY__POOL": "prefork",
    # Each child takes one message at a time, so a queued step never waits behind a long one that
    # the same child already holds while another child is free.
    "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
}

# Keys that keep the test profile apart from a developer's stack; no override may change them there.
ISOLATION_KEYS = frozenset(
    {
        "AIRFLOW_HOME",
        "AIRFLOW__CORE__DAGS_FOLDER",
        "AIRFLOW__CORE__PLUGINS_FOLDER",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
        "AIRFLOW__API__PORT",
        "AIRFLOW__API__BASE_URL",
        "AIRFLOW__MCS__DATABASE_URL",
        "AIRFLOW__MCS__REDIS_URL",
        "AIRFLOW_CONN_MCS_MQTT",
        MARKER,
    }
)


class StackError(Exception):
    """The stack could not be started or stopped; the message says which part and why."""


@dataclass(frozen=True)
class Profile:
    """What differs between `make up` and the e2e tests."""

    name: str
    run_dir: Path
    api_port: int = 8080
    airflow_db: str = "airflow"
    mcs_db: str = "mcs"
    broker_redis_db: int = 0
    mcs_redis_db: int = 1
    demo: bool = False
    reset_databases: bool = False
    read_dotenv: bool = True
    skip: frozenset[str] = field(default_factory=frozenset)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def logs_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def pids_dir(self) -> Path:
        return self.run_dir / "pids"

    @property
    def passwords_file(self) -> Path:
        return self.run_dir / "simple_auth_manager_passwords.json"


def up_profile(run_dir: Path | None = None, api_port: int = 8080, **kwargs) -> Profile:
    return Profile(
        name="up", run_dir=(run_dir or REPO / ".run").resolve(), api_port=api_port, demo=True, **kwargs
    )


def test_profile(run_dir: Path | None = None, api_port: int = 8180, **kwargs) -> Profile:
    return Profile(
        name="test",
        run_dir=(run_dir or REPO / "test-output" / "stack").resolve(),
        api_port=api_port,
        airflow_db="airflow_test",
        mcs_db="mcs_test",
        broker_redis_db=2,
        mcs_redis_db=3,
        reset_databases=True,
        read_dotenv=False,
        **kwargs,
    )


test_profile.__test__ = False  # pytest: a factory, not a test


def _run_dir_secrets(profile: Profile) -> dict[str, str]:
    """Generate the admin password and the keys once per run dir; later calls read them back."""
    path = profile.run_dir / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    profile.run_dir.mkdir(parents=True, exist_ok=True)
    values = {
        "admin_password": secrets.token_urlsafe(12),
        "jwt_secret": secrets.token_urlsafe(32),
        "api_secret_key": secrets.token_urlsafe(32),
        "fernet_key": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    }
    path.touch(mode=0o600)
    path.write_text(json.dumps(values))
    return values


def read_dotenv(path: Path) -> dict[str, str]:
    """Read ``KEY=VALUE`` lines; ``#`` comments, ``export`` and surrounding quotes are allowed."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def build_env(profile: Profile, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment of every process of ``profile``.

    Precedence, lowest first: the defaults below, ``.env`` at the repo root (``up`` profile only),
    then ``base`` (the caller's environment). In the test profile the keys that isolate the tests
    from a developer's own stack (``ISOLATION_KEYS``) cannot be overridden.
    """
    base = dict(os.environ if base is None else base)
    keys = _run_dir_secrets(profile)
    api = profile.base_url
    pg = "postgres@127.0.0.1:5432"
    defaults = {
        MARKER: str(profile.run_dir),
        "AIRFLOW_HOME": str(profile.run_dir / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
        # socket.gethostname needs no DNS look-up, unlike the default getfqdn.
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "socket.gethostname",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(profile.passwords_file),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{pg}/{profile.airflow_db}",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{profile.broker_redis_db}",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{pg}/{profile.airflow_db}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(profile.api_port),
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
        "AIRFLOW__MCS__DATABASE_URL": f"postgresql+psycopg2://{pg}/{profile.mcs_db}",
        "AIRFLOW__MCS__REDIS_URL": f"redis://127.0.0.1:6379/{profile.mcs_redis_db}",
        "AIRFLOW_CONN_MCS_MQTT": "mqtt://127.0.0.1:1883",
        **PERFORMANCE_SETTINGS,
    }

    overrides = read_dotenv(REPO / ".env") if profile.read_dotenv else {}
    overrides.update(base)
    if profile.name == "test":
        overrides = {k: v for k, v in overrides.items() if k not in ISOLATION_KEYS}

    overrides.pop(MARKER, None)
    env = {**defaults, **overrides}
    env["PATH"] = f"{BIN}{os.pathsep}{base.get('PATH', os.defpath)}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def admin_password(profile: Profile) -> str:
    return _run_dir_secrets(profile)["admin_password"]


def write_passwords_file(profile: Profile) -> None:
    """SimpleAuthManager reads the password from this file; writing it first makes it known here."""
    profile.passwords_file.touch(mode=0o600)
    profile.passwords_file.write_text(json.dumps({ADMIN_USER: admin_password(profile)}) + "\n")
