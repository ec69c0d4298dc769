"""The funds ledger's demo: a synthetic 跟踪审计 ledger (labelled so in ``synthetic``) for the sample's
projects past their tender, derived from each project's planned investment, with two breaches to show
(a contract over its tender control price, a change beyond 10 % without approval) and the other
changes approved. Re-running adds nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from rich.console import Console

from gis import clock
from gis.export.audit_pack import write_pack
from gis.funds.service import Entry
from gis.workspace import Workspace

FUNDS_MARK = "funds: demo ledger / 合成示例资金台账"
CENT = Decimal("0.01")
MAX_PROJECTS = 6


def _share(amount: Decimal, share: str) -> Decimal:
    return (amount * Decimal(share)).quantize(CENT)


def run_funds_demo(ws: Workspace, console: Console, *, out_dir: Path | None = None) -> None:
    """Write the synthetic ledgers (and, with ``out_dir``, the first street's auditor's pack)."""
    if ws.funds.entries()["synthetic"].eq(FUNDS_MARK).any():
        return
    st = ws.programme.projects()
    tender = ws.programme.defs.index("tender")
    past = st[(st["stage_index"] >= tender) & st["investment_planned"].notna()].sort_values("compound_id")
    items = ws.evidence.items()
    today = clock.today()
    written = 0
    for k, r in enumerate(past.head(MAX_PROJECTS).to_dict("records")):
        fid, planned = int(r["compound_id"]), Decimal(str(r["investment_planned"])).quantize(CENT)
        start = min(date(int(r["year"]), 1, 15), today - timedelta(days=120))

        def day(offset: int, start: date = start) -> date:
            return min(start + timedelta(days=offset), today)

        contract_share = "0.97" if k == 0 else "0.90"  # the first: over its tender control price (0.95)
        cited = [int(i) for i in items.loc[(items["compound_id"] == fid) & items["withdrawn_at"].isna(), "id"].head(2)]
        chain = [
            Entry("estimate", planned, day(0), document=f"概算批复（示例）{fid}"),
            Entry("budget", _share(planned, "0.98"), day(10)),
            Entry("tender_control", _share(planned, "0.95"), day(20)),
            Entry("contract", _share(planned, contract_share), day(40), document=f"HT-示例-{fid}"),
            Entry("received", _share(planned, "0.50"), day(45), source="central"),
            Entry("received", _share(planned, "0.30"), day(50), source="local"),
            Entry("payment", _share(planned, "0.30"), day(60), source="central", evidence=cited),
            Entry("payment", _share(planned, "0.20"), day(75), source="local"),
        ]
        if k == 1:  # a change beyond 10 % of the contract, never approved: flagged
            chain.append(Entry("change", _share(planned, "0.12"), day(80), reason="增加加装电梯基础（示例）"))
        else:  # a smaller change, approved
            change = Entry("change", _share(planned, "0.04"), day(80), reason="雨污分流增项（示例）")
            chain.append(replace(change, approved_by="区住房城乡建设委（示例）", approved_on=day(85)))
        for entry in chain:
            ws.funds.add(fid, _marked(entry), actor="demo")
            written += 1
    found = ws.funds.check()
    console.print(
        f"funds ledger / 资金台账: {written} synthetic entries for {min(len(past), MAX_PROJECTS)} projects; "
        f"{len(found)} breaches flagged / 条违规 (gisplan funds check)"
    )
    if out_dir is not None and len(past):
        street = str(past.iloc[0]["street"])
        path = write_pack(ws.funds.pack(street=street), out_dir / f"跟踪审计资料_{street}.xlsx")
        console.print(f"wrote {path}")


def _marked(entry: Entry) -> Entry:
    return replace(entry, synthetic=FUNDS_MARK)
