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
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet

from gis.programme.monthly import FUND_METRICS, Metric, MonthFigures
from gis.programme.xlsx_rows import Rows, merge
from gis.xlsx_style import CENTER, FORMATS, HEAD_FILL, LEFT, RIGHT, CellStyle

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
FINDING_SPANS = [
    ("序号", 1, 1),
    ("问题编号", 2, 2),
    ("项目（小区）", 3, 5),
    ("街道", 6, 7),
    ("问题类别", 8, 8),
    ("问题描述", 9, 13),
    ("责任单位", 14, 16),
    ("整改期限", 17, 18),
    ("逾期天数", 19, 10_000),
]
CHECK_SPANS = [
    ("序号", 1, 1),
    ("自查项", 2, 4),
    ("区县", 5, 5),
    ("街道", 6, 7),
    ("对象", 8, 10),
    ("说明", 11, 10_000),
]
FUND_BREACH_SPANS = [
    ("序号", 1, 1),
    ("规则", 2, 4),
    ("项目（小区）", 5, 7),
    ("街道", 8, 9),
    ("金额（万元）", 10, 10),
    ("限额（万元）", 11, 11),
    ("说明", 12, 18),
    ("规则依据", 19, 10_000),
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
    """The workbook, written row by row in openpyxl's write-only mode (:mod:`gis.programme.xlsx_rows`)."""
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet("统计月报")
    ncol = 2 + len(report.metrics)
    _layout(sheet, report.metrics)
    out = Rows(sheet)
    _heading(out, report, ncol)
    _column_headers(out, report.metrics)
    _street_rows(out, report)
    out.blank()
    overdue = "一、滞后项目（截至统计日未达到计划阶段）"
    _section(out, ncol, (overdue, OVERDUE_SPANS), report.overdue, _overdue_cells)
    out.blank()
    corrections = "二、更正事项（已上报月份的更正，上报后记录）"
    _section(out, ncol, (corrections, CORRECTION_SPANS), report.corrections, _correction_cells)
    out.blank()
    findings = "三、督查问题逾期未整改（截至统计日已过整改期限）"
    _section(out, ncol, (findings, FINDING_SPANS), report.findings, _finding_cells)
    out.blank()
    checks = "四、自查（数据自检：须核实的数字）"
    _section(out, ncol, (checks, CHECK_SPANS), report.self_check, _check_cells)
    out.blank()
    funds = "五、资金台账违规（跟踪审计规则，截至统计日）"
    _section(out, ncol, (funds, FUND_BREACH_SPANS), report.fund_breaches, _fund_breach_cells)
    out.blank()
    _notes_and_signatures(out, ncol, report.notes)
    _coverage_sheet(wb, report)
    wb.save(path)


def _heading(out: Rows, report: MonthFigures, ncol: int) -> None:
    """Title, then 填报单位, 填报日期 / 统计截至 / status and the unit on one line."""
    row = out.append([(report.title, TITLE)], height=30)
    merge(out.sheet, row, 1, row, ncol)
    status = "已上报" + ("（迟报）" if report.late else "") if report.locked else "未上报（草稿）"
    filed = report.submitted_at or report.generated_at
    line: list[Any] = [None] * ncol
    line[0] = (f"填报单位：{report.filer}", LINE)
    line[8] = (f"填报日期：{_day(filed)}    统计截至：{_day(report.as_of)}    {status}", LINE)
    line[ncol - 4] = (report.unit, UNIT)
    row = out.append(line)
    for a, b in ((1, 8), (9, ncol - 4), (ncol - 3, ncol)):
        merge(out.sheet, row, a, row, b)


def _column_headers(out: Rows, ms: list[Metric]) -> None:
    """Two header rows: district and street span both; each group is merged above its columns."""
    top: list[Any] = [("区县", HEAD), ("街道", HEAD)]
    sub: list[Any] = [(None, HEAD_BLANK), (None, HEAD_BLANK)]
    spans = []
    col = 3
    for group, members in _groups(ms):
        for k, m in enumerate(members):
            top.append((group, HEAD) if k == 0 else (None, HEAD_BLANK))
            sub.append((m.zh, HEAD))
        spans.append((col, col + len(members) - 1))
        col += len(members)
    out.append(top)
    out.append(sub, height=42)
    for c in (1, 2):
        merge(out.sheet, TOP, c, SUB, c)
    for a, b in spans:
        merge(out.sheet, TOP, a, TOP, b)


def _groups(ms: list[Metric]) -> list[tuple[str, list[Metric]]]:
    """Runs of neighbouring metrics under the same group header."""
    out: list[tuple[str, list[Metric]]] = []
    for m in ms:
        if out and out[-1][0] == m.group:
            out[-1][1].append(m)
        else:
            out.append((m.group, [m]))
    return out


def _street_rows(out: Rows, report: MonthFigures) -> None:
    """Streets grouped by district (the district merged down), subtotals, the total."""
    ms = report.metrics
    styles = {bold: [CellStyle(fmt=FORMATS[m.kind], bold=bold) for m in ms] for bold in (False, True)}
    district_start: dict[str, int] = {}
    row = out.row
    for kind, district, street, values in report.table():
        if kind == "street":
            district_start.setdefault(district, out.row)
            head: list[Any] = [(district, None), (street, None)]
        elif kind == "subtotal":
            head = [(district, None), ("小计", BOLD)]
        else:
            head = [("合计", BOLD), (None, None)]
        cells = [(_value(values.get(m.id), m), styles[kind != "street"][k]) for k, m in enumerate(ms)]
        row = out.append([*head, *cells], height=20)
        if kind == "subtotal":
            merge(out.sheet, district_start[district], 1, row, 1)
        elif kind == "total":
            merge(out.sheet, row, 1, row, 2)
    if len(report.by_district) <= 1 and district_start:  # one district: merge its name down the streets
        start = next(iter(district_start.values()))
        merge(out.sheet, start, 1, row - 1, 1)


def _value(v: Any, m: Metric) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        if m.id in FUND_METRICS:  # not gathered (a report without the funds ledger): blank, not 0
            return ""
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


def _finding_cells(i: int, r: dict[str, Any]) -> list[Any]:
    keys = ("finding_id", "name", "street", "category_zh", "what", "responsible_unit")
    return [i, *[r[k] for k in keys], _day(_as_date(r["deadline"])), int(r["days_overdue"])]


def _fund_breach_cells(i: int, r: dict[str, Any]) -> list[Any]:
    money = [round(float(r[k]), 2) if r[k] is not None else "" for k in ("amount", "limit")]
    return [i, r["rule_zh"], f"{r['name']}（{r['compound_id']}）", r["street"], *money, r["detail"], r["status"]]


def _check_cells(i: int, r: dict[str, Any]) -> list[Any]:
    return [i, *[r[k] for k in ("check_zh", "district", "street", "subject", "detail")]]


def _section(
    out: Rows,
    ncol: int,
    head: tuple[str, list[tuple[str, int, int]]],
    frame: pd.DataFrame,
    cells: Callable[[int, dict[str, Any]], list[Any]],
) -> None:
    """A titled list below the table (``head``: the title and the merged spans of its columns), one
    row per record of ``frame`` (values from ``cells``), or 无."""
    title, spans = head
    row = out.append([(title, SECTION)])
    merge(out.sheet, row, 1, row, ncol)
    spans = [(label, a, min(b, ncol)) for label, a, b in spans]
    last = spans[-1][2]
    widths = [out.sheet.column_dimensions[get_column_letter(c)].width or 8 for c in range(1, last + 1)]
    line: list[Any] = []
    for label, a, b in spans:
        line += [(label if c == a else None, HEAD) for c in range(a, b + 1)]
    row = out.append(line)
    for _label, a, b in spans:
        merge(out.sheet, row, a, row, b)
    records = [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")] if len(frame) else []
    if not records:
        row = out.append([("无", SHORT), *[(None, None)] * (last - 1)])
        merge(out.sheet, row, 1, row, last)
        return
    for i, r in enumerate(records, start=1):
        line, longest = [], 1
        for (_label, a, b), v in zip(spans, cells(i, r), strict=True):
            style = LONG if isinstance(v, str) and len(v) > 6 else SHORT
            line += [(v if c == a else None, style) for c in range(a, b + 1)]
            width = sum(widths[c - 1] for c in range(a, b + 1))
            longest = max(longest, math.ceil(len(str(v)) * 2 / max(width, 1)))
        row = out.append(line, height=16 * longest + 4)
        for _label, a, b in spans:
            merge(out.sheet, row, a, row, b)


def _notes_and_signatures(out: Rows, ncol: int, notes: list[str]) -> None:
    for note in ["注：" + notes[0], *notes[1:]] if notes else []:
        row = out.append([(note, NOTE)])
        merge(out.sheet, row, 1, row, ncol)
    out.blank()
    line: list[Any] = [None] * 17
    spans = (("填表人：", 1, 5), ("审核人：", 6, 11), ("联系电话：", 12, 17))
    for label, first, _last in spans:
        line[first - 1] = (label, LINE)
    row = out.append(line)
    for _label, first, last in spans:
        merge(out.sheet, row, first, row, last)


def _layout(sheet: WriteOnlyWorksheet, ms: list[Metric]) -> None:
    """Widths, frozen headers and the print set-up (A4 landscape, one page wide, page numbers),
    before the first row is written."""
    sheet.column_dimensions["A"].width = 9
    sheet.column_dimensions["B"].width = 13
    for k, m in enumerate(ms):
        sheet.column_dimensions[get_column_letter(3 + k)].width = 11 if m.kind in ("area", "money") else 7.5
    sheet.freeze_panes = f"C{SUB + 1}"
    sheet.print_title_rows = f"{TOP}:{SUB}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
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
    for k, (_id, _label, width) in enumerate(COVERAGE_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(k)].width = width
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    out = Rows(sheet)
    title = f"{report.area}改造小区物业管理覆盖情况（{report.year}年度项目）"
    row = out.append([(title, CellStyle(bold=True, size=14, border=False))], height=26)
    merge(sheet, row, 1, row, n)
    row = out.append([("改造后为计划方式；未填者按改造前计", NOTE)])
    merge(sheet, row, 1, row, n)
    out.append([(label, HEAD) for _id, label, _w in COVERAGE_COLUMNS], height=30)
    share = CellStyle(fmt="0.0")
    records = report.coverage.to_dict("records") if len(report.coverage) else []
    for r in records:
        line: list[Any] = []
        for cid, _label, _w in COVERAGE_COLUMNS:
            v = r.get(cid)
            if "share" in cid:
                line.append((round(100 * float(v or 0), 1), share))
            else:
                line.append((v if v is not None else "", None))
        out.append(line)
