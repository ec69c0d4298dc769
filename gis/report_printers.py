"""The terminal tables of the reports the programme returns: a schedule table's import, the 月报.
Apart from :mod:`gis.printers` and :mod:`gis.import_printers` so that a command printing a gap run,
a layer list or an import's report does not load the programme (and its spreadsheet readers).
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gis.programme import MonthReport, ScheduleImportReport

MONTH_COLUMNS = ("projects", "households", "floor_area", "investment_planned", "investment_spent")
MONTH_TAIL = ("finished", "planned_finished", "overdue")


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
    if len(report.findings):
        late = [
            f"{r['name']} {r['what']}（{r['responsible_unit']}）逾期{r['days_overdue']}天"
            for r in report.findings.to_dict("records")
        ]
        console.print(
            f"[red]overdue findings / 督查问题逾期未整改: {len(report.findings)}[/] — " + escape("; ".join(late))
        )
    flagged = report.self_check
    console.print(
        f"self-check / 自查: {len(flagged)} to verify / 项须核实" if len(flagged) else "self-check / 自查: 无"
    )
    for r in flagged.to_dict("records"):
        console.print(
            "  " + escape(f"{r['check_zh']} · {r['street'] or r['district']} · {r['subject']}: {r['detail']}")
        )


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
