"""Roads in the conventions of common deliveries: Geofabrik's shapefiles (fclass, oneway F/T/B,
bridge/tunnel T/F, layer) through ``gisplan load``, and OSM's bridge, tunnel and layer tags."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
from sqlalchemy import create_engine, text

from gis.ingest.osm import parse_other_tags
from gis.workspace import Workspace
from tests.helpers.cli import run

# Geofabrik's gis_osm_roads_free_1 columns, a street each (values written out, read back by hand)
ROADS = {
    "osm_id": ["101", "102", "103", "104", "105", "106"],
    "code": [5115, 5153, 5152, 5122, 5141, 5114],
    "fclass": ["tertiary", "footway", "cycleway", "residential", "service", "secondary"],
    "name": ["Landstrasse", None, "Rheindamm", "Im Bühel", None, "Zollstrasse"],
    "ref": [None, None, None, None, None, "28"],
    "oneway": ["B", "F", "T", "B", "F", "B"],
    "maxspeed": [50, 0, 0, 30, 0, 50],
    "layer": [0, 1, -1, 0, 0, 2],
    "bridge": ["F", "T", "F", "F", "F", "T"],
    "tunnel": ["F", "F", "T", "F", "F", "F"],
}
# oneway F (along the line) and T (against it) are both one-way; B is both ways
EXPECTED = {
    "101": ("tertiary", False, False, False, 0),
    "102": ("footway", True, True, False, 1),
    "103": ("cycleway", True, False, True, -1),
    "104": ("residential", False, False, False, 0),
    "105": ("service", True, False, False, 0),
    "106": ("secondary", False, True, False, 2),
}


def _geofabrik_shapefile(path: Path) -> None:
    lines = [shapely.LineString([(9.52 + i * 0.001, 47.16), (9.52 + i * 0.001, 47.161)]) for i in range(6)]
    frame = gpd.GeoDataFrame(ROADS, geometry=lines, crs="EPSG:4326")
    pyogrio.write_dataframe(frame, path, encoding="UTF-8")


def test_a_geofabrik_shapefile_loads_with_its_conventions(db_url: str, tmp_path: Path) -> None:
    shp = tmp_path / "gis_osm_roads_free_1.shp"
    _geofabrik_shapefile(shp)
    env = {"GISPLAN_DATABASE_URL": db_url, "GISPLAN_HOME": str(tmp_path / "home")}
    done = run(["load", "roads", str(shp), "--json"], env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["loaded"] == 6 and report["rejected"] == []
    assert report["field_issues"] == []  # nothing reported unreadable
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT source_key, highway, oneway, bridge, tunnel, layer, extra, name FROM roads")
            ).all()
    finally:
        engine.dispose()
    assert {r.source_key: (r.highway, r.oneway, r.bridge, r.tunnel, r.layer) for r in rows} == EXPECTED
    by_key = {r.source_key: r for r in rows}
    assert by_key["104"].name == "Im Bühel"
    # what has no field is kept: the id (the key as well), Geofabrik's class code, the reference, the speed limit
    assert by_key["106"].extra == {"osm_id": "106", "code": 5114, "ref": "28", "maxspeed": 50}


def test_osm_bridge_tunnel_and_layer_tags_fill_the_columns(ws: Workspace, data_dir: Path) -> None:
    pbf = data_dir / "fallback-liechtenstein" / "liechtenstein-latest.osm.pbf"
    assert ws.load("roads", pbf).ok
    roads = ws.layer("roads").set_index("source_key")
    # the tags as GDAL reads them, parsed independently of the import
    lines = pyogrio.read_dataframe(pbf, layer="lines", columns=["osm_id", "highway", "other_tags"], read_geometry=False)
    tags = {f"way/{i}": parse_other_tags(o) for i, o in zip(lines["osm_id"], lines["other_tags"], strict=True)}
    loaded = [k for k in roads.index if k in tags]
    assert len(loaded) == len(roads)
    bridges = {k for k in loaded if tags[k].get("bridge", "no") not in ("no",)}
    tunnels = {k for k in loaded if tags[k].get("tunnel", "no") not in ("no",)}
    assert bridges and tunnels
    assert set(roads.index[roads["bridge"].eq(True)]) == bridges
    assert set(roads.index[roads["tunnel"].eq(True)]) == tunnels
    layered = {k: int(tags[k]["layer"]) for k in loaded if "layer" in tags[k]}
    assert layered and {k: int(v) for k, v in roads["layer"].dropna().items()} == layered
    # the tags that became columns are no longer kept in extra as well
    assert not any("bridge" in e or "layer" in e for e in roads["extra"])
