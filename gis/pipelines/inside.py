"""Lines inside compounds: the inventory per compound and the overhead lines to bury (管线规整入地)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from sqlalchemy import text

from gis.registry import registry
from gis.store.database import Database

INSIDE_SQL = """
SELECT c.fid AS compound_id, c.name AS compound_name, p.fid, p.kind, p.laying, p.operator, p.owner,
    ST_Length(ST_Intersection(p.geom, c.geom)) AS length_m, ST_Intersection(p.geom, c.geom) AS geom
FROM compounds c JOIN pipelines p ON ST_Intersects(c.geom, p.geom)
WHERE GeometryType(c.geom) = 'MULTIPOLYGON'
  AND (CAST(:compound AS bigint) IS NULL OR c.fid = CAST(:compound AS bigint))
"""


def bury(db: Database, *, compound: int | None = None) -> gpd.GeoDataFrame:
    """Overhead lines inside each compound, per line, with who must bury them (管线规整入地).

    ``operator`` is the telecom operator (电信/移动/联通/广电) for TX lines; for power lines the
    owner (the power company).
    """
    crs = db.require_schema()
    with db.engine.connect() as conn:
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


def inventory(db: Database, *, compound: int | None = None) -> pd.DataFrame:
    """Per compound, kind and laying: metres of line inside (lines crossing the boundary count for
    their part inside)."""
    db.require_schema()
    with db.engine.connect() as conn:
        inside = pd.read_sql(text(INSIDE_SQL), conn, params={"compound": compound})
    return (
        inside.groupby(["compound_id", "compound_name", "kind", "laying"], dropna=False)
        .agg(lines=("fid", "nunique"), length_m=("length_m", "sum"))
        .reset_index()
    )
