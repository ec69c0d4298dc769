"""The terminal tables a planner reads: service gaps, proposed sites, the programme's projects,
changes and risks, pipeline findings, the layer list (an import's report, a schedule import and
the 月报: :mod:`gis.report_printers`).

Each printer takes the console to print on and a result the library returned; none reads the
database. The command line and the demo share them, so they sit below both (``gis.cli`` and
``gis.demo`` import this module, it imports neither).
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from pyproj import CRS
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gis.registry import registry
from gis.standards import status_marker

DEMAND_LABELS = {
    "children": "children 幼儿",
    "elderly": "elderly 老人",
    "infants": "infants 婴幼儿",
    "pupils": "pupils 小学生",
    "households": "households 户",
}

# The 月报's columns in the terminal (the XLSX has them all).


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
            _text(f"{row['radius_m']:g}{status_marker(row.get('radius_status'))}"),
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
        title=escape(
            f"proposed sites / 建议选址 ({a.get('weight')}, {a.get('radius_m'):g} m"
            f"{status_marker(a.get('radius_status'))})"
        ),
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


def _text(value: object) -> str:
    """A value from the data (a name, a street, a reason: anyone's words) as text, never as rich markup:
    ``[/]`` in a compound's name would otherwise end a style that was never opened and crash the table."""
    return escape(str(value))
