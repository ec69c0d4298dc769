"""Frames and rows of the library as JSON bodies: dates as ISO text, amounts as numbers, NaN and NaT as
null (a missing value is null, never the invalid JSON ``NaN``)."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import pandas as pd


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame as a list of JSON objects, one per row."""
    out: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))
    return out


def value(v: Any) -> Any:
    """A row, a list or a value as JSON holds it (nested rows and lists too)."""
    if isinstance(v, dict):
        return {str(k): value(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [value(x) for x in v]
    if v is pd.NaT:
        return None
    if hasattr(v, "tolist"):  # numpy scalars and arrays
        return value(v.tolist())
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, float) and math.isnan(v):
        return None
    return v.isoformat() if hasattr(v, "isoformat") else v
