"""The MCS Airflow plugin: mounts the MCS API at /mcs in Airflow's API server."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from mcs.api.app import create_app


class McsPlugin(AirflowPlugin):
    name = "mcs"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/mcs", "name": "MCS"}]
