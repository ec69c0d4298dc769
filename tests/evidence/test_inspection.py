"""Where findings stand on a day, the overdue list of the 月报 and the streets' ranking, on a small frame
with hand-worked answers (no database)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from gis.evidence.inspection import overdue, ranking, standing

COLUMNS = ["id", "compound_id", "compound_name", "street", "category", "what", "found_on", "deadline", "closed_on"]
ROWS = pd.DataFrame(
    [
        # found 1 Nov, due 10 Nov, still open: overdue on 15 Nov by 5 days
        (1, 11, "甲", "学院路街道", "safety", "围挡缺失", date(2026, 11, 1), date(2026, 11, 10), None),
        # due 15 Nov, open: on its deadline day it is still in time
        (2, 12, "乙", "学院路街道", "quality", "管线未规整", date(2026, 11, 2), date(2026, 11, 15), None),
        # closed 12 Nov after a deadline of 5 Nov: closed (late), open before then
        (3, 13, "丙", "花园路街道", "records", "资料不全", date(2026, 11, 1), date(2026, 11, 5), date(2026, 11, 12)),
        # found after the day: not counted
        (4, 14, "丁", "花园路街道", "other", "其他", date(2026, 11, 20), date(2026, 11, 30), None),
    ],
    columns=COLUMNS,
).assign(district="海淀区", responsible_unit="某单位")


def test_standing_on_a_day() -> None:
    on = standing(ROWS, date(2026, 11, 15))
    assert on["id"].tolist() == [1, 2, 3]
    assert on["status"].tolist() == ["overdue", "open", "closed"]
    assert on["days_overdue"].tolist() == [5, 0, 0]
    before = standing(ROWS, date(2026, 11, 8))  # finding 3 open then and 3 days past its deadline
    assert before["status"].tolist() == ["open", "open", "overdue"]
    assert before["days_overdue"].tolist() == [0, 0, 3]


def test_a_finding_turns_overdue_the_day_after_its_deadline() -> None:
    labels = {"safety": "安全"}
    first = ROWS[ROWS["id"] == 1]
    assert overdue(first, date(2026, 11, 10), labels).empty  # the deadline day
    late = overdue(first, date(2026, 11, 11), labels)
    assert late["finding_id"].tolist() == [1]
    assert late.iloc[0][["name", "category_zh", "deadline", "days_overdue"]].tolist() == [
        "甲（11）",
        "安全",
        "2026-11-10",
        1,
    ]


def test_streets_ranked_by_open_then_overdue() -> None:
    ranked = ranking(ROWS, date(2026, 11, 15))
    assert ranked[["rank", "street", "findings", "open", "overdue", "closed", "closed_late"]].values.tolist() == [
        [1, "学院路街道", 2, 2, 1, 0, 0],
        [2, "花园路街道", 1, 0, 0, 1, 1],
    ]
    tied = ranking(ROWS, date(2026, 11, 3))  # every finding found by then is open, none overdue...
    assert tied[["rank", "street", "open", "overdue"]].values.tolist() == [
        [1, "学院路街道", 2, 0],
        [2, "花园路街道", 1, 0],
    ]
    even = ranking(ROWS[ROWS["id"].isin([2, 3])], date(2026, 11, 3))  # one open finding each: a shared rank
    assert even["rank"].tolist() == [1, 1]
