"""The quarter's assessment on a map (季度考核得分图): every compound of an assessed street coloured by
its street's total, offline (:class:`gis.export.offline_map.OfflineMap`, no CDN), legend in Chinese.

Pure: it takes the export context (the compounds and the basemap layers the role may see) and the
quarter's ranking (``QuarterScores.ranking()``); no database.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import folium
import pandas as pd

from gis.errors import InvalidRequestError
from gis.export.context import ExportContext, ExportNeeds
from gis.export.map_elements import Legend, TextPopup, TextTooltip, Title
from gis.export.offline_map import OfflineMap

NEEDS = ExportNeeds(layers=("compounds", "roads", "water"), gaps=False)
# score bands, highest first: (at least, colour, label)
BANDS: list[tuple[float, str, str]] = [
    (90, "#1a9850", "90分及以上 ≥ 90"),
    (80, "#91cf60", "80～90分 80–90"),
    (70, "#fee08b", "70～80分 70–80"),
    (60, "#fc8d59", "60～70分 60–70"),
    (0, "#d73027", "60分以下 < 60"),
]
UNSCORED = ("#bdbdbd", "未计分 Not scored")
OUTSIDE = ("#f0f0f0", "未参加本季度考核 Not assessed")
TITLE = "老旧小区改造季度考核得分图（{quarter}）"


def band(total: Any) -> tuple[str, str]:
    """The colour and label of a street's total (None: not scored)."""
    if total is None or (isinstance(total, float) and pd.isna(total)):
        return UNSCORED
    value = float(Decimal(str(total)))
    return next((colour, label) for at, colour, label in BANDS if value >= at)


def build_map(ctx: ExportContext, ranking: pd.DataFrame, quarter: str, *, published: bool) -> OfflineMap:
    """The map of ``quarter``'s totals: compounds coloured by their street's total, roads and water beneath."""
    compounds = ctx.layer("compounds")
    if compounds is None or not len(compounds):
        raise InvalidRequestError("nothing to map: there are no compounds")
    totals = {(r["district"], r["street"]): r for r in ranking.to_dict("records")}
    c = compounds.to_crs(4326)
    rows = [totals.get((d, s)) for d, s in zip(c["district"], c["street"], strict=True)]
    c = c.assign(
        fill=[band(r["total"])[0] if r else OUTSIDE[0] for r in rows],
        total_text=[
            ("未计分" if r["total"] is None else f"{float(Decimal(str(r['total']))):.2f}") if r else "未参加考核"
            for r in rows
        ],
        rank_text=[str(r["rank"]) if r and r["rank"] is not None else "—" for r in rows],
    )
    b = c.total_bounds
    fmap = OfflineMap(tiles=None, control_scale=True)
    fmap.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    for layer_id, style in (
        ("water", {"fillColor": "#c6dbef", "color": "#9ecae1", "weight": 1, "fillOpacity": 1}),
        ("roads", {"color": "#bbbbbb", "weight": 2}),
    ):
        frame = ctx.layer(layer_id)
        if frame is not None and len(frame):
            folium.GeoJson(
                frame.to_crs(4326)[["geometry"]].to_json(drop_id=True),
                name=layer_id,
                style_function=lambda _f, s=style: s,
                interactive=False,
            ).add_to(fmap)
    fields = ["name", "district", "street", "total_text", "rank_text"]
    shown = c[[*fields, "fill", "geometry"]].copy()
    for f in fields:
        shown[f] = shown[f].astype(object).where(shown[f].notna(), None)
    folium.GeoJson(
        shown.to_json(drop_id=True),
        name="小区 Compounds",
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "color": "#555",
            "weight": 1,
            "fillOpacity": 0.75,
        },
        marker=folium.CircleMarker(radius=7, fill=True),
        tooltip=TextTooltip(fields=["name", "street"], aliases=["小区", "街道"], labels=False),
        popup=TextPopup(fields=fields, aliases=["小区", "区县", "街道", "街道总分", "排名"], localize=False),
    ).add_to(fmap)
    legend = [(colour, label, "") for _, colour, label in BANDS] + [
        (UNSCORED[0], UNSCORED[1], ""),
        (OUTSIDE[0], OUTSIDE[1], ""),
    ]
    Legend([("街道考核总分 Street total", legend)]).add_to(fmap)
    state = "已发布" if published else "未发布，计算结果"
    Title(TITLE.format(quarter=quarter), f"{state}；小区按所在街道总分着色；{ctx.attribution}").add_to(fmap)
    return fmap
