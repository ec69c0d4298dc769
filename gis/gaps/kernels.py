"""The pure kernels of the gap analysis: demand, straight-line distances, coverage and the 2SFCA ratio.

Arrays and frames in, arrays and frames out: no database, no layer definitions, no standard (the
caller hands down the household size, the demand group's share and the radius), so each kernel is
tested on a few hand-made rows (``tests/gaps/test_kernels.py``), as pysal/access tests its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely


def population(compounds: pd.DataFrame, household_size: float) -> tuple[np.ndarray, np.ndarray]:
    """Residents per compound, and a flag where it was estimated from households or is unknown.

    Parameters
    ----------
    compounds
        Frame with ``population`` and ``households`` columns (numbers, or text that reads as numbers).
    household_size
        Residents per household, for compounds whose population is unknown.

    Returns
    -------
    population, flag
        Residents (NaN when neither is known) and a note per compound (None when counted).
    """
    pop = pd.to_numeric(compounds["population"], errors="coerce").to_numpy(dtype=float, copy=True)
    households = pd.to_numeric(compounds["households"], errors="coerce").to_numpy(dtype=float)
    flag = np.full(len(pop), None, dtype=object)
    estimate = np.isnan(pop) & ~np.isnan(households)
    pop[estimate] = households[estimate] * household_size
    flag[estimate] = f"population estimated: households × {household_size:g}"
    flag[np.isnan(pop)] = "no population or households"
    return pop, flag


def demand(compounds: pd.DataFrame, residents: np.ndarray, group: str, share: float | None) -> np.ndarray:
    """A facility type's demand per compound: its households, or its residents × the group's share.

    Parameters
    ----------
    compounds
        Frame with a ``households`` column (used when ``group == "households"``).
    residents
        Residents per compound (see :func:`population`).
    group
        The demand group of the facility type (``households``, ``residents``, ``children_3_6`` ...).
    share
        The group's share of residents; None when the standard gives none (the demand is unknown, NaN).
    """
    if group == "households":
        return pd.to_numeric(compounds["households"], errors="coerce").to_numpy(dtype=float)
    return residents * (share if share is not None else np.nan)


def straight_nearest(targets: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each target, the straight-line distance to the nearest source and that source's index.

    Returns infinity and -1 for every target when there is no source.
    """
    distance = np.full(len(targets), np.inf)
    which = np.full(len(targets), -1)
    if len(sources):
        (ti, si), d = shapely.STRtree(sources).query_nearest(targets, return_distance=True, all_matches=False)
        distance[ti] = d
        which[ti] = si
    return distance, which


def inside(targets: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (target, source) index pairs whose geometries intersect (a facility inside a compound)."""
    if not len(sources):
        return np.array([], dtype=int), np.array([], dtype=int)
    target_idx, source_idx = shapely.STRtree(sources).query(targets, predicate="intersects")
    return target_idx, source_idx


def straight_costs(sources: np.ndarray, targets: np.ndarray, limit: float) -> pd.DataFrame:
    """The (source, target, cost) table by straight-line distance, for the euclidean basis.

    Only the pairs within ``limit`` metres are listed.
    """
    target_idx, source_idx = shapely.STRtree(sources).query(targets, predicate="dwithin", distance=limit)
    cost = shapely.distance(sources[source_idx], targets[target_idx])
    return pd.DataFrame({"source": source_idx, "target": target_idx, "cost": cost})


def coverage(distance: np.ndarray, need: np.ndarray, radius_m: float) -> pd.DataFrame:
    """Per compound: the distance (0.1 m; NaN when unreachable), covered within the radius, and the
    demand left uncovered (``affected``: all of ``need`` when not covered, else 0)."""
    reachable = np.isfinite(distance)
    covered = reachable & (distance <= radius_m)
    return pd.DataFrame(
        {
            "distance_m": np.where(reachable, np.round(distance, 1), np.nan),
            "covered": covered,
            "affected": np.where(covered, 0.0, need),
        }
    )


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

    Returns
    -------
    Series
        The ratio per compound (indexed like ``demand``); 0 where no facility is within reach.
    """
    reach = costs[costs["cost"] <= max_cost].copy()
    reach["demand"] = demand.reindex(reach["target"]).fillna(0.0).to_numpy()
    total = reach.groupby("source")["demand"].sum()
    ratio = (supply.reindex(total.index) / total).where(total > 0)
    reach["ratio"] = ratio.reindex(reach["source"]).to_numpy()
    return reach.groupby("target")["ratio"].sum(min_count=1).reindex(demand.index).fillna(0.0)
