"""The partitioned analysis equals the single-process one, row for row (in memory, no database).

A random street grid with holes, an island, random compounds (one a long polygon that crosses
partition borders) and facilities of three types (one with capacities, so the 2SFCA's demand
halo is used; one found only in one corner; one exactly at the radius from a compound). The whole
area is analysed once by :func:`gis.gaps.analysis.analyse`; rows beyond their radius are then
reported as such (:func:`gis.gaps.partitions.mark_beyond`, the partitioned run's rule), and the
partitioned result must equal that. With the halo cut to half the rule's, it must not.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gis.gaps import partitions
from gis.gaps.analysis import GapParameters, analyse
from gis.standards import load_standard
from tests.helpers.gaps import compare_rows, grid_world, summary_facts

STANDARD = load_standard("gb50180")
TYPES = ["kindergarten", "primary_school", "clinic"]  # 300 m with places, 500 m, 300 m


@pytest.mark.parametrize(
    ("seed", "sizing"),
    [(1, partitions.Sizing(max_edges=1500)), (2, partitions.Sizing(max_edges=10**9, max_compounds=30))],
    ids=["by-segments", "by-compounds"],
)
def test_partitioned_equals_whole(seed: int, sizing: partitions.Sizing) -> None:
    compounds, facilities, roads = grid_world(seed)
    params = GapParameters()
    whole, summary, warnings = analyse(compounds, facilities, roads, STANDARD, TYPES, params)
    got, p_summary, p_warnings, parts = partitions.analyse_partitioned(
        compounds, facilities, roads, STANDARD, TYPES, params, sizing
    )
    assert len(parts) >= 4
    # every compound in exactly one partition, and output once
    owned = [c for p in parts for c in p.compound_ids]
    assert sorted(owned) == sorted(compounds["fid"]) and len(got) == len(compounds) * len(TYPES)
    assert compare_rows(partitions.mark_beyond(whole.copy()), got) == []
    assert p_summary is not None and summary is not None and summary_facts(p_summary) == summary_facts(summary)
    assert set(p_warnings) <= set(warnings) and {w for w in warnings if "island" in w or "no road" in w} <= set(
        p_warnings
    )
    # the cases are there: the island, the lone compound, the clinic at exactly 300 m, the long compound
    flags = got.set_index(["facility_type", "compound_id"])["flag"]
    n = len(compounds)
    assert "island" in flags[("clinic", n - 1)] and flags[("clinic", n)].startswith("no road within 300 m")
    first = got[(got["facility_type"] == "clinic") & (got["compound_id"] == 1)].iloc[0]
    assert first["euclidean_m"] <= 300.0
    long_compound = got[got["compound_id"] == n - 2]
    assert len(long_compound) == len(TYPES)
    boxes = [p.box for p in parts if n - 2 in p.compound_ids]
    assert len(boxes) == 1 and sum(shapely.box(*p.box).intersects(compounds.geometry.iloc[n - 3]) for p in parts) > 1
    # primary schools stand in one corner only: far partitions have none, and say not "none in the layer"
    far = got[(got["facility_type"] == "primary_school") & got["distance_m"].isna()]
    assert len(far) and not far["flag"].fillna("").str.contains("in the facilities layer").any()


def test_a_halo_of_half_the_rule_gives_other_answers() -> None:
    """The negative control: the comparison above can fail, and does when the halo is too narrow."""
    compounds, facilities, roads = grid_world(1)
    params = GapParameters()
    whole, _, _ = analyse(compounds, facilities, roads, STANDARD, TYPES, params)
    got, _, _, _ = partitions.analyse_partitioned(
        compounds, facilities, roads, STANDARD, TYPES, params, partitions.Sizing(max_compounds=5), halo_scale=0.5
    )
    wrong = compare_rows(partitions.mark_beyond(whole.copy()), got)
    assert any(w.startswith("distance_m") for w in wrong), wrong
    # and with the rule's own halo the same small partitions agree
    right, _, _, _ = partitions.analyse_partitioned(
        compounds, facilities, roads, STANDARD, TYPES, params, partitions.Sizing(max_compounds=5)
    )
    assert compare_rows(partitions.mark_beyond(whole.copy()), right) == []


def test_the_edge_grid_counts_what_a_box_touches() -> None:
    lines = np.array([shapely.LineString([(x, 0), (x, 5), (x, 10)]) for x in (5.0, 15.0, 25.0)], dtype=object)
    grid = partitions.EdgeGrid.of_lines(lines, 10.0)
    assert grid.count((0, 0, 9, 9)) == 2 and grid.count((0, 0, 19, 9)) == 4 and grid.count((-50, -50, 50, 50)) == 6
    assert grid.count((100, 100, 200, 200)) == 0
