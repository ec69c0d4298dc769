"""New sites: where K new facilities of a type would cover the most demand the existing ones miss.

A maximal covering location problem (Church & ReVelle 1974) solved exactly by PuLP's bundled CBC
(offline), written over the pairs within the radius only: memory grows with those pairs, never
with compounds × candidates (50,000 × 50,000 would be 20 GB dense). Demand is the uncovered
compounds' demand for the type (children for kindergartens, elderly for elderly care ...);
coverage is walking distance within the standard's radius, as in the gap analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.errors import InvalidRequestError, ServerError
from gis.gaps.analysis import GapParameters, analyse, build_network
from gis.gaps.kernels import straight_costs
from gis.standards import Standard

SITE_COLUMNS = ["rank", "facility_type", "candidate", "new_compounds", "new_compound_names", "new_demand", "geometry"]


@dataclass
class SiteProposal:
    """The chosen sites and coverage before and after them."""

    facility_type: str
    radius_m: float
    radius_status: str  # the radius's status in the standard: a proposal rests on it
    sites: gpd.GeoDataFrame
    weight: str  # what was maximised: the demand group, or compounds when no population is known
    before: dict[str, float]
    after: dict[str, float]


def solve_mclp(client: np.ndarray, candidate: np.ndarray, weights: np.ndarray, n_candidates: int, k: int) -> list[int]:
    """Indices of the ``k`` candidates that cover the most weight.

    ``(client[i], candidate[i])`` are the pairs within reach. The model: a binary per candidate
    that covers some weight and per client with weight; maximise the weight covered, a client
    covered only by a chosen candidate within reach, exactly ``k`` chosen (candidates that add
    nothing fill the count when fewer suffice)."""
    import pulp

    useful = weights[client] > 0
    client, candidate = client[useful], candidate[useful]
    cands = np.unique(candidate)
    k = min(k, n_candidates)
    if not len(cands):
        return list(range(k))
    problem = pulp.LpProblem("mclp", pulp.LpMaximize)
    x = {int(j): pulp.LpVariable(f"x{j}", cat="Binary") for j in cands}
    clients = np.unique(client)
    y = {int(i): pulp.LpVariable(f"y{i}", cat="Binary") for i in clients}
    problem += pulp.lpSum(float(weights[i]) * y[i] for i in y)
    problem += pulp.lpSum(x.values()) <= k
    order = np.argsort(client, kind="stable")
    bounds = np.searchsorted(client[order], clients, side="right")
    start = 0
    for i, end in zip(clients.tolist(), bounds.tolist(), strict=True):
        problem += y[i] <= pulp.lpSum(x[int(j)] for j in candidate[order[start:end]])
        start = end
    problem.solve(pulp.PULP_CBC_CMD(msg=False))
    if pulp.LpStatus[problem.status] != "Optimal":
        raise ServerError(f"the covering problem was not solved ({pulp.LpStatus[problem.status]})")
    chosen = [j for j, var in x.items() if (var.value() or 0) > 0.5]
    spare = (j for j in range(n_candidates) if j not in set(chosen))
    return chosen + [next(spare) for _ in range(k - len(chosen))]


def propose(
    compounds: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame | None,
    standard: Standard,
    facility_type: str,
    k: int,
    params: GapParameters,
    candidates: gpd.GeoDataFrame | None = None,
) -> SiteProposal:
    """Choose ``k`` sites among ``candidates`` (default: a point inside each compound)."""
    if k < 1:
        raise InvalidRequestError("propose at least one site")
    rule = standard.rule(facility_type)
    if rule.radius_m is None:
        raise InvalidRequestError(f"standard {standard.id} sets no service radius for {facility_type}")
    radius = rule.radius_m
    before, _net, _notes = analyse(compounds, facilities, roads, standard, [facility_type], params)
    demand = before["demand"].to_numpy(dtype=float)
    weight_name = before["demand_group"].iloc[0] if len(before) else "residents"
    if np.isnan(demand).all():
        demand = np.ones(len(before))  # no population known: count compounds
        weight_name = "compounds"
    demand = np.nan_to_num(demand)
    covered = before["covered"].to_numpy(dtype=bool)
    weights = np.where(covered, 0.0, demand)

    if candidates is None:
        cand_geoms = np.asarray(shapely.point_on_surface(np.asarray(compounds.geometry.values, dtype=object)))
        cand_names = compounds["name"].fillna(compounds["fid"].astype(str)).to_numpy(dtype=object)
    else:
        cand_geoms = np.asarray(shapely.point_on_surface(np.asarray(candidates.geometry.values, dtype=object)))
        name_col = "name" if "name" in candidates.columns else None
        cand_names = (
            candidates[name_col].astype(str).to_numpy(dtype=object)
            if name_col
            else np.array([f"candidate {i + 1}" for i in range(len(candidates))], dtype=object)
        )
    c_geoms = np.asarray(compounds.geometry.values, dtype=object)
    if roads is not None and len(roads):
        net = build_network(roads, params)
        cand_pts = net.access(cand_geoms, search_m=params.search_m, max_leg_m=params.max_leg_m, mode=params.access)
        comp_pts = net.access(c_geoms, search_m=params.search_m, max_leg_m=params.max_leg_m, mode=params.access)
        table = net.costs(cand_pts, len(cand_geoms), comp_pts, len(c_geoms), limit=radius)
        # a candidate inside a compound serves it on the spot
        inside_c, inside_s = shapely.STRtree(cand_geoms).query(c_geoms, predicate="intersects")
        table = pd.concat([table, pd.DataFrame({"source": inside_s, "target": inside_c, "cost": 0.0})])
        table = table.groupby(["source", "target"])["cost"].min().reset_index()
    else:
        table = straight_costs(cand_geoms, c_geoms, radius)
    table = table[table["cost"] <= radius]
    client, cand = table["target"].to_numpy(), table["source"].to_numpy()
    k = min(k, len(cand_geoms))
    chosen = solve_mclp(client, cand, weights, len(cand_geoms), k) if weights.sum() > 0 else []
    covers = {j: client[cand == j] for j in chosen}  # the compounds each chosen site reaches

    newly = np.zeros(len(c_geoms), dtype=bool)
    rows: list[dict[str, object]] = []
    # rank the chosen sites by what each adds, greedily, so the list reads in order of priority
    remaining = list(chosen)
    while remaining:
        gains = [(weights * (_mask(covers[j], len(c_geoms)) & ~newly & ~covered)).sum() for j in remaining]
        j = remaining.pop(int(np.argmax(gains)))
        adds = _mask(covers[j], len(c_geoms)) & ~newly & ~covered
        newly |= adds
        rows.append(
            {
                "rank": len(rows) + 1,
                "facility_type": facility_type,
                "candidate": cand_names[j],
                "new_compounds": int(adds.sum()),
                "new_compound_names": "、".join(str(n) for n in compounds["name"].to_numpy()[adds] if n),
                "new_demand": float((demand * adds).sum()),
                "geometry": cand_geoms[j],
            }
        )
    sites = gpd.GeoDataFrame(rows, columns=SITE_COLUMNS, geometry="geometry", crs=compounds.crs)
    after_cov = covered | newly
    return SiteProposal(
        facility_type=facility_type,
        radius_m=radius,
        radius_status=rule.status,
        sites=sites,
        weight=weight_name,
        before={
            "compounds": len(c_geoms),
            "compounds_covered": int(covered.sum()),
            "demand_total": float(demand.sum()),
            "demand_covered": float((demand * covered).sum()),
        },
        after={
            "compounds": len(c_geoms),
            "compounds_covered": int(after_cov.sum()),
            "demand_total": float(demand.sum()),
            "demand_covered": float((demand * after_cov).sum()),
        },
    )


def _mask(indices: np.ndarray, n: int) -> np.ndarray:
    """A boolean array of ``n`` with ``indices`` set."""
    out = np.zeros(n, dtype=bool)
    out[indices] = True
    return out
