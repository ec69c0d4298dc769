"""Exports: the offline HTML in headless Chromium, the GeoPackage (ogrinfo, attributes, QGIS
styles), gap tables against sums computed here, per-compound reports, and the same over HTTP."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyogrio
import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import text

from gis.errors import OutsideReferenceError
from gis.export import compound_report, gap_tables, gpkg
from gis.export.offline_map import check_offline, save
from gis.export.symbology import symbology
from gis.workspace import Workspace
from tests.helpers.browser import GAP_TYPES

pytestmark = pytest.mark.sample  # the database is a copy of the prepared sample

LAST_RUN_RESULTS = text(
    "SELECT r.facility_type, r.covered, r.compound_fid FROM gap_results r"
    " WHERE r.run_id = (SELECT max(run_id) FROM gap_results)"
)


def test_exported_map_opens_offline_and_shows_compounds(
    site: tuple[str, str, Workspace], watched: Any, tmp_path: Path
) -> None:
    _base, _token, ws = site
    path = save(ws.map("gap", facility="kindergarten", catchment=True), tmp_path / "地图.html")
    w = watched()
    w.page.goto(path.as_uri())
    w.page.wait_for_selector("path.leaflet-interactive")
    w.page.wait_for_timeout(500)
    assert w.errors == []
    assert w.outside() == [], "the exported map asked for something on the network"
    results = ws.gap_run().results.query("facility_type == 'kindergarten'")
    polygons = results[results.geom_type.isin(["Polygon", "MultiPolygon"])]
    red = symbology()["gap"]["uncovered"]["color"]
    drawn = w.page.evaluate(
        f"[...document.querySelectorAll('path.leaflet-interactive')].filter(p => p.getAttribute('fill') === '{red}')"
        ".length"
    )
    assert drawn == int((~polygons["covered"] & polygons["distance_m"].notna()).sum())
    image = np.asarray(Image.open(io.BytesIO(w.page.screenshot())).convert("RGB")).astype(float)
    assert image.std() > 20, "blank"
    # click inside a compound: its popup names it in Chinese
    compounds = ws.layer("compounds")
    compounds = compounds[compounds.geom_type.isin(["Polygon", "MultiPolygon"])]
    name = compounds["name"].iloc[0]
    inside = compounds.geometry.iloc[:1].buffer(-8).representative_point().to_crs(4326).iloc[0]
    xy = w.page.evaluate(
        f"""(() => {{ const m = Object.values(window).find(v => v instanceof L.Map);
            const p = m.latLngToContainerPoint([{inside.y}, {inside.x}]); return [p.x, p.y]; }})()"""
    )
    w.page.mouse.click(xy[0], xy[1])
    w.page.wait_for_selector(".leaflet-popup-content")
    assert name in w.page.inner_text(".leaflet-popup-content")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in name)
    assert w.page.inner_text(".gisplan-legend").startswith("小区")


def test_public_map_export_has_no_pipelines(site: tuple[str, str, Workspace], tmp_path: Path) -> None:
    _base, _token, ws = site
    public = save(ws.map(), tmp_path / "public.html").read_text(encoding="utf-8")
    planner = save(ws.map(planner=True), tmp_path / "planner.html").read_text(encoding="utf-8")
    assert "管线" not in public and "pipeline" not in public.lower()
    assert "管线" in planner
    check_offline(public)
    with pytest.raises(OutsideReferenceError):
        check_offline('<script src="https://cdn.jsdelivr.net/npm/leaflet/dist/leaflet.js"></script>')


def test_geopackage_round_trips_with_styles(site: tuple[str, str, Workspace], tmp_path: Path) -> None:
    _base, _token, ws = site
    path = tmp_path / "gisplan.gpkg"
    counts = gpkg.export_gpkg(ws.export_context("public", gpkg.NEEDS), path)
    info = subprocess.run(["ogrinfo", "-so", "-q", str(path)], capture_output=True, text=True, check=True)
    assert "compounds" in info.stdout and "pipelines" not in info.stdout
    assert "Warning" not in info.stderr
    exported = pyogrio.read_dataframe(path, layer="compounds", fid_as_index=True).reset_index()
    source = ws.layer("compounds")
    assert counts["compounds"] == len(source) == len(exported)
    merged = source.merge(pd.DataFrame(exported.drop(columns="geometry")), on="fid", suffixes=("", "_x"))
    assert len(merged) == len(source)
    for col in ("name", "street", "households", "population", "stage", "property_mgmt"):
        a = merged[col].astype(object).where(merged[col].notna(), None).tolist()
        b = merged[f"{col}_x"].astype(object).where(merged[f"{col}_x"].notna(), None).tolist()
        assert [None if v is None else str(v) for v in a] == [None if v is None else str(v) for v in b], col
    cats = [",".join(v) if isinstance(v, list) else None for v in merged["categories"]]
    assert cats == [v if isinstance(v, str) else None for v in merged["categories_x"]]
    assert exported.geometry.area.sum() == pytest.approx(source.geometry.area.sum(), rel=1e-9)
    gaps = pyogrio.read_dataframe(path, layer="gaps")
    assert set(gaps["facility_type"]) == set(GAP_TYPES)
    with sqlite3.connect(path) as db:
        styles = dict(db.execute("SELECT f_table_name, styleQML FROM layer_styles WHERE useAsDefault").fetchall())
    assert set(styles) == set(counts)
    root = ET.fromstring(styles["compounds"].split("\n", 1)[1])
    renderer = root.find("renderer-v2")
    assert renderer is not None and renderer.get("attr") == "stage"
    values = {c.get("value") for c in renderer.iter("category")}
    assert {"survey", "construction", "accepted", ""} <= values
    assert root.find("aliases/alias[@field='name']").get("name").startswith("小区名称")  # type: ignore[union-attr]
    planner = gpkg.export_gpkg(ws.export_context("planner", gpkg.NEEDS), tmp_path / "planner.gpkg")
    assert planner["pipelines"] == len(ws.layer("pipelines"))


def test_gap_tables_sum_to_the_results(site: tuple[str, str, Workspace], tmp_path: Path) -> None:
    _base, _token, ws = site
    path = tmp_path / "gaps.xlsx"
    tables = ws.export_context("public", gap_tables.NEEDS)
    gap_tables.export_tables(tables, path)
    with ws.engine.connect() as conn:
        rows = pd.read_sql(LAST_RUN_RESULTS, conn)
    names = {c.id: c.zh for c in ws.registry.code_list("facility_type").codes}
    expected = rows.groupby("facility_type").agg(n=("compound_fid", "count"), covered=("covered", "sum"))
    book = load_workbook(path)
    assert book.sheetnames == ["按街道", "按区县"]
    sheet = book["按区县"]
    assert sheet["A1"].value.startswith("公共服务设施缺口统计表")
    headers = [c.value for c in sheet[3]]
    totals = {r[headers.index("设施类型")]: r for r in sheet.iter_rows(min_row=4, values_only=True) if r[0] == "合计"}
    assert len(totals) == len(GAP_TYPES)
    for ftype, e in expected.iterrows():
        row = totals[names[ftype]]
        assert row[headers.index("小区数(个)")] == e["n"]
        assert row[headers.index("满足(个)")] == e["covered"]
        assert row[headers.index("缺口小区(个)")] == e["n"] - e["covered"]
    gap_tables.export_tables(tables, tmp_path / "street.csv", by="street")
    csv = pd.read_csv(tmp_path / "street.csv", encoding="utf-8-sig")
    assert csv["小区数(个)"].sum() == len(rows)


def test_compound_report_public_and_planner(site: tuple[str, str, Workspace]) -> None:
    _base, _token, ws = site
    compounds = ws.layer("compounds")
    fid = int(compounds["fid"].iloc[1])
    public = compound_report.compound_report(ws.export_context("public", compound_report.NEEDS), fid)
    planner = compound_report.compound_report(ws.export_context("planner", compound_report.NEEDS), fid)
    name = compounds["name"].iloc[1]
    assert f"一区一策 · {name}" in public and "<svg" in public
    assert public.count("缺口</span>") + public.count("满足</span>") == len(GAP_TYPES)
    assert "管线" not in public and "管线" in planner
    check_offline(public)


def test_exports_over_http(site: tuple[str, str, Workspace]) -> None:
    base, token, ws = site
    planner = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=60) as client:
        r = client.get("/api/exports/map.html", params={"colour": "gap", "facility": "幼儿园", "catchment": True})
        assert r.status_code == 200 and "管线" not in r.text and "<script src=" not in r.text
        r = client.get("/api/exports/map.html", params={"restricted": True})
        assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
        r = client.get("/api/exports/map.html", params={"restricted": True}, headers=planner)
        assert r.status_code == 200 and "管线" in r.text
        r = client.get("/api/exports/map.html", params={"colour": "gap", "facility": "no-such"})
        assert r.status_code == 404 and r.json()["status"] == 404
        r = client.get("/api/exports/gisplan.gpkg")
        assert r.status_code == 200 and r.content[:16] == b"SQLite format 3\x00"
        assert b"pipelines" not in r.content
        r = client.get("/api/exports/gaps.xlsx")
        assert r.status_code == 200 and r.content[:2] == b"PK"
        r = client.get("/api/exports/gaps.csv", params={"by": "district"})
        assert r.status_code == 200 and r.text.startswith("\ufeff区县")
        fid = int(ws.layer("compounds")["fid"].iloc[0])
        assert client.get(f"/api/exports/reports/{fid}.html").status_code == 200
        r = client.get("/api/exports/reports/999999.html")
        assert r.status_code == 404 and "999999" in r.json()["detail"]
        r = client.get("/api/map/gaps/kindergarten")
        body = r.json()
        assert set(body["compounds"]) == {str(f) for f in ws.layer("compounds")["fid"]}
        assert json.dumps(body)  # no NaN


def test_cli_export_map(site: tuple[str, str, Workspace], tmp_path: Path) -> None:
    _base, _token, ws = site
    env = {
        **os.environ,
        "GISPLAN_DATABASE_URL": ws.settings.database_url or "",
        "GISPLAN_HOME": str(ws.settings.home),
    }
    out = tmp_path / "map.html"
    command = [sys.executable, "-m", "gis", "export", "map", "--out", str(out), "--colour", "gap", "--facility", "小学"]
    run = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert run.returncode == 0, run.stderr
    check_offline(out.read_text(encoding="utf-8"))
    command = [sys.executable, "-m", "gis", "export", "report", "999999"]
    bad = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert bad.returncode == 1 and "no compound 999999" in bad.stderr and "Traceback" not in bad.stderr


def test_progress_map_export(site: tuple[str, str, Workspace], tmp_path: Path, watched: Any) -> None:
    """挂图作战: overdue projects outlined in the overdue colour, the street figures on the map."""
    base, token, ws = site
    status = ws.programme.status()
    path = save(ws.map("progress"), tmp_path / "进度图.html")
    w = watched()
    w.page.goto(path.as_uri())
    w.page.wait_for_selector("path.leaflet-interactive")
    assert w.errors == [] and w.outside() == []
    colour = symbology()["overdue"]
    outlined = w.page.evaluate(
        "[...document.querySelectorAll('path.leaflet-interactive')]"
        f".filter(p => p.getAttribute('stroke') === '{colour}').length"
    )
    assert outlined == int(status["overdue"].sum())
    figures = w.page.inner_text(".gisplan-figures")
    assert "年度改造进度" in figures and status["street"].iloc[0] in figures
    with httpx.Client(base_url=base, timeout=60) as client:
        assert client.get("/api/exports/map.html", params={"colour": "progress"}).status_code == 401
        r = client.get(
            "/api/exports/map.html", params={"colour": "progress"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 200 and "挂图作战" in r.text
