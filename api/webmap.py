"""The web map: the page at ``/``, its static files (own and npm-installed), and the JSON it reads.

Nothing here computes: the configuration comes from ``gis.export.webmap``, the gap results from
``gis.gaps.runs`` (the one meaning of "latest result"), catchments and progress from the workspace,
filtered by the caller's role.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from api.deps import CallerDep, IdPath, RoleDep, WorkspaceDep, require_planner
from api.heavy import HEAVY
from gis.assets import AssetsMissingError, static_dir, vendor_dir, vendor_file
from gis.errors import NotFoundError
from gis.export import webmap
from gis.gaps import runs

router = APIRouter(tags=["Web map"])
NO_CACHE = {"Cache-Control": "no-cache"}


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    try:
        vendor_file("maplibre-gl", "dist/maplibre-gl.js")
    except AssetsMissingError as exc:  # the API works without them; the page cannot
        raise HTTPException(503, str(exc)) from None
    return FileResponse(static_dir() / "index.html", headers=NO_CACHE)


@router.get("/api/map/config", summary="What the web map shows for the caller's role")
def config(ws: WorkspaceDep, role: RoleDep) -> dict[str, Any]:
    if ws.working_crs is None:
        raise HTTPException(503, "the database holds no layers yet: load data first (gisplan load / gisplan demo)")
    s = ws.settings
    basemap = webmap.Basemap(s.basemap_url, s.basemap_attribution) if s.basemap_url else None
    state = webmap.map_state(ws.reader(role), ws.registry)
    cfg = webmap.map_config(ws.registry, role, state, attribution=s.attribution, basemap=basemap)
    cfg["progress"] = role != "public"  # overdue marks and street figures are for planners
    return cfg


def _facility(ws: WorkspaceDep, facility: str) -> str:
    try:
        return ws.facility_type(facility)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/api/map/gaps/{facility}", summary="The latest gap results of a facility type, per compound")
def gaps(ws: WorkspaceDep, role: RoleDep, facility: str) -> dict[str, Any]:
    found = runs.gap_by_compound(ws.reader(role), _facility(ws, facility))
    if found is None:
        raise HTTPException(404, f"{facility} has not been analysed yet (gisplan gaps / POST /api/gaps)")
    return found


@router.get("/api/map/compounds/{compound_id}/gaps", summary="One compound's latest gap results")
def compound_gaps(ws: WorkspaceDep, role: RoleDep, compound_id: IdPath) -> dict[str, Any]:
    return {"compound": compound_id, "gaps": runs.compound_gaps(ws.reader(role), compound_id)}


@router.get(
    "/api/map/catchments/{facility}", summary="A facility type's walking catchment (GeoJSON, CRS84)", dependencies=HEAVY
)
def catchment(
    ws: WorkspaceDep,
    facility: str,
    standard: str = Query("gb50180", pattern=r"^[A-Za-z0-9_\-]{1,64}$"),
) -> JSONResponse:
    code = _facility(ws, facility)
    try:
        area = ws.catchment(code, standard=standard)
    except (KeyError, ValueError, FileNotFoundError) as exc:
        raise HTTPException(404, str(exc).strip("'\"")) from None
    body = json.loads(area.to_crs(4326).to_json(drop_id=True))
    return JSONResponse(body, media_type="application/geo+json")


@router.get("/api/map/progress", summary="The progress map's data: stages, overdue projects, street figures (planners)")
def progress(ws: WorkspaceDep, caller: CallerDep) -> dict[str, Any]:
    require_planner(caller, "the programme's progress")
    found = ws.progress_overview()
    if found is None:
        raise HTTPException(404, "no renovation programme yet (gisplan progress import)")
    return found


def mount_static(app: FastAPI) -> None:
    """The page's own files and the npm packages it uses, served by the app (no CDN). Without the
    npm assets (``make assets``) the API still serves; the page at ``/`` answers 503 saying why."""
    vendor = vendor_dir() / "maplibre-gl" / "dist"
    app.mount("/static/vendor/maplibre-gl", StaticFiles(directory=vendor, check_dir=False))
    swagger = vendor_dir() / "swagger-ui-dist"  # the /docs page's (api.apidoc)
    app.mount("/static/vendor/swagger-ui-dist", StaticFiles(directory=swagger, check_dir=False))
    app.mount("/static", StaticFiles(directory=static_dir()))
