"""What an export draws, gathered once by the workspace and handed down: the export context.

An export never reads the database or receives the workspace; it takes an :class:`ExportContext`
(built by :meth:`gis.workspace.Workspace.export_context`) holding only what the caller's role may
see. Each export module says what it needs (``NEEDS``) so the workspace reads nothing more.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from gis.evidence.service import PhotoPair
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
    evidence
        The before/after photo pairs (the public's: published ones) and the passed acceptances (公示).
    """

    layers: tuple[str, ...] | None = None
    gaps: bool = True
    findings: bool = False
    pipelines: bool = False
    progress: bool = False
    catchment: str | None = None
    evidence: bool = False


@dataclass(frozen=True)
class ExportContext:
    """The data an export draws, already filtered by the role (frames in the working CRS).

    ``gaps``, ``findings``, ``pipeline_inventory``, ``overhead_lines``, ``progress`` and
    ``catchment`` are None when the export did not ask for them (or the role may not see them).
    ``as_of``: the instant the layers and the programme were rebuilt at (None: now); ``left_out``
    names what was asked for but cannot be rebuilt as of it (layers without row history, results).
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
    as_of: datetime | None = None
    left_out: tuple[str, ...] = ()
    pairs: list[PhotoPair] | None = None
    acceptance: pd.DataFrame | None = None

    @property
    def restricted(self) -> bool:
        """Whether the export may hold restricted content (a planner's or admin's)."""
        return self.role != "public"

    def layer(self, layer_id: str) -> gpd.GeoDataFrame | None:
        """A layer's frame, or None when the export did not read it (or the role may not see it)."""
        return self.layers.get(layer_id)


def as_of_needs(
    needs: ExportNeeds, wanted: list[str], rebuilt: Collection[str]
) -> tuple[ExportNeeds, list[str], tuple[str, ...]]:
    """What an export as of a past instant can draw: ``needs`` without the stored results (gap runs,
    pipeline findings, the pipeline inventory and a catchment are computed from the layers of now),
    the layers of ``wanted`` that can be ``rebuilt`` from the audit, and the names of what is left out.

    Examples
    --------
    >>> as_of_needs(ExportNeeds(), ["compounds", "roads"], ["compounds"])[1:]
    (['compounds'], ('roads', 'gaps'))
    """
    kept = [i for i in wanted if i in rebuilt]
    asked = {"gaps": needs.gaps, "findings": needs.findings, "pipeline_inventory": needs.pipelines}
    results = [name for name, on in asked.items() if on] + (["catchment"] if needs.catchment else [])
    stripped = dataclasses.replace(needs, gaps=False, findings=False, pipelines=False, catchment=None)
    return stripped, kept, (*[i for i in wanted if i not in kept], *results)
