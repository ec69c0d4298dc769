"""Service gaps: for each compound and facility type, the walking distance to the nearest facility
against the standard's radius, and who is affected.

The workspace gathers the inputs (:class:`GapInputs`); :func:`analyse` runs the analysis on them in
named steps (the compounds' ground, then per facility type its distances, capacity ratio and rows),
each step handing arrays to the pure kernels of :mod:`gis.gaps.kernels`. Without a road layer the
distances are straight lines, and every output says so (``basis = euclidean``). Storing a run is
:mod:`gis.gaps.runs`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis.bars import track
from gis.errors import InvalidRequestError
from gis.gaps import kernels
from gis.gaps.memory import check_fits
from gis.gaps.network import AccessPoints, WalkNetwork, line_levels, node_keys, node_lines
from gis.registry import Registry
from gis.standards import FacilityRule, Standard

# The contract columns of `gisplan gaps --out` come first, in this order.
CONTRACT_COLUMNS = ["compound_id", "compound_name", "facility_type", "distance_m", "radius_m", "covered", "basis"]
RESULT_COLUMNS = [
    *CONTRACT_COLUMNS,
    "level",
    "radius_status",
    "euclidean_m",
    "nearest_facility_id",
    "nearest_facility_name",
    "flag",
    "district",
    "street",
    "population",
    "demand_group",
    "demand",
    "affected",
    "capacity_ratio",
]
# what the analysis reads of each layer (besides fid and the geometry)
COMPOUND_COLUMNS = ["name", "district", "street", "population", "households"]
FACILITY_COLUMNS = ["type", "name", "capacity"]
ROAD_COLUMNS = ["highway", "source", "bridge", "tunnel", "layer"]
ACCESS_MODES = ("all", "nearest")
NODE_CROSSINGS = ("auto", "yes", "no")
# the roads' columns that say on which level a line runs (Geofabrik and OSM: bridge, tunnel, layer)
LEVEL_COLUMNS = ("bridge", "tunnel", "layer")
NO_ROADS = (
    "NO ROAD NETWORK: distances are STRAIGHT LINES (basis = euclidean), shorter than walking; load roads "
    "to measure walking distance / 没有路网：距离为直线距离，短于步行距离"
)


@dataclass
class GapParameters:
    """How a gap analysis is run.

    Parameters
    ----------
    tolerance_m
        Road ends closer than this to another road node are joined.
    search_m
        Every road segment within this distance of a compound or facility is one of its access points.
    max_leg_m
        Beyond this a compound or facility is flagged as not reaching the network.
    access
        ``all``: a compound or facility enters the network at every segment within ``search_m``
        (else at the nearest within ``max_leg_m``); ``nearest``: at the nearest segment only, as
        ArcGIS Network Analyst and pgRouting snap.
    node_crossings
        ``auto``: OSM roads are joined where they share a vertex only; other files are split where
        lines cross, but not across levels when they carry ``bridge``/``tunnel``/``layer``;
        ``yes``: split every crossing; ``no``: never.
    """

    tolerance_m: float = 1.0
    search_m: float = 30.0
    max_leg_m: float = 300.0
    access: str = "all"
    node_crossings: str = "auto"

    def __post_init__(self) -> None:
        if self.access not in ACCESS_MODES:
            raise InvalidRequestError(f"access must be one of {', '.join(ACCESS_MODES)}, not {self.access!r}")
        if self.node_crossings not in NODE_CROSSINGS:
            raise InvalidRequestError(
                f"node_crossings must be one of {', '.join(NODE_CROSSINGS)}, not {self.node_crossings!r}"
            )
        for name in ("tolerance_m", "search_m", "max_leg_m"):
            value = getattr(self, name)
            if not (value >= 0 and value < float("inf")):
                raise InvalidRequestError(f"{name} must be a distance of 0 m or more, not {value!r}")


@dataclass(frozen=True)
class GapInputs:
    """What every gap analysis starts from, gathered once by the workspace.

    The layers are read when first asked for, and once: a catchment found in the workspace's
    cache reads none.

    Parameters
    ----------
    standard
        The standard the radii, demand shares and household size come from.
    working_crs
        The metric CRS the layers are stored in.
    types
        The facility types to analyse (each with a radius in ``standard``).
    params
        Network tolerance and access-leg limits.
    read
        Reads a layer by id in the working CRS: ``read(layer_id, columns, extra_keys)`` gives ``fid``,
        the columns named and ``extra_<key>`` per unmapped attribute asked for.
    not_walkable
        Road classes a pedestrian may not use.
    skipped
        A note per facility type left out because the standard gives it no radius.
    """

    standard: Standard
    working_crs: CRS
    types: list[str]
    params: GapParameters
    read: Callable[[str, list[str], tuple[str, ...]], gpd.GeoDataFrame]
    not_walkable: list[str]
    skipped: list[str] = field(default_factory=list)

    @property
    def srid(self) -> int:
        """The working CRS's EPSG code."""
        srid = self.working_crs.to_epsg()
        assert srid is not None  # the schema is only ever created with an EPSG CRS
        return srid

    @cached_property
    def compounds(self) -> gpd.GeoDataFrame:
        return self.read("compounds", COMPOUND_COLUMNS, ())

    @cached_property
    def facilities(self) -> gpd.GeoDataFrame:
        return self.read("facilities", FACILITY_COLUMNS, ())

    @cached_property
    def roads(self) -> gpd.GeoDataFrame:
        """The walkable roads."""
        return walkable_roads(self.read("roads", ROAD_COLUMNS, ("foot",)), self.not_walkable)

    @property
    def basis(self) -> str:
        """``network`` when there are walkable roads, else ``euclidean`` (straight lines)."""
        return "network" if len(self.roads) else "euclidean"

    def facilities_of(self, facility_type: str) -> gpd.GeoDataFrame:
        """The facilities of one type."""
        return self.facilities[self.facilities["type"] == facility_type]


@dataclass(frozen=True)
class GlobalFacts:
    """What one partition of a larger area cannot tell from its own box, found once for the whole
    area (:mod:`gis.gaps.partitions`): how many facilities of each type there are anywhere, and
    which road nodes are off the main component.

    With these an analysis of a partition flags a compound as on a road island, or a type as absent
    from the layer, exactly as the analysis of the whole area would; the network-wide warnings
    (islands, compounds without a road) are the whole run's to give, not the partition's.
    """

    facility_counts: dict[str, int]
    with_capacity: frozenset[str]  # the types of which some facility has a capacity (a 2SFCA)
    basis: str  # network or euclidean: whether the area has walkable roads at all
    island_lines: frozenset[int] = frozenset()  # the fids of the road lines off the main component


def walkable_roads(roads: gpd.GeoDataFrame, not_walkable: list[str]) -> gpd.GeoDataFrame:
    """Roads a pedestrian may use: not of a non-walkable class, not tagged foot=no (``extra_foot``
    when read alone, else in ``extra``)."""
    if "extra_foot" in roads:
        foot_no = roads["extra_foot"] == "no"
    else:
        foot_no = roads["extra"].map(lambda e: isinstance(e, dict) and e.get("foot") == "no")
    return roads[~roads["highway"].isin(not_walkable) & ~foot_no]


def build_network(
    roads: gpd.GeoDataFrame,
    params: GapParameters,
    *,
    index: bool = True,
    core: tuple[float, float, float, float] | None = None,
) -> WalkNetwork:
    """The walking graph, its lines noded where ``params.node_crossings`` says (see GapParameters);
    without its segments' ``index`` when only its components are wanted; ``core``: see WalkNetwork."""
    lines = np.asarray(roads.geometry.values, dtype=object)
    options: dict[str, Any] = {"tolerance_m": params.tolerance_m, "index": index, "core": core}
    if params.node_crossings == "no":
        return WalkNetwork(lines, **options)
    if params.node_crossings == "yes":
        noded_lines, noded = node_lines(lines)
        return WalkNetwork(noded_lines, noded=noded, **options)
    osm = (roads["source"] == "osm").to_numpy() if "source" in roads else np.zeros(len(roads), dtype=bool)
    others = roads[~osm]
    levels = None
    if all(c in others for c in LEVEL_COLUMNS) and others[list(LEVEL_COLUMNS)].notna().any().any():
        levels = line_levels(others["bridge"], others["tunnel"], others["layer"])
    noded_lines, noded = node_lines(lines[~osm], levels)
    return WalkNetwork(np.r_[lines[osm], noded_lines], noded=noded, **options)


def capacity_warning(ftype: str, fac: pd.DataFrame) -> str | None:
    """The warning that some of a type's facilities have no capacity (None when all have one, or none)."""
    known = pd.to_numeric(fac["capacity"], errors="coerce").notna() if len(fac) else pd.Series(dtype=bool)
    if not known.any() or known.all():
        return None
    return (
        f"{ftype}: {int((~known).sum())} of {len(fac)} have no capacity; the 2SFCA ratio counts "
        "only the others and so understates supply"
    )


def island_nodes(roads: gpd.GeoDataFrame, island_lines: frozenset[int], params: GapParameters) -> np.ndarray:
    """The node keys of the road lines among ``roads`` that are off the main component (their
    vertices, and their crossings with each other where they are noded: a crossing with a line of
    the main component would have joined them to it)."""
    island = roads[roads["fid"].isin(island_lines)] if island_lines else roads.iloc[:0]
    if not len(island):
        return np.empty((0, 2), dtype=np.int64)
    return node_keys(build_network(island, params, index=False).xy)


def join_notes(*parts: Any) -> str | None:
    """The non-empty notes joined by "; " (None when there is none)."""
    kept = [str(p) for p in parts if p]
    return "; ".join(kept) if kept else None


@dataclass
class _Ground:
    """What every facility type's pass shares: the compounds, their residents and their access
    to the walking network (no network on the euclidean basis)."""

    compounds: gpd.GeoDataFrame
    geoms: np.ndarray
    population: np.ndarray
    population_flag: np.ndarray
    flag: np.ndarray  # why a compound reaches no one by the network
    basis: str
    params: GapParameters
    network: WalkNetwork | None = None
    access: AccessPoints | None = None


@dataclass
class _Reach:
    """One facility type's distances to every compound."""

    distance: np.ndarray  # the basis's distance (walking or straight), inf when unreachable
    nearest: np.ndarray  # index of the nearest facility, -1 when none
    euclidean: np.ndarray
    flag: np.ndarray
    access: AccessPoints | None  # the facilities' access points (network basis)


def _ground(
    compounds: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame | None,
    standard: Standard,
    params: GapParameters,
    warnings: list[str],
    facts: GlobalFacts | None = None,
) -> tuple[_Ground, dict[str, Any] | None]:
    """Step 1: the compounds' residents, and (with roads) the network and who reaches it (``facts``:
    which nodes are on the main component, when the roads are a partition's)."""
    geoms = np.asarray(compounds.geometry.values, dtype=object)
    pop, pop_flag = kernels.population(compounds, float(standard.household_size.value))
    flag = np.full(len(compounds), None, dtype=object)
    has_roads = roads is not None and len(roads) > 0
    basis = facts.basis if facts is not None else "network" if has_roads else "euclidean"
    ground = _Ground(compounds, geoms, pop, pop_flag, flag, basis, params)
    if basis == "euclidean":
        if facts is None:
            warnings.append(NO_ROADS)
        return ground, None
    if roads is None or not has_roads:  # a partition with no road near it: none of its compounds has one
        flag[:] = f"no road within {params.max_leg_m:g} m"
        return ground, None
    check_fits(int(shapely.get_num_coordinates(np.asarray(roads.geometry.values, dtype=object)).sum()) - len(roads))
    network = build_network(roads, params)
    if facts is not None:
        network.take_main_from(island_nodes(roads, facts.island_lines, params))
    access = network.access(geoms, search_m=params.search_m, max_leg_m=params.max_leg_m, mode=params.access)
    reach = np.zeros(len(compounds), dtype=bool)
    reach[access.owner] = True
    on_main = network.on_main(access, len(compounds))
    flag[~reach] = f"no road within {params.max_leg_m:g} m"
    flag[reach & ~on_main] = "on a road island cut off from the main network"
    ground.network, ground.access = network, access
    if facts is not None:  # a partition: the whole run's pass gives the network and its warnings
        return ground, None
    s = network.summary()
    if s.islands:
        warnings.append(
            f"the walking network has {len(s.islands)} islands cut off from the main network "
            f"({sum(i['length_m'] for i in s.islands) / 1000:.2f} km of {s.length_km:.2f} km)"
        )
    if (~reach).any():
        warnings.append(f"{int((~reach).sum())} compounds have no road within {params.max_leg_m:g} m")
    return ground, s.__dict__


def _reach(ground: _Ground, fac: gpd.GeoDataFrame, ftype: str, warnings: list[str], anywhere: int) -> _Reach:
    """Step 2: distances from each compound to the nearest facility of the type (``anywhere``: how
    many the layer holds, of which ``fac`` may be a partition's part)."""
    f_geoms = np.asarray(fac.geometry.values, dtype=object)
    euclid, which = kernels.straight_nearest(ground.geoms, f_geoms)
    flag = ground.flag.copy()
    f_access = None
    if ground.network is not None and ground.access is not None:
        p = ground.params
        f_access = ground.network.access(f_geoms, search_m=p.search_m, max_leg_m=p.max_leg_m, mode=p.access)
        f_reach = np.zeros(len(fac), dtype=bool)
        f_reach[f_access.owner] = True
        f_main = ground.network.on_main(f_access, len(fac))
        for i in np.flatnonzero(~f_reach | ~f_main):
            why = "no road nearby" if not f_reach[i] else "on a road island"
            warnings.append(f"{ftype} {fac['name'].iloc[i] or fac['fid'].iloc[i]}: {why}; it serves no one beyond it")
        dist, which = ground.network.nearest(f_access, len(fac), ground.access, len(ground.geoms))
    elif ground.basis == "network":  # a partition without roads: no compound reaches the network
        dist, which = np.full(len(ground.geoms), np.inf), np.full(len(ground.geoms), -1)
    else:
        dist = euclid.copy()
    if len(fac):
        # a facility inside the compound serves it without a walk along the streets
        inside_c, inside_f = kernels.inside(ground.geoms, f_geoms)
        dist[inside_c] = 0.0
        which[inside_c] = inside_f
        flag[inside_c] = "facility inside the compound"
    elif anywhere:  # a partition with none of the type nearby: far from every one, not absent
        pass
    else:
        flag = np.array([join_notes(f, f"no {ftype} in the facilities layer") for f in flag], dtype=object)
        warnings.append(
            f"no {ftype} at all in the facilities layer: every compound counts as uncovered; check whether the "
            "data are complete (OSM in China often lacks them) / 设施图层中没有该类设施"
        )
    return _Reach(dist, which, euclid, flag, f_access)


def _capacity_ratio(
    ground: _Ground,
    fac: gpd.GeoDataFrame,
    ftype: str,
    rule: FacilityRule,
    reach: _Reach,
    need: np.ndarray,
    warnings: list[str],
    facts: GlobalFacts | None,
) -> np.ndarray:
    """Step 3: the 2SFCA ratio of the type's places or beds to its demand (NaN without capacities;
    in a partition, NaN when the whole layer has none of the type's)."""
    ratio = np.full(len(ground.geoms), np.nan)
    capacity = pd.to_numeric(fac["capacity"], errors="coerce") if len(fac) else pd.Series(dtype=float)
    anywhere = ftype in facts.with_capacity if facts is not None else capacity.notna().any()
    if not rule.capacity_unit or not anywhere:
        return ratio
    assert rule.radius_m is not None
    known = capacity.notna().to_numpy()
    if facts is None and (note := capacity_warning(ftype, fac)):  # a partition's: the whole run's pass gives it
        warnings.append(note)
    sel = np.flatnonzero(known)
    if ground.network is not None and ground.access is not None and reach.access is not None:
        costs = ground.network.costs(
            reach.access.subset(sel), len(sel), ground.access, len(ground.geoms), limit=rule.radius_m
        )
    elif ground.basis == "network":  # a partition without roads: no compound reaches a facility
        costs = pd.DataFrame({"source": pd.Series(dtype=int), "target": pd.Series(dtype=int), "cost": []})
    else:
        f_geoms = np.asarray(fac.geometry.values, dtype=object)
        costs = kernels.straight_costs(f_geoms[sel], ground.geoms, rule.radius_m)
    ratio = kernels.two_step_fca(
        costs,
        pd.Series(capacity.to_numpy()[sel], index=range(len(sel))),
        pd.Series(need, index=range(len(ground.geoms))),
        rule.radius_m,
    ).to_numpy(copy=True)
    ratio[np.isnan(need)] = np.nan
    return ratio


def _rows(
    ground: _Ground,
    fac: gpd.GeoDataFrame,
    ftype: str,
    rule: FacilityRule,
    reach: _Reach,
    need: np.ndarray,
    ratio: np.ndarray,
) -> pd.DataFrame:
    """Step 4: the type's result rows, one per compound, in the order of :data:`RESULT_COLUMNS`."""
    assert rule.radius_m is not None
    covers = kernels.coverage(reach.distance, need, rule.radius_m)
    fids = fac["fid"].to_numpy()
    which = reach.nearest
    found = which >= 0
    nearest_id = pd.array(np.where(found, fids[np.maximum(which, 0)] if len(fac) else 0, 0), dtype="Int64")
    nearest_id[~found] = pd.NA
    nearest_name = np.where(found, fac["name"].to_numpy(dtype=object)[np.maximum(which, 0)] if len(fac) else None, None)
    c = ground.compounds
    return pd.DataFrame(
        {
            "compound_id": c["fid"].to_numpy(),
            "compound_name": c["name"].to_numpy(),
            "facility_type": ftype,
            "distance_m": covers["distance_m"].to_numpy(),
            "radius_m": rule.radius_m,
            "covered": covers["covered"].to_numpy(),
            "basis": ground.basis,
            "level": rule.level,
            "radius_status": rule.status,
            "euclidean_m": np.where(np.isfinite(reach.euclidean), np.round(reach.euclidean, 1), np.nan),
            "nearest_facility_id": nearest_id,
            "nearest_facility_name": nearest_name,
            "flag": _flags(reach.flag, ground.population_flag),
            "district": c["district"].to_numpy(),
            "street": c["street"].to_numpy(),
            "population": ground.population,
            "demand_group": rule.demand,
            "demand": need,
            "affected": covers["affected"].to_numpy(),
            "capacity_ratio": ratio,
            "geometry": ground.geoms,
        }
    )


def _flags(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Per compound the two notes joined (:func:`join_notes`), computed once per distinct pair."""
    pairs = pd.DataFrame({"a": first, "b": second})
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(pairs.astype(object).where(pairs.notna(), "")))
    notes = np.array([join_notes(a, b) for a, b in uniques], dtype=object)
    return notes[codes]


def _assess(
    ground: _Ground,
    facilities: gpd.GeoDataFrame,
    standard: Standard,
    ftype: str,
    warnings: list[str],
    facts: GlobalFacts | None,
) -> pd.DataFrame:
    """One facility type: distances, demand, capacity ratio and coverage per compound."""
    rule = standard.rule(ftype)
    fac = facilities[facilities["type"] == ftype]
    reach = _reach(ground, fac, ftype, warnings, facts.facility_counts.get(ftype, 0) if facts else len(fac))
    need = kernels.demand(ground.compounds, ground.population, rule.demand, standard.share(rule.demand))
    ratio = _capacity_ratio(ground, fac, ftype, rule, reach, need, warnings, facts)
    return _rows(ground, fac, ftype, rule, reach, need, ratio)


def analyse(
    compounds: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame | None,
    standard: Standard,
    facility_types: list[str],
    params: GapParameters,
    facts: GlobalFacts | None = None,
) -> tuple[gpd.GeoDataFrame, dict[str, Any] | None, list[str]]:
    """Per compound × facility type: distances, coverage and demand. Pure: no database.

    Returns the results, the network summary (None on a straight-line basis, or for a partition)
    and warnings. ``facts``: the inputs are one partition's, and these the whole area's facts (see
    :class:`GlobalFacts`; a partitioned run, :mod:`gis.gaps.partitions`, calls this for each part).
    """
    warnings: list[str] = []
    ground, net_summary = _ground(compounds, roads, standard, params, warnings, facts)
    rows = [
        _assess(ground, facilities, standard, ftype, warnings, facts)
        for ftype in track(facility_types, "服务缺口分析 service gaps", unit="类")
    ]
    frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=[*RESULT_COLUMNS, "geometry"])
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=compounds.crs), net_summary, warnings


def summarise(results: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per facility type (and ``by`` columns, e.g. ("district", "street")): compounds covered of all,
    residents and the type's demand group not covered, with the radius and its status."""
    keys = [*by, "facility_type"]
    frame = results.assign(
        uncovered_residents=np.where(results["covered"], 0.0, results["population"].fillna(0.0)),
        n=1,
    )
    out = frame.groupby(keys, dropna=False, sort=True).agg(
        compounds=("n", "sum"),
        covered=("covered", "sum"),
        residents_uncovered=("uncovered_residents", "sum"),
        demand_group=("demand_group", "first"),
        demand_uncovered=("affected", "sum"),
        radius_m=("radius_m", "first"),
        radius_status=("radius_status", "first"),
        basis=("basis", "first"),
    )
    return out.reset_index()


def default_types(standard: Standard, registry: Registry) -> tuple[list[str], list[str]]:
    """The facility types the standard gives a radius, and a note for each it does not."""
    types, skipped = [], []
    for code in registry.code_list("facility_type").ids:
        rule = standard.facilities.get(code)
        if rule is not None and rule.radius_m is not None:
            types.append(code)
        else:
            skipped.append(f"{code}: standard {standard.id} sets no service radius; not assessed by distance")
    return types, skipped
