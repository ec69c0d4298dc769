"""From raw features to rows a layer can store: geometry checked, repaired and projected;
attributes mapped to the layer's fields through its aliases and code lists; the rest kept.

Each unusable feature gets its reason; nothing here raises for a single bad feature.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from gis.crs import Coords, to_wgs84
from gis.ingest.import_report import Problem
from gis.ingest.readers import RawSource
from gis.registry import FieldDef, LayerDef, Registry, normalise_label

FAMILY = {
    "Point": "point",
    "MultiPoint": "point",
    "LineString": "line",
    "MultiLineString": "line",
    "LinearRing": "line",
    "Polygon": "polygon",
    "MultiPolygon": "polygon",
}
NUMBER = re.compile(
    r"^\s*([-+]?\d+(?:\.\d+)?)\s*(?:年|年代|户|戶|人|栋|棟|幢|床|张|個|个|位|m2|m²|㎡|平方米|平米|m|米|mm|毫米|kv)?\s*$",
    re.IGNORECASE,
)
YEAR = re.compile(r"^\s*(\d{4})(?:\s*(?:[-/.年]\s*\d{1,2}(?:\s*[-/.月]\s*\d{1,2}\s*日?)?\s*月?)?)?\s*年?\s*$")
SPLIT_CODES = re.compile(r"[,，、;；/|+\s]+")
INT4 = (-(2**31), 2**31 - 1)
TRUE = {"yes", "true", "1", "-1", "y", "t", "是", "单行", "單行"}
FALSE = {"no", "false", "0", "n", "f", "否", "双向", "雙向"}


@dataclass
class Prepared:
    """Rows ready to write: declared field values, extras, keys and geometries in the working CRS."""

    values: pd.DataFrame
    synthetic: list[str | None]
    extra: list[dict[str, Any]]
    keys: list[str]
    geoms: np.ndarray
    read: int
    repaired: list[Problem] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)
    field_issues: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def json_safe(value: Any) -> Any:
    """A value JSON (and JSONB) can hold: numpy scalars unwrapped, NaN and inf to None."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple | np.ndarray):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return str(value)


def _missing(series: pd.Series) -> np.ndarray:
    """True where a value is absent: null, NaN, or a blank string."""
    missing = series.isna().to_numpy(dtype=bool, copy=True)
    if series.dtype == object and not missing.all():
        present = series[~missing]
        text = present[present.map(type) == str]  # noqa: E721 - exact type test is the fast one here
        if len(text):
            blank = text.str.strip() == ""
            missing[series.index.get_indexer(blank[blank].index)] = True
    return missing


def _nfkc(value: Any) -> str:
    return unicodedata.normalize("NFKC", str(value)).strip()


def coerce(series: pd.Series, fdef: FieldDef, registry: Registry) -> tuple[list[Any], dict[int, str]]:
    """Values of one declared field, and a reason for each row whose value cannot be used."""
    n = len(series)
    missing = _missing(series)
    out: list[Any] = [None] * n
    bad: dict[int, str] = {}
    present: list[int] = np.flatnonzero(~missing).tolist()
    raw = series.to_numpy(dtype=object)
    label = f"{fdef.zh} ({fdef.id})"

    if fdef.type == "text":
        for i in present:
            v = raw[i]
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            out[i] = str(v).strip()
    elif fdef.type in ("integer", "number"):
        numeric = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
        for i in present:
            x = numeric[i]
            if not math.isfinite(x):
                text = _nfkc(raw[i])
                m = (YEAR.match(text) if fdef.id.endswith("_year") else None) or NUMBER.match(text)
                x = float(m.group(1)) if m else math.nan
            if not math.isfinite(x):
                bad[i] = f"{label}: {raw[i]!r} is not a number"
                continue
            if fdef.type == "integer" and not float(x).is_integer():
                bad[i] = f"{label}: {raw[i]!r} is not a whole number"
                continue
            low = fdef.min if fdef.min is not None else (INT4[0] if fdef.type == "integer" else None)
            high = fdef.max if fdef.max is not None else (INT4[1] if fdef.type == "integer" else None)
            if (low is not None and x < low) or (high is not None and x > high):
                span = f"{low if low is not None else '-∞'}–{high if high is not None else '∞'}"
                bad[i] = f"{label}: {raw[i]!r} is outside {span}"
                continue
            out[i] = int(x) if fdef.type == "integer" else float(x)
    elif fdef.type == "boolean":
        for i in present:
            folded = _nfkc(raw[i]).casefold()
            if folded in TRUE:
                out[i] = True
            elif folded in FALSE:
                out[i] = False
            else:
                bad[i] = f"{label}: {raw[i]!r} is not yes/no"
    elif fdef.type == "date":
        parsed = pd.to_datetime(series, errors="coerce")
        for i in present:
            if pd.isna(parsed.iloc[i]):
                bad[i] = f"{label}: {raw[i]!r} is not a date"
            else:
                out[i] = parsed.iloc[i].date()
    else:  # code / codes
        codes = registry.code_list(fdef.codes or "")
        valid = "; ".join(f"{c.id} {c.zh}" for c in codes.codes)
        for i in present:
            parts = [raw[i]] if fdef.type == "code" else [p for p in SPLIT_CODES.split(_nfkc(raw[i])) if p]
            resolved = [codes.resolve(_nfkc(p)) for p in parts]
            unknown = [p for p, r in zip(parts, resolved, strict=True) if r is None]
            if unknown:
                bad[i] = f"{label}: {', '.join(map(str, unknown))!s} is not a known code (valid: {valid})"
            else:
                out[i] = resolved[0] if fdef.type == "code" else list(dict.fromkeys(resolved))
    return out, bad


def _transform(geoms: np.ndarray, src: CRS, dst: CRS) -> np.ndarray:
    if src == dst:
        return geoms
    tr = Transformer.from_crs(src, dst, always_xy=True)

    def fn(c: np.ndarray) -> np.ndarray:
        x, y = tr.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


def _feature_attrs(raw: RawSource, i: int) -> dict[str, Any]:
    row = raw.attributes.iloc[i].to_dict() if len(raw.attributes.columns) else {}
    return {str(k): json_safe(v) for k, v in row.items() if json_safe(v) not in (None, "")}


def _wkt(g: Any) -> str | None:
    if g is None:
        return None
    try:
        return str(shapely.to_wkt(g, rounding_precision=-1))
    except Exception:  # a geometry GEOS cannot even print is still reported
        return None


def _keep_family(g: Any, family: str) -> Any:
    """The parts of ``g`` (e.g. a GeometryCollection from repair) of the wanted family, or None."""
    if g is None or g.is_empty:
        return None
    gtype = g.geom_type
    if FAMILY.get(gtype) == family:
        return g
    if gtype == "GeometryCollection":
        parts = [p for p in shapely.get_parts(g) if FAMILY.get(p.geom_type) == family and not p.is_empty]
        if not parts:
            return None
        if family == "polygon":
            return shapely.multipolygons([q for p in parts for q in shapely.get_parts(p)])
        if family == "line":
            return shapely.multilinestrings([q for p in parts for q in shapely.get_parts(p)])
        return shapely.multipoints([q for p in parts for q in shapely.get_parts(p)])
    return None


def _to_storage(g: Any, storage: set[str]) -> list[Any]:
    """Promote or split ``g`` to the stored geometry types; several results when a line layer
    stores single LineStrings and the input was a MultiLineString."""
    gtype = g.geom_type
    if gtype == "Polygon" and "MultiPolygon" in storage:
        return [shapely.multipolygons([g])]
    if gtype == "LineString" and "MultiLineString" in storage:
        return [shapely.multilinestrings([g])]
    if gtype == "MultiLineString" and "LineString" in storage and "MultiLineString" not in storage:
        return list(shapely.get_parts(g))
    if gtype == "MultiPoint" and "Point" in storage and len(shapely.get_parts(g)) == 1:
        return [shapely.get_parts(g)[0]]
    if gtype in storage:
        return [g]
    return []


def prepare(
    raw: RawSource,
    layer: LayerDef,
    registry: Registry,
    *,
    source_crs: CRS,
    working_crs: CRS,
    coords: Coords = "wgs84",
    type_default: str | None = None,
) -> Prepared:
    """Check, repair, project and map every feature of ``raw`` for ``layer``."""
    n = len(raw.geometries)
    reasons: list[list[str]] = [[] for _ in range(n)]
    if raw.rejected_reasons is not None:
        for i, r in enumerate(raw.rejected_reasons):
            if r:
                reasons[i].append(str(r))
    geoms = raw.geometries.copy()
    families = {FAMILY[g] for g in layer.geometry}

    # -- geometry, in the source CRS --------------------------------------------------------
    for i in range(n):
        g = geoms[i]
        if raw.unparseable[i]:
            reasons[i].append("geometry cannot be parsed (for example a ring with fewer than 4 points)")
            geoms[i] = None
        elif g is None:
            reasons[i].append("no geometry")
        elif g.is_empty:
            reasons[i].append("empty geometry")
            geoms[i] = None
    present = np.array([g is not None for g in geoms], dtype=bool)
    if present.any():
        coords_all, owner = shapely.get_coordinates(geoms[present], return_index=True)
        finite = np.isfinite(coords_all).all(axis=1)
        bad_owner = np.unique(owner[~finite])
        idx = np.flatnonzero(present)[bad_owner]
        for i in idx:
            reasons[i].append("coordinates are not numbers (NaN or infinite)")
            geoms[i] = None
    for i in range(n):
        g = geoms[i]
        if g is None:
            continue
        kept = next((k for fam in families if (k := _keep_family(g, fam)) is not None), None)
        if kept is None:
            allowed = " or ".join(sorted(layer.geometry))
            reasons[i].append(f"geometry is {g.geom_type}; layer {layer.id} takes {allowed}")
            geoms[i] = None
        else:
            geoms[i] = kept

    # -- coordinates -> WGS 84 -> working CRS -----------------------------------------------
    ok = np.array([g is not None for g in geoms], dtype=bool)
    if ok.any():
        part = geoms[ok]
        if coords != "wgs84":
            part = to_wgs84(part, coords)
        geoms[ok] = _transform(part, source_crs, working_crs)

    # -- validity and repair, in the working CRS (what is stored) ----------------------------
    repaired: list[Problem] = []
    for i in np.flatnonzero(ok).tolist():
        g = geoms[i]
        family = FAMILY[g.geom_type]
        if family == "polygon":
            if not g.is_valid:
                why = shapely.is_valid_reason(g)
                fixed = _keep_family(shapely.make_valid(g), "polygon")
                if fixed is None or fixed.area == 0:
                    reasons[i].append(f"invalid polygon ({why}) with no area left after repair")
                    geoms[i] = None
                    continue
                repaired.append(Problem(index=i, reason=f"repaired: {why}"))
                geoms[i] = g = fixed
            if g.area == 0:
                reasons[i].append("polygon of zero area")
                geoms[i] = None
        elif family == "line" and g.length == 0:
            reasons[i].append("line of zero length")
            geoms[i] = None
    parts_of: dict[int, list[Any]] = {}
    for i in np.flatnonzero(ok).tolist():
        if geoms[i] is None:
            continue
        parts_of[i] = _to_storage(geoms[i], layer.storage_types)
        if not parts_of[i]:
            count = len(shapely.get_parts(geoms[i]))
            reasons[i].append(
                f"{geoms[i].geom_type} of {count} parts; layer {layer.id} takes one {' or '.join(layer.geometry)}"
            )

    # -- attributes ---------------------------------------------------------------------------
    attrs = raw.attributes
    mapping: dict[str, str] = {}  # field id -> input column (first wins)
    unmapped: list[str] = []
    key_col = None
    key_aliases = {normalise_label(a) for a in layer.key_aliases}
    for col in attrs.columns:
        folded = normalise_label(str(col))
        fid = layer.alias_lookup.get(folded)
        if fid is not None and fid not in mapping:
            mapping[fid] = str(col)
        else:
            if key_col is None and folded in key_aliases and raw.keys is None:
                key_col = str(col)
            unmapped.append(str(col))

    values = pd.DataFrame(index=range(n))
    field_issues: list[Problem] = []
    kept_raw: dict[int, dict[str, Any]] = {}
    for fdef in layer.fields:
        src_col = mapping.get(fdef.id)
        series = attrs[src_col] if src_col is not None else pd.Series([None] * n, dtype=object)
        if raw.preset is not None and fdef.id in raw.preset.columns:
            preset = raw.preset[fdef.id]
            series = series.astype(object).where(~_missing(series), preset)
        if fdef.id == layer.type_field and type_default is not None:
            series = series.astype(object).where(~_missing(series), type_default)
        out, bad = coerce(series.reset_index(drop=True), fdef, registry)
        for i, why in bad.items():
            if fdef.required:
                reasons[i].append(why)
            else:
                # The feature is usable without this value: load it with the field empty, keep the
                # value as read in `extra`, and report it.
                field_issues.append(Problem(index=i, reason=f"left empty: {why}"))
                if src_col is not None:
                    kept_raw.setdefault(i, {})[src_col] = json_safe(attrs[src_col].iloc[i])
        if fdef.required:
            for i, v in enumerate(out):
                if v is None and i not in bad and not (raw.rejected_reasons is not None and raw.rejected_reasons[i]):
                    hint = " (pass --type)" if fdef.id == layer.type_field else ""
                    reasons[i].append(f"{fdef.zh} ({fdef.id}) is missing{hint}")
        values[fdef.id] = pd.Series(out, dtype=object)

    synthetic_col = mapping.get("synthetic")
    synthetic = [
        (None if v is None or (isinstance(v, float) and math.isnan(v)) or str(v).strip() == "" else str(v).strip())
        for v in (attrs[synthetic_col] if synthetic_col else [None] * n)
    ]
    # Column by column over the present values only: OSM frames are wide and sparse.
    extra: list[dict[str, Any]] = [{} for _ in range(n)]
    for col in (c for c in unmapped if c != synthetic_col):
        values_of = attrs[col].to_numpy(dtype=object)
        for i in np.flatnonzero(~_missing(attrs[col])).tolist():
            v = json_safe(values_of[i])
            if v not in (None, ""):
                extra[i][col] = v
    for i, kept in kept_raw.items():
        extra[i].update(kept)

    # -- keys -------------------------------------------------------------------------------
    notes: list[str] = []
    if key_col is not None:
        ids = attrs[key_col][~_missing(attrs[key_col])]
        if ids.duplicated().any():
            notes.append(
                f"column {key_col} is not unique ({ids.nunique()} distinct values in {len(ids)} features), so it "
                "is not used as the key: a re-import matches features by their content"
            )
            key_col = None
    keys: list[str] = []
    for i in range(n):
        key: str | None = None
        if raw.keys is not None:
            key = str(raw.keys[i])
        elif key_col is not None:
            v = json_safe(attrs[key_col].iloc[i])
            if v not in (None, ""):
                key = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
        if key is None:
            blob = shapely.to_wkb(raw.geometries[i]) if raw.geometries[i] is not None else b""
            digest = hashlib.sha1(blob)
            digest.update(json.dumps(_feature_attrs(raw, i), sort_keys=True, ensure_ascii=False).encode())
            key = "h:" + digest.hexdigest()[:20]
        keys.append(key)
    first_seen: dict[str, int] = {}
    for i, k in enumerate(keys):
        if reasons[i]:
            continue
        if k in first_seen:
            reasons[i].append(f"duplicate of feature #{first_seen[k]} (same key {k})")
        else:
            first_seen[k] = i

    # -- assemble ------------------------------------------------------------------------------
    rejected = [
        Problem(
            index=i,
            key=keys[i],
            reason="; ".join(r),
            geometry_wkt=_wkt(raw.geometries[i]),
            attributes=_feature_attrs(raw, i),
        )
        for i, r in enumerate(reasons)
        if r
    ]
    for p in [*repaired, *field_issues]:
        p.key = keys[p.index]
    good = [i for i in range(n) if not reasons[i]]
    rows: list[int] = []
    out_keys: list[str] = []
    out_geoms: list[Any] = []
    for i in good:
        parts = parts_of[i]
        for j, part in enumerate(parts):
            rows.append(i)
            out_keys.append(keys[i] if len(parts) == 1 else f"{keys[i]}#{j + 1}")
            out_geoms.append(part)
    return Prepared(
        values=values.iloc[rows].reset_index(drop=True),
        synthetic=[synthetic[i] for i in rows],
        extra=[extra[i] for i in rows],
        keys=out_keys,
        geoms=np.array([*out_geoms, None], dtype=object)[:-1],
        read=n,
        repaired=[p for p in repaired if not reasons[p.index]],
        rejected=rejected,
        field_issues=[p for p in field_issues if not reasons[p.index]],
        warnings=notes,
    )
