"""Two-step floating catchment (2SFCA): hand-worked, and equal to PySAL access on the same inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from access import Access

from gis.demo import sample_path
from gis.gaps.analysis import GapParameters, build_network, walkable_roads
from gis.gaps.kernels import two_step_fca
from gis.workspace import Workspace


def test_hand_worked_ratio() -> None:
    # facility A (60 places) reaches compounds 0 and 1; facility B (30 places) reaches 1 and 2.
    costs = pd.DataFrame({"source": [0, 0, 1, 1, 1], "target": [0, 1, 1, 2, 0], "cost": [100, 200, 250, 50, 400]})
    supply = pd.Series([60.0, 30.0])
    demand = pd.Series([20.0, 40.0, 10.0])
    got = two_step_fca(costs, supply, demand, max_cost=300)
    # A: 60 / (20 + 40) = 1.0 ; B: 30 / (40 + 10) = 0.6 ; the 400 m pair is outside the catchment
    assert list(got) == pytest.approx([1.0, 1.6, 0.6])


def test_equals_pysal_access_on_the_sample(ws: Workspace) -> None:
    for layer in ("compounds", "facilities", "roads"):
        ws.load(layer, sample_path(), source_layer=layer)
    result = ws.gaps("primary_school")  # 500 m: four sample compounds have a school in reach
    ours = result.set_index("compound_id")["capacity_ratio"]
    assert ours.notna().all() and (ours > 0).any()

    # the same inputs, handed to PySAL access
    compounds, facilities = ws.layer("compounds"), ws.layer("facilities")
    kg = facilities[facilities["type"] == "primary_school"].reset_index(drop=True)
    roads = walkable_roads(ws.layer("roads"), ws.registry.layer("roads").not_walkable)
    params = GapParameters()
    net = build_network(roads, params)
    c_pts = net.access(
        np.asarray(compounds.geometry.values, dtype=object), search_m=params.search_m, max_leg_m=params.max_leg_m
    )
    f_pts = net.access(
        np.asarray(kg.geometry.values, dtype=object), search_m=params.search_m, max_leg_m=params.max_leg_m
    )
    costs = net.costs(f_pts, len(kg), c_pts, len(compounds), limit=10_000)
    costs["origin"] = compounds["fid"].to_numpy()[costs["target"]]
    costs["dest"] = kg["fid"].to_numpy()[costs["source"]]
    pupils = result.set_index("compound_id")["demand"]
    demand = pd.DataFrame({"origin": compounds["fid"].to_numpy(), "pupils": pupils.loc[compounds["fid"]].to_numpy()})
    supply = pd.DataFrame({"dest": kg["fid"].to_numpy(), "places": kg["capacity"].to_numpy()})
    model = Access(
        demand_df=demand,
        demand_index="origin",
        demand_value="pupils",
        supply_df=supply,
        supply_index="dest",
        supply_value="places",
        cost_df=costs[["origin", "dest", "cost"]],
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
    )
    theirs = model.two_stage_fca(name="r", max_cost=500.0)
    theirs = theirs.iloc[:, 0] if isinstance(theirs, pd.DataFrame) else theirs
    pd.testing.assert_series_equal(
        ours.loc[compounds["fid"]].reset_index(drop=True),
        theirs.reindex(compounds["fid"]).fillna(0.0).reset_index(drop=True),
        check_names=False,
        atol=1e-4,
    )
