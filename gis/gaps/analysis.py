"""Service gaps: for each compound and facility type, the walking distance to the nearest facility
against the standard's radius, and who is affected.

The inputs are read from the layers, the network is built from the walkable roads, and each run
is stored (``gap_runs`` / ``gap_results``) with its standard, parameters and input counts. Without
a road layer the distances are straight lines, and every output says so (``basis = euclidean``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.bars import track
from gis.gaps.network import AccessPoints, WalkNetwork, node_lines
from gis.registry import Registry
from gis.standards import Standard

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
    """

    tolerance_m: float = 1.0
    search_m: float = 30.0
    max_leg_m: float = 300.0


def two_step_fca(costs: pd.DataFrame, supply: pd.Series, demand: pd.Series, max_cost: float) -> pd.Series:
    """Two-step floating catchment ratio (Luo & Wang 2003): supply per unit of demand within reach.

    Step 1: each facility's supply divided by the demand of every compound within ``max_cost``.
    Step 2: each compound sums the ratios of the facilities within ``max_cost`` of it.

    Parameters
    ----------
    costs
        Long table with columns ``source`` (facility), ``target`` (compound), ``cost`` (metres).
    supply
        Places or beds per facility (indexed like ``source``).
    demand
        Children, elderly ... per compound (indexed like ``target``).
    """
    reach = costs[costs["cost"] <= max_cost].copy()
    reach["demand"] = demand.reindex(reach["target"]).fillna(0.0).to_numpy()
    total = reach.groupby("source")["demand"].sum()
    ratio = (supply.reindex(total.index) / total).where(total > 0)
    reach["ratio"] = ratio.reindex(reach["source"]).to_numpy()
    return reach.groupby("target")["ratio"].sum(min_count=1).reindex(demand.index).fillna(0.0)


def straight_costs(sources: np.ndarray, targets: np.ndarray, limit: float) -> pd.DataFrame:
    """The (source, target, cost) table by straight-line distance, for the euclidean basis."""
    s_idx, t_idx = shapely.STRtree(sources).query(targets, predicate="dwithin", distance=limit)
    return pd.DataFrame({"source": t_idx, "target": s_idx, "cost": shapely.distance(sources[t_idx], targets[s_idx])})


def walkable_roads(roads: gpd.GeoDataFrame, not_walkable: list[str]) -> gpd.GeoDataFrame:
    """Roads a pedestrian may use: not of a non-walkable class, not tagged foot=no."""
    foot_no = roads["extra"].map(lambda e: isinstance(e, dict) and e.get("foot") == "no")
    return roads[~roads["highway"].isin(not_walkable) & ~foot_no]


def build_network(roads: gpd.GeoDataFrame, params: GapParameters) -> WalkNetwork:
    """The walking graph; road files other than OSM are noded where lines cross."""
    osm = roads["source"] == "osm"
    others, noded = node_lines(np.asarray(roads.geometry[~osm].values, dtype=object))
    lines = np.r_[np.asarray(roads.geometry[osm].values, dtype=object), others]
    return WalkNetwork(lines, tolerance_m=params.tolerance_m, noded=noded)


def population_of(compounds: gpd.GeoDataFrame, standard: Standard) -> tuple[np.ndarray, np.ndarray]:
    """Residents per compound, and a flag where it was estimated from households or is unknown."""
    pop = pd.to_numeric(compounds["population"], errors="coerce").to_numpy(dtype=float, copy=True)
    households = pd.to_numeric(compounds["households"], errors="coerce").to_numpy(dtype=float)
    size = float(standard.household_size.value)
    flag = np.full(len(pop), None, dtype=object)
    estimate = np.isnan(pop) & ~np.isnan(households)
    pop[estimate] = households[estimate] * size
    flag[estimate] = f"population estimated: households × {size:g}"
    flag[np.isnan(pop)] = "no population or households"
    return pop, flag


def _subset(points: AccessPoints, owners: np.ndarray) -> AccessPoints:
    """The access points of the given features, renumbered 0..len(owners)-1."""
    new_id = np.full(int(points.owner.max(initial=-1)) + 1, -1)
    new_id[owners] = np.arange(len(owners))
    keep = np.isin(points.owner, owners)
    return AccessPoints(new_id[points.owner[keep]], points.edge[keep], points.offset[keep], points.leg[keep])


def _join(*parts: Any) -> str | None:
    kept = [str(p) for p in parts if p]
    return "; ".join(kept) if kept else None


def analyse(
    compounds: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame | None,
    standard: Standard,
    facility_types: list[str],
    params: GapParameters,
) -> tuple[gpd.GeoDataFrame, dict[str, Any] | None, list[str]]:
    """Per compound × facility type: distances, coverage and demand. Pure: no database.

    Returns the results, the network summary (None on a straight-line basis) and warnings.
    """
    warnings: list[str] = []
    basis = "network" if roads is not None and len(roads) else "euclidean"
    if basis == "euclidean":
        warnings.append(
            "NO ROAD NETWORK: distances are STRAIGHT LINES (basis = euclidean), shorter than walking; load roads "
            "to measure walking distance / 没有路网：距离为直线距离，短于步行距离"
        )
    c_geoms = np.asarray(compounds.geometry.values, dtype=object)
    pop, pop_flag = population_of(compounds, standard)
    network = build_network(roads, params) if basis == "network" and roads is not None else None
    net_summary = None
    c_access = None
    c_flag = np.full(len(compounds), None, dtype=object)
    if network is not None:
        s = network.summary()
        net_summary = s.__dict__
        c_access = network.access(c_geoms, search_m=params.search_m, max_leg_m=params.max_leg_m)
        reach = np.zeros(len(compounds), dtype=bool)
        reach[c_access.owner] = True
        on_main = network.on_main(c_access, len(compounds))
        c_flag[~reach] = f"no road within {params.max_leg_m:g} m"
        c_flag[reach & ~on_main] = "on a road island cut off from the main network"
        if s.islands:
            warnings.append(
                f"the walking network has {len(s.islands)} islands cut off from the main network "
                f"({sum(i['length_m'] for i in s.islands) / 1000:.2f} km of {s.length_km:.2f} km)"
            )
        if (~reach).any():
            warnings.append(f"{int((~reach).sum())} compounds have no road within {params.max_leg_m:g} m")

    rows: list[pd.DataFrame] = []
    for ftype in track(facility_types, "服务缺口分析 service gaps", unit="类"):
        rule = standard.rule(ftype)
        assert rule.radius_m is not None
        fac = facilities[facilities["type"] == ftype]
        f_geoms = np.asarray(fac.geometry.values, dtype=object)
        euclid = np.full(len(compounds), np.inf)
        if len(fac):
            tree = shapely.STRtree(f_geoms)
            (ci, fi), d = tree.query_nearest(c_geoms, return_distance=True, all_matches=False)
            euclid[ci] = d
        flag = c_flag.copy()
        if network is not None and c_access is not None:
            f_access = network.access(f_geoms, search_m=params.search_m, max_leg_m=params.max_leg_m)
            f_reach = np.zeros(len(fac), dtype=bool)
            f_reach[f_access.owner] = True
            f_main = network.on_main(f_access, len(fac))
            for i in np.flatnonzero(~f_reach | ~f_main):
                why = "no road nearby" if not f_reach[i] else "on a road island"
                warnings.append(
                    f"{ftype} {fac['name'].iloc[i] or fac['fid'].iloc[i]}: {why}; it serves no one beyond it"
                )
            dist, which = network.nearest(f_access, len(fac), c_access, len(compounds))
        else:
            dist = euclid.copy()
            which = np.full(len(compounds), -1)
            if len(fac):
                which[ci] = fi
        if len(fac):
            # a facility inside the compound serves it without a walk along the streets
            inside_c, inside_f = shapely.STRtree(f_geoms).query(c_geoms, predicate="intersects")
            dist[inside_c] = 0.0
            which[inside_c] = inside_f
            flag[inside_c] = "facility inside the compound"
        else:
            flag = np.array([_join(f, f"no {ftype} in the facilities layer") for f in flag], dtype=object)
            warnings.append(
                f"no {ftype} at all in the facilities layer: every compound counts as uncovered; check whether the "
                "data are complete (OSM in China often lacks them) / 设施图层中没有该类设施"
            )
        finite = np.isfinite(dist)
        covered = finite & (dist <= rule.radius_m)
        share = standard.share(rule.demand)
        if rule.demand == "households":
            demand = pd.to_numeric(compounds["households"], errors="coerce").to_numpy(dtype=float)
        else:
            demand = pop * (share if share is not None else np.nan)
        ratio = np.full(len(compounds), np.nan)
        capacity = pd.to_numeric(fac["capacity"], errors="coerce") if len(fac) else pd.Series(dtype=float)
        if rule.capacity_unit and capacity.notna().any():
            known = capacity.notna().to_numpy()
            if not known.all():
                warnings.append(
                    f"{ftype}: {int((~known).sum())} of {len(fac)} have no capacity; the 2SFCA ratio counts "
                    "only the others and so understates supply"
                )
            sel = np.flatnonzero(known)
            if network is not None and c_access is not None:
                costs = network.costs(_subset(f_access, sel), len(sel), c_access, len(compounds), limit=rule.radius_m)
            else:
                costs = straight_costs(f_geoms[sel], c_geoms, rule.radius_m)
            ratio = two_step_fca(
                costs,
                pd.Series(capacity.to_numpy()[sel], index=range(len(sel))),
                pd.Series(demand, index=range(len(compounds))),
                rule.radius_m,
            ).to_numpy(copy=True)
            ratio[np.isnan(demand)] = np.nan
        fids = fac["fid"].to_numpy()
        nearest_id = pd.array([int(fids[w]) if w >= 0 else None for w in which], dtype="Int64")
        nearest_name = np.where(which >= 0, fac["name"].to_numpy()[np.maximum(which, 0)] if len(fac) else None, None)
        rows.append(
            pd.DataFrame(
                {
                    "compound_id": compounds["fid"].to_numpy(),
                    "compound_name": compounds["name"].to_numpy(),
                    "facility_type": ftype,
                    "distance_m": np.where(finite, np.round(dist, 1), np.nan),
                    "radius_m": rule.radius_m,
                    "covered": covered,
                    "basis": basis,
                    "level": rule.level,
                    "radius_status": rule.status,
                    "euclidean_m": np.where(np.isfinite(euclid), np.round(euclid, 1), np.nan),
                    "nearest_facility_id": nearest_id,
                    "nearest_facility_name": nearest_name,
                    "flag": [_join(a, b) for a, b in zip(flag, pop_flag, strict=True)],
                    "district": compounds["district"].to_numpy(),
                    "street": compounds["street"].to_numpy(),
                    "population": pop,
                    "demand_group": rule.demand,
                    "demand": demand,
                    "affected": np.where(covered, 0.0, demand),
                    "capacity_ratio": ratio,
                    "geometry": c_geoms,
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=[*RESULT_COLUMNS, "geometry"])
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=compounds.crs), net_summary, warnings


def summarise(results: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per facility type (and ``by`` columns, e.g. ("district", "street")): compounds covered of all,
    residents and the type's demand group not covered."""
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
