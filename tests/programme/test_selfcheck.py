"""The 月报's self-check (自查) on small frames with hand-worked answers: a stage with no evidence of it, a
completed count above plan, a cumulative figure that fell, a start without a permit date."""

from __future__ import annotations

from datetime import date

import pandas as pd

from gis.programme.selfcheck import self_check

# stage_index: survey 0, design 1, tender 2, construction 3, completed 4, accepted 5
PROJECT_COLUMNS = [
    "project_id",
    "compound_id",
    "name",
    "street",
    "stage",
    "stage_zh",
    "stage_index",
    "actual_construction",
]
PROJECTS = pd.DataFrame(
    [
        # project 1 at construction since 5 May, evidence of construction, permit 1 May: nothing to flag
        (1, 11, "甲", "学院路街道", "construction", "施工", 3, date(2026, 5, 5)),
        # project 2 at construction: evidence only of the design, no permit -> two flags
        (2, 12, "乙", "学院路街道", "construction", "施工", 3, date(2026, 6, 1)),
        # project 3 completed, started 1 April with a permit of 10 April (after the start) -> flagged
        (3, 13, "丙", "花园路街道", "completed", "完工", 4, date(2026, 4, 1)),
        # project 4 not started: no stage, nothing to prove, no permit needed
        (4, 14, "丁", "花园路街道", None, "未启动", -1, None),
    ],
    columns=PROJECT_COLUMNS,
).assign(district="海淀区", year=2026)
EVIDENCED = {(1, "construction"), (2, "design"), (3, "completed")}
PERMITS = {1: date(2026, 5, 1), 3: date(2026, 4, 10)}
BY_STREET = pd.DataFrame(
    [("学院路街道", 2, 0, 0, 500.0), ("花园路街道", 1, 1, 0, 300.0)],
    columns=["street", "started", "finished", "planned_finished", "investment_spent"],
).assign(district="海淀区")
BY_DISTRICT = pd.DataFrame(
    [{"district": "海淀区", "started": 3, "finished": 1, "planned_finished": 0, "investment_spent": 800.0}]
)
TOTALS = {"started": 3, "finished": 1, "planned_finished": 0, "investment_spent": 800.0}


def checked(previous: dict | None = None, evidenced: set | None = EVIDENCED) -> pd.DataFrame:
    return self_check(
        PROJECTS,
        (BY_STREET, BY_DISTRICT, TOTALS),
        evidenced=evidenced,
        permits=PERMITS,
        previous=previous,
        construction=3,
    )


def test_a_stage_without_its_evidence_is_flagged_per_project() -> None:
    flags = checked()
    found = flags[flags["check"] == "stage_without_evidence"]
    assert found["compound_id"].tolist() == [12]  # 乙 has design evidence, not construction
    assert "施工" in found.iloc[0]["detail"]


def test_no_evidence_gathered_skips_that_check_only() -> None:
    flags = checked(evidenced=None)
    assert "stage_without_evidence" not in set(flags["check"])
    assert "start_without_permit" in set(flags["check"])


def test_completed_above_plan_per_street_and_district() -> None:
    flags = checked()
    found = flags[flags["check"] == "finished_above_plan"]
    # 花园路: 1 finished, 0 planned by the month's end; the district sums to the same; 学院路 0 > 0 is not
    assert list(zip(found["street"], found["subject"], strict=True)) == [("花园路街道", "街道"), ("小计", "区县")]
    assert "实际完工 1 个，截至本月计划完工 0 个" in found.iloc[0]["detail"]


def test_a_cumulative_figure_below_the_previous_submitted_month() -> None:
    previous = {
        "month": "2026-05",
        "year": 2026,
        "by_street": [
            # 学院路 reported 3 started and 520 万元 in May: now 2 and 500 -> two flags
            {"district": "海淀区", "street": "学院路街道", "started": 3, "finished": 0, "investment_spent": 520.0},
            # 花园路 was lower in May: nothing
            {"district": "海淀区", "street": "花园路街道", "started": 1, "finished": 0, "investment_spent": 299.995},
        ],
        "totals": {"started": 4, "finished": 1, "investment_spent": 800.0},  # total started fell 4 -> 3
    }
    flags = checked(previous)
    found = flags[flags["check"] == "cumulative_fell"]
    assert list(zip(found["street"], found["detail"].str.split("：").str[0], strict=True)) == [
        ("学院路街道", "已开工（个）"),
        ("学院路街道", "累计完成投资（万元）"),
        ("", "已开工（个）"),  # the total (合计)
    ]
    assert "本月 500，低于2026-05已报 520" in found.iloc[1]["detail"]
    assert found.iloc[2]["district"] == "合计"


def test_a_previous_month_of_another_year_is_not_compared() -> None:
    previous = {"month": "2025-12", "year": 2025, "by_street": [], "totals": {"started": 99}}
    assert "cumulative_fell" not in set(checked(previous)["check"])


def test_a_start_without_a_permit_or_before_it() -> None:
    flags = checked()
    found = flags[flags["check"] == "start_without_permit"]
    assert found["compound_id"].tolist() == [12, 13]  # 乙 has none; 丙 started 1 April, permit 10 April
    assert "未录入施工许可日期" in found.iloc[0]["detail"]
    assert "开工 2026-04-01 早于施工许可 2026-04-10" in found.iloc[1]["detail"]
    # the order of the checks as the report lists them
    assert list(dict.fromkeys(flags["check"])) == [
        "stage_without_evidence",
        "finished_above_plan",
        "start_without_permit",
    ]
