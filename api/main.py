"""The FastAPI app: thin routers over the ``gis`` library (``create_app``, run by ``gisplan serve``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import analysis, edits, errors, exports, ogc, programme, tiles, users, webmap
from api.auth import FailureLimiter
from api.heavy import Slots
from api.middleware import Guard
from gis.jobs import Runner
from gis.settings import Settings
from gis.workspace import Workspace, connect


def create_app(settings: Settings | None = None, *, workspace: Workspace | None = None) -> FastAPI:
    """Build the app. The workspace (database) opens when the app starts, not at import.

    Also the factory each ``gisplan serve --workers N`` process calls (settings from the environment):
    whatever the processes share is in the database."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ws = workspace or connect(settings=settings or Settings(), serving=True)
        app.state.workspace = ws
        app.state.auth_limiter = FailureLimiter(ws.settings.auth_failures, ws.settings.auth_window_s)
        # jobs and workers: the heavy requests' bound, this process's share of the job queue
        app.state.heavy = Slots(ws.settings.heavy_requests)
        app.state.runner = Runner(ws.engine, ws.settings)
        app.state.runner.start()
        try:
            yield
        finally:
            app.state.runner.stop()  # stops a running job's child and marks the job: seconds, not the queue
            if workspace is None:
                ws.close()

    app = FastAPI(
        title="gisplan",
        summary="老旧小区改造空间规划 · GIS planning for old residential compound renovation",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    app.add_middleware(Guard)  # the caller, the links' base, the security headers, the access log
    app.include_router(ogc.router)
    app.include_router(tiles.router)
    app.include_router(edits.router)
    app.include_router(analysis.router)
    app.include_router(programme.router)
    app.include_router(exports.router)
    app.include_router(users.router)
    app.include_router(webmap.router)
    webmap.mount_static(app)
    return app
