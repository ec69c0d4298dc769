"""The 统计月报's figures from a small in-memory programme (no database), against numbers worked
out by hand, and the same report written as CSV and XLSX.

Three projects on 30 June 2026 (see each one's comment for where it stands and why):

=====  =======  ==========  =====  ====  ========  ======  =====  ============  ===========
key    district street      bldgs  hh    m²        plan    spent  stage 06-30   behind
=====  =======  ==========  =====  ====  ========  ======  =====  ============  ===========
A      海淀区   学院路街道  10     500   50,000    1000    400    construction  no
B      海淀区   学院路街道  5      300   30,000    500     —      tender        60 days
C      朝阳区   劲松街道    8      400   20,000.5  800     800    completed     no
=====  =======  ==========  =====  ====  ========  ======  =====  ============  ===========
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from gis.programme import MonthReport, Project, programme_defs
from gis.programme.monthly import MonthInputs
from gis.programme.status import project_frame
from gis.programme.store import CORRECTION_FIELDS

DEFS = programme_defs()
ON = date(2026, 6, 30)
D = date.fromisoformat
STAGES = ["survey", "design", "tender", "construction", "completed"]


def dated(*days: str) -> dict[str, date]:
    return {s: D(d) for s, d in zip(STAGES, days, strict=False)}


PROJECTS = [
    # A: construction since 1 April, completion planned for 31 August: on time
    Project(
        compound_id=1,
        year=2026,
        id=11,
        stage="construction",
        investment_planned=Decimal("1000"),
        property_mgmt_after="professional",
        planned=dated("2026-01-10", "2026-02-01", "2026-03-01", "2026-04-01", "2026-08-31"),
        actual=dated("2026-01-12", "2026-02-02", "2026-03-02", "2026-04-01"),
    ),
    # B: still at tender; construction was planned for 1 May (missed: 30 + 30 = 60 days on 30 June)
    # and completion for 15 June (also passed, so completion is the stage due by now)
    Project(
        compound_id=2,
        year=2026,
        id=12,
        stage="tender",
        investment_planned=Decimal("500"),
        planned=dated("2026-02-01", "2026-03-01", "2026-04-01", "2026-05-01", "2026-06-15"),
        actual=dated("2026-02-03", "2026-03-05", "2026-04-10"),
    ),
    # C: completed on 30 May, a day before its plan
    Project(
        compound_id=3,
        year=2026,
        id=13,
        stage="completed",
        investment_planned=Decimal("800"),
        property_mgmt_after="basic",
        planned=dated("2026-01-05", "2026-02-01", "2026-03-01", "2026-03-15", "2026-05-31"),
        actual=dated("2026-01-05", "2026-02-01", "2026-03-01", "2026-03-20", "2026-05-30"),
    ),
]
COMPOUNDS = pd.DataFrame(
    [
        (1, "石油大院", "海淀区", "学院路街道", 10, 500, 50_000.0, "none"),
        (2, "林业小区", "海淀区", "学院路街道", 5, 300, 30_000.0, "committee"),
        (3, "劲松一区", "朝阳区", "劲松街道", 8, 400, 20_000.5, "none"),
    ],
    columns=["compound_id", "name", "district", "street", "buildings", "households", "floor_area_m2", "property_mgmt"],
)
SPENT = {11: Decimal("400"), 13: Decimal("800")}
CORRECTIONS = pd.DataFrame(
    [
        (
            7,
            datetime(2026, 6, 3, 2, 30, tzinfo=UTC),  # 10:30 in Beijing
            "区住建委管理员",
            {"actual.construction": ["2026-04-28", "2026-05-06"], "investment_spent": [None, "300.00"]},
            "开工日期录入错误",
            "2026-05",
            1,
            "石油大院",
            "学院路街道",
        )
    ],
    columns=CORRECTION_FIELDS,
)


@pytest.fixture
def report() -> MonthReport:
    st = project_frame(PROJECTS, COMPOUNDS, SPENT, ON, DEFS)
    inputs = MonthInputs("2026-06", 2026, ON, st, CORRECTIONS, DEFS, datetime(2026, 7, 1, 9, tzinfo=UTC))
    return MonthReport.compute(inputs)


def test_the_projects_frame_on_a_date() -> None:
    st = project_frame(PROJECTS, COMPOUNDS, SPENT, ON, DEFS).set_index("compound_id")
    assert list(st.index) == [3, 1, 2]  # by district, street, compound: 朝阳区 sorts before 海淀区
    assert st.loc[1, "stage"] == "construction" and not st.loc[1, "overdue"]
    assert (st.loc[2, "stage_zh"], st.loc[2, "days_behind"], st.loc[2, "due_stage"]) == ("招投标", 60, "completed")
    assert st.loc[2, "due_date"] == D("2026-05-01") and pd.isna(st.loc[2, "investment_spent"])
    assert st.loc[3, "actual_completed"] == D("2026-05-30") and st.loc[3, "investment_spent"] == 800.0
    # the frame on 31 March knows nothing of what happened after: A had not started construction
    early = project_frame(PROJECTS, COMPOUNDS, {}, D("2026-03-31"), DEFS).set_index("compound_id")
    assert early.loc[1, "stage"] == "tender" and early.loc[1, "actual_construction"] is None


def test_the_totals_worked_by_hand(report: MonthReport) -> None:
    t = report.totals
    assert (t["projects"], t["buildings"], t["households"]) == (3, 23, 1200)
    assert t["floor_area"] == pytest.approx((50_000 + 30_000 + 20_000.5) / 10_000)  # 万m²
    assert (t["investment_planned"], t["investment_spent"]) == (2300.0, 1200.0)
    stages = {s: t[s] for s in ("not_started", *STAGES, "accepted")}
    assert stages == {
        "not_started": 0,
        "survey": 0,
        "design": 0,
        "tender": 1,
        "construction": 1,
        "completed": 1,
        "accepted": 0,
    }
    # started = construction or beyond (A, C); planned to finish by 30 June: B (06-15), C (05-31);
    # finished: C; completion rate 1 of 2
    assert (t["started"], t["planned_finished"], t["finished"], t["finish_rate"]) == (2, 2, 1, 50.0)
    assert (t["overdue"], t["max_days_behind"]) == (1, 60)


def test_per_street_and_district(report: MonthReport) -> None:
    streets = report.by_street.set_index("street")
    assert list(report.by_street["street"]) == ["劲松街道", "学院路街道"]
    xy = streets.loc["学院路街道"]  # A and B
    assert (xy["projects"], xy["buildings"], xy["households"], xy["floor_area"]) == (2, 15, 800, 8.0)
    assert (xy["investment_planned"], xy["investment_spent"]) == (1500.0, 400.0)
    assert (xy["started"], xy["planned_finished"], xy["finished"], xy["finish_rate"]) == (1, 1, 0, 0.0)
    assert (xy["overdue"], xy["max_days_behind"]) == (1, 60)
    js = streets.loc["劲松街道"]  # C alone
    assert (js["completed"], js["finish_rate"], js["overdue"], js["max_days_behind"]) == (1, 100.0, 0, 0)
    assert list(report.by_district["district"]) == ["朝阳区", "海淀区"]
    kinds = [(kind, district, street) for kind, district, street, _ in report.table()]
    assert kinds == [
        ("street", "朝阳区", "劲松街道"),
        ("subtotal", "朝阳区", "小计"),
        ("street", "海淀区", "学院路街道"),
        ("subtotal", "海淀区", "小计"),
        ("total", "合计", ""),
    ]


def test_the_lists_the_header_lines_and_the_coverage(report: MonthReport) -> None:
    assert report.area == "朝阳区、海淀区" and report.title == "朝阳区、海淀区城镇老旧小区改造统计月报（2026年6月）"
    assert report.deadline == D("2026-07-05")  # the 5th of the next month
    assert "2026年6月30日" in report.notes[0]
    overdue = report.overdue.to_dict("records")
    assert [(r["name"], r["stage_zh"], r["due_stage_zh"], r["days_behind"]) for r in overdue] == [
        ("林业小区", "招投标", "完工", 60)
    ]
    (fix,) = report.corrections.to_dict("records")
    assert fix["change"] == "实际开工：2026-04-28 → 2026-05-06；累计完成投资（万元）：（空） → 300.00"
    assert (fix["at"], fix["corrects_month"], fix["name"]) == ("2026-06-03 10:30", "2026-05", "石油大院")
    cov = report.coverage.set_index(["street", "mode"])
    # 学院路街道 before: A none (500 households), B committee (300); after: A professional, B unchanged
    assert cov.loc[("学院路街道", "none"), "compounds_before"] == 1
    assert cov.loc[("学院路街道", "none"), "household_share_before"] == pytest.approx(500 / 800)
    assert cov.loc[("学院路街道", "none"), "compounds_after"] == 0
    assert cov.loc[("学院路街道", "committee"), "compounds_after"] == 1
    assert cov.loc[("学院路街道", "professional"), "households_after"] == 500
    assert not cov.loc[("劲松街道", "none"), "covered"] and cov.loc[("劲松街道", "basic"), "covered"]


def test_an_empty_year_is_refused() -> None:
    st = project_frame([], COMPOUNDS.iloc[0:0], {}, ON, DEFS)
    inputs = MonthInputs("2026-06", 2026, ON, st, CORRECTIONS.iloc[0:0], DEFS, datetime(2026, 7, 1, tzinfo=UTC))
    with pytest.raises(KeyError, match="no projects in 2026"):
        MonthReport.compute(inputs)


def test_the_report_survives_json_and_writes_csv_and_xlsx(report: MonthReport, tmp_path: Path) -> None:
    again = MonthReport.from_dict(report.to_dict())
    assert again.totals == report.to_dict()["totals"] and again.title == report.title
    with report.write(tmp_path / "m.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    header, total = rows[0], rows[-1]
    assert total[0] == "合计" and dict(zip(header, total, strict=True))["累计完成投资（万元）"] == "1200.00"
    assert dict(zip(header, total, strict=True))["完工完成率（%）"] == "50.0"
    sheet = openpyxl.load_workbook(report.write(tmp_path / "m.xlsx"))["统计月报"]
    total_row = next(r for r in sheet.iter_rows(values_only=True) if r[0] == "合计")
    assert total_row[2:5] == (3, 23, 1200)  # projects, buildings, households
    with pytest.raises(ValueError, match=r"\.xlsx or \.csv"):
        report.write(tmp_path / "m.pdf")
