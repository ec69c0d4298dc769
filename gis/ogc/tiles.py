"""Vector tiles (Mapbox Vector Tile) of a layer for a role, in the WebMercatorQuad tile matrix set.

PostGIS cuts, simplifies for the zoom and encodes (``ST_AsMVTGeom``/``ST_AsMVT``); a feature too
small to draw at the zoom is a point on its surface; the tile matrix comes from morecantile. Only
the columns the role may read go into a tile.
"""

from __future__ import annotations

from typing import Any

import morecantile
from sqlalchemy import Engine, bindparam, func, literal_column, select

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
    fields = tile_fields(layer, role, z)
    t = layers.layer_table(layer, fields)
    envelope = layers.envelope((xmin, ymin, xmax, ymax), 3857)
    # simplify to a quarter of a tile pixel, in the layer's own metres, before cutting
    tolerance = (xmax - xmin) / EXTENT / 4
    shape = func.ST_AsMVTGeom(
        func.ST_Transform(func.ST_Simplify(t.c.geom, bindparam("tol", tolerance), True), 3857),
        envelope,
        EXTENT,
        BUFFER,
        True,
    )
    # a feature smaller than a pixel collapses to nothing on the tile's grid (every compound of a
    # city at z0-z10): it is drawn as a point on its surface instead, so every zoom shows it
    spot = func.ST_AsMVTGeom(func.ST_Transform(func.ST_PointOnSurface(t.c.geom), 3857), envelope, EXTENT, BUFFER, True)
    geom = func.coalesce(shape, spot).label("mvtgeom")
    props: list[Any] = []
    for f in fields:
        fdef = next((d for d in layer.fields if d.id == f), None)
        col: Any = t.c[f]
        if fdef is not None and fdef.type == "codes":
            col = func.array_to_string(col, ",")  # MVT values are scalars
        elif fdef is not None and fdef.type == "date":
            col = func.cast(col, literal_column("text"))
        props.append(col.label(f))
    inner = (
        select(t.c.fid, geom, *props)
        .where(*layers.bbox_conditions(t, (xmin, ymin, xmax, ymax), 3857, working_srid, exact=False))
        .subquery("mvt")
    )
    query = select(func.ST_AsMVT(literal_column("mvt.*"), layer.id, EXTENT, "mvtgeom", "fid")).select_from(inner)
    with reading(engine) as conn:
        data = conn.execute(query).scalar()
    return bytes(data or b"")
