"""Starting the long-running processes of a stack and waiting until each one serves.

``components`` lists the processes of a profile (Airflow's api-server, scheduler, dag-processor,
triggerer and Celery worker, the MCS gateway, and for ``make up`` the demo device and sink) with
a readiness check each. ``start_component`` starts one in a session of its own, logging to
``<run_dir>/logs/<name>.log`` with a pid file in ``<run_dir>/pids/``; ``wait_ready`` waits for all
of them. ``run_step`` runs a one-off command such as ``airflow db migrate``.

It imports the standard library and ``stack_env``; ``stack_stop`` imports it.
"""

from __future__ import annotations

import json
import resource
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from stack_env import BIN, REPO, Profile, StackError

# Components started by this Python process, per run dir: stop() reaps them.
STARTED: dict[Path, list[subprocess.Popen]] = {}


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
            Component("demo-sink", [py, str(REPO / "scripts" / "demo_sink.py")], lambda: port_open(8099)),
        ]
    return [c for c in found if c.name not in profile.skip]


def port_open(port: int) -> bool:
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


def process_start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _raise_open_files_limit() -> None:
    """Each pending MQTT wait holds sockets in the triggerer; a soft limit of 1,024 stops it near 500."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


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
        preexec_fn=_raise_open_files_limit,
    )
    log.close()
    STARTED.setdefault(profile.run_dir, []).append(process)
    pid_file = profile.pids_dir / f"{component.name}.pid"
    pid_file.write_text(f"{process.pid} {process_start_time(process.pid) or ''}\n")
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
