"""The 月报's self-check (自查): the figures that do not hold together, flagged in the report. Pure.

Four checks (issue #19, "statistics that check themselves"), each a list of rows
(:data:`SELF_CHECK_COLUMNS`) that say what does not hold and where:

- ``stage_without_evidence`` — a project is at stage S on the report's day, and no standing (not
  withdrawn) evidence item documents stage S of that project;
- ``finished_above_plan`` — a street or district counts more projects finished (实际完工) than its plan
  has finishing by the month's end (截至本月计划完工);
- ``cumulative_fell`` — a cumulative figure (projects started, finished, investment spent) of a street
  or of the total is lower than in the previous submitted month's report of the same year, as it
  was sent;
- ``start_without_permit`` — a project has reached construction (开工) with no construction permit
  date (施工许可日期) recorded, or with one after its start.

A flag asks for a look, it does not say the figure is wrong: a correction may lower a cumulative
figure, and a project may finish ahead of plan.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date
from typing import Any

import pandas as pd

CHECKS = {
    "stage_without_evidence": ("阶段无佐证资料", "Stage without evidence"),
    "finished_above_plan": ("完工数超过计划", "Completed above plan"),
    "cumulative_fell": ("累计数低于上月已报", "Cumulative figure fell"),
    "start_without_permit": ("开工无施工许可日期", "Start without a permit date"),
}
SELF_CHECK_COLUMNS = [
    ("check_zh", "自查项"),
    ("district", "区县"),
    ("street", "街道"),
    ("subject", "对象"),
    ("detail", "说明"),
]
# the cumulative figures compared with the previous submitted month: (metric, label)
CUMULATIVE = [("started", "已开工（个）"), ("finished", "实际完工（个）"), ("investment_spent", "累计完成投资（万元）")]
MONEY_TOLERANCE = 0.005  # 万元: amounts are kept to two decimals


def row(check: str, district: Any, street: Any, subject: str, detail: str, compound_id: int | None = None) -> dict:
    return {
        "check": check,
        "check_zh": CHECKS[check][0],
        "check_en": CHECKS[check][1],
        "district": _text(district),
        "street": _text(street),
        "compound_id": compound_id,
        "subject": subject,
        "detail": detail,
    }


def _text(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _project(r: Any) -> str:
    return f"{_text(r.get('name'))}（{int(r['compound_id'])}）"


def stage_without_evidence(projects: pd.DataFrame, evidenced: Iterable[tuple[int, str]]) -> list[dict]:
    """Projects at a stage that no standing evidence item of theirs documents."""
    have = set(evidenced)
    out = []
    for r in projects.to_dict("records"):
        stage = r.get("stage")
        if stage is None or (isinstance(stage, float) and math.isnan(stage)):
            continue
        if (int(r["project_id"]), str(stage)) not in have:
            detail = f"所处阶段“{r['stage_zh']}”无该阶段佐证资料 / no evidence of stage {stage}"
            out.append(row("stage_without_evidence", r["district"], r["street"], _project(r), detail, r["compound_id"]))
    return out


def finished_above_plan(by_street: pd.DataFrame, by_district: pd.DataFrame) -> list[dict]:
    """Streets and districts with more projects finished than planned to finish by the month's end."""
    out = []
    for frame, level in ((by_street, "street"), (by_district, "district")):
        for r in frame.to_dict("records"):
            done, planned = int(r["finished"]), int(r["planned_finished"])
            if done > planned:
                street = r.get("street") if level == "street" else "小计"
                detail = f"实际完工 {done} 个，截至本月计划完工 {planned} 个 / finished {done} > planned {planned}"
                out.append(
                    row("finished_above_plan", r["district"], street, "街道" if level == "street" else "区县", detail)
                )
    return out


def cumulative_fell(
    by_street: pd.DataFrame, totals: dict[str, Any], previous: dict[str, Any] | None, year: int
) -> list[dict]:
    """Cumulative figures lower than in ``previous`` (the last submitted report before this month, as
    stored; None or another programme year: nothing to compare)."""
    if not previous or int(previous.get("year") or 0) != year:
        return []
    month = previous.get("month")
    before = {(_text(r.get("district")), _text(r.get("street"))): r for r in previous.get("by_street") or []}
    pairs: list[tuple[tuple[str, str], Any]] = [
        ((_text(r["district"]), _text(r["street"])), r) for r in by_street.to_dict("records")
    ]
    pairs.append((("合计", ""), totals))
    prev_totals = previous.get("totals") or {}
    out = []
    for (district, street), now in pairs:
        then = prev_totals if district == "合计" and not street else before.get((district, street))
        if not then:
            continue
        for metric, label in CUMULATIVE:
            a, b = then.get(metric), now.get(metric)
            if a is None or b is None:
                continue
            if float(b) < float(a) - (MONEY_TOLERANCE if metric == "investment_spent" else 0):
                detail = f"{label}：本月 {_figure(b)}，低于{month}已报 {_figure(a)} / {metric} fell"
                out.append(row("cumulative_fell", district, street, "合计" if district == "合计" else "街道", detail))
    return out


def _figure(v: Any) -> str:
    return f"{float(v):.2f}" if isinstance(v, float) and not float(v).is_integer() else str(int(float(v)))


def start_without_permit(projects: pd.DataFrame, permits: dict[int, date], construction: int) -> list[dict]:
    """Projects that reached construction (stage index ``construction`` or beyond) with no permit date,
    or with a permit dated after the start (``actual_construction``)."""
    out = []
    for r in projects.to_dict("records"):
        if int(r["stage_index"]) < construction:
            continue
        permit = permits.get(int(r["project_id"]))
        start = r.get("actual_construction")
        if permit is None:
            detail = "已开工，未录入施工许可日期 / started, no permit date"
        elif isinstance(start, date) and permit > start:
            detail = f"开工 {start.isoformat()} 早于施工许可 {permit.isoformat()} / started before the permit"
        else:
            continue
        out.append(row("start_without_permit", r["district"], r["street"], _project(r), detail, r["compound_id"]))
    return out


def self_check(
    projects: pd.DataFrame,
    tables: tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]],
    *,
    evidenced: Iterable[tuple[int, str]] | None,
    permits: dict[int, date],
    previous: dict[str, Any] | None,
    construction: int,
) -> pd.DataFrame:
    """Every flag of the four checks, in the order of :data:`CHECKS`. ``tables``: the report's
    (by_street, by_district, totals); ``evidenced`` None skips the evidence check (not gathered)."""
    by_street, by_district, totals = tables
    year = int(projects["year"].iloc[0]) if len(projects) else 0
    rows = [
        *(stage_without_evidence(projects, evidenced) if evidenced is not None else []),
        *finished_above_plan(by_street, by_district),
        *cumulative_fell(by_street, totals, previous, year),
        *start_without_permit(projects, permits, construction),
    ]
    columns = ["check", "check_zh", "check_en", "district", "street", "compound_id", "subject", "detail"]
    return pd.DataFrame(rows, columns=columns)
