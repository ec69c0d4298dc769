"""The auditor's pack (跟踪审计资料): an XLSX per project or per street — the whole chain of each project's
ledger, every change with its approval (who, when) or its absence flagged, payments by fund source against
the plan and the funds received, the breaches with their rule and the rule's status, the rules, and the
evidence each entry cites (item id, file name, the API path of its file).

Every value goes through :func:`gis.xlsx_style.put` (text as a literal string, never a formula:
``=HYPERLINK(...)`` in a reason stays that text).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from gis.funds.rules import KINDS, SINGLE
from gis.funds.service import Ledger, Pack
from gis.standards import status_marker
from gis.xlsx_style import LEFT, PINK_FILL, CellStyle, merge, put

HEAD = CellStyle(bold=True, fill=PINK_FILL)
TITLE = CellStyle(bold=True, size=14, border=False)
NOTE = CellStyle(align=LEFT, border=False, size=9)
FLAG = CellStyle(align=LEFT, fill=PINK_FILL)
MONEY = CellStyle(fmt="0.00")
TEXT = CellStyle(align=LEFT)
SYNTHETIC = "本表含合成（演示）数据：标有 synthetic 的记录不是真实台账。"

SUMMARY = [
    ("小区", 18),
    ("街道", 12),
    *[(KINDS[k][0], 11) for k in SINGLE[:4]],
    ("已批准变更", 11),
    ("未批准变更", 11),
    ("合同价+已批准变更", 12),
    ("资金到位", 11),
    ("拨付", 11),
    *[(KINDS[k][0], 11) for k in SINGLE[4:]],
    ("违规（条）", 9),
]
ENTRIES = [
    ("编号", 7),
    ("小区", 16),
    ("类别", 11),
    ("业务日期", 11),
    ("金额（万元）", 11),
    ("资金来源", 10),
    ("原因", 24),
    ("批准", 22),
    ("文号", 18),
    ("更正", 12),
    ("有效", 6),
    ("记录人", 10),
    ("记录时间", 17),
    ("佐证资料", 30),
    ("synthetic", 12),
]
CHANGES = [("编号", 7), ("小区", 16), ("日期", 11), ("金额（万元）", 11), ("原因", 28)]
CHANGES += [("批准人", 14), ("批准日期", 11), ("状态", 18), ("佐证资料", 28)]
SOURCES = [("小区", 16), ("资金来源", 12), ("计划（万元）", 12), ("到位（万元）", 12), ("拨付（万元）", 12)]
SOURCES += [("拨付－计划", 12), ("拨付－到位", 12)]
BREACHES = [("规则", 26), ("规则编号", 24), ("依据状态", 11), ("小区", 16), ("台账编号", 9), ("类别", 10)]
BREACHES += [("日期", 11), ("金额（万元）", 11), ("限额（万元）", 11), ("超出（万元）", 11), ("说明", 44)]
RULES = [("规则编号", 26), ("规则", 30), ("比例", 8), ("依据状态", 11), ("依据", 80)]
EVIDENCE = [("资料编号", 9), ("小区", 16), ("文件名", 30), ("类别", 10), ("已撤回", 8), ("文件地址（API）", 34)]


def write_pack(pack: Pack, path: Path) -> Path:
    """Write the pack to ``path`` (.xlsx); returns it."""
    if path.suffix.lower() != ".xlsx":
        raise ValueError(f"{path.name}: the auditor's pack is written as .xlsx")
    path.parent.mkdir(parents=True, exist_ok=True)
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "汇总"
    synthetic = any(e.get("synthetic") for led in pack.ledgers for e in led.entries.to_dict("records"))
    _summary(first, pack, synthetic)
    _table(book.create_sheet("台账"), ENTRIES, [r for led in pack.ledgers for r in _entry_rows(led)])
    _table(book.create_sheet("变更"), CHANGES, [r for led in pack.ledgers for r in _change_rows(led)])
    _table(book.create_sheet("分来源"), SOURCES, [r for led in pack.ledgers for r in _source_rows(led)])
    _table(book.create_sheet("违规"), BREACHES, [r for led in pack.ledgers for r in _breach_rows(led)])
    rules = [
        [
            (r["id"], TEXT),
            (r["zh"], TEXT),
            (float(r["share"]), CellStyle(fmt="0%")),
            (r["status"], None),
            (r["source"], TEXT),
        ]
        for r in pack.rules.to_dict("records")
    ]
    _table(book.create_sheet("规则"), RULES, rules)
    _table(book.create_sheet("资料"), EVIDENCE, [r for led in pack.ledgers for r in _evidence_rows(led)])
    book.save(path)
    return path


def _name(led: Ledger) -> str:
    p = led.project
    return f"{p['name'] or '小区'}（{p['compound_id']}）"


def _money(v: Any) -> tuple[Any, CellStyle]:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ("", MONEY)
    return (float(Decimal(str(v))), MONEY)


def _day(v: Any) -> str:
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, date):
        return v.isoformat()
    return ""


def _summary(sheet: Worksheet, pack: Pack, synthetic: bool) -> None:
    put(sheet, 1, 1, pack.title, style=TITLE)
    merge(sheet, 1, 1, 1, len(SUMMARY))
    put(
        sheet,
        2,
        1,
        f"截至 {pack.on.isoformat()}；单位：万元；规则见“规则”表（layers/programme/funds.yaml）",
        style=NOTE,
    )
    merge(sheet, 2, 1, 2, len(SUMMARY))
    row = 3
    if synthetic:
        put(sheet, row, 1, SYNTHETIC, style=CellStyle(align=LEFT, border=False, bold=True, color="B2182B"))
        merge(sheet, row, 1, row, len(SUMMARY))
        row += 1
    rows = []
    for led in pack.ledgers:
        t = led.totals
        values: list[Any] = [(_name(led), TEXT), (led.project["street"] or "", TEXT)]
        values += [_money(t[k]) for k in SINGLE[:4]]
        values += [_money(t[k]) for k in ("changes_approved", "changes_unapproved", "contract_with_changes")]
        values += [_money(t["received"]), _money(t["paid"]), *[_money(t[k]) for k in SINGLE[4:]]]
        values.append((len(led.breaches), FLAG if len(led.breaches) else None))
        rows.append(values)
    _table(sheet, SUMMARY, rows, start=row)


def _cited(led: Ledger, ids: Sequence[int] | None) -> str:
    names = {int(r["id"]): r.get("filename") for r in led.evidence.to_dict("records")} if len(led.evidence) else {}
    return "；".join(f"#{int(i)} {names.get(int(i)) or ''} /api/evidence/{int(i)}/file".strip() for i in ids or [])


def _approval(r: dict[Any, Any]) -> str:
    if r["kind"] != "change":
        return ""
    if _given(r.get("approved_by")):
        return f"{r['approved_by']} {_day(r['approved_on'])}"
    return "未批准 not approved"


def _entry_rows(led: Ledger) -> list[list[Any]]:
    out = []
    for r in led.entries.to_dict("records"):
        fix = f"更正 #{int(r['supersedes'])}" if r.get("supersedes") and not _nan(r["supersedes"]) else ""
        if r.get("superseded_by") is not None and not _nan(r["superseded_by"]):
            fix = (fix + f" 被 #{int(r['superseded_by'])} 更正").strip()
        unapproved = r["kind"] == "change" and not _given(r.get("approved_by"))
        out.append(
            [
                (int(r["id"]), None),
                (_name(led), TEXT),
                (r["kind_zh"], None),
                (_day(r["on_date"]), None),
                _money(r["amount"]),
                (r.get("source") or "", None),
                (r.get("reason") or "", TEXT),
                (_approval(r), FLAG if unapproved else TEXT),
                (r.get("document") or "", TEXT),
                (fix, TEXT),
                ("是" if r["standing"] else "否", None),
                (r["actor"], TEXT),
                (_day(r["recorded_at"]), None),
                (_cited(led, r["evidence"]), TEXT),
                (r.get("synthetic") or "", TEXT),
            ]
        )
    return out


def _given(v: Any) -> bool:
    """A value is there: neither None, nor NaN, nor empty text."""
    return not _nan(v) and bool(v)


def _nan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _change_rows(led: Ledger) -> list[list[Any]]:
    flagged = {int(b["entry_id"]) for b in led.breaches.to_dict("records") if b["rule"] == "change_needs_approval"}
    out = []
    changes = led.entries[led.entries["kind"] == "change"]
    for r in changes.to_dict("records"):
        if not r["standing"]:
            status, style = "已被更正", TEXT
        elif _given(r.get("approved_by")):
            status, style = "已批准", TEXT
        elif int(r["id"]) in flagged:
            status, style = "未批准（超过比例，违规）", FLAG
        else:
            status, style = "未批准（未超过比例）", FLAG
        out.append(
            [
                (int(r["id"]), None),
                (_name(led), TEXT),
                (_day(r["on_date"]), None),
                _money(r["amount"]),
                (r.get("reason") or "", TEXT),
                (r["approved_by"] if _given(r.get("approved_by")) else "", TEXT),
                (_day(r.get("approved_on")), None),
                (status, style),
                (_cited(led, r["evidence"]), TEXT),
            ]
        )
    return out


def _source_rows(led: Ledger) -> list[list[Any]]:
    out = []
    for r in led.by_source.to_dict("records") if len(led.by_source) else []:
        planned = r["planned"]
        over_plan = None if planned is None else r["paid"] - planned
        over_received = r["paid"] - r["received"]
        out.append(
            [
                (_name(led), TEXT),
                (f"{r['zh']}（{r['source']}）", TEXT),
                _money(planned),
                _money(r["received"]),
                _money(r["paid"]),
                _money(over_plan),
                _money(over_received),
            ]
        )
    if not led.project["funding"]:
        out.append(
            [(_name(led), TEXT), ("计划未分资金来源（按计划总投资核对）", FLAG), _money(led.project["planned_total"])]
        )
    return out


def _breach_rows(led: Ledger) -> list[list[Any]]:
    return [
        [
            (b["rule_zh"], FLAG),
            (b["rule"], TEXT),
            (b["status"] + status_marker(b["status"]), None),
            (_name(led), TEXT),
            (b["entry_id"] if b["entry_id"] is not None else "", None),
            (KINDS.get(b["kind"] or "", ("",))[0], None),
            (_day(b["on_date"]), None),
            _money(b["amount"]),
            _money(b["limit"]),
            _money(b["excess"]),
            (b["detail"], TEXT),
        ]
        for b in led.breaches.to_dict("records")
    ]


def _evidence_rows(led: Ledger) -> list[list[Any]]:
    return [
        [
            (int(r["id"]), None),
            (_name(led), TEXT),
            (r.get("filename") or "", TEXT),
            (r.get("category") or "", None),
            ("是" if not _nan(r.get("withdrawn_at")) else "", None),
            (f"/api/evidence/{int(r['id'])}/file", TEXT),
        ]
        for r in led.evidence.to_dict("records")
    ]


def _table(sheet: Worksheet, columns: list[tuple[str, int]], rows: list[list[Any]], *, start: int = 1) -> None:
    """A header row at ``start`` and the rows below it (each cell a (value, style)), or 无."""
    for c, (label, width) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(c)].width = width
        put(sheet, start, c, label, style=HEAD)
    sheet.freeze_panes = f"A{start + 1}"
    if not rows:
        put(sheet, start + 1, 1, "无", style=TEXT)
        return
    for i, values in enumerate(rows, start=start + 1):
        for c, (value, style) in enumerate(values, start=1):
            put(sheet, i, c, value, style=style or CellStyle())
