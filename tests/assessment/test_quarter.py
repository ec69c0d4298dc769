"""A quarter's scores on the sample, checked against the same figures computed here with pandas from
``ws.programme.status`` and the findings (and hand-made funds and feedback frames); a published quarter
locked and read back as published after the data changed; manual scores refused unless they cite
standing evidence of the street's compounds (nothing written then); the map coloured by score; the demo."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from gis.assessment.figures import FEEDBACK_COLUMNS, FUNDS_COLUMNS
from gis.assessment.service import Assessment, ManualEntry
from gis.demo import run_assessment_demo
from gis.demo.assessment import ASSESSMENT_MARK
from gis.errors import LockedQuarterError, ProgrammeError
from gis.evidence.findings import Opening
from gis.export.offline_map import render_page
from gis.workspace import Workspace

pytestmark = pytest.mark.sample
END = date(2026, 9, 30)


def _frames(streets: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    funds = streets.assign(
        projects=3,
        planned_wan=Decimal("200.00"),
        received_wan=Decimal("150.00"),
        paid_wan=Decimal("120.00"),
        breaches=0,
    )[FUNDS_COLUMNS]
    feedback = streets.assign(received=12, answered=10, closed=9, rated=10, satisfied=8)[FEEDBACK_COLUMNS]
    return funds, feedback


def _by_hand(ws: Workspace) -> pd.DataFrame:
    """The figures per street as this test reads them: stage dates against the quarter's last day."""
    st = pd.DataFrame(ws.programme.status(2026, on=END).drop(columns="geometry"))
    finish = ws.programme.defs.finish_stage

    def by(col: str) -> pd.Series:
        return pd.to_datetime(st[col], errors="coerce") <= pd.Timestamp(END)

    counted = st.assign(
        planned_start=by("planned_construction"),
        started=by("actual_construction"),
        planned_finish=by("planned_finish"),
        finished=by(f"actual_{finish}"),
    )
    cols = ["planned_start", "started", "planned_finish", "finished"]
    return counted.groupby(["district", "street"])[cols].sum().reset_index()


def test_the_quarter_against_pandas(ws: Workspace) -> None:
    hand = _by_hand(ws)
    funds, feedback = _frames(hand[["district", "street"]])
    desk = Assessment(ws.db, funds=lambda first, last: funds, feedback=lambda first, last: feedback)
    got = desk.scores("2026Q3")
    items = got.items.set_index(["street", "item"])
    for r in hand.to_dict("records"):
        s = r["street"]
        for item, num, den, weight in (
            ("start_rate", r["started"], r["planned_start"], 20),
            ("finish_rate", r["finished"], r["planned_finish"], 20),
        ):
            row = items.loc[(s, item)]
            assert (row["numerator"], row["denominator"]) == (num, den)
            if den:
                assert float(row["points"]) == pytest.approx(weight * min(1, num / den), abs=0.005)
            else:
                assert row["points"] is None and "未计分" in row["reason"]
        assert float(items.loc[(s, "funds_received_rate"), "points"]) == pytest.approx(15 * 150 / 200, abs=0.005)
        assert items.loc[(s, "payment_rate"), "points"] == Decimal("7.00")  # 120 / 150 = 0.8: the 0.7 band
        assert items.loc[(s, "satisfaction"), "points"] == Decimal("8.00")  # 8 / 10: the 0.8 band
    # 月报按时率: none of the sample's months was submitted
    assert (got.items[got.items.item == "report_on_time"]["points"] == Decimal("0.00")).all()
    # 督查整改率: the demo's findings fall due after the quarter: nothing owed, full points
    found = ws.findings.items()
    assert (pd.to_datetime(found["deadline"]) > pd.Timestamp(END)).all()
    assert (got.items[got.items.item == "rectification_rate"]["points"] == Decimal("10.00")).all()
    scored = got.items[got.items["scored"]]
    for t in got.totals.to_dict("records"):
        mine = scored[scored.street == t["street"]]
        points, weight = sum(mine["points"]), sum(mine["weight"])
        assert t["total"] == (points * Decimal(100) / weight).quantize(Decimal("0.01"))
    assert got.missing == []

    # the workspace's desk reads the funds ledger: 资金到位率 is received / planned of ws.funds.street_figures
    wired = ws.assessment.scores("2026Q3").items.set_index(["street", "item"])
    ledger = ws.funds.street_figures(END, year=2026).set_index("street")
    for s in ledger.index:
        row = wired.loc[(s, "funds_received_rate")]
        assert float(row["numerator"]) == pytest.approx(float(ledger.loc[s, "received_wan"]))
        assert float(row["denominator"]) == pytest.approx(float(ledger.loc[s, "planned_wan"]))

    bare = Assessment(ws.db).scores("2026Q3")  # funds and feedback not handed in: 未计分, not 0
    assert set(bare.missing) == {"funds", "feedback"}
    unscored = bare.items[bare.items.item.isin(["funds_received_rate", "payment_rate", "satisfaction"])]
    assert unscored["points"].isna().all() and unscored["reason"].str.contains("未计分").all()


def test_a_published_quarter_is_locked(ws: Workspace) -> None:
    desk = ws.assessment
    compound = int(ws.programme.projects(2026)["compound_id"].iloc[0])
    with pytest.raises(ProgrammeError):
        desk.publish("2026Q4", actor="t")  # not over
    published = desk.publish("2026Q3", actor="局长")
    assert published.published and desk.publications()["quarter"].tolist() == ["2026Q3"]
    # the data changes: a finding due in the quarter and never closed
    ws.findings.open(Opening(compound, "问题", "单位", date(2026, 9, 15), found_on=date(2026, 8, 1)), actor="t")
    live = desk.scores("2026Q3", live=True).items
    assert (live[live.item == "rectification_rate"]["points"] == Decimal("0.00")).any()
    again = desk.scores("2026Q3")
    assert again.published and again.to_dict() == published.to_dict()
    assert (again.items[again.items.item == "rectification_rate"]["points"] == Decimal("10.00")).all()
    with pytest.raises(LockedQuarterError) as refused:
        desk.publish("2026Q3", actor="t")
    assert refused.value.status == 409
    item = ws.evidence.items().iloc[0]
    street = ws.layer("compounds", where={"fid": [int(item["compound_id"])]}).iloc[0]["street"]
    with pytest.raises(LockedQuarterError):
        desk.score_manual(
            "2026Q3", ManualEntry(street, "long_term_management", 3, "理由", [int(item["id"])]), actor="t"
        )
    assert desk.manual_scores("2026Q3", history=True).empty
    page = render_page(ws.map("assessment", quarter="2026Q3"))
    assert "季度考核得分图" in page and "未计分" in page


def test_manual_scores_cite_the_streets_evidence(ws: Workspace) -> None:
    desk = ws.assessment
    items = ws.evidence.items()
    item = items.iloc[0]
    street = str(ws.layer("compounds", where={"fid": [int(item["compound_id"])]}).iloc[0]["street"])
    good = int(item["id"])
    withdrawn = int(items.iloc[-1]["id"])
    ws.evidence.withdraw(withdrawn, reason="拍错了", actor="t")
    refused = [
        ManualEntry(street, "long_term_management", 3, "理由", [999_999]),  # no such item
        ManualEntry(street, "long_term_management", 3, "理由", [withdrawn]),  # withdrawn
        ManualEntry("别的街道", "long_term_management", 3, "理由", [good]),  # another street's compound
        ManualEntry(street, "long_term_management", 3, "理由", []),  # no evidence
        ManualEntry(street, "long_term_management", 3, "  ", [good]),  # no note
        ManualEntry(street, "long_term_management", 6, "理由", [good]),  # above its weight (5)
        ManualEntry(street, "start_rate", 3, "理由", [good]),  # computed, not manual
    ]
    for entry in refused:
        with pytest.raises(ProgrammeError):
            desk.score_manual("2026Q3", entry, actor="t")
    assert desk.manual_scores("2026Q3", history=True).empty
    desk.score_manual("2026Q3", ManualEntry(street, "long_term_management", 3, "初评", [good]), actor="王工")
    row = desk.score_manual("2026Q3", ManualEntry(street, "long_term_management", "4.5", "复核", [good]), actor="王工")
    assert row["district"] and row["points"] == "4.50"
    assert len(desk.manual_scores("2026Q3", history=True)) == 2
    scored = desk.scores("2026Q3").items
    mine = scored[(scored.street == street) & (scored.item == "long_term_management")].iloc[0]
    assert mine["points"] == Decimal("4.50") and mine["note"] == "复核" and mine["evidence"] == [good]


def test_the_demo(ws: Workspace, tmp_path: Path) -> None:
    out = io.StringIO()
    run_assessment_demo(ws, Console(file=out, width=200), out_dir=tmp_path)
    run_assessment_demo(ws, Console(file=io.StringIO()), out_dir=tmp_path)  # re-running adds nothing
    manual = ws.assessment.manual_scores("2026Q3", history=True)
    assert len(manual) == 1 and manual["synthetic"].iloc[0] == ASSESSMENT_MARK and "合成" in manual["note"].iloc[0]
    assert (tmp_path / "季度考核得分排名_2026Q3.xlsx").exists() and (tmp_path / "季度考核得分图_2026Q3.html").exists()
    assert "2026Q3" in out.getvalue()
