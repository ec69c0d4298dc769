"""What a map shows, shared by the web map, the folium export and the GeoPackage styles.

Symbology is data (``layers/styles/symbology.yaml``); this module turns it, the layer registry and the
stored results into plain dictionaries: the web map's configuration for a role, and the latest
gap results per compound for a facility type. Nothing here knows HTTP.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import Engine, text

from gis.gaps.runs import gap_overview
from gis.registry import Registry
from gis.roles import Role, visible_fields, visible_layers

TITLE = {"zh": "老旧小区改造空间规划", "en": "Old residential compound renovation planning"}
# Code lists whose labels a map needs (legends, popups).
MAP_CODE_LISTS = ("stage", "facility_type", "property_mgmt", "renovation_category", "pipeline_kind", "laying")


@cache
def symbology() -> dict[str, Any]:
    """The colours of ``layers/styles/symbology.yaml``."""
    data: dict[str, Any] = yaml.safe_load(
        resources.files("layers").joinpath("styles", "symbology.yaml").read_text("utf-8")
    )
    return data


def color_of(kind: str, code: str | None) -> str:
    """The colour of a code in one of the symbology's tables (``stage``, ``facility_type`` ...)."""
    table: dict[str, str] = symbology()[kind]
    return table.get(code or "", table.get("other") or table.get("none") or "#525252")


def code_labels(registry: Registry) -> dict[str, dict[str, dict[str, str]]]:
    """``{list: {code: {"zh": ..., "en": ...}}}`` for the code lists a map shows."""
    return {
        name: {c.id: {"zh": c.zh, "en": c.en} for c in registry.code_list(name).codes}
        for name in MAP_CODE_LISTS
        if name in registry.codes
    }


def layer_extent_lonlat(engine: Engine, table: str) -> list[float] | None:
    """A table's extent in longitude/latitude (CRS84), or None when it is empty."""
    query = text(
        f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Transform(ST_SetSRID("
        f"ST_Extent(geom)::geometry, Find_SRID('public', :t, 'geom')), 4326) AS e FROM {table}) s"
    )
    with engine.connect() as conn:
        row = conn.execute(query, {"t": table}).one()
    return None if row[0] is None else [round(float(v), 6) for v in row]


def map_config(
    engine: Engine,
    registry: Registry,
    role: Role,
    *,
    basemap_url: str | None = None,
    basemap_attribution: str | None = None,
    attribution: str,
) -> dict[str, Any]:
    """The web map's configuration for a role: only the layers and fields the role may see.

    A public caller's configuration names no restricted layer, so the page never asks for one.
    """
    layers = []
    for layer in visible_layers(registry, role):
        fields = visible_fields(layer, role)
        defs = {f.id: f for f in layer.fields}
        layers.append(
            {
                "id": layer.id,
                "label": {"zh": layer.label.zh, "en": layer.label.en},
                "geometry": layer.geometry,
                "restricted": layer.restricted,
                "style": layer.style,
                "fields": [
                    {"id": f, "zh": defs[f].zh, "en": defs[f].en, "codes": defs[f].codes} for f in fields if f in defs
                ],
                "tiles": f"/ogc/collections/{layer.id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}",
            }
        )
    bounds = None
    for table in ("compounds", "roads", "facilities"):
        bounds = layer_extent_lonlat(engine, table)
        if bounds:
            break
    return {
        "title": TITLE,
        "role": role,
        "bounds": bounds,
        "attribution": attribution,
        "basemap": {"tiles": basemap_url, "attribution": basemap_attribution} if basemap_url else None,
        "layers": layers,
        "codes": code_labels(registry),
        "symbology": symbology(),
        "gaps": gap_overview(engine),
        "facility_counts": facility_counts(engine),
    }


def facility_counts(engine: Engine) -> dict[str, int]:
    """Facilities per type (the legend lists the types present)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT type, count(*) FROM facilities GROUP BY type ORDER BY count(*) DESC")).all()
    return {str(r[0]): int(r[1]) for r in rows if r[0]}


def gap_class(distance_m: float | None, covered: bool | None) -> str:
    """``covered`` / ``uncovered`` / ``unreachable`` / ``unknown`` (the symbology's gap classes)."""
    if covered is None:
        return "unknown"
    if covered:
        return "covered"
    return "unreachable" if distance_m is None else "uncovered"


def progress_overview(ws: Any, on: Any = None) -> dict[str, Any] | None:
    """For the progress map (挂图作战): per compound of the latest programme year, its stage and
    whether it is overdue; per street, this month's figures. None when there is no programme."""
    status = ws.programme.status(on=on)
    if not len(status):
        return None
    month = (on or date.today()).strftime("%Y-%m")
    report = ws.report_month(month, today=on, live=True)
    streets = report.by_street.copy()
    return {
        "year": int(status["year"].iloc[0]),
        "month": month,
        "compounds": {
            str(int(r.compound_id)): {
                "stage": r.stage,
                "overdue": bool(r.overdue),
                "days_behind": int(r.days_behind or 0),
                "due_stage": r.due_stage_zh if r.overdue else None,
            }
            for r in status.itertuples()
        },
        "streets": [
            {
                "district": r.district,
                "street": r.street,
                "projects": int(r.projects),
                "started": int(r.started),
                "finished": int(r.finished),
                "overdue": int(r.overdue),
                "investment_planned": float(r.investment_planned),
                "investment_spent": float(r.investment_spent),
            }
            for r in streets.itertuples()
        ],
    }
