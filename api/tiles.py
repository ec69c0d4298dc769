"""Vector tiles and TileJSON per collection (OGC API – Tiles paths), for the caller's role."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import JSONResponse, Response

from api.deps import CollectionDep, RoleDep, WorkspaceDep
from api.lanes import in_read_lane
from gis.ogc import features, tiles
from gis.ogc.tile_cache import TileCache

router = APIRouter(prefix="/ogc", tags=["Vector tiles"])
MVT = "application/vnd.mapbox-vector-tile"


def _srid(ws: Any) -> int:
    crs = ws.working_crs
    if crs is None:
        raise HTTPException(404, "this database has no layers yet")
    srid: int = crs.to_epsg()
    return srid


@router.get("/collections/{collection_id}/tiles/WebMercatorQuad/{z}/{y}/{x}", summary="A vector tile (MVT)")
async def tile(
    request: Request,
    ws: WorkspaceDep,
    role: RoleDep,
    layer: CollectionDep,
    z: Annotated[int, Path(ge=0, le=tiles.MAX_ZOOM)],
    y: Annotated[int, Path(ge=0, le=2**tiles.MAX_ZOOM)],
    x: Annotated[int, Path(ge=0, le=2**tiles.MAX_ZOOM)],
) -> Response:
    cache: TileCache = request.app.state.tiles  # kept until the layer changes (gis.ogc.tile_cache)
    try:
        found = await in_read_lane(request, cache.tile, ws.reader(role), layer, role, z, x, y, working_srid=_srid(ws))
    except tiles.TileError as exc:
        raise HTTPException(404, str(exc)) from None
    # no-cache: clients keep the tile but ask again each time; an unchanged tile costs a 304, and an
    # edited area is never served stale
    headers = {
        "ETag": found.etag,
        "Cache-Control": "no-cache" if role == "public" else "private, no-cache",
        "Vary": "Authorization",
    }
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    return Response(content=found.data, media_type=MVT, headers=headers)


@router.get("/collections/{collection_id}/tiles/WebMercatorQuad/tilejson.json", summary="TileJSON of the collection")
def tilejson(request: Request, ws: WorkspaceDep, role: RoleDep, layer: CollectionDep) -> JSONResponse:
    base = str(request.base_url).rstrip("/")
    box = features.extent(ws.reader(role), layer) or [-180.0, -85.0511, 180.0, 85.0511]
    body = {
        "tilejson": "3.0.0",
        "name": layer.id,
        "description": f"{layer.label.zh} {layer.label.en}",
        "tiles": [f"{base}/ogc/collections/{layer.id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"],
        "minzoom": 0,
        "maxzoom": tiles.MAX_ZOOM,
        "bounds": box,
        "center": [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, 15],
        "vector_layers": [
            {
                "id": layer.id,
                "fields": {f: "String" for f in tiles.tile_fields(layer, role)},
                "minzoom": 0,
                "maxzoom": 22,
            }
        ],
        "attribution": "© OpenStreetMap contributors (ODbL) where the data derive from OSM",
    }
    return JSONResponse(body)
