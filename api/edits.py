"""OGC API – Features Part 4 (create, replace, update, delete) for planners, with ETag / If-Match."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from api.auth import Caller
from api.deps import CallerDep, CollectionDep, IdPath, WorkspaceDep, require_planner
from gis.crs import parse_crs as parse_any_crs
from gis.ogc import edits, features
from gis.registry import LayerDef

router = APIRouter(prefix="/ogc", tags=["OGC API – Features, Part 4 (edits)"])


def _planner(caller: Caller) -> None:
    require_planner(caller, "editing")


async def _feature(request: Request) -> dict[str, Any]:
    body = await request.body()  # at most GISPLAN_MAX_FEATURE_MB: capped by api.bodies as it streamed
    try:
        data = json.loads(body)
    except ValueError:
        raise HTTPException(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "send a GeoJSON Feature object")
    return data


def _expected(layer: LayerDef, fid: int, if_match: str | None) -> int:
    if not if_match:
        raise HTTPException(428, "send If-Match with the ETag you read, so no one's change is lost")
    version = edits.version_from_etag(layer, fid, if_match)
    if version is None:
        raise HTTPException(412, "If-Match does not match this feature")
    return version


def _crs(ws: Any, content_crs: str | None) -> tuple[Any, Any]:
    working = ws.working_crs
    if working is None:
        raise HTTPException(404, "this database has no layers yet")
    out = features.parse_crs(content_crs.strip("<>") if content_crs else None, working.to_epsg())
    if out.lat_first:
        raise HTTPException(400, "send coordinates as longitude, latitude (CRS84) or in a projected CRS")
    return parse_any_crs(out.srid), working


@router.post("/collections/{collection_id}/items", status_code=201, summary="Create a feature (planners)")
async def create_item(
    request: Request,
    ws: WorkspaceDep,
    caller: CallerDep,
    layer: CollectionDep,
    content_crs: Annotated[str | None, Header()] = None,
) -> Response:
    _planner(caller)
    feature = await _feature(request)
    source, working = _crs(ws, content_crs)
    edit = edits.Edit(ws.registry, layer, source_crs=source, working_crs=working, actor=caller.actor)
    fid, version = edits.create(ws.engine, edit, feature)
    location = f"{str(request.base_url).rstrip('/')}/ogc/collections/{layer.id}/items/{fid}"
    return JSONResponse(
        {"id": fid}, status_code=201, headers={"Location": location, "ETag": edits.etag(layer, fid, version)}
    )


async def _replace(
    request: Request,
    ws: Any,
    caller: Caller,
    layer: LayerDef,
    fid: int,
    if_match: str | None,
    content_crs: str | None,
    partial: bool,
) -> Response:
    _planner(caller)
    expected = _expected(layer, fid, if_match)
    feature = await _feature(request)
    if partial:
        feature = {"type": "Feature", **feature}
    source, working = _crs(ws, content_crs)
    edit = edits.Edit(ws.registry, layer, source_crs=source, working_crs=working, actor=caller.actor)
    version = edits.replace(ws.engine, edit, fid, feature, expected_version=expected, partial=partial)
    return Response(status_code=204, headers={"ETag": edits.etag(layer, fid, version)})


@router.put("/collections/{collection_id}/items/{fid}", status_code=204, summary="Replace a feature (planners)")
async def replace_item(
    request: Request,
    ws: WorkspaceDep,
    caller: CallerDep,
    layer: CollectionDep,
    fid: IdPath,
    if_match: Annotated[str | None, Header()] = None,
    content_crs: Annotated[str | None, Header()] = None,
) -> Response:
    return await _replace(request, ws, caller, layer, fid, if_match, content_crs, partial=False)


@router.patch("/collections/{collection_id}/items/{fid}", status_code=204, summary="Update a feature (planners)")
async def update_item(
    request: Request,
    ws: WorkspaceDep,
    caller: CallerDep,
    layer: CollectionDep,
    fid: IdPath,
    if_match: Annotated[str | None, Header()] = None,
    content_crs: Annotated[str | None, Header()] = None,
) -> Response:
    return await _replace(request, ws, caller, layer, fid, if_match, content_crs, partial=True)


@router.delete("/collections/{collection_id}/items/{fid}", status_code=204, summary="Delete a feature (planners)")
def delete_item(
    ws: WorkspaceDep,
    caller: CallerDep,
    layer: CollectionDep,
    fid: IdPath,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    _planner(caller)
    expected = _expected(layer, fid, if_match)
    edits.delete(ws.engine, layer, fid, expected_version=expected, actor=caller.actor)
    return Response(status_code=204)
