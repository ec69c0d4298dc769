"""A gap analysis cut into partitions that each read their own box, with a result equal to the whole's.

Each compound is owned by one partition: the compounds are put in Hilbert order by a point on each,
and cut into runs whose box, with its road halo, holds about ``max_edges`` road segments (counted
beforehand on a coarse grid, :class:`EdgeGrid`). A partition's *box* is the bounding box of its
compounds' geometries (not of their points: a polygon may reach past its neighbours'). It reads

- its own compounds, and with a 2SFCA (a type with capacities) every compound touching the box
  widened by 2R, as demand only;
- every facility touching the box widened by R;
- every walkable road line touching the box widened by ``roads_m`` (:class:`Halo`): R (2R with a
  2SFCA) plus the longest access leg plus the joining tolerance; whole lines, never clipped.

R is the largest radius asked. It calls :func:`gis.gaps.analysis.analyse` on these, with the whole
area's :class:`~gis.gaps.analysis.GlobalFacts`, and keeps its own compounds' rows.

**Why a distance within R is the whole area's.** A walk of length d from a compound (its leg, the
roads, the facility's leg) never leaves the disc of radius d around the compound's geometry, so a
walk of at most R stays in the box widened by R. There the partition's graph is the whole area's:
every line through that area touches it and is read, whole, with every line within the tolerance
of it (so a line end's degree, and the gaps the tolerance joins, are the same) and every segment
within an access leg of any facility or compound it reads (so their access points are the same).
Crossings are noded pairwise, and both lines of a crossing in that area are read. So every walk of
at most R in the whole area is a walk in the partition, and a walk in the partition that leaves
the area is longer than R: the nearest facility within R, and its distance, are the same. A
straight line is never longer than the walk, so every facility within R is read. With a 2SFCA,
every compound within R of a facility within R of the compound lies within 2R of it, and so does
every walk between them: the demand each facility sees is the same, and so is the ratio.

**Beyond R** the partition may not have seen the nearest facility. Such a row is reported as
farther than the radius (``distance_m`` and the nearest facility empty, ``covered`` false, a flag
saying so), never with a distance that might be wrong; "covered" is therefore exact for every
compound. (A wider halo would give the distance, at a cost that grows with how far the nearest is.)

Road islands and the facility counts are whole-area facts: the road network's components are found
tile by tile (:mod:`gis.gaps.components`, no task holding the whole network), the facilities' counts
once (:func:`whole_area`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.gaps import components
from gis.gaps.analysis import GapParameters, GlobalFacts, analyse, capacity_warning
from gis.standards import Standard

Box = tuple[float, float, float, float]
BEYOND = "farther than the radius ({r:g} m): not measured in a partitioned run / 超出服务半径，未计距离"
HILBERT_LEVEL = 16


@dataclass(frozen=True)
class Halo:
    """How far past its box a partition reads each layer (metres)."""

    radius_m: float  # R: the largest radius asked
    facilities_m: float
    compounds_m: float  # demand-side compounds (2SFCA); 0: none
    roads_m: float


def halo(radius_m: float, params: GapParameters, *, two_step: bool, scale: float = 1.0) -> Halo:
    """The halo of the rule above for the largest radius ``radius_m``; ``scale`` < 1 only to show
    (in a test) that a narrower one gives other answers."""
    reach = (2 if two_step else 1) * radius_m * scale
    return Halo(
        radius_m=radius_m,
        facilities_m=radius_m * scale,
        compounds_m=reach if two_step else 0.0,
        roads_m=reach + max(params.max_leg_m, params.search_m) + params.tolerance_m,
    )


def widen(box: Box, by: float) -> Box:
    """``box`` widened by ``by`` on every side."""
    return (box[0] - by, box[1] - by, box[2] + by, box[3] + by)


@dataclass(frozen=True)
class Sizing:
    """How large a partition may grow: road segments in its box with the road halo, and (to force
    small ones, as the tests do) compounds."""

    max_edges: int = 200_000
    max_compounds: int | None = None


@dataclass(frozen=True)
class Partition:
    """What a task needs to run one part: small enough to send anywhere (no geometry, no graph)."""

    index: int
    box: Box  # the bounding box of its compounds' geometries, in the working CRS
    compound_ids: tuple[int, ...]


class EdgeGrid:
    """Road segments counted per cell of a coarse grid, to size partitions before reading anything.

    ``cells``: rows of (column, row, segments) for the cells of side ``size`` from ``origin``.
    """

    def __init__(self, origin: tuple[float, float], size: float, cells: np.ndarray) -> None:
        self.origin, self.size = origin, size
        cells = np.asarray(cells, dtype=np.int64).reshape(-1, 3)
        self.col0 = int(cells[:, 0].min(initial=0))
        self.row0 = int(cells[:, 1].min(initial=0))
        shape = (int(cells[:, 0].max(initial=0)) - self.col0 + 1, int(cells[:, 1].max(initial=0)) - self.row0 + 1)
        grid = np.zeros(shape, dtype=np.int64)
        np.add.at(grid, (cells[:, 0] - self.col0, cells[:, 1] - self.row0), cells[:, 2])
        self.total = np.zeros((shape[0] + 1, shape[1] + 1), dtype=np.int64)  # 2-D prefix sums
        self.total[1:, 1:] = grid.cumsum(0).cumsum(1)

    @property
    def total_segments(self) -> int:
        """Every segment the grid counted."""
        return int(self.total[-1, -1])

    def count(self, box: Box) -> int:
        """Segments in the cells that ``box`` touches (an over-estimate, as a budget should be)."""
        x0, y0 = self.origin
        c = np.floor((np.array([box[0], box[2]]) - x0) / self.size).astype(np.int64) - self.col0
        r = np.floor((np.array([box[1], box[3]]) - y0) / self.size).astype(np.int64) - self.row0
        n_c, n_r = self.total.shape[0] - 1, self.total.shape[1] - 1
        c0, c1 = int(np.clip(c[0], 0, n_c)), int(np.clip(c[1] + 1, 0, n_c))
        r0, r1 = int(np.clip(r[0], 0, n_r)), int(np.clip(r[1] + 1, 0, n_r))
        t = self.total
        return int(t[c1, r1] - t[c0, r1] - t[c1, r0] + t[c0, r0])

    @classmethod
    def of_lines(cls, lines: np.ndarray, size: float) -> EdgeGrid:
        """The grid of in-memory lines, as :func:`gis.store.layers.segment_grid` counts a table's."""
        lines = np.asarray(lines, dtype=object)
        if not len(lines):
            return cls((0.0, 0.0), size, np.zeros((0, 3)))
        first = shapely.bounds(lines)[:, :2]
        segments = shapely.get_num_coordinates(lines) - shapely.get_num_geometries(lines)
        cells = (
            pd.DataFrame({"c": np.floor(first[:, 0] / size), "r": np.floor(first[:, 1] / size), "n": segments})
            .groupby(["c", "r"], as_index=False)["n"]
            .sum()
        )
        return cls((0.0, 0.0), size, cells.to_numpy())


def plan(compounds: gpd.GeoDataFrame, edges: EdgeGrid, halo: Halo, sizing: Sizing) -> list[Partition]:
    """The partitions: runs of compounds in Hilbert order, each closed before its box with the road
    halo would hold more segments (by ``edges``) or more compounds than ``sizing`` allows.

    ``compounds`` needs ``fid`` and its geometry; every compound lands in exactly one partition.
    """
    if not len(compounds):
        return []
    geoms = np.asarray(compounds.geometry.values, dtype=object)
    points = gpd.GeoSeries(shapely.point_on_surface(geoms), crs=compounds.crs)
    order = np.argsort(points.hilbert_distance(level=HILBERT_LEVEL).to_numpy(), kind="stable")
    bounds = shapely.bounds(geoms)[order]
    fids = compounds["fid"].to_numpy()[order]
    parts: list[Partition] = []
    start, box = 0, bounds[0]
    for i in range(1, len(order)):
        grown = np.r_[np.minimum(box[:2], bounds[i, :2]), np.maximum(box[2:], bounds[i, 2:])]
        full = sizing.max_compounds is not None and i - start >= sizing.max_compounds
        if full or edges.count(widen(tuple(grown), halo.roads_m)) > sizing.max_edges:
            parts.append(_partition(len(parts), box, fids[start:i]))
            start, box = i, bounds[i]
        else:
            box = grown
    parts.append(_partition(len(parts), box, fids[start:]))
    return parts


def _partition(index: int, box: np.ndarray, fids: np.ndarray) -> Partition:
    return Partition(index, (float(box[0]), float(box[1]), float(box[2]), float(box[3])), tuple(int(f) for f in fids))


def touching(frame: gpd.GeoDataFrame, box: Box) -> gpd.GeoDataFrame:
    """The rows whose geometry intersects ``box`` (as the database's reads of a box do)."""
    if not len(frame):
        return frame
    return frame[shapely.intersects(np.asarray(frame.geometry.values, dtype=object), shapely.box(*box))]


@dataclass
class PartInputs:
    """A partition's layers, read by the halo rule (from the database, or cut from frames in memory)."""

    compounds: gpd.GeoDataFrame  # its own first, then demand-side ones
    facilities: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame | None


def cut(
    part: Partition,
    compounds: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame | None,
    halo: Halo,
) -> PartInputs:
    """A partition's inputs cut from whole frames by the halo rule (what a task reads from PostGIS)."""
    own = compounds[compounds["fid"].isin(part.compound_ids)]
    extra = compounds.iloc[:0]
    if halo.compounds_m > 0:
        near = touching(compounds, widen(part.box, halo.compounds_m))
        extra = near[~near["fid"].isin(part.compound_ids)]
    return PartInputs(
        compounds=pd.concat([own, extra]) if len(extra) else own,
        facilities=touching(facilities, widen(part.box, halo.facilities_m)),
        roads=None if roads is None else touching(roads, widen(part.box, halo.roads_m)),
    )


def analyse_part(
    part: Partition,
    inputs: PartInputs,
    standard: Standard,
    facility_types: list[str],
    params: GapParameters,
    facts: GlobalFacts,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """One partition's rows (its own compounds only; rows beyond the radius marked, see above) and
    its warnings."""
    results, _network, warnings = analyse(
        inputs.compounds, inputs.facilities, inputs.roads, standard, facility_types, params, facts
    )
    mine = results[results["compound_id"].isin(part.compound_ids)].copy()
    return mark_beyond(mine), warnings


def mark_beyond(rows: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rows whose distance (walking, or straight) exceeds their radius: the distance, the nearest
    facility and a straight distance past the radius emptied, and flagged (see the module's note)."""
    far = ~(rows["distance_m"] <= rows["radius_m"])  # NaN (unreachable) too
    if far.any():
        rows.loc[far, "distance_m"] = np.nan
        rows.loc[far, "nearest_facility_id"] = pd.NA
        rows.loc[far, "nearest_facility_name"] = None
        notes = [BEYOND.format(r=r) for r in rows.loc[far, "radius_m"]]
        rows.loc[far, "flag"] = [
            f"{f}; {n}" if isinstance(f, str) and f else n for f, n in zip(rows.loc[far, "flag"], notes, strict=True)
        ]
    straight_far = ~(rows["euclidean_m"] <= rows["radius_m"])
    rows.loc[straight_far, "euclidean_m"] = np.nan
    return rows


def facility_facts(
    facilities: pd.DataFrame, standard: Standard, facility_types: list[str]
) -> tuple[dict[str, int], frozenset[str], list[str]]:
    """Per type asked: how many facilities the whole layer holds; the types with a capacity
    somewhere (a 2SFCA); the warnings of types some of whose facilities lack one."""
    counts, with_capacity, warnings = {}, set(), []
    for t in facility_types:
        fac = facilities[facilities["type"] == t] if len(facilities) else facilities
        counts[t] = len(fac)
        if len(fac) and pd.to_numeric(fac["capacity"], errors="coerce").notna().any():
            with_capacity.add(t)
        if standard.rule(t).capacity_unit and (note := capacity_warning(t, fac)):
            warnings.append(note)
    return counts, frozenset(with_capacity), warnings


def whole_area(
    facilities: pd.DataFrame,
    standard: Standard,
    facility_types: list[str],
    network: components.Components | None,
) -> tuple[GlobalFacts, dict[str, Any] | None, list[str]]:
    """The whole area's facts, network summary and area-wide warnings, from the facilities' types
    and capacities and the network's components found tile by tile (None: no walkable roads)."""
    counts, with_capacity, warnings = facility_facts(facilities, standard, facility_types)
    if network is None:
        return GlobalFacts(counts, with_capacity, "euclidean"), None, warnings
    s = network.summary
    if s["islands"]:
        warnings.insert(
            0,
            f"the walking network has {len(s['islands'])} islands cut off from the main network "
            f"({sum(i['length_m'] for i in s['islands']) / 1000:.2f} km of {s['length_km']:.2f} km)",
        )
    return GlobalFacts(counts, with_capacity, "network", network.island_lines), s, warnings


def road_components(
    roads: gpd.GeoDataFrame | None, params: GapParameters, max_edges: int
) -> components.Components | None:
    """The components of in-memory roads, tile by tile as the Dask engine finds them (None: none)."""
    if roads is None or not len(roads):
        return None
    bounds = tuple(float(v) for v in roads.total_bounds)
    found = [
        components.tile_parts(touching(roads, widen(core, params.tolerance_m)), params, core)
        for core in components.tiles(
            (bounds[0], bounds[1], bounds[2], bounds[3]), segment_count(roads), max_edges, params.tolerance_m
        )
    ]
    return components.merge(found, params)


def merge(
    parts: list[gpd.GeoDataFrame], warnings: list[list[str]], facility_types: list[str]
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The partitions' rows as one run (by type as asked, then compound id), and their warnings once
    each (a facility in two partitions' halos is reported by both)."""
    frame = pd.concat(parts, ignore_index=True)
    order = {t: i for i, t in enumerate(facility_types)}
    frame = frame.assign(_t=frame["facility_type"].map(order)).sort_values(["_t", "compound_id"], kind="stable")
    once = list(dict.fromkeys(w for ws in warnings for w in ws))
    return gpd.GeoDataFrame(
        frame.drop(columns="_t").reset_index(drop=True), geometry="geometry", crs=parts[0].crs if parts else None
    ), once


def no_road_count(rows: pd.DataFrame, params: GapParameters) -> int:
    """How many of the rows' compounds have no road within reach."""
    note = f"no road within {params.max_leg_m:g} m"
    return int(rows.loc[rows["flag"].fillna("").str.startswith(note), "compound_id"].nunique())


def no_road_warning(n: int, params: GapParameters) -> list[str]:
    """The run's warning of its ``n`` compounds with no road within reach (each partition counts its
    own: the whole analysis's words)."""
    return [f"{n} compounds have no road within {params.max_leg_m:g} m"] if n else []


def segment_count(roads: gpd.GeoDataFrame | None) -> int:
    """The road segments of the lines (consecutive vertices), as :class:`EdgeGrid` counts them."""
    if roads is None or not len(roads):
        return 0
    lines = np.asarray(roads.geometry.values, dtype=object)
    return int((shapely.get_num_coordinates(lines) - shapely.get_num_geometries(lines)).sum())


def two_step_types(standard: Standard, facility_types: list[str], facilities: pd.DataFrame) -> bool:
    """Whether any type asked for has a 2SFCA (a capacity unit and a capacity somewhere)."""
    if "capacity" not in facilities or not len(facilities):
        return False
    known = pd.to_numeric(facilities["capacity"], errors="coerce").notna()
    typed = set(facilities.loc[known, "type"])
    return any(standard.rule(t).capacity_unit and t in typed for t in facility_types)


def largest_radius(standard: Standard, facility_types: list[str]) -> float:
    """R: the largest radius of the types asked."""
    return max((float(standard.rule(t).radius_m or 0.0) for t in facility_types), default=0.0)


def analyse_partitioned(
    compounds: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame | None,
    standard: Standard,
    facility_types: list[str],
    params: GapParameters,
    sizing: Sizing,
    *,
    halo_scale: float = 1.0,
) -> tuple[gpd.GeoDataFrame, dict[str, Any] | None, list[str], list[Partition]]:
    """The partitioned analysis in one process, on frames: what the Dask engine does task by task
    (:mod:`gis.gaps.distributed`), with the same rule. Returns the rows, the network summary, the
    warnings and the partitions. ``halo_scale``: see :func:`halo`."""
    network = road_components(roads, params, sizing.max_edges)
    facts, summary, warnings = whole_area(facilities, standard, facility_types, network)
    rule = halo(
        largest_radius(standard, facility_types),
        params,
        two_step=two_step_types(standard, facility_types, facilities),
        scale=halo_scale,
    )
    lines = np.asarray(roads.geometry.values, dtype=object) if roads is not None else np.array([], dtype=object)
    grid = EdgeGrid.of_lines(lines, max(rule.roads_m, 1.0))
    parts = plan(compounds, grid, rule, sizing)
    rows, notes = [], []
    for part in parts:
        inputs = cut(part, compounds, facilities, roads, rule)
        got, said = analyse_part(part, inputs, standard, facility_types, params, facts)
        rows.append(got)
        notes.append(said)
    merged, once = merge(rows, notes, facility_types)
    return merged, summary, [*warnings, *no_road_warning(no_road_count(merged, params), params), *once], parts
