"""The gap tables' totals and their XLSX in the bureau's style, from a table built by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from gis.export.gap_tables import totals, write_xlsx


def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "district": ["海淀区", "朝阳区", "海淀区"],
            "facility": ["幼儿园", "幼儿园", "社区卫生服务站"],
            "radius_m": [300.0, 300.0, 1000.0],
            "compounds": [4, 6, 4],
            "covered": [3, 2, 4],
            "uncovered": [1, 4, 0],
            "coverage": [75.0, 33.3, 100.0],
            "residents_uncovered": [120.0, 900.0, 0.0],
        }
    )


def test_totals_per_facility_type_by_hand() -> None:
    assert totals(table()) == [
        # 10 compounds, 5 covered: 50 %
        ["合计", "幼儿园", 300.0, 10.0, 5.0, 5.0, 50.0, 1020.0],
        ["合计", "社区卫生服务站", 1000.0, 4.0, 4.0, 0.0, 100.0, 0.0],
    ]


def test_xlsx_in_the_bureau_style(tmp_path: Path) -> None:
    path = tmp_path / "gaps.xlsx"
    write_xlsx({"按区县": table()}, path, title="公共服务设施缺口统计表", issued=date(2026, 11, 30))
    sheet = load_workbook(path)["按区县"]
    assert sheet["A1"].value == "公共服务设施缺口统计表（按区县）"
    assert "A1:H1" in {str(r) for r in sheet.merged_cells.ranges}
    assert sheet.cell(2, 8).value == "制表日期：2026-11-30"
    assert [c.value for c in sheet[3]][:4] == ["区县", "设施类型", "服务半径(米)", "小区数(个)"]
    assert sheet["A3"].fill.fgColor.rgb.endswith("F2DCDB") and sheet["A3"].font.bold
    assert {sheet.cell(r, c).font.name for r in range(1, 9) for c in range(1, 9) if sheet.cell(r, c).value} == {"宋体"}
    # three rows from row 4, then the totals
    assert [sheet.cell(r, 1).value for r in (6, 7, 8)] == ["海淀区", "合计", "合计"]
    assert sheet.cell(7, 7).value == pytest.approx(50.0) and sheet.cell(7, 7).font.bold
