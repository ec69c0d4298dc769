"""File imports: every format and quirk, on the real files in ../shared/data and on files the tests write."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Transformer

from gis.errors import CRSError, ImportRefusedError
from gis.workspace import Workspace


def test_lying_prj_is_refused_with_a_useful_message(ws: Workspace, data_dir: Path) -> None:
    land = data_dir / "cn-huizhou-regplan" / "land.shp"
    with pytest.raises(CRSError) as info:
        ws.load("compounds", land)
    message = str(info.value)
    assert "WGS 84" in message and "metres" in message and "EPSG:4547" in message and "--crs" in message
    assert ws.working_crs is None  # nothing was written, not even the schema

    report = ws.load("compounds", land, crs="EPSG:4547")
    assert report.loaded == 79 and report.crs_note and "--crs" in report.crs_note
    gdf = ws.layer("compounds", crs=4326)
    lon, lat = gdf.geometry.union_all().centroid.coords[0]
    assert 114.30 < lon < 114.34 and 23.00 < lat < 23.04  # Zhongkai, Huizhou (SOURCE.txt)
    # the GB 50137 land-use code has no field of its own: kept in extra
    assert gdf["extra"].map(lambda e: e.get("Layer")).value_counts()["R2"] == 29


def test_gbk_shapefile_without_cpg(ws: Workspace, tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {
            "小区名称": ["静淑苑", "富润家园", "学院路甲5号院"],
            "建成年代": ["1988年", "1996", "1979"],
            "户数": [320, 512, 96],
            "物业管理": ["专业物业", "准物业", "无"],
        },
        geometry=[shapely.Point(442100, 4428300), shapely.Point(442500, 4428700), shapely.Point(443000, 4429000)],
        crs="EPSG:4548",
    )
    shp = tmp_path / "小区.shp"
    frame.to_file(shp, encoding="gbk")
    shp.with_suffix(".cpg").unlink()
    report = ws.load("compounds", shp)
    assert report.encoding == "GB18030" and "GB18030" in (report.encoding_note or "")
    gdf = ws.layer("compounds")
    assert list(gdf["name"]) == ["静淑苑", "富润家园", "学院路甲5号院"]
    assert list(gdf["built_year"]) == [1988, 1996, 1979]
    assert list(gdf["households"]) == [320, 512, 96]
    assert list(gdf["property_mgmt"]) == ["professional", "basic", "none"]
    assert gdf.crs.to_epsg() == 4548
    assert gdf.geometry.iloc[0].equals_exact(shapely.Point(442100, 4428300), tolerance=1e-6)


def test_geopackage_multi_layer_in_web_mercator(ws: Workspace, data_dir: Path) -> None:
    gpkg = data_dir / "fallback-prague-momepy" / "bubenec.gpkg"
    with pytest.raises(ImportRefusedError, match="--source-layer"):
        ws.load("roads", gpkg)  # 4 layers, none of them called roads
    assert ws.load("roads", gpkg, source_layer="streets").loaded == 35
    report = ws.load("buildings", gpkg)  # the layer named like the target is taken
    assert report.loaded == 144 and report.source == "bubenec.gpkg"
    assert ws.working_crs is not None and ws.working_crs.to_epsg() == 32633  # outside China: UTM 33N
    # Areas on the ground, independently: the same polygons projected by geopandas to UTM 33N
    expected = gpd.read_file(gpkg, layer="buildings").to_crs(32633).area.sum()
    assert ws.layer("buildings").area.sum() == pytest.approx(expected, rel=1e-6)


def test_geojson_villages(ws: Workspace, data_dir: Path) -> None:
    path = data_dir / "tw-taipei-eldercare" / "113年12月行政區五歲年齡組性別人口統計_村里_WGS84_臺北市.geojson"
    report = ws.load("compounds", path)
    assert report.loaded == 456 and not report.rejected
    gdf = ws.layer("compounds")
    assert gdf["extra"].map(lambda e: "A65A69_CNT" in e).all()  # age bands kept for demand analysis


def test_csv_with_coordinates_capacity_and_tabs(ws: Workspace, data_dir: Path) -> None:
    folder = data_dir / "tw-taipei-eldercare"
    homes = folder / "臺北市老人福利機構名冊1140201_coord.csv"
    report = ws.load("facilities", homes, type="养老院")
    assert report.loaded == 94 and "degrees" in (report.crs_note or "")
    gdf = ws.layer("facilities")
    assert set(gdf["type"]) == {"nursing_home"}
    expected_beds = pd.read_csv(homes)["核定床數-核定總床位數"].sum()
    assert gdf["capacity"].sum() == expected_beds
    assert "臺北市私立上美老人長期照顧中心(養護型)" in set(gdf["name"])

    tabbed = folder / "臺北市公辦民營老人福利機構一覽表_coord.csv"
    report = ws.load("facilities", tabbed, type="nursing_home")
    assert report.loaded == 3 and any("tabs" in w for w in report.warnings)
    # 收住床數 is free text ("安養床:153床 ..."), not a number: kept, never guessed
    assert ws.layer("facilities", where={"source": tabbed.name})["extra"].map(lambda e: "收住床數" in e).all()


def test_same_pipelines_in_two_crs_give_the_same_lengths(
    ws: Workspace, data_dir: Path, settings: object, db_url: str
) -> None:
    folder = data_dir / "tw-kaohsiung-pipelines"
    a = ws.load("pipelines", folder / "kh_ng_pipelines_twd97.shp", type="RQ")
    b = ws.load("pipelines", folder / "kh_ng_pipelines_wgs84.shp", type="RQ")
    assert a.loaded == b.loaded == 609
    gdf = ws.layer("pipelines")
    twd = gdf[gdf["source"] == "kh_ng_pipelines_twd97.shp"].length.sum()
    wgs = gdf[gdf["source"] == "kh_ng_pipelines_wgs84.shp"].length.sum()
    assert twd / 1000 == pytest.approx(156.4, abs=1.0)  # SOURCE.txt: 156.4 km
    assert wgs == pytest.approx(twd, rel=2e-3)
    assert set(gdf["owner"]) == {"欣高"}  # NAME is the operator company


def test_shapefile_without_dbf(ws: Workspace, data_dir: Path) -> None:
    report = ws.load("pipelines", data_dir / "rw-kigali-water-pipes" / "Pipeline_packed.shp", type="JS")
    assert report.loaded + len(report.rejected) == 3436
    km = ws.layer("pipelines").length.sum() / 1000
    assert km == pytest.approx(1695, rel=0.02)  # SOURCE.txt: ~1,695 km
    assert "no .dbf" in (report.encoding_note or "")


def test_flatgeobuf(ws: Workspace, tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"name": ["东风幼儿园", "向阳小学"], "type": ["幼儿园", "小学"], "capacity": [270, 1080]},
        geometry=[shapely.Point(116.35, 40.0), shapely.Point(116.352, 40.003)],
        crs="EPSG:4326",
    )
    path = tmp_path / "schools.fgb"
    frame.to_file(path, driver="FlatGeobuf")
    report = ws.load("facilities", path)
    assert report.loaded == 2
    got = ws.layer("facilities").set_index("name")["type"].to_dict()
    assert got == {"东风幼儿园": "kindergarten", "向阳小学": "primary_school"}


# Published reference pairs (wandergis/coordtransform test/app.js, also used by hutool's tests):
#   wgs84togcj02(116.404, 39.915) = (116.41024449916938, 39.91640428150164)
#   bd09togcj02(116.404, 39.915)  = (116.39762729119315, 39.90865673957631)
#   gcj02towgs84(116.39762729119315, 39.90865673957631) ≈ the WGS 84 point of that BD-09 point
@pytest.mark.parametrize(
    ("coords", "x", "y", "wgs_x", "wgs_y"),
    [
        ("gcj02", 116.41024449916938, 39.91640428150164, 116.404, 39.915),
        ("bd09", 116.41036949371029, 39.92133699351021, 116.39775550083061, 39.91359571849836),
    ],
)
def test_commercial_map_coordinates(
    ws: Workspace, tmp_path: Path, coords: str, x: float, y: float, wgs_x: float, wgs_y: float
) -> None:
    path = tmp_path / "poi.csv"
    path.write_text(f"名称,类型,经度,纬度\n测试点,社区卫生服务站,{x},{y}\n", encoding="utf-8")
    ws.load("facilities", path, coords=coords)  # type: ignore[arg-type]
    got = ws.layer("facilities", crs=4326).geometry.iloc[0]
    to_m = Transformer.from_crs(4326, 4548, always_xy=True)
    gx, gy = to_m.transform(got.x, got.y)
    ex, ey = to_m.transform(wgs_x, wgs_y)
    # the gcj02 case inverts an exact forward value (< 0.5 m); the bd09 case compares with the
    # reference's own one-step inverse, which is itself only good to a few metres
    tolerance = 0.5 if coords == "gcj02" else 5.0
    assert ((gx - ex) ** 2 + (gy - ey) ** 2) ** 0.5 < tolerance


def test_gcj_coordinates_must_be_degrees(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("name,type,x,y\na,clinic,442100,4428300\n", encoding="utf-8")
    with pytest.raises(CRSError):
        ws.load("facilities", path, crs="EPSG:4548", coords="gcj02")


def test_unreadable_file_is_refused(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "broken.gpkg"
    path.write_bytes(b"this is not a geopackage")
    with pytest.raises(ImportRefusedError, match="is not a GeoPackage"):
        ws.load("compounds", path)
    with pytest.raises(ImportRefusedError, match="no such file"):
        ws.load("compounds", tmp_path / "missing.shp")


def test_dxf_survey_lines(ws: Workspace, tmp_path: Path) -> None:
    # A survey delivery: lines on CAD layers, coordinates in CGCS2000 GK metres, no CRS in the file.
    frame = gpd.GeoDataFrame(
        {"Layer": ["JS", "RQ"]},
        geometry=[
            shapely.LineString([(442000, 4428000), (442040, 4428000)]),
            shapely.LineString([(442000, 4428000.8), (442040, 4428000.8)]),
        ],
    )
    path = tmp_path / "survey.dxf"
    pyogrio.write_dataframe(frame, path, driver="DXF")
    report = ws.load("pipelines", path, crs="EPSG:4548")
    assert report.loaded == 2
    gdf = ws.layer("pipelines")
    assert sorted(gdf["kind"]) == ["JS", "RQ"]  # the CAD layer name is the kind
    assert gdf.length.sum() == pytest.approx(80.0)
