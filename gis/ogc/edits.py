"""Editing single features (OGC API – Features Part 4) with optimistic concurrency and audit.

A feature is checked exactly as an import checks it (geometry repaired or refused, transformed to
the working CRS, attributes mapped and typed, codes resolved) and written in one transaction with
its audit record. Every write names the version it expects: a stale one changes nothing
(``StaleVersionError``), so two planners can never silently overwrite each other.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

from gis.errors import EditError, FeatureNotFoundError, StaleVersionError
from gis.ingest.prepare import prepare
from gis.ingest.readers import RawSource
from gis.registry import LayerDef, Registry

EDIT_SOURCE = "api"


def etag(layer: LayerDef, fid: int, version: int) -> str:
    return f'"{layer.id}-{fid}-v{version}"'


def version_from_etag(layer: LayerDef, fid: int, value: str) -> int | None:
    prefix = f'"{layer.id}-{fid}-v'
    value = value.strip().removeprefix("W/")
    if value.startswith(prefix) and value.endswith('"') and value[len(prefix) : -1].isdigit():
        return int(value[len(prefix) : -1])
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


def _set_actor(conn: Connection, actor: str) -> None:
    conn.execute(text("SELECT set_config('gisplan.actor', :a, true)"), {"a": actor})


def _audited_by_trigger(conn: Connection, table: str) -> bool:
    return conn.execute(
        text("SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = :n)"), {"n": f"{table}_audit_update"}
    ).scalar_one()


def _row(conn: Connection, layer: LayerDef, fid: int) -> dict[str, Any] | None:
    row = conn.execute(
        text(f'SELECT to_jsonb(t) AS j FROM "{layer.table}" t WHERE fid = :f'),  # table name from the registry
        {"f": fid},
    ).first()
    return dict(row.j) if row else None


def _audit(conn: Connection, layer: LayerDef, action: str, fid: int, before: Any, after: Any, actor: str) -> None:
    if _audited_by_trigger(conn, layer.table):
        return
    conn.execute(
        text(
            "INSERT INTO audit_log (actor, action, layer, fid, before, after) "
            "VALUES (:a, :act, :l, :f, CAST(:b AS jsonb), CAST(:af AS jsonb))"
        ),
        {"a": actor, "act": action, "l": layer.id, "f": fid, "b": json.dumps(before, default=str) if before else None,
         "af": json.dumps(after, default=str) if after else None},
    )  # fmt: skip


def create(
    engine: Engine, registry: Registry, layer: LayerDef, feature: dict[str, Any], *, source_crs: CRS,
    working_crs: CRS, actor: str,
) -> tuple[int, int]:  # fmt: skip
    """Insert a feature; returns (fid, version)."""
    values, ewkb = _checked(registry, layer, feature, source_crs, working_crs)
    cols = [f.id for f in layer.fields]
    with engine.begin() as conn:
        _set_actor(conn, actor)
        names = ", ".join(f'"{c}"' for c in cols)
        params = ", ".join(f":{c}" for c in cols)
        row = conn.execute(
            text(
                f'INSERT INTO "{layer.table}" (source, source_key, extra, geom, {names}) '
                f"VALUES (:source, :key, CAST(:extra AS jsonb), CAST(:geom AS geometry), {params}) "
                "RETURNING fid, version"
            ),
            {**{c: values[c] for c in cols}, "source": EDIT_SOURCE, "key": str(uuid.uuid4()),
             "extra": json.dumps(values["extra"], ensure_ascii=False), "geom": ewkb},
        ).one()  # fmt: skip
        _audit(conn, layer, "insert", row.fid, None, _row(conn, layer, row.fid), actor)
    return int(row.fid), int(row.version)


def replace(
    engine: Engine, registry: Registry, layer: LayerDef, fid: int, feature: dict[str, Any], *, expected_version: int,
    source_crs: CRS, working_crs: CRS, actor: str, partial: bool = False,
) -> int:  # fmt: skip
    """Replace (or, with ``partial``, patch) a feature at ``expected_version``; returns the new version."""
    cols = [f.id for f in layer.fields]
    with engine.begin() as conn:
        _set_actor(conn, actor)
        before = _row(conn, layer, fid)
        if before is None:
            raise FeatureNotFoundError(f"no feature {fid} in {layer.id}")
        if partial:
            # merge-patch: start from the stored feature, in the request's CRS, and apply the given members
            current: str = conn.execute(
                text(f'SELECT ST_AsGeoJSON(ST_Transform(geom, :s)) FROM "{layer.table}" WHERE fid = :f'),
                {"s": source_crs.to_epsg(), "f": fid},
            ).scalar_one()
            props = {c: before.get(c) for c in cols}
            props.update(feature.get("properties") or {})
            feature = {
                "type": "Feature",
                "geometry": feature.get("geometry") or json.loads(current),
                "properties": props,
            }
        values, ewkb = _checked(registry, layer, feature, source_crs, working_crs)
        sets = ", ".join(f'"{c}" = :{c}' for c in cols)
        row = conn.execute(
            text(
                f'UPDATE "{layer.table}" SET {sets}, extra = CAST(:extra AS jsonb), geom = CAST(:geom AS geometry), '
                "version = version + 1, updated_at = now() WHERE fid = :fid AND version = :expected RETURNING version"
            ),
            {**{c: values[c] for c in cols}, "extra": json.dumps(values["extra"], ensure_ascii=False), "geom": ewkb,
             "fid": fid, "expected": expected_version},
        ).first()  # fmt: skip
        if row is None:
            raise StaleVersionError(int(before["version"]))
        _audit(conn, layer, "update", fid, before, _row(conn, layer, fid), actor)
    return int(row.version)


def delete(engine: Engine, layer: LayerDef, fid: int, *, expected_version: int, actor: str) -> None:
    with engine.begin() as conn:
        _set_actor(conn, actor)
        before = _row(conn, layer, fid)
        if before is None:
            raise FeatureNotFoundError(f"no feature {fid} in {layer.id}")
        try:
            with conn.begin_nested():
                gone = conn.execute(
                    text(f'DELETE FROM "{layer.table}" WHERE fid = :f AND version = :v'),
                    {"f": fid, "v": expected_version},
                ).rowcount
        except IntegrityError:
            raise EditError(
                f"{layer.id} {fid} is referred to by other records (a renovation project); it cannot be deleted"
            ) from None
        if not gone:
            raise StaleVersionError(int(before["version"]))
        _audit(conn, layer, "delete", fid, before, None, actor)


def current_version(engine: Engine, layer: LayerDef, fid: int) -> int | None:
    with engine.connect() as conn:
        v = conn.execute(text(f'SELECT version FROM "{layer.table}" WHERE fid = :f'), {"f": fid}).scalar()
    return int(v) if v is not None else None
