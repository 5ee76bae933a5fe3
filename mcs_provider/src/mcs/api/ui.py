"""Serve the built Vue app (``frontend/dist``) at ``/mcs/ui/``.

Files that exist under the dist folder are served as they are; any other path under ``/ui/`` gets
``index.html``, so the app's own router handles deep links such as ``/mcs/ui/runs/12``. Missing
files under ``assets/`` answer 404, never the HTML page, so a stale tab does not run HTML as a
script. When the app has not been built, every path answers a 404 page that says how to build it.

The folder is ``[mcs] ui_dist`` when set, else ``frontend/dist`` of the repository this package
was installed from (an editable install).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

# mcs_provider/src/mcs/api/ui.py -> the repository root is four folders up.
REPO_DIST = Path(__file__).resolve().parents[4] / "frontend" / "dist"

# Vite puts a content hash in every file name under assets/, so they can be cached for good.
IMMUTABLE = "public, max-age=31536000, immutable"

NOT_BUILT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MCS UI not built</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>The MCS browser app has not been built</h1>
<p>No <code>index.html</code> in <code>{dist}</code>. Build it once:</p>
<pre>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p>(or <code>make frontend</code>), then reload this page.
The API is available meanwhile at <a href="/mcs/docs">/mcs/docs</a>.</p>
</body></html>
"""

router = APIRouter(include_in_schema=False)


def dist_dir() -> Path:
    from airflow.configuration import conf

    configured = conf.get("mcs", "ui_dist", fallback="")
    return Path(configured).expanduser() if configured else REPO_DIST


def _inside(root: Path, path: str) -> Path | None:
    """The file ``path`` names under ``root``, or None when it is not a file there (or escapes it)."""
    candidate = (root / path).resolve()
    if candidate.is_file() and candidate.is_relative_to(root.resolve()):
        return candidate
    return None


@router.get("/ui")
def ui_root() -> RedirectResponse:
    return RedirectResponse("ui/", status_code=307)


@router.get("/ui/{path:path}")
def ui_file(path: str) -> Response:
    root = dist_dir()
    index = root / "index.html"
    if not index.is_file():
        return HTMLResponse(NOT_BUILT_PAGE.format(dist=root), status_code=404)

    found = _inside(root, path) if path else None
    if found is not None and found != index.resolve():
        cache = IMMUTABLE if path.startswith("assets/") else "no-cache"
        return FileResponse(found, headers={"Cache-Control": cache})
    if path.startswith("assets/"):
        raise HTTPException(status_code=404, detail=f"no asset `{path}` in the built app")
    return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})
