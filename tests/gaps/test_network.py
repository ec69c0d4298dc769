"""The walking network on a small synthetic layout whose distances are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gis.gaps.network import AccessPoints, WalkNetwork

# Roads (metres):
#   R1 (0,0)-(150,0)-(300,0) along the bottom; R2 a dead-end spur (150,0)-(150,100);
#   R3 (0,0)-(0,300) up the left; R4 an island (500,500)-(600,500);
#   R5 (300,0.5)-(300,100): its end misses R1's end by 0.5 m (joined within the 1 m tolerance).
ROADS = [
    shapely.LineString([(0, 0), (150, 0), (300, 0)]),
    shapely.LineString([(150, 0), (150, 100)]),
    shapely.LineString([(0, 0), (0, 300)]),
    shapely.LineString([(500, 500), (600, 500)]),
    shapely.LineString([(300, 0.5), (300, 100)]),
]
FACILITIES = np.array([shapely.Point(20, -5), shapely.Point(550, 510), shapely.Point(100, -5)], dtype=object)
COMPOUNDS = np.array(
    [
        # C0: a polygon above the spur's end; its nearest boundary point (150,130) is not a vertex
        shapely.box(120, 130, 180, 190),
        shapely.Point(10, 150),  # C1: beside R3
        shapely.Point(560, 490),  # C2: beside the island
        shapely.Point(1000, 1000),  # C3: no road within 300 m
        shapely.Point(310, 100),  # C4: beside R5, reachable only through the 0.5 m join
        shapely.Point(120, -5),  # C5: on the same segment as facility 2
    ],
    dtype=object,
)


def nearest(net: WalkNetwork) -> tuple[np.ndarray, np.ndarray]:
    src = net.access(FACILITIES, search_m=10)
    dst = net.access(COMPOUNDS, search_m=10)
    return net.nearest(src, len(FACILITIES), dst, len(COMPOUNDS))


def test_hand_worked_distances() -> None:
    net = WalkNetwork(np.array(ROADS, dtype=object), tolerance_m=1.0)
    dist, which = nearest(net)
    # C0: leg 5 + 130 along R1 to (150,0) + 100 up the spur + leg 30 = 265 (from facility 0)
    #     facility 2 is nearer: leg 5 + 50 + 100 + 30 = 185
    assert dist[0] == pytest.approx(185.0) and which[0] == 2
    # C1: from facility 0: leg 5 + 20 to (0,0) + 150 up R3 + leg 10 = 185
    assert dist[1] == pytest.approx(185.0) and which[1] == 0
    # C2: facility 1 on the same island segment: 10 + 10 along + 10 = 30
    assert dist[2] == pytest.approx(30.0) and which[2] == 1
    # C3: cannot reach the network: no distance, never 0
    assert np.isinf(dist[3]) and which[3] == -1
    # C4: facility 2: 5 + 200 to (300,0) + 0.5 join + 99.5 up R5 + 10 = 315
    assert dist[4] == pytest.approx(315.0) and which[4] == 2
    # C5: straight along the shared segment from facility 2: 5 + 20 + 5 = 30
    assert dist[5] == pytest.approx(30.0) and which[5] == 2


def test_islands_and_joins_are_reported() -> None:
    net = WalkNetwork(np.array(ROADS, dtype=object), tolerance_m=1.0)
    summary = net.summary()
    assert summary.joined_gaps == 1
    assert summary.components == 2 and len(summary.islands) == 1
    assert summary.islands[0]["length_m"] == pytest.approx(100.0)
    on_main = net.on_main(net.access(COMPOUNDS, search_m=10), len(COMPOUNDS))
    assert list(on_main) == [True, True, False, False, True, True]


def test_without_the_tolerance_r5_is_an_island() -> None:
    net = WalkNetwork(np.array(ROADS, dtype=object), tolerance_m=0.1)
    dist, _ = nearest(net)
    assert np.isinf(dist[4])
    assert net.summary().components == 3


def test_unnoded_crossings() -> None:
    # two roads crossing without a shared vertex, as in many CAD road files
    roads = np.array([shapely.LineString([(0, 50), (100, 50)]), shapely.LineString([(50, 0), (50, 100)])], dtype=object)
    facility = np.array([shapely.Point(0, 45)], dtype=object)
    compound = np.array([shapely.Point(55, 100)], dtype=object)
    plain = WalkNetwork(roads)
    d, _ = plain.nearest(plain.access(facility), 1, plain.access(compound), 1)
    assert np.isinf(d[0])  # a bridge, as far as the graph knows
    noded = WalkNetwork(roads, node_crossings=True)
    d, _ = noded.nearest(noded.access(facility), 1, noded.access(compound), 1)
    assert d[0] == pytest.approx(5 + 50 + 50 + 5)


def test_cost_table_agrees_with_nearest_and_the_limit() -> None:
    net = WalkNetwork(np.array(ROADS, dtype=object), tolerance_m=1.0)
    src = net.access(FACILITIES, search_m=10)
    dst = net.access(COMPOUNDS, search_m=10)
    table = net.costs(src, len(FACILITIES), dst, len(COMPOUNDS), limit=400)
    cost = {(r.source, r.target): r.cost for r in table.itertuples()}
    # hand-worked (see test_hand_worked_distances): C0 from facility 0 is 265, from facility 2 185
    assert cost[(0, 0)] == pytest.approx(265.0) and cost[(2, 0)] == pytest.approx(185.0)
    assert cost[(1, 2)] == pytest.approx(30.0) and (0, 2) not in cost  # the island
    assert cost[(0, 4)] == pytest.approx(395.0)  # 5 + 280 + 0.5 + 99.5 + 10
    assert all(c <= 400 for c in cost.values()) and (0, 3) not in cost
    best, _ = net.nearest(src, len(FACILITIES), dst, len(COMPOUNDS))
    for target in range(len(COMPOUNDS)):
        mine = [c for (s, t), c in cost.items() if t == target]
        assert (min(mine) if mine else np.inf) == pytest.approx(best[target]) or best[target] > 400


def test_access_points_of_a_subset_are_renumbered() -> None:
    points = AccessPoints(
        owner=np.array([0, 0, 1, 2, 2]),
        edge=np.array([10, 11, 12, 13, 14]),
        offset=np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
        leg=np.array([0.1, 0.2, 0.3, 0.4, 0.5]),
    )
    got = points.subset(np.array([2, 0]))
    # feature 2 becomes 0 and feature 0 becomes 1; feature 1's point is dropped
    assert list(got.owner) == [1, 1, 0, 0] and list(got.edge) == [10, 11, 13, 14]
    assert list(got.offset) == [1.0, 2.0, 4.0, 5.0] and list(got.leg) == [0.1, 0.2, 0.4, 0.5]


def test_a_subset_may_ask_for_features_without_access_points() -> None:
    # facility 3 has no road within reach (no access point) but has a capacity: the 2SFCA asks for it
    points = AccessPoints(
        owner=np.array([0, 1]), edge=np.array([5, 6]), offset=np.array([1.0, 2.0]), leg=np.array([0.5, 0.5])
    )
    got = points.subset(np.array([1, 3]))
    assert list(got.owner) == [0] and list(got.edge) == [6]
