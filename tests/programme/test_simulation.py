"""A programme year replayed month by month (January to November) against a real PostGIS.

Stages advance from the script, one project slips, one report is filed late, one correction is
made after its month was locked. Every submitted report is checked against figures computed here
from the fixture rows alone; the lock, the stored reports and the audit trail are checked too.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pandas as pd
import pytest
import sqlalchemy.exc
from sqlalchemy import text

from gis.programme import AdminRequiredError, LockedMonthError, StageOrderError
from gis.store.engine import migration_engine
from tests.helpers.programme import COMPOUNDS, PLAN, SCRIPT, STAGES, YEAR, Fixture, d, reach

SH = ZoneInfo("Asia/Shanghai")
CORRECTION = ("2026-05-10", "c4", "construction", "2026-05-06", "开工日期录入错误，以施工许可证为准")
LATE_MONTH = 6  # June's report goes up on 9 July, after the deadline (the 5th)


def month_end(m: int) -> date:
    return (pd.Timestamp(YEAR, m, 1) + pd.offsets.MonthEnd(0)).date()


def expected(truth: dict[str, dict[str, date]], spent: dict[str, list[tuple[date, Decimal]]], m: int) -> pd.DataFrame:
    """The report's figures per street, from the fixture rows alone (never through gis.programme)."""
    end = month_end(m)
    rows = []
    for key, _name, district, street, buildings, households, area, _mgmt, _lon, _lat in COMPOUNDS:
        if key not in PLAN:
            continue
        planned = dict(zip(STAGES, [date.fromisoformat(x) for x in PLAN[key][2]], strict=True))
        reached = [i for i, s in enumerate(STAGES) if truth.get(key, {}).get(s) and truth[key][s] <= end]
        idx = max(reached) if reached else -1
        missed = [planned[s] for i, s in enumerate(STAGES) if i > idx and planned[s] < end]
        money = [amount for when, amount in spent.get(key, []) if when <= end]
        rows.append(
            {
                "district": district,
                "street": street,
                "projects": 1,
                "buildings": buildings,
                "households": households,
                "floor_area": area / 10_000,
                "investment_planned": float(PLAN[key][3]),
                "investment_spent": float(money[-1]) if money else 0.0,
                "not_started": int(idx == -1),
                **{s: int(idx == i) for i, s in enumerate(STAGES)},
                "started": int(idx >= 3),
                "planned_finished": int(planned["completed"] <= end),
                "finished": int(idx >= 4),
                "overdue": int(bool(missed)),
                "days": (end - min(missed)).days if missed else 0,
                "key": key,
            }
        )
    return pd.DataFrame(rows)


SUMMED = [
    "projects",
    "buildings",
    "households",
    "floor_area",
    "investment_planned",
    "investment_spent",
    "not_started",
    *STAGES,
    "started",
    "planned_finished",
    "finished",
    "overdue",
]


def check_report(rep: Any, exp: pd.DataFrame) -> None:
    by = exp.groupby(["district", "street"], as_index=False)[SUMMED].sum()
    got = rep.by_street.sort_values(["district", "street"]).reset_index(drop=True)
    assert list(got["street"]) == list(by["street"])
    for col in SUMMED:
        assert got[col].astype(float).tolist() == pytest.approx(by[col].astype(float).tolist()), col
        assert float(rep.totals[col]) == pytest.approx(float(exp[col].sum())), col
    days = exp.groupby(["district", "street"])["days"].max().tolist()
    assert got["max_days_behind"].tolist() == days
    assert rep.totals["max_days_behind"] == exp["days"].max()
    rate = exp["finished"].sum() / exp["planned_finished"].sum() * 100 if exp["planned_finished"].sum() else None
    assert rep.totals["finish_rate"] == (pytest.approx(rate) if rate is not None else None)
    late = exp[exp["overdue"] == 1].set_index("key")["days"].to_dict()
    fid_to_key = {v: k for k, v in FIDS.items()}
    assert {fid_to_key[int(r["compound_id"])]: int(r["days_behind"]) for r in rep.overdue.to_dict("records")} == late


FIDS: dict[str, int] = {}


def test_a_programme_year_month_by_month(planned: Fixture) -> None:
    ws, fid = planned.ws, planned.fid
    FIDS.clear()
    FIDS.update(fid)
    prog = ws.programme
    truth: dict[str, dict[str, date]] = {}
    spent: dict[str, list[tuple[date, Decimal]]] = {}
    stored: dict[int, dict[str, Any]] = {}
    script = sorted([*SCRIPT, (*CORRECTION[:3], "correct")], key=lambda e: e[0])

    for m in range(1, 12):
        for entry in [e for e in script if date.fromisoformat(e[0]).month == m]:
            when, key = date.fromisoformat(entry[0]), entry[1]
            if entry[-1] == "correct":
                _, _, stage, new, reason = CORRECTION
                # a planner may not; the admin may, with a reason
                with pytest.raises(AdminRequiredError):
                    prog.correct(fid[key], stage=stage, on=d(new), reason=reason, role="planner", today=when)
                prog.correct(
                    fid[key], stage=stage, on=d(new), reason=reason, actor="区住建委管理员", role="admin", today=when
                )
                truth[key][stage] = d(new)
            elif entry[2] == "spent":
                prog.spend(fid[key], entry[3], as_of=when, today=when, actor="街道填报员")
                spent.setdefault(key, []).append((when, Decimal(entry[3])))
            else:
                reach(ws, fid[key], entry[2], when)
                truth.setdefault(key, {})[entry[2]] = when
        month = f"{YEAR}-{m:02d}"
        day = 9 if m == LATE_MONTH else 3
        now = datetime(YEAR, m + 1, day, 10, 0, tzinfo=SH)
        rep = prog.submit(month, now=now, actor="区住建委统计员")
        check_report(rep, expected(truth, spent, m))
        assert rep.locked and rep.late == (m == LATE_MONTH) and rep.deadline == date(YEAR, m + 1, 5)
        assert ws.report_month(month).to_dict() == rep.to_dict()  # what was stored is what was returned
        stored[m] = rep.to_dict()

        if m == 4:
            # the lock holds: a second submission, a date inside the locked month, a step back
            n = _events(ws)
            with pytest.raises(LockedMonthError):
                prog.submit(month, now=now, actor="区住建委统计员")
            with pytest.raises(LockedMonthError):
                prog.advance(fid["c5"], "tender", date(YEAR, 4, 30), today=date(YEAR, 5, 4))
            with pytest.raises(StageOrderError):
                prog.advance(fid["c1"], "design", date(YEAR, 5, 4), today=date(YEAR, 5, 4))
            with pytest.raises(LockedMonthError):
                prog.spend(fid["c1"], "90", as_of=date(YEAR, 4, 30), today=date(YEAR, 5, 4))
            assert _events(ws) == n  # refused writes leave nothing behind

    # the slipping project: planned to start construction on 1 May, started on 20 August
    days = {m: _overdue(stored[m], fid["c3"]) for m in range(4, 9)}
    assert days == {
        4: None,
        5: (month_end(5) - date(YEAR, 5, 1)).days,
        6: (month_end(6) - date(YEAR, 5, 1)).days,
        7: (month_end(7) - date(YEAR, 5, 1)).days,
        8: None,
    }
    assert next(r for r in stored[5]["overdue"] if r["compound_id"] == fid["c3"])["due_stage_zh"] == "施工"

    # the correction after April was locked: April as sent still counts c4 in construction, the data
    # now say tender; May's report lists the correction, June's does not repeat it
    april_now = ws.report_month(f"{YEAR}-04", live=True)
    assert ws.report_month(f"{YEAR}-04").to_dict() == stored[4]
    qh = {r["street"]: r for r in stored[4]["by_street"]}["清华园街道"]
    qh_now = april_now.by_street.set_index("street").loc["清华园街道"]
    assert (qh["construction"], qh["tender"]) == (qh_now["construction"] + 1, qh_now["tender"] - 1)
    assert [(c["name"], c["corrects_month"], c["reason"]) for c in stored[5]["corrections"]] == [
        ("东王庄小区", f"{YEAR}-04", CORRECTION[4])
    ]
    assert "2026-04-28 → 2026-05-06" in stored[5]["corrections"][0]["change"]
    assert all(not stored[m]["corrections"] for m in range(1, 12) if m != 5)
    assert [m for m in range(1, 12) if stored[m]["late"]] == [LATE_MONTH]

    # the database refuses to rewrite history: to the app by its privileges, to the owner by the triggers
    for sql in ("UPDATE programme_submissions SET late = false", "DELETE FROM programme_events"):
        with pytest.raises(sqlalchemy.exc.DBAPIError, match="permission denied"), ws.engine.begin() as conn:
            conn.execute(text(sql))
        with (
            migration_engine(ws.engine) as owner,
            pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"),
            owner.begin() as conn,
        ):
            conn.execute(text(sql))

    # the audit log tells c4's whole story, in order
    story = ws.programme.history(fid["c4"])
    got = [
        (r.action, r.stage_before, r.stage_after, r.effective, r.correction, r.corrects_month, r.actor, r.role)
        for r in story.itertuples()
    ]
    f = "街道填报员"
    assert got == [
        ("create", None, None, None, False, None, "fixture", "planner"),
        ("advance", None, "survey", d("2026-01-08"), False, None, f, "planner"),
        ("advance", "survey", "design", d("2026-02-05"), False, None, f, "planner"),
        ("advance", "design", "tender", d("2026-03-12"), False, None, f, "planner"),
        ("advance", "tender", "construction", d("2026-04-28"), False, None, f, "planner"),
        ("correct", "construction", "construction", d("2026-04-28"), True, "2026-04", "区住建委管理员", "admin"),
        ("spent", None, None, d("2026-05-31"), False, None, f, "planner"),
        ("spent", None, None, d("2026-08-31"), False, None, f, "planner"),
        ("advance", "construction", "completed", d("2026-09-25"), False, None, f, "planner"),
        ("advance", "completed", "accepted", d("2026-10-30"), False, None, f, "planner"),
    ]
    assert story.iloc[5]["changes"] == {"actual.construction": ["2026-04-28", "2026-05-06"]}
    assert story.iloc[5]["reason"] == CORRECTION[4]
    assert story.iloc[7]["changes"] == {"investment_spent": ["300.00", "1500.00"]}
    # ... and the compound layer followed each stage, audited as layer edits by the same people
    with ws.engine.connect() as conn:
        trail = conn.execute(
            text(
                "SELECT actor, after->>'stage' AS stage, after->>'plan_year' AS y FROM audit_log "
                "WHERE layer = 'compounds' AND fid = :f AND action = 'update' ORDER BY id"
            ),
            {"f": fid["c4"]},
        ).all()
    assert [(t.actor, t.stage) for t in trail] == [
        ("fixture", None),
        (f, "survey"),
        (f, "design"),
        (f, "tender"),
        (f, "construction"),
        (f, "completed"),
        (f, "accepted"),
    ]
    layer = ws.layer("compounds").set_index("fid")
    assert layer.loc[fid["c4"], "stage"] == "accepted" and layer.loc[fid["c3"], "stage"] == "construction"
    assert pd.isna(layer.loc[fid["c8"], "stage"])  # not in the programme: untouched
    assert list(layer.loc[fid["c3"], "categories"]) == ["basic", "complete", "improve"]

    # the November report, written out, says the same in the bureau's layout
    nov = ws.report_month(f"{YEAR}-11")
    exp = expected(truth, spent, 11)
    check_report(nov, exp)
    check_xlsx(nov.write(planned.compounds_path.parent / "月报.xlsx"), exp)
    check_csv(nov.write(planned.compounds_path.parent / "月报.csv"), exp)


def _events(ws: Any) -> int:
    with ws.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM programme_events")).scalar_one())


def _overdue(report: dict[str, Any], compound_id: int) -> int | None:
    rows = [r for r in report["overdue"] if r["compound_id"] == compound_id]
    return rows[0]["days_behind"] if rows else None


def check_xlsx(path: Any, exp: pd.DataFrame) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb["统计月报"]
    cells = {(c.row, c.column): c.value for row in ws.iter_rows() for c in row if c.value is not None}
    assert cells[(1, 1)] == f"朝阳区、海淀区城镇老旧小区改造统计月报（{YEAR}年11月）"
    assert any(v == "单位：个、栋、户、万平方米、万元" for v in cells.values())
    assert any(isinstance(v, str) and v.startswith("填报单位：") for v in cells.values())
    assert any(isinstance(v, str) and v.startswith("填报日期：") for v in cells.values())
    header: dict[str, int] = {}
    for (r, c), v in sorted(cells.items()):
        if r == 4 and isinstance(v, str):
            header.setdefault(v, c)  # the first 项目（个） is the projects; the second, under 滞后, the overdue
    total_row = next(r for (r, c), v in cells.items() if v == "合计")
    assert cells[(total_row, header["户数（户）"])] == exp["households"].sum()
    assert cells[(total_row, header["项目（个）"])] == len(exp)
    assert cells[(total_row, header["建筑面积（万平方米）"])] == pytest.approx(round(exp["floor_area"].sum(), 2))
    assert cells[(total_row, header["计划"])] == pytest.approx(exp["investment_planned"].sum())
    street_rows = [r for (r, c), v in cells.items() if c == 2 and v in set(exp["street"])]
    assert len(street_rows) == exp["street"].nunique()
    # street rows add up to the total row, column by column
    for col in header.values():
        if (
            col > 2
            and isinstance(cells.get((total_row, col)), int | float)
            and header.get("完成率（%）") != col
            and header.get("最长天数") != col
        ):
            assert sum(cells.get((r, col), 0) for r in street_rows) == pytest.approx(cells[(total_row, col)], abs=0.011)
    texts = [v for v in cells.values() if isinstance(v, str)]
    assert any(t.startswith("一、滞后项目") for t in texts) and any(t.startswith("二、更正事项") for t in texts)
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
    assert any(str(rng).startswith("A1:") for rng in ws.merged_cells.ranges)
    assert ws.cell(1, 1).font.name == "宋体"


def check_csv(path: Any, exp: pd.DataFrame) -> None:
    frame = pd.read_csv(path, encoding="utf-8-sig")
    total = frame[frame["区县"] == "合计"].iloc[0]
    assert total["项目数（个）"] == len(exp)
    assert total["户数（户）"] == exp["households"].sum()
    assert total["滞后项目（个）"] == exp["overdue"].sum()
    streets = frame[frame["街道"].isin(set(exp["street"]))]
    assert streets["户数（户）"].sum() == total["户数（户）"]
