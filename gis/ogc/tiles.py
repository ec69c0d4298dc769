"""Vector tiles (Mapbox Vector Tile) of a layer for a role, in the WebMercatorQuad tile matrix set.

PostGIS cuts, simplifies for the zoom and encodes (``ST_AsMVTGeom``/``ST_AsMVT``); the tile matrix
comes from morecantile. Only the columns the role may read go into a tile.

A feature whose bounding box is under half a cell of the tile's grid (1/4096 of the tile) is too
small to draw at that zoom: in layers marked ``small_as_points`` it is a point on its surface, in
others it is left out before it is transformed (what ``ST_AsMVTGeom`` would mostly drop after the
work; a z2 tile of 90,000 buildings cost 370 ms to come out empty).
"""

from __future__ import annotations

import math
from typing import Any

import morecantile
import shapely
from sqlalchemy import Engine, LargeBinary, Select, Text, bindparam, case, cast, func, literal_column, select

from gis.crs import search_area
from gis.errors import TileError
from gis.registry import LayerDef
from gis.roles import Role, visible_fields
from gis.store import layers
from gis.store.engine import reading

TMS = morecantile.tms.get("WebMercatorQuad")
EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
OVERVIEW_BELOW = 13  # zooms below this get the layer's overview_fields only
_queries: dict[tuple[Any, ...], Select[Any]] = {}  # the tile query per layer, fields and working CRS


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile's bounds in EPSG:3857 (tile row y from the top, as OGC and XYZ count)."""
    if not 0 <= z <= MAX_ZOOM or not (0 <= x < 2**z and 0 <= y < 2**z):
        raise TileError(f"no tile {z}/{y}/{x} in WebMercatorQuad (zoom 0–{MAX_ZOOM}, row and col 0–2^zoom−1)")
    b = TMS.xy_bounds(morecantile.Tile(x=x, y=y, z=z))
    return (b.left, b.bottom, b.right, b.top)


def tile_fields(layer: LayerDef, role: Role, z: int = MAX_ZOOM) -> list[str]:
    """The columns a tile carries: those the role may read, thinned to the overview below zoom 13."""
    fields = visible_fields(layer, role)
    if z < OVERVIEW_BELOW and layer.overview_fields:
        fields = [f for f in fields if f in layer.overview_fields]
    return fields


def render(engine: Engine, layer: LayerDef, role: Role, z: int, x: int, y: int, *, working_srid: int) -> bytes:
    """One MVT tile (bytes; empty when no feature touches the tile)."""
    xmin, ymin, xmax, ymax = tile_bounds(z, x, y)
    area = search_area((xmin, ymin, xmax, ymax), 3857, working_srid)
    if area is None:  # the tile lies wholly outside the working CRS's zone: nothing is there
        return b""
    params = {
        "xmin": xmin,
        "ymin": ymin,
        "xmax": xmax,
        "ymax": ymax,
        # simplify to a quarter of a tile pixel, in the layer's own metres, before cutting
        "tol": (xmax - xmin) / EXTENT / 4,
        "small": small_size(xmin, ymin, xmax, ymax),
        "area": shapely.to_wkb(area),
        "name": layer.id,
    }
    with reading(engine) as conn:
        data = conn.execute(_tile_sql(layer, tuple(tile_fields(layer, role, z)), working_srid), params).scalar()
    return bytes(data or b"")


def small_size(xmin: float, ymin: float, xmax: float, ymax: float) -> float:
    """The diagonal, in ground metres, under which a feature is too small to draw in the tile: half a
    cell of its grid where a metre is largest in it (a Web Mercator metre is ``cos(latitude)`` of a
    ground metre, so the tile edge nearer a pole)."""
    cell = (xmax - xmin) / EXTENT
    y = max(abs(ymin), abs(ymax))
    latitude = math.atan(math.sinh(y / 6378137.0))
    return 0.5 * cell * math.cos(latitude)


def _tile_sql(layer: LayerDef, fields: tuple[str, ...], working_srid: int) -> Select[Any]:
    """The tile query of a layer and its fields, built once and kept (a tile is asked for thousands
    of times: building the expression each time was a quarter of a small tile's time); every value
    is a bound parameter."""
    key = (layer.id, layer.table, layer.small_as_points, fields, working_srid)
    kept = _queries.get(key)
    if kept is not None:
        return kept
    t = layers.layer_table(layer, list(fields))
    envelope = func.ST_MakeEnvelope(bindparam("xmin"), bindparam("ymin"), bindparam("xmax"), bindparam("ymax"), 3857)
    geom: Any = func.ST_AsMVTGeom(
        func.ST_Transform(func.ST_Simplify(t.c.geom, bindparam("tol"), True), 3857), envelope, EXTENT, BUFFER, True
    )
    small = func.ST_Length(func.ST_BoundingDiagonal(t.c.geom)) < bindparam("small")  # the stored box: no points read
    area = func.ST_GeomFromWKB(bindparam("area", type_=LargeBinary), working_srid)
    where: list[Any] = [t.c.geom.op("&&")(area)]
    if layer.small_as_points:  # too small for the zoom, or collapsed by it: a point on its surface instead
        spot = func.ST_AsMVTGeom(
            func.ST_Transform(func.ST_PointOnSurface(t.c.geom), 3857), envelope, EXTENT, BUFFER, True
        )
        geom = case((small, spot), else_=func.coalesce(geom, spot))
    elif not any("Point" in kind for kind in layer.geometry):  # a point has no size: it is always drawn
        where.append(~small)
    types = {f.id: f.type for f in layer.fields}
    props: list[Any] = []
    for f in fields:
        col: Any = t.c[f]
        if types.get(f) == "codes":
            col = func.array_to_string(col, ",")  # MVT values are scalars
        elif types.get(f) in ("date", "datetime"):
            col = cast(col, Text)
        props.append(col.label(f))
    inner = select(t.c.fid, geom.label("mvtgeom"), *props).where(*where).subquery("mvt")
    query = select(func.ST_AsMVT(literal_column("mvt.*"), bindparam("name"), EXTENT, "mvtgeom", "fid")).select_from(
        inner
    )
    _queries[key] = query
    return query
