"""``/docs`` in headless Chromium with the network unplugged: Swagger UI from the app's own files."""

from __future__ import annotations

from typing import Any

from api.main import create_app
from gis.workspace import Workspace
from tests.helpers.live import serve


def test_docs_work_with_the_network_unplugged(ws: Workspace, watched: Any) -> None:
    with serve(create_app(workspace=ws)) as base:
        w = watched()
        w.page.goto(f"{base}/docs")
        # Swagger UI drew the operations of the API definition it fetched from the app
        w.page.wait_for_selector(".opblock", timeout=30_000)
        operations = w.page.locator(".opblock").count()
        paths = len(ws_paths(w.page.evaluate("fetch('/openapi.json').then(r => r.json())")))
        assert operations >= paths > 20
        assert w.outside() == [], "the page asked for something outside the server"
        assert w.errors == []
        assert "gisplan" in w.page.title()


def ws_paths(document: dict[str, Any]) -> list[str]:
    """The operations of an OpenAPI document (a path with two methods is two)."""
    return [f"{m} {p}" for p, item in document["paths"].items() for m in item]
