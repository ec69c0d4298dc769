"""``gisplan export ...``: the offline map, the GeoPackage, gap tables and per-compound reports."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from gis.cli.common import open_workspace, out, parse_date_option

if TYPE_CHECKING:
    from gis.export.context import ExportContext

app = typer.Typer(help="Exports that work offline (导出): map, gpkg, tables, report.", no_args_is_help=True)

PlannerOpt = Annotated[
    bool, typer.Option("--planner", help="Include the restricted layers (pipelines). Never for the public.")
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="The layers and programme as they stood at the end of this day (rebuilt from the audit and event "
        "logs): compounds, facilities, pipelines; roads, buildings, water and stored results are left out.",
    ),
]


def _left_out(ctx: ExportContext, as_of: str | None) -> None:
    """Say what an export as of a date could not rebuild, and why."""
    layers = [i for i in ctx.left_out if i in ctx.registry.layers]
    results = [i for i in ctx.left_out if i not in layers]
    if layers:
        out.print(f"as of {as_of}: left out {', '.join(layers)} (audited per import, not row by row)")
    if results:
        out.print(f"as of {as_of}: left out {', '.join(results)} (stored results, computed from today's layers)")


@app.command("map")
def export_map(
    out_path: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path("out/map.html"),
    colour: Annotated[
        str,
        typer.Option(help="'stage', 'gap' (for --facility) or 'progress' (挂图作战: overdue marked, street figures)."),
    ] = "stage",
    facility: Annotated[str | None, typer.Option(help="Facility type for --colour gap and --catchment.")] = None,
    catchment: Annotated[bool, typer.Option(help="Draw the facility type's walking catchment.")] = False,
    planner: PlannerOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """A single self-contained HTML map (Leaflet inlined): opens from a USB stick with no network."""
    from gis.export.offline_map import save

    if colour not in ("stage", "gap", "progress"):
        raise typer.BadParameter("stage, gap or progress", param_hint="--colour")
    mode: Literal["stage", "gap", "progress"] = colour  # type: ignore[assignment]
    day = parse_date_option(as_of, "--as-of")
    fmap = open_workspace().map(mode, facility=facility, catchment=catchment, planner=planner, as_of=day)
    save(fmap, out_path)
    out.print(f"wrote {out_path} ({out_path.stat().st_size / 1e6:.1f} MB) — open it in any browser, no network needed")


@app.command("gpkg")
def export_gpkg(
    out_path: Annotated[Path, typer.Option("--out", help="The GeoPackage to write (replaced).")] = Path(
        "out/gisplan.gpkg"
    ),
    planner: PlannerOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """All layers and the latest results in one GeoPackage, with QGIS styles."""
    from gis.export import gpkg

    day = parse_date_option(as_of, "--as-of")
    ctx = open_workspace().export_context("planner" if planner else "public", gpkg.NEEDS, as_of=day)
    _left_out(ctx, as_of)
    counts = gpkg.export_gpkg(ctx, out_path)
    out.print(f"wrote {out_path}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@app.command("tables")
def export_tables(
    out_path: Annotated[Path, typer.Option("--out", help=".xlsx (by street and by district) or .csv")] = Path(
        "out/服务缺口统计.xlsx"
    ),
    by: Annotated[str, typer.Option(help="For .csv: street or district.")] = "street",
) -> None:
    """Gap tables by street and district from the latest analysis of each facility type."""
    from gis.export import gap_tables

    if by not in ("street", "district"):
        raise typer.BadParameter("street or district", param_hint="--by")
    ctx = open_workspace().export_context("public", gap_tables.NEEDS)
    for path in gap_tables.export_tables(ctx, out_path, by=by):
        out.print(f"wrote {path}")


@app.command("report")
def export_report(
    compound: Annotated[int | None, typer.Argument(help="A compound id; all compounds when omitted.")] = None,
    out_path: Annotated[Path, typer.Option("--out", help="A directory (all) or an .html file (one).")] = Path(
        "out/reports"
    ),
    planner: PlannerOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """The printable per-compound report (一区一策): map extract, attributes, gaps, nearby facilities."""
    from gis.export import compound_report
    from gis.roles import Role

    role: Role = "planner" if planner else "public"
    ctx = open_workspace().export_context(role, compound_report.NEEDS, as_of=parse_date_option(as_of, "--as-of"))
    _left_out(ctx, as_of)
    if compound is None:
        files = compound_report.write_reports(ctx, out_path)
        out.print(f"wrote {len(files) - 1} reports and {files[0]}")
        return
    path = out_path if out_path.suffix == ".html" else out_path / f"{compound}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(compound_report.compound_report(ctx, compound), encoding="utf-8")
    out.print(f"wrote {path}")
