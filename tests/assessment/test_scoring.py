"""The assessment's arithmetic by hand: a two-street, three-item scheme (ties share a rank, a missing
source is 未计分 and never 0, the total rescaled or not as the scheme says), the vocabulary's checks,
the quarters, and the ranking table's XLSX (rank order, a hostile street name kept as text)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from pydantic import ValidationError

from gis.assessment.figures import FUNDS_COLUMNS, ProgrammeIndex, Quarter, QuarterFigures, report_figures
from gis.assessment.scheme import Scheme, scheme
from gis.assessment.scoring import NOT_MANUAL, QuarterScores, ScoreInputs, rank, score
from gis.errors import InvalidRequestError
from gis.export.assessment_xlsx import write_ranking

NOW = datetime(2026, 10, 20, 9, 0)


def three_items(missing: str = "rescale") -> Scheme:
    return Scheme.model_validate(
        {
            "source": {"id": "test", "note": "by hand", "status": "local_rule"},
            "missing": {"value": missing, "status": "local_rule"},
            "items": [
                # 40 x min(1, value / 0.8)
                {
                    "id": "start",
                    "zh": "开工率",
                    "en": "s",
                    "weight": 40,
                    "figure": {"ratio": ["started", "planned_start"]},
                }
                | {"score": "linear", "target": 0.8, "status": "local_rule", "source": "t"},
                # bands: >= 0.9 all 30, >= 0.5 half
                {
                    "id": "paid",
                    "zh": "拨付率",
                    "en": "p",
                    "weight": 30,
                    "figure": {"ratio": ["paid_wan", "received_wan"]},
                }
                | {"score": "threshold", "steps": [{"at_least": 0.9, "share": 1}, {"at_least": 0.5, "share": 0.5}]}
                | {"status": "unverified", "source": "t"},
                {"id": "mgmt", "zh": "长效管理", "en": "m", "weight": 30, "kind": "manual", "status": "unverified"}
                | {"source": "t"},
            ],
        }
    )


def figures(streets: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{"district": "海淀区", **s} for s in streets])


def inputs(
    table: pd.DataFrame, manual: list[dict[str, Any]] | None = None, missing: list[str] | None = None
) -> ScoreInputs:
    cols = ["district", "street", "item", "points", "note", "evidence", "actor"]
    return ScoreInputs("2026Q3", date(2026, 9, 30), table, pd.DataFrame(manual or [], columns=cols), missing or [], NOW)


def test_two_streets_by_hand() -> None:
    table = figures(
        [
            # A: 3/5 = 0.6 -> 40 x 0.75 = 30; paid 45/50 = 0.9 -> 30; manual 20 -> 80
            {
                "street": "A街道",
                "started": 3,
                "planned_start": 5,
                "paid_wan": Decimal("45.00"),
                "received_wan": Decimal("50.00"),
            },
            # B: 4/4 = 1 -> 40 (capped); paid 30/50 = 0.6 -> 15; manual 25 -> 80: a tie with A
            {
                "street": "B街道",
                "started": 4,
                "planned_start": 4,
                "paid_wan": Decimal("30.00"),
                "received_wan": Decimal("50.00"),
            },
            # C: 1/5 = 0.2 -> 10; paid 10/50 = 0.2 -> 0 (below every band, a real 0); no manual score
            {
                "street": "C街道",
                "started": 1,
                "planned_start": 5,
                "paid_wan": Decimal("10.00"),
                "received_wan": Decimal("50.00"),
            },
        ]
    )
    manual = [
        {"district": "海淀区", "street": "A街道", "item": "mgmt", "points": Decimal("20"), "note": "n", "evidence": [1]}
        | {"actor": "x"},
        {"district": "海淀区", "street": "B街道", "item": "mgmt", "points": Decimal("25"), "note": "n", "evidence": [2]}
        | {"actor": "x"},
    ]
    got = score(inputs(table, manual), three_items())
    points = got.items.pivot(index="street", columns="item", values="points")
    assert points.loc["A街道"].tolist() == [Decimal("20.00"), Decimal("30.00"), Decimal("30.00")]  # mgmt, paid, start
    assert points.loc["B街道"].tolist() == [Decimal("25.00"), Decimal("15.00"), Decimal("40.00")]
    assert points.loc["C街道", "paid"] == Decimal("0.00") and points.loc["C街道", "start"] == Decimal("10.00")
    c_manual = got.items[(got.items.street == "C街道") & (got.items.item == "mgmt")].iloc[0]
    assert c_manual["points"] is None and not c_manual["scored"] and c_manual["reason"] == NOT_MANUAL
    totals = got.ranking().set_index("street")
    assert totals.loc["A街道", "total"] == totals.loc["B街道", "total"] == Decimal("80.00")
    # C: 10 points out of the 70 scored, rescaled to 100: 10 x 100 / 70 = 14.29
    assert totals.loc["C街道", "total"] == Decimal("14.29") and totals.loc["C街道", "weight_scored"] == Decimal("70.00")
    assert totals["rank"].tolist() == [1, 1, 3]

    omitted = score(inputs(table, manual), three_items("omit")).totals.set_index("street")
    assert omitted.loc["C街道", "total"] == Decimal("10.00")


def test_a_missing_source_is_not_scored_not_zero() -> None:
    table = figures([{"street": "A街道", "started": 2, "planned_start": 4, "paid_wan": None, "received_wan": None}])
    got = score(inputs(table, missing=["funds"]), three_items())
    paid = got.items[got.items.item == "paid"].iloc[0]
    assert paid["points"] is None and not paid["scored"] and "未计分" in paid["reason"] and "资金台账" in paid["reason"]
    total = got.totals.iloc[0]
    # start 2/4 = 0.5 -> 40 x 0.625 = 25 out of 40 scored (manual not scored either) -> 25 x 100 / 40
    assert total["points"] == Decimal("25.00") and total["weight_scored"] == Decimal("40.00")
    assert total["total"] == Decimal("62.50")
    nothing = figures([{"street": "Z街道", "started": 0, "planned_start": 0, "paid_wan": None, "received_wan": None}])
    empty = score(inputs(nothing), three_items()).totals.iloc[0]
    assert empty["total"] is None and empty["rank"] is None  # nothing due, no data, no manual: no total


def test_snapshot_round_trip_keeps_every_value() -> None:
    table = figures(
        [{"street": "A街道", "started": 3, "planned_start": 5, "paid_wan": Decimal(9), "received_wan": Decimal(10)}]
    )
    got = score(inputs(table), three_items())
    back = QuarterScores.from_dict(got.to_dict())
    assert back.to_dict() == got.to_dict()
    assert back.totals.iloc[0]["total"] == got.totals.iloc[0]["total"]


def test_ranks_share_and_skip() -> None:
    d = Decimal
    assert rank([d(70), d(90), d(90), None, d(80)]) == [4, 1, 1, None, 3]


def test_the_vocabulary_is_checked() -> None:
    base = three_items().model_dump()
    bad = [
        {**base["items"][0], "figure": {"ratio": ["started", "__import__('os')"]}},  # unknown figure
        {**base["items"][0], "target": None},  # linear without target
        {**base["items"][1], "steps": [{"at_least": 0.5, "share": 0.5}, {"at_least": 0.9, "share": 1}]},  # upward
        {**base["items"][2], "score": "linear"},  # a manual item with a rule
    ]
    for item in bad:
        with pytest.raises(ValidationError):
            Scheme.model_validate({**base, "items": [item]})
    shipped = scheme()
    ids = {i.id for i in shipped.items}
    assert {"start_rate", "finish_rate", "funds_received_rate", "payment_rate", "report_on_time"} <= ids
    assert {"rectification_rate", "satisfaction"} <= ids and any(i.kind == "manual" for i in shipped.items)
    assert shipped.total_points == Decimal("100.00")


def test_quarters() -> None:
    q = Quarter.parse("2026Q3")
    assert (q.first_day, q.last_day, q.months) == (
        date(2026, 7, 1),
        date(2026, 9, 30),
        ["2026-07", "2026-08", "2026-09"],
    )
    assert Quarter.parse("2026Q4").last_day == date(2026, 12, 31)
    assert Quarter.last_full_before(date(2026, 12, 3)).id == "2026Q3"
    assert Quarter.last_full_before(date(2027, 2, 1)).id == "2026Q4"
    for bad in ("2026Q5", "2026-Q3", "26Q1", "", "2026q3 ; drop"):
        with pytest.raises(InvalidRequestError):
            Quarter.parse(bad)


def test_reports_and_frames() -> None:
    q = Quarter.parse("2026Q3")
    sent = pd.DataFrame([{"month": "2026-07", "late": False}, {"month": "2026-08", "late": True}])
    deadlines = {"2026-07": date(2026, 8, 5), "2026-08": date(2026, 9, 5), "2026-09": date(2026, 10, 5)}
    assert report_figures(sent, q, deadlines, date(2026, 10, 1)) == (2, 1)  # September not yet due
    assert report_figures(sent, q, deadlines, date(2026, 10, 6)) == (3, 1)
    wrong = pd.DataFrame(columns=["district", "street", "planned_wan"])
    projects = pd.DataFrame(columns=["district", "street", "planned_construction", "stage_index", "planned_finish"])
    qf = QuarterFigures(
        q, projects, ProgrammeIndex(3, 5), sent, deadlines, date(2026, 10, 6), pd.DataFrame(), funds=wrong
    )
    with pytest.raises(InvalidRequestError, match="columns"):
        qf.table()
    assert FUNDS_COLUMNS[0] == "district"


def test_the_ranking_table(tmp_path: Path) -> None:
    hostile = '=HYPERLINK("http://x","点我")'
    table = figures(
        [
            {"street": "A街道", "started": 1, "planned_start": 5, "paid_wan": None, "received_wan": None},
            {"street": hostile, "started": 5, "planned_start": 5, "paid_wan": None, "received_wan": None},
        ]
    )
    got = score(inputs(table, missing=["funds"]), three_items())
    path = write_ranking(got, three_items(), tmp_path / "rank.xlsx")
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    assert sheet.cell(1, 1).value == "海淀区街道城镇老旧小区改造工作季度考核得分排名（2026年第3季度）"
    rows = [[sheet.cell(r, c).value for c in range(1, 4)] for r in (5, 6)]
    assert rows == [[1, "海淀区", hostile], [2, "海淀区", "A街道"]]
    cell = sheet.cell(6 - 1, 3)
    assert cell.data_type == "s"  # text, never a formula
    texts = [str(sheet.cell(r, 1).value) for r in range(7, sheet.max_row + 1)]
    assert any("未计分" in t and "折算" in t for t in texts) and any("资金台账" in t for t in texts)
    assert sheet.cell(5, 7).value == "未计分" and "资金台账" in sheet.cell(5, 6).value  # the funds item: not 0
