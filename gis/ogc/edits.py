"""Editing single features (OGC API – Features Part 4) with optimistic concurrency and audit.

A feature is checked exactly as an import checks it (geometry repaired or refused, transformed to
the working CRS, attributes mapped and typed, codes resolved) and written in one transaction with
its audit record. Every write names the version it expects: a stale one changes nothing
(``StaleVersionError``), so two planners can never silently overwrite each other.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from gis.errors import EditError, FeatureNotFoundError, ReadOnlyLayerError, StaleVersionError
from gis.ingest.prepare import prepare
from gis.ingest.readers import RawSource
from gis.registry import LayerDef, Registry
from gis.store import audit, layers

EDIT_SOURCE = "api"
# A GeoJSON Feature nests a MultiPolygon's coordinates 4 deep inside its geometry, inside the
# feature: 6 levels; properties a few more. Deeper is refused before anything walks it recursively
# (Python's own JSON parser and encoder stop near 1,000 with a RecursionError).
MAX_JSON_DEPTH = 32


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value`` (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level > MAX_JSON_DEPTH:
            break
        stack.extend((c, level + 1) for c in children if isinstance(c, dict | list))
    return deepest


def parse_feature(body: bytes) -> dict[str, Any]:
    """A request body as a GeoJSON object: JSON, an object, nested at most :data:`MAX_JSON_DEPTH` deep."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise EditError(
            f"the body nests arrays or objects about a thousand levels deep; a feature nests at most {MAX_JSON_DEPTH}"
        ) from None
    except ValueError:
        raise EditError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise EditError("send a GeoJSON Feature object")
    if _depth(data) > MAX_JSON_DEPTH:
        raise EditError(
            f"the body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep; a feature never does"
        )
    return data


def etag(layer: LayerDef, fid: int, version: int) -> str:
    return f'"{layer.id}-{fid}-v{version}"'


def version_from_etag(layer: LayerDef, fid: int, value: str) -> int | None:
    prefix = f'"{layer.id}-{fid}-v'
    value = value.strip().removeprefix("W/")
    number = value[len(prefix) : -1]
    if value.startswith(prefix) and value.endswith('"') and number.isascii() and number.isdigit():
        return int(number)
    return None


def _checked(
    registry: Registry, layer: LayerDef, feature: dict[str, Any], source_crs: CRS, working_crs: CRS
) -> tuple[dict[str, Any], str]:
    """Field values and EWKB hex of one GeoJSON feature, checked as an import checks it."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise EditError("send a GeoJSON Feature")
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        raise EditError("properties must be an object")
    try:
        geom = shapely.geometry.shape(feature["geometry"]) if feature.get("geometry") else None
    except Exception:  # shapely raises several kinds for malformed GeoJSON
        raise EditError("the geometry is not valid GeoJSON") from None
    flat = {
        k: ",".join(map(str, v))
        if isinstance(v, list)
        else json.dumps(v, ensure_ascii=False)
        if isinstance(v, dict)
        else v
        for k, v in props.items()
    }
    raw = RawSource(
        attributes=pd.DataFrame([flat]),
        geometries=np.array([geom], dtype=object),
        unparseable=np.array([False]),
        crs=source_crs,
        crs_origin="the request",
        driver="API",
    )
    prep = prepare(raw, layer, registry, source_crs=source_crs, working_crs=working_crs)
    problems = [p.reason for p in prep.rejected + prep.field_issues]
    if problems:
        raise EditError("; ".join(problems))
    values: dict[str, Any] = {
        str(k): (None if isinstance(v, float) and np.isnan(v) else v) for k, v in prep.values.iloc[0].to_dict().items()
    }
    srid = working_crs.to_epsg()
    ewkb = str(shapely.to_wkb(shapely.set_srid(prep.geoms[0], srid or 0), hex=True, include_srid=True))
    extra = prep.extra[0]
    values["extra"] = extra
    return values, ewkb


@dataclass(frozen=True)
class Edit:
    """Who edits which layer, and the CRSs of the request and of the store."""

    registry: Registry
    layer: LayerDef
    source_crs: CRS
    working_crs: CRS
    actor: str


def _audit(conn: Connection, layer: LayerDef, actor: str, action: str, fid: int, change: tuple[Any, Any]) -> None:
    audit.record(conn, table=layer.table, layer=layer.id, action=action, fid=fid, change=change, actor=actor)


def require_writable(layer: LayerDef) -> None:
    """Refuse an edit of a layer that only its own commands write (evidence)."""
    if layer.read_only:
        raise ReadOnlyLayerError(
            f"{layer.id} is not edited here: items are added by upload (gisplan evidence add, POST /api/evidence) "
            "and withdrawn with a reason, never changed or deleted"
        )


def create(engine: Engine, edit: Edit, feature: dict[str, Any]) -> tuple[int, int]:
    """Insert a feature; returns (fid, version)."""
    require_writable(edit.layer)
    values, ewkb = _checked(edit.registry, edit.layer, feature, edit.source_crs, edit.working_crs)
    with audit.audited(engine, edit.actor) as conn:
        fid, version = layers.insert_row(
            conn, edit.layer, {**values, "source": EDIT_SOURCE}, ewkb=ewkb, key=str(uuid.uuid4())
        )
        _audit(conn, edit.layer, edit.actor, "insert", fid, (None, layers.row_json(conn, edit.layer, fid)))
    return fid, version


def replace(
    engine: Engine, edit: Edit, fid: int, feature: dict[str, Any], *, expected_version: int, partial: bool = False
) -> int:
    """Replace (or, with ``partial``, patch) a feature at ``expected_version``; returns the new version."""
    layer = edit.layer
    require_writable(layer)
    with audit.audited(engine, edit.actor) as conn:
        before = layers.row_json(conn, layer, fid)
        if before is None:
            raise FeatureNotFoundError(f"no feature {fid} in {layer.id}")
        if partial:
            # merge-patch: start from the stored feature, in the request's CRS, and apply the given members
            props = {f.id: before.get(f.id) for f in layer.fields}
            props.update(feature.get("properties") or {})
            geometry = feature.get("geometry") or json.loads(
                layers.geometry_geojson(conn, layer, fid, int(edit.source_crs.to_epsg() or 4326))
            )
            feature = {"type": "Feature", "geometry": geometry, "properties": props}
        values, ewkb = _checked(edit.registry, layer, feature, edit.source_crs, edit.working_crs)
        version = layers.update_row(conn, layer, fid, values, ewkb=ewkb, expected=expected_version)
        if version is None:
            raise StaleVersionError(int(before["version"]))
        _audit(conn, layer, edit.actor, "update", fid, (before, layers.row_json(conn, layer, fid)))
    return version


def delete(engine: Engine, layer: LayerDef, fid: int, *, expected_version: int, actor: str) -> None:
    """Delete a feature at ``expected_version``."""
    require_writable(layer)
    with audit.audited(engine, actor) as conn:
        before = layers.row_json(conn, layer, fid)
        if before is None:
            raise FeatureNotFoundError(f"no feature {fid} in {layer.id}")
        try:
            with conn.begin_nested():
                gone = layers.delete_row(conn, layer, fid, expected=expected_version)
        except IntegrityError:
            raise EditError(
                f"{layer.id} {fid} is referred to by other records (a renovation project); it cannot be deleted"
            ) from None
        if not gone:
            raise StaleVersionError(int(before["version"]))
        _audit(conn, layer, actor, "delete", fid, (before, None))


def current_version(engine: Engine, layer: LayerDef, fid: int) -> int | None:
    """A feature's version, or None when there is no such feature."""
    return layers.current_version(engine, layer, fid)
