"""The pure kernels of the gap analysis on tiny in-memory inputs with hand-worked answers (no database)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import shapely

from gis.gaps import kernels
from gis.gaps.analysis import summarise

# A 2 × 2 grid of compounds 100 m apart, a facility on two opposite corners:
#
#   C1 (0,100)   C3 (100,100) = F1, 70 places
#   C0 (0,0)     C2 (100,0)
#   = F0, 30 places
GRID = np.array([shapely.Point(0, 0), shapely.Point(0, 100), shapely.Point(100, 0), shapely.Point(100, 100)])
FACILITIES = np.array([shapely.Point(0, 0), shapely.Point(100, 100)])
DIAGONAL = math.hypot(100, 100)  # 141.42 m
# every (facility, compound) pair with its cost, worked out from the picture above
GRID_COSTS = pd.DataFrame(
    {
        "source": [0, 0, 0, 0, 1, 1, 1, 1],
        "target": [0, 1, 2, 3, 0, 1, 2, 3],
        "cost": [0, 100, 100, DIAGONAL, DIAGONAL, 100, 100, 0],
    }
)
SUPPLY = pd.Series([30.0, 70.0])
DEMAND = pd.Series([10.0, 20.0, 30.0, 40.0])


def test_2sfca_within_a_catchment_that_misses_the_diagonal() -> None:
    got = kernels.two_step_fca(GRID_COSTS, SUPPLY, DEMAND, max_cost=120)
    # F0 reaches C0, C1, C2: 30 / (10 + 20 + 30) = 0.5; F1 reaches C1, C2, C3: 70 / (20 + 30 + 40) = 7/9
    assert list(got) == pytest.approx([0.5, 0.5 + 7 / 9, 0.5 + 7 / 9, 7 / 9])
    assert list(got.index) == [0, 1, 2, 3]


def test_2sfca_when_both_reach_everyone() -> None:
    got = kernels.two_step_fca(GRID_COSTS, SUPPLY, DEMAND, max_cost=150)
    # each facility shares its places among all 100 residents: 0.3 + 0.7 everywhere
    assert list(got) == pytest.approx([1.0, 1.0, 1.0, 1.0])


def test_2sfca_out_of_reach_and_without_demand() -> None:
    costs = pd.DataFrame({"source": [0, 0, 1], "target": [0, 1, 2], "cost": [50.0, 80.0, 900.0]})
    demand = pd.Series([0.0, 0.0, 5.0, 8.0])
    got = kernels.two_step_fca(costs, pd.Series([10.0, 10.0]), demand, max_cost=100)
    # F0's catchment holds no demand (no ratio); F1 is beyond reach of C2; C3 is in no catchment
    assert list(got) == [0.0, 0.0, 0.0, 0.0]


def test_straight_costs_keep_only_the_pairs_within_the_limit() -> None:
    got = kernels.straight_costs(FACILITIES, GRID, limit=120).sort_values(["source", "target"])
    assert list(zip(got["source"], got["target"], strict=True)) == [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (1, 3)]
    assert list(got["cost"]) == pytest.approx([0, 100, 100, 100, 100, 0])
    # the grid's costs in, the same ratios out as from the hand-made table
    ratio = kernels.two_step_fca(got, SUPPLY, DEMAND, max_cost=120)
    assert list(ratio) == pytest.approx([0.5, 0.5 + 7 / 9, 0.5 + 7 / 9, 7 / 9])
    wide = kernels.straight_costs(FACILITIES, GRID, limit=150)
    assert len(wide) == 8 and wide["cost"].max() == pytest.approx(DIAGONAL)


def test_straight_nearest_and_inside() -> None:
    targets = np.array([shapely.Point(30, 40), shapely.box(200, 0, 300, 100), shapely.Point(100, 160)])
    sources = np.array([shapely.Point(0, 0), shapely.Point(100, 100), shapely.Point(250, 50)])
    distance, which = kernels.straight_nearest(targets, sources)
    assert list(distance) == pytest.approx([50.0, 0.0, 60.0]) and list(which) == [0, 2, 1]
    inside_t, inside_s = kernels.inside(targets, sources)
    assert list(zip(inside_t, inside_s, strict=True)) == [(1, 2)]  # the third source lies in the box
    none_d, none_w = kernels.straight_nearest(targets, np.array([], dtype=object))
    assert np.isinf(none_d).all() and list(none_w) == [-1, -1, -1]
    assert [len(a) for a in kernels.inside(targets, np.array([], dtype=object))] == [0, 0]


def test_population_counted_estimated_or_unknown() -> None:
    compounds = pd.DataFrame({"population": [100, None, None, "n/a"], "households": [None, 10, None, "4"]})
    pop, flag = kernels.population(compounds, household_size=2.5)
    np.testing.assert_array_equal(pop, [100.0, 25.0, np.nan, 10.0])
    estimated = "population estimated: households × 2.5"
    assert list(flag) == [None, estimated, "no population or households", estimated]


def test_demand_by_group() -> None:
    compounds = pd.DataFrame({"households": [40, None, 12]})
    residents = np.array([100.0, 50.0, np.nan])
    np.testing.assert_array_equal(kernels.demand(compounds, residents, "households", None), [40.0, np.nan, 12.0])
    np.testing.assert_allclose(kernels.demand(compounds, residents, "children", 0.04), [4.0, 2.0, np.nan])
    assert np.isnan(kernels.demand(compounds, residents, "residents", None)).all()  # no share: unknown


def test_coverage_uses_the_unrounded_distance() -> None:
    distance = np.array([0.0, 299.96, 300.04, 500.0, np.inf])
    need = np.array([10.0, 20.0, 30.0, np.nan, 40.0])
    got = kernels.coverage(distance, need, radius_m=300)
    np.testing.assert_array_equal(got["distance_m"], [0.0, 300.0, 300.0, 500.0, np.nan])
    assert list(got["covered"]) == [True, True, False, False, False]  # 300.04 m reads 300.0 but is beyond
    np.testing.assert_array_equal(got["affected"], [0.0, 0.0, 30.0, np.nan, 40.0])


def test_summary_per_type_and_street() -> None:
    results = pd.DataFrame(
        {
            "street": ["东", "东", "西", "东", "西"],
            "facility_type": ["kindergarten"] * 3 + ["clinic"] * 2,
            "covered": [True, False, False, True, False],
            "population": [100.0, 200.0, np.nan, 100.0, 50.0],
            "demand_group": ["children"] * 3 + ["residents"] * 2,
            "affected": [0.0, 8.0, np.nan, 0.0, 50.0],
            "radius_m": [300.0] * 3 + [300.0] * 2,
            "radius_status": ["superseded"] * 3 + ["unverified"] * 2,
            "basis": "network",
        }
    )
    by_type = summarise(results).set_index("facility_type")
    assert by_type["radius_status"].to_dict() == {"kindergarten": "superseded", "clinic": "unverified"}
    assert by_type.loc["kindergarten", ["compounds", "covered"]].tolist() == [3, 1]
    # the compound of unknown population counts no residents, and its unknown demand none
    assert by_type.loc["kindergarten", "residents_uncovered"] == 200.0
    assert by_type.loc["kindergarten", "demand_uncovered"] == 8.0
    assert by_type.loc["clinic", ["compounds", "covered", "residents_uncovered"]].tolist() == [2, 1, 50.0]
    by_street = summarise(results, by=("street",)).set_index(["street", "facility_type"])
    assert by_street.loc[("东", "kindergarten"), ["compounds", "covered"]].tolist() == [2, 1]
    assert by_street.loc[("西", "clinic"), "residents_uncovered"] == 50.0
