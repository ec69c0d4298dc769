"""The terminal tables of the reports the importers and the programme return: an import's report,
a schedule table's import, the 月报. Apart from :mod:`gis.printers` so that a command printing a gap
run or a layer list loads neither the importers nor the programme.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gis.ingest import ImportReport
from gis.programme import MonthReport, ScheduleImportReport

MONTH_COLUMNS = ("projects", "households", "floor_area", "investment_planned", "investment_spent")
MONTH_TAIL = ("finished", "planned_finished", "overdue")


# -- imports -------------------------------------------------------------------------------------
def print_import_report(console: Console, report: ImportReport, *, max_problems: int = 20) -> None:
    """The per-import summary a planner reads: counts, notes, the first problems, where the rest are."""
    console.print(import_summary(report))
    for w in report.warnings:
        console.print(f"[yellow]note:[/] {escape(w)}")
    if report.rejected:
        t = Table("#", "key", "reason / 原因", title="set aside / 剔除的要素")
        for p in report.rejected[:max_problems]:
            t.add_row(str(p.index), escape(p.key or ""), escape(p.reason))
        console.print(t)
        if len(report.rejected) > max_problems:
            console.print(f"... and {len(report.rejected) - max_problems} more")
    if report.field_issues:
        t = Table(
            "#",
            "key",
            "value problem / 字段问题",
            title="values that could not be read (feature loaded, field empty)",
        )
        for p in report.field_issues[:max_problems]:
            t.add_row(str(p.index), escape(p.key or ""), escape(p.reason))
        console.print(t)
    if report.repaired:
        shown = ", ".join(f"#{p.index} {p.reason}" for p in report.repaired[:5])
        console.print(f"repaired: {escape(shown)}" + (" ..." if len(report.repaired) > 5 else ""))
    if report.rejects_path:
        console.print(f"rejects file / 剔除清单: {escape(report.rejects_path)}")
    if report.report_path:
        console.print(f"report / 报告: {escape(report.report_path)}")


def import_summary(report: ImportReport) -> Table:
    """The head of an import's report: format, encoding, CRS, counts read, loaded, repaired, set aside."""
    head = Table(title=f"{report.layer} ← {escape(Path(report.path).name)}", show_header=False, box=None)
    sources = f" ({', '.join(report.source_layers)})" if report.source_layers else ""
    head.add_row("format / 格式", escape(f"{report.driver}{sources}"))
    if report.encoding or report.encoding_note:
        head.add_row("encoding / 编码", escape(f"{report.encoding or '-'}  ({report.encoding_note or ''})"))
    head.add_row("CRS / 坐标系", f"{report.crs_used or '-'} → {report.working_crs or '-'}")
    if report.crs_note:
        head.add_row("", escape(report.crs_note))
    if report.coords != "wgs84":
        head.add_row("coords", f"{report.coords} → WGS 84")
    other = f"  (+{report.not_relevant} not for this layer)" if report.not_relevant else ""
    head.add_row("read / 读取", f"{report.read}{other}")
    replaced = f", replaced {report.deleted}" if report.replace else ""
    head.add_row(
        "loaded / 入库",
        f"[green]{report.loaded}[/]  (new {report.inserted}, updated {report.updated}, "
        f"unchanged {report.unchanged}{replaced})",
    )
    head.add_row("repaired / 修复", str(len(report.repaired)))
    head.add_row("set aside / 剔除", f"[{'red' if report.rejected else 'green'}]{len(report.rejected)}[/]")
    if report.field_issues:
        head.add_row("values left empty / 字段置空", f"[yellow]{len(report.field_issues)}[/] (kept as read in extra)")
    return head


# -- the programme ---------------------------------------------------------------------------------
def print_schedule_import(console: Console, report: ScheduleImportReport) -> None:
    """What an import of a schedule table (时间配档表) did, and the rows it set aside."""
    t = Table(show_header=False, box=None, title=escape(f"schedule ← {Path(report.path).name} ({report.sheet})"))
    t.add_row("rows / 行数", str(report.rows))
    t.add_row("new projects / 新增项目", str(report.created))
    t.add_row("updated / 更新", str(report.updated))
    t.add_row("unchanged / 未变", str(report.unchanged))
    t.add_row("changes recorded / 记录变更", str(report.events))
    t.add_row("set aside / 剔除", f"[{'red' if report.rejected else 'green'}]{len(report.rejected)}[/]")
    console.print(t)
    print_rejected_rows(console, report)


def print_rejected_rows(console: Console, report: ScheduleImportReport) -> None:
    """The rows of a schedule table that were set aside, with their reason (nothing when none was)."""
    if report.rejected:
        t = Table("row / 行", "key", "reason / 原因", title="rows set aside / 剔除的行")
        for p in report.rejected:
            t.add_row(str(p.row), escape(p.key or ""), escape(p.reason))
        console.print(t)


def print_month(console: Console, report: MonthReport) -> None:
    """The 月报 in the terminal: the street table with its totals, overdue projects, corrections."""
    short = [*MONTH_COLUMNS, *[s for s, _ in report.stages], *MONTH_TAIL]
    labels = {m.id: m.flat for m in report.metrics}
    t = Table("区县", "街道", *[labels[k] for k in short], title=report.title)
    for kind, district, street, values in report.table():
        cells = [month_cell(values.get(k)) for k in short]
        t.add_row(escape_text(district), escape_text(street), *cells, style="bold" if kind != "street" else None)
    console.print(t)
    console.print(f"as of / 统计截至 {report.as_of}; deadline / 报送期限 {report.deadline}; {month_status(report)}")
    if len(report.overdue):
        late = [
            f"{r['name']} {r['stage_zh']}→{r['due_stage_zh']} {r['days_behind']}天"
            for r in report.overdue.to_dict("records")
        ]
        console.print(f"[red]overdue / 滞后项目: {len(report.overdue)}[/] — " + escape("; ".join(late)))
    if len(report.corrections):
        fixes = [f"{r['name']} {r['change']}（{r['reason']}）" for r in report.corrections.to_dict("records")]
        console.print("corrections / 更正事项: " + escape("; ".join(fixes)))


def escape_text(value: object) -> str:
    """A value from the data (a name, a street: anyone's words) as text, never as rich markup."""
    return escape(str(value))


def month_cell(value: object) -> str:
    """A figure of the 月报 as the terminal shows it: amounts to two decimals, nothing for None."""
    return f"{value:.2f}" if isinstance(value, float) else str(value if value is not None else "")


def month_status(report: MonthReport) -> str:
    """Draft, or submitted with when, by whom and whether late."""
    if not report.locked:
        return "draft / 未上报"
    status = "submitted / 已上报"
    if report.submitted_at:
        status += escape(f" {report.submitted_at:%Y-%m-%d %H:%M} by {report.submitted_by}")
    return status + (" [red]LATE / 迟报[/]" if report.late else "")
