"""The FastAPI app: thin routers over the ``gis`` library (``create_app``, run by ``gisplan serve``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api import (
    acceptance,
    analysis,
    apidoc,
    assessment,
    edits,
    errors,
    evidence,
    exports,
    findings,
    funds,
    health,
    ogc,
    programme,
    residents,
    tiles,
    users,
    webmap,
)
from api.auth import FailureLimiter
from api.heavy import Slots
from api.lanes import read_lane
from api.middleware import Guard
from api.workers import Workers
from gis.jobs import Runner
from gis.ogc.tile_cache import TileCache
from gis.residents.rules import residents_rules
from gis.settings import Settings
from gis.store.engine import database_fault, engine_url
from gis.workspace import Workspace, connect

log = logging.getLogger("gisplan.api")
RECHECK_S = 2.0


def check_schema(ws: Workspace) -> bool:
    """Bring the schema up to date (migrations only when it is behind) and check it; False when the
    database is unavailable (any other failure is raised: gisplan must not serve a wrong schema)."""
    try:
        ws.check()
    except Exception as error:
        if database_fault(error) is None:
            raise
        return False
    return True


async def check_when_up(ws: Workspace) -> None:
    """Started when the database was down as the app started: check the schema once it answers."""
    while True:
        await asyncio.sleep(RECHECK_S)
        try:
            if await run_in_threadpool(check_schema, ws):
                log.warning("the database answers: schema checked, gisplan is ready")
                return
        except Exception:
            log.exception("the schema check failed; /readyz answers 503 until gisplan is restarted")
            return


def create_app(settings: Settings | None = None, *, workspace: Workspace | None = None) -> FastAPI:
    """Build the app. The workspace opens when the app starts, not at import. An app that opens its
    own (``gisplan serve``) checks the schema then (migrating only when it is behind) and starts its
    worker processes; when the database is down it starts all the same (requests answer 503 and
    ``/readyz`` says why) and checks the schema once the database answers. One given a workspace
    (tests, a notebook) does neither: its owner did.

    Also the factory each ``gisplan serve --workers N`` process calls (settings from the environment):
    whatever the processes share is in the database."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ws = workspace or connect(settings=settings or Settings(), check=False, serving=True)
        waiting = None
        if workspace is None and not check_schema(ws):
            log.warning("the database is unavailable: serving anyway (503 until it answers; see /readyz)")
            waiting = asyncio.create_task(check_when_up(ws))
        app.state.workspace = ws
        app.state.auth_limiter = FailureLimiter(ws.settings.auth_failures, ws.settings.auth_window_s)
        app.state.feedback_limiter = residents.FeedbackLimiter(residents_rules().feedback)  # the public's feedback
        # jobs and workers: the heavy requests' bound, this process's share of the job queue
        app.state.heavy = Slots(ws.settings.heavy_requests)
        app.state.read_lane = read_lane()  # tiles, pages and features are read in it (api.lanes)
        app.state.tiles = TileCache(int(ws.settings.tile_cache_mb * 2**20))  # kept until their layer changes
        app.state.openapi30 = {}  # the OGC API's 3.0 definition per base URL, written once (api.ogc)
        app.state.runner = Runner(ws.engine, ws.settings)
        app.state.runner.start()
        app.state.workers = Workers(ws.settings.model_copy(update={"database_url": engine_url(ws.engine)}))
        if workspace is None:
            app.state.workers.warm()
        try:
            yield
        finally:
            if waiting is not None:
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting
            app.state.runner.stop()  # stops a running job's child and marks the job: seconds, not the queue
            app.state.workers.close()
            if workspace is None:
                ws.close()

    app = FastAPI(
        title="gisplan",
        summary="老旧小区改造空间规划 · GIS planning for old residential compound renovation",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # api.apidoc serves /docs from the app's own files; no ReDoc (a CDN's script)
        redoc_url=None,
    )
    errors.install(app)
    app.add_middleware(Guard)  # the caller, the links' base, the security headers, the access log
    app.include_router(health.router)
    app.include_router(apidoc.router)
    app.include_router(ogc.router)
    app.include_router(tiles.router)
    app.include_router(edits.router)
    app.include_router(analysis.router)
    app.include_router(programme.router)
    app.include_router(evidence.router)
    app.include_router(acceptance.router)
    app.include_router(findings.router)
    app.include_router(funds.router)
    app.include_router(residents.router)
    app.include_router(assessment.router)
    app.include_router(exports.router)
    app.include_router(users.router)
    app.include_router(webmap.router)
    webmap.mount_static(app)
    return app
