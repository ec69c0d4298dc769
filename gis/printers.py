"""The terminal tables a planner reads: an import's report, service gaps, proposed sites, the 月报,
the programme's projects, changes and risks, pipeline findings, the layer list.

Each printer takes the console to print on and a result the library returned; none reads the
database. The command line and the demo share them, so they sit below both (``gis.cli`` and
``gis.demo`` import this module, it imports neither).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
from pyproj import CRS
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gis.registry import registry

if TYPE_CHECKING:  # the reports printed: annotations only, so printing a gap run loads no importer
    from gis.ingest import ImportReport
    from gis.programme import MonthReport, ScheduleImportReport

DEMAND_LABELS = {
    "children": "children 幼儿",
    "elderly": "elderly 老人",
    "infants": "infants 婴幼儿",
    "pupils": "pupils 小学生",
    "households": "households 户",
}

# The 月报's columns in the terminal (the XLSX has them all).
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


def print_layers(console: Console, frame: pd.DataFrame, working_crs: CRS | None) -> None:
    """The layers (``ws.layers()``) with their labels, geometry types and counts, and the working CRS."""
    t = Table("id", "图层", "layer", "geometry", "count", "restricted / 受限")
    for row in frame.to_dict("records"):
        t.add_row(
            _text(row["id"]),
            _text(row["label_zh"]),
            _text(row["label_en"]),
            _text(row["geometry"]),
            _text(row["count"]),
            "yes 是" if row["restricted"] else "",
        )
    console.print(t)
    crs = working_crs
    shown = f"{crs.to_string()} {crs.name}" if crs else "not set yet (set by the first load)"
    console.print(f"working CRS / 工作坐标系: {shown}")


# -- service gaps --------------------------------------------------------------------------------
def print_gap_summary(console: Console, summary: pd.DataFrame, basis: str, *, by: tuple[str, ...] = ()) -> None:
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
            *[_text(row[k]) for k in by],
            _text(f"{row['facility_type']} {labels.get(str(row['facility_type']), '')}"),
            f"{row['radius_m']:g}",
            f"{int(row['covered'])} / {int(row['compounds'])}",
            f"{row['residents_uncovered']:,.0f}",
            f"{row['demand_uncovered']:,.0f} {group}" if group else "",
        )
    console.print(t)


def print_sites(console: Console, sites: gpd.GeoDataFrame) -> None:
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
            _text(row["rank"]),
            _text(row["candidate"]),
            _text(f"{row['new_compounds']}: {row['new_compound_names']}"),
            f"{row['new_demand']:,.0f}",
        )
    console.print(t)
    b, f = a["before"], a["after"]
    compounds = f"{b['compounds_covered']} → {f['compounds_covered']} of {b['compounds']}"
    demand = f"{b['demand_covered']:,.0f} → {f['demand_covered']:,.0f} of {b['demand_total']:,.0f}"
    console.print(f"covered compounds / 覆盖小区: {compounds}; demand covered / 覆盖需求: {demand}")


# -- pipelines -----------------------------------------------------------------------------------
def print_pipeline_findings(console: Console, findings: pd.DataFrame) -> None:
    """The number of findings per check and status of the standard value, and the run's id."""
    t = Table("check / 检查", "status / 依据状态", "findings / 问题数", title="pipeline findings / 管线问题")
    counts = findings.groupby(["check", "value_status"], dropna=False).size().reset_index(name="n")
    for row in counts.to_dict("records"):
        t.add_row(_text(row["check"]), _text(row["value_status"]), _text(row["n"]))
    console.print(t)
    console.print(f"run / 检查编号: {findings.attrs.get('run_id')}")


def print_bury_summary(console: Console, summary: pd.DataFrame) -> None:
    """Overhead lines to bury per compound and operator (``gis.pipelines.bury_summary``)."""
    t = Table(
        "compound / 小区",
        "kind / 种类",
        "operator / 责任单位",
        "lines / 条数",
        "metres / 长度(m)",
        title="overhead lines to bury / 架空线入地",
    )
    for row in summary.to_dict("records"):
        t.add_row(
            _text(row["compound_name"]),
            _text(row["kind"]),
            _text(row["responsible"]),
            _text(row["lines"]),
            f"{row['length_m']:,.1f}",
        )
    console.print(t)


# -- the programme -------------------------------------------------------------------------------
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


def print_projects(console: Console, status: pd.DataFrame, year: int | None) -> None:
    """The projects (``ws.programme.status()``) with their stage, planned finish, delay, risk, spending."""
    t = Table(
        "id",
        "compound / 小区",
        "street / 街道",
        "stage / 阶段",
        "planned finish / 计划完工",
        "behind / 滞后",
        "at risk / 风险",
        "spent / 完成投资(万元)",
        title=f"programme {int(status['year'].iloc[0]) if len(status) else year or ''} / 改造项目",
    )
    for r in status.to_dict("records"):
        spent = r["investment_spent"]
        t.add_row(
            _text(r["compound_id"]),
            _text(r["name"]),
            _text(r["street"]),
            _text(f"{r['stage_zh']} {r['stage'] or ''}"),
            _text(r["planned_finish"] or ""),
            f"[red]{r['days_behind']} d (应{r['due_stage_zh']})[/]" if r["overdue"] else "",
            f"[yellow]{r['risk_days']} d[/]" if r["at_risk"] else "",
            "" if spent is None or pd.isna(spent) else f"{spent:.2f}",
        )
    console.print(t)


def print_history(console: Console, history: pd.DataFrame) -> None:
    """Every recorded change (``ws.programme.history()``): who, when, what, why, correction or not."""
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
    for r in history.to_dict("records"):
        changes = "; ".join(f"{k}: {v[0]} → {v[1]}" for k, v in r["changes"].items())
        t.add_row(
            _text(r["id"]),
            f"{r['at']:%Y-%m-%d %H:%M}",
            _text(r["actor"]),
            _text(r["compound_id"]),
            _text(r["action"]) + (" [red]更正[/]" if r["correction"] else ""),
            _text(f"{r['stage_before'] or '-'} → {r['stage_after'] or '-'}"),
            _text(r["effective"] or ""),
            _text(changes[:120]),
            _text(r["reason"] or ""),
        )
    console.print(t)


def print_risks(console: Console, risks: pd.DataFrame, by_street: pd.DataFrame) -> None:
    """Overdue and at-risk projects (``ws.programme.risks()``) and their sum per street."""
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
    for r in risks.to_dict("records"):
        t.add_row(
            _text(r["name"]),
            _text(r["street"]),
            _text(r["stage_zh"]),
            _text(r["due_stage_zh"] or ""),
            _text(r["days_behind"]) if r["overdue"] else "",
            _text(r["risk_days"]) if r["at_risk"] else "",
            "是" if r["plan_past_deadline"] else "",
        )
    console.print(t)
    s = Table(
        "district / 区县",
        "street / 街道",
        "projects / 项目",
        "overdue / 滞后",
        "at risk / 风险",
        "max days / 最长滞后",
        title="by street / 分街道",
    )
    for r in by_street.to_dict("records"):
        s.add_row(
            _text(r["district"]),
            _text(r["street"]),
            _text(r["projects"]),
            _text(r["overdue"]),
            _text(r["at_risk"]),
            _text(r["max_days_behind"]),
        )
    console.print(s)


def print_property_coverage(console: Console, coverage: pd.DataFrame) -> None:
    """Property management coverage (``ws.programme.property_coverage()``) before and after renovation."""
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
    for r in coverage.to_dict("records"):
        t.add_row(
            _text(r["district"]),
            _text(r["street"]),
            _text(f"{r['mode_zh']} {r['mode']}"),
            _text(r["compounds_before"]),
            f"{r['compound_share_before']:.0%}",
            _text(r["households_before"]),
            f"{r['household_share_before']:.0%}",
            _text(r["compounds_after"]),
            f"{r['compound_share_after']:.0%}",
            _text(r["households_after"]),
            f"{r['household_share_after']:.0%}",
        )
    console.print(t)


def print_month(console: Console, report: MonthReport) -> None:
    """The 月报 in the terminal: the street table with its totals, overdue projects, corrections."""
    short = [*MONTH_COLUMNS, *[s for s, _ in report.stages], *MONTH_TAIL]
    labels = {m.id: m.flat for m in report.metrics}
    t = Table("区县", "街道", *[labels[k] for k in short], title=report.title)
    for kind, district, street, values in report.table():
        cells = [month_cell(values.get(k)) for k in short]
        t.add_row(_text(district), _text(street), *cells, style="bold" if kind != "street" else None)
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


def _text(value: object) -> str:
    """A value from the data (a name, a street, a reason: anyone's words) as text, never as rich markup:
    ``[/]`` in a compound's name would otherwise end a style that was never opened and crash the table."""
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
