"""Exports over HTTP, filtered by the caller's role (a public caller gets public layers and fields
only; restricted layers need a planner's token and ``restricted=true``).

Each route asks the workspace for the export's context (what the export draws, for the role) and
hands it to the export; nothing here reads the database."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from api.auth import Caller
from api.deps import CallerDep, IdPath, WorkspaceDep, require_planner
from api.heavy import HEAVY
from gis.errors import InvalidRequestError, NotFoundError
from gis.export import compound_report, gap_tables, gpkg, offline_map
from gis.roles import Role

router = APIRouter(prefix="/api/exports", tags=["Exports"], dependencies=HEAVY)  # every one reads whole layers

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RestrictedQ = Annotated[bool, Query(description="Include the restricted layers: planners only.")]


def _export_role(caller: Caller, restricted: bool) -> Role:
    if restricted:
        require_planner(caller, "an export with the restricted layers")
    return caller.role if restricted else "public"


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}


@router.get("/map.html", summary="The offline map: one self-contained HTML file")
async def map_html(
    ws: WorkspaceDep,
    caller: CallerDep,
    colour: Literal["stage", "gap", "progress"] = "stage",
    facility: Annotated[str | None, Query(max_length=64)] = None,
    catchment: bool = False,
    restricted: RestrictedQ = False,
) -> HTMLResponse:
    planner = _export_role(caller, restricted) != "public"
    if colour == "progress":
        require_planner(caller, "the progress map")
    try:
        fmap = await run_in_threadpool(
            ws.map, colour, facility=facility, catchment=catchment and facility is not None, planner=planner
        )
    except (NotFoundError, InvalidRequestError) as exc:
        raise HTTPException(404 if isinstance(exc, NotFoundError) else 400, str(exc)) from None
    page = await run_in_threadpool(offline_map.render_page, fmap)
    return HTMLResponse(page, headers=_attachment("gisplan-map.html"))


@router.get("/gisplan.gpkg", summary="All layers and the latest results, with QGIS styles")
async def gisplan_gpkg(ws: WorkspaceDep, caller: CallerDep, restricted: RestrictedQ = False) -> Response:
    ctx = await run_in_threadpool(ws.export_context, _export_role(caller, restricted), gpkg.NEEDS)
    with tempfile.TemporaryDirectory(prefix="gisplan-export-") as tmp:
        path = Path(tmp) / "gisplan.gpkg"
        await run_in_threadpool(gpkg.export_gpkg, ctx, path)
        data = path.read_bytes()
    return Response(data, media_type="application/geopackage+sqlite3", headers=_attachment("gisplan.gpkg"))


@router.get("/gaps.xlsx", summary="Gap tables by street and district (XLSX)")
async def gaps_xlsx(ws: WorkspaceDep) -> Response:
    return await _tables(ws, "gaps.xlsx", "street", XLSX)


@router.get("/gaps.csv", summary="Gap table by street or district (CSV, UTF-8 with BOM)")
async def gaps_csv(ws: WorkspaceDep, by: Literal["street", "district"] = "street") -> Response:
    return await _tables(ws, f"gaps-by-{by}.csv", by, "text/csv; charset=utf-8")


async def _tables(ws: WorkspaceDep, name: str, by: str, media: str) -> Response:
    ctx = await run_in_threadpool(ws.export_context, "public", gap_tables.NEEDS)
    with tempfile.TemporaryDirectory(prefix="gisplan-export-") as tmp:
        path = Path(tmp) / name
        try:
            await run_in_threadpool(gap_tables.export_tables, ctx, path, by=by)
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from None
        data = path.read_bytes()
    return Response(data, media_type=media, headers=_attachment(name))


@router.get("/reports/{compound_id}.html", summary="The per-compound report 一区一策 (printable HTML)")
async def report(
    ws: WorkspaceDep, caller: CallerDep, compound_id: IdPath, restricted: RestrictedQ = False
) -> HTMLResponse:
    ctx = await run_in_threadpool(ws.export_context, _export_role(caller, restricted), compound_report.NEEDS)
    try:
        page = await run_in_threadpool(compound_report.compound_report, ctx, compound_id)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    return HTMLResponse(page)
