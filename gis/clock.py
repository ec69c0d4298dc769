"""The one clock: today and now in the programme's time zone (``layers/programme/programme.yaml``).

A county's day turns at midnight in China, not in UTC, so every date gisplan stamps (a report's
制表日期, a stage reached "today", ageing) comes from here; tests pass explicit dates instead.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

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
