"""The MCS Airflow plugin: the MCS API and app at /mcs in Airflow's API server, a nav link to the app,
and the listeners that turn run and node state changes into MCS events.

Airflow calls the listeners in the scheduler, the api-server and each task's process on the workers
(see ``mcs.listeners``), so those three load this plugin: they must share ``[core] plugins_folder``.
"""

from __future__ import annotations

from functools import cached_property

from airflow.plugins_manager import AirflowPlugin

from mcs import listeners as run_listeners


class McsPlugin(AirflowPlugin):
    name = "mcs"

    @cached_property
    def fastapi_apps(self) -> list[dict]:
        # Built on first use, in the API server only: task processes load this plugin for its
        # listeners and must not pay for importing the API.
        from mcs.api.app import create_app

        return [{"app": create_app(), "url_prefix": "/mcs", "name": "MCS"}]

    # With `url_route` the nav entry opens the console inside Airflow's UI (at /plugin/mcs). Airflow 3.3
    # draws a lone top-level external link (no `url_route`) as a <button href>, which does not navigate.
    external_views = [
        {
            "name": "MCS",
            "href": "/mcs/ui/",
            "url_route": "mcs",
            "destination": "nav",
            "icon": "/mcs/ui/mcs.svg",
        }
    ]
    listeners = [run_listeners]
