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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from jinja2 import Template

from gis.assets import inline_css, inline_js
from gis.errors import InvalidRequestError, NotFoundError
from gis.export import maps
from gis.gaps import runs
from gis.gaps.runs import latest_results

if TYPE_CHECKING:
    from gis.workspace import Workspace

LIGHT_ABOVE = 2_000
LABELS_UP_TO = 300  # compound names drawn on the map; past this they only show on hover
LABEL_CSS = (
    "<style>.gisplan-label { transform: translate(-50%, -50%); white-space: nowrap; font-size: 13px; color: #3b0f0a;"
    " font-family: 'WenQuanYi Micro Hei','Microsoft YaHei',sans-serif; pointer-events: none;"
    " text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff; }</style>"
)
Colour = Literal["stage", "gap", "progress"]


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


class OutsideReference(RuntimeError):
    """The rendered page still refers to something on the network (a bug: it would not work offline)."""


_EXTERNAL = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


def check_offline(page: str) -> None:
    """Raise if the page would load anything from the network (scripts, styles, images, frames)."""
    found = _EXTERNAL.search(page)
    if found or re.search(r"url\(\s*['\"]?(?:https?:)?//", page):
        where = found.group(0) if found else "a CSS url()"
        raise OutsideReference(f"the map would load from the network: {where}")


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


class Legend(MacroElement):
    """A fixed legend box (HTML), in Chinese with English beneath."""

    _template = Template("""
        {% macro html(this, kwargs) %}
        <div class="gisplan-legend" style="position: fixed; bottom: 28px; right: 10px; z-index: 9999;
             background: rgba(255,255,255,.93); border: 1px solid #999; border-radius: 4px; padding: 8px 10px;
             font-size: 13px; max-height: 70%; overflow-y: auto;
             font-family: 'WenQuanYi Micro Hei','Microsoft YaHei',sans-serif;">
        {{ this.body }}
        </div>
        {% endmacro %}
    """)

    def __init__(self, sections: list[tuple[str, list[tuple[str, str, str]]]]) -> None:
        super().__init__()
        self._name = "Legend"
        parts = []
        for title, rows in sections:
            parts.append(f'<div style="font-weight:bold;margin:4px 0 2px">{html.escape(title)}</div>')
            for colour, text, shape in rows:
                radius = "50%" if shape == "dot" else "0"
                height = "3px" if shape == "line" else "11px"
                swatch = (
                    f"display:inline-block;width:14px;height:{height};border-radius:{radius};"
                    f"background:{colour};border:1px solid rgba(0,0,0,.3)"
                )
                parts.append(
                    '<div style="display:flex;align-items:center;gap:6px;margin:1px 0">'
                    f'<span style="{swatch}"></span>{html.escape(text)}</div>'
                )
        self.body = "\n".join(parts)


class StreetFigures(MacroElement):
    """The month's programme figures per street (挂图作战), a fixed table on the map."""

    _template = Template("""
        {% macro html(this, kwargs) %}
        <div class="gisplan-figures" style="position: fixed; top: 74px; left: 60px; z-index: 9999;
             background: rgba(255,255,255,.94); border: 1px solid #999; border-radius: 4px; padding: 6px 8px;
             font-size: 12px; font-family: 'WenQuanYi Micro Hei','Microsoft YaHei',sans-serif;">
        {{ this.body }}</div>
        {% endmacro %}
    """)

    def __init__(self, figures: dict[str, Any]) -> None:
        super().__init__()
        self._name = "StreetFigures"
        head = "".join(f'<th style="padding:1px 5px">{h}</th>' for h in ("街道", "项目", "已开工", "已完工", "滞后"))
        rows = []
        for s in figures["streets"]:
            late = ' style="color:#d73027;font-weight:bold"' if s["overdue"] else ""
            cells = (s["projects"], s["started"], s["finished"])
            rows.append(
                f"<tr><td>{html.escape(str(s['street']))}</td>"
                + "".join(f'<td style="text-align:right">{v}</td>' for v in cells)
                + f'<td style="text-align:right"{late}>{s["overdue"]}</td></tr>'
            )
        title = f"{figures['year']} 年度改造进度（{figures['month']}）"
        self.body = f"<b>{html.escape(title)}</b><table>{'<tr>' + head + '</tr>'}{''.join(rows)}</table>"


class Title(MacroElement):
    _template = Template("""
        {% macro html(this, kwargs) %}
        <div class="gisplan-title" style="position: fixed; top: 10px; left: 60px; z-index: 9999;
             background: rgba(140,28,19,.92); color: #fff; padding: 6px 12px; border-radius: 4px; font-size: 17px;
             font-family: 'WenQuanYi Micro Hei','Microsoft YaHei',sans-serif;">
        {{ this.text }}<div style="font-size: 12px; opacity: .9">{{ this.sub }}</div></div>
        {% endmacro %}
    """)

    def __init__(self, text: str, sub: str) -> None:
        super().__init__()
        self._name = "Title"
        self.text = html.escape(text)
        self.sub = html.escape(sub)


def build_map(
    layers: dict[str, gpd.GeoDataFrame],
    *,
    labels: dict[str, Any],
    field_labels: dict[str, dict[str, str]],
    colour: Colour = "stage",
    gaps: pd.DataFrame | None = None,
    facility: str | None = None,
    catchment: gpd.GeoDataFrame | None = None,
    overdue: set[int] | None = None,
    figures: dict[str, Any] | None = None,
    title: str | None = None,
    attribution: str = "",
) -> OfflineMap:
    """The offline map from layers already read (working CRS). Pure: no database.

    ``gaps`` (compound_id, distance_m, radius_m, covered, nearest_facility_name) colours compounds
    by gap for ``facility`` when ``colour == "gap"``; ``overdue`` outlines those compounds;
    ``figures`` (:func:`gis.export.maps.progress_overview`) adds the month's figures per street.
    """
    sym = maps.symbology()
    codes = labels
    compounds = layers.get("compounds")
    ref = next((g for g in layers.values() if g is not None and len(g)), None)
    if ref is None:
        raise InvalidRequestError("nothing to map: every layer is empty")
    bounds = (compounds if compounds is not None and len(compounds) else ref).to_crs(4326).total_bounds
    # SVG draws crisper and prints better; a canvas keeps thousands of polygons responsive
    big = max((len(g) for g in layers.values() if g is not None), default=0) > LIGHT_ABOVE
    fmap = OfflineMap(tiles=None, control_scale=True, prefer_canvas=big, zoom_control=True)
    fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    _header(fmap).add_child(
        Element(f"<style>.leaflet-container {{ background: {sym['basemap']['background']}; }}</style>"), name="bg"
    )
    notes: list[str] = []

    def code_zh(kind: str, code: Any) -> str:
        entry = codes.get(kind, {}).get(str(code)) if code is not None else None
        return f"{entry['zh']} {entry['en']}" if entry else ("—" if code is None else str(code))

    water = layers.get("water")
    if water is not None and len(water):
        wl, _ = _light(water[["geometry"]])
        colours = sym["basemap"]["water"]
        folium.GeoJson(
            wl.to_json(drop_id=True),
            name="水系 Water",
            style_function=lambda _f: {
                "fillColor": colours["fill"],
                "color": colours["stroke"],
                "weight": 1.5,
                "fillOpacity": 1,
            },
            interactive=False,
        ).add_to(fmap)
    buildings = layers.get("buildings")
    if buildings is not None and len(buildings):
        if len(buildings) > LIGHT_ABOVE * 5:
            notes.append(f"建筑轮廓 {len(buildings):,} 个，未绘入 / building footprints left out")
        else:
            b, _ = _light(buildings[["geometry"]])
            folium.GeoJson(
                b.to_json(drop_id=True),
                name="建筑 Buildings",
                style_function=lambda _f: {
                    "fillColor": sym["basemap"]["buildings"]["fill"],
                    "color": sym["basemap"]["buildings"]["stroke"],
                    "weight": 0.5,
                    "fillOpacity": 1,
                },
                interactive=False,
            ).add_to(fmap)
    roads = layers.get("roads")
    if roads is not None and len(roads):
        r, _ = _light(roads[["geometry"]])
        casing = sym["basemap"]["roads"]["casing"]
        folium.GeoJson(
            r.to_json(drop_id=True),
            name="道路 Roads",
            style_function=lambda _f: {"color": casing, "weight": 3, "opacity": 1},
            interactive=False,
        ).add_to(fmap)
    if catchment is not None and len(catchment):
        c = catchment.to_crs(4326)
        folium.GeoJson(
            c[["geometry"]].to_json(drop_id=True),
            name=f"步行生活圈 Walking catchment ({code_zh('facility_type', facility)})",
            style_function=lambda _f: {
                "fillColor": sym["catchment"]["fill"],
                "color": sym["catchment"]["stroke"],
                "weight": 1,
                "fillOpacity": sym["catchment"]["opacity"],
            },
            interactive=False,
        ).add_to(fmap)

    legend: list[tuple[str, list[tuple[str, str, str]]]] = []
    if compounds is not None and len(compounds):
        cf = field_labels["compounds"]
        c = compounds.copy()
        c["stage_label"] = c["stage"].map(lambda s: code_zh("stage", s) if s else "未列入改造计划")
        c["mgmt_label"] = c["property_mgmt"].map(lambda s: code_zh("property_mgmt", s) if s else None)
        fields = ["name", "district", "street", "community", "built_year", "households", "population", "stage_label"]
        aliases = [cf.get(f, f) for f in fields[:-1]] + ["改造阶段 Stage"]
        if overdue:
            c["overdue_label"] = c["fid"].map(lambda f: "是 yes" if int(f) in overdue else "")
            fields.append("overdue_label")
            aliases.append("滞后 Overdue")
        if colour == "gap" and gaps is not None and facility:
            g = gaps[gaps["facility_type"] == facility].set_index("compound_id")
            c["gap"] = c["fid"].map(
                lambda f: maps.gap_class(
                    None if pd.isna(g["distance_m"].get(f, np.nan)) else float(g["distance_m"][f]),
                    bool(g["covered"][f]) if f in g.index else None,
                )
            )
            c["distance"] = c["fid"].map(
                lambda f: (
                    f"{g['distance_m'][f]:.0f} / {g['radius_m'][f]:g} 米"
                    if f in g.index and pd.notna(g["distance_m"][f])
                    else ("无法到达 unreachable" if f in g.index else "未分析")
                )
            )
            c["nearest"] = c["fid"].map(lambda f: g["nearest_facility_name"].get(f) if f in g.index else None)
            c["fill"] = c["gap"].map(lambda k: sym["gap"][k]["color"])
            fields += ["distance", "nearest"]
            aliases += [f"步行距离/半径 ({code_zh('facility_type', facility)})", "最近设施 Nearest"]
            legend.append(
                (
                    f"小区 · {code_zh('facility_type', facility)}",
                    [(sym["gap"][k]["color"], f"{sym['gap'][k]['zh']} {sym['gap'][k]['en']}", "") for k in sym["gap"]],
                )
            )
        else:
            c["fill"] = c["stage"].map(lambda s: maps.color_of("stage", s))
            rows = [(sym["stage"][k], code_zh("stage", k), "") for k in codes.get("stage", {})]
            rows.append((sym["stage"]["none"], "未列入改造计划 Not in programme", ""))
            if overdue:
                rows.append((sym["overdue"], "滞后项目（粗边框） Overdue (thick outline)", "line"))
            legend.append(("小区 · 改造阶段 Compounds by stage", rows))
        c["edge"] = c["fid"].map(lambda f: sym["overdue"] if overdue and int(f) in overdue else "#5a1a12")
        c["edge_w"] = c["fid"].map(lambda f: 4 if overdue and int(f) in overdue else 1)
        light, digits = _light(_records(c, [*fields, "fill", "edge", "edge_w"]))
        if digits == 5:
            notes.append(f"小区 {len(c):,} 个：轻量编码（简化 1 米） / light encoding")
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
            tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=["小区"], labels=False),
            popup=folium.GeoJsonPopup(fields=fields, aliases=aliases, localize=False, max_width=360),
        ).add_to(fmap)

        if len(c) <= LABELS_UP_TO:
            names = folium.FeatureGroup(name="小区名称 Names", show=True)
            for name, point in zip(c["name"], light.geometry.representative_point(), strict=False):
                if name:
                    folium.Marker(
                        [point.y, point.x],
                        icon=folium.DivIcon(
                            html=f'<div class="gisplan-label">{html.escape(str(name))}</div>',
                            icon_size=(0, 0),
                        ),
                        interactive=False,
                    ).add_to(names)
            names.add_to(fmap)
            _header(fmap).add_child(Element(LABEL_CSS), name="labels")

    facilities = layers.get("facilities")
    if facilities is not None and len(facilities):
        f = facilities.copy()
        f["type_label"] = f["type"].map(lambda t: code_zh("facility_type", t))
        f["colour"] = f["type"].map(lambda t: maps.color_of("facility_type", t))
        ff = field_labels["facilities"]
        f["geometry"] = f.geometry.representative_point()
        fl, _ = _light(_records(f, ["name", "type_label", "capacity", "address", "colour"]))
        folium.GeoJson(
            fl.to_json(drop_id=True),
            name="公共服务设施 Facilities",
            marker=folium.CircleMarker(radius=6, fill=True),
            style_function=lambda x: {
                "fillColor": x["properties"]["colour"],
                "color": "#ffffff",
                "weight": 1.2,
                "fillOpacity": 1,
            },
            tooltip=folium.GeoJsonTooltip(fields=["name", "type_label"], aliases=["名称", "类型"]),
            popup=folium.GeoJsonPopup(
                fields=["name", "type_label", "capacity", "address"],
                aliases=[ff.get("name", "名称"), "类型 Type", ff.get("capacity", "容量"), ff.get("address", "地址")],
            ),
        ).add_to(fmap)
        present = f["type"].value_counts().index.tolist()
        legend.append(
            (
                "公共服务设施 Facilities",
                [(maps.color_of("facility_type", t), code_zh("facility_type", t), "dot") for t in present],
            )
        )
    pipelines = layers.get("pipelines")
    if pipelines is not None and len(pipelines):
        p = pipelines.copy()
        p["kind_label"] = p["kind"].map(lambda k: code_zh("pipeline_kind", k))
        p["laying_label"] = p["laying"].map(lambda k: code_zh("laying", k))
        p["colour"] = p["kind"].map(lambda k: maps.color_of("pipeline_kind", k))
        p["dash"] = p["laying"].map(lambda k: "6 4" if k == "overhead" else None)
        pl, _ = _light(
            _records(
                p, ["kind_label", "laying_label", "material", "diameter_mm", "laid_year", "owner", "colour", "dash"]
            )
        )
        folium.GeoJson(
            pl.to_json(drop_id=True),
            name="管线（限规划人员） Pipelines (restricted)",
            style_function=lambda x: {
                "color": x["properties"]["colour"],
                "weight": 2,
                "dashArray": x["properties"]["dash"],
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["kind_label", "laying_label", "laid_year", "owner"],
                aliases=["类别", "敷设", "敷设年份", "权属单位"],
            ),
            show=False,
        ).add_to(fmap)
        kinds = p["kind"].value_counts().index.tolist()
        legend.append(
            (
                "管线（限规划人员） Pipelines",
                [(maps.color_of("pipeline_kind", k), code_zh("pipeline_kind", k), "line") for k in kinds],
            )
        )
    if catchment is not None and len(catchment):
        legend.append(
            (
                "步行生活圈 Catchment",
                [
                    (
                        sym["catchment"]["fill"],
                        f"{code_zh('facility_type', facility)} {catchment['radius_m'].iloc[0]:g} 米",
                        "",
                    )
                ],
            )
        )
    folium.LayerControl(collapsed=False).add_to(fmap)
    Legend(legend).add_to(fmap)
    if figures:
        StreetFigures(figures).add_to(fmap)
    sub = attribution + ("；" + "；".join(notes) if notes else "")
    Title(title or maps.TITLE["zh"], sub).add_to(fmap)
    return fmap


def render_page(fmap: folium.Map) -> str:
    """The whole HTML page, checked to load nothing from the network."""
    page = fmap.get_root().render()
    check_offline(page)
    return page


def save(fmap: folium.Map, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(fmap), encoding="utf-8")
    return path


def offline_map(
    ws: Workspace,
    *,
    colour: Colour = "stage",
    facility: str | None = None,
    catchment: bool = False,
    planner: bool = False,
    title: str | None = None,
) -> OfflineMap:
    """The workspace's layers as an offline map (see :meth:`gis.workspace.Workspace.map`)."""
    reg = ws.registry
    wanted = ["water", "buildings", "roads", "compounds", "facilities", *(["pipelines"] if planner else [])]
    layers = {lid: ws.layer(lid) for lid in wanted}
    code = ws.facility_type(facility) if facility is not None else None
    if colour == "gap" and code is None:
        overview = runs.gap_overview(ws.engine)
        if not overview:
            raise NotFoundError("no gap analysis has been run yet: ws.gaps() or gisplan gaps")
        code = next(iter(overview))
    gaps = None
    if colour == "gap" and code is not None:
        results = latest_results(ws.engine)  # the same latest results the tables and GeoPackage carry
        gaps = pd.DataFrame(results[results["facility_type"] == code].drop(columns="geometry"))
        if not len(gaps):
            raise NotFoundError(
                f"{code} has not been analysed yet: ws.gaps({code!r}) or gisplan gaps --facility {code}"
            )
    overdue, figures = None, None
    if colour == "progress":
        figures = maps.progress_overview(ws)
        if figures is None:
            raise NotFoundError("no renovation programme yet: gisplan progress import (or ws.programme)")
        overdue = {int(k) for k, v in figures["compounds"].items() if v["overdue"]}
        title = title or "老旧小区改造进度图（挂图作战）"
    area = ws.catchment(code) if catchment and code is not None else None
    field_labels = {lid: {f.id: f"{f.zh} {f.en}" for f in reg.layer(lid).fields} for lid in wanted}
    return build_map(
        layers,
        labels=maps.code_labels(reg),
        field_labels=field_labels,
        colour="stage" if colour == "progress" else colour,
        gaps=gaps,
        facility=code,
        catchment=area,
        overdue=overdue,
        figures=figures,
        title=title,
        attribution=ws.settings.attribution,
    )
