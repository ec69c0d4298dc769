"""Horizontal clearances between buried lines (GB 50289 表4.1.9): the rule, distance and stretch of
each candidate pair (found by the GiST index, :func:`gis.pipelines.checks.clearances`) with shapely.

A finding is a pair of buried lines ``a`` (the smaller fid) and ``b`` closer than the most specific
rule of the table allows (``actual < required``) along a stretch of ``a`` longer than
``min_parallel_stretch_factor`` × the clearance; the stretch is ``a ∩ buffer(b, required)``, as
GEOS computes it.

Most candidate pairs are lines of a network that meet at a junction and part: their stretch is
about the clearance, far below the factor. Buffering every such pair is what costs; instead both
lines are clipped, in turn, to the other's bounding box widened by the clearance (a cheap clip, no
overlay). Clipping keeps every point of one line within the clearance of the other, so the clipped
length of ``a`` bounds its stretch from above: pairs whose bound is already below the factor are
no findings, and only the rest are buffered — on the clipped pieces, whose buffer near ``a`` is
the whole line's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gis.pipelines.rules import categories, rules

# Widening of the clip boxes beyond the clearance: lines lying exactly on a box's edge stay in.
_MARGIN = 1e-3
# Rounds of clipping a to b's box and b to a's: after three, the pieces of most lines that part at
# a junction are shorter than the factor × the clearance.
_ROUNDS = 3
# Tolerance of the bound: a stretch can exceed its clipped line's length by rounding only.
_EPS = 1e-6


@dataclass(frozen=True)
class PairRules:
    """The most specific rule of the table for each pair of category profiles (indexed a, b)."""

    value: NDArray[np.float64]
    le_300: NDArray[np.float64]
    gt_300: NDArray[np.float64]
    status: NDArray[np.object_]
    note: NDArray[np.object_]

    def required(self, pa: NDArray[np.int64], pb: NDArray[np.int64], dn: NDArray[np.float64]) -> NDArray[np.float64]:
        """The clearance of each pair (NaN where the table has none); ``dn`` is the larger diameter."""
        by_dn = np.where(dn > 300, self.gt_300[pa, pb], self.le_300[pa, pb])
        value = self.value[pa, pb]
        return np.where(np.isnan(value), by_dn, value)


def line_profiles(frame: pd.DataFrame) -> tuple[NDArray[np.int64], list[tuple[list[str], str | None]]]:
    """Each line's profile (its categories in 表4.1.9 and the assumption made; few distinct ones)."""
    cols = ["kind", "diameter_mm", "pressure"]
    codes: NDArray[np.int64] = np.asarray(frame.groupby(cols, dropna=False, sort=False).ngroup(), dtype=np.int64)
    firsts = frame[cols].assign(code=codes).drop_duplicates("code").sort_values("code")
    profiles = []
    for kind, diameter, pressure in firsts[cols].itertuples(index=False):
        profiles.append(
            categories(
                str(kind) if isinstance(kind, str) else None,
                None if pd.isna(diameter) else float(diameter),
                str(pressure) if isinstance(pressure, str) else None,
            )
        )
    return codes, profiles


def pair_rules(profiles: list[tuple[list[str], str | None]]) -> PairRules:
    """The rule of each pair of profiles: the clearance row whose categories rank highest (the
    smallest sum of ranks, then of ``a``'s rank), as in 表4.1.9 read most specific first."""
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rules()["horizontal_clearance_m"]:
        for a, b in {(row["a"], row["b"]), (row["b"], row["a"])}:
            table[(a, b)] = row
    n = len(profiles)
    value, le, gt = (np.full((n, n), np.nan) for _ in range(3))
    status = np.full((n, n), None, dtype=object)
    note = np.full((n, n), None, dtype=object)
    for i, (cats_a, as_a) in enumerate(profiles):
        for j, (cats_b, as_b) in enumerate(profiles):
            found = [
                (ra + rb, ra, table[(ca, cb)])
                for ra, ca in enumerate(cats_a)
                for rb, cb in enumerate(cats_b)
                if (ca, cb) in table
            ]
            if not found:
                continue
            row = min(found, key=lambda f: (f[0], f[1]))[2]
            by_dn = row.get("value_by_dn") or {}
            value[i, j] = np.nan if row.get("value") is None else float(row["value"])
            le[i, j] = np.nan if by_dn.get("le_300") is None else float(by_dn["le_300"])
            gt[i, j] = np.nan if by_dn.get("gt_300") is None else float(by_dn["gt_300"])
            status[i, j] = row["status"]
            note[i, j] = "; ".join(x for x in (as_a, as_b) if x)
    return PairRules(value, le, gt, status, note)


def _widened(bounds: NDArray[np.float64], by: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    w = by + _MARGIN
    return bounds[:, 0] - w, bounds[:, 1] - w, bounds[:, 2] + w, bounds[:, 3] + w


def _clip(geoms: NDArray[np.object_], boxes: tuple[NDArray[np.float64], ...]) -> NDArray[np.object_]:
    # shapely.clip_by_rect accepts one rectangle only (arrays asked for in shapely#1331, open); the
    # ufunc under it broadcasts one per geometry. An empty geometry's box is NaN, which the ufunc
    # reads as no clip at all: near_pieces drops empty pieces before their boxes are used.
    return np.asarray(shapely.lib.clip_by_rect(geoms, *boxes), dtype=object)


def near_pieces(
    a: NDArray[np.object_], b: NDArray[np.object_], required: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.object_], NDArray[np.object_]]:
    """The pairs (positions) where some of ``a`` lies within ``required`` of ``b``'s box, and the
    pieces of ``a`` and ``b`` clipped in turn to the other's box widened by the clearance.

    Every point of ``a`` within the clearance of ``b`` is in ``a``'s piece, and every point of ``b``
    within the clearance of that piece in ``b``'s: the stretch of the pieces is the stretch of the
    lines, and ``a``'s piece is never shorter than it.
    """
    keep = np.arange(len(a))
    for _ in range(_ROUNDS):
        a = _clip(a, _widened(shapely.bounds(b), required))
        # an empty piece: no point of a (or b) within the clearance of the other
        ok = ~shapely.is_empty(a)
        keep, a, b, required = keep[ok], a[ok], b[ok], required[ok]
        b = _clip(b, _widened(shapely.bounds(a), required))
        ok = ~shapely.is_empty(b)
        keep, a, b, required = keep[ok], a[ok], b[ok], required[ok]
    return keep, a, b


def _lines_only(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """The linear parts of each geometry (an intersection holds points where lines only touch),
    merged into as few lines as they make (ST_LineMerge(ST_CollectionExtract(g, 2)))."""
    out = geoms.copy()
    for i in np.flatnonzero(shapely.get_type_id(geoms) == shapely.GeometryType.GEOMETRYCOLLECTION):
        parts = shapely.get_parts(shapely.get_parts(out[i]))
        out[i] = shapely.multilinestrings(parts[shapely.get_type_id(parts) == shapely.GeometryType.LINESTRING])
    return np.asarray(shapely.line_merge(out), dtype=object)


@dataclass(frozen=True)
class Lines:
    """The buried lines checked, in fid order: attributes, category profile, geometry."""

    fid: NDArray[np.int64]
    kind: NDArray[np.object_]
    diameter: NDArray[np.float64]
    profile: NDArray[np.int64]
    geom: NDArray[np.object_]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, geoms: NDArray[np.object_]) -> tuple[Lines, PairRules]:
        codes, profiles = line_profiles(frame)
        diameter = pd.to_numeric(frame["diameter_mm"], errors="coerce").to_numpy(dtype=float)
        lines = cls(frame["fid"].to_numpy(dtype=np.int64), frame["kind"].to_numpy(dtype=object), diameter, codes, geoms)
        return lines, pair_rules(profiles)


def measure(
    lines: Lines, rules_: PairRules, ia: NDArray[np.int64], ib: NDArray[np.int64], factor: float
) -> pd.DataFrame:
    """The clearance findings among candidate pairs (positions ``ia``, ``ib`` into ``lines``).

    Columns: ``fid_a, kind_a, fid_b, kind_b, required_m, actual_m, stretch_m, value_status, note,
    geom``, one row per pair closer than its rule along more than ``factor`` × the clearance.
    """
    pa, pb = lines.profile[ia], lines.profile[ib]
    required = rules_.required(pa, pb, np.fmax(lines.diameter[ia], lines.diameter[ib]))
    ruled = np.flatnonzero(~np.isnan(required))
    ia, ib, required = ia[ruled], ib[ruled], required[ruled]
    keep, a, b = near_pieces(lines.geom[ia], lines.geom[ib], required)
    ia, ib, required = ia[keep], ib[keep], required[keep]
    # the stretch cannot be longer than a's piece
    long = shapely.length(a) > factor * required - _EPS
    ia, ib, required, a, b = ia[long], ib[long], required[long], a[long], b[long]
    actual = shapely.distance(lines.geom[ia], lines.geom[ib])
    close = actual < required
    ia, ib, required, actual, a, b = ia[close], ib[close], required[close], actual[close], a[close], b[close]
    stretch_geom = shapely.intersection(a, shapely.buffer(b, required))
    stretch = shapely.length(stretch_geom)
    found = stretch > factor * required
    ia, ib = ia[found], ib[found]
    pa, pb = lines.profile[ia], lines.profile[ib]
    return pd.DataFrame(
        {
            "check": "clearance",
            "fid_a": lines.fid[ia],
            "kind_a": lines.kind[ia],
            "fid_b": lines.fid[ib],
            "kind_b": lines.kind[ib],
            "required_m": required[found],
            "actual_m": actual[found],
            "stretch_m": stretch[found],
            "value_status": rules_.status[pa, pb],
            "note": rules_.note[pa, pb],
            "geom": _lines_only(stretch_geom[found]),
        }
    )


def clearance_limit() -> float:
    """The largest clearance of the table between two lines (the candidates' search distance)."""
    values = [
        row.get("value") or max((row.get("value_by_dn") or {}).values(), default=0)
        for row in rules()["horizontal_clearance_m"]
        if "building" not in (row["a"], row["b"])
    ]
    return float(max(values))
