"""The terminal table of an import's report (``gisplan load``): apart from the programme's printers
(:mod:`gis.report_printers`) so that an import loads only the importer.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gis.ingest import ImportReport


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
