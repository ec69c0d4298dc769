"""Comparing two gap runs' rows (a partitioned run against the single-process one)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def compare_rows(whole: pd.DataFrame, parts: pd.DataFrame) -> list[str]:
    """What differs between the two runs' rows (empty: equal within the stated tolerances)."""
    key = ["facility_type", "compound_id"]
    a = whole.sort_values(key).reset_index(drop=True)
    b = parts.sort_values(key).reset_index(drop=True)
    if len(a) != len(b) or not (a[key].to_numpy() == b[key].to_numpy()).all():
        return ["not the same rows"]
    wrong = []
    for col in ["distance_m", "euclidean_m"]:
        x, y = a[col].to_numpy(dtype=float), b[col].to_numpy(dtype=float)
        same = (np.isnan(x) & np.isnan(y)) | (np.abs(x - y) <= 0.01)
        if not same.all():
            wrong.append(f"{col}: {int((~same).sum())} rows")
    for col in ["covered", "flag", "nearest_facility_id", "affected", "demand", "population"]:
        x, y = values(a[col]), values(b[col])
        differ = sum(u != v for u, v in zip(x, y, strict=True))
        if differ:
            wrong.append(f"{col}: {differ} rows")
    x, y = a["capacity_ratio"].to_numpy(dtype=float), b["capacity_ratio"].to_numpy(dtype=float)
    same = (np.isnan(x) & np.isnan(y)) | (np.abs(x - y) <= 1e-9 * np.maximum(np.abs(x), 1e-12))
    if not same.all():
        wrong.append(f"capacity_ratio: {int((~same).sum())} rows")
    return wrong


def values(column: pd.Series) -> list[object]:
    """The column's values, every missing one (None, NaN, NA) as None."""
    return [None if pd.isna(v) else v for v in column.astype(object)]
