"""Walking catchments: a hand-worked layout, and agreement with the gap analysis on real roads."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, Point

from gis.gaps.analysis import GapParameters
from gis.gaps.catchments import walking_catchment
from gis.workspace import Workspace

CRS = "EPSG:4548"


def roads(*lines: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"source": ["osm"] * len(lines), "highway": ["footway"] * len(lines)},
        geometry=[LineString(c) for c in lines],
        crs=CRS,
    )


def facilities(*points: tuple[float, float]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"type": ["kindergarten"] * len(points)}, geometry=[Point(p) for p in points], crs=CRS)


def test_hand_worked_t_junction() -> None:
    """A 1000 m street east from (0,0) with a 400 m branch north at x=200; a kindergarten 10 m south
    of x=0. With 300 m: the leg is 10 m, so the street is reached to x=290, the branch (200 m along
    the street first) to y=90. The drawing widens reached streets by the 30 m search distance."""
    p = GapParameters()
    area = walking_catchment(
        facilities((0.0, -10.0)),
        roads([(0, 0), (200, 0), (1000, 0)], [(200, 0), (200, 400)]),
        300.0,
        p,
    )
    assert area.contains(Point(289, 0)) and area.contains(Point(289 + 29, 0))
    assert not area.contains(Point(290 + 31, 0))
    assert area.contains(Point(200, 89)) and area.contains(Point(200, 89 + 29))
    assert not area.contains(Point(200, 90 + 31))
    # the straight-line circle would reach (0, 250): the catchment does not (no street there)
    assert not area.contains(Point(0, 250))
    # the farthest reach east is 290 + 30 m of drawing width
    assert abs(area.bounds[2] - 320.0) < 0.5


def test_no_roads_is_the_straight_line_circle() -> None:
    area = walking_catchment(facilities((0.0, 0.0)), None, 300.0, GapParameters())
    assert abs(area.area - np.pi * 300**2) / (np.pi * 300**2) < 0.01


def test_covered_compounds_lie_in_the_catchment(haidian: Workspace) -> None:
    """On the real Haidian roads: every compound the gap analysis finds within the radius touches
    the catchment, and the catchment is smaller than the straight-line circles."""
    ws = haidian
    for facility in ("health_center", "market", "primary_school"):
        results = ws.gaps(facility)
        area = ws.catchment(facility)
        assert len(area) == 1 and area.crs == ws.working_crs
        geom = area.geometry.iloc[0]
        covered = results[results["covered"] & (results["distance_m"] > 0)]
        assert len(covered), facility
        for compound in covered.geometry:
            assert compound.intersects(geom), facility
        fac = ws.layer("facilities")
        circles = shapely.union_all(fac[fac["type"] == facility].geometry.buffer(results["radius_m"].iloc[0]).values)
        assert geom.area < circles.area


def test_catchment_is_reused_until_the_facilities_change(haidian: Workspace) -> None:
    ws = haidian
    first = ws.catchment("market")
    assert ws.catchment("market").geometry.iloc[0].equals(first.geometry.iloc[0])
    assert len(ws._catchments) == 1
    fac = ws.layer("facilities")
    market = fac[fac["type"] == "market"].iloc[:1]
    with ws.engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("DELETE FROM facilities WHERE fid = :f"), {"f": int(market["fid"].iloc[0])})
    after = ws.catchment("market")
    assert len(ws._catchments) == 2
    assert after.geometry.iloc[0].area < first.geometry.iloc[0].area
