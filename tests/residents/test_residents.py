"""Consultations, notices and feedback on the sample (one database copy each): a property-management
vote that passes sets the project's planned mode through the programme (audited, the actor named);
what the public sends is held until a planner publishes it, scrubbed; the street figures are a pandas
count of what the test wrote."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pandas as pd
import pytest
from rich.console import Console

from gis import clock
from gis.demo import run_residents_demo
from gis.demo.residents import RESIDENTS_MARK
from gis.errors import AdminRequiredError, ConflictError, ProgrammeError
from gis.residents.consultations import Opening, Result
from gis.residents.public import Message, NoticeDraft
from gis.settings import Settings
from gis.workspace import Workspace
from tests.helpers.cli import run

pytestmark = pytest.mark.sample


def test_a_passed_property_vote_sets_the_planned_mode(ws: Workspace) -> None:
    projects = ws.programme.projects()
    row = projects.loc[projects["property_mgmt_after"] != "basic"].iloc[0]
    compound = int(row["compound_id"])
    today = clock.today()
    opening = Opening(
        "property_mgmt",
        "书面表决（发放表决票）",
        "引入准物业",
        today - timedelta(days=20),
        today - timedelta(days=5),
        "2400.00",
        48,
        proposal="准物业",
    )
    with pytest.raises(AdminRequiredError):
        ws.residents.open_consultation(compound, opening, role="public")
    c = ws.residents.open_consultation(compound, opening, actor="王工")
    assert (c["topic"], c["matter"], c["proposal"], c["channel"]) == ("property_mgmt", None, "basic", "ballot")
    ws.residents.record_results(
        c["id"],
        [
            Result("1号楼", "1000.00", 20, "700.00", 14, "200.00", 4),
            Result("2号楼", "700.00", 14, "300.00", 6, "300.00", 6),
        ],
        actor="王工",
    )
    with pytest.raises(ConflictError):  # counted already: a correction must name what it corrects
        ws.residents.record_results(c["id"], [Result("2号楼", "700.00", 14, "400.00", 8, "300.00", 6)], actor="王工")
    # as first counted: 1000 of 1700 m² in favour (58.8 % > 1/2) but 20 of 34 owners (58.8 %): passes;
    # the correction of building 2 (it was 500.00 m² / 10 in favour) stands in the place of the first count
    first = ws.residents.consultation(c["id"])["results"]
    b2 = next(r for r in first if r["unit"] == "2号楼")
    standing = ws.residents.record_results(
        c["id"], [Result("2号楼", "700.00", 14, "500.00", 10, "200.00", 4, supersedes=int(b2["id"]))], actor="李工"
    )
    assert sorted(standing["unit"]) == ["1号楼", "2号楼"] and len(ws.residents.consultation(c["id"])["results"]) == 3
    out = ws.residents.decide(c["id"], actor="王工")
    f = out["figures"]
    # participation 1700/2400 = 17/24 ≥ 2/3, 34/48 = 17/24; consent 1200/1700 = 12/17 > 1/2, 24/34 = 12/17
    assert out["passed"] and [line["share"] for line in f["lines"]] == ["17/24", "17/24", "12/17", "12/17"]
    assert f["rule_status"] == "confirmed" and "第二百七十八条" in f["rule_source"] and f["applied"]
    assert out["applied_mode"] == "basic" and out["actor"] == "王工"
    after = ws.programme.projects()
    assert after.loc[after["compound_id"] == compound, "property_mgmt_after"].iloc[-1] == "basic"
    events = ws.programme.history(compound_id=compound)
    last = events.iloc[-1]
    assert last["actor"] == "王工" and "征求居民意见" in last["reason"] and "property_mgmt_after" in last["changes"]
    # an outcome before the period closes is refused; a failed vote changes nothing
    early = ws.residents.open_consultation(
        compound, Opening("elevator", "meeting", "1号楼加装电梯", today, today + timedelta(days=3), "1000.00", 16)
    )
    ws.residents.record_results(early["id"], [Result("1号楼1单元", "800.00", 12, "599.99", 9, "200.01", 3)])
    with pytest.raises(ProgrammeError):
        ws.residents.decide(early["id"])
    failed = ws.residents.decide(early["id"], on=today + timedelta(days=3))
    assert (
        not failed["passed"]
        and failed["project_id"] is None
        and len(ws.programme.history(compound_id=compound)) == len(events)
    )


def test_notices_feedback_moderation_and_street_figures(ws: Workspace) -> None:
    compounds = ws.layer("compounds")[["fid", "district", "street"]]
    ids = [int(i) for i in compounds["fid"].head(3)]
    today = clock.today()
    n = ws.residents.add_notice(
        ids[0],
        NoticeDraft("改造方案公示", "<b>方案</b>", "<script>alert(1)</script> 方案全文", today, today + timedelta(7)),
    )
    ws.residents.add_notice(ids[1], NoticeDraft("plan", "已过期", "旧", today - timedelta(10), today - timedelta(3)))
    shown = ws.residents.public_notices()
    assert [s["id"] for s in shown] == [n["id"]] and shown[0]["body"].startswith("<script>")  # text, as written
    ws.residents.close_notice(n["id"], actor="王工")
    assert ws.residents.public_notices() == []
    with pytest.raises(ConflictError):
        ws.residents.close_notice(n["id"])
    # feedback: some back-dated (before the period), rated or not
    written = [
        (ids[0], 5, datetime.now(clock.zone())),
        (ids[0], 3, datetime.now(clock.zone())),
        (ids[1], None, datetime.now(clock.zone())),
        (ids[2], 4, datetime.now(clock.zone()) - timedelta(days=40)),
    ]
    made = [
        ws.residents.submit_feedback(c, Message(f"楼道灯坏了 电话13812345678 #{i}", r, "13812345678", received_at=at))
        for i, (c, r, at) in enumerate(written)
    ]
    assert ws.residents.published_feedback().empty  # nothing before moderation
    first = made[0]["id"]
    ws.residents.answer(first, "已报修，联系 010-62345678", actor="王工")
    ws.residents.publish(first, actor="王工")
    ws.residents.close(first, actor="李工")
    ws.residents.reject(made[1]["id"], actor="王工")
    with pytest.raises(ConflictError):
        ws.residents.publish(first)  # closed: no further step
    public = ws.residents.published_feedback()
    assert list(public["id"]) == [first] and list(public.columns) == [
        "id",
        "compound_id",
        "text",
        "rating",
        "reply",
        "received_at",
        "published_at",
    ]
    body = public.to_json(force_ascii=False, date_format="iso")
    assert "13812345678" not in body and "62345678" not in body and "〔已隐去〕" in body
    steps = ws.residents.feedback_item(first)["steps"]
    assert [(s["action"], s["actor"]) for s in steps] == [("answer", "王工"), ("publish", "王工"), ("close", "李工")]
    # the figures: a pandas count of what was written, received in the last 30 days
    start, end = today - timedelta(days=30), today
    figures = ws.residents.feedback_figures(start, end)
    assert list(figures.columns) == ["district", "street", "received", "answered", "closed", "rated", "satisfied"]
    mine = pd.DataFrame(
        [
            {
                "fid": c,
                "received": 1,
                "answered": int(k == 0),
                "closed": int(k == 0),
                "rated": int(r is not None),
                "satisfied": int(r is not None and r >= 4),
            }
            for k, (c, r, at) in enumerate(written)
            if start <= at.date() <= end
        ]
    ).merge(compounds, on="fid")
    expected = mine.groupby(["district", "street"])[["received", "answered", "closed", "rated", "satisfied"]].sum()
    got = figures.set_index(["district", "street"])
    assert got.loc[expected.index].equals(expected.astype(got.dtypes.to_dict()))
    assert got.drop(index=expected.index).sum().sum() == 0 and int(got["received"].sum()) == 3
    assert len(figures) == len(compounds.dropna(subset=["street"])[["district", "street"]].drop_duplicates())
    # the progress map's street figures carry the year's counts
    overview = ws.progress_overview()
    assert overview is not None
    year_start = date(today.year, 1, 1)
    year = ws.residents.feedback_figures(year_start, today).set_index(["district", "street"])
    for s in overview["streets"]:
        key = (s["district"], s["street"])
        want = int(year.loc[key, "received"]) if key in year.index else 0
        assert s["feedback_received"] == want


def test_the_demo_is_synthetic_passes_and_runs_once(ws: Workspace) -> None:
    console = Console(file=io.StringIO())
    run_residents_demo(ws, console)
    run_residents_demo(ws, console)  # adds nothing the second time
    consultations = ws.residents.consultations()
    assert len(consultations) == 1 and consultations["synthetic"].eq(RESIDENTS_MARK).all()
    outcome = ws.residents.outcomes().iloc[0]
    assert bool(outcome["passed"]) and outcome["applied_mode"] in ("basic", "professional")
    assert len(ws.residents.public_notices()) == 1 and len(ws.residents.published_feedback()) == 1
    assert ws.residents.feedback()["synthetic"].eq(RESIDENTS_MARK).all()


def test_the_command_line_decides_and_prints_text_escaped(ws: Workspace, settings: Settings) -> None:
    env = {"GISPLAN_DATABASE_URL": str(settings.database_url), "GISPLAN_HOME": str(settings.home)}
    compound = str(int(ws.programme.projects()["compound_id"].iloc[0]))
    today = clock.today()
    period = f"{today - timedelta(days=9)}:{today - timedelta(days=1)}"
    done = run(
        [
            "residents",
            "consult",
            "open",
            compound,
            "--topic",
            "menu",
            "--title",
            "点菜",
            "--period",
            period,
            "--totals",
            "300.00:30",
        ],
        env,
    )
    assert done.returncode == 0, done.stderr
    cid = int(done.stdout.split("#")[1].split(":")[0])
    # 20 of 30 owners and 200.00 of 300.00 m² take part (exactly 2/3); 101.00 m² / 11 owners in favour
    ws.residents.record_results(cid, [Result("1号楼", "200.00", 20, "101.00", 11, "99.00", 9)])
    done = run(["residents", "consult", "outcome", str(cid)], env)
    assert done.returncode == 0 and "通过 passed" in done.stdout and "2/3" in done.stdout, done.stdout + done.stderr
    ws.residents.submit_feedback(int(compound), Message("[bold]红字[/bold] =cmd|' /C calc'!A0", 1, "a@b.cn"))
    listed = run(["residents", "feedback", "list"], env)
    assert listed.returncode == 0 and "[bold]红字[/bold]" in listed.stdout and "a@b.cn" in listed.stdout
