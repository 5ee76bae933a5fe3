"""The MCS stack of the browser tests and the UI benchmark: its own port, databases and Redis dbs.

It is the ``test`` profile of ``scripts/stack.py`` with other names, so it can run beside the e2e
stack and a developer's ``make up``: api-server on 127.0.0.1:8380, databases ``airflow_browser``
and ``mcs_browser`` (dropped and created again at each start), Redis dbs 4 and 5, run dir
``test-output/browser-stack/``. By hand::

    .venv/bin/python -m tests.browser.stack_profile up      # prints the URL and the login
    .venv/bin/python -m tests.browser.stack_profile stop
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import stack as stack_script  # noqa: E402

RUN_DIR = REPO / "test-output" / "browser-stack"
PORT = 8380
DIST = REPO / "frontend" / "dist"

# Not isolation keys of the test profile, so they pass through from the environment: one MQTT
# session per gateway, whatever else runs on this machine.
EXTRA_ENV = {"AIRFLOW__MCS__GATEWAY_CLIENT_ID": "mcs-gateway-browser-tests"}


def browser_profile() -> stack_script.Profile:
    return stack_script.Profile(
        name="test",
        run_dir=RUN_DIR.resolve(),
        api_port=PORT,
        airflow_db="airflow_browser",
        mcs_db="mcs_browser",
        broker_redis_db=4,
        mcs_redis_db=5,
        reset_databases=True,
        read_dotenv=False,
    )


def start(log=print) -> stack_script.Profile:
    profile = browser_profile()
    os.environ.update(EXTRA_ENV)
    stack_script.up(profile, log=log)
    return profile


def main(argv: list[str]) -> int:
    profile = browser_profile()
    if argv[:1] == ["up"]:
        start(log=lambda text: print(f"[browser-stack] {text}", flush=True))
        print(
            f"{profile.base_url}/mcs/ui/  user {stack_script.ADMIN_USER}, password {stack_script.admin_password(profile)}"
        )
    elif argv[:1] == ["stop"]:
        left = stack_script.stop(profile)
        print("stopped" if not left else f"still running: {left}")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
