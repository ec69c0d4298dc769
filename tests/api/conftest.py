"""The live API server the API tests talk to, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.main import create_app
from gis.demo import sample_path
from gis.settings import Settings
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers.live import serve
from tests.helpers.served import serve_process


@pytest.fixture
def server(ws: Workspace) -> Iterator[tuple[str, str]]:
    """The sample loaded, the API served on a free port; yields (base URL, a planner's token)."""
    token = _sample(ws)
    with serve(create_app(workspace=ws)) as base:
        yield base, token


@pytest.fixture
def server_process(ws: Workspace, settings: Settings, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """As :func:`server`, but ``gisplan serve`` in a process of its own: a client that works hard
    (a fuzzer) then has a core of its own and does not share the server's interpreter lock."""
    token = _sample(ws)
    env = {
        "GISPLAN_DATABASE_URL": str(settings.database_url),
        "GISPLAN_OWNER_DATABASE_URL": str(settings.owner_database_url),
        "GISPLAN_HOME": str(settings.home),
    }
    with serve_process(env, tmp_path / "serve.log", ready="/ogc") as served:
        yield served.base, token


def _sample(ws: Workspace) -> str:
    for layer in ("compounds", "facilities", "roads", "pipelines"):
        ws.load(layer, sample_path(), source_layer=layer)
    return add_user(ws.engine, "规划师", "planner")
