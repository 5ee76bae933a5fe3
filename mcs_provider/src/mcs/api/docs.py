"""Swagger UI for the MCS API, served from the package: it works on machines with no internet."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs-assets"


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` with Swagger UI's own files under ``/docs-assets`` (paths below ``/mcs``)."""
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(
            get_swagger_ui_html(
                openapi_url="openapi.json",
                title="MCS API",
                swagger_js_url="docs-assets/swagger-ui-bundle.js",
                swagger_css_url="docs-assets/swagger-ui.css",
                swagger_favicon_url="docs-assets/favicon-32x32.png",
            ).body
        )
