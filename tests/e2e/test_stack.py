"""The stack that the e2e tests run on: every component up, the provider installed, the API locked."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_health_reports_scheduler_triggerer_and_dag_processor_healthy(stack):
    health = httpx.get(f"{stack.base_url}/api/v2/monitor/health", timeout=10).json()

    states = {
        part: health[part]["status"] for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
    }

    assert states == {
        "metadatabase": "healthy",
        "scheduler": "healthy",
        "triggerer": "healthy",
        "dag_processor": "healthy",
    }


def test_providers_list_shows_mcs_provider(stack):
    listed = json.loads(stack.airflow("providers", "list", "--output", "json").stdout)

    assert "mcs-provider" in {provider["package_name"] for provider in listed}


def test_mcs_api_without_token_answers_401(stack):
    answer = httpx.get(f"{stack.base_url}/mcs/api/v1/workflows", timeout=10)

    assert answer.status_code == 401
