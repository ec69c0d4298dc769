"""``gisplan pipelines ...``: the GB 50289 checks and the overhead lines to bury (restricted data)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gis.cli.common import actor, open_workspace, out, write_frame

app = typer.Typer(help="Pipelines (管线, restricted): clearance checks, overhead lines to bury.", no_args_is_help=True)


@app.command("check")
def pipelines_check(
    compound: Annotated[int | None, typer.Option(help="Only lines in this compound (its id).")] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write every finding: .csv, .gpkg or .geojson.")
    ] = None,
) -> None:
    """Clearances between buried lines and to buildings (GB 50289-2016 表4.1.9), crossing order
    (4.1.12) where depths are known, lines past their service life. Every finding names the
    standard value's source and status (many values are UNVERIFIED and marked so)."""
    from gis.printers import print_pipeline_findings

    findings = open_workspace().pipelines.check(compound=compound, actor=actor())
    print_pipeline_findings(out, findings)
    if out_path is not None:
        write_frame(findings, out_path)


@app.command("bury")
def pipelines_bury(
    compound: Annotated[int | None, typer.Option(help="Only this compound (its id).")] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the lines: .csv, .gpkg or .geojson.")] = None,
) -> None:
    """Overhead lines to bury (架空线入地) per compound and operator (电信/移动/联通/广电, power company)."""
    from gis.pipelines import bury_summary
    from gis.printers import print_bury_summary

    lines = open_workspace().pipelines.bury(compound=compound)
    print_bury_summary(out, bury_summary(lines))
    if out_path is not None:
        write_frame(lines, out_path)
