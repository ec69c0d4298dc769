"""The ``gisplan`` command (also ``python -m gis``): thin over the library, one way to do each thing."""

from __future__ import annotations

import getpass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import geopandas as gpd
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from gis.errors import GisError, ImportRefusedError
from gis.ingest import ImportReport
from gis.registry import registry
from gis.settings import Settings
from gis.store.cluster import EmbeddedCluster

if TYPE_CHECKING:
    from gis.workspace import Workspace

app = typer.Typer(
    help="gisplan — 老旧小区改造空间规划 / GIS planning for old residential compound renovation.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
db_app = typer.Typer(help="The embedded PostgreSQL/PostGIS database (内置数据库).", no_args_is_help=True)
app.add_typer(db_app, name="db")

out = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    return Settings()


def _workspace() -> Workspace:
    from gis.workspace import connect  # heavy imports only for commands that need them

    return connect(settings=_settings())


# -- db ------------------------------------------------------------------------------------------
@db_app.command("up")
def db_up() -> None:
    """Create (first time) and start the embedded database; print its URL."""
    settings = _settings()
    if settings.database_url:
        err.print("[yellow]GISPLAN_DATABASE_URL is set: gisplan uses that server, not the embedded one.[/]")
    cluster = EmbeddedCluster(settings.home)
    url = cluster.up()
    st = cluster.status()
    out.print(f"[green]running[/] data: {st.data_dir}  port: {st.port}")
    out.print(url, soft_wrap=True)


@db_app.command("down")
def db_down() -> None:
    """Stop the embedded database."""
    stopped = EmbeddedCluster(_settings().home).down()
    out.print("stopped" if stopped else "was not running")


@db_app.command("status")
def db_status() -> None:
    """Where the embedded database lives and whether it runs (exit 1 when it does not)."""
    settings = _settings()
    st = EmbeddedCluster(settings.home).status()
    table = Table(show_header=False, box=None)
    table.add_row("home (GISPLAN_HOME)", str(settings.home))
    table.add_row("in use", "GISPLAN_DATABASE_URL (external server)" if settings.database_url else "embedded")
    table.add_row("initialised", "yes" if st.initialised else "no (run: gisplan db up)")
    table.add_row("running", "[green]yes[/]" if st.running else "[red]no[/]")
    if st.data_dir:
        table.add_row("data directory", st.data_dir)
        table.add_row("port", str(st.port))
        table.add_row("log", str(st.log))
    out.print(table)
    raise typer.Exit(0 if st.running else 1)


@db_app.command("url")
def db_url() -> None:
    """Print the database URL gisplan uses (starting the embedded database if needed)."""
    settings = _settings()
    if settings.database_url:
        out.print(settings.database_url)
    else:
        out.print(EmbeddedCluster(settings.home).up(), soft_wrap=True)


# -- load ----------------------------------------------------------------------------------------
def print_report(report: ImportReport, *, max_problems: int = 20) -> None:
    """The per-import summary a planner reads: counts, notes, the first problems, where the rest are."""
    head = Table(title=f"{report.layer} ← {Path(report.path).name}", show_header=False, box=None)
    head.add_row(
        "format / 格式",
        f"{report.driver}" + (f" ({', '.join(report.source_layers)})" if report.source_layers else ""),
    )
    if report.encoding or report.encoding_note:
        head.add_row("encoding / 编码", f"{report.encoding or '-'}  ({report.encoding_note or ''})")
    head.add_row("CRS / 坐标系", f"{report.crs_used or '-'} → {report.working_crs or '-'}")
    if report.crs_note:
        head.add_row("", report.crs_note)
    if report.coords != "wgs84":
        head.add_row("coords", f"{report.coords} → WGS 84")
    head.add_row(
        "read / 读取",
        str(report.read) + (f"  (+{report.not_relevant} not for this layer)" if report.not_relevant else ""),
    )
    head.add_row(
        "loaded / 入库",
        f"[green]{report.loaded}[/]  (new {report.inserted}, updated {report.updated}, unchanged {report.unchanged}"
        + (f", replaced {report.deleted}" if report.replace else "")
        + ")",
    )
    head.add_row("repaired / 修复", str(len(report.repaired)))
    head.add_row("set aside / 剔除", f"[{'red' if report.rejected else 'green'}]{len(report.rejected)}[/]")
    if report.field_issues:
        head.add_row("values left empty / 字段置空", f"[yellow]{len(report.field_issues)}[/] (kept as read in extra)")
    out.print(head)
    for w in report.warnings:
        out.print(f"[yellow]note:[/] {w}")
    if report.rejected:
        t = Table("#", "key", "reason / 原因", title="set aside / 剔除的要素")
        for p in report.rejected[:max_problems]:
            t.add_row(str(p.index), p.key or "", p.reason)
        out.print(t)
        if len(report.rejected) > max_problems:
            out.print(f"... and {len(report.rejected) - max_problems} more")
    if report.field_issues:
        t = Table(
            "#",
            "key",
            "value problem / 字段问题",
            title="values that could not be read (feature loaded, field empty)",
        )
        for p in report.field_issues[:max_problems]:
            t.add_row(str(p.index), p.key or "", p.reason)
        out.print(t)
    if report.repaired:
        shown = ", ".join(f"#{p.index} {p.reason}" for p in report.repaired[:5])
        out.print(f"repaired: {shown}" + (" ..." if len(report.repaired) > 5 else ""))
    if report.rejects_path:
        out.print(f"rejects file / 剔除清单: {report.rejects_path}")
    if report.report_path:
        out.print(f"report / 报告: {report.report_path}")


LOAD_EXAMPLES = """Examples / 示例:

  gisplan load compounds 小区.shp

  gisplan load compounds land.shp --crs EPSG:4547      (the .prj lies: GK metres, CM 114E)

  gisplan load facilities 学校.shp --type primary_school

  gisplan load facilities 高德POI.csv --coords gcj02

  gisplan load roads map.osm
"""


@app.command("load", epilog=LOAD_EXAMPLES)
def load(
    layer: Annotated[str, typer.Argument(help="Target layer: compounds, facilities, pipelines, roads, buildings.")],
    path: Annotated[Path, typer.Argument(help="Shapefile, GeoPackage, GeoJSON, FlatGeobuf, DXF, CSV, OSM XML/PBF.")],
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding (default: .cpg, else UTF-8 or GB18030 detected).")
    ] = None,
    crs: Annotated[
        str | None,
        typer.Option(help="The data's real CRS, e.g. EPSG:4547, when the file's is missing or wrong."),
    ] = None,
    coords: Annotated[
        str,
        typer.Option(help="wgs84, or gcj02 (Amap/Tencent) / bd09 (Baidu) to convert commercial-map coordinates."),
    ] = "wgs84",
    type: Annotated[
        str | None,
        typer.Option("--type", help="Type/kind for features that carry none, e.g. primary_school, 幼儿园, JS."),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Swap the layer's whole content for this file's, atomically.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse the whole file if any feature cannot be used.")
    ] = False,
    source: Annotated[
        str | None, typer.Option(help="Name re-imports are matched under (default: file name; osm for OSM).")
    ] = None,
    source_layer: Annotated[str | None, typer.Option(help="Layer of a multi-layer file (GeoPackage) to read.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import a file into a layer (导入图层). One transaction: a refused import changes nothing.

    Prints counts and per-feature problems; features that cannot be used are set aside into a
    rejects CSV next to the report. Exit code 1 when the file was refused.
    """
    if coords not in ("wgs84", "gcj02", "bd09"):
        raise typer.BadParameter("choose wgs84, gcj02 or bd09", param_hint="--coords")
    coords_value: Literal["wgs84", "gcj02", "bd09"] = coords  # type: ignore[assignment]
    ws = _workspace()
    try:
        report = ws.load(
            layer,
            path,
            encoding=encoding,
            crs=crs,
            coords=coords_value,
            type=type,
            replace=replace,
            strict=strict,
            source=source,
            source_layer=source_layer,
            actor=f"cli:{getpass.getuser()}",
        )
    except ImportRefusedError as exc:
        if as_json and isinstance(exc.report, ImportReport):
            out.print_json(exc.report.model_dump_json())
        else:
            if isinstance(exc.report, ImportReport) and exc.report.rejected:
                print_report(exc.report)
            err.print(f"[red]refused / 拒绝导入:[/] {exc}")
            err.print("nothing was changed / 数据库未作任何改动")
        raise typer.Exit(1) from None
    if as_json:
        out.print_json(report.model_dump_json())
    else:
        print_report(report)


@app.command("gaps")
def gaps(
    facility: Annotated[
        list[str] | None, typer.Option("--facility", help="Facility type (repeatable), e.g. kindergarten or 幼儿园.")
    ] = None,
    standard: Annotated[
        str, typer.Option(help="gb50180, or the id of a county rule file in GISPLAN_HOME/standards.")
    ] = ("gb50180"),
    out_path: Annotated[Path | None, typer.Option("--out", help="Write every result: .csv, .gpkg or .geojson.")] = None,
    tolerance: Annotated[float, typer.Option(help="Join road ends closer than this (m).")] = 1.0,
    max_leg: Annotated[float, typer.Option(help="Flag compounds with no road within this distance (m).")] = 300.0,
    propose: Annotated[
        int | None,
        typer.Option(help="Propose K new sites for the (one) --facility type that cover the most uncovered demand."),
    ] = None,
    by: Annotated[str | None, typer.Option(help="Also sum up by street or district.")] = None,
    candidates: Annotated[
        Path | None, typer.Option(help="With --propose: a file of candidate sites (default: a point in each compound).")
    ] = None,
) -> None:
    """Service gaps (服务缺口): walking distance from each compound to the nearest facility of each type,
    against the standard's radius; residents, children and elderly not covered.

    Columns of --out: compound_id, compound_name, facility_type, distance_m, radius_m, covered, basis
    (network, or euclidean when there is no road layer), then level, radius_status, euclidean_m,
    nearest facility, flag, district, street, population, demand group, demand, affected.
    """
    from gis.export.files import write_results
    from gis.gaps.analysis import GapParameters, summarise

    ws = _workspace()
    params = GapParameters(tolerance_m=tolerance, max_leg_m=max_leg)
    if propose is not None:
        if not facility or len(facility) != 1:
            raise typer.BadParameter("--propose needs exactly one --facility", param_hint="--propose")
        cands = None
        if candidates is not None:
            cands = gpd.read_file(candidates)
            if cands.crs is None:
                raise typer.BadParameter("the candidates file has no CRS", param_hint="--candidates")
        sites = ws.propose_sites(
            facility[0], propose, standard=standard, params=params, candidates=cands, actor=f"cli:{getpass.getuser()}"
        )
        print_sites(sites)
        if out_path is not None:
            write_results(sites, out_path)
            out.print(f"wrote {out_path}")
        return
    if by not in (None, "street", "district"):
        raise typer.BadParameter("street or district", param_hint="--by")
    run = ws.run_gaps(
        facility or None,
        standard=standard,
        params=params,
        actor=f"cli:{getpass.getuser()}",
    )
    print_gap_summary(run.summary(), run.basis)
    if by:
        keys = ("district", "street") if by == "street" else ("district",)
        print_gap_summary(summarise(run.results, by=keys), run.basis, by=keys)
    for w in run.warnings:
        style = "bold red" if "STRAIGHT" in w else "yellow"
        out.print(f"[{style}]note:[/] {w}")
    out.print(f"run / 分析编号: {run.run_id} (standard {run.standard}, basis {run.basis})")
    if out_path is not None:
        write_results(run.results, out_path)
        out.print(f"wrote {out_path}")


def print_sites(sites: gpd.GeoDataFrame, console: Console = out) -> None:
    """Proposed sites with what each adds, and coverage before and after."""
    a = sites.attrs
    t = Table(
        "#",
        "site / 选址",
        "new compounds / 新覆盖小区",
        "demand / 需求",
        title=f"proposed sites / 建议选址 ({a.get('weight')}, {a.get('radius_m'):g} m)",
    )
    for row in sites.to_dict("records"):
        t.add_row(
            str(row["rank"]),
            str(row["candidate"]),
            f"{row['new_compounds']}: {row['new_compound_names']}",
            f"{row['new_demand']:,.0f}",
        )
    console.print(t)
    b, f = a["before"], a["after"]
    console.print(
        f"covered compounds / 覆盖小区: {b['compounds_covered']} → {f['compounds_covered']} of {b['compounds']}; "
        f"demand covered / 覆盖需求: {b['demand_covered']:,.0f} → {f['demand_covered']:,.0f}"
        f" of {b['demand_total']:,.0f}"
    )  # fmt: skip


DEMAND_LABELS = {
    "children": "children 幼儿",
    "elderly": "elderly 老人",
    "infants": "infants 婴幼儿",
    "pupils": "pupils 小学生",
    "households": "households 户",
}


def print_gap_summary(summary: pd.DataFrame, basis: str, console: Console = out, by: tuple[str, ...] = ()) -> None:
    """The table a planner reads first: type, compounds covered of all, residents and demand not covered."""
    labels = {c.id: c.zh for c in registry().code_list("facility_type").codes}
    t = Table(
        *by,
        "facility / 设施",
        "radius m",
        "covered / 覆盖",
        "residents uncovered / 未覆盖人口",
        "of whom / 其中",
        title=f"service gaps / 服务缺口 (basis: {basis})",
    )
    for row in summary.to_dict("records"):
        group = DEMAND_LABELS.get(str(row["demand_group"]), "")
        t.add_row(
            *[str(row[k]) for k in by],
            f"{row['facility_type']} {labels.get(str(row['facility_type']), '')}",
            f"{row['radius_m']:g}",
            f"{int(row['covered'])} / {int(row['compounds'])}",
            f"{row['residents_uncovered']:,.0f}",
            f"{row['demand_uncovered']:,.0f} {group}" if group else "",
        )
    console.print(t)


pipes_app = typer.Typer(
    help="Pipelines (管线, restricted): clearance checks, overhead lines to bury.", no_args_is_help=True
)
app.add_typer(pipes_app, name="pipelines")


@pipes_app.command("check")
def pipelines_check(
    compound: Annotated[int | None, typer.Option(help="Only lines in this compound (its id).")] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write every finding: .csv, .gpkg or .geojson.")
    ] = None,
) -> None:
    """Clearances between buried lines and to buildings (GB 50289-2016 表4.1.9), crossing order
    (4.1.12) where depths are known, lines past their service life. Every finding names the
    standard value's source and status (many values are UNVERIFIED and marked so)."""
    from gis.export.files import write_results

    findings = _workspace().pipelines.check(compound=compound, actor=f"cli:{getpass.getuser()}")
    t = Table("check / 检查", "status / 依据状态", "findings / 问题数", title="pipeline findings / 管线问题")
    for row in (
        findings.groupby(["check", "value_status"], dropna=False).size().reset_index(name="n").to_dict("records")
    ):
        t.add_row(str(row["check"]), str(row["value_status"]), str(row["n"]))
    out.print(t)
    out.print(f"run / 检查编号: {findings.attrs.get('run_id')}")
    if out_path is not None:
        write_results(findings, out_path)
        out.print(f"wrote {out_path}")


@pipes_app.command("bury")
def pipelines_bury(
    compound: Annotated[int | None, typer.Option(help="Only this compound (its id).")] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the lines: .csv, .gpkg or .geojson.")] = None,
) -> None:
    """Overhead lines to bury (架空线入地) per compound and operator (电信/移动/联通/广电, power company)."""
    from gis.export.files import write_results
    from gis.pipelines.checks import bury_summary

    lines = _workspace().pipelines.bury(compound=compound)
    t = Table(
        "compound / 小区",
        "kind / 种类",
        "operator / 责任单位",
        "lines / 条数",
        "metres / 长度(m)",
        title="overhead lines to bury / 架空线入地",
    )
    for row in bury_summary(lines).to_dict("records"):
        t.add_row(
            str(row["compound_name"]),
            str(row["kind"]),
            str(row["responsible"]),
            str(row["lines"]),
            f"{row['length_m']:,.1f}",
        )
    out.print(t)
    if out_path is not None:
        write_results(lines, out_path)
        out.print(f"wrote {out_path}")


progress_app = typer.Typer(
    help="The renovation programme (改造计划与进度): schedule table, stages, corrections. The CLI acts as a local "
    "admin (it has the database itself); every change is recorded with your OS user name.",
    no_args_is_help=True,
)
app.add_typer(progress_app, name="progress")
report_app = typer.Typer(help="Reports (报表): the programme's monthly statistics (统计月报).", no_args_is_help=True)
app.add_typer(report_app, name="report")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _date(value: str | None, param: str) -> date | None:
    from gis.programme import parse_date

    if value is None:
        return None
    try:
        return parse_date(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=param) from None


def _compound(ws: Workspace, value: str) -> int:
    """A compound by id (fid) or by its unique name."""
    if value.isdigit():
        return int(value)
    found = ws.layer("compounds", where={"name": value})
    if len(found) != 1:
        raise typer.BadParameter(
            f"{len(found)} compounds are named {value!r}; give the id" if len(found) else f"no compound {value!r}",
            param_hint="COMPOUND",
        )
    return int(found.iloc[0]["fid"])


@progress_app.command("template")
def progress_template(
    out_path: Annotated[Path, typer.Option("--out", help="The XLSX to write, e.g. 配档表.xlsx.")],
    year: Annotated[int | None, typer.Option(help="Programme year (default: the latest with projects).")] = None,
) -> None:
    """Write the schedule table (时间配档表): a row per compound of the year, filled with what is stored."""
    path = _workspace().programme.write_schedule(out_path, year)
    out.print(f"wrote {path}")


@progress_app.command("export")
def progress_export(
    out_path: Annotated[Path, typer.Option("--out", help="The XLSX to write.")],
    year: Annotated[int | None, typer.Option(help="Programme year (default: the latest with projects).")] = None,
) -> None:
    """The schedule table as stored now (the same file as `template`, for a year with projects)."""
    progress_template(out_path, year)


@progress_app.command("import")
def progress_import(
    path: Annotated[Path, typer.Argument(help="A schedule table (XLSX), e.g. one written by `template`.")],
    year: Annotated[int | None, typer.Option(help="Programme year of rows without 年度.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse the whole file if any row is bad.")] = False,
    as_of: Annotated[str | None, typer.Option(help="The date the spending figures are as of (default today).")] = None,
) -> None:
    """Import a schedule table (导入时间配档表) in one transaction: new projects and plans, new actual dates
    (stages move forward only), spending. Bad rows are listed with their reason; exit code 1 on refusal."""
    ws = _workspace()
    try:
        report = ws.programme.import_schedule(
            path, year=year, strict=strict, actor=_actor(), role="admin", as_of=_date(as_of, "--as-of")
        )
    except ImportRefusedError as exc:
        from gis.programme import ScheduleImportReport

        if isinstance(exc.report, ScheduleImportReport):
            _print_rejected(exc.report)
        err.print(f"[red]refused / 拒绝导入:[/] {exc}")
        err.print("nothing was changed / 数据库未作任何改动")
        raise typer.Exit(1) from None
    t = Table(show_header=False, box=None, title=f"schedule ← {path.name} ({report.sheet})")
    t.add_row("rows / 行数", str(report.rows))
    t.add_row("new projects / 新增项目", str(report.created))
    t.add_row("updated / 更新", str(report.updated))
    t.add_row("unchanged / 未变", str(report.unchanged))
    t.add_row("changes recorded / 记录变更", str(report.events))
    t.add_row("set aside / 剔除", f"[{'red' if report.rejected else 'green'}]{len(report.rejected)}[/]")
    out.print(t)
    _print_rejected(report)


def _print_rejected(report: object) -> None:
    rejected = getattr(report, "rejected", [])
    if rejected:
        t = Table("row / 行", "key", "reason / 原因", title="rows set aside / 剔除的行")
        for p in rejected:
            t.add_row(str(p.row), p.key or "", p.reason)
        out.print(t)


@progress_app.command("set")
def progress_set(
    compound: Annotated[str, typer.Argument(help="Compound id or unique name.")],
    stage: Annotated[
        str | None,
        typer.Option(
            help="Stage reached: survey design tender construction completed "
            "accepted, or 调查摸底 方案设计 招投标 施工 完工 验收."
        ),
    ] = None,
    on: Annotated[str | None, typer.Option("--date", help="The date the stage was reached (default today).")] = None,
    spent: Annotated[str | None, typer.Option(help="Investment spent so far, 万元 (as of today).")] = None,
    year: Annotated[int | None, typer.Option(help="Programme year (default: the compound's latest project).")] = None,
) -> None:
    """Report progress (进度填报): a stage reached on a date (forward only), and/or spending so far."""
    if stage is None and spent is None:
        raise typer.BadParameter("give --stage and/or --spent")
    ws = _workspace()
    fid = _compound(ws, compound)
    when = _date(on, "--date")
    if stage is not None:
        from datetime import date as _d

        ws.programme.advance(fid, stage, when or _d.today(), year=year, actor=_actor(), role="admin")
    if spent is not None:
        ws.programme.spend(fid, spent, year=year, actor=_actor(), role="admin")  # as of today
    _print_projects(ws, year, only=[fid])


@progress_app.command("correct")
def progress_correct(
    compound: Annotated[str, typer.Argument(help="Compound id or unique name.")],
    reason: Annotated[str, typer.Option(help="Why (更正理由); required.")],
    stage: Annotated[str | None, typer.Option(help="The stage the project is really at (may move back).")] = None,
    on: Annotated[str | None, typer.Option("--date", help="The date that stage was reached.")] = None,
    actual: Annotated[
        list[str] | None, typer.Option(help="STAGE=DATE to set, STAGE= to clear one actual date (repeatable).")
    ] = None,
    spent: Annotated[str | None, typer.Option(help="The real investment spent, 万元.")] = None,
    spent_as_of: Annotated[str | None, typer.Option(help="The date --spent is as of.")] = None,
    year: Annotated[int | None, typer.Option(help="Programme year.")] = None,
) -> None:
    """An admin's correction (更正) with a reason: a stage back, a wrong date, a wrong amount. Recorded as a
    correction; a change to a submitted month appears under 更正事项 in the next report."""
    ws = _workspace()
    fid = _compound(ws, compound)
    dates: dict[str, date | None] = {}
    for item in actual or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter("write STAGE=DATE", param_hint="--actual")
        dates[key] = _date(value, "--actual") if value else None
    ws.programme.correct(
        fid,
        reason=reason,
        stage=stage,
        on=_date(on, "--date"),
        actual=dates or None,
        investment_spent=spent,
        spent_as_of=_date(spent_as_of, "--spent-as-of"),
        year=year,
        actor=_actor(),
        role="admin",
    )
    _print_projects(ws, year, only=[fid])


@progress_app.command("show")
def progress_show(
    year: Annotated[int | None, typer.Option(help="Programme year (default: the latest with projects).")] = None,
    on: Annotated[str | None, typer.Option(help="As on this date (default today).")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only projects behind plan.")] = False,
    out_path: Annotated[Path | None, typer.Option("--out", help="Also write the rows: .csv, .gpkg, .geojson.")] = None,
) -> None:
    """The projects with their stage, planned finish and how far behind plan they are (项目进度)."""
    ws = _workspace()
    _print_projects(ws, year, on=_date(on, "--on"), overdue_only=overdue, out_path=out_path)


def _print_projects(
    ws: Workspace,
    year: int | None,
    *,
    on: date | None = None,
    only: list[int] | None = None,
    overdue_only: bool = False,
    out_path: Path | None = None,
) -> None:
    st = ws.programme.status(year, on)
    if only is not None:
        st = st[st["compound_id"].isin(only)]
    if overdue_only:
        st = st[st["overdue"]]
    t = Table(
        "id",
        "compound / 小区",
        "street / 街道",
        "stage / 阶段",
        "planned finish / 计划完工",
        "behind / 滞后",
        "at risk / 风险",
        "spent / 完成投资(万元)",
        title=f"programme {int(st['year'].iloc[0]) if len(st) else year or ''} / 改造项目",
    )
    for r in st.to_dict("records"):
        t.add_row(
            str(r["compound_id"]),
            str(r["name"]),
            str(r["street"]),
            f"{r['stage_zh']} {r['stage'] or ''}",
            str(r["planned_finish"] or ""),
            f"[red]{r['days_behind']} d (应{r['due_stage_zh']})[/]" if r["overdue"] else "",
            f"[yellow]{r['risk_days']} d[/]" if r["at_risk"] else "",
            "" if r["investment_spent"] is None or pd.isna(r["investment_spent"]) else f"{r['investment_spent']:.2f}",
        )
    out.print(t)
    if out_path is not None:
        from gis.export.files import write_results

        frame = st.copy()
        for c in frame.columns:
            if frame[c].map(lambda v: isinstance(v, list)).any():
                frame[c] = frame[c].map(lambda v: ",".join(v) if isinstance(v, list) else v)
        write_results(frame, out_path)
        out.print(f"wrote {out_path}")


@progress_app.command("history")
def progress_history(
    compound: Annotated[str | None, typer.Argument(help="Compound id or unique name (default: all).")] = None,
    year: Annotated[int | None, typer.Option(help="Programme year.")] = None,
) -> None:
    """Every recorded change: who, when, what, why, correction or not (变更记录)."""
    ws = _workspace()
    fid = _compound(ws, compound) if compound else None
    h = ws.programme.history(fid, year)
    t = Table(
        "#",
        "at / 时间",
        "who / 操作人",
        "compound",
        "action",
        "stage / 阶段",
        "date / 日期",
        "changes / 变更",
        "reason / 理由",
        title="programme changes / 变更记录",
    )
    for r in h.to_dict("records"):
        changes = "; ".join(f"{k}: {v[0]} → {v[1]}" for k, v in r["changes"].items())
        t.add_row(
            str(r["id"]),
            f"{r['at']:%Y-%m-%d %H:%M}",
            str(r["actor"]),
            str(r["compound_id"]),
            str(r["action"]) + (" [red]更正[/]" if r["correction"] else ""),
            f"{r['stage_before'] or '-'} → {r['stage_after'] or '-'}",
            str(r["effective"] or ""),
            changes[:120],
            str(r["reason"] or ""),
        )
    out.print(t)


@progress_app.command("risks")
def progress_risks(
    year: Annotated[int | None, typer.Option(help="Programme year.")] = None,
    on: Annotated[str | None, typer.Option(help="As on this date (default today).")] = None,
) -> None:
    """Overdue projects and those that cannot finish by the deadline at the stages' minimum durations
    (滞后与风险), and a summary per street."""
    ws = _workspace()
    when = _date(on, "--on")
    t = Table(
        "compound / 小区",
        "street / 街道",
        "stage / 阶段",
        "due / 应完成",
        "behind / 滞后天数",
        "risk / 风险天数",
        "plan past deadline / 计划超期",
        title="overdue and at risk / 滞后与风险项目",
    )
    for r in ws.programme.risks(year, when).to_dict("records"):
        t.add_row(
            str(r["name"]),
            str(r["street"]),
            str(r["stage_zh"]),
            str(r["due_stage_zh"] or ""),
            str(r["days_behind"]) if r["overdue"] else "",
            str(r["risk_days"]) if r["at_risk"] else "",
            "是" if r["plan_past_deadline"] else "",
        )
    out.print(t)
    s = Table(
        "district / 区县",
        "street / 街道",
        "projects / 项目",
        "overdue / 滞后",
        "at risk / 风险",
        "max days / 最长滞后",
        title="by street / 分街道",
    )
    for r in ws.programme.risks_by_street(year, when).to_dict("records"):
        s.add_row(
            str(r["district"]),
            str(r["street"]),
            str(r["projects"]),
            str(r["overdue"]),
            str(r["at_risk"]),
            str(r["max_days_behind"]),
        )
    out.print(s)


@progress_app.command("coverage")
def progress_coverage(
    year: Annotated[int | None, typer.Option(help="Programme year.")] = None,
) -> None:
    """Property management coverage (物业管理覆盖) of the year's compounds before and after renovation."""
    cov = _workspace().programme.property_coverage(year)
    t = Table(
        "district / 区县",
        "street / 街道",
        "mode / 物业管理方式",
        "compounds before / 改造前小区",
        "share",
        "households before / 改造前户数",
        "share",
        "compounds after / 改造后小区",
        "share",
        "households after / 改造后户数",
        "share",
        title="property management coverage / 物业管理覆盖",
    )
    for r in cov.to_dict("records"):
        t.add_row(
            str(r["district"]),
            str(r["street"]),
            f"{r['mode_zh']} {r['mode']}",
            str(r["compounds_before"]),
            f"{r['compound_share_before']:.0%}",
            str(r["households_before"]),
            f"{r['household_share_before']:.0%}",
            str(r["compounds_after"]),
            f"{r['compound_share_after']:.0%}",
            str(r["households_after"]),
            f"{r['household_share_after']:.0%}",
        )
    out.print(t)


@report_app.command("month")
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
    ws = _workspace()
    if submit:
        rep = ws.programme.submit(month, actor=_actor(), role="admin", year=year)
    else:
        rep = ws.report_month(month, year=year, live=live)
    print_month(rep)
    if out_path is not None:
        rep.write(out_path)
        out.print(f"wrote {out_path}")


def print_month(rep: object, console: Console = out) -> None:
    """The 月报 in the terminal: the street table with its totals, overdue projects, corrections."""
    from gis.programme import MonthReport

    assert isinstance(rep, MonthReport)
    short = [
        "projects",
        "households",
        "floor_area",
        "investment_planned",
        "investment_spent",
        *[s for s, _ in rep.stages],
        "finished",
        "planned_finished",
        "overdue",
    ]
    labels = {m.id: m.flat for m in rep.metrics}
    t = Table("区县", "街道", *[labels[k] for k in short], title=rep.title)
    for kind, district, street, values in rep.table():
        cells = []
        for k in short:
            v = values.get(k)
            cells.append(f"{v:.2f}" if isinstance(v, float) else str(v if v is not None else ""))
        style = "bold" if kind != "street" else None
        t.add_row(district, street, *cells, style=style)
    console.print(t)
    status = "submitted / 已上报" if rep.locked else "draft / 未上报"
    if rep.locked:
        status += f" {rep.submitted_at:%Y-%m-%d %H:%M} by {rep.submitted_by}" if rep.submitted_at else ""
        status += " [red]LATE / 迟报[/]" if rep.late else ""
    console.print(f"as of / 统计截至 {rep.as_of}; deadline / 报送期限 {rep.deadline}; {status}")
    if len(rep.overdue):
        late = [
            f"{r['name']} {r['stage_zh']}→{r['due_stage_zh']} {r['days_behind']}天"
            for r in rep.overdue.to_dict("records")
        ]
        console.print(f"[red]overdue / 滞后项目: {len(rep.overdue)}[/] — " + "; ".join(late))
    if len(rep.corrections):
        fixes = [f"{r['name']} {r['change']}（{r['reason']}）" for r in rep.corrections.to_dict("records")]
        console.print("corrections / 更正事项: " + "; ".join(fixes))


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Serve the web API (OGC API – Features at /ogc, docs at /docs)."""
    import uvicorn

    from api.main import create_app

    out.print(f"gisplan on http://{host}:{port}/ogc  (docs: http://{host}:{port}/docs)")
    uvicorn.run(create_app(_settings()), host=host, port=port, log_level="warning")


users_app = typer.Typer(help="Users and their bearer tokens (用户).", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="public, planner or admin.")] = "planner",
) -> None:
    """Create a user and print their bearer token ONCE (only its hash is stored)."""
    from gis.roles import ROLES, add_user

    if role not in ROLES:
        raise typer.BadParameter(f"choose one of {', '.join(ROLES)}", param_hint="--role")
    ws = _workspace()
    ws._require_schema()
    token = add_user(ws.engine, name, role)
    err.print(f"user {name} ({role}) created; its token is shown once — keep it / 令牌仅显示一次:")
    out.print(token, soft_wrap=True)


@app.command("layers")
def layers() -> None:
    """List the layers with their labels, geometry types and feature counts (图层列表)."""
    ws = _workspace()
    frame = ws.layers()
    t = Table("id", "图层", "layer", "geometry", "count", "restricted / 受限")
    for row in frame.to_dict("records"):
        t.add_row(
            str(row["id"]),
            str(row["label_zh"]),
            str(row["label_en"]),
            str(row["geometry"]),
            str(row["count"]),
            "yes 是" if row["restricted"] else "",
        )
    out.print(t)
    crs = ws.working_crs
    shown = f"{crs.to_string()} {crs.name}" if crs else "not set yet (set by the first load)"
    out.print(f"working CRS / 工作坐标系: {shown}")


@app.command("demo")
def demo() -> None:
    """Load the bundled sample (Beijing Haidian, OSM ODbL + labelled synthetic fields) and summarise it."""
    from gis.demo import run_demo

    run_demo(_workspace(), out)


def main() -> None:
    from gis.cli.export import export_app

    app.add_typer(export_app, name="export")
    try:
        app()
    except GisError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise SystemExit(1) from None


if __name__ == "__main__":  # pragma: no cover
    main()
