"""All layers and the latest results in one GeoPackage, styled for QGIS.

A public export holds only the public layers and fields (as the API serves them); the planner's
adds the restricted layers (pipelines) and their findings. Layers keep their ids as table names
and their field ids as column names (Chinese names as QGIS aliases); multi-valued code fields
are written comma-separated, the ``extra`` attributes as JSON text. A layer whose features mix
points and areas is written as two tables (``compounds`` and ``compounds_points``), since a
GeoPackage table holds one kind of geometry for QGIS to style.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gis.errors import NotFoundError
from gis.export import qml
from gis.export.context import ExportContext, ExportNeeds
from gis.export.symbology import code_labels, gap_class, symbology
from gis.roles import visible_fields, visible_layers

# every layer the role sees, the latest gap results and (planners) the latest pipeline findings
NEEDS = ExportNeeds(layers=None, gaps=True, findings=True)
GAP_ALIASES = {
    "compound_name": "小区名称",
    "facility_type": "设施类型",
    "distance_m": "步行距离(m)",
    "radius_m": "服务半径(m)",
    "radius_status": "半径依据状态",
    "covered": "满足",
    "gap": "缺口分类",
    "affected": "受影响需求",
    "nearest_facility_name": "最近设施",
}
FINDING_ALIASES = {"rule": "规则", "required_m": "标准净距(m)", "actual_m": "实际(m)", "value_status": "净距依据状态"}
SYSTEM_ALIASES = {
    "fid": "编号 ID",
    "source": "数据来源 Source",
    "synthetic": "示例合成字段 Synthetic fields",
    "extra": "其他属性 Other attributes",
}

FAMILY = {"Point": "points", "MultiPoint": "points", "LineString": "lines", "MultiLineString": "lines"}
KIND: dict[str, qml.Kind] = {"points": "marker", "lines": "line", "areas": "fill"}


def _family(geom_type: str | None) -> str:
    return FAMILY.get(geom_type or "", "areas")


def _flatten(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Values a GeoPackage column can hold: lists joined by commas, dicts as JSON."""
    out = gdf.copy()
    for col in out.columns:
        if col == "geometry" or out[col].dtype.kind not in "O":
            continue
        if out[col].map(lambda v: isinstance(v, list | tuple)).any():
            out[col] = out[col].map(lambda v: ",".join(map(str, v)) if isinstance(v, list | tuple) else v)
        elif out[col].map(lambda v: isinstance(v, dict)).any():
            out[col] = out[col].map(lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v)
    return out


def _split(name: str, gdf: gpd.GeoDataFrame) -> dict[str, tuple[str, gpd.GeoDataFrame]]:
    """``{table: (family, rows)}``: one table per geometry family, the largest keeping the name."""
    fam = gdf.geometry.geom_type.map(_family)
    counts = fam.value_counts()
    if not len(counts):
        return {}
    out = {}
    for family in counts.index:
        table = name if family == counts.index[0] else f"{name}_{family}"
        out[table] = (str(family), gdf[fam == family])
    return out


def _style(layer_id: str, family: str, aliases: dict[str, str], registry_codes: dict[str, Any]) -> str:
    sym = symbology()
    kind = KIND[family]

    def cats(code_list: str, table: str) -> list[tuple[str, str, str]]:
        return [
            (code, f"{lab['zh']} {lab['en']}", sym[table].get(code, sym[table].get("other", "#525252")))
            for code, lab in registry_codes.get(code_list, {}).items()
            if code in sym[table]
        ]

    if layer_id == "compounds":
        renderer = qml.categorized(
            kind, "stage", cats("stage", "stage"), fallback=("未列入改造计划 Not in programme", sym["stage"]["none"])
        )
        return qml.qml(renderer, aliases=aliases, label_field="name")
    if layer_id == "facilities":
        other = ("其他 Other", sym["facility_type"]["other"])
        renderer = qml.categorized(kind, "type", cats("facility_type", "facility_type"), fallback=other)
        return qml.qml(renderer, aliases=aliases, label_field=None)
    if layer_id == "pipelines":
        renderer = qml.categorized(
            kind, "kind", cats("pipeline_kind", "pipeline_kind"), fallback=("其他 Other", sym["pipeline_kind"]["other"])
        )
        return qml.qml(renderer, aliases=aliases)
    if layer_id == "gaps":
        rows = [(k, f"{v['zh']} {v['en']}", v["color"]) for k, v in sym["gap"].items() if k != "unknown"]
        return qml.qml(qml.categorized(kind, "gap", rows), aliases=aliases, label_field="compound_name")
    if layer_id == "roads":
        return qml.qml(qml.single("line", sym["basemap"]["roads"]["casing"]), aliases=aliases)
    if layer_id == "water":
        w = sym["basemap"]["water"]
        colour = w["fill"] if kind == "fill" else w["stroke"]
        return qml.qml(qml.single(kind, colour, outline=w["stroke"]), aliases=aliases)
    if layer_id == "buildings":
        b = sym["basemap"]["buildings"]
        return qml.qml(qml.single("fill", b["fill"], outline=b["stroke"]), aliases=aliases)
    return qml.qml(qml.single(kind, "#e7298a", outline="#e7298a"), aliases=aliases)


def with_gap_class(results: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The latest results with a ``gap`` class column (the symbology's classes)."""
    out = results.copy()
    out["gap"] = [
        gap_class(None if pd.isna(d) else d, c) for d, c in zip(out["distance_m"], out["covered"], strict=True)
    ]
    return out


def export_gpkg(ctx: ExportContext, path: Path) -> dict[str, int]:
    """Write the GeoPackage (replacing the file) for the context's role; returns the rows per table.

    Build the context with :data:`NEEDS` (``ws.export_context(role, gpkg.NEEDS)``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    codes = code_labels(ctx.registry)
    written: dict[str, int] = {}
    styles: dict[str, str] = {}

    def put(layer_id: str, gdf: gpd.GeoDataFrame, aliases: dict[str, str]) -> None:
        gdf = _flatten(gdf[~gdf.geometry.isna()])
        for table, (family, rows) in _split(layer_id, gdf).items():
            # GeoPackage 1.2: what the GDAL of Debian 12 (QGIS 3.22) reads without a warning
            rows.to_file(path, layer=table, driver="GPKG", engine="pyogrio", dataset_options={"VERSION": "1.2"})
            written[table] = len(rows)
            styles[table] = _style(
                layer_id, family, {c: aliases.get(c, c) for c in rows.columns if c != "geometry"}, codes
            )

    for layer in visible_layers(ctx.registry, ctx.role):
        gdf = ctx.layer(layer.id)
        if gdf is None:
            continue
        provenance = ["source", "extra"] if ctx.restricted else []  # for planners only
        keep = ["fid", *visible_fields(layer, ctx.role), *provenance]
        aliases = {f.id: f"{f.zh} {f.en}" for f in layer.fields} | SYSTEM_ALIASES
        columns = list(dict.fromkeys(c for c in keep if c in gdf.columns))
        put(layer.id, gdf[[*columns, "geometry"]], aliases)
    if ctx.gaps is not None and len(ctx.gaps):
        put("gaps", with_gap_class(ctx.gaps), GAP_ALIASES)
    if ctx.restricted and ctx.findings is not None and len(ctx.findings):
        put("pipeline_findings", ctx.findings, FINDING_ALIASES)
    if not written:  # a GeoPackage holds at least one table: say so rather than write a broken file
        when = f" as of {ctx.as_of:%Y-%m-%d %H:%M %Z}" if ctx.as_of else ""
        raise NotFoundError(f"nothing to export{when}: every layer the export reads is empty")
    qml.write_styles(path, styles)
    return written
