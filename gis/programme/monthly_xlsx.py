"""The 统计月报 as the XLSX a district housing bureau files: title, unit line, 填报单位/日期, a two-row
header with merged groups, one row per street grouped by district, 小计 and 合计, then the overdue
projects, the corrections after lock and the signature line; landscape, fitted to the page width."""

from __future__ import annotations

import math
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.merge import MergedCellRange
from openpyxl.worksheet.worksheet import Worksheet

if TYPE_CHECKING:
    from gis.programme.monthly import Metric, MonthReport

FONT = "宋体"  # SimSun; LibreOffice falls back to an installed CJK font (WenQuanYi) where it is missing
THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
RIGHT = Alignment(horizontal="right", vertical="center")
HEAD_FILL = PatternFill("solid", fgColor="F2F2F2")
FORMATS = {"count": "0", "area": "0.00", "money": "0.00", "rate": "0.0", "days": "0"}


@cache
def _font(size: float = 10, bold: bool = False) -> Font:
    return Font(name=FONT, size=size, bold=bold)


def _cell(
    ws: Worksheet,
    row: int,
    col: int,
    value: Any,
    *,
    fmt: str | None = None,
    bold: bool = False,
    align: Alignment = CENTER,
    border: bool = True,
    size: float = 10,
    fill: PatternFill | None = None,
) -> None:
    c = ws.cell(row=row, column=col, value=value)
    c.font = _font(size, bold)
    c.alignment = align
    if border:
        c.border = BORDER
    if fmt:
        c.number_format = fmt
    if fill:
        c.fill = fill


def _merge(ws: Worksheet, r1: int, c1: int, r2: int, c2: int) -> None:
    """``ws.merge_cells`` without its check against every existing merge (quadratic for a long list of
    overdue projects); the ranges merged here never overlap."""
    if (r1, c1) != (r2, c2):
        # every cell of the range was written with its border already, so no MergedCell is needed
        ws.merged_cells.ranges.add(MergedCellRange(ws, f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r2}"))


def _value(v: Any, m: Metric) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—" if m.kind == "rate" else 0
    return round(float(v), 2) if m.kind in ("area", "money", "rate") else int(v)


def _day(d: date | datetime | None) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d else ""


def write_xlsx(report: MonthReport, path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "统计月报"
    ms = report.metrics
    ncol = 2 + len(ms)

    # title, unit, filer and date
    _cell(ws, 1, 1, report.title, bold=True, size=16, border=False)
    _merge(ws, 1, 1, 1, ncol)
    ws.row_dimensions[1].height = 30
    status = "已上报" + ("（迟报）" if report.late else "") if report.locked else "未上报（草稿）"
    _cell(ws, 2, 1, f"填报单位：{report.filer}", align=LEFT, border=False)
    _merge(ws, 2, 1, 2, 8)
    filed = report.submitted_at or report.generated_at
    _cell(ws, 2, 9, f"填报日期：{_day(filed)}    统计截至：{_day(report.as_of)}    {status}", align=LEFT, border=False)
    _merge(ws, 2, 9, 2, ncol - 4)
    _cell(ws, 2, ncol - 3, report.unit, align=RIGHT, border=False)
    _merge(ws, 2, ncol - 3, 2, ncol)

    # two header rows: district, street span both; groups merged above their columns
    top, sub = 3, 4
    for col, label in ((1, "区县"), (2, "街道")):
        _cell(ws, top, col, label, bold=True, fill=HEAD_FILL)
        _cell(ws, sub, col, None, fill=HEAD_FILL)
        _merge(ws, top, col, sub, col)
    col = 3
    i = 0
    while i < len(ms):
        group = ms[i].group
        j = i
        while j + 1 < len(ms) and ms[j + 1].group == group:
            j += 1
        _cell(ws, top, col, group, bold=True, fill=HEAD_FILL)
        for k in range(i, j + 1):
            if k > i:
                _cell(ws, top, col + k - i, None, fill=HEAD_FILL)
            _cell(ws, sub, col + k - i, ms[k].zh, bold=True, fill=HEAD_FILL)
        _merge(ws, top, col, top, col + j - i)
        col += j - i + 1
        i = j + 1
    ws.row_dimensions[sub].height = 42

    # data: streets grouped by district (district merged down), subtotals, total
    row = sub + 1
    first_data = row
    district_start: dict[str, int] = {}
    for kind, district, street, values in report.table():
        bold = kind != "street"
        if kind == "street":
            district_start.setdefault(district, row)
            _cell(ws, row, 1, district)
            _cell(ws, row, 2, street)
        elif kind == "subtotal":
            _cell(ws, row, 1, district)
            _cell(ws, row, 2, "小计", bold=True)
            _merge(ws, district_start[district], 1, row, 1)
        else:
            _cell(ws, row, 1, "合计", bold=True)
            _cell(ws, row, 2, None)
            _merge(ws, row, 1, row, 2)
        for k, m in enumerate(ms):
            _cell(ws, row, 3 + k, _value(values.get(m.id), m), fmt=FORMATS[m.kind], bold=bold)
        row += 1
    if len(report.by_district) <= 1 and district_start:  # one district: merge its name down the streets
        d, start = next(iter(district_start.items()))
        _merge(ws, start, 1, row - 2, 1)
        del d
    last_data = row - 1

    # sections below the table
    row += 1
    row = _section(ws, row, ncol, "一、滞后项目（截至统计日未达到计划阶段）", report.overdue, [
        ("序号", 1, 1), ("项目（小区）", 2, 4), ("区县", 5, 5), ("街道", 6, 7), ("当前阶段", 8, 9),
        ("应完成阶段", 10, 11), ("应完成日期", 12, 13), ("滞后天数", 14, 14)],
        lambda i, r: [i, f"{r['name']}（{r['compound_id']}）", r["district"], r["street"], r["stage_zh"],
                      r["due_stage_zh"] or "", _day(_as_date(r["due_date"])), int(r["days_behind"])])  # fmt: skip
    row += 1
    row = _section(ws, row, ncol, "二、更正事项（已上报月份的更正，上报后记录）", report.corrections, [
        ("序号", 1, 1), ("项目（小区）", 2, 4), ("街道", 5, 6), ("更正内容", 7, 12), ("所属月份", 13, 13),
        ("更正原因", 14, 17), ("更正人", 18, 19), ("更正时间", 20, ncol)],
        lambda i, r: [i, r["name"], r["street"], r["change"], r["corrects_month"], r["reason"], r["actor"],
                      r["at"]])  # fmt: skip
    row += 1
    for note in ["注：" + report.notes[0], *report.notes[1:]] if report.notes else []:
        _cell(ws, row, 1, note, align=LEFT, border=False, size=9)
        _merge(ws, row, 1, row, ncol)
        row += 1
    row += 1
    _cell(ws, row, 1, "填表人：", align=LEFT, border=False)
    _merge(ws, row, 1, row, 5)
    _cell(ws, row, 6, "审核人：", align=LEFT, border=False)
    _merge(ws, row, 6, row, 11)
    _cell(ws, row, 12, "联系电话：", align=LEFT, border=False)
    _merge(ws, row, 12, row, 17)

    # widths, freeze, print set-up
    ws.column_dimensions["A"].width = 9
    ws.column_dimensions["B"].width = 13
    for k, m in enumerate(ms):
        ws.column_dimensions[get_column_letter(3 + k)].width = 11 if m.kind in ("area", "money") else 7.5
    for r in range(first_data, last_data + 1):
        ws.row_dimensions[r].height = 20
    ws.freeze_panes = ws.cell(row=first_data, column=3)
    ws.print_title_rows = f"{top}:{sub}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"

    _coverage_sheet(wb, report)
    wb.save(path)


def _as_date(v: Any) -> date | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    return date.fromisoformat(str(v)[:10])


def _section(ws: Worksheet, row: int, ncol: int, title: str, frame: Any, spans: list[tuple[str, int, int]],
             values: Any) -> int:  # fmt: skip
    _cell(ws, row, 1, title, bold=True, align=LEFT, border=False, size=11)
    _merge(ws, row, 1, row, ncol)
    row += 1
    spans = [(label, a, min(b, ncol)) for label, a, b in spans]
    for label, a, b in spans:
        for c in range(a, b + 1):
            _cell(ws, row, c, label if c == a else None, bold=True, fill=HEAD_FILL)
        _merge(ws, row, a, row, b)
    row += 1
    records = frame.to_dict("records") if len(frame) else []
    if not records:
        _cell(ws, row, 1, "无", align=CENTER)
        for c in range(2, spans[-1][2] + 1):
            _cell(ws, row, c, None)
        _merge(ws, row, 1, row, spans[-1][2])
        return row + 1
    for i, r in enumerate(records, start=1):
        vals = values(i, r)
        longest = 1
        for (_label, a, b), v in zip(spans, vals, strict=True):
            for c in range(a, b + 1):
                _cell(ws, row, c, v if c == a else None, align=LEFT if isinstance(v, str) and len(v) > 6 else CENTER)
            _merge(ws, row, a, row, b)
            width = sum(ws.column_dimensions[get_column_letter(c)].width or 8 for c in range(a, b + 1))
            longest = max(longest, math.ceil(len(str(v)) * 2 / max(width, 1)))
        ws.row_dimensions[row].height = 16 * longest + 4
        row += 1
    return row


def _coverage_sheet(wb: Workbook, report: MonthReport) -> None:
    ws = wb.create_sheet("物业管理覆盖")
    cols = [("district", "区县", 9), ("street", "街道", 13), ("mode_zh", "物业管理方式", 13),
            ("compounds_before", "改造前小区（个）", 10), ("compound_share_before", "占比（%）", 8),
            ("households_before", "改造前户数（户）", 10), ("household_share_before", "占比（%）", 8),
            ("compounds_after", "改造后小区（个）", 10), ("compound_share_after", "占比（%）", 8),
            ("households_after", "改造后户数（户）", 10), ("household_share_after", "占比（%）", 8)]  # fmt: skip
    _cell(ws, 1, 1, f"{report.area}改造小区物业管理覆盖情况（{report.year}年度项目）", bold=True, size=14, border=False)
    _merge(ws, 1, 1, 1, len(cols))
    ws.row_dimensions[1].height = 26
    _cell(ws, 2, 1, "改造后为计划方式；未填者按改造前计", align=LEFT, border=False, size=9)
    _merge(ws, 2, 1, 2, len(cols))
    for k, (_id, label, width) in enumerate(cols, start=1):
        _cell(ws, 3, k, label, bold=True, fill=HEAD_FILL)
        ws.column_dimensions[get_column_letter(k)].width = width
    ws.row_dimensions[3].height = 30
    row = 4
    for r in report.coverage.to_dict("records") if len(report.coverage) else []:
        for k, (cid, _label, _w) in enumerate(cols, start=1):
            v = r.get(cid)
            if "share" in cid:
                _cell(ws, row, k, round(100 * float(v or 0), 1), fmt="0.0")
            else:
                _cell(ws, row, k, v if v is not None else "")
        row += 1
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
