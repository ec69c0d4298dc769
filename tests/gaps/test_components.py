"""The network's components found tile by tile equal the whole network's (gis.gaps.components).

Two networks: the OSM-style street grid with holes and an island (ways meet at shared vertices),
and a planner's file whose long lines only cross (noded where they cross), with stubs that stop
short of a street by less than the joining tolerance, a bridge over a street, and an island. Cut
into tiles from one to many, the islands (the lines off the main component) and the summary must
be the single network's.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis.gaps import partitions
from gis.gaps.analysis import GapParameters, build_network
from tests.helpers.gaps import CRS, grid_world, summary_facts


def _crossing_lines() -> gpd.GeoDataFrame:
    lines, bridge = [], []
    for k in range(0, 31, 3):  # long lines 300 m apart that cross without a shared vertex
        lines.append(shapely.LineString([(-100, k * 100), (3100, k * 100)]))
        lines.append(shapely.LineString([(k * 100, -100), (k * 100, 3100)]))
        bridge += [False, False]
    for j in range(1, 9):  # stubs ending 0.57 m short of a crossing: joined across the gap
        lines.append(shapely.LineString([(300 * j + 100, 1700), (300 * j + 0.4, 1799.6)]))
        bridge.append(False)
    # a bridge from corner to corner, over every crossing of the diagonal: joined at its ends only
    lines.append(shapely.LineString([(0, 0), (3000, 3000)]))
    bridge.append(True)
    lines += [shapely.LineString([(4000, 100), (4200, 100)]), shapely.LineString([(4100, 0), (4100, 200)])]  # an island
    bridge += [False, False]
    return gpd.GeoDataFrame(
        {"fid": np.arange(1, len(lines) + 1), "source": "file", "bridge": bridge, "tunnel": False, "layer": None},
        geometry=lines,
        crs=CRS,
    )


@pytest.mark.parametrize("roads", [grid_world(1)[2], _crossing_lines()], ids=["osm-grid", "crossing-file"])
@pytest.mark.parametrize("max_edges", [40, 400, 10**9])
def test_tiles_find_the_whole_networks_islands(roads: gpd.GeoDataFrame, max_edges: int) -> None:
    params = GapParameters()
    whole = build_network(roads, params, index=False)
    found = partitions.road_components(roads, params, max_edges)
    assert found is not None
    first = np.array([g.coords[0] for g in roads.geometry])
    tree = whole.xy
    node = np.array([int(np.argmin(np.hypot(*(tree - p).T))) for p in first])
    off_main = whole.component[node] != whole.main
    assert found.island_lines == frozenset(roads["fid"][off_main])
    assert summary_facts(found.summary) == summary_facts(whole.summary().__dict__)
    assert found.island_lines  # the islands are there to be found


def test_the_stubs_are_joined_and_the_bridge_is_not() -> None:
    roads = _crossing_lines()
    found = partitions.road_components(roads, GapParameters(), 40)
    assert found is not None and found.summary["joined_gaps"] == 8
    assert found.summary["components"] == 2  # the grid (with its stubs and the bridge on it) and the island
    # the bridge is noded at none of the 9 crossings it passes over (its ends are crossings): the
    # grid's nodes are its 121 crossings, its 22 lines' 44 ends and the stubs' 16 ends; the
    # island's 5 are its ends and its crossing
    assert found.summary["nodes"] == 121 + 44 + 16 + 5
