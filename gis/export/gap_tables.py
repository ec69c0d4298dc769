"""Gap tables by street and by district, as CSV (UTF-8 with BOM, for Excel) and XLSX (a titled
sheet per grouping, with a totals row, in the layout a bureau files)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from sqlalchemy import Engine

from gis.errors import InvalidRequestError, NotFoundError
from gis.gaps.analysis import summarise
from gis.gaps.runs import latest_results
from gis.registry import Registry

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
    table.set_axis(_headers(table), axis=1).to_csv(path, index=False, encoding="utf-8-sig")


def write_xlsx(tables: dict[str, pd.DataFrame], path: Path, *, title: str, issued: date | None = None) -> None:
    """One sheet per table: title, unit and date lines, header, rows, a 合计 row per facility type."""
    wb = Workbook()
    wb.remove(wb.active)
    thin = Side(style="thin", color="000000")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    font = "SimSun"
    for sheet_name, table in tables.items():
        ws = wb.create_sheet(sheet_name)
        headers = _headers(table)
        n = len(headers)
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=n)
        ws.cell(1, 1, f"{title}（{sheet_name}）").font = Font(name=font, size=16, bold=True)
        ws.cell(1, 1).alignment = Alignment(horizontal="center")
        ws.cell(2, 1, "单位：个、人、户、米").font = Font(name=font, size=10)
        ws.cell(2, n, f"制表日期：{(issued or date.today()).isoformat()}").font = Font(name=font, size=10)
        ws.cell(2, n).alignment = Alignment(horizontal="right")
        for j, h in enumerate(headers, 1):
            c = ws.cell(3, j, h)
            c.font = Font(name=font, bold=True)
            c.fill = PatternFill("solid", fgColor="F2DCDB")
            c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            c.border = box
        row = 4
        for record in table.itertuples(index=False):
            for j, value in enumerate(record, 1):
                c = ws.cell(row, j, None if pd.isna(value) else value)
                c.font = Font(name=font)
                c.border = box
            row += 1
        # totals per facility type: 合计 rows under the table
        for facility, part in table.groupby("facility", sort=False):
            ws.cell(row, 1, "合计").font = Font(name=font, bold=True)
            for j, col in enumerate(table.columns, 1):
                c = ws.cell(row, j)
                if col == "facility":
                    c.value = facility
                elif col in SUMMED:
                    c.value = float(part[col].sum())
                elif col == "coverage":
                    total = part["compounds"].sum()
                    c.value = round(100.0 * part["covered"].sum() / total, 1) if total else None
                elif col == "radius_m":
                    c.value = part["radius_m"].iloc[0]
                c.border = box
                c.font = Font(name=font, bold=True)
            row += 1
        for j, h in enumerate(headers, 1):
            width = max([len(h) * 2, *[len(str(v)) * 2 for v in table.iloc[:, j - 1].tolist()], 8])
            ws.column_dimensions[get_column_letter(j)].width = min(width + 2, 40)
        ws.freeze_panes = "A4"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_title_rows = "3:3"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def export_tables(engine: Engine, registry: Registry, path: Path, *, by: str = "street") -> list[Path]:
    """The latest gap results summed up: ``.xlsx`` holds both groupings (按街道, 按区县); ``.csv``
    holds ``by``. Returns the files written."""
    results = latest_results(engine)
    if not len(results):
        raise NotFoundError("no gap analysis has been run yet: gisplan gaps (or ws.gaps())")
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        tables = {"按街道": gap_table(results, registry, "street"), "按区县": gap_table(results, registry, "district")}
        write_xlsx(tables, path, title="公共服务设施缺口统计表")
    elif suffix == ".csv":
        write_csv(gap_table(results, registry, by), path)
    else:
        raise InvalidRequestError(f"--out {path.name}: use .xlsx or .csv")
    return [path]
