"""Each gap row carries the status of the radius it used, read from the standard's YAML (and from a
county file over it): worked on hand-made frames in memory, no database."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely

from gis.export.gap_tables import gap_table
from gis.gaps.analysis import GapParameters, analyse, default_types, summarise
from gis.registry import registry
from gis.standards import load_standard, status_label

CRS = "EPSG:4547"


def _compounds() -> gpd.GeoDataFrame:
    frame = {"fid": [1, 2], "name": ["甲", "乙"], "population": [1000, 500], "households": [None, None]}
    frame |= {"district": ["海淀区", "海淀区"], "street": ["学院路街道", "学院路街道"]}
    return gpd.GeoDataFrame(frame, geometry=[shapely.box(0, 0, 100, 100), shapely.box(2000, 0, 2100, 100)], crs=CRS)


def _facilities() -> gpd.GeoDataFrame:
    # a kindergarten 150 m above 甲 (within 300 m), a clinic far from both
    frame = {"fid": [11, 12], "name": ["一幼", "卫生站"], "type": ["kindergarten", "clinic"], "capacity": [None, None]}
    return gpd.GeoDataFrame(frame, geometry=[shapely.Point(50, 250), shapely.Point(5000, 5000)], crs=CRS)


def test_each_row_has_the_status_of_its_radius() -> None:
    std = load_standard()
    types, _ = default_types(std, registry())
    results, _, _ = analyse(_compounds(), _facilities(), None, std, types, GapParameters())
    assert set(results["facility_type"]) == set(types) and len(results) == 2 * len(types)
    for row in results.itertuples():
        rule = std.rule(str(row.facility_type))
        assert (row.radius_m, row.radius_status) == (rule.radius_m, rule.status), row.facility_type
    # 甲 is covered by the kindergarten 150 m away, 乙 is not: both rows say how far 300 m is trusted
    kg = results[results["facility_type"] == "kindergarten"].set_index("compound_name")
    assert list(kg["covered"]) == [True, False] and set(kg["radius_status"]) == {std.rule("kindergarten").status}


def test_a_county_radius_brings_its_own_status(tmp_path: Path) -> None:
    (tmp_path / "county.yaml").write_text(
        "id: county\nextends: gb50180\ntitle: {zh: 某县, en: A county}\n"
        "facilities:\n  kindergarten: {radius_m: 600, status: local_rule, source: 某县规划局 2026 年规定}\n",
        encoding="utf-8",
    )
    county = load_standard("county", extra_dirs=[tmp_path])
    national = load_standard()
    results, _, _ = analyse(_compounds(), _facilities(), None, county, ["kindergarten", "clinic"], GapParameters())
    by_type = results.groupby("facility_type")[["radius_m", "radius_status"]].first()
    assert tuple(by_type.loc["kindergarten"]) == (600, "local_rule")
    # the clinic's rule is the national one, untouched by the county file
    assert tuple(by_type.loc["clinic"]) == (national.rule("clinic").radius_m, national.rule("clinic").status)


def test_the_summary_and_the_gap_tables_keep_the_status() -> None:
    std = load_standard()
    results, _, _ = analyse(_compounds(), _facilities(), None, std, ["kindergarten", "clinic"], GapParameters())
    summary = summarise(results).set_index("facility_type")
    for ftype in ("kindergarten", "clinic"):
        assert summary.loc[ftype, "radius_status"] == std.rule(ftype).status
    table = gap_table(results, registry(), "district")
    labels = {c.id: c.zh for c in registry().code_list("facility_type").codes}
    shown = dict(zip(table["facility"], table["radius_status"], strict=True))
    assert shown == {labels[t]: status_label(std.rule(t).status) for t in ("kindergarten", "clinic")}
