"""The 统计月报 as the XLSX a district housing bureau files: title, unit line, 填报单位/日期, a two-row
header with merged groups, one row per street grouped by district, 小计 and 合计, then the overdue
projects, the corrections after lock and the signature line; landscape, fitted to the page width.
A second sheet holds the property management coverage. The look is :mod:`gis.xlsx_style`'s."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from gis.programme.monthly import Metric, MonthFigures
from gis.xlsx_style import CENTER, FORMATS, HEAD_FILL, LEFT, RIGHT, CellStyle, merge, put

TITLE = CellStyle(bold=True, size=16, border=False)
LINE = CellStyle(align=LEFT, border=False)
UNIT = CellStyle(align=RIGHT, border=False)
HEAD = CellStyle(bold=True, fill=HEAD_FILL)
HEAD_BLANK = CellStyle(fill=HEAD_FILL)
BOLD = CellStyle(bold=True)
SECTION = CellStyle(bold=True, align=LEFT, border=False, size=11)
NOTE = CellStyle(align=LEFT, border=False, size=9)
LONG = CellStyle(align=LEFT)  # a list cell holding a long text
SHORT = CellStyle(align=CENTER)

TOP, SUB = 3, 4  # the two header rows of the street table

# the sections below the table: (label, first column, last column) of each merged cell
OVERDUE_SPANS = [
    ("序号", 1, 1),
    ("项目（小区）", 2, 4),
    ("区县", 5, 5),
    ("街道", 6, 7),
    ("当前阶段", 8, 9),
    ("应完成阶段", 10, 11),
    ("应完成日期", 12, 13),
    ("滞后天数", 14, 14),
]
CORRECTION_SPANS = [
    ("序号", 1, 1),
    ("项目（小区）", 2, 4),
    ("街道", 5, 6),
    ("更正内容", 7, 12),
    ("所属月份", 13, 13),
    ("更正原因", 14, 17),
    ("更正人", 18, 19),
    ("更正时间", 20, 10_000),  # to the last column
]
COVERAGE_COLUMNS = [
    ("district", "区县", 9),
    ("street", "街道", 13),
    ("mode_zh", "物业管理方式", 13),
    ("compounds_before", "改造前小区（个）", 10),
    ("compound_share_before", "占比（%）", 8),
    ("households_before", "改造前户数（户）", 10),
    ("household_share_before", "占比（%）", 8),
    ("compounds_after", "改造后小区（个）", 10),
    ("compound_share_after", "占比（%）", 8),
    ("households_after", "改造后户数（户）", 10),
    ("household_share_after", "占比（%）", 8),
]


def write_xlsx(report: MonthFigures, path: Path) -> None:
    wb = Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet.title = "统计月报"
    ncol = 2 + len(report.metrics)
    _heading(sheet, report, ncol)
    _column_headers(sheet, report.metrics)
    last_data = _street_rows(sheet, report)
    row = last_data + 2
    overdue = "一、滞后项目（截至统计日未达到计划阶段）"
    row = _section(sheet, row, ncol, (overdue, OVERDUE_SPANS), report.overdue, _overdue_cells)
    corrections = "二、更正事项（已上报月份的更正，上报后记录）"
    row = _section(sheet, row + 1, ncol, (corrections, CORRECTION_SPANS), report.corrections, _correction_cells)
    _notes_and_signatures(sheet, row + 1, ncol, report.notes)
    _layout(sheet, report.metrics, SUB + 1, last_data)
    _coverage_sheet(wb, report)
    wb.save(path)


def _heading(sheet: Worksheet, report: MonthFigures, ncol: int) -> None:
    """Title, then 填报单位, 填报日期 / 统计截至 / status and the unit on one line."""
    put(sheet, 1, 1, report.title, style=TITLE)
    merge(sheet, 1, 1, 1, ncol)
    sheet.row_dimensions[1].height = 30
    status = "已上报" + ("（迟报）" if report.late else "") if report.locked else "未上报（草稿）"
    put(sheet, 2, 1, f"填报单位：{report.filer}", style=LINE)
    merge(sheet, 2, 1, 2, 8)
    filed = report.submitted_at or report.generated_at
    put(sheet, 2, 9, f"填报日期：{_day(filed)}    统计截至：{_day(report.as_of)}    {status}", style=LINE)
    merge(sheet, 2, 9, 2, ncol - 4)
    put(sheet, 2, ncol - 3, report.unit, style=UNIT)
    merge(sheet, 2, ncol - 3, 2, ncol)


def _column_headers(sheet: Worksheet, ms: list[Metric]) -> None:
    """Two header rows: district and street span both; each group is merged above its columns."""
    for col, label in ((1, "区县"), (2, "街道")):
        put(sheet, TOP, col, label, style=HEAD)
        put(sheet, SUB, col, None, style=HEAD_BLANK)
        merge(sheet, TOP, col, SUB, col)
    col = 3
    for group, members in _groups(ms):
        put(sheet, TOP, col, group, style=HEAD)
        for k, m in enumerate(members):
            if k:
                put(sheet, TOP, col + k, None, style=HEAD_BLANK)
            put(sheet, SUB, col + k, m.zh, style=HEAD)
        merge(sheet, TOP, col, TOP, col + len(members) - 1)
        col += len(members)
    sheet.row_dimensions[SUB].height = 42


def _groups(ms: list[Metric]) -> list[tuple[str, list[Metric]]]:
    """Runs of neighbouring metrics under the same group header."""
    out: list[tuple[str, list[Metric]]] = []
    for m in ms:
        if out and out[-1][0] == m.group:
            out[-1][1].append(m)
        else:
            out.append((m.group, [m]))
    return out


def _street_rows(sheet: Worksheet, report: MonthFigures) -> int:
    """Streets grouped by district (the district merged down), subtotals, the total; the last row."""
    ms = report.metrics
    styles = {bold: [CellStyle(fmt=FORMATS[m.kind], bold=bold) for m in ms] for bold in (False, True)}
    row = SUB + 1
    district_start: dict[str, int] = {}
    for kind, district, street, values in report.table():
        if kind == "street":
            district_start.setdefault(district, row)
            put(sheet, row, 1, district)
            put(sheet, row, 2, street)
        elif kind == "subtotal":
            put(sheet, row, 1, district)
            put(sheet, row, 2, "小计", style=BOLD)
            merge(sheet, district_start[district], 1, row, 1)
        else:
            put(sheet, row, 1, "合计", style=BOLD)
            put(sheet, row, 2, None)
            merge(sheet, row, 1, row, 2)
        for k, m in enumerate(ms):
            put(sheet, row, 3 + k, _value(values.get(m.id), m), style=styles[kind != "street"][k])
        row += 1
    if len(report.by_district) <= 1 and district_start:  # one district: merge its name down the streets
        start = next(iter(district_start.values()))
        merge(sheet, start, 1, row - 2, 1)
    return row - 1


def _value(v: Any, m: Metric) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—" if m.kind == "rate" else 0
    return round(float(v), 2) if m.kind in ("area", "money", "rate") else int(v)


def _day(d: date | datetime | None) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d else ""


def _as_date(v: Any) -> date | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    return date.fromisoformat(str(v)[:10])


def _overdue_cells(i: int, r: dict[str, Any]) -> list[Any]:
    return [
        i,
        f"{r['name']}（{r['compound_id']}）",
        r["district"],
        r["street"],
        r["stage_zh"],
        r["due_stage_zh"] or "",
        _day(_as_date(r["due_date"])),
        int(r["days_behind"]),
    ]


def _correction_cells(i: int, r: dict[str, Any]) -> list[Any]:
    keys = ("name", "street", "change", "corrects_month", "reason", "actor", "at")
    return [i, *[r[k] for k in keys]]


def _section(
    sheet: Worksheet,
    row: int,
    ncol: int,
    head: tuple[str, list[tuple[str, int, int]]],
    frame: pd.DataFrame,
    cells: Callable[[int, dict[str, Any]], list[Any]],
) -> int:
    """A titled list below the table (``head``: the title and the merged spans of its columns), one
    row per record of ``frame`` (values from ``cells``), or 无; returns the next free row."""
    title, spans = head
    put(sheet, row, 1, title, style=SECTION)
    merge(sheet, row, 1, row, ncol)
    row += 1
    spans = [(label, a, min(b, ncol)) for label, a, b in spans]
    for label, a, b in spans:
        for c in range(a, b + 1):
            put(sheet, row, c, label if c == a else None, style=HEAD)
        merge(sheet, row, a, row, b)
    row += 1
    records = [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")] if len(frame) else []
    if not records:
        put(sheet, row, 1, "无", style=SHORT)
        for c in range(2, spans[-1][2] + 1):
            put(sheet, row, c, None)
        merge(sheet, row, 1, row, spans[-1][2])
        return row + 1
    for i, r in enumerate(records, start=1):
        longest = 1
        for (_label, a, b), v in zip(spans, cells(i, r), strict=True):
            style = LONG if isinstance(v, str) and len(v) > 6 else SHORT
            for c in range(a, b + 1):
                put(sheet, row, c, v if c == a else None, style=style)
            merge(sheet, row, a, row, b)
            width = sum(sheet.column_dimensions[get_column_letter(c)].width or 8 for c in range(a, b + 1))
            longest = max(longest, math.ceil(len(str(v)) * 2 / max(width, 1)))
        sheet.row_dimensions[row].height = 16 * longest + 4
        row += 1
    return row


def _notes_and_signatures(sheet: Worksheet, row: int, ncol: int, notes: list[str]) -> None:
    for note in ["注：" + notes[0], *notes[1:]] if notes else []:
        put(sheet, row, 1, note, style=NOTE)
        merge(sheet, row, 1, row, ncol)
        row += 1
    row += 1
    for label, first, last in (("填表人：", 1, 5), ("审核人：", 6, 11), ("联系电话：", 12, 17)):
        put(sheet, row, first, label, style=LINE)
        merge(sheet, row, first, row, last)


def _layout(sheet: Worksheet, ms: list[Metric], first_data: int, last_data: int) -> None:
    """Widths, frozen headers and the print set-up: A4 landscape, one page wide, page numbers."""
    sheet.column_dimensions["A"].width = 9
    sheet.column_dimensions["B"].width = 13
    for k, m in enumerate(ms):
        sheet.column_dimensions[get_column_letter(3 + k)].width = 11 if m.kind in ("area", "money") else 7.5
    for r in range(first_data, last_data + 1):
        sheet.row_dimensions[r].height = 20
    sheet.freeze_panes = sheet.cell(row=first_data, column=3)
    sheet.print_title_rows = f"{TOP}:{SUB}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.page_margins.top = sheet.page_margins.bottom = 0.5
    sheet.oddFooter.center.text = "第 &P 页，共 &N 页"


def _coverage_sheet(wb: Workbook, report: MonthFigures) -> None:
    sheet = wb.create_sheet("物业管理覆盖")
    n = len(COVERAGE_COLUMNS)
    title = f"{report.area}改造小区物业管理覆盖情况（{report.year}年度项目）"
    put(sheet, 1, 1, title, style=CellStyle(bold=True, size=14, border=False))
    merge(sheet, 1, 1, 1, n)
    sheet.row_dimensions[1].height = 26
    put(sheet, 2, 1, "改造后为计划方式；未填者按改造前计", style=NOTE)
    merge(sheet, 2, 1, 2, n)
    for k, (_id, label, width) in enumerate(COVERAGE_COLUMNS, start=1):
        put(sheet, 3, k, label, style=HEAD)
        sheet.column_dimensions[get_column_letter(k)].width = width
    sheet.row_dimensions[3].height = 30
    share = CellStyle(fmt="0.0")
    records = report.coverage.to_dict("records") if len(report.coverage) else []
    for row, r in enumerate(records, start=4):
        for k, (cid, _label, _w) in enumerate(COVERAGE_COLUMNS, start=1):
            v = r.get(cid)
            if "share" in cid:
                put(sheet, row, k, round(100 * float(v or 0), 1), style=share)
            else:
                put(sheet, row, k, v if v is not None else "")
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
