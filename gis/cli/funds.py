"""``gisplan funds ...``: the 跟踪审计 ledger — add an entry, show a project's chain, check the rules, write
the auditor's pack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from gis.cli.common import actor, compound_id, open_workspace, out, parse_date_option

app = typer.Typer(
    help="资金与跟踪审计 (the funds ledger): add entries, show the chain, check the rules, the auditor's pack.",
    no_args_is_help=True,
)
KINDS_HELP = (
    "estimate 估算/概算 | budget 预算 | tender_control 招标控制价 | contract 合同价 | change 变更 | "
    "received 资金到位 | payment 拨付 | settlement 结算 | final 决算"
)


def _money(v: Any) -> str:
    return "—" if v is None else f"{float(v):,.2f}"


def _print_breaches(rows: list[dict[Any, Any]]) -> None:
    for b in rows:
        where = f"{b.get('name') or ''}（{b['compound_id']}）"
        entry = f" #{b['entry_id']}" if b.get("entry_id") is not None else ""
        tag = escape(f"[{b['rule']}, {b['status']}]")  # rich would read the brackets as markup
        out.print(f"[red]违规[/] {escape(b['rule_zh'])} {tag} {escape(where)}{entry}: ", end="")
        out.print(escape(str(b["detail"])))


@app.command("add")
def funds_add(  # noqa: PLR0913 (its parameters are the command's options, the CLI contract)
    compound: Annotated[str, typer.Argument(help="The compound: id or name (its latest project, or --year's).")],
    kind: Annotated[str, typer.Option(help=KINDS_HELP)],
    amount: Annotated[str, typer.Option(help="万元, two decimals at most; only a change may be negative.")],
    on: Annotated[str | None, typer.Option("--date", help="The business date (default today).")] = None,
    source: Annotated[str | None, typer.Option(help="Fund source of received / payment: central 中央补助 …")] = None,
    reason: Annotated[str | None, typer.Option(help="Why (a change and a correction need one).")] = None,
    approved_by: Annotated[str | None, typer.Option(help="Who approved the change.")] = None,
    approved_on: Annotated[str | None, typer.Option(help="When the change was approved.")] = None,
    document: Annotated[str | None, typer.Option(help="The document's number (文号, 合同编号).")] = None,
    supersedes: Annotated[int | None, typer.Option(help="The entry this one corrects (same project and kind).")] = None,
    evidence: Annotated[list[int] | None, typer.Option(help="An evidence item id it rests on (repeat).")] = None,
    year: Annotated[int | None, typer.Option(help="The programme year of the project.")] = None,
) -> None:
    """Add an entry (append-only); prints it and the breaches it is named in (written and flagged)."""
    from gis import clock
    from gis.funds.service import Entry

    ws = open_workspace()
    entry = Entry(
        kind,
        amount,
        parse_date_option(on, "--date") or clock.today(),
        source=source,
        reason=reason,
        approved_by=approved_by,
        approved_on=parse_date_option(approved_on, "--approved-on"),
        document=document,
        supersedes=supersedes,
        evidence=evidence or [],
    )
    row = ws.funds.add(compound_id(ws, compound), entry, year=year, actor=actor(), role="admin")
    src = f" {row['source']}" if row["source"] else ""
    out.print(f"entry #{row['id']}: {row['kind']}{src} {_money(row['amount'])} 万元 on {row['on_date']}")
    _print_breaches(row["breaches"])


@app.command("show")
def funds_show(
    compound: Annotated[str, typer.Argument(help="The compound: id or name.")],
    on: Annotated[str | None, typer.Option("--date", help="As it stood on this day (default today).")] = None,
    year: Annotated[int | None, typer.Option(help="The programme year of the project.")] = None,
) -> None:
    """The chain of the project's ledger: every entry, the totals, received and paid per source, the breaches."""
    ws = open_workspace()
    led = ws.funds.ledger(compound_id(ws, compound), year=year, on=parse_date_option(on, "--date"))
    p = led.project
    out.print(f"[bold]{escape(str(p['name']))}[/] ({p['compound_id']}) {p['street'] or ''} {p['year']} — {led.on}")
    for r in led.entries.to_dict("records"):
        gone = "" if r["standing"] else f" [dim](superseded by #{r['superseded_by']})[/]"
        extra = " ".join(str(x) for x in (r["source"], r["reason"]) if x)
        if r["kind"] == "change":
            extra += f" 批准: {r['approved_by']} {r['approved_on']}" if r["approved_by"] else " [red]未批准[/]"
        out.print(f"#{r['id']} {r['on_date']} {r['kind_zh']} {_money(r['amount'])} {escape(extra)}{gone}")
    t = led.totals
    out.print("totals / 合计（万元）: " + "; ".join(f"{k} {_money(v)}" for k, v in t.items()))
    for r in led.by_source.to_dict("records"):
        out.print(f"  {r['zh']}: 计划 {_money(r['planned'])} 到位 {_money(r['received'])} 拨付 {_money(r['paid'])}")
    _print_breaches(led.breaches.to_dict("records"))


@app.command("check")
def funds_check(
    compound: Annotated[str | None, typer.Option(help="Only this compound (id or name).")] = None,
    street: Annotated[str | None, typer.Option(help="Only this street.")] = None,
    on: Annotated[str | None, typer.Option("--date", help="The day (default today).")] = None,
    year: Annotated[int | None, typer.Option(help="The programme year (default the latest).")] = None,
) -> None:
    """Every breach of layers/programme/funds.yaml standing on the day; exits 1 when there is any, 0 when none."""
    ws = open_workspace()
    fid = compound_id(ws, compound) if compound else None
    found = ws.funds.check(compound_id=fid, street=street, year=year, on=parse_date_option(on, "--date"))
    _print_breaches(found.to_dict("records"))
    out.print(f"{len(found)} breaches / 条违规")
    if len(found):
        raise typer.Exit(1)


@app.command("pack")
def funds_pack(
    out_path: Annotated[Path, typer.Option("--out", help="The pack: FILE.xlsx")],
    compound: Annotated[str | None, typer.Option(help="One compound's project (id or name).")] = None,
    street: Annotated[str | None, typer.Option(help="Every project of the street.")] = None,
    on: Annotated[str | None, typer.Option("--date", help="The day (default today).")] = None,
    year: Annotated[int | None, typer.Option(help="The programme year (default the latest).")] = None,
) -> None:
    """Write the auditor's pack (XLSX): the chain, the changes and their approval, sources, breaches, evidence."""
    from gis.export.audit_pack import write_pack

    if (compound is None) == (street is None):
        raise typer.BadParameter("give --compound or --street, one of them", param_hint="--compound/--street")
    ws = open_workspace()
    fid = compound_id(ws, compound) if compound else None
    pack = ws.funds.pack(compound_id=fid, street=street, year=year, on=parse_date_option(on, "--date"))
    out.print(f"wrote {escape(str(write_pack(pack, out_path)))}")
