"""From raw features to rows a layer can store: geometry checked, repaired and projected;
attributes mapped to the layer's fields through its aliases and code lists; the rest kept.

Each unusable feature gets its reason; nothing here raises for a single bad feature. The steps
live in :mod:`gis.ingest.geometry`, :mod:`gis.ingest.attributes` and :mod:`gis.ingest.keys`;
:func:`prepare` runs them in order and assembles what they found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pyproj import CRS

from gis.crs import Coords
from gis.ingest import attributes, geometry, keys
from gis.ingest.attributes import FieldValues
from gis.ingest.import_report import Problem
from gis.ingest.readers import RawSource
from gis.registry import LayerDef, Registry


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


@dataclass
class Findings:
    """What the steps found, one entry per feature read, before features are split into rows."""

    reasons: list[list[str]]  # why a feature cannot be used; empty when it can
    parts: geometry.Parts  # the stored parts of the features that kept their geometry
    repaired: list[Problem]
    fields: FieldValues
    synthetic: list[str | None]
    extra: list[dict[str, Any]]
    keys: list[str]
    notes: list[str]


def reader_reasons(raw: RawSource) -> list[list[str]]:
    """One list of reasons per feature, starting with those the reader already knows (OSM)."""
    reasons: list[list[str]] = [[] for _ in range(len(raw.geometries))]
    if raw.rejected_reasons is not None:
        for i, r in enumerate(raw.rejected_reasons):
            if r:
                reasons[i].append(str(r))
    return reasons


def rejected(raw: RawSource, found: Findings) -> list[Problem]:
    """The features set aside, with all their reasons and what was read of them."""
    return [
        Problem(
            index=i,
            key=found.keys[i],
            reason="; ".join(r),
            geometry_wkt=geometry.wkt(raw.geometries[i]),
            attributes=attributes.feature_attributes(raw, i),
        )
        for i, r in enumerate(found.reasons)
        if r
    ]


def assemble(raw: RawSource, found: Findings) -> Prepared:
    """One row per stored part of every usable feature (``key#2`` for a feature's second part)."""
    for p in [*found.repaired, *found.fields.issues]:
        p.key = found.keys[p.index]
    usable = np.array([not r for r in found.reasons], dtype=bool)
    parts = found.parts
    keep = usable[parts.owner] if len(parts.owner) else np.zeros(0, dtype=bool)
    owners, numbers, counts = parts.owner[keep], parts.number[keep], parts.count[keep]
    rows = owners.tolist()
    out_keys = [
        found.keys[i] if c == 1 else f"{found.keys[i]}#{j}"
        for i, j, c in zip(rows, numbers.tolist(), counts.tolist(), strict=True)
    ]
    return Prepared(
        values=found.fields.values.iloc[rows].reset_index(drop=True),
        synthetic=[found.synthetic[i] for i in rows],
        extra=[found.extra[i] for i in rows],
        keys=out_keys,
        geoms=parts.geoms[keep],
        read=len(raw.geometries),
        repaired=[p for p in found.repaired if not found.reasons[p.index]],
        rejected=rejected(raw, found),
        field_issues=[p for p in found.fields.issues if not found.reasons[p.index]],
        warnings=found.notes,
    )


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
    reasons = reader_reasons(raw)
    geoms = geometry.check_source(raw, layer, reasons)
    geoms = geometry.project(geoms, source_crs, working_crs, coords)
    repaired = geometry.repair(geoms, reasons)
    parts = geometry.storage_parts(geoms, layer, reasons)

    columns = attributes.map_columns(raw.attributes, layer, reader_keys=raw.keys is not None)
    fields = attributes.field_values(raw, layer, registry, columns, reasons, type_default)
    synthetic = attributes.synthetic_marks(raw.attributes, columns.synthetic, n)
    extra = attributes.extras(raw.attributes, columns, fields.kept_raw, n)

    key_column, notes = keys.unique_key_column(raw.attributes, columns.key)
    feature_keys = keys.feature_keys(raw, key_column)
    keys.mark_duplicates(feature_keys, reasons)
    found = Findings(reasons, parts, repaired, fields, synthetic, extra, feature_keys, notes)
    return assemble(raw, found)
