"""The 督查通报 (inspection bulletin): streets ranked by open and overdue findings, then every finding
standing on the day with its photos, as a printable A4 HTML page or an XLSX in the bureau's style.

The HTML is one file: every value escaped, the thumbnails inline as ``data:`` URIs (nothing from the
network, so it prints or opens from a USB stick). The XLSX writes every value through
:func:`gis.xlsx_style.put` (text never a formula) and embeds the thumbnails beside their finding.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.drawing.image import Image as XlImage
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from gis.errors import InvalidRequestError
from gis.evidence.findings import Bulletin
from gis.evidence.inspection import RANK_COLUMNS
from gis.export.compound_report import CSS
from gis.xlsx_style import HEAD_FILL, LEFT, PINK_FILL, CellStyle, merge, put

STATUS_ZH = {"overdue": "逾期未整改", "open": "整改中", "closed": "已整改"}
FINDING_COLUMNS = [
    ("id", "编号"),
    ("status_zh", "状态"),
    ("street", "街道"),
    ("compound_name", "小区"),
    ("category_zh", "类别"),
    ("what", "问题描述"),
    ("responsible_unit", "责任单位"),
    ("found_on", "发现日期"),
    ("deadline", "整改期限"),
    ("days_overdue", "逾期天数"),
    ("closed_on", "整改完成"),
]
EXTRA_CSS = """
.photos img { height: 90px; margin: 2px; border: 1px solid #999; }
tr.overdue td { background: #fbe3e4; }
.synthetic { color: #8a5a00; font-size: 9pt; }
"""


def text(value: Any) -> str:
    """A value as escaped HTML text; nothing (None, NaN, NaT) as a dash."""
    if value is None or (not isinstance(value, str | list) and pd.isna(value)):
        return "—"
    if hasattr(value, "isoformat"):
        value = value.isoformat()[:10]
    return html.escape(str(value))


def data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def rows_of(b: Bulletin) -> list[dict[str, Any]]:
    listed = b.findings.assign(status_zh=b.findings["status"].map(STATUS_ZH))
    return [{str(k): v for k, v in r.items()} for r in listed.to_dict("records")]


def bulletin_html(b: Bulletin) -> str:
    """The bulletin as one self-contained HTML page."""
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in RANK_COLUMNS)
    ranked = "".join(
        "<tr>" + "".join(f"<td>{text(r[c])}</td>" for c, _ in RANK_COLUMNS) + "</tr>"
        for r in b.ranking.to_dict("records")
    )
    lines = []
    for r in rows_of(b):
        photos = "".join(
            f'<img alt="{html.escape(alt)}" src="{data_uri(t)}">'
            for alt, thumbs in (
                ("现场照片", b.thumbnails.get(int(r["id"]), [])),
                ("整改照片", b.closing.get(int(r["id"]), [])),
            )
            for t in thumbs
        )
        mark = '<div class="synthetic">合成示例 / synthetic</div>' if isinstance(r.get("synthetic"), str) else ""
        cells = "".join(f"<td>{text(r.get(c))}</td>" for c, _ in FINDING_COLUMNS)
        klass = ' class="overdue"' if r["status"] == "overdue" else ""
        lines.append(f'<tr{klass}>{cells}<td class="photos">{photos or "—"}{mark}</td></tr>')
    fhead = "".join(f"<th>{html.escape(label)}</th>" for _, label in FINDING_COLUMNS) + "<th>照片</th>"
    empty = f'<tr><td colspan="{len(FINDING_COLUMNS) + 1}">无督查问题 / none</td></tr>'
    totals = b.ranking[["findings", "open", "overdue", "closed"]].sum() if len(b.ranking) else None
    summary = (
        f"共 {int(totals['findings'])} 个问题，未整改 {int(totals['open'])} 个"
        f"（其中逾期 {int(totals['overdue'])} 个），已整改 {int(totals['closed'])} 个。"
        if totals is not None
        else "无督查问题。"
    )
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{html.escape(b.title)}</title><style>{CSS}{EXTRA_CSS}</style></head><body>"
        f"<h1>{html.escape(b.title)}</h1>"
        f'<div class="sub">Inspection bulletin · 截至 {b.on.isoformat()} · {html.escape(summary)}</div>'
        "<h2>一、各街道问题整改排名（按未整改、逾期未整改数由多到少）</h2>"
        f"<table><tr>{head}</tr>{ranked or '<tr><td colspan=8>无</td></tr>'}</table>"
        "<h2>二、问题清单（逾期未整改在前）</h2>"
        f"<table><tr>{fhead}</tr>{''.join(lines) or empty}</table>"
        '<p class="note">逾期：截至通报日未整改且已过整改期限；整改完成以整改资料（照片或文件）为据。</p>'
        "</body></html>\n"
    )


HEAD = CellStyle(bold=True, fill=HEAD_FILL)
TITLE = CellStyle(bold=True, size=16, border=False)
CELL = CellStyle(align=LEFT)
LATE = CellStyle(align=LEFT, fill=PINK_FILL)
THUMB_ROW_PT = 70  # a row holding thumbnails: their height in points


def bulletin_xlsx(b: Bulletin, path: Path) -> None:
    """The bulletin as XLSX: a sheet with the ranking and one with the findings and their thumbnails."""
    wb = Workbook()
    sheet = wb.active
    assert isinstance(sheet, Worksheet)
    sheet.title = "街道排名"
    put(sheet, 1, 1, b.title, style=TITLE)
    merge(sheet, 1, 1, 1, len(RANK_COLUMNS))
    for k, (_, label) in enumerate(RANK_COLUMNS, start=1):
        put(sheet, 2, k, label, style=HEAD)
        sheet.column_dimensions[get_column_letter(k)].width = 14
    for i, r in enumerate(b.ranking.to_dict("records"), start=3):
        for k, (c, _) in enumerate(RANK_COLUMNS, start=1):
            put(sheet, i, k, r[c], style=CELL)
    listing = wb.create_sheet("问题清单")
    put(listing, 1, 1, b.title, style=TITLE)
    merge(listing, 1, 1, 1, len(FINDING_COLUMNS) + 1)
    for k, (_, label) in enumerate([*FINDING_COLUMNS, ("", "照片")], start=1):
        put(listing, 2, k, label, style=HEAD)
        listing.column_dimensions[get_column_letter(k)].width = 30 if k in (6, 7) else 12
    listing.column_dimensions[get_column_letter(len(FINDING_COLUMNS) + 1)].width = 40
    for i, f in enumerate(rows_of(b), start=3):
        style = LATE if f["status"] == "overdue" else CELL
        for k, (c, _) in enumerate(FINDING_COLUMNS, start=1):
            v = f.get(c)
            put(listing, i, k, None if v is None or (not isinstance(v, str) and pd.isna(v)) else v, style=style)
        thumbs = [*b.thumbnails.get(int(f["id"]), []), *b.closing.get(int(f["id"]), [])]
        put(listing, i, len(FINDING_COLUMNS) + 1, None, style=style)
        for n, jpeg in enumerate(thumbs[:3]):
            picture = XlImage(io.BytesIO(jpeg))
            scale = THUMB_ROW_PT * 4 / 3 / max(picture.height, 1)
            picture.width, picture.height = picture.width * scale, picture.height * scale
            column = get_column_letter(len(FINDING_COLUMNS) + 1 + n)
            listing.add_image(picture, f"{column}{i}")
        if thumbs:
            listing.row_dimensions[i].height = THUMB_ROW_PT + 4
    for s in (sheet, listing):
        s.page_setup.orientation = "landscape"
        s.page_setup.paperSize = Worksheet.PAPERSIZE_A4
        s.page_setup.fitToWidth = 1
        s.page_setup.fitToHeight = 0
        s.sheet_properties.pageSetUpPr.fitToPage = True
    wb.save(path)


def write_bulletin(b: Bulletin, path: str | Path) -> Path:
    """Write the 督查通报 as ``.html`` or ``.xlsx`` by the suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        path.write_text(bulletin_html(b), encoding="utf-8")
    elif suffix == ".xlsx":
        bulletin_xlsx(b, path)
    else:
        raise InvalidRequestError(f"write the bulletin as .html or .xlsx, not {suffix or 'no suffix'}")
    return path
