"""A folium (Leaflet) map that works with no network: Leaflet's JS and CSS are inlined from the
npm package installed at set-up, the basemap is drawn from the project's own roads and buildings,
and nothing on the page refers to a CDN (checked when the file is written).

``folium.Map`` and ``GeoDataFrame.explore()`` link Leaflet, jQuery and Bootstrap from CDNs; an
intranet PC or a notebook on one shows a blank map. :class:`OfflineMap` replaces those links by
the inlined files.

Size: GeoJSON is written with coordinates rounded to 1e-6° (~0.1 m). Past ``LIGHT_ABOVE``
features in one layer the export switches to a lighter encoding: geometries simplified at 1 m
and rounded to 1e-5° (~1 m), and the building footprints (basemap only) left out.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure

from gis.assets import inline_css, inline_js
from gis.errors import InvalidRequestError, NotFoundError, OutsideReferenceError
from gis.export.context import ExportContext, ExportNeeds
from gis.export.map_elements import Legend, LegendSection, StreetFigures, TextPopup, TextTooltip, Title
from gis.export.progress import overdue_compounds
from gis.export.symbology import TITLE, CodeLabels, code_labels, code_text, color_of, gap_class, symbology
from gis.roles import Role
from gis.standards import status_marker

LIGHT_ABOVE = 2_000
LABELS_UP_TO = 300  # compound names drawn on the map; past this they only show on hover
LABEL_CSS = (
    "<style>.gisplan-label { transform: translate(-50%, -50%); white-space: nowrap; font-size: 13px; color: #3b0f0a;"
    " font-family: 'WenQuanYi Micro Hei','Microsoft YaHei',sans-serif; pointer-events: none;"
    " text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff; }</style>"
)
PROGRESS_TITLE = "老旧小区改造进度图（挂图作战）"
# what the map may draw, bottom to top; the role decides whether pipelines are among them
LAYERS = ("water", "buildings", "roads", "compounds", "facilities", "pipelines")
COMPOUND_FIELDS = ["name", "district", "street", "community", "built_year", "households", "population"]
PIPELINE_FIELDS = ["kind_label", "laying_label", "material", "diameter_mm", "laid_year", "owner"]
Colour = Literal["stage", "gap", "progress"]


@dataclass(frozen=True)
class MapOptions:
    """What the offline map shows.

    Attributes
    ----------
    colour
        ``"stage"``, ``"gap"`` (for ``facility``) or ``"progress"`` (stages, overdue outlined, the
        month's figures per street).
    facility
        A facility type code: the gaps of ``colour="gap"`` and the catchment.
    catchment
        Draw the facility type's walking catchment.
    planner
        Include the restricted pipelines (never for a public audience).
    title
        The title (default: the project's, or the progress map's).
    """

    colour: Colour = "stage"
    facility: str | None = None
    catchment: bool = False
    planner: bool = False
    title: str | None = None

    @property
    def role(self) -> Role:
        return "planner" if self.planner else "public"


def needs(options: MapOptions) -> ExportNeeds:
    """What the map draws: its layers, and the gaps, progress or catchment its options ask for."""
    return ExportNeeds(
        layers=LAYERS,
        gaps=options.colour == "gap",
        progress=options.colour == "progress",
        catchment=options.facility if options.catchment else None,
    )


def default_facility(overview: dict[str, Any]) -> str:
    """The facility type a gap map shows when none is named: the first analysed (``gap_overview``)."""
    if not overview:
        raise NotFoundError("no gap analysis has been run yet: ws.gaps() or gisplan gaps")
    return str(next(iter(overview)))


class OfflineMap(folium.Map):
    """A ``folium.Map`` whose Leaflet is inlined (no CDN) and that loads no other library."""

    default_js = []  # noqa: RUF012  (folium declares these as instance lists)
    default_css = []  # noqa: RUF012

    def render(self, **kwargs: Any) -> Any:
        figure = self.get_root()
        assert isinstance(figure, Figure)
        css = inline_css("leaflet", "dist/leaflet.css")
        js = inline_js("leaflet", "dist/leaflet.js")
        figure.header.add_child(Element(f"<style>{css}</style>\n<script>{js}</script>"), name="leaflet", index=0)
        return super().render(**kwargs)


_EXTERNAL = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


def check_offline(page: str) -> None:
    """Raise :class:`OutsideReferenceError` if the page would load anything from the network."""
    found = _EXTERNAL.search(page)
    if found or re.search(r"url\(\s*['\"]?(?:https?:)?//", page):
        where = found.group(0) if found else "a CSS url()"
        raise OutsideReferenceError(f"the map would load from the network: {where}")


def render_page(fmap: folium.Map) -> str:
    """The whole HTML page, checked to load nothing from the network."""
    page = fmap.get_root().render()
    check_offline(page)
    return page


def save(fmap: folium.Map, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(fmap), encoding="utf-8")
    return path


def _header(fmap: folium.Map) -> Element:
    root = fmap.get_root()
    assert isinstance(root, Figure)
    return root.header


def _light(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    """CRS84 with rounded coordinates; simplified past ``LIGHT_ABOVE`` features. Returns the
    precision (decimal places) used."""
    light = len(gdf) > LIGHT_ABOVE
    out = gdf.copy()
    if light:
        out["geometry"] = out.geometry.simplify(1.0, preserve_topology=True)
    out = out.to_crs(4326)
    digits = 5 if light else 6
    out["geometry"] = shapely.set_precision(np.asarray(out.geometry.values, dtype=object), 10.0**-digits)
    return out[~out.geometry.is_empty], digits


def _records(gdf: gpd.GeoDataFrame, fields: list[str]) -> gpd.GeoDataFrame:
    """Only ``fields`` and geometry, with values JSON can carry (no NaN, no timestamps)."""
    out = gdf[[*[f for f in fields if f in gdf.columns], "geometry"]].copy()
    for col in out.columns:
        if col == "geometry":
            continue
        if out[col].dtype.kind in "fc":
            out[col] = out[col].astype(object).where(out[col].notna(), None)
        elif out[col].dtype.kind in "Mm" or out[col].map(lambda v: isinstance(v, list | tuple)).any():
            out[col] = out[col].map(lambda v: "、".join(map(str, v)) if isinstance(v, list | tuple) else v)
            out[col] = out[col].astype(str).where(out[col].notna(), None)
    return out


def _present(gdf: gpd.GeoDataFrame | None) -> bool:
    return gdf is not None and len(gdf) > 0


def gap_columns(compound_ids: pd.Series, results: pd.DataFrame) -> pd.DataFrame:
    """Per compound: its gap class, the distance text of its popup and the nearest facility.

    ``results`` are one facility type's latest results (``compound_id``, ``distance_m``,
    ``radius_m``, ``covered``, ``nearest_facility_name``, ``radius_status``); a compound without a
    result there (added since the run) is ``unknown`` and "未分析", never coloured from an older run.
    A distance measured against a doubtful radius (weak, superseded, unverified) carries its marker.
    """
    by_id = results.set_index("compound_id")
    classes: list[str] = []
    texts: list[str] = []
    nearest: list[Any] = []
    for fid in compound_ids:
        if fid not in by_id.index:
            classes.append("unknown")
            texts.append("未分析")
            nearest.append(None)
            continue
        r = by_id.loc[fid]
        distance = None if pd.isna(r["distance_m"]) else float(r["distance_m"])
        classes.append(gap_class(distance, bool(r["covered"])))
        status = r.get("radius_status")
        marker = status_marker(None if pd.isna(status) else str(status))
        measured = "无法到达 unreachable" if distance is None else f"{distance:.0f} / {r['radius_m']:g} 米"
        texts.append(measured + marker)
        name = r["nearest_facility_name"]
        nearest.append(None if pd.isna(name) else name)
    index = compound_ids.index
    return pd.DataFrame(
        {
            "gap": pd.Series(classes, index=index, dtype=object),
            "distance": pd.Series(texts, index=index, dtype=object),
            "nearest": pd.Series(nearest, index=index, dtype=object),
        }
    )


def _gap_results(ctx: ExportContext, options: MapOptions) -> pd.DataFrame | None:
    """The latest results of the map's facility type (gap colour only), without geometry."""
    if options.colour != "gap":
        return None
    code = options.facility
    if code is None:
        raise InvalidRequestError("a gap map needs a facility type")
    gaps = ctx.gaps
    results = pd.DataFrame() if gaps is None else pd.DataFrame(gaps[gaps["facility_type"] == code])
    if not len(results):
        raise NotFoundError(f"{code} has not been analysed yet: ws.gaps({code!r}) or gisplan gaps --facility {code}")
    return results.drop(columns="geometry")


def _figures(ctx: ExportContext, options: MapOptions) -> dict[str, Any] | None:
    if options.colour != "progress":
        return None
    if ctx.progress is None:
        raise NotFoundError("no renovation programme yet: gisplan progress import (or ws.programme)")
    return ctx.progress


@dataclass
class _Drawing:
    """One map being drawn: the folium map, the code labels, and the legend and notes gathered on the way."""

    fmap: OfflineMap
    labels: CodeLabels
    sym: dict[str, Any] = field(default_factory=symbology)
    legend: list[LegendSection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def code(self, kind: str, code: Any) -> str:
        return code_text(self.labels, kind, code)

    def outline(self, gdf: gpd.GeoDataFrame, name: str, style: dict[str, Any]) -> None:
        """A non-interactive layer drawn from geometry alone (basemap, catchment)."""
        lite, _ = _light(gdf[["geometry"]])
        folium.GeoJson(
            lite.to_json(drop_id=True), name=name, style_function=lambda _f: style, interactive=False
        ).add_to(self.fmap)

    def basemap(self, layers: dict[str, gpd.GeoDataFrame]) -> None:
        base = self.sym["basemap"]
        water = layers.get("water")
        if water is not None and _present(water):
            w = base["water"]
            self.outline(
                water, "水系 Water", {"fillColor": w["fill"], "color": w["stroke"], "weight": 1.5, "fillOpacity": 1}
            )
        buildings = layers.get("buildings")
        if buildings is not None and _present(buildings):
            if len(buildings) > LIGHT_ABOVE * 5:
                self.notes.append(f"建筑轮廓 {len(buildings):,} 个，未绘入 / building footprints left out")
            else:
                b = base["buildings"]
                style = {"fillColor": b["fill"], "color": b["stroke"], "weight": 0.5, "fillOpacity": 1}
                self.outline(buildings, "建筑 Buildings", style)
        roads = layers.get("roads")
        if roads is not None and _present(roads):
            self.outline(roads, "道路 Roads", {"color": base["roads"]["casing"], "weight": 3, "opacity": 1})

    def catchment(self, area: gpd.GeoDataFrame, facility: str | None) -> None:
        c = self.sym["catchment"]
        folium.GeoJson(
            area.to_crs(4326)[["geometry"]].to_json(drop_id=True),
            # Leaflet's layer control shows names as HTML
            name=html.escape(f"步行生活圈 Walking catchment ({self.code('facility_type', facility)})"),
            style_function=lambda _f: {
                "fillColor": c["fill"],
                "color": c["stroke"],
                "weight": 1,
                "fillOpacity": c["opacity"],
            },
            interactive=False,
        ).add_to(self.fmap)

    def compounds(
        self,
        compounds: gpd.GeoDataFrame,
        aliases: dict[str, str],
        *,
        gaps: pd.DataFrame | None,
        facility: str | None,
        overdue: set[int],
    ) -> None:
        c = compounds.copy()
        c["stage_label"] = c["stage"].map(lambda s: self.code("stage", s) if s else "未列入改造计划")
        fields = [*COMPOUND_FIELDS, "stage_label"]
        names = [aliases.get(f, f) for f in COMPOUND_FIELDS] + ["改造阶段 Stage"]
        if overdue:
            c["overdue_label"] = c["fid"].map(lambda f: "是 yes" if int(f) in overdue else "")
            fields.append("overdue_label")
            names.append("滞后 Overdue")
        if gaps is not None:
            c = c.join(gap_columns(c["fid"], gaps))
            c["fill"] = c["gap"].map(lambda k: self.sym["gap"][k]["color"])
            fields += ["distance", "nearest"]
            names += [f"步行距离/半径 ({self.code('facility_type', facility)})", "最近设施 Nearest"]
            self.legend.append(self.gap_legend(facility))
        else:
            c["fill"] = c["stage"].map(lambda s: color_of("stage", s))
            self.legend.append(self.stage_legend(bool(overdue)))
        c["edge"] = c["fid"].map(lambda f: self.sym["overdue"] if int(f) in overdue else "#5a1a12")
        c["edge_w"] = c["fid"].map(lambda f: 4 if int(f) in overdue else 1)
        # fid rides along (not shown) so a reader of the page can tell which compound each feature is
        light, digits = _light(_records(c, [*fields, "fid", "fill", "edge", "edge_w"]))
        if digits == 5:
            self.notes.append(f"小区 {len(c):,} 个：轻量编码（简化 1 米） / light encoding")
        folium.GeoJson(
            light.to_json(drop_id=True),
            name="小区 Compounds",
            style_function=lambda f: {
                "fillColor": f["properties"]["fill"],
                "color": f["properties"]["edge"],
                "weight": f["properties"]["edge_w"],
                "fillOpacity": 0.7,
            },
            marker=folium.CircleMarker(radius=7, fill=True),
            tooltip=TextTooltip(fields=["name"], aliases=["小区"], labels=False),
            popup=TextPopup(fields=fields, aliases=names, localize=False, max_width=360),
        ).add_to(self.fmap)
        if len(c) <= LABELS_UP_TO:
            self.names(c["name"], light.geometry.representative_point())

    def gap_legend(self, facility: str | None) -> LegendSection:
        gap = self.sym["gap"]
        rows = [(gap[k]["color"], f"{gap[k]['zh']} {gap[k]['en']}", "") for k in gap]
        return (f"小区 · {self.code('facility_type', facility)}", rows)

    def stage_legend(self, overdue: bool) -> LegendSection:
        stage = self.sym["stage"]
        rows = [(stage[k], self.code("stage", k), "") for k in self.labels.get("stage", {})]
        rows.append((stage["none"], "未列入改造计划 Not in programme", ""))
        if overdue:
            rows.append((self.sym["overdue"], "滞后项目（粗边框） Overdue (thick outline)", "line"))
        return ("小区 · 改造阶段 Compounds by stage", rows)

    def names(self, names: pd.Series, points: gpd.GeoSeries) -> None:
        group = folium.FeatureGroup(name="小区名称 Names", show=True)
        for name, point in zip(names, points, strict=False):
            if name:
                folium.Marker(
                    [point.y, point.x],
                    icon=folium.DivIcon(
                        html=f'<div class="gisplan-label">{html.escape(str(name))}</div>', icon_size=(0, 0)
                    ),
                    interactive=False,
                ).add_to(group)
        group.add_to(self.fmap)
        _header(self.fmap).add_child(Element(LABEL_CSS), name="labels")

    def facilities(self, facilities: gpd.GeoDataFrame, aliases: dict[str, str]) -> None:
        f = facilities.copy()
        f["type_label"] = f["type"].map(lambda t: self.code("facility_type", t))
        f["colour"] = f["type"].map(lambda t: color_of("facility_type", t))
        f["geometry"] = f.geometry.representative_point()
        lite, _ = _light(_records(f, ["name", "type_label", "capacity", "address", "colour"]))
        folium.GeoJson(
            lite.to_json(drop_id=True),
            name="公共服务设施 Facilities",
            marker=folium.CircleMarker(radius=6, fill=True),
            style_function=lambda x: {
                "fillColor": x["properties"]["colour"],
                "color": "#ffffff",
                "weight": 1.2,
                "fillOpacity": 1,
            },
            tooltip=TextTooltip(fields=["name", "type_label"], aliases=["名称", "类型"]),
            popup=TextPopup(
                fields=["name", "type_label", "capacity", "address"],
                aliases=[
                    aliases.get("name", "名称"),
                    "类型 Type",
                    aliases.get("capacity", "容量"),
                    aliases.get("address", "地址"),
                ],
            ),
        ).add_to(self.fmap)
        present = f["type"].value_counts().index.tolist()
        rows = [(color_of("facility_type", t), self.code("facility_type", t), "dot") for t in present]
        self.legend.append(("公共服务设施 Facilities", rows))

    def pipelines(self, pipelines: gpd.GeoDataFrame) -> None:
        p = pipelines.copy()
        p["kind_label"] = p["kind"].map(lambda k: self.code("pipeline_kind", k))
        p["laying_label"] = p["laying"].map(lambda k: self.code("laying", k))
        p["colour"] = p["kind"].map(lambda k: color_of("pipeline_kind", k))
        p["dash"] = p["laying"].map(lambda k: "6 4" if k == "overhead" else None)
        lite, _ = _light(_records(p, [*PIPELINE_FIELDS, "colour", "dash"]))
        folium.GeoJson(
            lite.to_json(drop_id=True),
            name="管线（限规划人员） Pipelines (restricted)",
            style_function=lambda x: {
                "color": x["properties"]["colour"],
                "weight": 2,
                "dashArray": x["properties"]["dash"],
            },
            tooltip=TextTooltip(
                fields=["kind_label", "laying_label", "laid_year", "owner"],
                aliases=["类别", "敷设", "敷设年份", "权属单位"],
            ),
            show=False,
        ).add_to(self.fmap)
        kinds = p["kind"].value_counts().index.tolist()
        rows = [(color_of("pipeline_kind", k), self.code("pipeline_kind", k), "line") for k in kinds]
        self.legend.append(("管线（限规划人员） Pipelines", rows))

    def catchment_legend(self, area: gpd.GeoDataFrame, facility: str | None) -> None:
        status = area["radius_status"].iloc[0] if "radius_status" in area.columns else None
        text = f"{self.code('facility_type', facility)} {area['radius_m'].iloc[0]:g} 米{status_marker(status)}"
        self.legend.append(("步行生活圈 Catchment", [(self.sym["catchment"]["fill"], text, "")]))

    def finish(self, title: str, attribution: str, figures: dict[str, Any] | None) -> OfflineMap:
        folium.LayerControl(collapsed=False).add_to(self.fmap)
        Legend(self.legend).add_to(self.fmap)
        if figures:
            StreetFigures(figures).add_to(self.fmap)
        sub = attribution + ("；" + "；".join(self.notes) if self.notes else "")
        Title(title, sub).add_to(self.fmap)
        return self.fmap


def _start(layers: dict[str, gpd.GeoDataFrame]) -> OfflineMap:
    """An empty map framed on the compounds (or the first layer holding anything)."""
    ref = next((g for g in layers.values() if _present(g)), None)
    if ref is None:
        raise InvalidRequestError("nothing to map: every layer is empty")
    compounds = layers.get("compounds")
    bounds = (compounds if compounds is not None and _present(compounds) else ref).to_crs(4326).total_bounds
    # SVG draws crisper and prints better; a canvas keeps thousands of polygons responsive
    big = max((len(g) for g in layers.values() if g is not None), default=0) > LIGHT_ABOVE
    fmap = OfflineMap(tiles=None, control_scale=True, prefer_canvas=big, zoom_control=True)
    fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    background = symbology()["basemap"]["background"]
    _header(fmap).add_child(Element(f"<style>.leaflet-container {{ background: {background}; }}</style>"), name="bg")
    return fmap


def field_aliases(ctx: ExportContext, layer_id: str) -> dict[str, str]:
    """``{field: "中文 English"}`` of a layer, for popups."""
    return {f.id: f"{f.zh} {f.en}" for f in ctx.registry.layer(layer_id).fields}


def build_map(ctx: ExportContext, options: MapOptions) -> OfflineMap:
    """The offline map of the context's layers (working CRS). Pure: no database.

    ``colour="gap"`` colours compounds by the context's latest results of ``options.facility``;
    ``"progress"`` outlines the overdue compounds and adds the month's figures per street.

    Raises
    ------
    NotFoundError
        The facility type was never analysed, or there is no programme (progress).
    """
    gaps = _gap_results(ctx, options)
    figures = _figures(ctx, options)
    overdue = overdue_compounds(figures) if figures else set()
    layers = {lid: g for lid, g in ctx.layers.items() if lid in LAYERS}
    drawing = _Drawing(_start(layers), code_labels(ctx.registry))
    drawing.basemap(layers)
    area = ctx.catchment if options.catchment else None
    if area is not None and _present(area):
        drawing.catchment(area, options.facility)
    compounds = layers.get("compounds")
    if compounds is not None and _present(compounds):
        aliases = field_aliases(ctx, "compounds")
        drawing.compounds(compounds, aliases, gaps=gaps, facility=options.facility, overdue=overdue)
    facilities = layers.get("facilities")
    if facilities is not None and _present(facilities):
        drawing.facilities(facilities, field_aliases(ctx, "facilities"))
    pipelines = layers.get("pipelines")
    if pipelines is not None and _present(pipelines):
        drawing.pipelines(pipelines)
    if area is not None and _present(area):
        drawing.catchment_legend(area, options.facility)
    title = options.title or (PROGRESS_TITLE if figures is not None else TITLE["zh"])
    return drawing.finish(title, ctx.attribution, figures)
