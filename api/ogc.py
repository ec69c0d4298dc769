"""OGC API – Features (Part 1 core, Part 2 CRS) over the layers, for the caller's role."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api import ogc_html, openapi30
from api.deps import CollectionDep, IdPath, RoleDep, WorkspaceDep
from api.lanes import in_read_lane
from gis import clock
from gis.ogc import edits, features
from gis.ogc.features import CRS84, QueryError
from gis.roles import Role, visible_fields, visible_layers

PREFIX = "/ogc"  # where the OGC API lives in the app
router = APIRouter(prefix=PREFIX, tags=["OGC API – Features"])

GEOJSON = "application/geo+json"
RESERVED = (
    "limit",
    "offset",
    "bbox",
    "bbox-crs",
    "crs",
    "f",
    "filter",
    "filter-lang",
    "filter-crs",
    "sortby",
    "properties",
    "as_of",
)
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/sortables",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def _working_srid(ws: Any) -> int:
    crs = ws.working_crs
    if crs is None:
        raise HTTPException(404, "this database has no layers yet")
    srid: int = crs.to_epsg()
    return srid


def _collection(ws: Any, role: Role, layer: Any, srid: int, base: str) -> dict[str, Any]:
    box = features.extent(ws.reader(role), layer)
    href = f"{base}/collections/{layer.id}"
    # an empty layer has no extent: the member is left out (the schema asks a bbox of at least one box)
    extent = {"extent": {"spatial": {"bbox": [box], "crs": CRS84}}} if box else {}
    return {
        "id": layer.id,
        "title": f"{layer.label.zh} {layer.label.en}",
        "description": f"{layer.description.zh} {layer.description.en}",
        "itemType": "feature",
        "crs": features.supported_crs(srid),
        "storageCrs": features.EPSG_URI.format(srid),
        **extent,
        "links": [
            {"href": href, "rel": "self", "type": "application/json", "title": "this collection"},
            ogc_html.alternate(href),
            {"href": f"{href}/items", "rel": "items", "type": GEOJSON, "title": "features"},
            {
                "href": f"{href}/queryables",
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "type": "application/schema+json",
                "title": "queryables",
            },
        ],
    }


@router.get("", summary="Landing page")
def landing(request: Request) -> Any:
    base = _base(request)
    root = str(request.base_url).rstrip("/")
    document: dict[str, Any] = {
        "title": "gisplan 老旧小区改造空间规划",
        "description": "Layers of the old residential compound renovation programme (OGC API – Features)",
        "links": [
            {"href": base, "rel": "self", "type": "application/json", "title": "landing page"},
            {
                "href": f"{base}/api",
                "rel": "service-desc",
                "type": openapi30.MEDIA_TYPE,
                "title": "API definition",
            },
            {"href": f"{root}/docs", "rel": "service-doc", "type": "text/html", "title": "API documentation"},
            {"href": f"{base}/conformance", "rel": "conformance", "type": "application/json", "title": "conformance"},
            {"href": f"{base}/collections", "rel": "data", "type": "application/json", "title": "collections"},
            ogc_html.alternate(base),
        ],
    }
    if ogc_html.wants_html(request):
        return ogc_html.page(request, document["title"], document["links"], description=document["description"])
    return document


@router.get("/api", summary="The API definition (OpenAPI 3.0)", response_class=JSONResponse)
def api_definition(request: Request) -> Response:
    """The OGC API's definition in OpenAPI 3.0, as OGC API – Features Part 1's OpenAPI class asks: its
    paths relative to its base (``servers``), as validators and clients resolve them from the
    landing page (the whole app's, ``/api`` included, is ``/openapi.json`` in 3.1)."""
    base = _base(request)
    kept: dict[str, bytes] = request.app.state.openapi30
    body = kept.get(base)
    if body is None:  # the routes are fixed once the app is built: written once per base URL, kept
        document = openapi30.under(openapi30.downgrade(request.app.openapi()), PREFIX, base)
        body = kept[base] = json.dumps(document, ensure_ascii=False).encode()
    return Response(body, media_type=openapi30.MEDIA_TYPE)


@router.get("/conformance", summary="Conformance classes")
def conformance(request: Request) -> Any:
    if ogc_html.wants_html(request):
        rows = [[ogc_html.Cell(uri, uri)] for uri in CONFORMANCE]
        return ogc_html.page(request, "符合性 Conformance", [], columns=["标准类 Conformance class"], rows=rows)
    return {"conformsTo": CONFORMANCE}


@router.get("/collections", summary="The collections the caller may see")
def collections(request: Request, ws: WorkspaceDep, role: RoleDep) -> Any:
    base = _base(request)
    links = [
        {"href": f"{base}/collections", "rel": "self", "type": "application/json"},
        ogc_html.alternate(f"{base}/collections"),
    ]
    found = []
    if ws.working_crs is not None:
        srid = _working_srid(ws)
        found = [_collection(ws, role, layer, srid, base) for layer in visible_layers(ws.registry, role)]
    if ogc_html.wants_html(request):
        rows = [
            [
                ogc_html.Cell(c["title"], ogc_html.with_format(f"{base}/collections/{c['id']}", "html")),
                ogc_html.Cell(c["description"]),
                ogc_html.Cell("要素 features", ogc_html.with_format(f"{base}/collections/{c['id']}/items", "html")),
            ]
            for c in found
        ]
        columns = ["图层 Collection", "说明 Description", "浏览 Browse"]
        return ogc_html.page(request, "图层 Collections", links, columns=columns, rows=rows)
    return {"collections": found, "links": links}


@router.get("/collections/{collection_id}", summary="One collection")
def collection(request: Request, ws: WorkspaceDep, role: RoleDep, layer: CollectionDep) -> Any:
    document = _collection(ws, role, layer, _working_srid(ws), _base(request))
    if ogc_html.wants_html(request):
        box = document.get("extent", {}).get("spatial", {}).get("bbox")
        facts = [
            ("范围 Extent (CRS84)", ", ".join(f"{v:.5f}" for v in box[0]) if box else "—"),
            ("存储坐标系 Storage CRS", document["storageCrs"]),
            ("输出坐标系 CRS", " ".join(document["crs"])),
        ]
        description = document["description"]
        return ogc_html.page(request, document["title"], document["links"], description=description, facts=facts)
    return document


@router.get("/collections/{collection_id}/queryables", summary="Queryable properties")
def queryables(request: Request, role: RoleDep, layer: CollectionDep) -> JSONResponse:
    types = {
        "text": "string",
        "code": "string",
        "codes": "string",
        "integer": "integer",
        "number": "number",
        "boolean": "boolean",
        "date": "string",
        "datetime": "string",
    }
    formats = {"date": "date", "datetime": "date-time"}
    props = {
        f.id: {"title": f"{f.zh} {f.en}", "type": types[f.type]}
        | ({"format": formats[f.type]} if f.type in formats else {})
        for f in layer.fields
        if f.id in visible_fields(layer, role)
    }
    body = {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": f"{_base(request)}/collections/{layer.id}/queryables",
        "type": "object",
        "title": layer.label.zh,
        "properties": props,
    }
    return JSONResponse(body, media_type="application/schema+json")


def _parse_bbox(bbox: str | None) -> tuple[float, ...] | None:
    if bbox is None:
        return None
    try:
        values = tuple(float(v) for v in bbox.split(","))
    except ValueError:
        raise QueryError(f"bbox {bbox[:200]!r}: four numbers separated by commas") from None
    if len(values) not in (4, 6):
        raise QueryError("bbox takes 4 (or 6) numbers")
    if not all(math.isfinite(v) for v in values):
        raise QueryError(f"bbox {bbox[:200]!r}: every number must be finite (no nan or inf)")
    return values


class ItemsParams(BaseModel):
    """The query parameters of an items request (property filters come on top, by field name)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    limit: int | None = Field(
        None, ge=1, description="At most this many features (default and maximum: server settings)"
    )
    offset: int = Field(0, ge=0, le=features.MAX_OFFSET)
    bbox: str | None = Field(
        None, description="minx,miny,maxx,maxy in bbox-crs (default CRS84)", examples=["116.34,39.99,116.36,40.01"]
    )
    bbox_crs: str | None = Field(None, alias="bbox-crs")
    crs: str | None = Field(None, description="Output CRS URI: CRS84, EPSG 4490, 4326, 3857 or the working CRS")
    filter: str | None = Field(
        None,
        description="CQL2 filter, e.g. built_year < 2000 AND street = '学院路街道'",
        examples=["built_year < 2000 AND street = '学院路街道'"],
    )
    filter_lang: str = Field("cql2-text", alias="filter-lang", pattern="^cql2-(text|json)$")
    filter_crs: str | None = Field(None, alias="filter-crs")
    sortby: str | None = Field(None, description="e.g. -built_year,+name", examples=["-built_year,+name"])
    properties: str | None = Field(
        None, description="Comma-separated properties to return", examples=["name,street,built_year"]
    )
    as_of: str | None = Field(
        None,
        description="The layer as it stood then, rebuilt from the audit log: an ISO date (the end of that day, "
        "programme time zone) or a datetime with offset; layers audited row by row only (not roads, buildings, water)",
        examples=["2026-03-31", "2026-03-31T18:00:00+08:00"],
    )


@router.get("/collections/{collection_id}/items", summary="Features", response_class=Response)
async def items(
    request: Request,
    ws: WorkspaceDep,
    role: RoleDep,
    layer: CollectionDep,
    q: Annotated[ItemsParams, Query()],
) -> Response:
    limit, offset, bbox, bbox_crs, crs, properties = q.limit, q.offset, q.bbox, q.bbox_crs, q.crs, q.properties
    filter, filter_lang, filter_crs, sortby = q.filter, q.filter_lang, q.filter_crs, q.sortby
    limit_max = ws.settings.api_max_limit
    limit = limit or ws.settings.api_default_limit
    if limit > limit_max:
        raise QueryError(f"limit {limit} is above the maximum {limit_max}")
    srid = _working_srid(ws)
    out = features.parse_crs(crs, srid)
    box_crs = features.parse_crs(bbox_crs, srid)
    reserved = set(RESERVED)
    if filter_crs not in (None, CRS84, "CRS84"):
        raise QueryError("filter-crs: only CRS84 is supported for filter geometries")
    filters = {}
    for name, value in request.query_params.items():
        if name in reserved:
            continue
        if name not in visible_fields(layer, role):
            raise QueryError(
                f"unknown parameter {name!r}; queryables of {layer.id}: {', '.join(visible_fields(layer, role))}"
            )
        filters[name] = features.coerce_filter(layer, name, value)
    query = features.ItemsQuery(
        bbox=_parse_bbox(bbox),
        bbox_crs=box_crs,
        crs=out,
        limit=limit,
        offset=offset,
        filters=filters,
        cql=filter,
        cql_lang=filter_lang,
        sortby=sortby,
        properties=[p.strip() for p in properties.split(",") if p.strip()] if properties is not None else None,
        as_of=clock.as_of_instant(q.as_of) if q.as_of is not None else None,
    )
    found, matched, estimated = await in_read_lane(
        request, features.items, ws.reader(role), layer, role, query, working_srid=srid
    )
    base = f"{_base(request)}/collections/{layer.id}/items"
    params = {k: v for k, v in request.query_params.items() if k not in ("offset",)}
    links = [{"href": f"{base}?{urlencode({**params, 'offset': offset})}", "rel": "self", "type": GEOJSON}]
    if offset + len(found) < matched:
        links.append(
            {"href": f"{base}?{urlencode({**params, 'offset': offset + len(found)})}", "rel": "next", "type": GEOJSON}
        )
    if offset > 0:
        links.append(
            {
                "href": f"{base}?{urlencode({**params, 'offset': max(0, offset - limit)})}",
                "rel": "prev",
                "type": GEOJSON,
            }
        )
    links.append(ogc_html.alternate(links[0]["href"]))
    if ogc_html.wants_html(request):
        return _items_page(request, layer, found, matched, links)
    meta: dict[str, Any] = {"numberMatched": matched, "numberReturned": len(found), "links": links}
    if estimated:
        meta["numberMatchedEstimated"] = True  # a large table: the planner's row estimate, not a count
    # the features arrive as GeoJSON text from PostgreSQL and are joined, not decoded and encoded again
    body = (
        '{"type":"FeatureCollection","features":[' + ",".join(found) + "]," + json.dumps(meta, ensure_ascii=False)[1:]
    )
    return Response(body.encode(), media_type=GEOJSON, headers={"Content-Crs": f"<{out.uri}>"})


def _items_page(request: Request, layer: Any, found: list[str], matched: int, links: list[dict[str, Any]]) -> Response:
    """A page of features as a table: id (to the feature's page), then the properties returned."""
    decoded = [json.loads(f) for f in found]
    names = list(dict.fromkeys(k for f in decoded for k in f.get("properties") or {}))
    base = f"{_base(request)}/collections/{layer.id}/items"
    rows = [
        [ogc_html.Cell(f["id"], ogc_html.with_format(f"{base}/{f['id']}", "html"))]
        + [ogc_html.Cell(_shown((f.get("properties") or {}).get(n))) for n in names]
        for f in decoded
    ]
    facts = [("匹配 Matched", matched), ("本页 Returned", len(found))]
    title = f"{layer.label.zh} {layer.label.en}"
    return ogc_html.page(request, title, links, columns=["id", *names], rows=rows, facts=facts)


def _shown(value: Any) -> Any:
    """A property as a table shows it: lists joined, nothing as a dash."""
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


@router.get("/collections/{collection_id}/items/{fid}", summary="One feature", response_class=JSONResponse)
def item(
    request: Request,
    ws: WorkspaceDep,
    role: RoleDep,
    layer: CollectionDep,
    fid: IdPath,
    crs: Annotated[str | None, Query()] = None,
    as_of: Annotated[str | None, Query(description="The feature as it stood then (see items)")] = None,
) -> Response:
    srid = _working_srid(ws)
    out = features.parse_crs(crs, srid)
    at = clock.as_of_instant(as_of) if as_of is not None else None
    found = features.item(ws.reader(role), layer, role, fid, crs=out, as_of=at, working_srid=srid)
    if found is None:
        raise HTTPException(404, f"no feature {fid} in {layer.id}")
    base = f"{_base(request)}/collections/{layer.id}"
    found["links"] = [
        {"href": f"{base}/items/{fid}", "rel": "self", "type": GEOJSON},
        {"href": base, "rel": "collection", "type": "application/json"},
        ogc_html.alternate(f"{base}/items/{fid}"),
    ]
    if ogc_html.wants_html(request):
        rows = [[ogc_html.Cell(k), ogc_html.Cell(_shown(v))] for k, v in (found.get("properties") or {}).items()]
        title = f"{layer.label.zh} {fid}"
        return ogc_html.page(request, title, found["links"], columns=["属性 Property", "值 Value"], rows=rows)
    headers = {"Content-Crs": f"<{out.uri}>"}
    if at is None:  # a past state has no version to edit against
        headers["ETag"] = edits.etag(layer, fid, edits.current_version(ws.engine, layer, fid) or 0)
    return JSONResponse(found, media_type=GEOJSON, headers=headers)
