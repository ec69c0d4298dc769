"""``gisplan progress ...``: the renovation programme — schedule table, stages, spending, corrections,
the projects and their risks. The CLI acts as a local admin (it holds the database itself)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from gis.cli.common import actor, compound_id, open_workspace, out, parse_date_option, print_refused, write_frame

if TYPE_CHECKING:  # names for the annotations only: the modules load when a command runs
    import pandas as pd

    from gis.workspace import Workspace

app = typer.Typer(
    help="The renovation programme (改造计划与进度): schedule table, stages, corrections. The CLI acts as a local "
    "admin (it has the database itself); every change is recorded with your OS user name.",
    no_args_is_help=True,
)

Frame = TypeVar("Frame", bound="pd.DataFrame")
YearOpt = Annotated[int | None, typer.Option(help="Programme year.")]
LatestYearOpt = Annotated[int | None, typer.Option(help="Programme year (default: the latest with projects).")]


@app.command("template")
def progress_template(
    out_path: Annotated[Path, typer.Option("--out", help="The XLSX to write, e.g. 配档表.xlsx.")],
    year: LatestYearOpt = None,
) -> None:
    """Write the schedule table (时间配档表): a row per compound of the year, filled with what is stored."""
    path = open_workspace().programme.write_schedule(out_path, year)
    out.print(f"wrote {path}")


@app.command("export")
def progress_export(
    out_path: Annotated[Path, typer.Option("--out", help="The XLSX to write.")],
    year: LatestYearOpt = None,
) -> None:
    """The schedule table as stored now (the same file as `template`, for a year with projects)."""
    progress_template(out_path, year)


@app.command("import")
def progress_import(
    path: Annotated[Path, typer.Argument(help="A schedule table (XLSX), e.g. one written by `template`.")],
    year: Annotated[int | None, typer.Option(help="Programme year of rows without 年度.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse the whole file if any row is bad.")] = False,
    as_of: Annotated[str | None, typer.Option(help="The date the spending figures are as of (default today).")] = None,
) -> None:
    """Import a schedule table (导入时间配档表) in one transaction: new projects and plans, new actual dates
    (stages move forward only), spending. Bad rows are listed with their reason; exit code 1 on refusal."""
    from gis.errors import ImportRefusedError
    from gis.programme import ScheduleImportReport
    from gis.report_printers import print_rejected_rows, print_schedule_import

    ws = open_workspace()
    try:
        report = ws.programme.import_schedule(
            path, year=year, strict=strict, actor=actor(), role="admin", as_of=parse_date_option(as_of, "--as-of")
        )
    except ImportRefusedError as exc:
        if isinstance(exc.report, ScheduleImportReport):
            print_rejected_rows(out, exc.report)
        print_refused(exc)
        raise typer.Exit(1) from None
    print_schedule_import(out, report)


@app.command("set")
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
    from gis.clock import today

    if stage is None and spent is None:
        raise typer.BadParameter("give --stage and/or --spent")
    ws = open_workspace()
    fid = compound_id(ws, compound)
    when = parse_date_option(on, "--date")
    # one transaction: a stage and its spending are recorded together or not at all
    ws.programme.progress(fid, stage=stage, on=today(when), spent=spent, year=year, actor=actor(), role="admin")
    show_projects(ws, year, only=fid)


@app.command("correct")
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
    year: YearOpt = None,
) -> None:
    """An admin's correction (更正) with a reason: a stage back, a wrong date, a wrong amount. Recorded as a
    correction; a change to a submitted month appears under 更正事项 in the next report."""
    ws = open_workspace()
    fid = compound_id(ws, compound)
    ws.programme.correct(
        fid,
        reason=reason,
        stage=stage,
        on=parse_date_option(on, "--date"),
        actual=actual_dates(actual or []) or None,
        investment_spent=spent,
        spent_as_of=parse_date_option(spent_as_of, "--spent-as-of"),
        year=year,
        actor=actor(),
        role="admin",
    )
    show_projects(ws, year, only=fid)


def actual_dates(items: list[str]) -> dict[str, date | None]:
    """``--actual STAGE=DATE`` options: the date to set per stage, None to clear one (``STAGE=``)."""
    dates: dict[str, date | None] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter("write STAGE=DATE", param_hint="--actual")
        dates[key] = parse_date_option(value, "--actual") if value else None
    return dates


@app.command("show")
def progress_show(
    year: LatestYearOpt = None,
    on: Annotated[str | None, typer.Option(help="As on this date (default today).")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only projects behind plan.")] = False,
    out_path: Annotated[Path | None, typer.Option("--out", help="Also write the rows: .csv, .gpkg, .geojson.")] = None,
) -> None:
    """The projects with their stage, planned finish and how far behind plan they are (项目进度)."""
    ws = open_workspace()
    show_projects(ws, year, on=parse_date_option(on, "--on"), overdue_only=overdue, out_path=out_path)


def show_projects(
    ws: Workspace,
    year: int | None,
    *,
    on: date | None = None,
    only: int | None = None,
    overdue_only: bool = False,
    out_path: Path | None = None,
) -> None:
    """The projects table (of one compound, or only the overdue ones), and the rows written to a file."""
    from gis.printers import print_projects

    st = ws.programme.status(year, on)
    if only is not None:
        st = st[st["compound_id"] == only]
    if overdue_only:
        st = st[st["overdue"]]
    print_projects(out, st, year)
    if out_path is not None:
        write_frame(joined_lists(st), out_path)


def joined_lists(frame: Frame) -> Frame:
    """A copy with list values written as ``a,b`` (files hold no lists)."""
    frame = frame.copy()
    for c in frame.columns:
        if frame[c].map(lambda v: isinstance(v, list)).any():
            frame[c] = frame[c].map(lambda v: ",".join(v) if isinstance(v, list) else v)
    return frame


@app.command("history")
def progress_history(
    compound: Annotated[str | None, typer.Argument(help="Compound id or unique name (default: all).")] = None,
    year: YearOpt = None,
) -> None:
    """Every recorded change: who, when, what, why, correction or not (变更记录)."""
    from gis.printers import print_history

    ws = open_workspace()
    fid = compound_id(ws, compound) if compound else None
    print_history(out, ws.programme.history(fid, year))


@app.command("risks")
def progress_risks(
    year: YearOpt = None,
    on: Annotated[str | None, typer.Option(help="As on this date (default today).")] = None,
) -> None:
    """Overdue projects and those that cannot finish by the deadline at the stages' minimum durations
    (滞后与风险), and a summary per street."""
    from gis.printers import print_risks

    ws = open_workspace()
    when = parse_date_option(on, "--on")
    print_risks(out, ws.programme.risks(year, when), ws.programme.risks_by_street(year, when))


@app.command("coverage")
def progress_coverage(year: YearOpt = None) -> None:
    """Property management coverage (物业管理覆盖) of the year's compounds before and after renovation."""
    from gis.printers import print_property_coverage

    print_property_coverage(out, open_workspace().programme.property_coverage(year))


@app.command("permit")
def progress_permit(
    compound: Annotated[str, typer.Argument(help="The compound: its id or its unique name.")],
    on: Annotated[str, typer.Option("--date", help="The construction permit's date (施工许可日期).")],
    number: Annotated[str | None, typer.Option("--number", help="The permit's number (施工许可证编号).")] = None,
    reason: Annotated[str | None, typer.Option(help="Why a recorded date changes (required then).")] = None,
    year: YearOpt = None,
) -> None:
    """Record a project's construction permit (施工许可); the 月报's self-check flags a start without one."""
    ws = open_workspace()
    day = parse_date_option(on, "--date")
    assert day is not None
    fid = compound_id(ws, compound)
    done = ws.programme.permits.record(fid, day, number=number, year=year, reason=reason, actor=actor(), role="admin")
    out.print(f"compound {fid} ({done['year']}): permit {done['permit_date']} {number or ''}".rstrip())
