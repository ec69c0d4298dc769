"""The 一区一策 report's gap table from an export context built here in memory (no database): each
finding shows the status of its radius, read from the standard, and a doubtful one is marked."""

from __future__ import annotations

import re
from datetime import date

import geopandas as gpd
import shapely
from pyproj import CRS

from gis.export.compound_report import compound_report
from gis.export.context import ExportContext
from gis.gaps.analysis import GapParameters, analyse
from gis.registry import registry
from gis.standards import load_standard, status_label, status_marker

WORKING = CRS.from_epsg(4547)
TYPES = ["kindergarten", "clinic", "nursing_home"]


def _context() -> ExportContext:
    compounds = gpd.GeoDataFrame(
        {"fid": [1], "name": ["甲小区"], "district": ["海淀区"], "street": ["学院路街道"], "population": [1000]},
        geometry=[shapely.box(500000, 4400000, 500100, 4400100)],
        crs=WORKING,
    )
    # a kindergarten 150 m north of the compound and a nursing home 800 m east; no clinic anywhere
    facilities = gpd.GeoDataFrame(
        {"fid": [11, 12], "name": ["一幼", "敬老院"], "type": ["kindergarten", "nursing_home"], "capacity": None},
        geometry=[shapely.Point(500050, 4400250), shapely.Point(500900, 4400050)],
        crs=WORKING,
    )
    compounds["households"] = None
    gaps, _, _ = analyse(compounds, facilities, None, load_standard(), TYPES, GapParameters())
    gaps = gaps.rename(columns={"compound_fid": "compound_id"})
    return ExportContext(
        registry=registry(),
        role="public",
        working_crs=WORKING,
        layers={"compounds": compounds},
        attribution="© OpenStreetMap contributors",
        today=date(2026, 12, 3),
        gaps=gaps,
    )


def _row(page: str, label: str) -> str:
    (row,) = [r for r in re.findall(r"<tr>.*?</tr>", page) if f"<td>{label}</td>" in r]
    return row


def test_each_finding_shows_the_status_of_its_radius() -> None:
    std = load_standard()
    page = compound_report(_context(), 1)
    labels = {c.id: c.zh for c in registry().code_list("facility_type").codes}
    for ftype in TYPES:
        rule = std.rule(ftype)
        row = _row(page, labels[ftype])
        assert f"<td>{rule.radius_m:g}</td>" in row and f"<td>{status_label(rule.status)}</td>" in row
        # the finding itself carries the marker exactly when its radius is doubtful
        marker = status_marker(rule.status)
        assert marker in row if marker else "（依据" not in row, ftype
    # by hand: no clinic at all, a gap resting on a radius nobody found in GB 50180-2018
    assert std.rule("clinic").status == "unverified"
    clinic = _row(page, labels["clinic"])
    assert "缺口" in clinic and "（依据未核实 / value unverified）" in clinic
    # the kindergarten 150 m away covers it: a covered finding, on the superseded edition's 300 m
    kindergarten = _row(page, labels["kindergarten"])
    assert "满足" in kindergarten and "（依据为旧版标准 / superseded edition）" in kindergarten
    # the nursing home's 1000 m is gisplan's own choice (local_rule): stated, not marked
    nursing = _row(page, labels["nursing_home"])
    assert "满足" in nursing and "（" not in nursing
    assert "仅供参考" in page  # the note under the table says what the marker means
