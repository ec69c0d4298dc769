"""The geometry steps of preparing an import: checks in the source CRS, projection to the working
CRS, validity and repair there (what is stored is what must be valid), and the parts a layer stores.

Each step takes the features' geometries (``None`` where a feature has none left) and their
``reasons`` (one list per feature): a feature that cannot be used gets a reason and loses its
geometry; nothing here raises for a single bad feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer

from gis.crs import Coords, to_wgs84
from gis.ingest.import_report import Problem
from gis.ingest.precheck import MAX_COORDINATE
from gis.ingest.readers import RawSource
from gis.registry import LayerDef

FAMILY = {
    "Point": "point",
    "MultiPoint": "point",
    "LineString": "line",
    "MultiLineString": "line",
    "LinearRing": "line",
    "Polygon": "polygon",
    "MultiPolygon": "polygon",
}
UNPARSEABLE = "geometry cannot be parsed (for example a ring with fewer than 4 points)"
# shapely's type ids (shapely.get_type_id; -1 for none)
TYPE_ID = {
    "Point": 0,
    "LineString": 1,
    "LinearRing": 2,
    "Polygon": 3,
    "MultiPoint": 4,
    "MultiLineString": 5,
    "MultiPolygon": 6,
    "GeometryCollection": 7,
}
FAMILY_IDS = {family: [TYPE_ID[t] for t, f in FAMILY.items() if f == family] for family in set(FAMILY.values())}


def present(geoms: np.ndarray) -> np.ndarray:
    """The positions of ``geoms`` that hold a geometry."""
    return np.flatnonzero(shapely.get_type_id(geoms) >= 0)


def wkt(g: Any) -> str | None:
    """``g`` as WKT at full precision, for the rejects file; None when there is none to print."""
    if g is None:
        return None
    try:
        return str(shapely.to_wkt(g, rounding_precision=-1))
    except Exception:  # a geometry GEOS cannot even print is still reported
        return None


def keep_family(g: Any, family: str) -> Any:
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


def to_storage(g: Any, storage: set[str]) -> list[Any]:
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


# -- in the source CRS ------------------------------------------------------------------------------
def _drop_missing(geoms: np.ndarray, unparseable: np.ndarray, reasons: list[list[str]]) -> None:
    for i in np.flatnonzero(unparseable).tolist():
        reasons[i].append(UNPARSEABLE)
        geoms[i] = None
    for i in np.flatnonzero(shapely.get_type_id(geoms) < 0).tolist():
        if not reasons[i]:  # a reader that dropped it said why (too many vertices, a broken OSM way)
            reasons[i].append("no geometry")
    empty = shapely.is_empty(geoms)  # False where there is none
    for i in np.flatnonzero(empty).tolist():
        reasons[i].append("empty geometry")
        geoms[i] = None


def _drop_not_finite(geoms: np.ndarray, reasons: list[list[str]]) -> None:
    present = np.array([g is not None for g in geoms], dtype=bool)
    if not present.any():
        return
    coords_all, owner = shapely.get_coordinates(geoms[present], return_index=True)
    finite = np.isfinite(coords_all).all(axis=1)
    with np.errstate(invalid="ignore"):
        earthly = (np.abs(coords_all) <= MAX_COORDINATE).all(axis=1)
    features = np.flatnonzero(present)
    for i in features[np.unique(owner[~finite])]:
        reasons[i].append("coordinates are not numbers (NaN or infinite)")
        geoms[i] = None
    for pos in np.unique(owner[finite & ~earthly]):
        i = features[pos]
        if geoms[i] is not None:
            worst = float(np.nanmax(np.abs(coords_all[owner == pos])))
            reasons[i].append(
                f"coordinates reach {worst:.3g}, beyond any coordinate system on Earth (at most {MAX_COORDINATE:.0e} "
                "in any unit): the numbers are not coordinates"
            )
            geoms[i] = None


def _keep_families(geoms: np.ndarray, layer: LayerDef, reasons: list[list[str]]) -> None:
    families = {FAMILY[g] for g in layer.geometry}
    type_ids = shapely.get_type_id(geoms)
    wanted = np.isin(type_ids, [t for f in families for t in FAMILY_IDS[f]])
    for i in np.flatnonzero(~wanted & (type_ids >= 0)).tolist():
        # a collection keeps its parts of a wanted family; anything else cannot be stored
        g = geoms[i]
        kept = next((k for fam in families if (k := keep_family(g, fam)) is not None), None)
        if kept is None:
            allowed = " or ".join(sorted(layer.geometry))
            reasons[i].append(f"geometry is {g.geom_type}; layer {layer.id} takes {allowed}")
        geoms[i] = kept


def check_source(raw: RawSource, layer: LayerDef, reasons: list[list[str]]) -> np.ndarray:
    """The geometries of ``raw`` that can be used as read: present, parseable, not empty, with
    finite coordinates, and of a family ``layer`` takes (a collection keeps its parts of it)."""
    geoms = raw.geometries.copy()
    _drop_missing(geoms, raw.unparseable, reasons)
    _drop_not_finite(geoms, reasons)
    _keep_families(geoms, layer, reasons)
    return geoms


# -- projection -------------------------------------------------------------------------------------
def transform(geoms: np.ndarray, src: CRS, dst: CRS) -> np.ndarray:
    """``geoms`` from ``src`` to ``dst`` (x/y order: longitude first)."""
    if src == dst:
        return geoms
    tr = Transformer.from_crs(src, dst, always_xy=True)

    def fn(c: np.ndarray) -> np.ndarray:
        x, y = tr.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


def project(geoms: np.ndarray, source_crs: CRS, working_crs: CRS, coords: Coords = "wgs84") -> np.ndarray:
    """The geometries in the working CRS; commercial-map coordinates (``coords``) go to WGS 84 first."""
    ok = np.array([g is not None for g in geoms], dtype=bool)
    if ok.any():
        part = geoms[ok]
        if coords != "wgs84":
            part = to_wgs84(part, coords)
        geoms[ok] = transform(part, source_crs, working_crs)
    return geoms


# -- validity and repair, in the working CRS --------------------------------------------------------
@dataclass(frozen=True)
class Repair:
    """What validity checking made of one geometry: the geometry to keep (None when rejected), the
    reason it was rejected, and the note of a repair."""

    geometry: Any
    rejected: str | None = None
    repaired: str | None = None


def repair_geometry(g: Any) -> Repair:
    """An invalid polygon repaired (``make_valid``, keeping its polygonal parts); a polygon without
    area or a line without length rejected; anything else kept as it is."""
    family = FAMILY[g.geom_type]
    if family == "line" and g.length == 0:
        return Repair(None, rejected="line of zero length")
    if family != "polygon":
        return Repair(g)
    note = None
    if not g.is_valid:
        why = shapely.is_valid_reason(g)
        fixed = keep_family(shapely.make_valid(g), "polygon")
        if fixed is None or fixed.area == 0:
            return Repair(None, rejected=f"invalid polygon ({why}) with no area left after repair")
        note, g = f"repaired: {why}", fixed
    if g.area == 0:
        return Repair(None, rejected="polygon of zero area", repaired=note)
    return Repair(g, repaired=note)


def repair(geoms: np.ndarray, reasons: list[list[str]]) -> list[Problem]:
    """Repair or reject every geometry in place; the repairs made.

    What :func:`repair_geometry` decides for each, with the common cases (a valid polygon of some
    area, a line of some length, a point) decided for all features at once.
    """
    type_ids = shapely.get_type_id(geoms)
    lines = np.isin(type_ids, FAMILY_IDS["line"])
    polygons = np.isin(type_ids, FAMILY_IDS["polygon"])
    with np.errstate(invalid="ignore"):
        zero_length = lines & (shapely.length(geoms) == 0)
    valid = shapely.is_valid(geoms)
    zero_area = polygons & valid & (shapely.area(geoms) == 0)
    for i in np.flatnonzero(zero_length | zero_area).tolist():
        reasons[i].append("line of zero length" if zero_length[i] else "polygon of zero area")
        geoms[i] = None
    repaired: list[Problem] = []
    for i in np.flatnonzero(polygons & ~valid).tolist():
        found = repair_geometry(geoms[i])
        if found.repaired is not None:
            repaired.append(Problem(index=i, reason=found.repaired))
        if found.rejected is not None:
            reasons[i].append(found.rejected)
        geoms[i] = found.geometry
    return repaired


@dataclass(frozen=True)
class Parts:
    """The stored parts of the features that kept a geometry, in feature order: each part's feature
    (``owner``), its number within the feature (from 1) and how many its feature has."""

    owner: np.ndarray
    number: np.ndarray
    count: np.ndarray
    geoms: np.ndarray


def storage_parts(geoms: np.ndarray, layer: LayerDef, reasons: list[list[str]]) -> Parts:
    """Each remaining geometry as the parts ``layer`` stores (see :func:`to_storage`): a promotion
    to the multi-type, or the geometry as it is, for all at once; the rest one by one."""
    storage = layer.storage_types
    type_ids = shapely.get_type_id(geoms)
    owner_of: list[np.ndarray] = []
    parts_of: list[np.ndarray] = []
    done = np.zeros(len(geoms), dtype=bool)
    for single, multi, make in (
        ("Polygon", "MultiPolygon", shapely.multipolygons),
        ("LineString", "MultiLineString", shapely.multilinestrings),
    ):
        if multi in storage:
            rows = np.flatnonzero(type_ids == TYPE_ID[single])
            owner_of.append(rows)
            parts_of.append(make(geoms[rows], indices=np.arange(len(rows))) if len(rows) else geoms[rows])
            done[rows] = True
    as_is = np.flatnonzero(~done & np.isin(type_ids, [TYPE_ID[t] for t in storage]))
    owner_of.append(as_is)
    parts_of.append(geoms[as_is])
    done[as_is] = True
    owner = [np.concatenate(owner_of)]
    parts = [np.concatenate(parts_of)]
    for i in np.flatnonzero(~done & (type_ids >= 0)).tolist():
        g = geoms[i]
        split = to_storage(g, storage)
        if not split:
            count = len(shapely.get_parts(g))
            takes = " or ".join(layer.geometry)
            reasons[i].append(f"{g.geom_type} of {count} parts; layer {layer.id} takes one {takes}")
        owner.append(np.full(len(split), i))
        parts.append(np.array([*split, None], dtype=object)[:-1])
    all_owners = np.concatenate(owner).astype(np.int64)
    all_parts = np.concatenate(parts)
    order = np.argsort(all_owners, kind="stable")
    all_owners, all_parts = all_owners[order], all_parts[order]
    first = np.r_[True, all_owners[1:] != all_owners[:-1]] if len(all_owners) else np.array([], dtype=bool)
    starts = np.flatnonzero(first)
    counts = np.diff(np.r_[starts, len(all_owners)])
    number = np.arange(len(all_owners)) - np.repeat(starts, counts) + 1
    return Parts(owner=all_owners, number=number, count=np.repeat(counts, counts), geoms=all_parts)
