"""Gap tables by street and by district, as CSV (UTF-8 with BOM, for Excel) and XLSX (a titled
sheet per grouping, with a totals row, in the layout a bureau files)."""

from __future__ import annotations

from datetime import date
from numbers import Number
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from gis import clock
from gis.cells import write_frame_csv
from gis.errors import InvalidRequestError, NotFoundError
from gis.export.context import ExportContext, ExportNeeds
from gis.gaps.analysis import summarise
from gis.registry import Registry
from gis.standards import status_label
from gis.xlsx_style import CENTER, LEFT, PINK_FILL, RIGHT, CellStyle, merge, put

# the tables are sums of the latest gap results: no layer is read
NEEDS = ExportNeeds(layers=(), gaps=True)
TITLE_STYLE = CellStyle(size=16, bold=True, border=False)
NOTE_STYLE = CellStyle(size=10, border=False, align=LEFT)
DATE_STYLE = CellStyle(size=10, border=False, align=RIGHT)
HEAD_STYLE = CellStyle(size=11, bold=True, fill=PINK_FILL, align=CENTER)
TEXT_STYLE = CellStyle(size=11, align=LEFT)
NUMBER_STYLE = CellStyle(size=11, align=RIGHT)
TOTAL_TEXT = CellStyle(size=11, bold=True, align=LEFT)
TOTAL_NUMBER = CellStyle(size=11, bold=True, align=RIGHT)

DEMAND_ZH = {
    "residents": "居民",
    "children": "幼儿",
    "elderly": "老年人",
    "infants": "婴幼儿",
    "pupils": "小学生",
    "households": "户",
}
COLUMNS = [
    ("district", "区县"),
    ("street", "街道"),
    ("facility", "设施类型"),
    ("radius_m", "服务半径(米)"),
    ("radius_status", "半径依据"),
    ("compounds", "小区数(个)"),
    ("covered", "满足(个)"),
    ("uncovered", "缺口小区(个)"),
    ("coverage", "覆盖率(%)"),
    ("residents_uncovered", "未覆盖居民(人)"),
    ("demand_group", "需求人群"),
    ("demand_uncovered", "未覆盖需求人群(人/户)"),
    ("basis", "距离口径"),
]
SUMMED = ("compounds", "covered", "uncovered", "residents_uncovered", "demand_uncovered")


def gap_table(results: pd.DataFrame, registry: Registry, by: str) -> pd.DataFrame:
    """Per ``by`` (``street`` or ``district``) and facility type, with Chinese labels."""
    if by not in ("street", "district"):
        raise InvalidRequestError(f"by must be 'street' or 'district', not {by!r}")
    keys = ("district", "street") if by == "street" else ("district",)
    frame = results.assign(**{k: results[k].fillna("（未填）") for k in keys})
    s = summarise(frame, by=keys)
    labels = {c.id: c.zh for c in registry.code_list("facility_type").codes}
    s["facility"] = s["facility_type"].map(lambda t: labels.get(t, t))
    s["uncovered"] = s["compounds"] - s["covered"]
    s["coverage"] = (100.0 * s["covered"] / s["compounds"]).round(1)
    s["demand_group"] = s["demand_group"].map(lambda g: DEMAND_ZH.get(str(g), str(g)))
    # every row says how far its radius can be trusted (a gap found with an unverified radius says so)
    s["radius_status"] = s["radius_status"].map(status_label)
    s["basis"] = s["basis"].map({"network": "路网步行", "euclidean": "直线"}).fillna(s["basis"])
    s["residents_uncovered"] = s["residents_uncovered"].round(0)
    s["demand_uncovered"] = s["demand_uncovered"].round(0)
    cols = [c for c, _ in COLUMNS if c in s.columns and (c != "street" or by == "street")]
    return s[cols].reset_index(drop=True)


def _headers(table: pd.DataFrame) -> list[str]:
    names = dict(COLUMNS)
    return [names[c] for c in table.columns]


def write_csv(table: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_frame_csv(table.set_axis(_headers(table), axis=1), path)


def _cell_value(value: Any) -> Any:
    return None if pd.isna(value) else value


def _is_number(value: Any) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool)


def totals(table: pd.DataFrame) -> list[list[Any]]:
    """The 合计 rows, one per facility type: counts summed, coverage recomputed from the sums."""
    rows = []
    for facility, part in table.groupby("facility", sort=False):
        row: list[Any] = []
        for j, col in enumerate(table.columns):
            if j == 0:
                value: Any = "合计"
            elif col == "facility":
                value = facility
            elif col in SUMMED:
                value = float(part[col].sum())
            elif col == "coverage":
                total = part["compounds"].sum()
                value = round(100.0 * part["covered"].sum() / total, 1) if total else None
            elif col in ("radius_m", "radius_status"):
                value = part[col].iloc[0]
            else:
                value = None
            row.append(value)
        rows.append(row)
    return rows


def _write_sheet(sheet: Worksheet, table: pd.DataFrame, *, title: str, issued: date) -> None:
    """Title, unit and date lines, header, rows, a 合计 row per facility type; printable landscape."""
    headers = _headers(table)
    n = len(headers)
    put(sheet, 1, 1, title, style=TITLE_STYLE)
    merge(sheet, 1, 1, 1, n)
    put(sheet, 2, 1, "单位：个、人、户、米", style=NOTE_STYLE)
    put(sheet, 2, n, f"制表日期：{issued.isoformat()}", style=DATE_STYLE)
    for j, h in enumerate(headers, 1):
        put(sheet, 3, j, h, style=HEAD_STYLE)
    row = 4
    for record in table.itertuples(index=False):
        for j, value in enumerate(record, 1):
            v = _cell_value(value)
            put(sheet, row, j, v, style=NUMBER_STYLE if _is_number(v) else TEXT_STYLE)
        row += 1
    for values in totals(table):
        for j, value in enumerate(values, 1):
            put(sheet, row, j, value, style=TOTAL_NUMBER if _is_number(value) else TOTAL_TEXT)
        row += 1
    for j, h in enumerate(headers, 1):
        width = max([len(h) * 2, *[len(str(v)) * 2 for v in table.iloc[:, j - 1].tolist()], 8])
        sheet.column_dimensions[get_column_letter(j)].width = min(width + 2, 40)
    sheet.freeze_panes = "A4"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "3:3"


def write_xlsx(tables: dict[str, pd.DataFrame], path: Path, *, title: str, issued: date | None = None) -> None:
    """One sheet per table, in the bureau's style (:mod:`gis.xlsx_style`); dated ``issued`` (default today)."""
    book = Workbook()
    book.remove(book.active)
    day = clock.today(issued)
    for sheet_name, table in tables.items():
        _write_sheet(book.create_sheet(sheet_name), table, title=f"{title}（{sheet_name}）", issued=day)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


def export_tables(ctx: ExportContext, path: Path, *, by: str = "street") -> list[Path]:
    """The latest gap results summed up: ``.xlsx`` holds both groupings (按街道, 按区县); ``.csv``
    holds ``by``. Returns the files written.

    Build the context with :data:`NEEDS` (``ws.export_context("public", gap_tables.NEEDS)``).
    """
    results = ctx.gaps
    if results is None or not len(results):
        raise NotFoundError("no gap analysis has been run yet: gisplan gaps (or ws.gaps())")
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        tables = {
            "按街道": gap_table(results, ctx.registry, "street"),
            "按区县": gap_table(results, ctx.registry, "district"),
        }
        write_xlsx(tables, path, title="公共服务设施缺口统计表", issued=ctx.today)
    elif suffix == ".csv":
        write_csv(gap_table(results, ctx.registry, by), path)
    else:
        raise InvalidRequestError(f"--out {path.name}: use .xlsx or .csv")
    return [path]
