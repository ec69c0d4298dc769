"""The live API server the API tests talk to, over real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from api.main import create_app
from gis.demo import sample_path
from gis.roles import add_user
from gis.workspace import Workspace


@pytest.fixture
def server(ws: Workspace) -> Iterator[tuple[str, str]]:
    """The sample loaded, the API served on a free port; yields (base URL, a planner's token)."""
    for layer in ("compounds", "facilities", "roads", "pipelines"):
        ws.load(layer, sample_path(), source_layer=layer)
    token = add_user(ws.engine, "规划师", "planner")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(workspace=ws), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", token
    srv.should_exit = True
    thread.join(timeout=10)
