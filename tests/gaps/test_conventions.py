"""Desktop conventions (issue #16, item 5): ``gisplan gaps --access nearest --node-crossings no
--tolerance 0`` gives pgRouting's distances, within 0.1 m, for every compound.

The independent side is SQL alone, on the layers gisplan stored, with pgRouting's
``pgr_drivingDistance``: the walkable roads cut into their straight segments (ends that meet are one
vertex, nothing else joined), every compound and facility snapped to its nearest segment (the
point of it closest to the feature, as ArcGIS Network Analyst and pgRouting's ``withPoints`` snap),
that segment split there and a leg of the straight distance added, then one search from all the
facilities of the type at once (``equicost``: each vertex's nearest). A compound inside a facility
is at 0, as in gisplan. The data: the roads of the Haidian sample (OSM), its compounds and
facilities as points (a point's nearest segment has no ties but at a shared vertex, which both
sides reach at the same cost).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import psycopg
import pytest

from gis.gaps.analysis import GapParameters
from gis.gaps.runs import list_runs
from gis.settings import Settings
from gis.workspace import Workspace
from tests.helpers.cli import run

ROADS_SQL = """
CREATE TEMP TABLE seg AS
SELECT row_number() OVER () AS id, (d).geom AS geom
FROM (SELECT ST_DumpSegments(geom) AS d FROM roads
      WHERE (highway IS NULL OR highway <> ALL(%(not_walkable)s))
        AND coalesce(extra->>'foot', '') <> 'no') s;
CREATE INDEX ON seg USING gist (geom);
CREATE TEMP TABLE feature AS
SELECT 'c' || fid AS key, geom FROM compounds
UNION ALL SELECT 'f' || fid, geom FROM facilities WHERE type = %(type)s;
-- each feature's nearest segment, the fraction of it where the feature meets it, and the leg
CREATE TEMP TABLE snap AS
SELECT f.key, n.id AS seg, ST_LineLocatePoint(n.geom, ST_ClosestPoint(n.geom, f.geom)) AS frac,
       ST_Distance(n.geom, f.geom) AS leg
FROM feature f CROSS JOIN LATERAL (
    SELECT id, geom FROM seg WHERE ST_DWithin(seg.geom, f.geom, %(max_leg)s)
    ORDER BY ST_Distance(seg.geom, f.geom), id LIMIT 1) n;
-- the vertices: the segments' ends (the same point is one vertex), the snapped points, the features
CREATE TEMP TABLE vertex AS
SELECT row_number() OVER () AS id, key FROM (
    SELECT DISTINCT 'p' || ST_AsText(p) AS key
    FROM seg, LATERAL (VALUES (ST_StartPoint(geom)), (ST_EndPoint(geom))) v(p)
    UNION SELECT 's' || key FROM snap
    UNION SELECT key FROM snap) k;
CREATE UNIQUE INDEX ON vertex (key);
-- each segment cut at its snapped points, in order along it
CREATE TEMP TABLE edge AS
WITH cuts AS (
    SELECT s.id AS seg, 0.0 AS frac, 'p' || ST_AsText(ST_StartPoint(s.geom)) AS key FROM seg s
    UNION ALL SELECT s.id, 1.0, 'p' || ST_AsText(ST_EndPoint(s.geom)) FROM seg s
    UNION ALL SELECT seg, frac, 's' || key FROM snap),
ordered AS (
    SELECT c.seg, c.frac, c.key, lead(c.frac) OVER w AS next_frac, lead(c.key) OVER w AS next_key
    FROM cuts c WINDOW w AS (PARTITION BY c.seg ORDER BY c.frac, c.key))
SELECT row_number() OVER () AS id, a.id AS source, b.id AS target,
       (o.next_frac - o.frac) * ST_Length(s.geom) AS cost
FROM ordered o JOIN seg s ON s.id = o.seg JOIN vertex a ON a.key = o.key JOIN vertex b ON b.key = o.next_key
WHERE o.next_key IS NOT NULL
UNION ALL
SELECT 1000000000 + row_number() OVER (), a.id, b.id, sn.leg
FROM snap sn JOIN vertex a ON a.key = 's' || sn.key JOIN vertex b ON b.key = sn.key;
"""
DISTANCES = """
SELECT substr(v.key, 2)::bigint AS compound, d.agg_cost
FROM pgr_drivingDistance('SELECT id, source, target, cost, cost AS reverse_cost FROM edge',
                         (SELECT array_agg(v.id) FROM vertex v WHERE v.key LIKE 'f%%'),
                         1e9, directed => false, equicost => true) d
JOIN vertex v ON v.id = d.node WHERE v.key LIKE 'c%%'
"""
INSIDE = """SELECT DISTINCT c.fid FROM compounds c JOIN facilities f ON f.type = %s AND ST_Intersects(c.geom, f.geom)"""


@pytest.fixture
def points(ws: Workspace, data_dir: Path, tmp_path: Path) -> Workspace:
    """The Haidian sample's roads, and its compounds and facilities as points."""
    osm = data_dir / "cn-beijing-haidian-cau" / "map.osm"
    ws.load("roads", osm)
    for layer in ("compounds", "facilities"):
        ws.load(layer, osm)
        frame = ws.layer(layer)
        frame = frame.drop(
            columns=[c for c in ("fid", "source", "source_key", "synthetic", "extra", "version") if c in frame]
        )
        path = tmp_path / f"{layer}.gpkg"
        gpd.GeoDataFrame(frame, geometry=frame.geometry.representative_point(), crs=frame.crs).to_file(path)
        ws.load(layer, path, replace=True, source="points")
    return ws


def pgrouting(url: str, facility_type: str, not_walkable: list[str], max_leg: float) -> dict[int, float]:
    """Every compound's distance to the nearest facility of the type, by pgRouting (see the module)."""
    with psycopg.connect(url) as conn:
        values = {"not_walkable": not_walkable, "type": facility_type, "max_leg": max_leg}
        for statement in filter(str.strip, ROADS_SQL.split(";\n")):
            conn.execute(statement, values if "%(" in statement else None)
        found = {int(c): float(d) for c, d in conn.execute(DISTANCES).fetchall()}
        for (fid,) in conn.execute(INSIDE, (facility_type,)).fetchall():
            found[int(fid)] = 0.0
    return found


@pytest.mark.parametrize("facility_type", ["kindergarten", "primary_school"])
def test_nearest_access_without_noding_gives_pgroutings_distances(
    points: Workspace, db_url: str, facility_type: str
) -> None:
    params = GapParameters(tolerance_m=0.0, access="nearest", node_crossings="no")
    run_ = points.run_gaps([facility_type], params=params)
    mine = run_.results.set_index("compound_id")["distance_m"].dropna()  # unreachable: no distance
    theirs = pgrouting(db_url, facility_type, points.registry.layer("roads").not_walkable, params.max_leg_m)
    assert len(mine) >= 0.8 * len(run_.results) and len(mine) >= 8
    assert set(theirs) == set(mine.index)
    apart = {c: (float(mine[c]), theirs[c]) for c in mine.index if abs(float(mine[c]) - theirs[c]) > 0.1}
    assert not apart, apart
    assert run_.results["distance_m"].nunique() > 3  # distinct distances: a real comparison, not all zeros
    stored = list_runs(points.engine, 1)[0]["parameters"]
    assert (stored["access"], stored["node_crossings"], stored["tolerance_m"]) == ("nearest", "no", 0.0)
    # gisplan's own rule (every segment within 30 m, ends within 1 m joined) only adds ways in:
    # never longer than the desktop convention; on this district shorter for some compounds'
    # nearest kindergarten (so the comparison above tells the two conventions apart)
    default = points.run_gaps([facility_type]).results.set_index("compound_id")["distance_m"].reindex(mine.index)
    assert (default <= mine + 0.1).all()
    if facility_type == "kindergarten":
        assert (default < mine - 1.0).any()


def test_the_command_takes_the_conventions(points: Workspace, settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "gaps.csv"
    env = {"GISPLAN_DATABASE_URL": str(settings.database_url), "GISPLAN_HOME": str(settings.home)}
    args = ["gaps", "--facility", "kindergarten", "--access", "nearest", "--node-crossings", "no", "--tolerance", "0"]
    done = run([*args, "--out", str(out)], env)
    assert done.returncode == 0, done.stderr
    via_cli = pd.read_csv(out).set_index("compound_id")["distance_m"]
    params = GapParameters(tolerance_m=0.0, access="nearest", node_crossings="no")
    via_library = points.run_gaps(["kindergarten"], params=params).results.set_index("compound_id")["distance_m"]
    assert via_cli.notna().sum() >= 8
    pd.testing.assert_series_equal(via_cli.sort_index(), via_library.sort_index().astype(float), check_names=False)
    refused = run(["gaps", "--access", "everywhere"], env)
    assert refused.returncode == 2 and "--access" in refused.stderr
