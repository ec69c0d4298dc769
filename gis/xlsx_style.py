"""The bureau's spreadsheet style, one kit for every XLSX gisplan writes (月报, 时间配档表, gap tables).

宋体 throughout (LibreOffice falls back to an installed CJK font where SimSun is missing), thin black
borders, a grey header fill, and cells written through :func:`put` so that the same look and the
same neutralisation of values (:mod:`gis.cells`: text is a literal string cell, never a formula, and
holds no character XLSX cannot store) apply everywhere. Every writer puts its values with :func:`put`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.merge import MergedCellRange
from openpyxl.worksheet.worksheet import Worksheet

from gis.cells import safe_cell

FONT = "宋体"
THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
RIGHT = Alignment(horizontal="right", vertical="center")
HEAD_FILL = PatternFill("solid", fgColor="F2F2F2")
GREY_FILL = PatternFill("solid", fgColor="E7E6E6")
BLUE_FILL = PatternFill("solid", fgColor="DDEBF7")
PINK_FILL = PatternFill("solid", fgColor="F2DCDB")
FORMATS = {"count": "0", "area": "0.00", "money": "0.00", "rate": "0.0", "days": "0"}


@cache
def font(size: float = 10, bold: bool = False, color: str | None = None) -> Font:
    """The kit's font at a size (cached: openpyxl styles are shared objects)."""
    return Font(name=FONT, size=size, bold=bold, color=color)


def put(
    sheet: Worksheet,
    row: int,
    col: int,
    value: Any,
    *,
    style: CellStyle | None = None,
) -> None:
    """Write one cell in the kit's style; text as a literal string (``=...`` stays text)."""
    c = sheet.cell(row=row, column=col)
    set_value(c, value)
    dress(c, style or CellStyle())


def set_value(cell: Any, value: Any) -> None:
    """``value`` into ``cell`` as the kit writes every value: neutralised, text as a literal string."""
    value = safe_cell(value)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # openpyxl would make "=..." a formula and "#N/A" an error


def dress(cell: Any, s: CellStyle) -> None:
    """Give ``cell`` (of a normal or a write-only sheet) the look ``s``."""
    cell.font = font(s.size, s.bold, s.color)
    cell.alignment = s.align
    if s.border:
        cell.border = BORDER
    if s.fmt:
        cell.number_format = s.fmt
    if s.fill:
        cell.fill = s.fill


class CellStyle:
    """How one cell looks: number format, bold, alignment, border, size, fill, colour."""

    __slots__ = ("align", "bold", "border", "color", "fill", "fmt", "size")

    def __init__(
        self,
        *,
        fmt: str | None = None,
        bold: bool = False,
        align: Alignment = CENTER,
        border: bool = True,
        size: float = 10,
        fill: PatternFill | None = None,
        color: str | None = None,
    ) -> None:
        self.fmt, self.bold, self.align, self.border = fmt, bold, align, border
        self.size, self.fill, self.color = size, fill, color


def merge(sheet: Worksheet, r1: int, c1: int, r2: int, c2: int) -> None:
    """``sheet.merge_cells`` without its check against every existing merge (quadratic for a long
    list); the ranges merged by the writers never overlap."""
    if (r1, c1) != (r2, c2):
        # every cell of the range was written with its border already, so no MergedCell is needed
        ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{r2}"
        sheet.merged_cells.ranges.add(MergedCellRange(sheet, ref))
