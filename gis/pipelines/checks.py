"""The GB 50289 checks: clearances between buried lines and to buildings, crossing order, ageing.

The rules are data (``layers/standards/pipelines/gb50289.yaml``). Clearances between lines: the
candidate pairs by the GiST index in PostgreSQL, then the rule, distance and stretch of each pair
with shapely (:mod:`gis.pipelines.clearance`). Clearances to buildings and crossings run in
PostgreSQL on the indexed geometries. Pipeline data are restricted: these functions need a direct
database connection or, over HTTP, a planner's token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from gis import clock
from gis.pipelines.clearance import Lines, clearance_limit, line_profiles, measure
from gis.pipelines.inside import INSIDE_SQL
from gis.pipelines.rules import FINDING_COLUMNS, ageing, categories, rules, wrong_crossings
from gis.pipelines.runs import store
from gis.store.database import Database
from gis.store.engine import dbapi


@dataclass
class PipelineCheck:
    """The findings of one check run, stored as a restricted result layer."""

    run_id: int
    findings: gpd.GeoDataFrame
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        f = self.findings
        return f.groupby(["check", "value_status"], dropna=False).agg(findings=("check", "size")).reset_index()


def _load_temp_tables(conn: Connection, pipes: pd.DataFrame) -> None:
    """Temp tables: each line's categories (with rank and assumption) and the clearance table."""
    db = dbapi(conn)
    codes, profiles = line_profiles(pipes)
    with db.cursor() as cur:
        cur.execute("CREATE TEMP TABLE pipe_cats (fid bigint, cat text, rank int, assumption text) ON COMMIT DROP")
        cur.execute(
            "CREATE TEMP TABLE clearance (a text, b text, value float8, dn_le_300 float8, dn_gt_300 float8, "
            "status text) ON COMMIT DROP"
        )
        with cur.copy("COPY pipe_cats FROM STDIN") as cp:
            for fid, code in zip(pipes["fid"].tolist(), codes.tolist(), strict=True):
                cats, assumption = profiles[code]
                for rank, cat in enumerate(cats):
                    cp.write_row((fid, cat, rank, assumption))
        with cur.copy("COPY clearance FROM STDIN") as cp:
            for row in rules()["horizontal_clearance_m"]:
                by_dn = row.get("value_by_dn") or {}
                for a, b in {(row["a"], row["b"]), (row["b"], row["a"])}:
                    cp.write_row((a, b, row.get("value"), by_dn.get("le_300"), by_dn.get("gt_300"), row["status"]))
        cur.execute("CREATE INDEX ON pipe_cats (fid)")
        cur.execute("ANALYZE pipe_cats")
        cur.execute("ANALYZE clearance")


# the buried lines checked (near the compound, if one is given)
_CHECKED = """coalesce({t}.laying, 'buried') <> 'overhead'
  AND (CAST(:compound AS bigint) IS NULL OR EXISTS (
        SELECT 1 FROM compounds c WHERE c.fid = CAST(:compound AS bigint) AND ST_DWithin(c.geom, {t}.geom, 20)))"""

LINES_SQL = f"""
SELECT p.fid, p.kind, p.diameter_mm, p.pressure, ST_AsBinary(p.geom) AS wkb FROM pipelines p
WHERE {_CHECKED.format(t="p")}
ORDER BY p.fid
"""

# Pairs of lines whose bounding boxes come within the largest clearance, by the GiST index (the
# exact distance is shapely's, and only for the few pairs that may be findings). Packed as
# big-endian int8 pairs, one bytea per line a: hundreds of thousands of pairs cost more as rows
# than as bytes, and a value per line stays far below PostgreSQL's 1 GB a value at any size.
CANDIDATES_SQL = f"""
SELECT string_agg(int8send(a.fid) || int8send(b.fid), ''::bytea)
FROM pipelines a JOIN pipelines b ON a.fid < b.fid AND b.geom && ST_Expand(a.geom, :max_value)
WHERE {_CHECKED.format(t="a")} AND {_CHECKED.format(t="b")}
GROUP BY a.fid
"""

# Long lines have large bounding boxes, so the GiST index would hand over most of the network as
# candidates: the buried lines within reach of a building are cut into parts of at most 32 vertices
# first (ST_Subdivide), and every distance and stretch to a building is computed part by part
# (exactly: only parts within the clearance can contribute to a stretch).
PARTS_SQL = """
CREATE TEMP TABLE pipe_parts ON COMMIT DROP AS
SELECT row_number() OVER () AS pid, fid, part AS geom
FROM (SELECT p.fid, ST_Subdivide(p.geom, 32) AS part FROM pipelines p
      WHERE coalesce(p.laying, 'buried') <> 'overhead'
        AND EXISTS (SELECT 1 FROM buildings bl WHERE ST_DWithin(bl.geom, p.geom, :max_value))
        AND (CAST(:compound AS bigint) IS NULL OR EXISTS (
              SELECT 1 FROM compounds c WHERE c.fid = CAST(:compound AS bigint) AND ST_DWithin(c.geom, p.geom, 20)))
     ) AS cut;
CREATE INDEX ON pipe_parts USING gist (geom);
CREATE INDEX ON pipe_parts (fid);
CREATE INDEX ON pipe_parts (pid);
ANALYZE pipe_parts;
"""

# the categories of the lines cut into parts (those within reach of a building)
PIPES_SQL = "SELECT fid, kind, diameter_mm, pressure FROM pipelines WHERE fid IN (SELECT fid FROM pipe_parts)"
AGES_SQL = "SELECT fid, kind, material, laid_year FROM pipelines WHERE laid_year IS NOT NULL"
GEOMS_SQL = "SELECT fid, geom FROM pipelines WHERE fid = ANY(:ids)"

BUILDING_SQL = """
WITH cand AS (
    SELECT DISTINCT pp.fid AS fa, bl.fid AS fb
    FROM pipe_parts pp JOIN buildings bl ON ST_DWithin(pp.geom, bl.geom, :max_value)
), rule AS (
    SELECT DISTINCT ON (c.fa, c.fb) c.fa, c.fb, ca.assumption AS as_a, r.status, r.value AS required
    FROM cand c JOIN pipe_cats ca ON ca.fid = c.fa
    JOIN clearance r ON r.a = ca.cat AND r.b = 'building' AND r.value IS NOT NULL
    ORDER BY c.fa, c.fb, ca.rank
), near AS MATERIALIZED (
    SELECT rule.fa, rule.fb, min(ST_Distance(pp.geom, bl.geom)) AS actual,
        ST_Collect(ST_CollectionExtract(ST_Intersection(pp.geom, ST_Buffer(bl.geom, rule.required)), 2))
            AS stretch_geom
    FROM rule JOIN pipe_parts pp ON pp.fid = rule.fa JOIN buildings bl ON bl.fid = rule.fb
    WHERE ST_DWithin(pp.geom, bl.geom, rule.required)
    GROUP BY rule.fa, rule.fb
)
SELECT 'building_clearance' AS check, near.fa AS fid_a, p.kind AS kind_a, near.fb AS fid_b, 'building' AS kind_b,
    rule.required AS required_m, near.actual AS actual_m, ST_Length(near.stretch_geom) AS stretch_m,
    rule.status AS value_status, rule.as_a AS note, near.stretch_geom AS geom
FROM near JOIN rule ON rule.fa = near.fa AND rule.fb = near.fb JOIN pipelines p ON p.fid = near.fa
WHERE near.actual < rule.required
"""

CROSSING_SQL = """
SELECT a.fid AS fid_a, a.kind AS kind_a, a.depth_m AS depth_a, b.fid AS fid_b, b.kind AS kind_b,
    b.depth_m AS depth_b, ST_PointOnSurface(ST_Intersection(a.geom, b.geom)) AS geom
FROM pipelines a JOIN pipelines b ON a.fid < b.fid AND ST_Intersects(a.geom, b.geom)
WHERE a.depth_m IS NOT NULL AND b.depth_m IS NOT NULL
  AND coalesce(a.laying, 'buried') <> 'overhead' AND coalesce(b.laying, 'buried') <> 'overhead'
  AND (CAST(:compound AS bigint) IS NULL OR EXISTS (
        SELECT 1 FROM compounds c WHERE c.fid = CAST(:compound AS bigint) AND ST_Intersects(c.geom, a.geom)))
"""


def _findings(conn: Connection, sql: str, params: dict[str, Any], crs: Any) -> gpd.GeoDataFrame:
    return gpd.read_postgis(text(sql), conn, geom_col="geom", params=params, crs=crs)


def _run_script(conn: Connection, script: str, params: dict[str, Any]) -> None:
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(text(statement), params)


def clearances(conn: Connection, *, compound: int | None, crs: Any) -> gpd.GeoDataFrame:
    """The clearance findings between the buried lines (near ``compound``, if given), in fid order
    (the lines and candidate pairs from PostgreSQL, the rest in :mod:`gis.pipelines.clearance`)."""
    factor = float(rules()["min_parallel_stretch_factor"]["value"])
    params = {"compound": compound}
    # these queries are short; compiling them (PostgreSQL's JIT, on by default) cost more than running them
    conn.execute(text("SET LOCAL jit = off"))
    frame = pd.read_sql(text(LINES_SQL), conn, params=params)
    geoms = np.asarray(shapely.from_wkb(frame.pop("wkb").map(bytes).to_numpy()), dtype=object)
    lines, by_profile = Lines.from_frame(frame, geoms)
    packed = b"".join(conn.execute(text(CANDIDATES_SQL), {**params, "max_value": clearance_limit()}).scalars())
    pairs = np.frombuffer(packed, dtype=">i8").reshape(-1, 2).astype(np.int64)
    ia, ib = np.searchsorted(lines.fid, pairs[:, 0]), np.searchsorted(lines.fid, pairs[:, 1])
    found = measure(lines, by_profile, ia, ib, factor)
    found = found.sort_values(["fid_a", "fid_b"], ignore_index=True)
    return gpd.GeoDataFrame(found, geometry="geom", crs=crs)


def _building_limit() -> float:
    """The largest clearance of the table to a building (the candidates' search distance)."""
    r = rules()["horizontal_clearance_m"]
    return max(float(row["value"]) for row in r if "building" in (row["a"], row["b"]) and row.get("value"))


def check(db: Database, *, compound: int | None = None, today: date | None = None) -> gpd.GeoDataFrame:
    """Every finding: horizontal clearances between buried lines and to buildings (表4.1.9), crossing
    order where depths are known (4.1.12), lines past their service life.

    Returns a GeoDataFrame with ``FINDING_COLUMNS``; each row names the standard value's source and
    status, and any assumption it rests on.
    """
    crs = db.require_schema()
    near = {"compound": compound, "max_value": _building_limit()}
    with db.engine.begin() as conn:
        measured = [clearances(conn, compound=compound, crs=crs)]
        _run_script(conn, PARTS_SQL, near)
        _load_temp_tables(conn, pd.read_sql(text(PIPES_SQL), conn))
        measured.append(_findings(conn, BUILDING_SQL, near, crs))
        crossings = _findings(conn, CROSSING_SQL, {"compound": compound}, crs)
        inside = _findings(conn, INSIDE_SQL, {"compound": compound}, crs)
        aged = ageing(pd.read_sql(text(AGES_SQL), conn), clock.today(today))
        # geometries only of the lines found past their service life
        ids = {"ids": [int(f) for f in aged["fid_a"]]}
        geoms = gpd.read_postgis(text(GEOMS_SQL), conn, geom_col="geom", crs=crs, params=ids)
    for part in measured:
        part["value_source"] = rules()["horizontal_source"]
    wrong = gpd.GeoDataFrame(wrong_crossings(crossings), columns=[*FINDING_COLUMNS, "geom"], geometry="geom", crs=crs)
    aged = aged.merge(geoms, left_on="fid_a", right_on="fid", how="left").drop(columns="fid")
    parts = [*measured, wrong, gpd.GeoDataFrame(aged, geometry="geom", crs=crs)]
    return _with_compounds([x for x in parts if len(x)], inside, crs)


def _with_compounds(parts: list[gpd.GeoDataFrame], inside: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    """The findings in one frame, each with the compound its first line lies in."""
    if not parts:
        return gpd.GeoDataFrame(columns=[*FINDING_COLUMNS, "geometry"], geometry="geometry", crs=crs)
    findings = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geom", crs=crs)
    comp = inside.drop_duplicates("fid")[["fid", "compound_id", "compound_name"]]
    findings = findings.drop(columns=[c for c in ("compound_id", "compound_name") if c in findings.columns])
    findings = findings.merge(comp, left_on="fid_a", right_on="fid", how="left").drop(columns="fid")
    findings = findings.rename_geometry("geometry")
    for col in ("fid_a", "fid_b", "compound_id"):
        findings[col] = findings[col].astype("Int64")
    return findings[[*FINDING_COLUMNS, "geometry"]]


__all__ = ["FINDING_COLUMNS", "PipelineCheck", "categories", "check", "clearances", "store"]
