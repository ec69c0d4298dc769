"""The pure parts of what a map shows: gap classes, code texts, colours, the progress figures and
the web map's configuration for a role (no database)."""

from __future__ import annotations

import pandas as pd

from gis.export.progress import overdue_compounds, progress_overview
from gis.export.symbology import code_labels, code_text, color_of, gap_class, symbology
from gis.export.webmap import Basemap, MapState, map_config
from gis.registry import registry


def test_gap_classes() -> None:
    assert gap_class(120.0, True) == "covered"
    assert gap_class(450.0, False) == "uncovered"
    assert gap_class(None, False) == "unreachable"  # no path on the network
    assert gap_class(None, None) == "unknown"  # not analysed
    assert set(symbology()["gap"]) == {"covered", "uncovered", "unreachable", "unknown"}


def test_code_text_and_colours() -> None:
    labels = code_labels(registry())
    assert code_text(labels, "facility_type", "kindergarten") == "幼儿园 Kindergarten"
    assert code_text(labels, "facility_type", None) == "—"
    assert code_text(labels, "facility_type", "no-such") == "no-such"
    stage = symbology()["stage"]
    assert color_of("stage", "survey") == stage["survey"]
    assert color_of("stage", None) == stage["none"]  # not in the programme
    assert color_of("facility_type", "no-such") == symbology()["facility_type"]["other"]


def test_progress_overview_from_frames() -> None:
    status = pd.DataFrame(
        {
            "year": [2026, 2026],
            "compound_id": [7, 9],
            "stage": ["design", "construction"],
            "overdue": [True, False],
            "days_behind": [12, None],
            "due_stage_zh": ["施工", "竣工"],
        }
    )
    streets = pd.DataFrame(
        {
            "district": ["海淀区"],
            "street": ["学院路街道"],
            "projects": [2],
            "started": [1],
            "finished": [0],
            "overdue": [1],
            "investment_planned": [300.0],
            "investment_spent": [120.5],
        }
    )
    overview = progress_overview(status, streets, "2026-11")
    assert overview == {
        "year": 2026,
        "month": "2026-11",
        "compounds": {
            "7": {"stage": "design", "overdue": True, "days_behind": 12, "due_stage": "施工"},
            "9": {"stage": "construction", "overdue": False, "days_behind": 0, "due_stage": None},
        },
        "streets": [
            {
                "district": "海淀区",
                "street": "学院路街道",
                "projects": 2,
                "started": 1,
                "finished": 0,
                "overdue": 1,
                "investment_planned": 300.0,
                "investment_spent": 120.5,
            }
        ],
    }
    assert overdue_compounds(overview) == {7}
    assert progress_overview(status.iloc[:0], streets, "2026-11") is None


def test_web_map_config_names_only_what_the_role_sees() -> None:
    reg = registry()
    state = MapState(bounds=[116.3, 39.9, 116.4, 40.0], gaps={}, facility_counts={"kindergarten": 3})
    public = map_config(reg, "public", state, attribution="© OSM")
    planner = map_config(reg, "planner", state, attribution="© OSM", basemap=Basemap("http://x/{z}/{x}/{y}.png"))
    assert "pipelines" not in {layer["id"] for layer in public["layers"]}
    assert "pipelines" in {layer["id"] for layer in planner["layers"]}
    assert public["basemap"] is None
    assert planner["basemap"] == {"tiles": "http://x/{z}/{x}/{y}.png", "attribution": None}
    assert public["bounds"] == state.bounds and public["facility_counts"] == {"kindergarten": 3}
    compounds = next(layer for layer in public["layers"] if layer["id"] == "compounds")
    assert compounds["tiles"] == "/ogc/collections/compounds/tiles/WebMercatorQuad/{z}/{y}/{x}"
    assert "name" in {f["id"] for f in compounds["fields"]}
