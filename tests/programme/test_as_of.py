"""The programme as it stood at the end of each month, rebuilt from its event log, against what the
script says by hand.

The fixture's year is replayed month by month (January to August): the stages and spending of the
script, April's wrong start of construction at c4 corrected in May, and c3's plan moved in July.
After each month the database clock is read. Afterwards, ``as_of`` each of those instants must give
the stage every project had then, its spending and its plan, computed here from the script alone:
April as of April still has c4 in construction (the data now say tender on that day), June as of
June still has c3's old plan. The last instant gives exactly the stored state of now.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pandas as pd
import pytest
from sqlalchemy import text

from api.main import create_app
from gis.errors import ProjectNotFoundError
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers.live import serve
from tests.helpers.programme import PLAN, SCRIPT, STAGES, YEAR, Fixture, d, reach

CORRECTION = ("2026-05-10", "c4", "construction", "2026-05-06")  # really started on 05-06, not 04-28
REPLAN = ("2026-07-05", "c3", {"completed": "2026-12-20", "accepted": "2026-12-28"})
MONTHS = range(1, 9)


def month_end(m: int) -> date:
    return (pd.Timestamp(YEAR, m, 1) + pd.offsets.MonthEnd(0)).date()


def instant(fx: Fixture) -> datetime:
    with fx.ws.engine.connect() as conn:
        at: datetime = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    return at


def expected(m: int) -> dict[str, tuple[str | None, Decimal | None, date]]:
    """Per project: the stage reached at the end of month ``m``, the spending then and the planned
    completion, as known then: from the script's entries up to that month, by hand."""
    end = month_end(m)
    reached: dict[str, dict[str, date]] = {k: {} for k in PLAN}
    spent: dict[str, Decimal] = {}
    for entry in SCRIPT:
        when = d(entry[0])
        if when > end:
            continue
        if entry[2] == "spent":
            spent[entry[1]] = Decimal(entry[3])
        else:
            reached[entry[1]][entry[2]] = when
    if d(CORRECTION[0]) <= end:
        reached[CORRECTION[1]][CORRECTION[2]] = d(CORRECTION[3])
    out = {}
    for key, plan in PLAN.items():
        done = [s for s in STAGES if reached[key].get(s) is not None and reached[key][s] <= end]
        completed = d(plan[2][STAGES.index("completed")])
        if key == REPLAN[1] and d(REPLAN[0]) <= end:
            completed = d(REPLAN[2]["completed"])
        out[key] = (done[-1] if done else None, spent.get(key), completed)
    return out


def test_the_programme_as_of_each_month_end(planned: Fixture) -> None:
    fx, prog = planned, planned.ws.programme
    at: dict[int, datetime] = {}
    for m in MONTHS:
        for entry in [e for e in SCRIPT if d(e[0]).month == m]:
            when = d(entry[0])
            if entry[2] == "spent":
                prog.spend(fx.fid[entry[1]], entry[3], as_of=when, today=when, actor="街道填报员")
            else:
                reach(fx.ws, fx.fid[entry[1]], entry[2], when)
        if m == d(CORRECTION[0]).month:
            key, stage, on = CORRECTION[1], CORRECTION[2], d(CORRECTION[3])
            prog.correct(fx.fid[key], stage=stage, on=on, reason="开工日期以施工许可证为准", today=d(CORRECTION[0]))
        if m == d(REPLAN[0]).month:
            moved = {s: d(x) for s, x in zip(STAGES, PLAN[REPLAN[1]][2], strict=True)}
            moved.update({s: d(x) for s, x in REPLAN[2].items()})
            prog.plan(fx.fid[REPLAN[1]], YEAR, planned=moved, actor="区住建委")
        at[m] = instant(fx)
        if m == 4:  # April's report goes up on 3 May, before the correction
            prog.submit("2026-04", now=datetime(YEAR, 5, 3, 9, tzinfo=ZoneInfo("Asia/Shanghai")), actor="统计员")
            submitted = instant(fx)

    key_of = {fid: key for key, fid in fx.fid.items()}
    for m in MONTHS:
        st = prog.status(YEAR, month_end(m), as_of=at[m])
        got = {
            key_of[int(r.compound_id)]: (
                r.stage if isinstance(r.stage, str) else None,  # NaN: not started
                None if pd.isna(r.investment_spent) else Decimal(str(r.investment_spent)),
                r.planned_completed,
            )
            for r in st.itertuples()
        }
        assert got == expected(m), f"as of the end of month {m}"
    # what as_of adds over `on`: April with today's data has c4 at tender, as of April in construction
    april_now = prog.status(YEAR, month_end(4)).set_index("compound_id").loc[fx.fid["c4"], "stage"]
    april_then = prog.status(YEAR, month_end(4), as_of=at[4]).set_index("compound_id").loc[fx.fid["c4"], "stage"]
    assert (april_now, april_then) == ("tender", "construction")

    # April's report: as of April computed then (c4 counted in construction), after its submission
    # the report as sent, and today's data say tender
    def building(report: object) -> int:
        rows = report.by_street  # type: ignore[attr-defined]
        return int(rows.loc[rows["street"] == "清华园街道", "construction"].iloc[0])

    then, sent = prog.report_month("2026-04", as_of=at[4]), prog.report_month("2026-04", as_of=submitted)
    assert (then.locked, sent.locked, building(then), building(sent)) == (False, True, 1, 1)
    assert building(prog.report_month("2026-04", live=True)) == 0
    # the compounds' attributes and geometry come along, from the layer as it stood
    st = prog.status(YEAR, as_of=at[8])
    assert st.crs == fx.ws.working_crs and st.geometry.notna().all() and set(st["name"]) >= {"石油大院", "展春园"}
    # the history as of an instant holds what was recorded by then
    hist = prog.history(fx.fid["c4"], YEAR, as_of=at[4])
    assert not hist["correction"].any() and prog.history(fx.fid["c4"], YEAR, as_of=at[5])["correction"].any()


def test_the_last_instant_is_the_stored_state_and_before_the_plan_there_is_none(planned: Fixture) -> None:
    """The fold of every event against the stored tables (``programme_projects`` and its stage
    dates, written by another path): the same frame, column for column."""
    fx, prog = planned, planned.ws.programme
    for entry in SCRIPT[:20]:
        when = d(entry[0])
        if entry[2] == "spent":
            prog.spend(fx.fid[entry[1]], entry[3], as_of=when, today=when)
        else:
            prog.advance(fx.fid[entry[1]], entry[2], when, today=when)
    now = instant(fx)
    for on in (date(2026, 3, 31), date(2026, 6, 30)):
        stored = prog.status(YEAR, on)
        rebuilt = prog.status(YEAR, on, as_of=now)
        assert list(rebuilt.columns) == list(stored.columns)
        left = pd.DataFrame(rebuilt.drop(columns="geometry")).astype(object).where(rebuilt.notna(), None)
        right = pd.DataFrame(stored.drop(columns="geometry")).astype(object).where(stored.notna(), None)
        assert left.to_dict("records") == right.to_dict("records")
        assert rebuilt.geometry.geom_equals_exact(stored.geometry, tolerance=1e-6).all()
    pd.testing.assert_frame_equal(
        prog.risks_by_street(YEAR, date(2026, 6, 30), as_of=now), prog.risks_by_street(YEAR, date(2026, 6, 30))
    )
    with pytest.raises(ProjectNotFoundError):
        prog.status(as_of=date(2025, 12, 31))  # no programme yet then


def test_the_programme_api_as_of(planned: Fixture) -> None:
    ws, fid = planned.ws, planned.fid
    planner = {"Authorization": f"Bearer {add_user(ws.engine, '规划师', 'planner')}"}
    ws.programme.advance(fid["c1"], "survey", d("2026-01-12"), today=d("2026-01-12"))
    t1 = instant(planned)
    ws.programme.advance(fid["c1"], "design", d("2026-02-02"), today=d("2026-02-02"))
    t2 = instant(planned)
    with serve(create_app(workspace=ws)) as base, httpx.Client(base_url=base, timeout=60, headers=planner) as client:
        for at, stage in ((t1, "survey"), (t2, "design")):
            geo = client.get("/api/programme", params={"year": YEAR, "as_of": at.isoformat()})
            assert geo.status_code == 200, geo.text
            c1 = [f for f in geo.json()["features"] if f["properties"]["compound_id"] == fid["c1"]]
            assert c1[0]["properties"]["stage"] == stage
            one = client.get(f"/api/programme/{fid['c1']}", params={"as_of": at.isoformat()}).json()
            assert one["project"]["stage"] == stage and one["history"][-1]["stage_after"] == stage
        risks = client.get("/api/programme/risks", params={"as_of": t1.isoformat(), "on": "2026-03-31"})
        assert risks.status_code == 200 and {r["name"] for r in risks.json()["projects"]} >= {"石油大院"}
        assert client.get("/api/programme/property-coverage", params={"as_of": t2.isoformat()}).status_code == 200
        bad = client.get("/api/programme", params={"as_of": "31/03/2026"})
        assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
        assert "as_of" in bad.json()["detail"]
        before = client.get("/api/programme", params={"as_of": "2025-12-31"})
        assert before.status_code == 404  # no programme had been recorded by then


@pytest.mark.sample
def test_the_demo_programme_rebuilt_from_its_events_is_the_stored_one(ws: Workspace) -> None:
    """The demo's programme (a schedule imported in bulk, a year of progress, corrections,
    submissions): its event log folded is the stored state, on every month end."""
    prog = ws.programme
    with ws.engine.connect() as conn:
        now: datetime = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    year = prog.default_year()
    for m in range(1, 13):
        on = (pd.Timestamp(year, m, 1) + pd.offsets.MonthEnd(0)).date()
        stored, rebuilt = prog.projects_on(year, on), prog.projects_on(year, on, as_of=now)
        assert len(stored) > 0
        left = rebuilt.astype(object).where(rebuilt.notna(), None).to_dict("records")
        assert left == stored.astype(object).where(stored.notna(), None).to_dict("records"), on
