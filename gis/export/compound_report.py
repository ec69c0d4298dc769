"""The per-compound report (一区一策): one printable A4 HTML page per compound, self-contained
(the map extract is inline SVG drawn from the project's own layers), so it prints or opens from a
USB stick with no network. Pipelines appear only in a planner's report.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.errors import NotFoundError
from gis.export.context import ExportContext, ExportNeeds
from gis.export.symbology import CodeLabels, code_labels, color_of, symbology
from gis.roles import visible_fields
from gis.standards import DOUBTFUL, status_label, status_marker

# the layers a report draws (pipelines only reach a planner's context); its pipeline summaries
NEEDS = ExportNeeds(
    layers=("compounds", "facilities", "roads", "buildings", "water", "pipelines"),
    gaps=True,
    pipelines=True,
    evidence=True,
)
NEARBY_M = 1000.0  # facilities listed around the compound (straight line)
MAP_MARGIN_M = 250.0
SVG_W, SVG_H = 680, 440

CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "SimSun", "WenQuanYi Micro Hei", "Microsoft YaHei", serif; font-size: 11pt; color: #111;
       max-width: 190mm; margin: 0 auto; }
h1 { font-size: 18pt; text-align: center; margin: 4px 0 2px; letter-spacing: 2px; }
.sub { text-align: center; color: #444; margin-bottom: 8px; }
h2 { font-size: 12.5pt; border-left: 5px solid #8c1c13; padding-left: 6px; margin: 14px 0 6px; }
table { border-collapse: collapse; width: 100%; font-size: 10pt; }
th, td { border: 1px solid #555; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #f2dcdb; font-weight: bold; }
table.kv th { width: 22%; background: #f7f0ee; }
.bad { color: #b2182b; font-weight: bold; }
.ok { color: #1a7837; }
.note { font-size: 9pt; color: #555; }
.doubt { color: #8a5a00; font-weight: normal; }
svg { border: 1px solid #999; display: block; margin: 0 auto; }
.restricted { border: 2px solid #762a83; padding: 4px 8px; }
table.pair td { width: 50%; text-align: center; } img.photo { width: 100%; height: auto; }
"""


def _svg_path(geom: shapely.Geometry, tx: Any) -> str:
    """An SVG path for a (multi)polygon or (multi)line in map coordinates (y down)."""
    parts = []
    for g in getattr(geom, "geoms", [geom]):
        rings = [g.exterior, *g.interiors] if g.geom_type == "Polygon" else [g]
        for ring in rings:
            xy = tx(np.asarray(ring.coords)[:, :2])
            if len(xy) < 2:
                continue
            parts.append(
                "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in xy) + (" Z" if g.geom_type == "Polygon" else "")
            )
    return " ".join(parts)


def map_extract(
    compound: shapely.Geometry,
    layers: dict[str, gpd.GeoDataFrame],
    *,
    pipelines: gpd.GeoDataFrame | None = None,
) -> str:
    """An SVG map of the compound and its surroundings, north up, with a scale bar."""
    sym = symbology()
    x0, y0, x1, y1 = compound.buffer(MAP_MARGIN_M).bounds
    scale = min(SVG_W / (x1 - x0), SVG_H / (y1 - y0))
    ox = (SVG_W - (x1 - x0) * scale) / 2
    oy = (SVG_H - (y1 - y0) * scale) / 2

    def tx(xy: np.ndarray) -> np.ndarray:
        return np.c_[ox + (xy[:, 0] - x0) * scale, SVG_H - oy - (xy[:, 1] - y0) * scale]

    window = shapely.box(x0, y0, x1, y1)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SVG_W}" height="{SVG_H}" viewBox="0 0 {SVG_W} {SVG_H}">',
        f'<rect width="100%" height="100%" fill="{sym["basemap"]["background"]}"/>',
    ]

    def draw(gdf: gpd.GeoDataFrame | None, style: str) -> None:
        if gdf is None or not len(gdf):
            return
        for geom in gdf.geometry.clip(window):
            if geom is not None and not geom.is_empty and geom.geom_type != "Point":
                out.append(f'<path d="{_svg_path(geom, tx)}" {style}/>')

    w = sym["basemap"]["water"]
    water = layers.get("water")
    if water is not None and len(water):
        areas = water[water.geom_type.isin(["Polygon", "MultiPolygon"])]
        draw(areas, f'fill="{w["fill"]}" stroke="{w["stroke"]}" stroke-width="0.8"')
        draw(water[~water.index.isin(areas.index)], f'fill="none" stroke="{w["stroke"]}" stroke-width="3"')
    b = sym["basemap"]["buildings"]
    draw(layers.get("buildings"), f'fill="{b["fill"]}" stroke="{b["stroke"]}" stroke-width="0.5"')
    draw(layers.get("roads"), f'fill="none" stroke="{sym["basemap"]["roads"]["casing"]}" stroke-width="3"')
    others = layers.get("compounds")
    if others is not None:
        draw(others, 'fill="#c6dbef" fill-opacity="0.5" stroke="#6b6b6b" stroke-width="0.8"')
    out.append(
        f'<path d="{_svg_path(compound, tx)}" fill="#f4a582" fill-opacity="0.55" stroke="#b2182b" stroke-width="2.5"/>'
    )
    if pipelines is not None and len(pipelines):
        for geom, kind, laying in zip(
            pipelines.geometry.clip(window), pipelines["kind"], pipelines["laying"], strict=True
        ):
            if geom is not None and not geom.is_empty:
                dash = ' stroke-dasharray="5,3"' if laying == "overhead" else ""
                colour = color_of("pipeline_kind", kind)
                out.append(f'<path d="{_svg_path(geom, tx)}" fill="none" stroke="{colour}" stroke-width="1.4"{dash}/>')
    facilities = layers.get("facilities")
    if facilities is not None and len(facilities):
        points = facilities.geometry.representative_point()
        inside = points.within(window)
        for (x, y), kind in zip(
            tx(shapely.get_coordinates(points[inside].values)), facilities["type"][inside], strict=True
        ):
            colour = color_of("facility_type", kind)
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}" stroke="#fff" stroke-width="1.2"/>')
    # scale bar (a round length near a fifth of the width) and north arrow
    target = (x1 - x0) / 5
    length = next(v for v in (50, 100, 200, 250, 500, 1000, 2000, 5000) if v >= target * 0.6)
    px = length * scale
    out.append(
        f'<g font-size="11" font-family="sans-serif"><rect x="10" y="{SVG_H - 24}" width="{px:.1f}" height="5" '
        f'fill="#222"/><text x="10" y="{SVG_H - 28}">{length} 米</text></g>'
    )
    out.append(
        f'<g transform="translate({SVG_W - 28},14)"><path d="M0,22 L8,0 L16,22 L8,16 Z" fill="#222"/>'
        '<text x="3" y="36" font-size="11" font-family="sans-serif">北</text></g>'
    )
    out.append("</svg>")
    return "\n".join(out)


def _text(value: Any, empty: str = "—") -> str:
    """A cell's text: missing values as a dash, whole floats without ``.0``."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return empty
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _kv(rows: list[tuple[str, Any]]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(_text(v))}</td></tr>" for k, v in rows if _text(v, "") != ""
    )
    return f'<table class="kv">{cells}</table>'


def _table(headers: list[str], rows: list[list[str]], raw: set[int] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if i in (raw or set()) else html.escape(c)}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _coded(codes: CodeLabels, kind: str, value: Any) -> str:
    """A code (or list of codes) as its Chinese label(s)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    values = value if isinstance(value, list | tuple) else [value]
    return "、".join(codes.get(kind, {}).get(str(v), {}).get("zh", str(v)) for v in values)


def _gap_section(gaps: pd.DataFrame | None, compound_id: int, codes: CodeLabels) -> list[str]:
    """The compound's latest result of each facility type analysed."""
    parts = ["<h2>公共服务缺口 Service gaps（GB 50180-2018 生活圈）</h2>"]
    mine = gaps[gaps["compound_id"] == compound_id] if gaps is not None and len(gaps) else None
    if mine is None or not len(mine):
        parts.append("<p>尚未进行服务缺口分析（gisplan gaps）。</p>")
        return parts
    rows = []
    mine = mine.sort_values(["covered", "facility_type"])
    statuses = mine["radius_status"] if "radius_status" in mine.columns else pd.Series(None, index=mine.index)
    for g, radius_status in zip(mine.itertuples(), statuses, strict=True):
        # a finding resting on a doubtful radius says so beside the finding itself
        marker = status_marker(None if pd.isna(radius_status) else str(radius_status))
        doubt = f'<span class="doubt">{html.escape(marker)}</span>' if marker else ""
        status = '<span class="ok">满足</span>' if bool(g.covered) else '<span class="bad">缺口</span>'
        distance = float(g.distance_m)  # type: ignore[arg-type]
        rows.append(
            [
                _coded(codes, "facility_type", g.facility_type),
                f"{g.radius_m:g}",
                status_label(None if pd.isna(radius_status) else str(radius_status)),
                "无法到达" if np.isnan(distance) else f"{distance:.0f}",
                status + doubt,
                str(g.nearest_facility_name or "—"),
                str(g.flag or ""),
            ]
        )
    headers = ["设施", "服务半径(米)", "半径依据", "步行距离(米)", "结论", "最近设施", "说明"]
    parts.append(_table(headers, rows, raw={4}))
    basis = "路网步行距离" if (mine["basis"] == "network").all() else "含直线距离"
    doubtful = statuses.isna() | statuses.isin(sorted(DOUBTFUL))
    caveat = (
        "标注“依据未核实”“依据较弱”或“依据为旧版标准”的结论所用服务半径未经标准原文核实，仅供参考 / "
        "findings marked so rest on a radius not checked against the standard's text."
        if doubtful.any()
        else ""
    )
    parts.append(f'<p class="note">距离口径：{basis}。{html.escape(caveat)}</p>')
    return parts


def _nearby_section(facilities: gpd.GeoDataFrame | None, geom: shapely.Geometry, codes: CodeLabels) -> list[str]:
    if facilities is None or not len(facilities):
        return []
    d = facilities.geometry.distance(geom)
    near = facilities.assign(d=d)[d <= NEARBY_M].sort_values("d")
    rows = [[_text(f.name), _coded(codes, "facility_type", f.type), f"{f.d:.0f}"] for f in near.itertuples()]
    return [
        f"<h2>周边设施 Facilities within {NEARBY_M:.0f} m（直线距离）</h2>",
        _table(["名称", "类型", "距离(米)"], rows) if rows else "<p>无。</p>",
    ]


def _pipeline_section(ctx: ExportContext, compound_id: int, codes: CodeLabels) -> list[str]:
    """Restricted: the compound's pipelines by kind and laying, and the overhead lines to bury."""
    if not ctx.restricted or ctx.layer("pipelines") is None:
        return []
    inventory, bury = ctx.pipeline_inventory, ctx.overhead_lines
    parts = ['<div class="restricted"><h2>管线（限规划人员，不得公开） Pipelines — restricted</h2>']
    if inventory is not None:
        mine = inventory[inventory["compound_id"] == compound_id]
        if len(mine):
            rows = [
                [
                    _coded(codes, "pipeline_kind", r.kind),
                    _coded(codes, "laying", r.laying),
                    str(r.lines),
                    f"{r.length_m:.0f}",
                ]
                for r in mine.itertuples()
            ]
            parts.append(_table(["种类", "敷设", "条数", "长度(米)"], rows))
    if bury is not None:
        mine = bury[bury["compound_id"] == compound_id]
        if len(mine):
            rows = [
                [_coded(codes, "pipeline_kind", r.kind), str(r.responsible), f"{r.length_m:.0f}"]
                for r in mine.itertuples()
            ]
            parts.append("<p><b>架空线入地（待改造）</b></p>" + _table(["种类", "责任单位", "长度(米)"], rows))
    parts.append("</div>")
    return parts


def _renovation_section(ctx: ExportContext, compound_id: int) -> list[str]:
    """The passed acceptance (综合验收) and the before/after photos, side by side, inline."""
    parts: list[str] = []
    accepted = ctx.acceptance
    if accepted is not None and len(hit := accepted[accepted["compound_id"] == compound_id]):
        a = hit.iloc[0]
        parts += [
            "<h2>综合验收 Final acceptance</h2>",
            f"<p>通过 passed · {html.escape(str(a['held_on']))} · 得分 {float(a['total']):g}</p>",
        ]
    pairs = [p for p in ctx.pairs or [] if p.compound_id == compound_id]
    if pairs:
        parts.append("<h2>改造前后对比 Before / after</h2>")
    for p in pairs:
        cells = "".join(
            f'<td><img class="photo" alt="{label}" src="data:image/jpeg;base64,{_b64(data)}">'
            f"<br>{label} {html.escape(day or '')} · #{item}</td>"
            for label, data, day, item in (
                ("改造前", p.before, p.before_taken, p.before_id),
                ("改造后", p.after, p.after_taken, p.after_id),
            )
        )
        parts.append(f'<table class="pair"><tr>{cells}</tr></table>')
    return parts


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def compound_report(ctx: ExportContext, compound_id: int) -> str:
    """The report of one compound as a whole HTML page, for the context's role.

    Build the context with :data:`NEEDS` (``ws.export_context(role, compound_report.NEEDS)``); one
    context serves any number of reports.

    Raises
    ------
    NotFoundError
        No such compound.
    """
    compounds = ctx.layer("compounds")
    row = compounds[compounds["fid"] == compound_id] if compounds is not None else None
    if row is None or not len(row):
        raise NotFoundError(f"no compound {compound_id}")
    assert compounds is not None
    c = row.iloc[0]
    codes = code_labels(ctx.registry)
    layer = ctx.registry.layer("compounds")
    shown = visible_fields(layer, ctx.role)
    attrs = [
        (f.zh, _coded(codes, f.codes, c.get(f.id)) if f.codes else c.get(f.id))
        for f in layer.fields
        if f.id in shown and f.id != "name"
    ]
    geom = c.geometry
    place = " ".join(str(v) for v in (c.get("district"), c.get("street"), c.get("community")) if isinstance(v, str))
    others = compounds[compounds["fid"] != compound_id]
    name = html.escape(str(c["name"] or compound_id))
    parts = [
        f"<h1>一区一策 · {name}</h1>",
        f'<div class="sub">{html.escape(place)} · 编号 {compound_id} · {ctx.today.isoformat()}</div>',
        "<h2>位置 Location</h2>",
        map_extract(
            geom,
            {**ctx.layers, "compounds": others},
            pipelines=_clip(ctx.layer("pipelines"), geom.buffer(MAP_MARGIN_M)),
        ),
        '<p class="note">底图：道路、建筑（项目自有图层）；红框为本小区，圆点为公共服务设施。'
        f"{html.escape(ctx.attribution)}</p>",
        "<h2>基本情况 Attributes</h2>",
        _kv(attrs),
        *_gap_section(ctx.gaps, compound_id, codes),
        *_nearby_section(ctx.layer("facilities"), geom, codes),
        *_renovation_section(ctx, compound_id),
        *_pipeline_section(ctx, compound_id, codes),
    ]
    body = "\n".join(parts)
    head = f'<head><meta charset="utf-8"><title>一区一策 · {name}</title><style>{CSS}</style></head>'
    return f'<!doctype html>\n<html lang="zh-CN">{head}<body>{body}</body></html>\n'


def _clip(gdf: gpd.GeoDataFrame | None, area: shapely.Geometry) -> gpd.GeoDataFrame | None:
    return None if gdf is None else gdf[gdf.intersects(area)]


def write_reports(ctx: ExportContext, out_dir: Path) -> list[Path]:
    """A report per compound plus an index page; returns the files written (the index first)."""
    compounds = ctx.layer("compounds")
    if compounds is None:
        raise NotFoundError("the context holds no compounds: build it with compound_report.NEEDS")
    out_dir.mkdir(parents=True, exist_ok=True)
    written, links = [], []
    for fid, name in zip(compounds["fid"], compounds["name"], strict=True):
        path = out_dir / f"{int(fid)}.html"
        path.write_text(compound_report(ctx, int(fid)), encoding="utf-8")
        written.append(path)
        links.append(f'<li><a href="{path.name}">{html.escape(str(name or fid))}</a></li>')
    index = out_dir / "index.html"
    index.write_text(
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>一区一策</title><style>{CSS}</style>'
        f"</head><body><h1>一区一策 · 小区报告</h1><ul>{''.join(links)}</ul></body></html>\n",
        encoding="utf-8",
    )
    return [index, *written]
