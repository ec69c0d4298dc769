"""The layer definitions in layers/ are valid data and match the schema the migrations build."""

from __future__ import annotations

import pytest

from gis.errors import UnknownLayerError
from gis.registry import load_registry, normalise_label


def test_every_layer_and_code_list_validates() -> None:
    reg = load_registry()
    assert set(reg.layers) == {
        "compounds",
        "facilities",
        "pipelines",
        "roads",
        "buildings",
        "water",
        "evidence",
        "inspection_findings",
    }
    assert reg.layers["pipelines"].restricted and not reg.layers["compounds"].restricted
    design_types = {
        "kindergarten",
        "nursery",
        "elderly_daycare",
        "elderly_station",
        "nursing_home",
        "clinic",
        "health_center",
        "primary_school",
        "middle_school",
        "market",
        "supermarket",
        "community_service",
        "fitness",
        "public_toilet",
        "parcel_locker",
        "ev_charging",
    }
    assert set(reg.code_list("facility_type").ids) == design_types
    assert set(reg.code_list("pipeline_kind").ids) >= {"JS", "PS", "YS", "WS", "RQ", "RL", "DL", "TX"}


@pytest.mark.parametrize(
    ("layer", "column", "field"),
    [
        ("compounds", "小区名称", "name"),
        ("compounds", "建成年代", "built_year"),
        ("compounds", "户数", "households"),
        ("compounds", "街道办事处", "street"),
        ("compounds", "建筑面积（平方米）", "floor_area_m2"),
        ("facilities", "機構名稱", "name"),
        ("pipelines", "管径", "diameter_mm"),
        ("roads", "fclass", "highway"),
    ],
)
def test_aliases_map_columns_to_fields(layer: str, column: str, field: str) -> None:
    assert load_registry().layer(layer).alias_lookup[normalise_label(column)] == field


@pytest.mark.parametrize(
    ("codes", "spelling", "code"),
    [
        ("facility_type", "幼儿园", "kindergarten"),
        ("facility_type", "幼兒園", "kindergarten"),
        ("facility_type", "Kindergarten", "kindergarten"),
        ("facility_type", "养老驿站", "elderly_station"),
        ("property_mgmt", "准物业", "basic"),
        ("stage", "招投标", "tender"),
        ("telecom_operator", "中国联通", "unicom"),
        ("pipeline_kind", "燃气", "RQ"),
    ],
)
def test_code_lists_accept_chinese_english_and_aliases(codes: str, spelling: str, code: str) -> None:
    assert load_registry().code_list(codes).resolve(spelling) == code


def test_unknown_layer_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownLayerError) as info:
        load_registry().layer("compound")
    assert "compounds" in str(info.value) and "facilities" in str(info.value)
    assert isinstance(info.value, KeyError)
