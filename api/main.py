"""The FastAPI app: thin routers over the ``gis`` library (``create_app``, run by ``gisplan serve``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import analysis, edits, errors, exports, ogc, programme, tiles, users, webmap
from api.auth import FailureLimiter
from api.middleware import Guard
from api.workers import Workers
from gis.settings import Settings
from gis.workspace import Workspace, connect


def create_app(settings: Settings | None = None, *, workspace: Workspace | None = None) -> FastAPI:
    """Build the app. The workspace (database) opens when the app starts, not at import. An app that
    opens its own (``gisplan serve``) starts its worker processes then too; one given a workspace
    (tests, a notebook) starts them when first needed."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ws = workspace or connect(settings=settings or Settings())
        app.state.workspace = ws
        app.state.auth_limiter = FailureLimiter(ws.settings.auth_failures, ws.settings.auth_window_s)
        app.state.jobs = analysis.Jobs()
        app.state.workers = Workers(ws.worker_settings())
        if workspace is None:
            app.state.workers.warm()
        try:
            yield
        finally:
            app.state.workers.close()
            app.state.jobs.pool.shutdown(wait=True)
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
