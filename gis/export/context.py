"""What an export draws, gathered once by the workspace and handed down: the export context.

An export never reads the database or receives the workspace; it takes an :class:`ExportContext`
(built by :meth:`gis.workspace.Workspace.export_context`) holding only what the caller's role may
see. Each export module says what it needs (``NEEDS``) so the workspace reads nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from gis.registry import Registry
from gis.roles import Role


@dataclass(frozen=True)
class ExportNeeds:
    """What an export draws, so the workspace gathers only that.

    Attributes
    ----------
    layers
        The layer ids to read (None: every layer the role may see); a layer the role may not see
        is never read.
    gaps
        The latest gap results (:func:`gis.gaps.runs.latest_results`).
    findings
        The latest pipeline findings (planners only).
    pipelines
        Per compound, the pipeline inventory and the overhead lines to bury (planners only).
    progress
        The programme's progress overview (:func:`gis.export.progress.progress_overview`).
    catchment
        The facility type whose walking catchment is drawn.
    """

    layers: tuple[str, ...] | None = None
    gaps: bool = True
    findings: bool = False
    pipelines: bool = False
    progress: bool = False
    catchment: str | None = None


@dataclass(frozen=True)
class ExportContext:
    """The data an export draws, already filtered by the role (frames in the working CRS).

    ``gaps``, ``findings``, ``pipeline_inventory``, ``overhead_lines``, ``progress`` and
    ``catchment`` are None when the export did not ask for them (or the role may not see them).
    """

    registry: Registry
    role: Role
    working_crs: CRS
    layers: Mapping[str, gpd.GeoDataFrame]
    attribution: str
    today: date
    gaps: gpd.GeoDataFrame | None = None
    findings: gpd.GeoDataFrame | None = None
    pipeline_inventory: pd.DataFrame | None = None
    overhead_lines: gpd.GeoDataFrame | None = None
    progress: dict[str, Any] | None = None
    catchment: gpd.GeoDataFrame | None = None

    @property
    def restricted(self) -> bool:
        """Whether the export may hold restricted content (a planner's or admin's)."""
        return self.role != "public"

    def layer(self, layer_id: str) -> gpd.GeoDataFrame | None:
        """A layer's frame, or None when the export did not read it (or the role may not see it)."""
        return self.layers.get(layer_id)
