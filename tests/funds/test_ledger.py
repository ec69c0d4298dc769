"""The funds ledger worked by hand: a contract over its tender control price, changes with and without
approval, payments by source against the plan and against the funds received, a correction; the streets'
figures against a pandas sum of the entries written here; refusals write nothing; the table is append-only
for its owner too; the 月报's 资金到位 / 拨付 columns are the sums and its breach list the check's."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import psycopg
import pytest

from gis.errors import FundsError
from gis.funds.service import Entry
from gis.programme import MonthReport
from gis.store.privileges import OWNER_ROLE
from gis.workspace import Workspace
from tests.helpers.programme import COMPOUNDS, PLAN, STAGES, YEAR, d, write_compounds

STREET = {key: street for key, _n, _d, street, *_rest in COMPOUNDS}
DISTRICT = {key: district for key, _n, district, *_rest in COMPOUNDS}


@pytest.fixture
def fid(ws: Workspace, tmp_path: Path) -> dict[str, int]:
    """The compounds loaded and the year's plan of the seven planned (their funding per source as PLAN says)."""
    ws.load("compounds", write_compounds(tmp_path / "compounds.geojson"), actor="fixture")
    gdf = ws.layer("compounds")
    ids = {str(r["extra"].get("编号") or r["source_key"]): int(r["fid"]) for r in gdf.to_dict("records")}
    for key, (cats, items, dates, invest, funding, after) in PLAN.items():
        ws.programme.plan(
            ids[key],
            YEAR,
            categories=cats,
            items=items,
            planned={s: d(x) for s, x in zip(STAGES, dates, strict=True)},
            investment_planned=invest,
            funding=funding,
            property_mgmt_after=after,
            actor="fixture",
        )
    return ids


def _c1(ws: Workspace, c1: int) -> dict[str, int]:
    """c1's ledger (planned: central 600, local 500.50, residents 100); the ids of the entries that matter."""
    add = ws.funds.add
    add(c1, Entry("estimate", "1200.50", date(2026, 2, 10), document="概算批复 海建〔2026〕12号"), actor="审计")
    add(c1, Entry("budget", "1150.00", date(2026, 3, 1)), actor="审计")
    add(c1, Entry("tender_control", "1100.00", date(2026, 3, 5)), actor="审计")
    contract = add(c1, Entry("contract", "1120.00", date(2026, 3, 30)), actor="审计")  # over 1100
    # > 112 (10 % of the contract), no approval: flagged
    big = add(c1, Entry("change", "200.00", date(2026, 6, 1), reason="增加雨污分流"), actor="审计")
    approved = Entry(
        "change", 150, date(2026, 6, 2), reason="屋面防水加厚", approved_by="区住建委", approved_on=date(2026, 6, 5)
    )
    add(c1, approved, actor="审计")  # beyond 112 but approved: not flagged
    add(c1, Entry("change", "-30", date(2026, 6, 3), reason="取消部分绿化"), actor="审计")  # |30| < 112: not flagged
    add(c1, Entry("received", 600, date(2026, 4, 1), source="中央补助"), actor="财政")
    add(c1, Entry("received", 300, date(2026, 4, 1), source="local"), actor="财政")
    # > 600 planned, > 600 received
    central = add(c1, Entry("payment", 650, date(2026, 5, 10), source="central"), actor="财政")
    add(c1, Entry("payment", 300, date(2026, 5, 10), source="local"), actor="财政")  # within 500.50 and 300
    # planned 100, received 0
    residents = add(c1, Entry("payment", 50, date(2026, 5, 12), source="居民出资"), actor="财政")
    return {"contract": contract["id"], "big": big["id"], "central": central["id"], "residents": residents["id"]}


def test_the_ledger_worked_by_hand(ws: Workspace, fid: dict[str, int]) -> None:
    c1 = fid["c1"]
    ids = _c1(ws, c1)
    found = ws.funds.check(compound_id=c1)
    got = sorted((r["rule"], r["entry_id"], r["source"]) for r in found.to_dict("records"))
    assert got == sorted(
        [
            ("contract_within_tender", ids["contract"], None),
            ("change_needs_approval", ids["big"], None),
            ("payment_within_planned_source", ids["central"], "central"),
            ("payment_within_received", ids["central"], "central"),
            ("payment_within_received", ids["residents"], "residents"),
        ]
    )
    over = found[found["rule"] == "contract_within_tender"].iloc[0]
    assert over["amount"] == Decimal("1120.00") and over["limit"] == Decimal("1100.00")
    assert over["status"] == "unverified"
    led = ws.funds.ledger(c1)
    t = led.totals
    assert t["contract"] == Decimal("1120.00") and t["changes_approved"] == Decimal("150.00")
    assert t["changes_unapproved"] == Decimal("170.00")  # 200 - 30
    assert t["contract_with_changes"] == Decimal("1270.00") and t["paid"] == Decimal("1000.00")
    by = led.by_source.set_index("source")
    assert by.loc["central", "planned"] == Decimal("600.00") and by.loc["local", "paid"] == Decimal("300.00")
    # a correction: the central payment was 600, not 650; the breaches it raised are gone, it stays listed
    wrong = ids["central"]
    correction = Entry("payment", 600, date(2026, 5, 10), source="central", reason="录入错误", supersedes=wrong)
    fixed = ws.funds.add(c1, correction, actor="财政")
    assert fixed["breaches"] == []
    again = ws.funds.check(compound_id=c1)
    assert sorted(again["rule"]) == ["change_needs_approval", "contract_within_tender", "payment_within_received"]
    led = ws.funds.ledger(c1)
    old = led.entries.set_index("id").loc[ids["central"]]
    assert not old["standing"] and old["superseded_by"] == fixed["id"]
    # before the approval's day the approved change was not yet approved: flagged on 3 June, not on 5 June
    early = ws.funds.check(compound_id=c1, on=date(2026, 6, 4))
    assert len(early[early["rule"] == "change_needs_approval"]) == 2
    assert len(ws.funds.check(compound_id=c1, on=date(2026, 6, 5)).query("rule == 'change_needs_approval'")) == 1


def test_refusals_write_nothing_and_the_table_is_append_only(
    ws: Workspace, fid: dict[str, int], test_server: object, db_name: str
) -> None:
    c2 = fid["c2"]
    first = ws.funds.add(c2, Entry("contract", "500", date(2026, 4, 1)), actor="审计")
    refused = [
        (Entry("payment", "-10", date(2026, 5, 1), source="local"), "不为负"),
        (Entry("payment", "10", date(2026, 5, 1), source="lottery"), "fund source"),
        (Entry("payment", "10", date(2026, 5, 1)), "fund source"),
        (Entry("payment", "10.001", date(2026, 5, 1), source="local"), "two decimals"),
        (Entry("contract", "520", date(2026, 5, 1)), "supersedes"),
        (Entry("budget", "520", date(2026, 5, 1), reason="x", supersedes=first["id"]), "no budget"),
        (Entry("change", "20", date(2026, 5, 1)), "reason"),
        (Entry("change", "20", date(2026, 5, 1), reason="r", approved_by="区住建委"), "both"),
        (Entry("received", "20", date(2030, 1, 1), source="local"), "future"),
        (Entry("received", "20", date(2026, 5, 1), source="local", evidence=[999_999]), "evidence"),
        (Entry("advance", "20", date(2026, 5, 1)), "kind"),
    ]
    before = ws.funds.ledger(c2).entries
    for entry, message in refused:
        with pytest.raises(FundsError, match=message):
            ws.funds.add(c2, entry, actor="审计")
    assert len(ws.funds.ledger(c2).entries) == len(before) == 1
    again = Entry("contract", "520", date(2026, 5, 1), reason="补充协议", supersedes=first["id"])
    ws.funds.add(c2, again, actor="审计")
    with pytest.raises(FundsError, match="already superseded"):
        ws.funds.add(c2, Entry("contract", "530", date(2026, 5, 2), reason="x", supersedes=first["id"]), actor="审计")
    owner = test_server.url(db_name, OWNER_ROLE)  # type: ignore[attr-defined]
    with psycopg.connect(owner) as conn:
        for sql in ("UPDATE funds_entries SET amount = 1", "DELETE FROM funds_entries", "TRUNCATE funds_entries"):
            with pytest.raises(psycopg.Error, match=r"append-only|never|truncate"):
                conn.execute(sql)
            conn.rollback()
    with ws.engine.begin() as conn, pytest.raises(Exception, match=r"permission denied|append-only"):
        conn.exec_driver_sql("DELETE FROM funds_entries")


def test_street_figures_and_the_month_report_are_the_sums(ws: Workspace, fid: dict[str, int], tmp_path: Path) -> None:
    _c1(ws, fid["c1"])
    written = [  # (key, kind, amount, day, source)
        ("c2", "received", "200.00", date(2026, 5, 1), "local"),
        ("c2", "payment", "120.50", date(2026, 6, 1), "local"),
        ("c2", "payment", "30.00", date(2026, 12, 1), "local"),  # after `on`
        ("c4", "received", "1000.00", date(2026, 7, 1), "central"),
        ("c6", "received", "700.00", date(2026, 8, 1), "utilities"),
        ("c6", "payment", "800.00", date(2026, 9, 1), "utilities"),  # over its received 700
    ]
    for key, kind, amount, day, source in written:
        ws.funds.add(fid[key], Entry(kind, amount, day, source=source), actor="财政")
    on = date(2026, 11, 30)
    got = ws.funds.street_figures(on)
    columns = ["district", "street", "projects", "planned_wan", "received_wan", "paid_wan", "breaches"]
    assert list(got.columns) == columns
    # the same by hand: c1's own entries (received 900, paid 1000), the rest from `written`
    rows = [{"key": "c1", "kind": "received", "amount": 900.0}, {"key": "c1", "kind": "payment", "amount": 1000.0}]
    rows += [{"key": k, "kind": kind, "amount": float(a)} for k, kind, a, day, _s in written if day <= on]
    e = pd.DataFrame(rows)
    plans = pd.DataFrame([{"key": k, "planned": sum(float(v) for v in p[4].values())} for k, p in PLAN.items()]).assign(
        street=lambda f: f["key"].map(STREET), district=lambda f: f["key"].map(DISTRICT)
    )
    e["street"] = e["key"].map(STREET)
    want = plans.groupby(["district", "street"]).agg(projects=("key", "size"), planned_wan=("planned", "sum"))
    for kind, col in (("received", "received_wan"), ("payment", "paid_wan")):
        summed = e[e["kind"] == kind].groupby("street")["amount"].sum()
        want[col] = summed.reindex(want.index.get_level_values(1)).fillna(0).values
    want = want.reset_index()
    pd.testing.assert_frame_equal(got.drop(columns="breaches").reset_index(drop=True), want.round(2), check_dtype=False)
    breaches = dict(zip(got["street"], got["breaches"], strict=True))
    # 学院路: c1's five, and c2 paid 120.50 with no contract recorded (payments_within_contract); 劲松: c6 paid
    # 800 with no contract and over the 700 received (within its planned utilities 800)
    assert breaches == {"学院路街道": 6, "清华园街道": 0, "劲松街道": 2}
    # the 月报 of November: its 资金到位 / 拨付 columns are the same sums, its breach list the check's
    report = ws.report_month("2026-11", today=date(2026, 12, 3))
    by = report.by_street.set_index("street")
    for street, r in got.set_index("street").iterrows():
        assert by.loc[street, "funds_received"] == pytest.approx(r["received_wan"])
        assert by.loc[street, "funds_paid"] == pytest.approx(r["paid_wan"])
    assert report.totals["funds_paid"] == pytest.approx(got["paid_wan"].sum())
    assert len(report.fund_breaches) == int(got["breaches"].sum())
    path = report.write(tmp_path / "月报.xlsx")
    sheet = openpyxl.load_workbook(path)["统计月报"]
    cells = [c.value for row in sheet.iter_rows() for c in row]
    assert "资金到位" in cells and "拨付" in cells and "五、资金台账违规（跟踪审计规则，截至统计日）" in cells
    assert "合同价不超过招标控制价" in cells
    # a report stored before the funds columns existed reads back: no breach list, the cells blank
    stored = report.to_dict()
    del stored["fund_breaches"]
    for r in [*stored["by_street"], *stored["by_district"], stored["totals"]]:
        r.pop("funds_received"), r.pop("funds_paid")
    old = MonthReport.from_dict(stored)
    assert old.fund_breaches.empty
    old.write(tmp_path / "old.xlsx")
    old.write(tmp_path / "old.csv")
