"""Start and stop the MCS processes on this machine: Airflow's components, the gateway, the demo.

Run it with the project's virtualenv python::

    .venv/bin/python scripts/stack.py up              # the `up` profile, run dir .run/
    .venv/bin/python scripts/stack.py stop
    .venv/bin/python scripts/stack.py status
    .venv/bin/python scripts/stack.py info            # URLs and the login
    eval "$(.venv/bin/python scripts/stack.py env)"   # use the `airflow` command against the stack

The e2e tests import it (``tests/e2e/conftest.py``) and start the ``test`` profile: the same code
with other ports, databases and Redis db numbers. Every process binds to loopback, logs to
``<run_dir>/logs/<name>.log`` and has a pid file in ``<run_dir>/pids/``. PostgreSQL, Redis and
the MQTT broker are not started here; ``up`` checks them and says how to start the one that is down.

It imports only the standard library, ``psycopg2`` and ``redis`` (both in ``requirements.txt``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ADMIN_USER = "admin"
MARKER = "MCS_STACK_RUN_DIR"

# Components started by this Python process, per run dir: stop() reaps them.
_STARTED: dict[Path, list[subprocess.Popen]] = {}

# Settings that make a chain of short steps fast without spinning while idle. `docs/performance.md`
# cites this dict; measure with `bench/` before changing a value.
PERFORMANCE_SETTINGS: dict[str, str] = {
    # The scheduler sleeps this long after a loop that queued nothing and saw no executor event.
    # The default 1 s is paid once per step of a chain (a finished task is noticed on the next
    # loop); 0.25 s cuts that to a quarter while an idle scheduler still runs only four cheap loops
    # a second. A busy scheduler never sleeps, whatever this is. Measured on 2 cores, a chain of 10
    # Python tasks: 1 s -> about 12 s a run; 0.25 s -> about 7 s, idle scheduler 6 % of a core;
    # 0.1 s -> no faster, idle scheduler 15 % of a core.
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

START_COMMANDS = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": (
        'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
        "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
    ),
    "MQTT broker": "mosquitto -d -c /etc/mosquitto/mosquitto.conf",
}


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


# ---------------------------------------------------------------- environment


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


def _write_passwords_file(profile: Profile) -> None:
    """SimpleAuthManager reads the password from this file; writing it first makes it known here."""
    profile.passwords_file.touch(mode=0o600)
    profile.passwords_file.write_text(json.dumps({ADMIN_USER: admin_password(profile)}) + "\n")


# ---------------------------------------------------------------- services


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def check_services(env: Mapping[str, str]) -> None:
    """Raise naming each of PostgreSQL, Redis and the MQTT broker that does not accept connections."""
    wanted = {
        "PostgreSQL": _host_port(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], 5432),
        "Redis": _host_port(env["AIRFLOW__CELERY__BROKER_URL"], 6379),
        "MQTT broker": _host_port(env["AIRFLOW_CONN_MCS_MQTT"], 1883),
    }
    down = []
    for name, (host, port) in wanted.items():
        try:
            socket.create_connection((host, port), timeout=2).close()
        except OSError as exc:
            down.append(
                f"{name} is not reachable at {host}:{port} ({exc}). Start it with:\n    {START_COMMANDS[name]}"
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
    """Create the Airflow and MCS databases if missing; with ``reset`` drop them first."""
    urls = [env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], env["AIRFLOW__MCS__DATABASE_URL"]]
    conn = _postgres_admin(urls[0])
    try:
        with conn.cursor() as cur:
            for url in urls:
                name = urlsplit(url).path.lstrip("/")
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


def run_step(
    name: str, argv: list[str], env: Mapping[str, str], logs_dir: Path, timeout: float = 600
) -> None:
    """Run a one-off command to completion, logging to ``logs/<name>.log``; raise if it fails."""
    log_path = logs_dir / f"{name}.log"
    with log_path.open("ab") as log:
        result = subprocess.run(
            argv,
            env=dict(env),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0:
        raise StackError(f"`{shlex.join(argv)}` exited with {result.returncode}:\n{tail(log_path)}")


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"(no log at {path})"
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in text) + f"\n    (full log: {path})"


# ---------------------------------------------------------------- processes


@dataclass(eq=False)
class Component:
    """One long-running process; ``ready`` tells whether it serves yet (it is alive when called)."""

    name: str
    argv: list[str]
    ready: Callable[[], bool] = lambda: True


def components(profile: Profile, env: Mapping[str, str]) -> list[Component]:
    airflow = str(BIN / "airflow")
    logs = profile.logs_dir
    port = env["AIRFLOW__API__PORT"]
    since = datetime.now(UTC)
    health = lambda: _health_ok(f"http://127.0.0.1:{port}", since)  # noqa: E731
    found = [
        Component("api-server", [airflow, "api-server", "--host", "127.0.0.1", "--port", port], health),
        # --skip-serve-logs everywhere: the log servers bind to every interface, and all processes
        # share this machine's log folder, from which the api-server reads task logs directly.
        Component("scheduler", [airflow, "scheduler", "--skip-serve-logs"]),
        Component("dag-processor", [airflow, "dag-processor"]),
        Component("triggerer", [airflow, "triggerer", "--skip-serve-logs"]),
        Component(
            "worker",
            # Gossip and mingle only matter between several workers; without them start-up is faster.
            [
                airflow,
                "celery",
                "worker",
                "--skip-serve-logs",
                "--without-gossip",
                "--without-mingle",
                "--celery-hostname",
                f"mcs-{profile.name}@%h",
            ],
            lambda: " ready." in (logs / "worker.log").read_text(errors="replace"),
        ),
        Component("gateway", [str(BIN / "mcs"), "gateway"]),
    ]
    if profile.demo:
        py = sys.executable
        found += [
            Component("demo-device", [py, str(REPO / "scripts" / "demo_device.py")]),
            Component("demo-sink", [py, str(REPO / "scripts" / "demo_sink.py")], lambda: _port_open(8099)),
        ]
    return [c for c in found if c.name not in profile.skip]


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def health(base_url: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{base_url}/api/v2/monitor/health", timeout=3) as response:
            return json.load(response)
    except (OSError, ValueError, urllib.error.URLError):
        return None


def _health_ok(base_url: str, since: datetime) -> bool:
    """All healthy, each job with a heartbeat after ``since`` (not one of a stack stopped just before)."""
    status = health(base_url)
    if not status or (status.get("metadatabase") or {}).get("status") != "healthy":
        return False
    for part in ("scheduler", "triggerer", "dag_processor"):
        job = status.get(part) or {}
        beat = job.get(f"latest_{part}_heartbeat")
        if job.get("status") != "healthy" or not beat or datetime.fromisoformat(beat) < since:
            return False
    return True


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, start_time: str | None) -> bool:
    current = _start_time(pid)
    if current is None or (start_time is not None and current != start_time):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_component(component: Component, profile: Profile, env: Mapping[str, str]) -> subprocess.Popen:
    log = (profile.logs_dir / f"{component.name}.log").open("ab")
    # A session of its own per process: stop() signals the whole group, which holds the forked
    # children of celery and the api-server.
    process = subprocess.Popen(
        component.argv,
        env=dict(env),
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    _STARTED.setdefault(profile.run_dir, []).append(process)
    pid_file = profile.pids_dir / f"{component.name}.pid"
    pid_file.write_text(f"{process.pid} {_start_time(process.pid) or ''}\n")
    return process


def wait_ready(started: list[tuple[Component, subprocess.Popen]], profile: Profile, timeout: float) -> None:
    """Wait until every component is ready; raise as soon as one exits, or at the deadline."""
    deadline = time.monotonic() + timeout
    pending = dict(started)
    while pending:
        for component, process in list(pending.items()):
            code = process.poll()
            if code is not None:
                raise StackError(
                    f"{component.name} exited with {code} while starting:\n"
                    f"{tail(profile.logs_dir / f'{component.name}.log')}"
                )
            if component.ready():
                del pending[component]
        if pending and time.monotonic() > deadline:
            names = ", ".join(c.name for c in pending)
            status = json.dumps(health(profile.base_url))
            raise StackError(
                f"not ready after {timeout:.0f} s: {names}; health: {status}; logs in {profile.logs_dir}"
            )
        time.sleep(0.5)

    # A process that dies right after saying it is ready (a gateway that cannot subscribe) is caught here.
    time.sleep(2)
    for component, process in started:
        if process.poll() is not None:
            raise StackError(
                f"{component.name} exited with {process.returncode} after start:\n"
                f"{tail(profile.logs_dir / f'{component.name}.log')}"
            )


def up(profile: Profile, timeout: float = 240, log: Callable[[str], None] = lambda _: None) -> dict[str, str]:
    """Start the stack of ``profile``; return its environment. Stops what it started if a step fails."""
    stop(profile, log=log)
    profile.logs_dir.mkdir(parents=True, exist_ok=True)
    profile.pids_dir.mkdir(parents=True, exist_ok=True)
    env = build_env(profile)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    _write_passwords_file(profile)

    log("checking PostgreSQL, Redis and the MQTT broker")
    check_services(env)
    log("creating databases" + (" (dropped first)" if profile.reset_databases else ""))
    ensure_databases(env, reset=profile.reset_databases)
    if profile.reset_databases:
        flush_redis(env)
    log("airflow db migrate")
    run_step("airflow-db-migrate", [str(BIN / "airflow"), "db", "migrate"], env, profile.logs_dir)
    if "mcs-db-upgrade" not in profile.skip:
        log("mcs db upgrade")
        run_step("mcs-db-upgrade", [str(BIN / "mcs"), "db", "upgrade"], env, profile.logs_dir)

    if _port_open(profile.api_port):
        raise StackError(f"port {profile.api_port} on 127.0.0.1 is already in use; stop what holds it first")
    started = []
    try:
        for component in components(profile, env):
            log(f"starting {component.name}")
            started.append((component, start_component(component, profile, env)))
        log("waiting until every component is ready")
        wait_ready(started, profile, timeout)
    except BaseException:
        stop(profile, log=log)
        raise
    return env


# ---------------------------------------------------------------- stopping


def _ancestors() -> set[int]:
    """This process and its parents: never signalled, even if they carry a marker."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return pids


def _process_table() -> dict[int, tuple[int, int, str]]:
    """Every live (not zombie) process: pid -> (parent pid, process group, start time)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            table[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[19])
    return table


def _marked_processes(run_dir: Path) -> set[int]:
    """Processes whose environment still shows this run dir's marker (setproctitle may erase it)."""
    needle = f"{MARKER}={run_dir}\0".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def _our_processes(profile: Profile, groups: dict[int, str | None], known: dict[int, str]) -> dict[int, str]:
    """Live processes this run dir started: pid -> start time.

    They are the members of the components' process groups, every process seen before (a task
    process moves to a group of its own; an orphan is reparented to init), the descendants of all
    of those, and any process carrying the run dir's marker.
    """
    table = _process_table()
    # A group whose leader's pid now belongs to a younger process is not ours any more.
    ours_groups = {g for g, start in groups.items() if g not in table or not start or table[g][2] == start}
    found = {pid: info[2] for pid, info in table.items() if info[1] in ours_groups}
    found.update({pid: start for pid, start in known.items() if pid in table and table[pid][2] == start})
    found.update({pid: table[pid][2] for pid in _marked_processes(profile.run_dir) if pid in table})

    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    pending = list(found)
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found[child] = table[child][2]
                pending.append(child)

    for pid in _ancestors():
        found.pop(pid, None)
    return found


def stop(profile: Profile, grace: float = 20, log: Callable[[str], None] = lambda _: None) -> list[int]:
    """Terminate everything this run dir started: SIGTERM, then SIGKILL after ``grace`` seconds.

    Returns the pids still alive at the end (empty when all is well).
    """
    groups: dict[int, str | None] = {}
    pid_files = sorted(profile.pids_dir.glob("*.pid")) if profile.pids_dir.is_dir() else []
    for pid_file in pid_files:
        pid_text, _, start = pid_file.read_text().strip().partition(" ")
        groups[int(pid_text)] = start or None
    known = _our_processes(profile, groups, {})
    if known:
        log(f"stopping {len(known)} processes of {len(pid_files)} components")

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        signalled: set[int] = set()
        deadline = time.monotonic() + wait
        while known and time.monotonic() < deadline:
            # Each round signals the processes that appeared since (a task forked during shutdown).
            for pid in set(known) - signalled:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
                signalled.add(pid)
            time.sleep(0.3)
            known = _our_processes(profile, groups, known)
        if not known:
            break

    if not known:
        for pid_file in pid_files:
            pid_file.unlink(missing_ok=True)
    # Reap the components this process started itself, so no zombie outlives the stop.
    for process in _STARTED.pop(profile.run_dir, []):
        process.poll()
    return sorted(known)


def status(profile: Profile) -> dict[str, bool]:
    result = {}
    for pid_file in sorted(profile.pids_dir.glob("*.pid")) if profile.pids_dir.is_dir() else []:
        pid_text, _, start = pid_file.read_text().strip().partition(" ")
        result[pid_file.stem] = _alive(int(pid_text), start or None)
    return result


# ---------------------------------------------------------------- command line


def _profile_from_args(args: argparse.Namespace) -> Profile:
    factory = up_profile if args.profile == "up" else test_profile
    kwargs = {"skip": frozenset(args.skip)} if getattr(args, "skip", None) else {}
    port = args.port or (8180 if args.profile == "test" else None)
    if port is None:
        # The `up` profile honours AIRFLOW__API__PORT from the environment or `.env` like any override.
        settings = {**read_dotenv(REPO / ".env"), **os.environ}
        port = int(settings.get("AIRFLOW__API__PORT", 8080))
    return factory(run_dir=Path(args.run_dir) if args.run_dir else None, api_port=port, **kwargs)


def _print_info(profile: Profile) -> None:
    print(f"Airflow:      {profile.base_url}/")
    print(f"MCS API docs: {profile.base_url}/mcs/docs")
    print(f"Login:        user {ADMIN_USER}, password {admin_password(profile)}")
    print(f"Logs:         {profile.logs_dir}")


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "stop", "status", "info", "env"])
    parser.add_argument("--profile", choices=["up", "test"], default="up")
    parser.add_argument("--run-dir", help="default: .run/ (up) or test-output/stack/ (test)")
    parser.add_argument("--port", type=int, help="api-server port (default 8080, test 8180)")
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        metavar="NAME",
        help="components or steps to leave out, e.g. gateway mcs-db-upgrade",
    )
    parser.add_argument("--timeout", type=float, default=240, help="seconds to wait for readiness")
    args = parser.parse_args(list(argv) if argv is not None else None)
    profile = _profile_from_args(args)
    say = lambda text: print(f"[stack] {text}", flush=True)  # noqa: E731

    if args.command == "up":
        try:
            up(profile, timeout=args.timeout, log=say)
        except StackError as exc:
            print(f"[stack] failed: {exc}", file=sys.stderr)
            return 1
        say("all components are ready")
        _print_info(profile)
    elif args.command == "stop":
        left = stop(profile, log=say)
        if left:
            print(f"[stack] still running after SIGKILL: {left}", file=sys.stderr)
            return 1
        say("stopped")
    elif args.command == "status":
        states = status(profile)
        for name, alive in states.items():
            print(f"{name:14} {'running' if alive else 'not running'}")
        print(f"health: {json.dumps(health(profile.base_url))}")
        return 0 if states and all(states.values()) else 1
    elif args.command == "info":
        _print_info(profile)
    else:
        for key, value in sorted(build_env(profile).items()):
            if (key.startswith("AIRFLOW") or key == "PATH") and key != MARKER:
                print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
