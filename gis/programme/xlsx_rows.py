"""Rows of a write-only (streaming) worksheet in the kit's look (:mod:`gis.xlsx_style`), for the
programme's long tables: the schedule table (a row per project) and the 月报.

A normal openpyxl worksheet keeps every cell and registers each cell's font, alignment, border,
number format and fill one by one, hashing each style object: some 150 µs a cell, a minute for a
10,000-row schedule table. A write-only worksheet writes a row as it is appended, so one styled cell
per column and style carries that column's value in every row: each style is registered once. The
values go through :func:`gis.cells.safe_cell` and text is a literal string cell, as
:func:`gis.xlsx_style.put` writes them.

Set column widths, frozen panes and the page set-up before the first row, a row's height before
that row (openpyxl writes them on the way).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.cell_range import CellRange

from gis.xlsx_style import CellStyle, dress, set_value

PLAIN = CellStyle()
# a row: (value, style) per column, a cell of its own (:func:`styled`), or None for no cell
Cells = Sequence[tuple[Any, CellStyle | None] | Cell | None]


class Rows:
    """Appends rows to ``sheet``: ``rows.append([(value, style), None, ...])``; ``rows.row`` is the
    number the next row gets. A style of None is the kit's plain cell (centred, bordered, 宋体 10)."""

    def __init__(self, sheet: WriteOnlyWorksheet) -> None:
        self.sheet = sheet
        self.row = 1
        self._cells: dict[tuple[int, int], Cell] = {}
        self._styles: list[CellStyle] = []  # held, so that the ids in the keys stay theirs

    def append(self, cells: Cells, *, height: float | None = None) -> int:
        """Write one row (its height in points when given); returns its number."""
        if height is not None:
            self.sheet.row_dimensions[self.row].height = height
        out: list[Cell | None] = []
        for col, entry in enumerate(cells):
            if entry is None:
                out.append(None)
                continue
            if isinstance(entry, Cell):
                out.append(entry)
                continue
            value, style = entry
            cell = self._cell(col, style or PLAIN)
            set_value(cell, value)
            out.append(cell)
        self.sheet.append(out)
        self.row += 1
        return self.row - 1

    def blank(self) -> int:
        """An empty row."""
        return self.append([])

    def _cell(self, col: int, s: CellStyle) -> Cell:
        key = (col, id(s))
        cell = self._cells.get(key)
        if cell is None:
            self._styles.append(s)
            cell = self._cells[key] = styled(self.sheet, None, s)
        return cell


def styled(sheet: WriteOnlyWorksheet, value: Any, s: CellStyle) -> Cell:
    """A cell of its own (one that carries a comment, say) in the style ``s``; ``value`` as
    :meth:`Rows.append` writes it."""
    cell = WriteOnlyCell(sheet)
    dress(cell, s)
    set_value(cell, value)
    return cell


def merge(sheet: WriteOnlyWorksheet, r1: int, c1: int, r2: int, c2: int) -> None:
    """Merge a range of a write-only sheet (its cells written with their borders already, as
    :func:`gis.xlsx_style.merge` does for a normal one); any time before the workbook is saved."""
    if (r1, c1) != (r2, c2):
        # straight into the set: MultiCellRange.add checks every range merged before (quadratic)
        sheet.merged_cells.ranges.add(CellRange(min_row=r1, min_col=c1, max_row=r2, max_col=c2))
