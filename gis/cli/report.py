"""``gisplan report month``: the programme's monthly statistics (统计月报)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gis.cli.common import actor, open_workspace, out

app = typer.Typer(help="Reports (报表): the programme's monthly statistics (统计月报).", no_args_is_help=True)


@app.command("month")
def report_month(
    month: Annotated[str, typer.Argument(help="The month, YYYY-MM (e.g. 2026-11).")],
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the report: .xlsx or .csv.")] = None,
    submit: Annotated[
        bool, typer.Option("--submit", help="Submit (上报) the month: store the report and lock the month.")
    ] = False,
    year: Annotated[int | None, typer.Option(help="Programme year (default: the month's year).")] = None,
    live: Annotated[bool, typer.Option("--live", help="Recompute a submitted month from today's data.")] = False,
) -> None:
    """The monthly statistics (统计月报): per street and district, projects, buildings, households, floor
    area, investment, count per stage, completion against plan, overdue projects, corrections after lock."""
    from gis.report_printers import print_month

    ws = open_workspace()
    if submit:
        rep = ws.programme.submit(month, actor=actor(), role="admin", year=year)
    else:
        rep = ws.report_month(month, year=year, live=live)
    print_month(out, rep)
    if out_path is not None:
        rep.write(out_path)
        out.print(f"wrote {out_path}")


@app.command("inspection")
def report_inspection(
    out_path: Annotated[Path, typer.Option("--out", help="Write the bulletin: .html (printable) or .xlsx.")],
    on: Annotated[str | None, typer.Option("--on", help="As on this day (default today).")] = None,
    title: Annotated[str | None, typer.Option(help="The bulletin's title (default 督查通报（截至…）).")] = None,
) -> None:
    """The 督查通报: streets ranked by open and overdue inspection findings, every finding with its photos."""
    from gis.cli.common import parse_date_option
    from gis.export.inspection_report import write_bulletin

    ws = open_workspace()
    bulletin = ws.findings.bulletin(parse_date_option(on, "--on"), title=title)
    write_bulletin(bulletin, out_path)
    ranked = bulletin.ranking
    late = int(ranked["overdue"].sum()) if len(ranked) else 0
    out.print(f"{len(bulletin.findings)} findings, {late} overdue, {len(ranked)} streets; wrote {out_path}")
