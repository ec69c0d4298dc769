"""Features of a layer as GeoJSON, for a role: the query engine behind OGC API – Features.

Identifiers come only from the layer registry; every value is a bound parameter. Geometries are
transformed and encoded by PostGIS. Coordinates follow each CRS's axis order as OGC API – Features
Part 2 requires: CRS84 and the projected CRSs east/north, EPSG:4326 and EPSG:4490 latitude first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    Engine,
    Text,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement

from gis.errors import QueryError
from gis.ogc import cql2
from gis.registry import LayerDef
from gis.roles import Role, visible_fields
from gis.store import layers
from gis.store.engine import reading

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"
LAT_FIRST = {4326, 4490}  # geographic CRSs whose EPSG axis order is latitude, longitude
# Counting a very large table exactly is slow: above this many rows numberMatched is an estimate.
EXACT_COUNT_LIMIT = 1_000_000


@dataclass(frozen=True)
class OutputCrs:
    uri: str
    srid: int
    lat_first: bool


def supported_crs(working_srid: int) -> list[str]:
    return [CRS84, EPSG_URI.format(4490), EPSG_URI.format(4326), EPSG_URI.format(3857), EPSG_URI.format(working_srid)]


def parse_crs(uri: str | None, working_srid: int) -> OutputCrs:
    """A CRS URI (or ``EPSG:n``) the service supports."""
    if uri is None or uri in (CRS84, "CRS84", "OGC:CRS84"):
        return OutputCrs(CRS84, 4326, False)
    code = uri.rsplit("/", 1)[-1] if uri.startswith("http") else uri.removeprefix("EPSG:")
    if not (code.isascii() and code.isdigit()) or EPSG_URI.format(int(code)) not in supported_crs(working_srid):
        raise QueryError(f"unsupported crs {uri!r}; supported: {', '.join(supported_crs(working_srid))}")
    srid = int(code)
    return OutputCrs(EPSG_URI.format(srid), srid, srid in LAT_FIRST)


def _columns(layer: LayerDef, role: Role) -> list[str]:
    cols = visible_fields(layer, role)
    if role != "public":
        cols += ["source", "source_key", "extra", "version"]
    return cols


def queryable_fields(layer: LayerDef, role: Role) -> list[str]:
    """Columns a role may filter and sort on (its readable columns, less the JSON of extras)."""
    return [c for c in _columns(layer, role) if c != "extra"]


SYSTEM_TYPES = {"source": "text", "source_key": "text", "synthetic": "text", "version": "integer"}
MAX_OFFSET = 10**9  # paging further than this is a bad request, not a database error
BBOX_LIMITS = {4326: (180.0, 90.0), 4490: (180.0, 90.0), 3857: (20037508.35, 20048966.11)}


def field_type(layer: LayerDef, name: str) -> str:
    """The type of a field or system column (``text``, ``integer``, ``codes`` ...)."""
    if name in SYSTEM_TYPES:
        return SYSTEM_TYPES[name]
    return layer.field(name).type


def coerce_filter(layer: LayerDef, name: str, raw: str) -> Any:
    """A property filter value typed like its field; a QueryError when it cannot be one.

    ``synthetic`` takes true or false: the features whose values are made up, or the others.
    """
    kind = "boolean" if name == "synthetic" else field_type(layer, name)
    try:
        if kind == "integer":
            return int(cql2.number_value(int(raw)))
        if kind == "number":
            return float(cql2.number_value(float(raw)))
        if kind == "date":
            return date.fromisoformat(raw)
        if kind == "datetime":
            moment = datetime.fromisoformat(raw)
            if moment.tzinfo is None:
                raise ValueError(raw)  # a time without its offset names no instant
            return moment
    except (ValueError, QueryError):
        raise QueryError(f"{name}={raw[:80]!r}: not {'an' if kind == 'integer' else 'a'} {kind}") from None
    if kind == "boolean":
        if raw.lower() not in BOOLEANS:
            raise QueryError(f"{name}={raw[:80]!r}: not a boolean (true or false)")
        return BOOLEANS[raw.lower()]
    return cql2.text_value(raw, f"the value of {name}")


BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def bbox_box(bbox: tuple[float, ...], bbox_crs: OutputCrs) -> tuple[float, float, float, float]:
    """A 4- or 6-number bbox in ``bbox_crs`` as (minx, miny, maxx, maxy) east/north, finite and
    within the CRS's range (longitude/latitude for CRS84, EPSG:4326 and 4490; the Web Mercator square)."""
    if len(bbox) not in (4, 6):
        raise QueryError("bbox takes 4 numbers: minx,miny,maxx,maxy")
    if not all(math.isfinite(v) for v in bbox):
        raise QueryError("bbox: every number must be finite (no nan or inf)")
    minx, miny, maxx, maxy = bbox[:4] if len(bbox) == 4 else (bbox[0], bbox[1], bbox[3], bbox[4])
    if bbox_crs.lat_first:
        minx, miny, maxx, maxy = miny, minx, maxy, maxx
    limits = BBOX_LIMITS.get(bbox_crs.srid)
    if limits and not (max(abs(minx), abs(maxx)) <= limits[0] and max(abs(miny), abs(maxy)) <= limits[1]):
        raise QueryError(
            f"bbox {list(bbox)} lies outside {bbox_crs.uri} (x within ±{limits[0]}, y within ±{limits[1]})"
        )
    if limits is None and max(abs(v) for v in bbox) > 1e8:
        raise QueryError(f"bbox {list(bbox)}: coordinates beyond ±1e8 m in {bbox_crs.uri}")
    return float(minx), float(miny), float(maxx), float(maxy)


def _where(t: Any, layer: LayerDef, role: Role, query: ItemsQuery, working_srid: int) -> list[ColumnElement[bool]]:
    unknown = [name for name in query.filters if name not in visible_fields(layer, role)]
    if unknown:
        raise QueryError(f"{unknown[0]} is not a queryable of {layer.id}")
    conditions = layers.equal_conditions(t, layer, query.filters)
    if query.bbox is not None:
        box = bbox_box(query.bbox, query.bbox_crs)
        conditions += layers.bbox_conditions(t, box, query.bbox_crs.srid, working_srid)
    return conditions


def cql2_condition(t: Any, layer: LayerDef, role: Role, expression: str, lang: str = "cql2-text") -> Any:
    """A CQL2 filter (text or JSON) as a SQL condition with bound values (see gis.ogc.cql2).

    Only the role's queryable fields (and ``geometry``, compared in CRS84) may appear, each compared
    with a value of its own type; anything else is a QueryError, as is an expression that does not parse.
    """
    tree = cql2.parse(expression, lang)
    columns = {name: cql2.Column(t.c[name], field_type(layer, name)) for name in queryable_fields(layer, role)}
    columns["geometry"] = cql2.Column(func.ST_Transform(t.c.geom, 4326, type_=Geometry(srid=4326)), "geometry")
    return cql2.compile_filter(tree, columns, layer.id, lang)


def sort_order(t: Any, layer: LayerDef, role: Role, sortby: str | None) -> list[Any]:
    """``sortby=+name,-built_year`` as ORDER BY terms (fid last, so paging is stable)."""
    terms: list[Any] = []
    for part in (sortby or "").split(","):
        part = part.strip()
        if not part:
            continue
        desc = part.startswith("-")
        name = part.lstrip("+-").strip()
        if name not in queryable_fields(layer, role):
            raise QueryError(f"cannot sort by {name!r}; sortable: {', '.join(queryable_fields(layer, role))}")
        terms.append(t.c[name].desc().nulls_last() if desc else t.c[name].asc().nulls_last())
    return [*terms, t.c.fid]


def _geojson(out: OutputCrs) -> Any:
    geom = func.ST_Transform(literal_column("geom"), out.srid)
    if out.lat_first:
        geom = func.ST_FlipCoordinates(geom)
    digits = 7 if out.srid in (4326, 4490) else 2
    return func.cast(func.ST_AsGeoJSON(geom, digits), JSON).label("__geometry")


def _json_value(value: Any) -> Any:
    """A property as JSON holds it: a date or a time as ISO 8601 text, as the items' SQL writes it."""
    return value.isoformat() if isinstance(value, date) else value  # a datetime is a date too


def _feature(row: Any, cols: list[str]) -> dict[str, Any]:
    props = {c: _json_value(row._mapping[c]) for c in cols}
    return {"type": "Feature", "id": row._mapping["fid"], "geometry": row.__geometry, "properties": props}


@dataclass
class ItemsQuery:
    """What an items request asks for (OGC API – Features Parts 1–3 query parameters)."""

    bbox: tuple[float, ...] | None = None
    bbox_crs: OutputCrs = field(default_factory=lambda: OutputCrs(CRS84, 4326, False))
    crs: OutputCrs = field(default_factory=lambda: OutputCrs(CRS84, 4326, False))
    limit: int = 100
    offset: int = 0
    filters: dict[str, Any] = field(default_factory=dict)
    cql: str | None = None
    cql_lang: str = "cql2-text"
    sortby: str | None = None
    properties: list[str] | None = None
    as_of: datetime | None = None  # the layer as it stood at this instant (rebuilt from the audit)


def items(
    engine: Engine, layer: LayerDef, role: Role, query: ItemsQuery, *, working_srid: int
) -> tuple[list[str], int, bool]:
    """Features as GeoJSON text (in ``sortby`` order, then ``fid``), the number matched and whether
    that number is an estimate. With ``query.as_of`` the same query runs over the layer as it stood
    then (:func:`gis.store.layers.layer_source`), the role's columns only, counted exactly."""
    if not 0 <= query.offset <= MAX_OFFSET:
        raise QueryError(f"offset {query.offset} is outside 0..{MAX_OFFSET}")
    if query.limit < 1:
        raise QueryError("limit must be at least 1")
    cols = _columns(layer, role)
    t = layers.layer_source(layer, cols, as_of=query.as_of, srid=working_srid)
    conditions = _where(t, layer, role, query, working_srid)
    if query.cql:
        conditions.append(cql2_condition(t, layer, role, query.cql, query.cql_lang))
    if query.properties is not None:
        unknown = [p for p in query.properties if p not in cols]
        if unknown:
            raise QueryError(f"unknown properties {', '.join(unknown)}; available: {', '.join(cols)}")
        cols = query.properties
    # PostgreSQL writes each feature's GeoJSON: no Python dict per feature, no second encoding
    properties = func.json_build_object(*[x for c in cols for x in (literal(c), t.c[c])])
    geometry = type_coerce(_geojson(query.crs).element, JSON)
    feature_json = func.json_build_object(
        "type", "Feature", "id", t.c.fid, "geometry", geometry, "properties", properties
    )
    page = (
        select(cast(feature_json, Text))
        .where(*conditions)
        .order_by(*sort_order(t, layer, role, query.sortby))
        .limit(bindparam("lim", query.limit))
        .offset(bindparam("off", query.offset))
    )
    with reading(engine) as conn:  # the page, then its count: each a statement of its own
        rows = conn.execute(page).scalars().all()
        if conditions or query.as_of is not None:
            if (rows and len(rows) < query.limit) or (not rows and query.offset == 0):
                # a short page is the last: what matched is what came before it and in it (a bbox
                # page of 46 features cost a second statement and round trip for this number)
                return list(rows), query.offset + len(rows), False
            matched = conn.execute(select(func.count()).select_from(t).where(*conditions)).scalar_one()
            return list(rows), int(matched), False
    # the whole layer: its count is kept until the layer changes
    total, estimated = layers.count(engine, layer, estimate_above=EXACT_COUNT_LIMIT)
    return list(rows), total, estimated


def item(
    engine: Engine,
    layer: LayerDef,
    role: Role,
    fid: int,
    *,
    crs: OutputCrs | None = None,
    as_of: datetime | None = None,
    working_srid: int = 0,
) -> dict[str, Any] | None:
    """One feature as a GeoJSON dict for the role (None: no such feature); ``as_of``: as it stood
    then (rebuilt in ``working_srid``)."""
    out = crs or OutputCrs(CRS84, 4326, False)
    cols = _columns(layer, role)
    t = layers.layer_source(layer, cols, as_of=as_of, srid=working_srid)
    with reading(engine) as conn:
        row = conn.execute(select(t.c.fid, *[t.c[c] for c in cols], _geojson(out)).where(t.c.fid == fid)).first()
    return _feature(row, cols) if row else None


def extent(engine: Engine, layer: LayerDef) -> list[float] | None:
    """The layer's bounding box in CRS84."""
    return layers.extent_lonlat(engine, layer)
