"""One latest result everywhere (issue 13): after the compounds change between two gap runs, the web
map, the offline map, the GeoPackage and the gap tables all report, for every compound, the result
of the newest run of each facility type, and nothing for a compound deleted since.

The expectation is computed here with its own SQL: the newest run that analysed a type is read
from ``gap_runs.parameters`` (not from ``gap_results``), and a result counts while its compound
stands.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import pandas as pd
import pyogrio
import pytest
import shapely
from openpyxl import load_workbook
from shapely import affinity
from sqlalchemy import text

from api.main import create_app
from gis.demo import sample_path
from gis.export import gap_tables, gpkg
from gis.export.offline_map import render_page
from gis.export.symbology import gap_class, symbology
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers.browser import page_geojson
from tests.helpers.live import serve

TYPES = ("kindergarten", "health_center")
RERUN = "kindergarten"
EXPECTED = text("""
    WITH newest AS (
        SELECT t.type AS facility_type, max(g.id) AS run_id
        FROM gap_runs g CROSS JOIN LATERAL jsonb_array_elements_text(g.parameters -> 'facility_types') AS t(type)
        GROUP BY t.type
    )
    SELECT r.compound_fid, r.facility_type, r.run_id, r.covered, r.distance_m
    FROM gap_results r
    JOIN newest n ON n.facility_type = r.facility_type AND n.run_id = r.run_id
    WHERE r.compound_fid IN (SELECT fid FROM compounds)
""")
RUN_ROWS = text("SELECT compound_fid, facility_type, covered FROM gap_results WHERE run_id = :r")

Result = tuple[int, bool, float | None]  # run, covered, distance


def distance(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), 3)


def expected_results(ws: Workspace) -> dict[tuple[int, str], Result]:
    with ws.engine.connect() as conn:
        rows = conn.execute(EXPECTED).all()
    return {
        (int(r.compound_fid), r.facility_type): (int(r.run_id), bool(r.covered), distance(r.distance_m)) for r in rows
    }


def feature(geom: shapely.Geometry, crs: Any, properties: dict[str, Any]) -> dict[str, Any]:
    lonlat = gpd.GeoSeries([geom], crs=crs).to_crs(4326).iloc[0]
    return {"type": "Feature", "geometry": shapely.geometry.mapping(lonlat), "properties": properties}


def change_compounds(client: httpx.Client, ws: Workspace, run1: pd.DataFrame) -> dict[str, int]:
    """Over the OGC API, as a planner would: move a covered compound far away, delete another, add one
    next to a kindergarten. Returns their ids."""
    compounds = ws.layer("compounds")
    polygons = compounds[compounds.geom_type == "MultiPolygon"]
    covered = set(run1[(run1["facility_type"] == RERUN) & run1["covered"]]["compound_fid"])
    moved = int(next(f for f in polygons["fid"] if f in covered))
    deleted = int(next(f for f in polygons["fid"] if f != moved))
    items = "/ogc/collections/compounds/items"

    geom = polygons.set_index("fid").geometry[moved]
    etag = client.get(f"{items}/{moved}").headers["ETag"]
    far = feature(affinity.translate(geom, xoff=30_000), compounds.crs, {})
    r = client.patch(f"{items}/{moved}", json={"geometry": far["geometry"]}, headers={"If-Match": etag})
    assert r.status_code == 204, r.text

    etag = client.get(f"{items}/{deleted}").headers["ETag"]
    assert client.delete(f"{items}/{deleted}", headers={"If-Match": etag}).status_code == 204

    facilities = ws.layer("facilities")
    school = facilities[facilities["type"] == RERUN].geometry.iloc[0].representative_point()
    square = shapely.MultiPolygon([shapely.box(school.x + 20, school.y + 20, school.x + 80, school.y + 80)])
    r = client.post(items, json=feature(square, compounds.crs, {"name": "新建测试小区", "households": 40}))
    assert r.status_code == 201, r.text
    return {"moved": moved, "deleted": deleted, "added": int(r.json()["id"])}


def web_map(client: httpx.Client, fids: list[int]) -> tuple[dict[tuple[int, str], Result], dict[int, Any]]:
    """What the web map's JSON says: per type, and per compound."""
    by_type = {}
    for ftype in TYPES:
        body = client.get(f"/api/map/gaps/{ftype}").json()
        for fid, v in body["compounds"].items():
            by_type[(int(fid), ftype)] = (int(body["run"]), bool(v["covered"]), distance(v["distance_m"]))
    per_compound = {}
    for fid in fids:
        body = client.get(f"/api/map/compounds/{fid}/gaps").json()
        per_compound[fid] = {
            g["facility_type"]: (int(g["run"]), bool(g["covered"]), distance(g["distance_m"])) for g in body["gaps"]
        }
    return by_type, per_compound


def offline_classes(ws: Workspace, ftype: str) -> dict[int, str]:
    """The gap class each compound is drawn in on the offline map, read back from the page's data."""
    page = render_page(ws.map("gap", facility=ftype))
    colours = {v["color"]: k for k, v in symbology()["gap"].items()}
    drawn = [c for c in page_geojson(page) if c["features"] and "fid" in c["features"][0]["properties"]]
    assert len(drawn) == 1
    return {int(f["properties"]["fid"]): colours[f["properties"]["fill"]] for f in drawn[0]["features"]}


def geopackage(ws: Workspace, path: Path) -> dict[tuple[int, str], Result]:
    gpkg.export_gpkg(ws.export_context("public", gpkg.NEEDS), path)
    found: dict[tuple[int, str], Result] = {}
    for name, _ in pyogrio.list_layers(path):
        if name == "gaps" or name.startswith("gaps_"):
            frame = pyogrio.read_dataframe(path, layer=name)
            for r in frame.itertuples():
                found[(int(r.compound_id), r.facility_type)] = (int(r.run_id), bool(r.covered), distance(r.distance_m))
    return found


def table_counts(ws: Workspace, tmp_path: Path) -> tuple[dict[str, tuple[float, float]], Counter[str]]:
    """Per facility type label: compounds and covered of the XLSX's 合计 rows; compounds per type of the CSV."""
    ctx = ws.export_context("public", gap_tables.NEEDS)
    gap_tables.export_tables(ctx, tmp_path / "gaps.xlsx")
    sheet = load_workbook(tmp_path / "gaps.xlsx")["按区县"]
    headers = [c.value for c in sheet[3]]
    rows = [r for r in sheet.iter_rows(min_row=4, values_only=True) if r[0] == "合计"]
    xlsx = {r[headers.index("设施类型")]: (r[headers.index("小区数(个)")], r[headers.index("满足(个)")]) for r in rows}
    gap_tables.export_tables(ctx, tmp_path / "street.csv", by="street")
    csv = pd.read_csv(tmp_path / "street.csv", encoding="utf-8-sig")
    return xlsx, Counter(csv.groupby("设施类型")["小区数(个)"].sum().to_dict())


@pytest.fixture
def changed(ws: Workspace) -> Any:
    """Compounds and facilities loaded; both types analysed; the compounds changed; one type analysed again."""
    ws.load("compounds", sample_path(), source_layer="compounds")
    ws.load("facilities", sample_path(), source_layer="facilities")
    first = ws.gaps(list(TYPES)).attrs["run_id"]
    with ws.engine.connect() as conn:
        run1 = pd.read_sql(RUN_ROWS, conn, params={"r": first})
    token = add_user(ws.engine, "规划师", "planner")
    with serve(create_app(workspace=ws)) as base:
        planner = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, timeout=60, headers=planner) as client:
            ids = change_compounds(client, ws, run1)
            second = ws.gaps(RERUN).attrs["run_id"]
            yield ws, client, ids, run1, (first, second)


def test_every_surface_reports_the_newest_run_of_each_type(changed: Any, tmp_path: Path) -> None:
    ws, client, ids, run1, (first, second) = changed
    expected = expected_results(ws)
    fids = [int(f) for f in ws.layer("compounds")["fid"]]

    # the scenario holds what it should: a result changed, a stale type, an added and a deleted compound
    old = run1.set_index(["compound_fid", "facility_type"])["covered"]
    assert expected[(ids["moved"], RERUN)][:2] == (second, False) and bool(old[(ids["moved"], RERUN)])
    assert expected[(ids["moved"], "health_center")][0] == first
    assert (ids["added"], RERUN) in expected and (ids["added"], "health_center") not in expected
    assert (ids["deleted"], "health_center") in old.index  # the stale run still holds the deleted compound
    assert ids["deleted"] not in fids and not [k for k in expected if k[0] == ids["deleted"]]

    by_type, per_compound = web_map(client, [*fids, ids["deleted"]])
    assert by_type == expected
    for fid in fids:
        assert per_compound[fid] == {t: v for (f, t), v in expected.items() if f == fid}, fid
    assert per_compound[ids["deleted"]] == {}

    for ftype in TYPES:
        drawn = offline_classes(ws, ftype)
        assert set(drawn) == set(fids)
        for fid in fids:
            result = expected.get((fid, ftype))
            want = "unknown" if result is None else gap_class(result[2], result[1])
            assert drawn[fid] == want, (ftype, fid)

    assert geopackage(ws, tmp_path / "gisplan.gpkg") == expected

    xlsx, csv = table_counts(ws, tmp_path)
    labels = {c.id: c.zh for c in ws.registry.code_list("facility_type").codes}
    for ftype in TYPES:
        mine = [v for (_, t), v in expected.items() if t == ftype]
        assert xlsx[labels[ftype]] == (len(mine), sum(v[1] for v in mine)), ftype
        assert csv[labels[ftype]] == len(mine), ftype
