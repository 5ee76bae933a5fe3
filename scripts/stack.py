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

This module holds the command line and ``up``, the steps of a start in order; the parts live in

- ``stack_env.py``: profiles, the processes' environment, ``PERFORMANCE_SETTINGS``, secrets;
- ``stack_services.py``: PostgreSQL, Redis and the MQTT broker: reachable, databases created;
- ``stack_processes.py``: the components, starting them, waiting until they are ready;
- ``stack_stop.py``: finding the processes of a run dir, stopping them, their status.

Their public names are imported here too, so ``import stack`` gives all of them. The modules
import only the standard library, ``psycopg2`` and ``redis`` (both in ``requirements.txt``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from stack_env import (
    ADMIN_USER,
    BIN,
    ISOLATION_KEYS,
    MARKER,
    PERFORMANCE_SETTINGS,
    REPO,
    Profile,
    StackError,
    admin_password,
    build_env,
    read_dotenv,
    test_profile,
    up_profile,
    write_passwords_file,
)
from stack_processes import (
    Component,
    components,
    health,
    port_open,
    run_step,
    start_component,
    tail,
    wait_ready,
)
from stack_services import START_COMMANDS, check_services, ensure_databases, flush_redis
from stack_stop import status, stop

__all__ = [
    "ADMIN_USER",
    "BIN",
    "ISOLATION_KEYS",
    "MARKER",
    "PERFORMANCE_SETTINGS",
    "REPO",
    "START_COMMANDS",
    "Component",
    "Profile",
    "StackError",
    "admin_password",
    "build_env",
    "check_services",
    "components",
    "ensure_databases",
    "flush_redis",
    "health",
    "main",
    "port_open",
    "read_dotenv",
    "run_step",
    "start_component",
    "status",
    "stop",
    "tail",
    "test_profile",
    "up",
    "up_profile",
    "wait_ready",
    "write_passwords_file",
]


def up(profile: Profile, timeout: float = 240, log: Callable[[str], None] = lambda _: None) -> dict[str, str]:
    """Start the stack of ``profile``; return its environment. Stops what it started if a step fails."""
    stop(profile, log=log)
    profile.logs_dir.mkdir(parents=True, exist_ok=True)
    profile.pids_dir.mkdir(parents=True, exist_ok=True)
    env = build_env(profile)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    write_passwords_file(profile)

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

    if port_open(profile.api_port):
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
