"""OGC API – Features Part 4 (create, replace, update, delete) for planners, with ETag / If-Match.

The body is read on the event loop (capped as it streamed, :mod:`api.bodies`); parsing it, checking
and repairing the feature and its round trips to the database run in a worker process
(:mod:`api.workers`), so a 10 MB edit never holds up other requests.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from api import workers
from api.auth import Caller
from api.deps import CallerDep, CollectionDep, IdPath, WorkersDep, WorkspaceDep, require_planner
from gis.crs import parse_crs as parse_any_crs
from gis.errors import EditError, NotFoundError
from gis.ogc import edits, features
from gis.registry import LayerDef

router = APIRouter(prefix="/ogc", tags=["OGC API – Features, Part 4 (edits)"])


def _planner(caller: Caller, layer: LayerDef) -> None:
    require_planner(caller, "editing")
    edits.require_writable(layer)


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
        raise NotFoundError("this database has no layers yet")
    out = features.parse_crs(content_crs.strip("<>") if content_crs else None, working.to_epsg())
    if out.lat_first:
        raise EditError("send coordinates as longitude, latitude (CRS84) or in a projected CRS")
    return parse_any_crs(out.srid), working


@router.post("/collections/{collection_id}/items", status_code=201, summary="Create a feature (planners)")
async def create_item(
    request: Request,
    pool: WorkersDep,
    caller: CallerDep,
    layer: CollectionDep,
    content_crs: Annotated[str | None, Header()] = None,
) -> Response:
    _planner(caller, layer)
    body = await request.body()  # at most GISPLAN_MAX_FEATURE_MB: capped by api.bodies as it streamed
    fid, version = await pool.run(_create, layer.id, caller, body, content_crs)
    location = f"{str(request.base_url).rstrip('/')}/ogc/collections/{layer.id}/items/{fid}"
    return JSONResponse(
        {"id": fid}, status_code=201, headers={"Location": location, "ETag": edits.etag(layer, fid, version)}
    )


def _create(layer_id: str, caller: Caller, body: bytes, content_crs: str | None) -> tuple[int, int]:
    """In a worker process: insert the feature in ``body``; returns (fid, version)."""
    ws = workers.workspace()
    layer = ws.registry.layer(layer_id)
    feature = edits.parse_feature(body)
    source, working = _crs(ws, content_crs)
    edit = edits.Edit(ws.registry, layer, source_crs=source, working_crs=working, actor=caller.actor)
    return edits.create(ws.engine, edit, feature)


async def _replace(
    request: Request,
    pool: workers.Workers,
    caller: Caller,
    layer: LayerDef,
    fid: int,
    if_match: str | None,
    content_crs: str | None,
    partial: bool,
) -> Response:
    _planner(caller, layer)
    expected = _expected(layer, fid, if_match)
    body = await request.body()  # at most GISPLAN_MAX_FEATURE_MB: capped by api.bodies as it streamed
    version = await pool.run(_store, layer.id, caller, (fid, expected, partial), body, content_crs)
    return Response(status_code=204, headers={"ETag": edits.etag(layer, fid, version)})


def _store(layer_id: str, caller: Caller, change: tuple[int, int, bool], body: bytes, content_crs: str | None) -> int:
    """In a worker process: replace (or, ``partial``, update) feature ``fid`` expected at version
    ``expected``; returns the new version."""
    ws = workers.workspace()
    layer = ws.registry.layer(layer_id)
    fid, expected, partial = change
    feature = edits.parse_feature(body)
    if partial:
        feature = {"type": "Feature", **feature}
    source, working = _crs(ws, content_crs)
    edit = edits.Edit(ws.registry, layer, source_crs=source, working_crs=working, actor=caller.actor)
    return edits.replace(ws.engine, edit, fid, feature, expected_version=expected, partial=partial)


@router.put("/collections/{collection_id}/items/{fid}", status_code=204, summary="Replace a feature (planners)")
async def replace_item(
    request: Request,
    pool: WorkersDep,
    caller: CallerDep,
    layer: CollectionDep,
    fid: IdPath,
    if_match: Annotated[str | None, Header()] = None,
    content_crs: Annotated[str | None, Header()] = None,
) -> Response:
    return await _replace(request, pool, caller, layer, fid, if_match, content_crs, partial=False)


@router.patch("/collections/{collection_id}/items/{fid}", status_code=204, summary="Update a feature (planners)")
async def update_item(
    request: Request,
    pool: WorkersDep,
    caller: CallerDep,
    layer: CollectionDep,
    fid: IdPath,
    if_match: Annotated[str | None, Header()] = None,
    content_crs: Annotated[str | None, Header()] = None,
) -> Response:
    return await _replace(request, pool, caller, layer, fid, if_match, content_crs, partial=True)


@router.delete("/collections/{collection_id}/items/{fid}", status_code=204, summary="Delete a feature (planners)")
def delete_item(
    ws: WorkspaceDep,
    caller: CallerDep,
    layer: CollectionDep,
    fid: IdPath,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    _planner(caller, layer)
    expected = _expected(layer, fid, if_match)
    edits.delete(ws.engine, layer, fid, expected_version=expected, actor=caller.actor)
    return Response(status_code=204)
