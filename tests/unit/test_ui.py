"""The built Vue app is served at /mcs/ui/: files as they are, other paths get index.html."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mcs.api import ui


@pytest.fixture
def dist(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__MCS__UI_DIST", str(tmp_path))
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=app></div>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "mcs.svg").write_text("<svg/>")
    return tmp_path


@pytest.fixture
def client():
    app = FastAPI()
    app.include_router(ui.router)
    return TestClient(app)


def test_index_is_served_at_the_root(dist, client):
    answer = client.get("/ui/")

    assert answer.status_code == 200
    assert answer.text == "<!doctype html><div id=app></div>"
    assert answer.headers["cache-control"] == "no-cache"


def test_app_route_falls_back_to_index(dist, client):
    answer = client.get("/ui/runs/12")

    assert answer.status_code == 200
    assert answer.text == "<!doctype html><div id=app></div>"


def test_hashed_asset_is_cached_for_good(dist, client):
    answer = client.get("/ui/assets/index-abc123.js")

    assert answer.status_code == 200
    assert answer.text == "console.log(1)"
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_missing_asset_is_404_not_html(dist, client):
    answer = client.get("/ui/assets/gone-999.js")

    assert answer.status_code == 404
    assert answer.json() == {"detail": "no asset `assets/gone-999.js` in the built app"}


def test_path_outside_dist_gets_index_not_the_file(dist, client):
    (dist.parent / "secret.txt").write_text("no")

    answer = client.get("/ui/..%2Fsecret.txt")

    assert answer.text == "<!doctype html><div id=app></div>"


def test_root_without_slash_redirects(dist, client):
    answer = client.get("/ui", follow_redirects=False)

    assert answer.status_code == 307
    assert answer.headers["location"] == "ui/"


def test_unbuilt_app_answers_404_saying_how_to_build(tmp_path, monkeypatch, client):
    monkeypatch.setenv("AIRFLOW__MCS__UI_DIST", str(tmp_path / "missing"))

    answer = client.get("/ui/workflows")

    assert answer.status_code == 404
    assert "npm run build" in answer.text
