"""What a spreadsheet cell may hold: text gisplan writes never runs as a formula.

Names, streets, notes and reasons come from many hands (shapefiles, OSM, Excel tables, API edits).
Excel and LibreOffice read a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula (OWASP, "CSV Injection"), so every writer neutralises its values here, in one
place:

- XLSX (:func:`safe_cell`, applied by :func:`gis.xlsx_style.put`): text is written as a literal
  string cell (never a formula), without the control characters XLSX cannot hold.
- CSV (:func:`safe_csv`, :func:`safe_row`, :func:`safe_frame`, :func:`write_frame_csv`): a risky
  text value is prefixed with a single quote ``'``; numbers, and text that is a plain number
  (``-12.5``), are left alone.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import IO, Any

import pandas as pd

# the control characters an XLSX cell cannot hold: openpyxl's own ILLEGAL_CHARACTERS_RE (openpyxl.cell.cell),
# restated so that writing a CSV does not load openpyxl
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
# what makes a spreadsheet read a cell as a formula (OWASP)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """A value as an XLSX cell may hold it: text without the control characters XLSX cannot
    store (``\\x00``-``\\x08``, ``\\x0b``, ``\\x0c``, ``\\x0e``-``\\x1f``); anything else unchanged.

    The caller writes text as a string cell (``data_type "s"``), so ``=HYPERLINK(...)`` stays
    that exact text: :func:`gis.xlsx_style.put` does both.
    """
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def safe_csv(value: Any) -> Any:
    """A CSV value that no spreadsheet runs: text starting with ``= + - @``, a tab or a carriage
    return gets a leading ``'``; numbers and plain-number text are unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(values: list[Any]) -> list[Any]:
    """A CSV row with every value through :func:`safe_csv`."""
    return [safe_csv(v) for v in values]


def write_frame_csv(frame: pd.DataFrame, target: str | Path | IO[str]) -> None:
    """``frame`` as CSV (UTF-8 with BOM for a path, for Excel), text through :func:`safe_frame`.

    Rows end in CRLF (RFC 4180), so a value holding a CR or LF is quoted: a bare CR would otherwise
    start a new row whose first cell is whatever follows it.
    """
    safe_frame(frame).to_csv(target, index=False, encoding="utf-8-sig", lineterminator="\r\n")


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` for ``to_csv``: every text value and column name through :func:`safe_csv`."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype.kind == "O" or isinstance(out[col].dtype, pd.StringDtype):
            out[col] = out[col].map(safe_csv, na_action="ignore")
    return out.set_axis([safe_csv(str(c)) for c in out.columns], axis=1)
