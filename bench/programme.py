"""The programme at district-to-province scale: schedule import and the 统计月报 over N projects.

    .venv/bin/python bench/programme.py [--projects 10000]

Data (synthetic): N compounds as points in 20 districts × 10 streets, each with a project whose
planned dates, reached stage and amounts are drawn from a seeded generator. Timed: importing the
schedule table (one XLSX, one transaction), computing the month's report (``ws.report_month``:
stage on the month's last day per project, overdue days, spending as of that day, per street,
district and total, the overdue list, the corrections, property management coverage) and writing
its XLSX, and the schedule table written back (the export). Anchors, same run — the least any
implementation must do: for the import, python-calamine reading the file's values and one COPY of as many
rows as changes were recorded; for the 月报, one SQL query for the same rows and a plain pandas
groupby of the same per-street counts and sums (stage on the day, overdue count); for each XLSX,
openpyxl's write-only mode writing as many rows and columns of plain values. A benchmark, not a
test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
from python_calamine import CalamineWorkbook
from sqlalchemy import text

from gis.settings import Settings
from gis.store.cluster import EmbeddedCluster, ensure_extensions
from gis.store.engine import make_engine
from gis.workspace import Workspace

STAGES = ["survey", "design", "tender", "construction", "completed", "accepted"]
YEAR, MONTH, ON = 2026, "2026-09", date(2026, 9, 30)


def compounds(n: int, path: Path) -> Path:
    rng = np.random.default_rng(6)
    feats = []
    for i in range(n):
        d, s = i % 20, (i // 20) % 10
        feats.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [116.0 + d * 0.02 + rng.random() * 0.01, 39.8 + s * 0.02 + rng.random() * 0.01],
                },
                "properties": {
                    "编号": f"b{i}",
                    "小区名称": f"小区{i}",
                    "区县": f"区{d:02d}",
                    "街道": f"街道{d:02d}-{s}",
                    "户数": int(rng.integers(50, 1500)),
                    "楼栋数": int(rng.integers(1, 30)),
                    "建筑面积": float(rng.integers(3000, 120000)),
                    "计划年度": YEAR,
                    "物业管理": ["none", "basic", "professional", "self"][i % 4],
                },
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False), "utf-8")
    return path


def fill(template: Path, out: Path) -> Path:
    rng = np.random.default_rng(7)
    book = openpyxl.load_workbook(template)
    sheet = book["时间配档表"]
    col = {sheet.cell(3, c).value: c for c in range(1, sheet.max_column + 1)}
    heads = ["摸底", "设计", "招标", "开工", "完工", "验收"]
    for r in range(4, sheet.max_row + 1):
        if sheet.cell(r, 1).value is None:
            continue
        start = date(YEAR, 1, 5) + timedelta(days=int(rng.integers(0, 60)))
        planned = [start]
        for gap in (25, 30, 30, 150, 30):
            planned.append(planned[-1] + timedelta(days=gap))
        reached = int(rng.integers(-1, 6))
        last = start
        for i, h in enumerate(heads):
            sheet.cell(r, col[f"计划{h}"]).value = planned[i]
            if i <= reached:
                last = max(last, planned[i] + timedelta(days=int(rng.integers(0, 40))))
                if last <= ON:
                    sheet.cell(r, col[f"实际{h}"]).value = last
        sheet.cell(r, col["改造类别"]).value = "基础类"
        invest = float(rng.integers(100, 3000))
        sheet.cell(r, col["计划投资（万元）"]).value = invest
        sheet.cell(r, col["累计完成投资（万元）"]).value = round(invest * max(reached, 0) / 6, 2)
    book.save(out)
    return out


def anchor(ws: Workspace) -> pd.DataFrame:
    """One query, then pandas: per-street counts per stage on ON, sums, overdue count."""
    with ws.engine.connect() as conn:
        rows = pd.read_sql(
            text(
                "SELECT p.id, c.district, c.street, c.households, c.buildings, c.floor_area_m2, "
                "p.investment_planned, d.stage, d.planned, d.actual FROM programme_projects p "
                "JOIN compounds c ON c.fid = p.compound_id LEFT JOIN programme_stage_dates d ON d.project_id = p.id "
                "WHERE p.year = :y"
            ),
            conn,
            params={"y": YEAR},
        )
    rows["idx"] = rows["stage"].map({s: i for i, s in enumerate(STAGES)})
    reached = rows[rows["actual"].notna() & (rows["actual"] <= ON)].groupby("id")["idx"].max()
    due = rows[rows["planned"].notna() & (rows["planned"] < ON)][["id", "idx"]]
    due = due.join(reached.rename("at"), on="id")
    late = due[due["idx"] > due["at"].fillna(-1)]["id"].unique()
    per = rows.drop_duplicates("id").set_index("id")
    per["stage_idx"] = reached.reindex(per.index).fillna(-1)
    per["overdue"] = per.index.isin(late)
    return per.groupby(["district", "street"]).agg(
        projects=("stage_idx", "size"),
        households=("households", "sum"),
        buildings=("buildings", "sum"),
        floor_area=("floor_area_m2", "sum"),
        investment_planned=("investment_planned", "sum"),
        construction=("stage_idx", lambda s: int((s == 3).sum())),
        overdue=("overdue", "sum"),
    )


def read_anchor(ws: Workspace, path: Path, n_rows: int) -> float:
    """The least an import does: python-calamine reads the file's values and one COPY writes as many
    rows of (project, year, actor, changes) into a temporary table (rolled back)."""
    t0 = time.perf_counter()
    with CalamineWorkbook.from_path(str(path)) as book:
        rows = [r for r in book.get_sheet_by_name("时间配档表").to_python()[3:] if r[0] != ""]
    raw = ws.engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute("CREATE TEMP TABLE anchor (project bigint, year int, actor text, changes jsonb)")
            with cur.copy("COPY anchor FROM STDIN") as copy:
                for i in range(n_rows):
                    r = rows[i % len(rows)]
                    copy.write_row((int(r[0]), YEAR, "bench", json.dumps({"actual.survey": [None, str(r[11])]})))
        raw.rollback()
    finally:
        raw.close()
    return time.perf_counter() - t0


def xlsx_anchor(path: Path, rows: int, cols: int) -> float:
    """The least an XLSX writer does: openpyxl's write-only mode, the same rows and columns of plain
    values (text and numbers), no styles, no merges."""
    t0 = time.perf_counter()
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("x")
    for r in range(rows):
        sheet.append([f"小区{r}" if c % 3 == 0 else float(r * c) for c in range(cols)])
    book.save(path)
    return time.perf_counter() - t0


def sheet_size(path: Path, sheet: str) -> tuple[int, int]:
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book[sheet].iter_rows(values_only=True))
    book.close()
    return len(rows), max(len(r) for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=10_000)
    args = parser.parse_args()
    home, data = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    cluster = EmbeddedCluster(home, data_dir=data, fast=True)
    cluster.up()
    try:
        url = cluster.url("gisplan", driver="postgresql")
        ensure_extensions(url)
        ws = Workspace(make_engine(url), settings=Settings(database_url=url, home=home))
        ws.load("compounds", compounds(args.projects, home / "c.geojson"), actor="bench")
        t0 = time.perf_counter()
        template = ws.programme.write_schedule(home / "t.xlsx", YEAR)
        t_template = time.perf_counter() - t0
        filled = fill(template, home / "filled.xlsx")
        t0 = time.perf_counter()
        report = ws.programme.import_schedule(filled, actor="bench", today=date(YEAR, 10, 3), as_of=ON)
        t_import = time.perf_counter() - t0
        a_import = read_anchor(ws, filled, report.events)
        with ws.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        times, anchors = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            rep = ws.report_month(MONTH, today=date(YEAR, 10, 3))
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ref = anchor(ws)
            anchors.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rep.write(home / "月报.xlsx")
        t_xlsx = time.perf_counter() - t0
        a_xlsx = xlsx_anchor(home / "a1.xlsx", *sheet_size(home / "月报.xlsx", "统计月报"))
        t0 = time.perf_counter()
        export = ws.programme.write_schedule(home / "export.xlsx", YEAR)
        t_export = time.perf_counter() - t0
        a_export = xlsx_anchor(home / "a2.xlsx", *sheet_size(export, "时间配档表"))
        same = (
            rep.by_street.set_index(["district", "street"])[["projects", "construction", "overdue"]]
            .astype(int)
            .equals(ref[["projects", "construction", "overdue"]].astype(int))
        )
        overdue = len(rep.overdue)
        ws.close()
    finally:
        cluster.destroy()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
    ours, theirs = float(np.median(times)), float(np.median(anchors))
    print(f"{args.projects:,} projects (synthetic), 200 streets in 20 districts, 2 cores, median of 3 for the 月报")
    print(
        f"schedule import (one XLSX, one transaction):  {t_import:6.2f} s, {report.events:,} changes recorded, "
        f"{len(report.rejected)} rows set aside"
    )
    print(
        f"  anchor (calamine reads the values, one COPY of as many rows): {a_import:.2f} s → {t_import / a_import:.1f}×"
    )
    print(f"月报 computed (ws.report_month):              {ours:6.2f} s")
    print(f"  anchor (one SQL query + pandas groupby):    {theirs:.2f} s → {ours / theirs:.1f}×")
    print(f"月报 XLSX written ({overdue:,} overdue listed):   {t_xlsx:6.2f} s")
    print(f"  anchor (write-only, plain values, same size): {a_xlsx:.2f} s → {t_xlsx / a_xlsx:.1f}×")
    print(f"schedule XLSX written (template, no projects): {t_template:6.2f} s")
    print(f"schedule XLSX written (export, every project):  {t_export:6.2f} s")
    print(f"  anchor (write-only, plain values, same size): {a_export:.2f} s → {t_export / a_export:.1f}×")
    print(f"per-street projects / construction / overdue identical to the anchor: {same}")


if __name__ == "__main__":
    main()
