"""Pipelines: inventory per compound, overhead lines to bury, ageing, clearances and crossing order.

The rules are data (``layers/standards/pipelines/gb50289.yaml``). The spatial work runs in
PostgreSQL on the indexed geometries: candidate pairs by ``ST_DWithin`` at the largest clearance in
the table, then the most specific rule per pair, then the stretch along which the pair is closer
than the rule allows. Python only assigns each line its table categories (attribute logic).
Pipeline data are restricted: these functions need a direct database connection or, over HTTP, a
planner's token.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import geopandas as gpd
import pandas as pd
import yaml
from sqlalchemy import Connection, Engine, text

from gis.ingest.writer import _dbapi
from gis.registry import registry

FINDING_COLUMNS = [
    "check",
    "fid_a",
    "kind_a",
    "fid_b",
    "kind_b",
    "required_m",
    "actual_m",
    "stretch_m",
    "compound_id",
    "compound_name",
    "value_status",
    "value_source",
    "note",
]


@cache
def rules() -> dict[str, Any]:
    """The pipeline rules of ``layers/standards/pipelines/gb50289.yaml``."""
    path = resources.files("layers") / "standards" / "pipelines" / "gb50289.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def categories(kind: str | None, diameter: float | None, pressure: str | None) -> tuple[list[str], str | None]:
    """A line's categories in 表4.1.9, most specific first, and the assumption made, if any."""
    spec = rules()["categories"].get(kind or "")
    if spec is None:
        return [], None
    assumption = None
    if "plain" in spec:
        cats = list(spec["plain"])
        assumption = rules()["assumptions"].get(kind)
    elif "by_diameter" in spec:
        if diameter is None or pd.isna(diameter):
            band, assumption = spec["unknown_diameter"], rules()["assumptions"].get(kind)
        else:
            band = "le_200" if diameter <= 200 else "gt_200"
        cats = list(spec["by_diameter"][band])
    else:
        if pressure is None or pressure not in spec["by_pressure"]:
            chosen, assumption = spec["unknown_pressure"], rules()["assumptions"].get(kind)
            if pressure is not None:
                assumption = f"pressure {pressure} is not in 表4.1.9; not checked"
                return [], assumption
        else:
            chosen = pressure
        cats = list(spec["by_pressure"][chosen])
    return cats, assumption


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
    db = _dbapi(conn)
    with db.cursor() as cur:
        cur.execute("CREATE TEMP TABLE pipe_cats (fid bigint, cat text, rank int, assumption text) ON COMMIT DROP")
        cur.execute(
            "CREATE TEMP TABLE clearance (a text, b text, value float8, dn_le_300 float8, dn_gt_300 float8, "
            "status text) ON COMMIT DROP"
        )
        with cur.copy("COPY pipe_cats FROM STDIN") as cp:
            for r in pipes.to_dict("records"):
                diameter = float(r["diameter_mm"]) if pd.notna(r["diameter_mm"]) else None
                pressure = str(r["pressure"]) if isinstance(r["pressure"], str) else None
                cats, assumption = categories(str(r["kind"]), diameter, pressure)
                for rank, cat in enumerate(cats):
                    cp.write_row((r["fid"], cat, rank, assumption))
        with cur.copy("COPY clearance FROM STDIN") as cp:
            for row in rules()["horizontal_clearance_m"]:
                by_dn = row.get("value_by_dn") or {}
                for a, b in {(row["a"], row["b"]), (row["b"], row["a"])}:
                    cp.write_row((a, b, row.get("value"), by_dn.get("le_300"), by_dn.get("gt_300"), row["status"]))
        cur.execute("CREATE INDEX ON pipe_cats (fid)")
        cur.execute("ANALYZE pipe_cats")
        cur.execute("ANALYZE clearance")


# Long lines have large bounding boxes, so the GiST index would hand over most of the network as
# candidates: the buried lines are cut into parts of at most 32 vertices first (ST_Subdivide), and
# every distance and stretch is computed part by part (exactly: only parts within the clearance can
# contribute to a stretch).
PARTS_SQL = """
CREATE TEMP TABLE pipe_parts ON COMMIT DROP AS
SELECT row_number() OVER () AS pid, fid, part AS geom
FROM (SELECT p.fid, ST_Subdivide(p.geom, 32) AS part FROM pipelines p
      WHERE coalesce(p.laying, 'buried') <> 'overhead'
        AND (CAST(:compound AS bigint) IS NULL OR EXISTS (
              SELECT 1 FROM compounds c WHERE c.fid = CAST(:compound AS bigint) AND ST_DWithin(c.geom, p.geom, 20)))
     ) AS cut;
CREATE INDEX ON pipe_parts USING gist (geom);
CREATE INDEX ON pipe_parts (fid);
CREATE INDEX ON pipe_parts (pid);
ANALYZE pipe_parts;
"""

# Steps as temporary tables with statistics: as CTEs the planner cannot estimate them and falls
# into nested loops that grow with the square of the network.
PAIR_SQL = """
CREATE TEMP TABLE part_pairs ON COMMIT DROP AS
SELECT pa.pid AS pa_id, pb.pid AS pb_id, pa.fid AS fa, pb.fid AS fb, ST_Distance(pa.geom, pb.geom) AS d
FROM pipe_parts pa JOIN pipe_parts pb ON pa.fid < pb.fid AND ST_DWithin(pa.geom, pb.geom, :max_value);
ANALYZE part_pairs;
CREATE TEMP TABLE pair_rule ON COMMIT DROP AS
SELECT DISTINCT ON (c.fa, c.fb) c.fa, c.fb, ca.assumption AS as_a, cb.assumption AS as_b, r.status,
    coalesce(r.value, CASE WHEN greatest(pa.diameter_mm, pb.diameter_mm) > 300 THEN r.dn_gt_300
                           ELSE r.dn_le_300 END) AS required
FROM (SELECT DISTINCT fa, fb FROM part_pairs) c
JOIN pipe_cats ca ON ca.fid = c.fa JOIN pipe_cats cb ON cb.fid = c.fb
JOIN clearance r ON r.a = ca.cat AND r.b = cb.cat
JOIN pipelines pa ON pa.fid = c.fa JOIN pipelines pb ON pb.fid = c.fb
ORDER BY c.fa, c.fb, ca.rank + cb.rank, ca.rank;
ANALYZE pair_rule;
"""

CLEARANCE_SQL = """
WITH near AS (
    -- each part of line a with the parts of line b within the required clearance of it
    SELECT pp.fa, pp.fb, min(pp.d) AS actual,
        ST_CollectionExtract(
            ST_Intersection((array_agg(pa.geom))[1], ST_Buffer(ST_Collect(pb.geom), rule.required)), 2
        ) AS piece
    FROM part_pairs pp
    JOIN pair_rule rule ON rule.fa = pp.fa AND rule.fb = pp.fb AND pp.d <= rule.required
    JOIN pipe_parts pa ON pa.pid = pp.pa_id JOIN pipe_parts pb ON pb.pid = pp.pb_id
    GROUP BY pp.fa, pp.fb, pp.pa_id, rule.required
), pairs AS (
    SELECT fa, fb, min(actual) AS actual, ST_Collect(piece) AS stretch_geom FROM near GROUP BY fa, fb
)
SELECT 'clearance' AS check, pairs.fa AS fid_a, a.kind AS kind_a, pairs.fb AS fid_b, b.kind AS kind_b,
    rule.required AS required_m, pairs.actual AS actual_m, ST_Length(pairs.stretch_geom) AS stretch_m,
    rule.status AS value_status, concat_ws('; ', rule.as_a, rule.as_b) AS note,
    ST_LineMerge(ST_CollectionExtract(pairs.stretch_geom, 2)) AS geom
FROM pairs JOIN pair_rule rule ON rule.fa = pairs.fa AND rule.fb = pairs.fb
JOIN pipelines a ON a.fid = pairs.fa JOIN pipelines b ON b.fid = pairs.fb
WHERE pairs.actual < rule.required AND ST_Length(pairs.stretch_geom) > :factor * rule.required
"""

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

INSIDE_SQL = """
SELECT c.fid AS compound_id, c.name AS compound_name, p.fid, p.kind, p.laying, p.operator, p.owner,
    ST_Length(ST_Intersection(p.geom, c.geom)) AS length_m, ST_Intersection(p.geom, c.geom) AS geom
FROM compounds c JOIN pipelines p ON ST_Intersects(c.geom, p.geom)
WHERE GeometryType(c.geom) = 'MULTIPOLYGON'
  AND (CAST(:compound AS bigint) IS NULL OR c.fid = CAST(:compound AS bigint))
"""


LATEST_RUN = "SELECT max(id) FROM pipeline_runs"
RUN_FINDINGS = "SELECT * FROM pipeline_findings WHERE run_id = :r"


def _findings(conn: Connection, sql: str, params: dict[str, Any], crs: Any) -> gpd.GeoDataFrame:
    return gpd.read_postgis(text(sql), conn, geom_col="geom", params=params, crs=crs)


def check(engine: Engine, crs: Any, *, compound: int | None = None, today: date | None = None) -> gpd.GeoDataFrame:
    """Every finding: horizontal clearances between buried lines and to buildings (表4.1.9), crossing
    order where depths are known (4.1.12), lines past their service life.

    Returns a GeoDataFrame with ``FINDING_COLUMNS``; each row names the standard value's source and
    status, and any assumption it rests on.
    """
    r = rules()
    values = [
        row.get("value") or max((row.get("value_by_dn") or {}).values(), default=0)
        for row in r["horizontal_clearance_m"]
    ]
    factor = float(r["min_parallel_stretch_factor"]["value"])
    source = r["horizontal_source"]
    parts: list[gpd.GeoDataFrame] = []
    with engine.begin() as conn:
        pipes = pd.read_sql(text("SELECT fid, kind, diameter_mm, pressure FROM pipelines"), conn)
        _load_temp_tables(conn, pipes)
        pipe_values = [
            v
            for row, v in zip(r["horizontal_clearance_m"], values, strict=True)
            if "building" not in (row["a"], row["b"])
        ]
        p = {"compound": compound, "factor": factor}
        for statement in PARTS_SQL.split(";"):
            if statement.strip():
                conn.execute(text(statement), {"compound": compound})
        for statement in PAIR_SQL.split(";"):
            if statement.strip():
                conn.execute(text(statement), {"max_value": max(pipe_values)})
        parts.append(_findings(conn, CLEARANCE_SQL, p, crs))
        parts.append(_findings(conn, BUILDING_SQL, {**p, "max_value": max(values)}, crs))
        crossings = _findings(conn, CROSSING_SQL, {"compound": compound}, crs)
        inside = _findings(conn, INSIDE_SQL, {"compound": compound}, crs)
        ages = pd.read_sql(
            text("SELECT fid, kind, material, laid_year FROM pipelines WHERE laid_year IS NOT NULL"), conn
        )
        aged = _ageing(ages, today or date.today())
        # geometries only of the lines found past their service life
        geoms = gpd.read_postgis(
            text("SELECT fid, geom FROM pipelines WHERE fid = ANY(:ids)"),
            conn, geom_col="geom", crs=crs, params={"ids": [int(f) for f in aged["fid_a"]]},
        )  # fmt: skip
    for part in parts:
        part["value_source"] = source
    order = r["crossing_order"]
    rank = {k: i for i, k in enumerate(order["value"])}
    rank.update({k: rank[v] for k, v in order.get("same_rank", {}).items()})
    wrong = []
    for row in crossings.to_dict("records"):
        ra, rb = rank.get(row["kind_a"]), rank.get(row["kind_b"])
        if ra is None or rb is None or ra == rb:
            continue
        # the line that should lie above, and the other
        top, other = ("a", "b") if ra < rb else ("b", "a")
        gap = float(row[f"depth_{top}"]) - float(row[f"depth_{other}"])
        if gap > 0:
            wrong.append(
                {
                    "check": "crossing_order",
                    "fid_a": row["fid_a"], "kind_a": row["kind_a"], "fid_b": row["fid_b"], "kind_b": row["kind_b"],
                    "required_m": None, "actual_m": gap, "stretch_m": None,
                    "value_status": order["status"], "value_source": order["source"],
                    "note": f"{row[f'kind_{top}']} should lie above {row[f'kind_{other}']}; it is {gap:.2f} m deeper "
                    f"(depths {row['depth_a']} / {row['depth_b']} m)",
                    "geom": row["geom"],
                }
            )  # fmt: skip
    parts.append(gpd.GeoDataFrame(wrong, columns=[*FINDING_COLUMNS, "geom"], geometry="geom", crs=crs))
    aged = aged.merge(geoms, left_on="fid_a", right_on="fid", how="left").drop(columns="fid")
    parts.append(gpd.GeoDataFrame(aged, geometry="geom", crs=crs))
    findings = pd.concat([x for x in parts if len(x)], ignore_index=True) if any(len(x) for x in parts) else None
    if findings is None:
        return gpd.GeoDataFrame(columns=[*FINDING_COLUMNS, "geometry"], geometry="geometry", crs=crs)
    findings = gpd.GeoDataFrame(findings, geometry="geom", crs=crs)
    # which compound each finding lies in
    comp = inside.drop_duplicates("fid")[["fid", "compound_id", "compound_name"]]
    findings = findings.drop(columns=[c for c in ("compound_id", "compound_name") if c in findings.columns])
    findings = findings.merge(comp, left_on="fid_a", right_on="fid", how="left").drop(columns="fid")
    findings = findings.rename_geometry("geometry")
    for col in ("fid_a", "fid_b", "compound_id"):
        findings[col] = findings[col].astype("Int64")
    return findings[[*FINDING_COLUMNS, "geometry"]]


def _ageing(ages: pd.DataFrame, today: date) -> pd.DataFrame:
    """Ageing findings (without geometry) of the lines past the service life of their kind and material."""
    life = rules()["service_life"]
    rows = []
    for r in ages.to_dict("records"):
        material = r["material"] if isinstance(r["material"], str) else ""
        for rule in life["rules"]:
            kinds = rule["kind"] if isinstance(rule["kind"], list) else [rule["kind"]]
            if r["kind"] not in kinds or ("material" in rule and not re.search(rule["material"], material)):
                continue
            age = today.year - int(r["laid_year"])
            if age >= rule["years"]:
                note = f"{rule['note']}: laid {r['laid_year']}, {age} years" + (f", {material}" if material else "")
                rows.append(
                    {"check": "ageing", "fid_a": r["fid"], "kind_a": r["kind"], "required_m": None, "actual_m": None,
                     "stretch_m": None, "value_status": life["status"], "value_source": life["source"], "note": note}
                )  # fmt: skip
            break
    return pd.DataFrame(rows, columns=[c for c in FINDING_COLUMNS if c not in ("compound_id", "compound_name")])


def bury(engine: Engine, crs: Any, *, compound: int | None = None) -> gpd.GeoDataFrame:
    """Overhead lines inside each compound, per line, with who must bury them (管线规整入地).

    ``operator`` is the telecom operator (电信/移动/联通/广电) for TX lines; for power lines the
    owner (the power company).
    """
    with engine.connect() as conn:
        inside = gpd.read_postgis(text(INSIDE_SQL), conn, geom_col="geom", params={"compound": compound}, crs=crs)
    over = inside[inside["laying"] == "overhead"].copy()
    labels = {c.id: f"{c.zh} ({c.id})" for c in registry().code_list("telecom_operator").codes}
    operator = over["operator"].map(labels)
    over["responsible"] = operator.where(over["kind"] == "TX", over["owner"]).fillna("(unknown / 未知)")
    over = over.rename_geometry("geometry")
    return over[["compound_id", "compound_name", "fid", "kind", "responsible", "length_m", "geometry"]]


def bury_summary(lines: pd.DataFrame) -> pd.DataFrame:
    """Per compound, kind and responsible operator: lines and metres to bury."""
    return (
        lines.groupby(["compound_id", "compound_name", "kind", "responsible"], dropna=False)
        .agg(lines=("fid", "size"), length_m=("length_m", "sum"))
        .reset_index()
    )


def inventory(engine: Engine, crs: Any, *, compound: int | None = None) -> pd.DataFrame:
    """Per compound, kind and laying: metres of line inside (lines crossing the boundary count for
    their part inside)."""
    with engine.connect() as conn:
        inside = pd.read_sql(text(INSIDE_SQL), conn, params={"compound": compound})
    return (
        inside.groupby(["compound_id", "compound_name", "kind", "laying"], dropna=False)
        .agg(lines=("fid", "nunique"), length_m=("length_m", "sum"))
        .reset_index()
    )


def store(engine: Engine, findings: gpd.GeoDataFrame, *, actor: str, parameters: dict[str, Any]) -> int:
    """Write a check run and its findings (restricted tables) in one transaction."""
    with engine.begin() as conn:
        run_id = int(
            conn.execute(
                text("INSERT INTO pipeline_runs (actor, parameters) VALUES (:a, CAST(:p AS jsonb)) RETURNING id"),
                {"a": actor, "p": json.dumps(parameters, ensure_ascii=False)},
            ).scalar_one()
        )
        if len(findings):
            findings.assign(run_id=run_id).rename_geometry("geom").to_postgis(
                "pipeline_findings", conn, if_exists="append", index=False
            )
    return run_id


def latest_findings(engine: Engine) -> gpd.GeoDataFrame | None:
    """The findings of the newest check run (None when no check has run)."""
    with engine.connect() as conn:
        run = conn.execute(text(LATEST_RUN)).scalar()
        if run is None:
            return None
        gdf = gpd.read_postgis(text(RUN_FINDINGS), conn, geom_col="geom", params={"r": run})
    return gdf.rename_geometry("geometry")
