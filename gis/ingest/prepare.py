"""From raw features to rows a layer can store: geometry checked, repaired and projected;
attributes mapped to the layer's fields through its aliases and code lists; the rest kept.

Each unusable feature gets its reason; nothing here raises for a single bad feature. The steps
live in :mod:`gis.ingest.geometry`, :mod:`gis.ingest.attributes` and :mod:`gis.ingest.keys`;
:func:`prepare` runs them in order and assembles what they found.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
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

    @classmethod
    def nothing(cls) -> Prepared:
        """No rows: what :meth:`add` collects the findings of a file's parts into."""
        return cls(values=pd.DataFrame(), synthetic=[], extra=[], keys=[], geoms=np.array([], dtype=object), read=0)

    def add(self, part: Prepared) -> None:
        """Count ``part``'s keys and findings in (not its rows: those are written and let go)."""
        self.keys.extend(part.keys)
        self.read += part.read
        self.repaired.extend(part.repaired)
        self.rejected.extend(part.rejected)
        self.field_issues.extend(part.field_issues)
        self.warnings.extend(part.warnings)


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
    steps = Steps(raw, layer, registry, source_crs, working_crs, coords, type_default)
    return steps.part(0, len(raw.geometries))


def prepare_parts(steps: Steps, size: int) -> Iterator[Prepared]:
    """:func:`prepare` a part of ``size`` features at a time, in order: the same rows, keys and
    findings (with the features' positions in the whole file) as one :func:`prepare` of it all."""
    n = len(steps.raw.geometries)
    for start in range(0, n, size):
        yield steps.part(start, min(n, start + size))


@dataclass
class Steps:
    """The steps of :func:`prepare` for one file, run on a part of it at a time: what depends on the
    whole file (which column is the key, the keys seen so far) is kept here."""

    raw: RawSource
    layer: LayerDef
    registry: Registry
    source_crs: CRS
    working_crs: CRS
    coords: Coords = "wgs84"
    type_default: str | None = None
    first_seen: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.columns = attributes.map_columns(self.raw.attributes, self.layer, reader_keys=self.raw.keys is not None)
        self.key_column, self.notes = keys.unique_key_column(self.raw.attributes, self.columns.key)

    def part(self, start: int, stop: int) -> Prepared:
        """The features ``start`` to ``stop`` prepared; their problems indexed in the whole file."""
        raw = self.raw if (start, stop) == (0, len(self.raw.geometries)) else _slice(self.raw, start, stop)
        layer, n = self.layer, stop - start
        reasons = reader_reasons(raw)
        geoms = geometry.check_source(raw, layer, reasons)
        geoms = geometry.project(geoms, self.source_crs, self.working_crs, self.coords)
        repaired = geometry.repair(geoms, reasons)
        parts = geometry.storage_parts(geoms, layer, reasons)

        fields = attributes.field_values(raw, layer, self.registry, self.columns, reasons, self.type_default)
        synthetic = attributes.synthetic_marks(raw.attributes, self.columns.synthetic, n)
        extra = attributes.extras(raw.attributes, self.columns, fields.kept_raw, n)

        feature_keys = keys.feature_keys(raw, self.key_column)
        keys.mark_duplicates(feature_keys, reasons, self.first_seen, start)
        notes = self.notes if start == 0 else []
        prepared = assemble(raw, Findings(reasons, parts, repaired, fields, synthetic, extra, feature_keys, notes))
        if start:
            for p in [*prepared.repaired, *prepared.rejected, *prepared.field_issues]:
                p.index += start
        return prepared


def _slice(raw: RawSource, start: int, stop: int) -> RawSource:
    """Features ``start`` to ``stop`` of ``raw``, numbered from 0."""

    def rows(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        return None if frame is None else frame.iloc[start:stop].reset_index(drop=True)

    def cut(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else values[start:stop]

    return replace(
        raw,
        attributes=raw.attributes.iloc[start:stop].reset_index(drop=True),
        geometries=raw.geometries[start:stop],
        unparseable=raw.unparseable[start:stop],
        keys=cut(raw.keys),
        preset=rows(raw.preset),
        rejected_reasons=cut(raw.rejected_reasons),
    )
