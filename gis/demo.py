"""``gisplan demo``: load the bundled sample and show what the database now holds."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from gis.access import write_results
from gis.workspace import Workspace

SAMPLE_LAYERS = ("compounds", "facilities", "roads", "buildings", "pipelines")
SOURCE = "sample:haidian_cau"


def sample_path() -> Path:
    """The bundled sample GeoPackage (OSM ODbL + labelled synthetic fields; see gis/sample/README.md)."""
    return Path(str(resources.files("gis") / "sample" / "haidian_cau.gpkg"))


def load_sample(ws: Workspace) -> pd.DataFrame:
    """Load every layer of the bundled sample (re-running updates in place); one row per layer:
    features, new, updated, unchanged, set aside, which are synthetic.

    Examples
    --------
    >>> from gis.demo import load_sample
    >>> load_sample(ws)
    """
    path = sample_path()
    rows = []
    for layer_id in SAMPLE_LAYERS:
        report = ws.load(layer_id, path, source_layer=layer_id, source=SOURCE, actor="demo")
        gdf = ws.layer(layer_id, where={"source": SOURCE})
        synthetic = int(gdf["synthetic"].notna().sum())
        rows.append(
            {
                "layer": layer_id,
                "label": ws.registry.layer(layer_id).label.zh,
                "features": len(gdf),
                "new": report.inserted,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "set_aside": len(report.rejected),
                "synthetic": "all" if synthetic == len(gdf) else f"{synthetic} of {len(gdf)}" if synthetic else "none",
            }
        )
    return pd.DataFrame(rows)


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
    from gis.cli import print_gap_summary

    print_gap_summary(run.summary(), run.basis, console)
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
    write_exports(ws, console, out_dir)
    console.print("next: .venv/bin/gisplan layers · .venv/bin/gisplan db status · .venv/bin/gisplan load --help")


DEMO_FACILITY = "kindergarten"


def write_exports(ws: Workspace, console: Console, out_dir: Path) -> None:
    """The offline maps, the GeoPackage, the gap tables and the per-compound reports (public
    content only: pipelines stay out of files that may be handed around)."""
    from gis.export.gpkg import export_gpkg
    from gis.export.offline_map import save
    from gis.export.report import write_reports
    from gis.export.tables import export_tables

    written = [
        save(ws.map("gap", facility=DEMO_FACILITY, catchment=True), out_dir / "map.html"),
        save(ws.map("stage", title="老旧小区改造进度图（挂图作战）"), out_dir / "progress_map.html"),
    ]
    export_gpkg(ws, out_dir / "gisplan.gpkg", role="public")
    written.append(out_dir / "gisplan.gpkg")
    written += export_tables(ws.engine, ws.registry, out_dir / "服务缺口统计.xlsx")
    written += export_tables(ws.engine, ws.registry, out_dir / "服务缺口_按街道.csv", by="street")
    written += export_tables(ws.engine, ws.registry, out_dir / "服务缺口_按区县.csv", by="district")
    reports = write_reports(ws, out_dir / "reports", role="public")
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
