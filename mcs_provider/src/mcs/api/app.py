"""The FastAPI application that the Airflow plugin mounts at ``/mcs``."""

from __future__ import annotations

from fastapi import FastAPI

from mcs import __version__
from mcs.api import ui
from mcs.api.docs import install_docs
from mcs.api.errors import install_error_handlers
from mcs.api.routes import approvals, control, events, history, hooks, runs, schema, workflows

API_PREFIX = "/api/v1"


def create_app() -> FastAPI:
    app = FastAPI(
        title="MCS API",
        version=__version__,
        description="Workflows for devices and external services. Log in to Airflow first, or send "
        "`Authorization: Bearer <token>` from `POST /auth/token`.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.include_router(workflows.router, prefix=API_PREFIX)
    app.include_router(runs.router, prefix=API_PREFIX)
    app.include_router(approvals.router, prefix=API_PREFIX)
    app.include_router(schema.router, prefix=API_PREFIX)
    app.include_router(history.router, prefix=API_PREFIX)
    app.include_router(events.router, prefix=API_PREFIX)
    app.include_router(ui.router)
    # Control from outside: stop/enable/disable, hooks (managed when logged in, called with their token).
    app.include_router(control.router, prefix=API_PREFIX)
    app.include_router(hooks.router, prefix=API_PREFIX)
    app.include_router(hooks.public_router)
    install_docs(app)
    install_error_handlers(app)
    return app
