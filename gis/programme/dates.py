"""Months, dates and amounts as planners write them in a schedule table, a form or the CLI."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from gis.errors import ProgrammeError

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0 (it counts the 1900 leap day that never was)
EXCEL_DAYS = (20000, 80000)  # serial day numbers of the years 1954 to 2119: the plausible ones
MAX_AMOUNT = Decimal("1e10")
CENT = Decimal("0.01")  # 0.01 万元 = 100 元


def parse_month(month: str) -> tuple[int, int]:
    """``"2026-11"`` as ``(2026, 11)``; :class:`ProgrammeError` for anything else."""
    m = MONTH.match(month.strip())
    if not m or not 2000 <= int(m.group(1)) <= 2100:
        raise ProgrammeError(f"a month reads YYYY-MM between 2000 and 2100, e.g. 2026-11; got {month!r}")
    return int(m.group(1)), int(m.group(2))


def month_end(month: str) -> date:
    """The last day of a month given as ``YYYY-MM``."""
    y, m = parse_month(month)
    return date(y, m, calendar.monthrange(y, m)[1])


def month_of(d: date) -> str:
    """The month (``YYYY-MM``) a date lies in."""
    return f"{d.year:04d}-{d.month:02d}"


def parse_date(value: Any) -> date | None:
    """A date from an Excel cell or text: 2026-03-15, 2026/3/15, 2026.3.15, 2026年3月15日, 20260315.

    Empty cells are None; anything else that is not a calendar date raises :class:`ValueError`.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            raise ValueError(f"{value} has a time of day; give a date")
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _excel_day(value)
    s = str(value).strip().replace(" ", "")
    for pattern in DATE_PATTERNS:
        m = pattern.match(s)
        if m:
            try:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                raise ValueError(f"{value!r} is not a real date") from None
    raise ValueError(f"{value!r} is not a date (write 2026-03-15 or 2026年3月15日)")


def _excel_day(value: float) -> date:
    if EXCEL_DAYS[0] <= value <= EXCEL_DAYS[1] and float(value).is_integer():
        return date.fromordinal(EXCEL_EPOCH.toordinal() + int(value))
    raise ValueError(f"{value!r} is not a date")


def parse_money(value: Any) -> Decimal | None:
    """万元 with at most two decimals, not negative; empty cells are None, anything else ValueError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an amount")
    try:
        amount = Decimal(str(value).strip().replace(",", "").replace("，", ""))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount in 万元") from None
    if not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT:
        raise ValueError(f"{value!r}: an amount is a number of 万元 from 0 to 10^10")
    rounded = amount.quantize(CENT)
    if rounded != amount:
        raise ValueError(f"{value!r}: at most two decimals of 万元 (100 元)")
    return rounded
