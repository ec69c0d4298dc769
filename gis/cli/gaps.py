"""``gisplan gaps``: service gaps against a standard, or new sites that close them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from gis.cli.common import actor, open_database, open_workspace, out, settings, write_frame

if TYPE_CHECKING:
    from gis.gaps.analysis import GapParameters


def gaps(  # noqa: PLR0913 (its parameters are the command's options, the CLI contract)
    facility: Annotated[
        list[str] | None, typer.Option("--facility", help="Facility type (repeatable), e.g. kindergarten or 幼儿园.")
    ] = None,
    standard: Annotated[
        str, typer.Option(help="gb50180, or the id of a county rule file in GISPLAN_HOME/standards.")
    ] = "gb50180",
    out_path: Annotated[Path | None, typer.Option("--out", help="Write every result: .csv, .gpkg or .geojson.")] = None,
    tolerance: Annotated[
        float, typer.Option(help="Join road ends closer than this (m); 0: only ends that meet.")
    ] = 1.0,
    max_leg: Annotated[float, typer.Option(help="Flag compounds with no road within this distance (m).")] = 300.0,
    access: Annotated[
        str,
        typer.Option(
            help="all: enter the network at every segment within 30 m; nearest: the nearest only (as desktop tools)."
        ),
    ] = "all",
    node_crossings: Annotated[
        str,
        typer.Option(
            help="auto: split non-OSM road lines where they cross, not across bridge/tunnel/layer levels; yes; no."
        ),
    ] = "auto",
    propose: Annotated[
        int | None,
        typer.Option(help="Propose K new sites for the (one) --facility type that cover the most uncovered demand."),
    ] = None,
    by: Annotated[str | None, typer.Option(help="Also sum up by street or district.")] = None,
    candidates: Annotated[
        Path | None, typer.Option(help="With --propose: a file of candidate sites (default: a point in each compound).")
    ] = None,
    engine: Annotated[
        str, typer.Option(help="local: one process; dask: partition by partition on a Dask cluster (gisplan[dask]).")
    ] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="With --engine dask: the scheduler's address (else DASK_SCHEDULER_ADDRESS, else a LocalCluster); "
            "its workers need GISPLAN_DATABASE_URL in their own environment."
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="With --engine dask and no scheduler: worker processes (default: cores).")
    ] = None,
    partition_segments: Annotated[
        int, typer.Option(min=1, help="With --engine dask: road segments a partition may read, halo included.")
    ] = 200_000,
) -> None:
    """Service gaps (服务缺口): walking distance from each compound to the nearest facility of each type,
    against the standard's radius; residents, children and elderly not covered.

    Columns of --out: compound_id, compound_name, facility_type, distance_m, radius_m, covered, basis
    (network, or euclidean when there is no road layer), then level, radius_status, euclidean_m,
    nearest facility, flag, district, street, population, demand group, demand, affected.
    """
    from gis.gaps.analysis import summarise
    from gis.printers import print_gap_summary

    if propose is not None:
        if not facility or len(facility) != 1:
            raise typer.BadParameter("--propose needs exactly one --facility", param_hint="--propose")
        propose_sites(
            facility[0],
            propose,
            standard=standard,
            params=_params(tolerance, max_leg, access, node_crossings),
            candidates=candidates,
            out_path=out_path,
            engine=engine,
        )
        return
    if by not in (None, "street", "district"):
        raise typer.BadParameter("street or district", param_hint="--by")
    if engine not in ("local", "dask"):
        raise typer.BadParameter("local or dask", param_hint="--engine")
    if engine == "local" and (scheduler or workers):
        raise typer.BadParameter("--scheduler and --workers are for --engine dask", param_hint="--engine")
    from gis.gaps.inputs import gap_inputs
    from gis.gaps.runs import run_analysis
    from gis.registry import registry

    params = _params(tolerance, max_leg, access, node_crossings)
    config = settings()
    db = open_database(config)  # as Workspace.run_gaps, without loading the rest of the workspace
    setup = gap_inputs(
        db, registry(), facility or None, standard=standard, params=params, standards_dir=config.home / "standards"
    )
    if engine == "dask":
        from gis.gaps.distributed import run_on_dask
        from gis.gaps.partitions import Sizing

        run = run_on_dask(
            db.engine,
            setup,
            actor(),
            config,
            scheduler=scheduler,
            workers=workers,
            sizing=Sizing(max_edges=partition_segments),
        )
    else:
        run = run_analysis(db.engine, setup, actor())
    print_gap_summary(out, run.summary(), run.basis)
    if by:
        keys = ("district", "street") if by == "street" else ("district",)
        print_gap_summary(out, summarise(run.results, by=keys), run.basis, by=keys)
    for w in run.warnings:
        style = "bold red" if "STRAIGHT" in w else "yellow"
        out.print(f"[{style}]note:[/] {w}")
    out.print(f"run / 分析编号: {run.run_id} (standard {run.standard}, basis {run.basis})")
    if out_path is not None:
        write_frame(run.results, out_path)


def propose_sites(
    facility: str,
    k: int,
    *,
    standard: str,
    params: GapParameters,
    candidates: Path | None,
    out_path: Path | None,
    engine: str = "local",
) -> None:
    """``gaps --propose K``: the K sites that cover the most uncovered demand, printed (and written);
    with ``--engine dask``, K for each district."""
    import geopandas as gpd

    from gis.printers import print_sites

    ws = open_workspace()
    cands = None
    if candidates is not None:
        cands = gpd.read_file(candidates)
        if cands.crs is None:
            raise typer.BadParameter("the candidates file has no CRS", param_hint="--candidates")
    if engine == "dask":
        if cands is not None:
            raise typer.BadParameter("--candidates runs with --engine local only", param_hint="--candidates")
        sites = ws.propose_sites(facility, k, standard=standard, params=params, actor=actor(), engine="dask")
        for district, facts in sites.attrs["districts"].items():
            part = sites[sites["district"].astype(str) == district]
            part.attrs.update(facts)
            out.print(f"[bold]{escape(district)}[/]")
            print_sites(out, part)
    else:
        sites = ws.propose_sites(facility, k, standard=standard, params=params, candidates=cands, actor=actor())
        print_sites(out, sites)
    if out_path is not None:
        write_frame(sites, out_path)


def _params(tolerance: float, max_leg: float, access: str, node_crossings: str) -> GapParameters:
    """The run's parameters from the options (a bad value refused in the options' words)."""
    from gis.gaps.analysis import ACCESS_MODES, NODE_CROSSINGS, GapParameters

    if access not in ACCESS_MODES:
        raise typer.BadParameter(" or ".join(ACCESS_MODES), param_hint="--access")
    if node_crossings not in NODE_CROSSINGS:
        raise typer.BadParameter(", ".join(NODE_CROSSINGS), param_hint="--node-crossings")
    if not tolerance >= 0:
        raise typer.BadParameter("a distance of 0 m or more", param_hint="--tolerance")
    return GapParameters(tolerance_m=tolerance, max_leg_m=max_leg, access=access, node_crossings=node_crossings)
