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

import pandas as pd

from gis.programme.definitions import ProgrammeDefs
from gis.programme.model import Project, at_risk, behind, stage_on, until
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


def project_row(p: Project, on: date, spent: Decimal | None, defs: ProgrammeDefs) -> dict[str, Any]:
    """One project on ``on``: stage reached, behind plan, at risk; ``spent`` as of that date."""
    stage = stage_on(p.actual, on, defs)
    b = behind(stage, p.planned, on, defs)
    r = at_risk(stage, p.year, on, defs)
    finish = defs.finish_stage
    planned_finish = p.planned.get(finish)
    return {
        "project_id": p.id,
        "compound_id": p.compound_id,
        "year": p.year,
        "stage": stage,
        "stage_zh": defs.stage(stage).zh if stage else "未启动",
        "stage_en": defs.stage(stage).en if stage else "Not started",
        "stage_index": defs.index(stage),
        "planned_finish": planned_finish,
        "overdue": b.overdue,
        "days_behind": b.days,
        "due_stage": b.due_stage,
        "due_stage_zh": defs.stage(b.due_stage).zh if b.due_stage else None,
        "due_date": b.due_date,
        "at_risk": r.overdue,
        "risk_days": r.days,
        "plan_past_deadline": bool(
            planned_finish and planned_finish > defs.deadline(p.year) and defs.index(stage) < defs.index(finish)
        ),
        "categories": p.categories,
        "items": p.items,
        "investment_planned": _float(p.investment_planned),
        "investment_spent": _float(spent),
        "property_mgmt_after": p.property_mgmt_after or None,
        "responsible_street": p.responsible_street,
        "responsible_dept": p.responsible_dept,
        **{f"planned_{s}": p.planned.get(s) for s in defs.stage_ids},
        **{f"actual_{s}": until(p.actual.get(s), on) for s in defs.stage_ids},
    }


def project_frame(
    projects: Sequence[Project],
    compounds: pd.DataFrame,
    spent: dict[int, Decimal],
    on: date,
    defs: ProgrammeDefs,
) -> pd.DataFrame:
    """Per project on ``on``: the compound's columns (``compounds``, keyed by ``compound_id``) and
    :func:`project_row`'s; ``spent`` maps a project id to its spending as of ``on``. Sorted by
    district, street and compound; no projects gives the same columns and no rows."""
    rows = [project_row(p, on, spent.get(p.id) if p.id is not None else None, defs) for p in projects]
    if not rows:
        dates = [f"{k}_{s}" for k in ("planned", "actual") for s in defs.stage_ids]
        return compounds.assign(**{c: pd.Series(dtype=object) for c in [*PROJECT_COLUMNS, *dates]}).iloc[0:0]
    merged = compounds.merge(pd.DataFrame(rows), on="compound_id", how="right")
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
