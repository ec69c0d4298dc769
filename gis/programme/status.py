"""The projects of a year on a date, as one frame, and the views drawn from it (pure, in memory).

One row per project: the compound's attributes, the stage reached on the date, the planned and
actual date of every stage, spending as of the date, behind plan (overdue) and behind the latest
dates that still finish by the deadline (at risk). :func:`risks`, :func:`risks_by_street` and
:func:`coverage` read that frame; so does the monthly report.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from gis.programme.definitions import ProgrammeDefs
from gis.programme.model import NO_DAY, TABLE_COLUMNS, Project, ProjectTable
from gis.registry import registry

RISK_COLUMNS = [
    "compound_id",
    "name",
    "district",
    "street",
    "stage_zh",
    "due_stage_zh",
    "due_date",
    "days_behind",
    "overdue",
    "at_risk",
    "risk_days",
    "planned_finish",
    "plan_past_deadline",
]
PROJECT_COLUMNS = [
    "project_id",
    "year",
    "stage",
    "stage_zh",
    "stage_en",
    "stage_index",
    "planned_finish",
    "overdue",
    "days_behind",
    "due_stage",
    "due_stage_zh",
    "due_date",
    "at_risk",
    "risk_days",
    "plan_past_deadline",
    "categories",
    "items",
    "investment_planned",
    "investment_spent",
    "property_mgmt_after",
    "responsible_street",
    "responsible_dept",
]


def _float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def project_table(projects: Sequence[Project], spent: dict[int, Decimal], defs: ProgrammeDefs) -> ProjectTable:
    """The table of ``projects``; ``spent`` maps a project id to its spending as of the frame's date."""
    values: dict[str, list[Any]] = {
        "project_id": [p.id for p in projects],
        "compound_id": [p.compound_id for p in projects],
        "year": [p.year for p in projects],
        "categories": [p.categories for p in projects],
        "items": [p.items for p in projects],
        "investment_planned": [_float(p.investment_planned) for p in projects],
        "investment_spent": [_float(spent.get(p.id)) if p.id is not None else None for p in projects],
        "property_mgmt_after": [p.property_mgmt_after or None for p in projects],
        "responsible_street": [p.responsible_street for p in projects],
        "responsible_dept": [p.responsible_dept for p in projects],
    }

    def days(dates: list[dict[str, date]]) -> np.ndarray:
        rows = [[d.get(s) for s in defs.stage_ids] for d in dates]
        return np.array(rows, dtype="datetime64[D]").reshape(len(dates), len(defs.stage_ids))

    return ProjectTable(values, days([p.planned for p in projects]), days([p.actual for p in projects]))


def date_columns(defs: ProgrammeDefs) -> list[str]:
    return [f"{k}_{s}" for k in ("planned", "actual") for s in defs.stage_ids]


def project_frame(
    projects: Sequence[Project],
    compounds: pd.DataFrame,
    spent: dict[int, Decimal],
    on: date,
    defs: ProgrammeDefs,
) -> pd.DataFrame:
    """Per project on ``on``: :func:`frame_on` of the projects' table; ``spent`` maps a project id to its
    spending as of ``on``."""
    return frame_on(project_table(projects, spent, defs), compounds, on, defs)


def _behind(reached: np.ndarray, dates: np.ndarray, on: np.datetime64) -> dict[str, np.ndarray]:
    """:func:`gis.programme.model.behind` of every project at once: ``reached`` the index of the stage
    reached (-1: none), ``dates`` the (projects, stages) date each stage is due by (NaT: none)."""
    n, k = dates.shape
    dated = ~np.isnat(dates)
    passed = dated & (dates <= on)
    due = np.where(passed.any(axis=1), k - 1 - np.argmax(passed[:, ::-1], axis=1), -1)
    missed = dated & (np.arange(k)[None, :] > reached[:, None]) & (dates < on)
    late = missed.any(axis=1)
    first = np.where(late, dates[np.arange(n), np.argmax(missed, axis=1)], NO_DAY)
    days = np.where(late, (on - first).astype(np.int64), 0)
    return {"overdue": late, "days": days, "due": due, "first": first}


def frame_on(table: ProjectTable, compounds: pd.DataFrame, on: date, defs: ProgrammeDefs) -> pd.DataFrame:
    """Per project of ``table`` on ``on``: the compound's columns (``compounds``, keyed by
    ``compound_id``), the stage reached on the date, behind plan (overdue, days behind, the stage due
    and the planned date of the first stage missed), behind the latest dates that still finish by
    the deadline (at risk), planned to finish after it, and the dates as known on the date (an
    actual date after it is None). Sorted by district, street and compound; no projects gives the
    same columns and no rows. Every project at once, as :func:`gis.programme.model.stage_on`,
    :func:`~gis.programme.model.behind` and :func:`~gis.programme.model.at_risk` say for one."""
    if not len(table):
        empty = {c: pd.Series(dtype=object) for c in [*PROJECT_COLUMNS, *date_columns(defs)]}
        return compounds.assign(**empty).iloc[0:0]
    stage_ids, k = defs.stage_ids, len(defs.stage_ids)
    day = np.datetime64(on, "D")
    known = table.actual <= day  # NaT compares False: not reached
    reached = np.where(known.any(axis=1), k - 1 - np.argmax(known[:, ::-1], axis=1), -1)
    years = np.array(table.values["year"])
    latest = np.full(table.planned.shape, NO_DAY)
    deadline = np.full(len(table), NO_DAY)
    for y in np.unique(years):  # the programme years in the table: one, as the service reads it
        dates = defs.latest_dates(int(y))
        latest[years == y] = np.array([dates.get(s) for s in stage_ids], dtype="datetime64[D]")
        deadline[years == y] = np.datetime64(defs.deadline(int(y)), "D")
    b, r = _behind(reached, table.planned, day), _behind(reached, latest, day)
    finish = defs.index(defs.finish_stage)
    planned_finish = table.planned[:, finish]
    # indexed by a stage's position; -1 (none reached, none due) takes the last entry
    ids = np.array([*stage_ids, None], dtype=object)
    due_zh = np.array([*(s.zh for s in defs.stages), None], dtype=object)
    zh = np.array([*(s.zh for s in defs.stages), "未启动"], dtype=object)
    en = np.array([*(s.en for s in defs.stages), "Not started"], dtype=object)
    v = table.values
    columns: dict[str, list[Any]] = {
        "project_id": v["project_id"],
        "compound_id": v["compound_id"],
        "year": v["year"],
        "stage": ids[reached].tolist(),
        "stage_zh": zh[reached].tolist(),
        "stage_en": en[reached].tolist(),
        "stage_index": reached.tolist(),
        "planned_finish": planned_finish.tolist(),
        "overdue": b["overdue"].tolist(),
        "days_behind": b["days"].tolist(),
        "due_stage": ids[b["due"]].tolist(),
        "due_stage_zh": due_zh[b["due"]].tolist(),
        "due_date": b["first"].tolist(),
        "at_risk": r["overdue"].tolist(),
        "risk_days": r["days"].tolist(),
        "plan_past_deadline": (~np.isnat(planned_finish) & (planned_finish > deadline) & (reached < finish)).tolist(),
        **{c: v[c] for c in TABLE_COLUMNS[3:]},
        **{f"planned_{s}": table.planned[:, i].tolist() for i, s in enumerate(stage_ids)},
        **{f"actual_{s}": np.where(known[:, i], table.actual[:, i], NO_DAY).tolist() for i, s in enumerate(stage_ids)},
    }
    # lists, so that each column's type is inferred from its values as for rows of records
    merged = compounds.merge(pd.DataFrame(columns), on="compound_id", how="right")
    return merged.sort_values(["district", "street", "compound_id"], na_position="last").reset_index(drop=True)


def risks(st: pd.DataFrame) -> pd.DataFrame:
    """Projects behind their plan, behind the latest dates, or planned to finish after the deadline,
    worst first."""
    out = st[st["overdue"] | st["at_risk"] | st["plan_past_deadline"]]
    return out.sort_values(["days_behind", "risk_days"], ascending=False)[RISK_COLUMNS].reset_index(drop=True)


def risks_by_street(st: pd.DataFrame) -> pd.DataFrame:
    """Per street: projects, overdue, at risk, the most days behind, planned past the deadline."""
    grouped = st.groupby(["district", "street"], dropna=False)
    out = grouped.agg(
        projects=("compound_id", "size"),
        overdue=("overdue", "sum"),
        at_risk=("at_risk", "sum"),
        max_days_behind=("days_behind", "max"),
        plan_past_deadline=("plan_past_deadline", "sum"),
    )
    return out.reset_index()


def coverage(st: pd.DataFrame, by: Sequence[str], uncovered: Sequence[str]) -> pd.DataFrame:
    """Property management coverage (物业管理覆盖) of the projects' compounds, before and after.

    One row per group and mode: compounds and households before (the compound's ``property_mgmt``)
    and after (the project's ``property_mgmt_after``, else unchanged), and their shares of the group;
    mode ``unknown`` where none is recorded. ``covered`` is False for the ``uncovered`` modes.
    """
    keys = list(by)
    after = st["property_mgmt_after"].fillna(st["property_mgmt"])
    parts = [_modes(st, keys, st["property_mgmt"], "before"), _modes(st, keys, after, "after")]
    out = parts[0].join(parts[1], how="outer").fillna(0).reset_index()
    for c in ("compounds_before", "compounds_after", "households_before", "households_after"):
        out[c] = out[c].astype(int)
    labels = {c.id: c.zh for c in registry().code_list("property_mgmt").codes}
    out.insert(len(keys) + 1, "mode_zh", out["mode"].map(lambda m: labels.get(m, "未填")))
    out["covered"] = ~out["mode"].isin([*uncovered, "unknown"])
    return out


def _modes(st: pd.DataFrame, keys: list[str], mode: pd.Series, when: str) -> pd.DataFrame:
    """Compounds and households per group and mode, with their shares of the group."""
    frame = st[[*keys, "households"]].assign(mode=mode.fillna("unknown"), households=st["households"].fillna(0))
    g = frame.groupby([*keys, "mode"], dropna=False).agg(compounds=("mode", "size"), households=("households", "sum"))
    totals = frame.groupby(keys, dropna=False).agg(all_c=("mode", "size"), all_h=("households", "sum"))
    g = g.join(totals, on=keys)
    g["compound_share"] = g["compounds"] / g["all_c"]
    g["household_share"] = (g["households"] / g["all_h"].where(g["all_h"] > 0)).fillna(0.0)
    return g.drop(columns=["all_c", "all_h"]).add_suffix(f"_{when}")
