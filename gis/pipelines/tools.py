"""``ws.pipelines``: the pipeline checks, the overhead lines to bury and the inventory, on a database."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from gis.pipelines import checks, inside, runs
from gis.store.database import Database


class PipelineTools:
    """Pipeline inventory, overhead lines to bury and the GB 50289 checks, on a workspace."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def check(self, *, compound: int | None = None, actor: str = "notebook") -> gpd.GeoDataFrame:
        """Every finding — clearances between buried lines and to buildings (GB 50289 表4.1.9), crossing
        order (4.1.12) where depths are known, lines past their service life — each with the required
        and actual distance, the stretch, and the standard value's source and status. Stored as a run
        (``result.attrs["run_id"]``).

        Examples
        --------
        >>> f = ws.pipelines.check()
        >>> f[f.check == "clearance"][["kind_a", "kind_b", "required_m", "actual_m", "stretch_m", "value_status"]]
        """
        findings = checks.check(self.db, compound=compound)
        run_id = runs.store(self.db.engine, findings, actor=actor, parameters={"compound": compound})
        findings.attrs["run_id"] = run_id
        return findings

    def bury(self, *, compound: int | None = None) -> gpd.GeoDataFrame:
        """Overhead lines inside each compound, with the operator who must bury them and their length.

        ``gis.pipelines.inside.bury_summary(ws.pipelines.bury())`` sums them per compound and operator.

        Examples
        --------
        >>> lines = ws.pipelines.bury(compound=2)
        >>> gis.pipelines.inside.bury_summary(lines)
        """
        return inside.bury(self.db, compound=compound)

    def inventory(self, *, compound: int | None = None) -> pd.DataFrame:
        """Metres of each kind of line inside each compound, buried and overhead.

        Examples
        --------
        >>> ws.pipelines.inventory(compound=2)
        """
        return inside.inventory(self.db, compound=compound)
