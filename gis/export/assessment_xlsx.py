"""The quarter's ranking table (季度考核得分排名) as the XLSX a bureau files: title, the 统计截至 and status
line, a two-row header (each item's 指标值 and 得分 under its label and weight), one row per street
in rank order, then the notes (each item's rule, its status and source, what 未计分 does to the total).
Every value goes through :func:`gis.xlsx_style.put` (text a literal string, never a formula)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from gis.assessment.figures import SOURCE_ZH, Quarter
from gis.assessment.scheme import Scheme
from gis.assessment.scoring import QuarterScores
from gis.standards import status_label
from gis.xlsx_style import HEAD_FILL, LEFT, PINK_FILL, CellStyle, merge, put

TITLE = "{area}街道城镇老旧小区改造工作季度考核得分排名（{year}年第{number}季度）"
TITLE_STYLE = CellStyle(bold=True, size=16, border=False)
LINE = CellStyle(align=LEFT, border=False)
HEAD = CellStyle(bold=True, fill=HEAD_FILL)
NOTE = CellStyle(align=LEFT, border=False, size=9)
RATE = CellStyle(fmt="0.0%")
POINTS = CellStyle(fmt="0.00")
TOTAL = CellStyle(fmt="0.00", bold=True)
UNSCORED = CellStyle(fill=PINK_FILL, size=9)
NOT_SCORED = "未计分"
DISTRICT_NOTE = (
    "月报按时率：统计月报由区（县）统一上报，每月一份，本区各街道取同一数值；"
    "应报月数为本季度已过上报截止日或已上报的月份。"
)


def _number(v: Any) -> float | None:
    return None if v is None else float(Decimal(str(v)))


def title_of(scores: QuarterScores) -> str:
    q = Quarter.parse(scores.quarter)
    names = sorted({str(d) for d in scores.totals["district"] if d is not None and d == d})
    return TITLE.format(area="、".join(names), year=q.year, number=q.number)


def notes(scores: QuarterScores, rules: Scheme) -> list[str]:
    """The notes under the table: the status, the rules, what is missing and why."""
    out = []
    if scores.published:
        out.append(f"本表为{scores.published_at:%Y年%m月%d日}发布的考核结果（发布人：{scores.published_by}），已锁定。")
    else:
        out.append(f"本表为{scores.computed_at:%Y年%m月%d日 %H:%M}按系统数据计算的结果，尚未发布，数据变化后会改变。")
    out.append(
        f"考核依据：{rules.source.id}（{status_label(rules.source.status)}）；各项权重与计分规则为本地规则，须以本地考核办法为准。"
    )
    out.append(rules.missing_text())
    for n, item in enumerate(rules.items, 1):
        out.append(f"{n}. {item.rule_text()}（{status_label(item.status)}）。依据：{item.source}")
    out.append(DISTRICT_NOTE)
    if scores.missing:
        out.append(
            "未接入的数据来源："
            + "、".join(SOURCE_ZH.get(m, m) for m in scores.missing)
            + "，相应指标未计分（不是零分）。"
        )
    return out


def write_ranking(scores: QuarterScores, rules: Scheme, path: Path) -> Path:
    """Write the ranking table of ``scores`` to ``path`` (XLSX); returns it."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "考核得分排名"
    items = rules.items
    last = 3 + 2 * len(items) + 2
    put(sheet, 1, 1, title_of(scores), style=TITLE_STYLE)
    merge(sheet, 1, 1, 1, last)
    status = "已发布" if scores.published else "未发布（计算结果）"
    put(
        sheet,
        2,
        1,
        f"统计截至：{scores.last_day:%Y年%m月%d日}　　状态：{status}　　满分：{rules.total_points:g}分",
        style=LINE,
    )
    merge(sheet, 2, 1, 2, last)
    top, sub = 3, 4
    for c, label in enumerate(("排名", "区县", "街道"), 1):
        put(sheet, top, c, label, style=HEAD)
        put(sheet, sub, c, None, style=HEAD)
        merge(sheet, top, c, sub, c)
    for n, item in enumerate(items):
        c = 4 + 2 * n
        put(sheet, top, c, f"{item.zh}（{item.weight:g}分）", style=HEAD)
        put(sheet, top, c + 1, None, style=HEAD)
        merge(sheet, top, c, top, c + 1)
        put(sheet, sub, c, "依据" if item.kind == "manual" else "指标值", style=HEAD)
        put(sheet, sub, c + 1, "得分", style=HEAD)
    for c, label in ((last - 1, "已计分分值"), (last, "总分")):
        put(sheet, top, c, label, style=HEAD)
        put(sheet, sub, c, None, style=HEAD)
        merge(sheet, top, c, sub, c)
    by_street = {(r["district"], r["street"], r["item"]): r for r in scores.items.to_dict("records")}
    row = sub + 1
    for t in scores.ranking().to_dict("records"):
        put(sheet, row, 1, t["rank"] if t["rank"] is not None else "—")
        put(sheet, row, 2, t["district"])
        put(sheet, row, 3, t["street"])
        for n, item in enumerate(items):
            c = 4 + 2 * n
            r = by_street.get((t["district"], t["street"], item.id))
            _item_cells(sheet, row, c, r, manual=item.kind == "manual")
        put(sheet, row, last - 1, _number(t["weight_scored"]), style=POINTS)
        put(sheet, row, last, _number(t["total"]) if t["total"] is not None else NOT_SCORED, style=TOTAL)
        row += 1
    row += 1
    put(sheet, row, 1, "说明：", style=NOTE)
    for line in notes(scores, rules):
        row += 1
        put(sheet, row, 1, line, style=NOTE)
        merge(sheet, row, 1, row, last)
    widths = {1: 6, 2: 10, 3: 14}
    for c in range(1, last + 1):
        sheet.column_dimensions[get_column_letter(c)].width = widths.get(c, 10)
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.freeze_panes = "D5"
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _item_cells(sheet: Any, row: int, c: int, r: Mapping[Any, Any] | None, *, manual: bool) -> None:
    if r is None or not r["scored"]:
        reason = (r or {}).get("reason") or NOT_SCORED
        put(sheet, row, c, reason.split(" / ")[0], style=UNSCORED)
        put(sheet, row, c + 1, NOT_SCORED, style=UNSCORED)
        return
    if manual:
        cited = "、".join(f"#{e}" for e in r["evidence"])
        put(sheet, row, c, f"{r['note']}（资料 {cited}）", style=CellStyle(align=LEFT, size=9))
    elif r["value"] is None:
        put(sheet, row, c, "无应考核对象")
    else:
        put(sheet, row, c, _number(r["value"]), style=RATE)
    put(sheet, row, c + 1, _number(r["points"]), style=POINTS)
