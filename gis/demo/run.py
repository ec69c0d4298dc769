"""``gisplan demo``: load the bundled sample, run the gap analysis and the programme's demos, write the exports."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from gis.demo.assessment import run_assessment_demo
from gis.demo.funds import run_funds_demo
from gis.demo.programme import run_acceptance_demo, run_evidence_demo, run_findings_demo, run_programme_demo
from gis.demo.residents import run_residents_demo
from gis.demo.sample import load_sample, sample_path
from gis.export import compound_report, gap_tables, gpkg
from gis.export.files import write_results
from gis.export.offline_map import save
from gis.printers import print_gap_summary
from gis.workspace import Workspace


def run_demo(ws: Workspace, console: Console, *, out_dir: Path = Path("out")) -> None:
    """Load every sample layer (re-running updates in place) and print a summary per layer."""
    path = sample_path()
    console.print(f"[bold]gisplan demo[/] — database {ws.engine.url.render_as_string(hide_password=True)}")
    console.print(
        f"sample: {path.name} — Beijing Haidian, © OpenStreetMap contributors (ODbL); synthetic fields labelled"
    )
    summary = Table(title="sample loaded / 示例数据已导入")
    for col in ("layer / 图层", "features", "new", "updated", "same", "set aside", "synthetic"):
        summary.add_column(col, justify="left" if col.startswith("layer") else "right")
    for r in load_sample(ws).itertuples():
        summary.add_row(
            f"{r.layer} {r.label}",
            *(str(v) for v in (r.features, r.new, r.updated, r.unchanged, r.set_aside)),
            str(r.synthetic),
        )
    console.print(summary)
    run = ws.run_gaps(actor="demo")
    print_gap_summary(console, run.summary(), run.basis)
    for note in run.warnings:
        console.print(f"[yellow]note:[/] {note}")
    write_results(run.results, out_dir / "gaps.csv")
    write_results(run.results, out_dir / "gaps.gpkg")
    console.print(
        f"gap run {run.run_id} (standard {run.standard}); wrote {out_dir / 'gaps.csv'}, {out_dir / 'gaps.gpkg'}"
    )
    layers = ws.layers()
    out_dir.mkdir(parents=True, exist_ok=True)
    layers.to_csv(out_dir / "layers.csv", index=False, encoding="utf-8-sig")
    crs = ws.working_crs
    console.print(f"working CRS / 工作坐标系: {crs.to_string() if crs else '-'} {crs.name if crs else ''}")
    console.print(f"wrote {out_dir / 'layers.csv'}")
    run_programme_demo(ws, console, out_dir=out_dir)
    run_evidence_demo(ws, console)
    run_acceptance_demo(ws, console)
    run_funds_demo(ws, console, out_dir=out_dir)
    run_residents_demo(ws, console)
    run_findings_demo(ws, console, out_dir=out_dir)
    run_assessment_demo(ws, console, out_dir=out_dir)
    write_exports(ws, console, out_dir)
    console.print(
        "notebooks / 笔记本: [bold].venv/bin/jupyter lab notebooks/[/] (01 快速开始 · 02 服务缺口分析 · "
        "03 管线体检 · 04 改造进度与月报 · 05 资料与验收 · 06 资金与居民参与; "
        "they run on this sample, no network needed)"
    )
    console.print("next: .venv/bin/gisplan layers · .venv/bin/gisplan db status · .venv/bin/gisplan load --help")


DEMO_FACILITY = "kindergarten"


def write_exports(ws: Workspace, console: Console, out_dir: Path) -> None:
    """The offline maps, the GeoPackage, the gap tables and the per-compound reports (public
    content only: pipelines stay out of files that may be handed around)."""
    written = [
        save(ws.map("gap", facility=DEMO_FACILITY, catchment=True), out_dir / "map.html"),
        save(ws.map("progress"), out_dir / "progress_map.html"),
    ]
    gpkg.export_gpkg(ws.export_context("public", gpkg.NEEDS), out_dir / "gisplan.gpkg")
    written.append(out_dir / "gisplan.gpkg")
    tables = ws.export_context("public", gap_tables.NEEDS)
    written += gap_tables.export_tables(tables, out_dir / "服务缺口统计.xlsx")
    written += gap_tables.export_tables(tables, out_dir / "服务缺口_按街道.csv", by="street")
    written += gap_tables.export_tables(tables, out_dir / "服务缺口_按区县.csv", by="district")
    reports = compound_report.write_reports(ws.export_context("public", compound_report.NEEDS), out_dir / "reports")
    table = Table(title="exports / 导出（离线可用 works offline）")
    table.add_column("file / 文件")
    table.add_column("open with / 打开方式")
    how = {".html": "any browser, no network needed / 浏览器直接打开", ".gpkg": "QGIS (styles included / 含样式)"}
    for path in written:
        table.add_row(str(path), how.get(path.suffix, "Excel / WPS / LibreOffice"))
    table.add_row(f"{reports[0]} (+{len(reports) - 1})", "一区一策 per-compound reports: browser, print to PDF")
    console.print(table)
    console.print(
        "web map / 网络地图: [bold].venv/bin/gisplan serve[/] then open http://127.0.0.1:8000/ "
        "(planners: [bold].venv/bin/gisplan users add NAME --role planner[/], sign in with the token to see pipelines)"
    )
