"""Fixtures of the browser tests: a whole MCS (``stack_profile.py``), headless Chromium, a logged-in page.

The stack is started once for this folder and stopped when its last test is done, before the e2e
stack starts. ``frontend/dist`` must be built first (``make frontend``). To run the tests against a
stack that is already up (``python -m tests.browser.stack_profile up``), set
``MCS_BROWSER_REUSE_STACK=1``.

Chromium is Debian's (``/usr/bin/chromium``, ``apt-get install chromium``), driven by Playwright's
Python client; Playwright's own browser downloads are not used. Every page records console errors
and uncaught exceptions; a test fails if its page had any.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.browser import stack_profile
from tests.browser.stack_profile import stack_script

CHROMIUM = os.environ.get("MCS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = stack_profile.REPO / "test-output" / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}


@dataclass
class UiStack:
    base_url: str
    password: str
    _token: str | None = field(default=None, repr=False)

    @property
    def ui(self) -> str:
        return f"{self.base_url}/mcs/ui"

    def api(self) -> httpx.Client:
        """An MCS API client logged in as the admin, for setting up what a test does not click."""
        if self._token is None:
            answer = httpx.post(
                f"{self.base_url}/auth/token",
                json={"username": stack_script.ADMIN_USER, "password": self.password},
                timeout=30,
            )
            answer.raise_for_status()
            self._token = answer.json()["access_token"]
        return httpx.Client(
            base_url=f"{self.base_url}/mcs/api/v1",
            headers={"Authorization": f"Bearer {self._token}"},
            timeout=90,
        )


@pytest.fixture(scope="package")
def ui_stack() -> Iterator[UiStack]:
    if not (stack_profile.DIST / "index.html").is_file():
        pytest.fail("frontend/dist is missing: build the app first (make frontend)", pytrace=False)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium", pytrace=False)
    profile = stack_profile.browser_profile()
    reuse = os.environ.get("MCS_BROWSER_REUSE_STACK") == "1"
    if not reuse:
        stack_script.stop(profile)
        shutil.rmtree(profile.run_dir, ignore_errors=True)
        try:
            stack_profile.start(log=lambda _: None)
        except stack_script.StackError as exc:
            pytest.fail(
                f"the browser-test stack did not start (logs in {profile.logs_dir}):\n{exc}", pytrace=False
            )
    yield UiStack(base_url=profile.base_url, password=stack_script.admin_password(profile))
    if not reuse:
        left = stack_script.stop(profile)
        assert left == [], f"processes still running after the browser-test stack was stopped: {left}"


@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="package")
def logged_in(browser, ui_stack):
    """A browser context with Airflow's login cookie, got by logging in through Airflow's own page."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{ui_stack.ui}/")
    page.wait_for_url("**/auth/login?next=**")
    page.fill("input[name=username]", stack_script.ADMIN_USER)
    page.fill("input[name=password]", ui_stack.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/mcs/ui/workflows")
    page.close()
    yield context
    context.close()


class ConsoleProblems(list):
    """Console errors and uncaught exceptions of a page."""


@pytest.fixture
def page(logged_in):
    page = logged_in.new_page()
    problems = ConsoleProblems()
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    yield page
    page.close()
    assert list(problems) == [], f"the browser console had errors: {list(problems)}"


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives the MCS console in headless Chromium against a whole MCS"
    )
