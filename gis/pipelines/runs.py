"""The store of pipeline check runs (``pipeline_runs``, ``pipeline_findings``; restricted): their one owner."""

from __future__ import annotations

import json
from typing import Any

import geopandas as gpd
from sqlalchemy import Engine, text

INSERT_RUN = "INSERT INTO pipeline_runs (actor, parameters) VALUES (:a, CAST(:p AS jsonb)) RETURNING id"
LAST_RUN = "SELECT max(id) FROM pipeline_runs"
RUN_FINDINGS = "SELECT * FROM pipeline_findings WHERE run_id = :r ORDER BY id"


def store(engine: Engine, findings: gpd.GeoDataFrame, *, actor: str, parameters: dict[str, Any]) -> int:
    """Write a check run and its findings (restricted tables) in one transaction."""
    with engine.begin() as conn:
        run_id = int(
            conn.execute(
                text(INSERT_RUN),
                {"a": actor, "p": json.dumps(parameters, ensure_ascii=False)},
            ).scalar_one()
        )
        if len(findings):
            findings.assign(run_id=run_id).rename_geometry("geom").to_postgis(
                "pipeline_findings", conn, if_exists="append", index=False
            )
    return run_id


def latest_findings(engine: Engine) -> gpd.GeoDataFrame | None:
    """The findings of the newest check run (None before the first)."""
    with engine.connect() as conn:
        run = conn.execute(text(LAST_RUN)).scalar()
        if run is None:
            return None
        gdf = gpd.read_postgis(text(RUN_FINDINGS), conn, geom_col="geom", params={"r": run})
    return gdf.rename_geometry("geometry")
