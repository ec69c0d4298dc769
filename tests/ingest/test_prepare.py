"""prepare() end to end on in-memory features: what becomes a row, under which key, and why the
rest is set aside (hand-worked, no database)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyproj import CRS
from shapely.geometry import LineString, MultiLineString, Polygon

from gis.ingest.prepare import prepare
from gis.ingest.readers import RawSource
from gis.registry import registry

METRES = CRS.from_epsg(3857)  # source and working CRS alike: no projection, coordinates as written


def _raw(frame: pd.DataFrame, geoms: list[object]) -> RawSource:
    return RawSource(
        attributes=frame,
        geometries=np.array(geoms, dtype=object),
        unparseable=np.zeros(len(geoms), dtype=bool),
        crs=METRES,
        crs_origin="a test",
        driver="test",
    )


def test_compounds_repaired_promoted_and_set_aside() -> None:
    bow_tie = Polygon([(0, 0), (20, 20), (20, 0), (0, 20), (0, 0)])
    square = Polygon([(30, 0), (40, 0), (40, 10), (30, 10), (30, 0)])
    frame = pd.DataFrame(
        {"编号": ["A", "B", "C", "D"], "小区名称": ["甲", "乙", "丙", "丁"], "户数": ["120户", "many", None, "5"]}
    )
    prep = prepare(
        _raw(frame, [bow_tie, square, None, square]),
        registry().layer("compounds"),
        registry(),
        source_crs=METRES,
        working_crs=METRES,
    )
    assert prep.read == 4
    assert prep.keys == ["A", "B", "D"]  # D has B's geometry but its own key: no duplicate
    assert [g.geom_type for g in prep.geoms] == ["MultiPolygon"] * 3
    assert prep.geoms[0].area == 200.0  # two triangles of base 20 and height 10
    assert prep.values["name"].tolist() == ["甲", "乙", "丁"]
    assert prep.values["households"].tolist() == [120, None, 5]
    assert prep.extra == [{"编号": "A"}, {"编号": "B", "户数": "many"}, {"编号": "D"}]
    assert [(p.index, p.key, p.reason) for p in prep.repaired] == [(0, "A", "repaired: Self-intersection[10 10]")]
    assert [(p.index, p.key, p.reason) for p in prep.field_issues] == [
        (1, "B", "left empty: 户数 (households): 'many' is not a number")
    ]
    assert [(p.index, p.key, p.reason, p.attributes) for p in prep.rejected] == [
        (2, "C", "no geometry", {"编号": "C", "小区名称": "丙"})
    ]
    assert prep.warnings == []


def test_roads_split_into_parts_and_duplicates_set_aside() -> None:
    two = MultiLineString([[(0, 0), (10, 0)], [(20, 0), (30, 0)]])
    one = LineString([(0, 5), (10, 5)])
    frame = pd.DataFrame({"编号": ["R1", "R2", "R1"], "路名": ["学院路", "成府路", "学院路"]})
    prep = prepare(
        _raw(frame, [two, one, LineString([(0, 0), (0, 0)])]),
        registry().layer("roads"),
        registry(),
        source_crs=METRES,
        working_crs=METRES,
    )
    # R1 appears twice: not a unique key column, so every feature is keyed by its content
    assert prep.warnings == [
        "column 编号 is not unique (2 distinct values in 3 features), so it is not used as the key: "
        "a re-import matches features by their content"
    ]
    first, second = prep.keys[0].split("#")[0], prep.keys[2]
    assert prep.keys == [f"{first}#1", f"{first}#2", second]
    assert first.startswith("h:") and second.startswith("h:")
    assert [g.wkt for g in prep.geoms] == ["LINESTRING (0 0, 10 0)", "LINESTRING (20 0, 30 0)", one.wkt]
    assert prep.values["name"].tolist() == ["学院路", "学院路", "成府路"]
    assert [(p.index, p.reason) for p in prep.rejected] == [(2, "line of zero length")]


def test_a_duplicate_feature_is_set_aside_pointing_at_the_first() -> None:
    square = Polygon([(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)])
    frame = pd.DataFrame({"小区名称": ["甲", "甲"]})
    prep = prepare(
        _raw(frame, [square, square]),
        registry().layer("compounds"),
        registry(),
        source_crs=METRES,
        working_crs=METRES,
    )
    assert len(prep.keys) == 1
    assert [(p.index, p.reason) for p in prep.rejected] == [(1, f"duplicate of feature #0 (same key {prep.keys[0]})")]
