"""The probes: ``/healthz`` (the process answers) and ``/readyz`` (the database answers and holds the
schema this gisplan needs). Public, tiny, and out of the access log while they answer 200."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import WorkspaceDep
from api.errors import RETRY_AFTER_S, problem
from gis.store import schema

router = APIRouter(tags=["Probes"])


@router.get("/healthz", summary="The process is up (200 while it lives; asks nothing of the database)")
async def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@router.get("/readyz", summary="Ready: the database answers and its schema is current (else 503 with the reason)")
def readyz(ws: WorkspaceDep) -> JSONResponse:
    state = schema.readiness(ws.engine)
    if not state.ready:
        response = problem(503, "Service Unavailable", state.reason or "not ready", "/readyz")
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
    return JSONResponse({"status": "ready", "schema": state.schema, "head": state.head})
