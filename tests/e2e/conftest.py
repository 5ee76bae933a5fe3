"""The ``stack`` fixture: one whole MCS for the test session, started by ``scripts/stack.py``.

It runs the ``test`` profile: api-server on 127.0.0.1:8180, databases ``airflow_test`` and
``mcs_test`` dropped and created again, Redis dbs 2 (Celery broker) and 3 (MCS), the scheduler,
dag-processor, triggerer, a Celery worker and the gateway; not the demo device and sink. The run
dir is ``test-output/stack/``: emptied when a session starts, left in place when it ends, so the
logs of a failed session stay in ``test-output/stack/logs/``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import httpx
import pytest
import stack as stack_script
from stack_processes import STARTED

REPO = Path(__file__).resolve().parents[2]
RUN_DIR = REPO / "test-output" / "stack"

log = logging.getLogger(__name__)


@dataclass
class RunningStack:
    """What a test needs of the running stack."""

    profile: stack_script.Profile
    env: dict[str, str]
    _token: str | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return self.profile.base_url

    @property
    def logs_dir(self) -> Path:
        return self.profile.logs_dir

    @property
    def password(self) -> str:
        return stack_script.admin_password(self.profile)

    def token(self) -> str:
        """A JWT of the admin user, made once per session (it lives a day)."""
        if self._token is None:
            answer = httpx.post(
                f"{self.base_url}/auth/token",
                json={"username": stack_script.ADMIN_USER, "password": self.password},
                timeout=30,
            )
            answer.raise_for_status()
            self._token = answer.json()["access_token"]
        return self._token

    def client(self, path: str = "") -> httpx.Client:
        """An authenticated client on ``base_url + path``, e.g. ``client("/mcs/api/v1")``."""
        return httpx.Client(
            base_url=self.base_url + path, headers={"Authorization": f"Bearer {self.token()}"}, timeout=60
        )

    def airflow(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the ``airflow`` command against this stack; raises if it fails."""
        return subprocess.run(
            [str(stack_script.BIN / "airflow"), *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )

    @property
    def topic_prefix(self) -> str:
        """The first level of this stack's MCS topics (``<prefix>/workflows/{key}/command``)."""
        return self.env["AIRFLOW__MCS__TOPIC_PREFIX"]

    def log_tail(self, name: str, lines: int = 40) -> str:
        return stack_script.tail(self.logs_dir / f"{name}.log", lines)

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL, timeout: float = 30) -> None:
        """Send ``sig`` to one component's process group (e.g. the gateway) and wait until it is gone."""
        pid = int((self.profile.pids_dir / f"{name}.pid").read_text().split()[0])
        os.killpg(pid, sig)
        started = STARTED.get(self.profile.run_dir, [])
        process = next((p for p in started if p.pid == pid), None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                return
            if process is None and not Path(f"/proc/{pid}").exists():
                return
            time.sleep(0.05)
        raise AssertionError(f"{name} (pid {pid}) still runs {timeout} s after {sig.name}")

    def start(self, name: str) -> None:
        """Start one component again, as ``scripts/stack.py`` started it (same command, log and pid file)."""
        component = next(c for c in stack_script.components(self.profile, self.env) if c.name == name)
        stack_script.start_component(component, self.profile, self.env)


def _profile() -> stack_script.Profile:
    """The test profile; ``MCS_E2E_INSTANCE=<n>`` (1-5) gives a second stack its own port, databases,
    Redis dbs and run dir, so two e2e sessions on one machine do not stop each other's stack."""
    profile = stack_script.test_profile(run_dir=RUN_DIR)
    instance = int(os.environ.get("MCS_E2E_INSTANCE", "0"))
    if not instance:
        return profile
    return dataclasses.replace(
        profile,
        run_dir=RUN_DIR.with_name(f"stack-{instance}"),
        api_port=profile.api_port + instance,
        airflow_db=f"{profile.airflow_db}_{instance}",
        mcs_db=f"{profile.mcs_db}_{instance}",
        broker_redis_db=2 + 2 * instance,
        mcs_redis_db=3 + 2 * instance,
    )


@pytest.fixture(scope="session")
def stack() -> Iterator[RunningStack]:
    profile = _profile()

    # Whatever a killed session left running goes first, then its files.
    stack_script.stop(profile)
    shutil.rmtree(profile.run_dir, ignore_errors=True)

    # MCS topics of their own, so that another MCS on the same broker never takes this one's commands.
    topics = {
        "AIRFLOW__MCS__TOPIC_PREFIX": os.environ.get("AIRFLOW__MCS__TOPIC_PREFIX")
        or f"mcs-e2e-{uuid.uuid4().hex[:8]}"
    }
    try:
        with mock.patch.dict(os.environ, topics):
            env = stack_script.up(profile, log=log.info)
    except stack_script.StackError as exc:
        pytest.fail(f"the e2e stack did not start (logs in {profile.logs_dir}):\n{exc}", pytrace=False)
    yield RunningStack(profile=profile, env=env)

    left = stack_script.stop(profile)
    assert left == [], f"processes still running after the e2e stack was stopped: {left}"
