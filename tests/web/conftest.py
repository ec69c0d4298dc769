"""Headless Chromium (Debian's, driven by Playwright) with every host but 127.0.0.1 unresolvable,
and the web map served over the whole sample with a gap analysis run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Request, sync_playwright

from api.main import create_app
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers.browser import ARGS, CHROMIUM, GAP_TYPES, Watched
from tests.helpers.live import serve


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def watched(browser: Browser) -> Iterator[Any]:
    """Open pages that record every request and every console error / uncaught exception."""
    contexts = []

    def open_page() -> Watched:
        ctx = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
        contexts.append(ctx)
        page = ctx.new_page()
        w = Watched(page)

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error":
                w.errors.append(msg.text)

        def on_request(req: Request) -> None:
            w.requests.append(req.url)

        page.on("console", on_console)
        page.on("pageerror", lambda exc: w.errors.append(f"uncaught: {exc}"))
        page.on("request", on_request)
        return w

    yield open_page
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def site(ws: Workspace, tmp_path: Path) -> Iterator[tuple[str, str, Workspace]]:
    """The whole sample loaded and analysed, its programme advanced to today (as the demo does),
    the app served; yields (base URL, planner token, ws). Tests that use it are marked ``sample``."""
    assert len(ws.layer("compounds")), "mark the test `sample`: its database is then the prepared sample"
    assert set(GAP_TYPES) <= set(ws.gap_run().results["facility_type"])
    token = add_user(ws.engine, "规划师", "planner")
    with serve(create_app(workspace=ws)) as base:
        yield base, token, ws
