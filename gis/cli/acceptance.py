"""``gisplan acceptance ...``: 综合验收 — the checklist, a team's record, the records, the printable 验收表."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from gis.cli.common import actor, compound_id, open_workspace, out, parse_date_option

app = typer.Typer(help="综合验收 (final acceptance): checklist, records, the printable 验收表.", no_args_is_help=True)


@app.command("checklist")
def acceptance_checklist() -> None:
    """The checklist (layers/programme/acceptance.yaml): items, points, mandatory, status of each rule."""
    ws = open_workspace()
    for row in ws.acceptance.checklist().to_dict("records"):
        must = "强制" if row["mandatory"] else "    "
        out.print(f"{row['item']:<22} {row['section_zh']} {must} {row['points']:>4g}  {row['zh']} [{row['status']}]")
    rules = ws.acceptance.rules
    out.print(f"pass: total >= {rules.pass_score.value:g} and every 强制 item >= {rules.mandatory_min_share.value:.0%}")


@app.command("record")
def acceptance_record(
    compound: Annotated[str, typer.Argument(help="The compound: id or name.")],
    scores: Annotated[
        Path,
        typer.Option(
            help="YAML or JSON: item -> points, or item -> {score, note, evidence: [ids]}; every item.", exists=True
        ),
    ],
    team: Annotated[list[str], typer.Option(help="A member of the team (repeat).")],
    on: Annotated[str | None, typer.Option("--date", help="The day it was held (default today).")] = None,
    finding: Annotated[list[str] | None, typer.Option(help="A thing to rectify (repeat); a failure needs one.")] = None,
    reinspects: Annotated[int | None, typer.Option(help="The failed record this re-inspects.")] = None,
) -> None:
    """Record a team's acceptance of the compound's project; prints the total and the result."""
    from gis.evidence.acceptance import Sheet
    from gis.yamlfiles import load_yaml

    ws = open_workspace()
    raw: dict[str, Any] = load_yaml(scores.read_text(encoding="utf-8")) or {}
    given = {
        str(k): (v["score"], v.get("note"), v.get("evidence") or []) if isinstance(v, dict) else v
        for k, v in raw.items()
    }
    from gis import clock

    sheet = Sheet(parse_date_option(on, "--date") or clock.today(), team, given, finding or [], reinspects)
    rec = ws.acceptance.record(compound_id(ws, compound), sheet, actor=actor(), role="admin")
    verdict = "[green]通过 passed[/]" if rec["passed"] else "[red]未通过 not passed[/]"
    out.print(f"acceptance #{rec['id']}: {float(rec['total']):g} points, {verdict}")
    for item in rec["failed_mandatory"]:
        out.print(f"  强制项未达标 mandatory item short: {item}")


@app.command("list")
def acceptance_list(compound: Annotated[str | None, typer.Argument(help="Only this compound.")] = None) -> None:
    """The records, by day."""
    import pandas as pd

    ws = open_workspace()
    found = ws.acceptance.records(compound_id(ws, compound) if compound else None)
    for r in found.to_dict("records"):
        verdict = "passed" if r["passed"] else f"not passed {list(r['failed_mandatory'])}"
        again = f" (re-inspects #{int(r['reinspects'])})" if pd.notna(r["reinspects"]) else ""
        out.print(f"#{r['id']} compound {r['compound_id']} {r['held_on']} {float(r['total']):g} {verdict}{again}")
    out.print(f"{len(found)} records")


@app.command("sheet")
def acceptance_sheet(
    record: Annotated[int, typer.Argument(help="The record's id.")],
    out_path: Annotated[Path, typer.Option("--out", help="验收表.xlsx or 验收表.html")],
) -> None:
    """Write the printable 验收表 (XLSX or HTML, with the cited photos inline)."""
    from gis.export.acceptance_sheet import write_sheet

    ws = open_workspace()
    written = write_sheet(ws.acceptance.sheet(record), out_path)
    out.print(f"wrote {escape(str(written))}")
