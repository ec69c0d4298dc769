"""The one clock: today and now in the programme's time zone (``layers/programme/programme.yaml``).

A county's day turns at midnight in China, not in UTC, so every date gisplan stamps (a report's
制表日期, a stage reached "today", ageing) comes from here; tests pass explicit dates instead.
"""

from __future__ import annotations

from datetime import date, datetime, time
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

from gis.errors import AsOfError
from gis.yamlfiles import load_yaml

DEFAULT_ZONE = "Asia/Shanghai"


@cache
def zone() -> ZoneInfo:
    """The programme's time zone (``timezone:`` of ``layers/programme/programme.yaml``)."""
    text = resources.files("layers.programme").joinpath("programme.yaml").read_text(encoding="utf-8")
    return ZoneInfo(str((load_yaml(text) or {}).get("timezone") or DEFAULT_ZONE))


def now() -> datetime:
    """The current time, aware, in the programme's time zone."""
    return datetime.now(zone())


def today(on: date | None = None) -> date:
    """``on`` when given (replaying a year, tests), else today's date in the programme's time zone."""
    return on if on is not None else now().date()


def as_of_instant(value: date | datetime | str) -> datetime:
    """The instant a state "as of" ``value`` is taken at: a date means the end of that day in the
    programme's time zone (its last microsecond, so ``at <= instant`` holds every change of the day);
    a datetime must carry its offset. Text is read as an ISO 8601 date (``2026-03-31``) or datetime
    with offset (``2026-03-31T18:00:00+08:00``, ``...Z``).

    Raises
    ------
    AsOfError
        Text that is neither, or a datetime without its offset.

    Examples
    --------
    >>> as_of_instant(date(2026, 3, 31))
    datetime.datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=zoneinfo.ZoneInfo(key='Asia/Shanghai'))
    """
    if isinstance(value, str):
        value = _parse_as_of(value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise AsOfError(f"as_of {value.isoformat()}: give the time with its offset (+08:00, Z) or a date alone")
        return value
    return datetime.combine(value, time.max, zone())


def _parse_as_of(text: str) -> date | datetime:
    raw = text.strip()
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
        return datetime.fromisoformat(raw)
    except ValueError:
        shown = raw[:60]
        raise AsOfError(
            f"as_of {shown!r}: not an ISO date (2026-03-31) nor a datetime with offset (2026-03-31T18:00:00+08:00)"
        ) from None
