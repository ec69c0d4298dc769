"""Where inspection findings (督查问题) stand on a day, and the streets ranked by them. Pure: frames in,
frames out, no database.

On a day ``on``, a finding found by then is *open* until the day it was closed (closed on ``on``:
closed), and *overdue* when it is open and its deadline lies before ``on`` (the deadline day itself
is still in time); its days overdue are ``on - deadline``. The 督查通报 ranks the streets by their
open findings, then their overdue ones (most first); streets tied on both share a rank.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from gis.programme.monthly import FINDING_COLUMNS

STANDING = ["open", "overdue", "closed"]
RANK_COLUMNS = [
    ("rank", "排名"),
    ("district", "区县"),
    ("street", "街道"),
    ("findings", "问题总数"),
    ("open", "未整改"),
    ("overdue", "逾期未整改"),
    ("closed", "已整改"),
    ("closed_late", "逾期整改"),
]


def days(values: pd.Series) -> np.ndarray:
    """Dates (date objects, datetimes, ISO text; None) as ``datetime64[D]``, NaT for none."""
    return pd.to_datetime(values, errors="coerce").to_numpy(dtype="datetime64[D]")


def standing(findings: pd.DataFrame, on: date) -> pd.DataFrame:
    """The findings found by ``on`` with ``status`` (open / overdue / closed on that day) and
    ``days_overdue`` (open past the deadline: ``on - deadline``; else 0), by id.

    ``findings`` has at least ``id, found_on, deadline, closed_on``.
    """
    day = np.datetime64(on, "D")
    found = days(findings["found_on"]) <= day
    part = findings[found].copy()
    deadline, closed = days(part["deadline"]), days(part["closed_on"])
    is_open = np.isnat(closed) | (closed > day)
    late = is_open & (deadline < day)
    part["status"] = np.where(late, "overdue", np.where(is_open, "open", "closed"))
    part["days_overdue"] = np.where(late, (day - deadline).astype(int), 0)
    return part.sort_values("id").reset_index(drop=True)


def overdue(findings: pd.DataFrame, on: date, category_zh: dict[str, str]) -> pd.DataFrame:
    """The findings overdue on ``on``, most days first, as the 月报 lists them
    (:data:`gis.programme.monthly.FINDING_COLUMNS`)."""
    st = standing(findings, on)
    late = st[st["status"] == "overdue"].copy()
    late["finding_id"] = late["id"].astype(int)
    late["name"] = late["compound_name"].fillna("") + "（" + late["compound_id"].astype(int).astype(str) + "）"
    late["category_zh"] = late["category"].map(lambda c: category_zh.get(c, c))
    late["deadline"] = [d.isoformat() for d in days(late["deadline"]).astype(object)]
    late = late.sort_values(["days_overdue", "district", "street", "finding_id"], ascending=[False, True, True, True])
    return late[[c for c, _ in FINDING_COLUMNS]].reset_index(drop=True)


def ranking(findings: pd.DataFrame, on: date) -> pd.DataFrame:
    """Per district and street: findings found by ``on``, open, overdue, closed and closed after the
    deadline; ranked by open, then overdue, most first (ties share a rank): :data:`RANK_COLUMNS`."""
    st = standing(findings, on)
    if st.empty:
        return pd.DataFrame(columns=[c for c, _ in RANK_COLUMNS])
    st = st.assign(
        district=st["district"].fillna("—"),
        street=st["street"].fillna("—"),
        is_open=st["status"] != "closed",
        is_overdue=st["status"] == "overdue",
        is_closed=st["status"] == "closed",
        closed_late=(st["status"] == "closed") & (days(st["closed_on"]) > days(st["deadline"])),
    )
    by = st.groupby(["district", "street"], sort=True).agg(
        findings=("id", "size"),
        open=("is_open", "sum"),
        overdue=("is_overdue", "sum"),
        closed=("is_closed", "sum"),
        closed_late=("closed_late", "sum"),
    )
    by = by.reset_index().sort_values(["open", "overdue", "district", "street"], ascending=[False, False, True, True])
    key = list(zip(by["open"], by["overdue"], strict=True))
    by["rank"] = [1 + key.index(k) for k in key]
    by = by.astype({c: int for c in ("findings", "open", "overdue", "closed", "closed_late")})
    return by[[c for c, _ in RANK_COLUMNS]].reset_index(drop=True)
