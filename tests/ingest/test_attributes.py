"""Mapping and coercion of attributes, on in-memory frames with hand-worked answers (no database)."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely

from gis.ingest import attributes
from gis.ingest.readers import RawSource
from gis.registry import FieldDef, registry

HOUSEHOLDS = FieldDef(id="households", type="integer", zh="户数", en="Households", min=0)
BUILT_YEAR = FieldDef(id="built_year", type="integer", zh="建成年份", en="Year built", min=1900, max=2100)
AREA = FieldDef(id="floor_area_m2", type="number", zh="建筑面积", en="Floor area", min=0)
ONE_WAY = FieldDef(id="oneway", type="boolean", zh="单行", en="One way")
NAME = FieldDef(id="name", type="text", zh="名称", en="Name")
OPENED = FieldDef(id="opened", type="date", zh="启用日期", en="Opened")
MANAGEMENT = FieldDef(id="property_mgmt", type="code", codes="property_mgmt", zh="物业管理方式", en="Management")
CATEGORIES = FieldDef(id="categories", type="codes", codes="renovation_category", zh="改造类别", en="Categories")

# (field, values as read, values coerced, the rows refused with their reason)
TABLE: list[tuple[FieldDef, list[Any], list[Any], dict[int, str]]] = [
    (
        HOUSEHOLDS,
        ["12户", 3.0, "２０", "2.5", "abc", -1, None, "  "],
        [12, 3, 20, None, None, None, None, None],
        {
            3: "户数 (households): '2.5' is not a whole number",
            4: "户数 (households): 'abc' is not a number",
            5: "户数 (households): -1 is outside 0.0–2147483647",  # int4 bounds an integer without a max
        },
    ),
    (
        BUILT_YEAR,
        ["1985年", "2001-05", "2001年5月", 1850, "1985年代"],
        [1985, 2001, 2001, None, 1985],
        {3: "建成年份 (built_year): 1850 is outside 1900.0–2100.0"},
    ),
    (
        AREA,
        ["1200㎡", "1,200", "85.5平米", 0, -3],
        [1200.0, None, 85.5, 0.0, None],
        {1: "建筑面积 (floor_area_m2): '1,200' is not a number", 4: "建筑面积 (floor_area_m2): -3 is outside 0.0–∞"},
    ),
    (
        ONE_WAY,
        ["是", "双向", "Ｙｅｓ", 1, "maybe"],
        [True, False, True, True, None],
        {4: "单行 (oneway): 'maybe' is not yes/no"},
    ),
    (NAME, [12.0, "  学院路小区 ", 7], ["12", "学院路小区", "7"], {}),
    (
        OPENED,
        ["2024-03-05", "soon", None],
        [date(2024, 3, 5), None, None],
        {1: "启用日期 (opened): 'soon' is not a date"},
    ),
    (MANAGEMENT, ["物业公司", "居委会", "专业物业"], ["professional", "committee", "professional"], {}),
    (
        CATEGORIES,
        ["基础、提升", "基础,基础", "完善 / 提升"],
        [["basic", "improve"], ["basic"], ["complete", "improve"]],
        {},
    ),
]


@pytest.mark.parametrize(("fdef", "values", "expected", "refused"), TABLE, ids=[row[0].id for row in TABLE])
def test_coerce_table(fdef: FieldDef, values: list[Any], expected: list[Any], refused: dict[int, str]) -> None:
    out, bad = attributes.coerce(pd.Series(values, dtype=object), fdef, registry())
    assert out == expected
    assert bad == refused


def test_an_unknown_code_is_named_with_the_valid_ones() -> None:
    out, bad = attributes.coerce(pd.Series(["基础/豪华", "物业"], dtype=object), CATEGORIES, registry())
    assert out == [None, None]  # "物业" is no renovation category either
    assert (
        bad[0]
        == "改造类别 (categories): 豪华 is not a known code (valid: basic 基础类; complete 完善类; improve 提升类)"
    )
    assert bad[1].startswith("改造类别 (categories): 物业 is not a known code")


def test_missing_values_are_null_nan_and_blank_text() -> None:
    series = pd.Series([None, np.nan, "", "  ", "x", 0], dtype=object)
    assert attributes.is_missing(series).tolist() == [True, True, True, True, False, False]


def test_json_safe() -> None:
    assert attributes.json_safe(np.int64(3)) == 3
    assert attributes.json_safe(float("nan")) is None
    assert attributes.json_safe(b"\x01\xff") == "01ff"
    assert attributes.json_safe({"a": (np.float32(1.5), float("inf"))}) == {"a": [1.5, None]}
    assert attributes.json_safe(date(2024, 1, 2)) == "2024-01-02"


def test_columns_map_to_fields_by_alias_first_wins() -> None:
    compounds = registry().layer("compounds")
    attrs = pd.DataFrame(columns=["小区名称", "NAME", "编号", "synthetic", "备注"])
    columns = attributes.map_columns(attrs, compounds, reader_keys=False)
    assert columns.fields == {"name": "小区名称", "synthetic": "synthetic"}
    assert columns.unmapped == ["NAME", "编号", "备注"]
    assert columns.key == "编号"
    assert columns.synthetic == "synthetic"
    assert attributes.map_columns(attrs, compounds, reader_keys=True).key is None


def _raw(frame: pd.DataFrame) -> RawSource:
    return RawSource(
        attributes=frame,
        geometries=np.array([shapely.Point(i, i) for i in range(len(frame))], dtype=object),
        unparseable=np.zeros(len(frame), dtype=bool),
        crs=None,
        crs_origin="a test",
        driver="test",
    )


def test_an_optional_bad_value_is_left_empty_and_kept_in_extras() -> None:
    compounds = registry().layer("compounds")
    frame = pd.DataFrame({"户数": ["12户", "many"], "备注": ["old", None], "synthetic": ["", "demo"]})
    raw = _raw(frame)
    columns = attributes.map_columns(frame, compounds, reader_keys=False)
    reasons: list[list[str]] = [[], []]
    found = attributes.field_values(raw, compounds, registry(), columns, reasons)
    assert found.values["households"].tolist() == [12, None]
    assert found.values["name"].tolist() == [None, None]
    assert [p.reason for p in found.issues] == ["left empty: 户数 (households): 'many' is not a number"]
    assert found.kept_raw == {1: {"户数": "many"}}
    assert reasons == [[], []]  # households is optional: both features stay usable
    assert attributes.extras(frame, columns, found.kept_raw, 2) == [{"备注": "old"}, {"户数": "many"}]
    assert attributes.synthetic_marks(frame, columns.synthetic, 2) == [None, "demo"]


def test_a_required_field_missing_is_a_reason_and_type_default_fills_it() -> None:
    facilities = registry().layer("facilities")
    frame = pd.DataFrame({"名称": ["甲", "乙", "丙"], "类型": ["幼儿园", None, "spaceport"]})
    raw = _raw(frame)
    columns = attributes.map_columns(frame, facilities, reader_keys=False)
    reasons: list[list[str]] = [[], [], []]
    attributes.field_values(raw, facilities, registry(), columns, reasons)
    assert reasons[0] == []
    assert reasons[1] == ["设施类型 (type) is missing (pass --type)"]
    assert reasons[2][0].startswith("设施类型 (type): spaceport is not a known code")

    reasons = [[], [], []]
    found = attributes.field_values(raw, facilities, registry(), columns, reasons, type_default="clinic")
    assert found.values["type"].tolist()[:2] == ["kindergarten", "clinic"]
    assert reasons[1] == []
