"""The schedule table (时间配档表): template → filled by hand → import → export keeps every value;
bad rows are set aside with their reasons, and --strict writes nothing."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import text

from gis.errors import GisError, ImportRefusedError
from gis.ogc import edits
from gis.programme import ProgrammeError, parse_date, parse_money
from tests.helpers.programme import COMPOUNDS, YEAR, Fixture, fill

TODAY = date(YEAR, 6, 20)


def sheet_rows(path: Path) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Header names and every row keyed by compound name, as openpyxl reads the file."""
    ws = openpyxl.load_workbook(path, data_only=True)["时间配档表"]
    rows = list(ws.iter_rows(values_only=True))
    header_at = next(i for i, r in enumerate(rows) if r and "小区编号" in r)
    header = [str(v) for v in rows[header_at]]
    out = {}
    for r in rows[header_at + 1 :]:
        if any(v is not None for v in r):
            values = dict(zip(header, r, strict=True))
            out[str(values["小区名称"])] = values
    return header, out


FILLED = {
    # name: values a planner types in (text dates in several spellings, Excel dates, lists with 、 or ,)
    "石油大院": {
        "改造类别": "基础类、完善类",
        "改造内容": "供水、排水,加装电梯",
        "计划摸底": "2026-01-10",
        "计划设计": "2026/2/1",
        "计划招标": "2026年3月1日",
        "计划开工": date(2026, 4, 1),
        "计划完工": "2026.8.31",
        "计划验收": "20260930",
        "实际摸底": "2026年1月12日",
        "实际设计": datetime(2026, 2, 2),
        "实际招标": "2026-03-02",
        "实际开工": "2026-04-01",
        "计划投资（万元）": 1200.5,
        "累计完成投资（万元）": "450",
        "中央补助（万元）": 600,
        "地方财政（万元）": "500.50",
        "居民出资（万元）": 100,
        "改造后物业管理": "专业物业",
        "责任街道": "学院路街道",
        "责任部门": "区住房城乡建设委",
        "备注": "加装电梯 3 部",
    },
    "东王庄小区": {
        "改造类别": "基础类",
        "改造内容": "供热、屋面、外墙、楼梯等公共部位维修",
        "当前阶段": "招投标",
        "计划摸底": "2026-01-05",
        "计划开工": "2026-04-20",
        "计划完工": "2026-09-30",
        "实际摸底": "2026-01-08",
        "实际设计": "2026-02-05",
        "实际招标": "2026-03-12",
        "计划投资（万元）": "2300",
        "专项债券（万元）": "2300.00",
        "改造后物业管理": "准物业",
    },
    "劲松一区": {
        "改造类别": "基础类",
        "改造内容": "供水",
        "计划开工": "2026-05-10",
        "计划完工": "2026-10-10",
        "计划投资（万元）": 1500,
    },
}


def normalised(v: Any) -> Any:
    """What a planner means by a cell: dates as dates, numbers as numbers, lists as sets."""
    if v is None or v == "":
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, str):
        s = v.strip()
        for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y.%m.%d", "%Y%m%d"):
            try:
                return datetime.strptime(s, fmt).date()
            except ValueError:
                pass
        try:
            return Decimal(s)
        except ArithmeticError:
            pass
        if "、" in s or "," in s:
            return s
        return s
    if isinstance(v, int | float):
        return Decimal(str(v)).normalize()
    return v


def lists(v: Any) -> Any:
    return set(str(v).replace(",", "、").split("、")) if isinstance(v, str) else v


def test_template_fill_import_export_keeps_every_value(compounds: Fixture, tmp_path: Path) -> None:
    ws = compounds.ws
    template = ws.programme.write_schedule(tmp_path / "配档表.xlsx", YEAR)
    header, rows = sheet_rows(template)
    planned = {c[1] for c in COMPOUNDS if c[0] != "c8"}
    assert set(rows) == planned  # a row per compound planned for the year
    assert rows["石油大院"]["户数"] == 960 and rows["石油大院"]["年度"] == YEAR

    filled = fill(template, tmp_path / "filled.xlsx", FILLED)
    report = ws.programme.import_schedule(filled, actor="规划师", today=TODAY)
    assert report.rejected == [] and report.created == len(planned) and report.rows == len(planned)

    exported = ws.programme.write_schedule(tmp_path / "export.xlsx", YEAR)
    header2, back = sheet_rows(exported)
    assert header2 == header
    for name, typed in FILLED.items():
        for column, value in typed.items():
            got = back[name][column]
            if column in ("改造类别", "改造内容"):
                # 、-joined labels; the item 屋面、外墙、楼梯等公共部位维修 itself contains 、
                assert lists(got) == lists(value) or got == value, (name, column, got, value)
            else:
                assert normalised(got) == normalised(value), (name, column, got, value)
    # the stage follows the actual dates; the compound layer follows the programme
    assert back["石油大院"]["当前阶段"] == "施工" and back["东王庄小区"]["当前阶段"] == "招投标"
    assert back["劲松一区"]["当前阶段"] is None
    layer = ws.layer("compounds").set_index("name")
    assert layer.loc["石油大院", "stage"] == "construction" and layer.loc["东王庄小区", "stage"] == "tender"

    # importing the export again changes nothing
    again = ws.programme.import_schedule(exported, actor="规划师", today=TODAY)
    assert (again.created, again.updated, again.events, again.rejected) == (0, 0, 0, [])
    assert again.unchanged == len(planned)


def test_bad_rows_are_set_aside_with_reasons_and_strict_writes_nothing(compounds: Fixture, tmp_path: Path) -> None:
    ws = compounds.ws
    template = ws.programme.write_schedule(tmp_path / "t.xlsx", YEAR)
    bad = {
        "石油大院": {"改造类别": "基础类", "计划开工": "2026-13-01"},  # no 13th month
        "林业小区": {"改造类别": "基础类", "当前阶段": "竣工验收备案"},  # no such stage
        "展春园": {"改造类别": "基础类", "当前阶段": "施工", "实际摸底": "2026-02-03"},  # stage without its date
        "东王庄小区": {"改造类别": "基础类", "实际摸底": "2026-07-01"},  # in the future
        "荷清苑": {"改造类别": "基础类", "改造内容": "加装电梯"},  # a 完善类 item, category not given
        "劲松一区": {"改造类别": "基础类", "计划投资（万元）": "-5"},
        "劲松二区": {
            "改造类别": "基础类",
            "改造内容": "供水",
            "计划开工": "2026-05-01",
            "计划投资（万元）": 80,
        },  # good
    }
    extra = [{"小区编号": 999, "小区名称": "不存在的小区", "年度": YEAR}]
    filled = fill(template, tmp_path / "bad.xlsx", bad, extra)

    def state() -> tuple[Any, ...]:
        with ws.engine.connect() as conn:
            return tuple(
                conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("programme_projects", "programme_events", "programme_stage_dates", "audit_log")
            )

    before = state()
    with pytest.raises(ImportRefusedError) as refused:
        ws.programme.import_schedule(filled, strict=True, actor="规划师", today=TODAY)
    assert state() == before  # strict: nothing at all was written
    report = refused.value.report
    reasons = {p.key: p.reason for p in report.rejected}  # type: ignore[union-attr]
    fid = compounds.fid
    assert set(reasons) == {str(fid[k]) for k in ("c1", "c2", "c3", "c4", "c5", "c6")} | {"999"}
    assert "计划开工" in reasons[str(fid["c1"])] and "not a real date" in reasons[str(fid["c1"])]
    assert "当前阶段" in reasons[str(fid["c2"])] and "竣工验收备案" in reasons[str(fid["c2"])]
    assert "当前阶段与实际日期不符" in reasons[str(fid["c3"])]
    assert "future" in reasons[str(fid["c4"])]
    assert "完善类" in reasons[str(fid["c5"])]
    assert "计划投资" in reasons[str(fid["c6"])]
    assert "999" in reasons["999"]
    rows = {p.key: p.row for p in report.rejected}  # type: ignore[union-attr]
    assert rows["999"] == max(rows.values())  # rows are named by their sheet row number

    # without --strict the good row goes in, the others are listed
    ok = ws.programme.import_schedule(filled, actor="规划师", today=TODAY)
    assert (ok.created, len(ok.rejected)) == (1, 7)
    st = ws.programme.projects(YEAR)
    assert st["name"].tolist() == ["劲松二区"] and st["investment_planned"].tolist() == [80.0]


def test_import_refuses_changes_only_an_admin_may_make(compounds: Fixture, tmp_path: Path) -> None:
    ws = compounds.ws
    template = ws.programme.write_schedule(tmp_path / "t.xlsx", YEAR)
    first = {
        "石油大院": {
            "改造类别": "基础类",
            "实际摸底": "2026-01-12",
            "实际设计": "2026-02-02",
            "累计完成投资（万元）": 300,
        }
    }
    ws.programme.import_schedule(fill(template, tmp_path / "a.xlsx", first), actor="规划师", today=TODAY)
    export = ws.programme.write_schedule(tmp_path / "e.xlsx", YEAR)
    for change, reason in (
        ({"实际设计": "2026-02-09"}, "更正须由管理员"),  # a reported date changed
        ({"实际设计": None}, "不能删除"),  # a reported date removed
        ({"累计完成投资（万元）": 100}, "不能减少"),  # spending going down
    ):
        report = ws.programme.import_schedule(fill(export, tmp_path / "c.xlsx", {"石油大院": change}), today=TODAY)
        assert len(report.rejected) == 1 and reason in report.rejected[0].reason, report.rejected
    st = ws.programme.projects(YEAR).set_index("name")
    assert st.loc["石油大院", "actual_design"] == date(2026, 2, 2) and st.loc["石油大院", "investment_spent"] == 300


def test_a_compound_with_a_project_is_not_deleted_or_replaced_away(planned: Fixture) -> None:
    ws = planned.ws
    layer = ws.registry.layer("compounds")
    fid = planned.fid["c1"]
    version = edits.current_version(ws.engine, layer, fid)
    assert version is not None
    with pytest.raises(edits.EditError, match="renovation project"):
        edits.delete(ws.engine, layer, fid, expected_version=version, actor="规划师")
    with pytest.raises(GisError):  # --replace would delete the compounds the projects refer to
        ws.load("compounds", planned.compounds_path, replace=True, actor="规划师")
    assert len(ws.layer("compounds")) == 8 and len(ws.programme.projects(YEAR)) == 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-15", date(2026, 3, 15)),
        ("2026/3/5", date(2026, 3, 5)),
        ("2026年3月15日", date(2026, 3, 15)),
        ("2026.3.15", date(2026, 3, 15)),
        ("20260315", date(2026, 3, 15)),
        (datetime(2026, 3, 15), date(2026, 3, 15)),
        (46096, date(2026, 3, 15)),
        ("", None),
        (None, None),
    ],
)
def test_dates_as_planners_write_them(text: Any, expected: date | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["2026-02-30", "3月15日", "明天", "2026-03-15 10:30", 1.5, datetime(2026, 3, 15, 9)])
def test_dates_that_are_not_dates_are_refused(text: Any) -> None:
    with pytest.raises(ValueError):
        parse_date(text)


@pytest.mark.parametrize("text", ["-1", "1.234", "abc", "1e12", "NaN", "inf"])
def test_amounts_that_are_not_amounts_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_money(text)


def test_a_skipped_stage_date_can_be_filled_in_and_spending_corrections_keep_their_date(planned: Fixture) -> None:
    prog, fid = planned.ws.programme, planned.fid["c2"]
    today = date(YEAR, 6, 30)
    prog.advance(fid, "survey", date(YEAR, 1, 16), today=today)
    prog.advance(fid, "tender", date(YEAR, 3, 16), today=today)  # design's date not reported
    with pytest.raises(ProgrammeError, match="before"):
        prog.advance(fid, "design", date(YEAR, 3, 20), today=today)  # after tender: impossible
    prog.advance(fid, "design", date(YEAR, 2, 18), today=today)  # filled in, stage unchanged
    prog.spend(fid, "100", as_of=date(YEAR, 5, 31), today=today)
    prog.spend(fid, "200", as_of=date(YEAR, 6, 30), today=today)
    prog.correct(
        fid,
        actual={"survey": date(YEAR, 1, 15)},
        investment_spent="150",
        spent_as_of=date(YEAR, 6, 30),
        reason="核对合同",
        today=today,
    )
    h = prog.history(fid)
    assert [(r.action, r.stage_after, r.effective) for r in h.itertuples()][1:4] == [
        ("advance", "survey", date(YEAR, 1, 16)),
        ("advance", "tender", date(YEAR, 3, 16)),
        ("fill", "tender", date(YEAR, 2, 18)),
    ]
    fixes = h[h["action"] == "correct"]
    assert [r.effective for r in fixes.itertuples()] == [date(YEAR, 1, 15), date(YEAR, 6, 30)]
    on = prog.projects_on(YEAR, today).set_index("compound_id")
    assert on.loc[fid, "investment_spent"] == 150 and on.loc[fid, "actual_survey"] == date(YEAR, 1, 15)
    assert prog.projects_on(YEAR, date(YEAR, 6, 1)).set_index("compound_id").loc[fid, "investment_spent"] == 100
