"""The whole analysis (``analyse``) on hand-made frames in memory, worked out by hand (no database)."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis.gaps.analysis import NO_ROADS, RESULT_COLUMNS, GapInputs, GapParameters, analyse
from gis.standards import load_standard

CRS = "EPSG:4547"
STANDARD = load_standard("gb50180")
CHILDREN = STANDARD.share("children")  # kindergartens serve children; their share of residents
assert CHILDREN is not None
SIZE = float(STANDARD.household_size.value)


def _compounds(
    geoms: list[shapely.Geometry], population: list[float | None], households: list[float | None]
) -> gpd.GeoDataFrame:
    n = len(geoms)
    return gpd.GeoDataFrame(
        {
            "fid": list(range(1, n + 1)),
            "name": [f"C{i}" for i in range(1, n + 1)],
            "population": population,
            "households": households,
            "district": "海淀区",
            "street": "学院路街道",
        },
        geometry=geoms,
        crs=CRS,
    )


def _kindergarten(x: float, y: float, capacity: float | None) -> gpd.GeoDataFrame:
    frame = {"fid": [101], "name": ["K"], "type": ["kindergarten"], "capacity": [capacity]}
    return gpd.GeoDataFrame(frame, geometry=[shapely.Point(x, y)], crs=CRS)


def test_straight_lines_without_roads() -> None:
    # A and C lie 250 m and 150 m below / above the kindergarten (radius 300 m), B far to the east
    compounds = _compounds(
        [shapely.box(0, 0, 100, 100), shapely.box(1000, 0, 1100, 100), shapely.box(0, 500, 100, 600)],
        population=[1000, None, None],
        households=[None, 100, None],
    )
    results, network, warnings = analyse(
        compounds, _kindergarten(50, 350, 60), None, STANDARD, ["kindergarten", "elderly_station"], GapParameters()
    )
    assert network is None and warnings[0] == NO_ROADS and list(results.columns) == [*RESULT_COLUMNS, "geometry"]
    kg = results[results["facility_type"] == "kindergarten"].set_index("compound_name")
    assert list(kg["distance_m"]) == pytest.approx([250.0, round(math.hypot(950, 250), 1), 150.0])
    assert list(kg["covered"]) == [True, False, True] and set(kg["basis"]) == {"euclidean"}
    assert list(kg["nearest_facility_id"]) == [101, 101, 101]
    # B's residents estimated from households; C's unknown
    assert kg.loc["C2", "population"] == pytest.approx(100 * SIZE) and np.isnan(kg.loc["C3", "population"])
    assert kg.loc["C2", "flag"] == f"population estimated: households × {SIZE:g}"
    assert kg.loc["C3", "flag"] == "no population or households"
    assert kg.loc["C2", "affected"] == pytest.approx(100 * SIZE * CHILDREN) and kg.loc["C1", "affected"] == 0.0
    # 2SFCA: the 60 places shared by A's children alone (C's demand is unknown), B out of reach
    assert kg.loc["C1", "capacity_ratio"] == pytest.approx(60 / (1000 * CHILDREN))
    assert kg.loc["C2", "capacity_ratio"] == 0.0 and np.isnan(kg.loc["C3", "capacity_ratio"])
    # no elderly station at all: nobody covered, no distance, said in the rows and the warnings
    es = results[results["facility_type"] == "elderly_station"]
    assert not es["covered"].any() and es["distance_m"].isna().all() and es["nearest_facility_id"].isna().all()
    assert all("no elderly_station in the facilities layer" in f for f in es["flag"])
    assert any(w.startswith("no elderly_station at all") for w in warnings)


def test_walking_along_one_street() -> None:
    # the street runs along y = 200; the kindergarten's leg is 10 m at x = 100
    roads = gpd.GeoDataFrame({"source": ["osm"]}, geometry=[shapely.LineString([(0, 200), (1000, 200)])], crs=CRS)
    compounds = _compounds(
        [shapely.Point(300, 180), shapely.Point(600, 190), shapely.Point(900, 900), shapely.box(80, 205, 120, 240)],
        population=[500, 500, 500, 500],
        households=[None, None, None, None],
    )
    results, network, warnings = analyse(
        compounds, _kindergarten(100, 210, None), roads, STANDARD, ["kindergarten"], GapParameters()
    )
    assert network is not None and network["components"] == 1 and NO_ROADS not in warnings
    r = results.set_index("compound_name")
    assert r.loc["C1", "distance_m"] == pytest.approx(10 + 200 + 20)  # leg, along the street, leg
    assert r.loc["C2", "distance_m"] == pytest.approx(10 + 500 + 10)
    assert r.loc["C1", "euclidean_m"] == pytest.approx(round(math.hypot(200, 30), 1))
    assert list(r["covered"]) == [True, False, False, True] and set(r["basis"]) == {"network"}
    # C3 reaches no road: no distance, never zero; C4 holds the kindergarten: zero, no walk
    assert np.isnan(r.loc["C3", "distance_m"]) and r.loc["C3", "flag"] == "no road within 300 m"
    assert r.loc["C4", "distance_m"] == 0.0 and r.loc["C4", "flag"] == "facility inside the compound"
    assert "1 compounds have no road within 300 m" in warnings
    assert r["capacity_ratio"].isna().all()  # no capacity known: no ratio


def test_inputs_are_read_once_and_only_when_used() -> None:
    reads: list[str] = []
    frames = {
        "compounds": _compounds([shapely.Point(0, 0)], [1], [None]),
        "facilities": _kindergarten(0, 0, None),
        "roads": gpd.GeoDataFrame(
            {"highway": ["footway", "motorway"], "extra": [None, None], "source": ["osm", "osm"]},
            geometry=[shapely.LineString([(0, 0), (1, 0)]), shapely.LineString([(0, 1), (1, 1)])],
            crs=CRS,
        ),
    }

    def read(layer: str, columns: list[str], extra_keys: tuple[str, ...]) -> gpd.GeoDataFrame:
        reads.append(layer)
        return frames[layer]

    inputs = GapInputs(STANDARD, frames["roads"].crs, ["kindergarten"], GapParameters(), read, ["motorway"])
    assert reads == [] and inputs.srid == 4547
    assert len(inputs.facilities_of("kindergarten")) == 1 and inputs.basis == "network"
    assert len(inputs.roads) == 1 and len(inputs.facilities) == 1
    assert reads == ["facilities", "roads"]  # the compounds were never needed
