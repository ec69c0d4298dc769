"""The live API server the API tests talk to, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.main import create_app
from gis.demo import sample_path
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers.live import serve


@pytest.fixture
def server(ws: Workspace) -> Iterator[tuple[str, str]]:
    """The sample loaded, the API served on a free port; yields (base URL, a planner's token)."""
    for layer in ("compounds", "facilities", "roads", "pipelines"):
        ws.load(layer, sample_path(), source_layer=layer)
    token = add_user(ws.engine, "规划师", "planner")
    with serve(create_app(workspace=ws)) as base:
        yield base, token
