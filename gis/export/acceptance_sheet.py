"""The printable 验收表 of one 综合验收 record: XLSX (the bureau's style) or A4 HTML, by the file's suffix.

Every value is escaped (HTML) or neutralised (XLSX, :func:`gis.xlsx_style.put`); an item whose rule is
not cited says so beside it (``unverified``: recalled, not sourced). The HTML shows the thumbnails of
the evidence each score cites, inline: it prints and opens with no network.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import openpyxl

from gis.evidence.acceptance import SheetInputs
from gis.standards import status_marker
from gis.xlsx_style import LEFT, PINK_FILL, CellStyle, merge, put

CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "SimSun", "WenQuanYi Micro Hei", serif; font-size: 10.5pt; max-width: 190mm; margin: 0 auto; }
h1 { font-size: 17pt; text-align: center; margin: 4px 0; letter-spacing: 2px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { border: 1px solid #555; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #f2dcdb; }
.bad { color: #b2182b; font-weight: bold; } .ok { color: #1a7837; font-weight: bold; }
.doubt { color: #8a5a00; font-size: 9pt; } img { height: 60px; margin: 2px; }
"""


def write_sheet(inputs: SheetInputs, path: Path) -> Path:
    """Write the 验收表 to ``path`` (``.xlsx`` or ``.html``); returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".xlsx":
        _xlsx(inputs, path)
    elif path.suffix.lower() in (".html", ".htm"):
        path.write_text(_html(inputs), encoding="utf-8")
    else:
        raise ValueError(f"{path.name}: write a .xlsx or a .html")
    return path


def _result(inputs: SheetInputs) -> str:
    r = inputs.record
    if r["passed"]:
        return "通过 passed"
    return "未通过 not passed" + (
        f"（强制项未达标：{'、'.join(inputs.label(i) for i in r['failed_mandatory'])}）"
        if r["failed_mandatory"]
        else ""
    )


def _heading(inputs: SheetInputs) -> list[tuple[str, str]]:
    r = inputs.record
    return [
        ("小区 Compound", f"{inputs.compound_name} ({r['compound_id']})"),
        ("街道 Street", inputs.street or ""),
        ("年度 Year", str(r["year"])),
        ("验收日期 Date", str(r["held_on"])),
        ("验收组 Team", "、".join(r["team"])),
        (
            "总分 Total",
            f"{float(r['total']):g} / {inputs.rules.total_points:g}（合格线 {inputs.rules.pass_score.value:g}）",
        ),
        ("结论 Result", _result(inputs)),
        ("复验 Re-inspects", f"#{r['reinspects']}" if r["reinspects"] else "—"),
        ("记录人 Recorded by", str(r["actor"])),
    ]


def _html(inputs: SheetInputs) -> str:
    e = html.escape
    r = inputs.record
    head = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _heading(inputs))
    scores = {s["item"]: s for s in r["scores"]}
    rows = []
    for section in inputs.rules.sections:
        for item in section.items:
            s = scores[item.id]
            mark = status_marker(item.status)
            low = item.mandatory and float(s["score"]) < item.points * inputs.rules.mandatory_min_share.value
            photos = "".join(
                f'<img alt="#{int(i)}" src="data:image/jpeg;base64,{_b64(inputs.thumbnails[int(i)])}">'
                for i in s["evidence"]
                if int(i) in inputs.thumbnails
            )
            cited = "、".join(f"#{int(i)}" for i in s["evidence"])
            rows.append(
                f"<tr><td>{e(section.zh)}</td><td>{e(item.zh)}<span class='doubt'>{e(mark)}</span></td>"
                f"<td>{'是' if item.mandatory else ''}</td><td>{item.points:g}</td>"
                f"<td class='{'bad' if low else ''}'>{float(s['score']):g}</td><td>{e(s['note'] or '')}</td>"
                f"<td>{e(cited)}{photos}</td></tr>"
            )
    findings = "".join(f"<li>{e(f)}</li>" for f in r["findings"]) or "<li>无</li>"
    verdict = "ok" if r["passed"] else "bad"
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>综合验收表 {e(inputs.compound_name)}</title><style>{CSS}</style></head><body>"
        f"<h1>老旧小区改造综合验收表</h1><table>{head}</table>"
        f"<p class='{verdict}'>{e(_result(inputs))}</p>"
        "<table><tr><th>类别</th><th>验收内容</th><th>强制项</th><th>分值</th><th>得分</th><th>说明</th><th>佐证资料</th></tr>"
        f"{''.join(rows)}</table><h2>整改事项 To rectify</h2><ul>{findings}</ul>"
        f"<p class='doubt'>{e(inputs.rules.source.id)}：{e(inputs.rules.source.note)}；合格线与强制项下限为本地规则"
        "（local_rule），各项标准为回忆所得、未经核实（unverified），以本地验收办法为准。</p></body></html>"
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _xlsx(inputs: SheetInputs, path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "综合验收表"
    put(sheet, 1, 1, "老旧小区改造综合验收表", style=CellStyle(bold=True, size=14, border=False))
    merge(sheet, 1, 1, 1, 7)
    row = 2
    for k, v in _heading(inputs):
        put(sheet, row, 1, k, style=CellStyle(bold=True, fill=PINK_FILL))
        put(sheet, row, 2, v, style=CellStyle(align=LEFT))
        for c in range(3, 8):
            put(sheet, row, c, None)
        merge(sheet, row, 2, row, 7)
        row += 1
    for c, title in enumerate(("类别", "验收内容", "强制项", "分值", "得分", "说明", "佐证资料"), start=1):
        put(sheet, row, c, title, style=CellStyle(bold=True, fill=PINK_FILL))
    scores = {s["item"]: s for s in inputs.record["scores"]}
    for section in inputs.rules.sections:
        for item in section.items:
            row += 1
            s = scores[item.id]
            cited = "、".join(f"#{int(i)}" for i in s["evidence"])
            values: list[object] = [section.zh, item.zh + status_marker(item.status), "是" if item.mandatory else ""]
            values.append(item.points)
            values += [float(s["score"]), s["note"] or "", cited]
            for c, cell in enumerate(values, start=1):
                put(sheet, row, c, cell, style=CellStyle(align=LEFT if c in (2, 6, 7) else CellStyle().align))
    row += 2
    put(sheet, row, 1, "整改事项", style=CellStyle(bold=True))
    for f in inputs.record["findings"] or ["无"]:
        put(sheet, row, 2, f, style=CellStyle(align=LEFT))
        row += 1
    for col, width in zip("ABCDEFG", (10, 46, 8, 8, 8, 30, 16), strict=True):
        sheet.column_dimensions[col].width = width
    book.save(path)
