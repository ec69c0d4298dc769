"""The 统计月报 of a dozen hand-made projects (no database) against the same figures computed here in
plain Python, one project at a time, from the README's definitions — never through gis.programme.

The projects cover what the set-based arithmetic must get right row by row: not started, every
stage, a stage reached after the report's date (not counted yet), a skipped stage, no plan at all,
a plan without a completion date, overdue by one stage or several, spending missing or given, two
districts with streets of one and several projects.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from gis.programme import MonthReport, Project, programme_defs
from gis.programme.monthly import MonthInputs
from gis.programme.status import project_frame
from gis.programme.store import CORRECTION_FIELDS

DEFS = programme_defs()
STAGES = ["survey", "design", "tender", "construction", "completed", "accepted"]
ON = date(2026, 7, 31)
D = date.fromisoformat
SKIP3 = [None, None, None]
PLAN = ["2026-01-10", "2026-02-10", "2026-03-10", "2026-04-10", "2026-07-20", "2026-08-20"]

# key: (district, street, buildings, households, m², planned investment, spent or None,
#       planned dates (None: that stage has none), actual dates (None: not reached))
CASES: dict[int, tuple[Any, ...]] = {
    1: ("甲区", "一街道", 4, 200, 15_000.0, "300.50", "120.25", PLAN, [None] * 6),  # not started: overdue
    2: ("甲区", "一街道", 6, 410, 30_500.5, "800.00", None, PLAN, ["2026-01-09", "2026-02-11", None, None, None, None]),
    3: ("甲区", "一街道", 2, 90, 7_000.0, "150.10", "150.10", PLAN, [*PLAN[:5], None]),  # completed on plan
    4: ("甲区", "二街道", 9, 720, 61_000.0, "1200.00", "600.00", PLAN, [*PLAN[:4], "2026-08-05", None]),
    5: ("甲区", "二街道", 1, 30, 2_500.0, "40.00", None, [None] * 6, [None] * 6),  # no plan: never overdue
    6: ("乙区", "三街道", 12, 960, 80_000.0, "2000.00", "1999.99", PLAN, ["2026-01-05", None, "2026-03-01", *SKIP3]),
    7: ("乙区", "三街道", 3, 150, 11_000.0, "90.00", "10.00", [*PLAN[:4], None, None], [*PLAN[:4], None, None]),
    8: ("乙区", "三街道", 5, 333, 25_025.25, "512.34", None, PLAN, PLAN),  # accepted 08-20: completed on 07-31
    9: ("乙区", "四街道", 7, 505, 40_000.0, "700.00", "0.00", PLAN, ["2026-01-10", *[None] * 5]),
    10: ("乙区", "四街道", 8, 640, 52_000.0, "650.00", "300.00", PLAN, [*PLAN[:3], "2026-07-31", None, None]),
    11: ("乙区", "四街道", 2, 120, 9_000.0, "100.00", None, PLAN, [*PLAN[:2], None, None, None, None]),
    12: ("乙区", "四街道", 10, 800, 66_000.0, "930.00", "930.00", PLAN, [*PLAN[:5], "2026-07-25"]),
}


def parse(days: list[str | None]) -> dict[str, date]:
    return {s: D(x) for s, x in zip(STAGES, days, strict=True) if x is not None}


def projects() -> list[Project]:
    return [
        Project(
            compound_id=k,
            year=2026,
            id=100 + k,
            investment_planned=Decimal(c[5]),
            planned=parse(c[7]),
            actual=parse(c[8]),
        )
        for k, c in CASES.items()
    ]


def compounds() -> pd.DataFrame:
    rows = [(k, f"小区{k}", c[0], c[1], c[2], c[3], c[4], "none") for k, c in CASES.items()]
    cols = ["compound_id", "name", "district", "street", "buildings", "households", "floor_area_m2", "property_mgmt"]
    return pd.DataFrame(rows, columns=cols)


def by_hand(on: date) -> list[dict[str, Any]]:
    """Each project's figures on ``on``, worked out here one at a time."""
    out = []
    for k, (district, street, bldgs, hh, area, plan, spent, planned, actual) in CASES.items():
        p, a = parse(planned), parse(actual)
        reached = [i for i, s in enumerate(STAGES) if s in a and a[s] <= on]
        at = max(reached) if reached else -1
        # overdue: a stage not reached had its planned date before the day; days from the first such
        missed = [p[s] for i, s in enumerate(STAGES) if i > at and s in p and p[s] < on]
        out.append(
            {
                "key": k,
                "district": district,
                "street": street,
                "projects": 1,
                "buildings": bldgs,
                "households": hh,
                "floor_area": area / 10_000,
                "investment_planned": float(plan),
                "investment_spent": float(spent) if spent is not None else 0.0,
                "not_started": int(at == -1),
                **{s: int(at == i) for i, s in enumerate(STAGES)},
                "started": int(at >= STAGES.index("construction")),
                "planned_finished": int("completed" in p and p["completed"] <= on),
                "finished": int(at >= STAGES.index("completed")),
                "overdue": int(bool(missed)),
                "days": (on - min(missed)).days if missed else 0,
            }
        )
    return out


SUMMED = ["projects", "buildings", "households", "floor_area", "investment_planned", "investment_spent"]
COUNTED = ["not_started", *STAGES, "started", "planned_finished", "finished", "overdue"]


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {c: sum(r[c] for r in rows) for c in SUMMED + COUNTED}
    out["max_days_behind"] = max([r["days"] for r in rows if r["overdue"]], default=0)
    out["finish_rate"] = 100 * out["finished"] / out["planned_finished"] if out["planned_finished"] else None
    return out


def report(on: date) -> MonthReport:
    spent = {100 + k: Decimal(c[6]) for k, c in CASES.items() if c[6] is not None}
    st = project_frame(projects(), compounds(), spent, on, DEFS)
    month = f"{on.year}-{on.month:02d}"
    nothing = pd.DataFrame(columns=CORRECTION_FIELDS)
    return MonthReport.compute(MonthInputs(month, on.year, on, st, nothing, DEFS, datetime(2026, 8, 1, tzinfo=UTC)))


def check(got: dict[str, Any], want: dict[str, Any], where: str) -> None:
    for c in [*SUMMED, *COUNTED, "max_days_behind"]:
        assert got[c] == pytest.approx(want[c]), (where, c, got[c], want[c])
    assert got["finish_rate"] == (pytest.approx(want["finish_rate"]) if want["finish_rate"] is not None else None)


@pytest.mark.parametrize("on", [date(2026, 1, 31), date(2026, 3, 31), ON, date(2026, 8, 31), date(2026, 12, 31)])
def test_every_street_district_and_total_as_worked_out_one_project_at_a_time(on: date) -> None:
    rep, rows = report(on), by_hand(on)
    streets = sorted({(r["district"], r["street"]) for r in rows})
    assert list(zip(rep.by_street["district"], rep.by_street["street"], strict=True)) == streets
    for (district, street), got in zip(streets, rep.by_street.to_dict("records"), strict=True):
        check(got, totals([r for r in rows if (r["district"], r["street"]) == (district, street)]), street)
    assert rep.by_district["district"].tolist() == sorted({r["district"] for r in rows})
    for got in rep.by_district.to_dict("records"):
        check(got, totals([r for r in rows if r["district"] == got["district"]]), got["district"])
    check(rep.totals, totals(rows), "合计")
    late = {r["key"]: r["days"] for r in rows if r["overdue"]}
    listed = rep.overdue.to_dict("records")
    assert {int(r["compound_id"]): int(r["days_behind"]) for r in listed} == late
    assert [int(r["days_behind"]) for r in listed] == sorted(late.values(), reverse=True)  # most behind first


def test_the_cases_are_what_their_comments_say() -> None:
    rows = {r["key"]: r for r in by_hand(ON)}
    assert rows[1]["not_started"] and rows[1]["overdue"] and rows[1]["days"] == (ON - D("2026-01-10")).days
    assert rows[5]["not_started"] and not rows[5]["overdue"]  # no plan, so never behind it
    assert rows[4]["construction"] and rows[4]["overdue"]  # completion reached after the day: not yet
    assert rows[10]["construction"] and rows[10]["overdue"]  # construction reached on the day itself
    assert rows[12]["accepted"] and rows[3]["completed"] and not rows[3]["overdue"]
    assert rows[6]["tender"]  # design skipped: the furthest stage reached counts
