"""A schedule import whose rows are of every kind at once, checked row by row against what each row
must do, written out here by hand: the events recorded (in the file's order, each naming who made it
and the file), the rows set aside (with their sheet rows and reasons) and nothing else changed; and a
progress report (stage and spending) that is one transaction.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import text

from gis.errors import StageOrderError
from tests.helpers.programme import YEAR, Fixture, fill

TODAY = date(YEAR, 6, 20)
FIRST = {  # the first import: four projects
    "石油大院": {"改造类别": "基础类", "计划开工": "2026-04-01", "实际摸底": "2026-01-12", "累计完成投资（万元）": 100},
    "林业小区": {"改造类别": "基础类", "计划开工": "2026-04-15", "实际摸底": "2026-01-16"},
    "展春园": {"改造类别": "基础类", "计划开工": "2026-05-01", "备注": "原计划"},
    "东王庄小区": {"改造类别": "基础类", "实际摸底": "2026-01-08", "累计完成投资（万元）": 300},
}


def events(fx: Fixture, after: int) -> list[tuple[Any, ...]]:
    """The events after id ``after``: (compound key, action, stage before and after, effective, changes,
    actor, role, source), oldest first."""
    key = {v: k for k, v in fx.fid.items()}
    with fx.ws.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT compound_id, action, stage_before, stage_after, effective, changes, actor, role, source "
                "FROM programme_events WHERE id > :a ORDER BY id"
            ),
            {"a": after},
        ).all()
    return [(key[int(r[0])], *r[1:]) for r in rows]


def last_event(fx: Fixture) -> int:
    with fx.ws.engine.connect() as conn:
        return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM programme_events")).scalar_one())


def file_order(path: Path) -> list[int]:
    """The compound ids of a schedule table's rows, top to bottom."""
    sheet = openpyxl.load_workbook(path)["时间配档表"]
    return [int(r[0]) for r in sheet.iter_rows(min_row=4, values_only=True) if isinstance(r[0], int)]


def test_rows_of_every_kind_in_one_file(compounds: Fixture, tmp_path: Path) -> None:
    ws, fid = compounds.ws, compounds.fid
    template = ws.programme.write_schedule(tmp_path / "t.xlsx", YEAR)
    filled = fill(template, tmp_path / "a.xlsx", FIRST)
    first = ws.programme.import_schedule(filled, actor="甲", today=TODAY, as_of=date(YEAR, 6, 1))
    # every row of the template is a project (c1-c7); c1 and c4: create, survey, spending; c2: create, survey
    assert (first.rows, first.created, first.updated, first.unchanged, first.events) == (7, 7, 0, 0, 12)
    mark = last_event(compounds)
    before = ws.programme.projects(YEAR).set_index("name")

    export = ws.programme.write_schedule(tmp_path / "e.xlsx", YEAR)
    second = {
        "石油大院": {"当前阶段": "方案设计", "实际设计": "2026-02-02", "累计完成投资（万元）": 150},  # 2 events
        "林业小区": {"累计完成投资（万元）": 50},  # the first spending figure: 1 event
        "展春园": {"备注": "改计划", "计划开工": "2026-05-10"},  # the plan: 1 event
        "东王庄小区": {"累计完成投资（万元）": 200},  # spending going down: set aside
        "荷清苑": {"改造类别": "基础类", "计划开工": "2026-06-01"},  # the plan of an empty project: 1 event
        "劲松一区": {"实际摸底": "2026-07-01"},  # in the future: set aside
    }  # 劲松二区's row is the export's own: unchanged
    extra = [
        {"小区编号": fid["c1"], "年度": YEAR, "实际招标": "2026-03-02"},  # 石油大院 a second time: set aside
        {"小区编号": 999, "年度": YEAR},  # no such compound
        {"小区名称": "未列入计划小区", "街道": "劲松街道", "年度": YEAR, "改造类别": "基础类"},  # by name: new
        {"小区名称": "未列入计划小区", "街道": "学院路街道", "年度": YEAR},  # not in that street
    ]
    path = fill(export, tmp_path / "b.xlsx", second, extra)
    as_of = date(YEAR, 6, 15)
    report = ws.programme.import_schedule(path, actor="乙", today=TODAY, as_of=as_of)
    assert (report.rows, report.created, report.updated, report.unchanged) == (11, 1, 4, 1)
    assert report.events == 2 + 1 + 1 + 1 + 1
    reasons = {p.key: p.reason for p in report.rejected}
    assert set(reasons) == {str(fid["c4"]), str(fid["c6"]), str(fid["c1"]), "999", "未列入计划小区"}
    assert "不能减少" in reasons[str(fid["c4"])] and "future" in reasons[str(fid["c6"])]
    assert "重复行" in reasons[str(fid["c1"])] and "无此小区编号" in reasons["999"]
    assert "无此小区" in reasons["未列入计划小区"]
    rows = [p.row for p in report.rejected]
    assert rows == sorted(rows) and max(rows) == 3 + 7 + 4  # named by sheet row, in the file's order

    def by(
        actor: str, action: str, changes: dict[str, Any], stage: tuple[Any, Any] = (None, None), eff: Any = None
    ) -> tuple[Any, ...]:
        return (action, *stage, eff, changes, actor, "planner", "b.xlsx")

    want = {
        "c1": [
            by("乙", "advance", {"actual.design": [None, "2026-02-02"]}, ("survey", "design"), date(YEAR, 2, 2)),
            by("乙", "spent", {"investment_spent": ["100.00", "150.00"]}, eff=as_of),
        ],
        "c2": [by("乙", "spent", {"investment_spent": [None, "50.00"]}, eff=as_of)],
        "c3": [by("乙", "plan", {"note": ["原计划", "改计划"], "planned.construction": ["2026-05-01", "2026-05-10"]})],
        "c5": [by("乙", "plan", {"categories": [None, ["basic"]], "planned.construction": [None, "2026-06-01"]})],
        "c8": [by("乙", "create", {"categories": [None, ["basic"]]})],
    }
    got = events(compounds, mark)
    key = {v: k for k, v in fid.items()}
    order = [key[f] for f in file_order(export)] + ["c8"]  # the extra rows come last
    assert [e[0] for e in got] == [k for k in order if k in want for _ in want[k]]  # in the file's order
    assert {k: [e[1:] for e in got if e[0] == k] for k in want} == want

    after = ws.programme.projects(YEAR).set_index("name")
    for name in ("东王庄小区", "劲松一区", "劲松二区"):  # set aside or unchanged: exactly as they were
        assert after.loc[name].equals(before.loc[name]), name
    assert after.loc["石油大院", "stage"] == "design" and after.loc["石油大院", "investment_spent"] == 150
    assert after.loc["林业小区", "investment_spent"] == 50 and after.loc["未列入计划小区", "categories"] == ["basic"]
    layer = ws.layer("compounds").set_index("name")  # the compounds follow, in one update, audited as 乙's
    assert layer.loc["石油大院", "stage"] == "design" and layer.loc["未列入计划小区", "plan_year"] == YEAR
    with ws.engine.connect() as conn:
        actors = conn.execute(
            text("SELECT actor FROM audit_log WHERE layer = 'compounds' AND fid = :f ORDER BY id"), {"f": fid["c1"]}
        ).scalars()
        assert list(actors)[-1] == "乙"


def test_a_stage_and_its_spending_are_one_transaction(planned: Fixture) -> None:
    prog, fid = planned.ws.programme, planned.fid["c1"]
    prog.progress(fid, stage="survey", on=date(YEAR, 1, 12), spent="100", today=TODAY)
    mark = last_event(planned)
    with pytest.raises(StageOrderError, match="不能减少"):  # the stage is fine, the spending goes down
        prog.progress(fid, stage="design", on=date(YEAR, 2, 2), spent="50", today=TODAY)
    assert events(planned, mark) == []  # neither was recorded
    st = prog.projects(YEAR).set_index("compound_id")
    assert st.loc[fid, "stage"] == "survey" and st.loc[fid, "investment_spent"] == 100
    prog.progress(fid, stage="design", on=date(YEAR, 2, 2), spent=Decimal("120"), today=TODAY)
    assert [(e[1], e[3]) for e in events(planned, mark)] == [("advance", "design"), ("spent", None)]
