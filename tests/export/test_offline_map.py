"""The offline map drawn from an export context built here in memory (no database): what each
compound is coloured and says, and what the map refuses to draw."""

from __future__ import annotations

from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS

from gis.errors import NotFoundError
from gis.export.context import ExportContext
from gis.export.offline_map import MapOptions, build_map, default_facility, gap_columns, needs, render_page
from gis.export.symbology import symbology
from gis.registry import registry
from tests.helpers.browser import page_geojson

WORKING = CRS.from_epsg(4547)


def square(lon: float, lat: float, side_deg: float = 0.002) -> shapely.Geometry:
    return shapely.MultiPolygon([shapely.box(lon, lat, lon + side_deg, lat + side_deg)])


def compounds() -> gpd.GeoDataFrame:
    frame = pd.DataFrame(
        {
            "fid": [1, 2, 3, 4],
            "name": ["甲小区", "乙小区", "丙小区", "丁小区"],
            "district": "海淀区",
            "street": "学院路街道",
            "community": None,
            "built_year": [1985, 1990, 1992, 1988],
            "households": [300, 200, 120, 80],
            "population": [900, 600, 360, 240],
            "stage": ["survey", None, "construction", None],
            "property_mgmt": None,
        }
    )
    shapes = [square(116.35 + 0.004 * i, 40.0) for i in range(4)]
    return gpd.GeoDataFrame(frame, geometry=shapes, crs=4326).to_crs(WORKING)


def facilities() -> gpd.GeoDataFrame:
    frame = pd.DataFrame({"fid": [11], "name": ["一幼"], "type": ["kindergarten"], "capacity": [90], "address": None})
    return gpd.GeoDataFrame(frame, geometry=[shapely.Point(116.351, 40.003)], crs=4326).to_crs(WORKING)


def results() -> gpd.GeoDataFrame:
    """Kindergarten results of compounds 1-3 (4 was added after the run): covered, uncovered, unreachable."""
    frame = pd.DataFrame(
        {
            "run_id": [5, 5, 5],
            "compound_id": [1, 2, 3],
            "facility_type": "kindergarten",
            "distance_m": [120.4, 450.0, np.nan],
            "radius_m": 300.0,
            "radius_status": "superseded",
            "covered": [True, False, False],
            "nearest_facility_name": ["一幼", "一幼", None],
        }
    )
    return gpd.GeoDataFrame(frame, geometry=[shapely.Point(0, 0)] * 3, crs=WORKING)


def context(**extra: Any) -> ExportContext:
    layers = {"compounds": compounds(), "facilities": facilities()}
    return ExportContext(
        registry=registry(),
        role="public",
        working_crs=WORKING,
        layers=layers,
        attribution="© 测试",
        today=date(2026, 11, 30),
        **extra,
    )


def compound_features(page: str) -> dict[int, dict[str, Any]]:
    collection = next(c for c in page_geojson(page) if c["features"] and "fid" in c["features"][0]["properties"])
    return {int(f["properties"]["fid"]): f["properties"] for f in collection["features"]}


def test_gap_columns_by_hand() -> None:
    out = gap_columns(pd.Series([1, 2, 3, 4]), pd.DataFrame(results().drop(columns="geometry")))
    assert out["gap"].tolist() == ["covered", "uncovered", "unreachable", "unknown"]
    old = "（依据为旧版标准 / superseded edition）"  # the radius of a superseded edition, marked on each result
    expected = [f"120 / 300 米{old}", f"450 / 300 米{old}", f"无法到达 unreachable{old}", "未分析"]
    assert out["distance"].tolist() == expected
    assert out["nearest"].tolist() == ["一幼", "一幼", None, None]
    # a radius a reader may rely on carries no marker
    relied = pd.DataFrame(results().drop(columns="geometry")).assign(radius_status="strong")
    assert gap_columns(pd.Series([1]), relied)["distance"].tolist() == ["120 / 300 米"]


def test_gap_map_colours_each_compound_from_the_results() -> None:
    fmap = build_map(context(gaps=results()), MapOptions(colour="gap", facility="kindergarten"))
    page = render_page(fmap)
    gap = symbology()["gap"]
    drawn = compound_features(page)
    assert {fid: p["fill"] for fid, p in drawn.items()} == {
        1: gap["covered"]["color"],
        2: gap["uncovered"]["color"],
        3: gap["unreachable"]["color"],
        4: gap["unknown"]["color"],  # added after the run: never coloured from an older result
    }
    assert drawn[4]["distance"] == "未分析"
    assert "小区 · 幼儿园 Kindergarten" in page and "© 测试" in page


def test_stage_map_colours_by_stage() -> None:
    drawn = compound_features(render_page(build_map(context(), MapOptions())))
    stage = symbology()["stage"]
    assert [drawn[f]["fill"] for f in (1, 2, 3)] == [stage["survey"], stage["none"], stage["construction"]]
    assert "distance" not in drawn[1]


def test_gap_map_of_a_type_never_analysed_is_refused() -> None:
    with pytest.raises(NotFoundError, match="health_center has not been analysed"):
        build_map(context(gaps=results()), MapOptions(colour="gap", facility="health_center"))
    with pytest.raises(NotFoundError, match="no gap analysis"):
        default_facility({})
    assert default_facility({"elderly_station": {}, "kindergarten": {}}) == "elderly_station"


def test_progress_map_outlines_the_overdue() -> None:
    with pytest.raises(NotFoundError, match="no renovation programme"):
        build_map(context(), MapOptions(colour="progress"))
    figures = {
        "year": 2026,
        "month": "2026-11",
        "compounds": {"1": {"overdue": True}, "3": {"overdue": False}},
        "streets": [{"street": "学院路街道", "projects": 2, "started": 1, "finished": 0, "overdue": 1}],
    }
    page = render_page(build_map(context(progress=figures), MapOptions(colour="progress")))
    drawn = compound_features(page)
    assert drawn[1]["edge"] == symbology()["overdue"] and drawn[1]["edge_w"] == 4
    assert drawn[3]["edge_w"] == 1
    assert "2026 年度改造进度（2026-11）" in page and "挂图作战" in page


def test_what_a_map_asks_the_workspace_for() -> None:
    gap = needs(MapOptions(colour="gap", facility="kindergarten", catchment=True))
    assert gap.gaps and not gap.progress and gap.catchment == "kindergarten"
    stage = needs(MapOptions(catchment=True))
    assert not stage.gaps and stage.catchment is None  # no facility type: no catchment
    assert needs(MapOptions(colour="progress")).progress
    assert MapOptions(planner=True).role == "planner" and MapOptions().role == "public"
