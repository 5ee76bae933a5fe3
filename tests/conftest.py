"""Shared by every test: the markers, and each test marked by the folder it lives in.

- ``tests/unit`` - no services; each test runs in well under a second.
- ``tests/integration`` (marker ``integration``) - real PostgreSQL, Redis and Mosquitto on loopback.
- ``tests/e2e`` (marker ``e2e``) - a whole MCS started by ``tests/e2e/conftest.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).parent
MARKERS = {
    "integration": "talks to PostgreSQL, Redis or Mosquitto on 127.0.0.1",
    "e2e": "runs against a whole MCS stack (Airflow components, gateway) started by the test session",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not item.path.is_relative_to(TESTS):
            continue
        folder = item.path.relative_to(TESTS).parts[0]
        if folder in MARKERS:
            item.add_marker(getattr(pytest.mark, folder))
