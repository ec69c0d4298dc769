"""Each feature's stable key, by which a re-import finds it again, and the duplicates within a file.

The key is the reader's own id (OSM's ``way/123``), else a unique key column (编号, id), else a
hash of the feature's geometry and attributes as read: re-importing the same content then finds
the same rows.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pandas as pd
import shapely

from gis.ingest.attributes import feature_attributes, is_missing, json_safe
from gis.ingest.readers import RawSource


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
    digest = hashlib.sha1(shapely.to_wkb(geometry) if geometry is not None else b"")
    digest.update(json.dumps(attributes, sort_keys=True, ensure_ascii=False).encode())
    return "h:" + digest.hexdigest()[:20]


def feature_keys(raw: RawSource, column: str | None) -> list[str]:
    """Every feature's key: the reader's, else the key column's value, else its content's hash."""
    keys: list[str] = []
    for i in range(len(raw.geometries)):
        key: str | None = None
        if raw.keys is not None:
            key = str(raw.keys[i])
        elif column is not None:
            key = key_text(raw.attributes[column].iloc[i])
        if key is None:
            key = content_key(raw.geometries[i], feature_attributes(raw, i))
        keys.append(key)
    return keys


def mark_duplicates(keys: list[str], reasons: list[list[str]]) -> None:
    """Set aside every usable feature whose key an earlier usable feature already has."""
    first_seen: dict[str, int] = {}
    for i, k in enumerate(keys):
        if reasons[i]:
            continue
        if k in first_seen:
            reasons[i].append(f"duplicate of feature #{first_seen[k]} (same key {k})")
        else:
            first_seen[k] = i
