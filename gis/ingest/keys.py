"""Each feature's stable key, by which a re-import finds it again, and the duplicates within a file.

The key is the reader's own id (OSM's ``way/123``), else a unique key column (编号, id), else a
hash of the feature's geometry and attributes as read: re-importing the same content then finds
the same rows.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import shapely

from gis.ingest.attributes import feature_attributes, is_missing, json_safe
from gis.ingest.readers import RawSource

# json.dumps(..., sort_keys=True, ensure_ascii=False), its encoder made once
_SORTED_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode


def unique_key_column(attrs: pd.DataFrame, column: str | None) -> tuple[str | None, list[str]]:
    """``column`` when its present values are unique, else None and a note saying why it is not used."""
    if column is None:
        return None, []
    ids = attrs[column][~is_missing(attrs[column])]
    if not ids.duplicated().any():
        return column, []
    note = (
        f"column {column} is not unique ({ids.nunique()} distinct values in {len(ids)} features), so it "
        "is not used as the key: a re-import matches features by their content"
    )
    return None, [note]


def key_text(value: Any) -> str | None:
    """A key column's value as a key (``12.0`` read from a shapefile is ``"12"``), None when empty."""
    v = json_safe(value)
    if v in (None, ""):
        return None
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def content_key(geometry: Any, attributes: dict[str, Any]) -> str:
    """``h:`` and 20 hex digits of the SHA-1 of the geometry's WKB and the attributes' sorted JSON."""
    return _content_key(shapely.to_wkb(geometry) if geometry is not None else None, attributes)


def _content_key(wkb: bytes | None, attributes: dict[str, Any]) -> str:
    digest = hashlib.sha1(wkb or b"")
    digest.update(_SORTED_JSON(attributes).encode())
    return "h:" + digest.hexdigest()[:20]


def attribute_rows(raw: RawSource, rows: np.ndarray) -> list[dict[str, Any]]:
    """The attributes as read of the features ``rows``, JSON-safe, without the empty ones: what
    :func:`~gis.ingest.attributes.feature_attributes` gives for each, read a column at a time.

    The values are taken from the frame's single-dtype array, as a row of it reads them (a frame of
    integer and float columns gives floats), so that a key stays what earlier imports computed.
    """
    attrs = raw.attributes
    if not len(attrs.columns):
        return [{} for _ in range(len(rows))]
    table = attrs.to_numpy()[rows]
    if table.dtype.kind not in "biufO":  # dates alone, say: as a row of them reads them
        return [feature_attributes(raw, i) for i in rows.tolist()]
    names = [str(c) for c in attrs.columns]
    columns = []
    for j in range(table.shape[1]):
        col = table[:, j]
        if col.dtype.kind in "biuf":
            values = col.tolist()
            if col.dtype.kind == "f":
                values = [None if not math.isfinite(v) else v for v in values]
        else:
            values = [v if v is None or type(v) is str else json_safe(v) for v in col]
        columns.append(values)
    return [
        {name: v for name, v in zip(names, row, strict=True) if v is not None and v != ""}
        for row in zip(*columns, strict=True)
    ]


def feature_keys(raw: RawSource, column: str | None) -> list[str]:
    """Every feature's key: the reader's, else the key column's value, else its content's hash."""
    n = len(raw.geometries)
    if raw.keys is not None:
        return [str(k) for k in raw.keys]
    found: list[str | None] = [None] * n
    if column is not None:
        ids = raw.attributes[column]
        if ids.dtype.kind in "iu":  # a column of whole numbers, as a GeoPackage's or a shapefile's ids are
            found = [str(v) for v in ids.tolist()]
        else:
            found = [key_text(v) for v in ids.to_numpy(dtype=object)]
    missing = np.array([k is None for k in found], dtype=bool)
    if missing.any():
        rows = np.flatnonzero(missing)
        wkb = shapely.to_wkb(raw.geometries[rows])
        for i, w, attrs in zip(rows.tolist(), wkb, attribute_rows(raw, rows), strict=True):
            found[i] = _content_key(w, attrs)
    return [str(k) for k in found]


def mark_duplicates(
    keys: list[str], reasons: list[list[str]], first_seen: dict[str, int] | None = None, offset: int = 0
) -> None:
    """Set aside every usable feature whose key an earlier usable feature already has.

    ``first_seen`` (key -> feature) carries the keys of earlier parts of the same file, read in
    order, whose features start at ``offset``.
    """
    first_seen = {} if first_seen is None else first_seen
    for i, k in enumerate(keys):
        if reasons[i]:
            continue
        if k in first_seen:
            reasons[i].append(f"duplicate of feature #{first_seen[k]} (same key {k})")
        else:
            first_seen[k] = offset + i
