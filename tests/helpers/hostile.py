"""Hostile values (script and formula injection), the layers that carry them, and what a page that
showed them must not have done.

Every script payload sets ``window.__pwned`` and asks ``http://127.0.0.1:9/x`` (nothing listens on
the discard port; the request itself is the proof it ran); every formula payload is text a
spreadsheet would otherwise evaluate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers.browser import Watched

RUN = "window.__pwned=1;fetch('http://127.0.0.1:9/x')"
SCRIPTS = [
    f'<img src=x onerror="{RUN}">',
    f"<script>{RUN}</script>",
    f'"><svg onload="{RUN}">',
    f"javascript:{RUN}",
    f'"}}]}});{RUN};//',  # closes a JSON string, its object and its call
    f"</script><script>{RUN}</script>",
    '\'><iframe srcdoc="<script>parent.__pwned=1</script>">',
]
FORMULAS = [
    '=HYPERLINK("http://x","y")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
]
CONTROL = "学院\x01\x02\x03\x04\x05\x06\x07\x08路"  # characters XLSX cannot hold
CONTROL_CLEAN = "学院路"


def inert(w: Watched) -> None:
    """Nothing a hostile value carried ran: no flag, no request to the discard port or for ``x``."""
    w.page.wait_for_timeout(300)  # an onerror fires after the failed load
    assert w.page.evaluate("typeof window.__pwned") == "undefined", "a hostile value ran as script"
    ran = [u for u in w.requests if "127.0.0.1:9/" in u or u.rstrip("/").endswith("/x")]
    assert ran == [], f"a hostile value made requests: {ran}"


def _square(lon: float, lat: float, side: float = 0.0008) -> dict[str, Any]:
    ring = [[lon, lat], [lon + side, lat], [lon + side, lat + side], [lon, lat + side], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def write_layers(directory: Path) -> tuple[Path, Path]:
    """GeoJSON compounds and facilities whose text fields are hostile: names (scripts, then
    formulas), streets, communities and addresses (scripts), districts (formulas; an import strips
    the tab and CR around them); the first compound's street holds control characters. Returns
    (compounds, facilities)."""
    compounds, facilities = [], []
    values = [*SCRIPTS, *FORMULAS]
    for i, name in enumerate(values):
        lon, lat = 116.35 + 0.002 * (i % 5), 40.0 + 0.002 * (i // 5)
        street = CONTROL if i == 0 else SCRIPTS[(i + 1) % len(SCRIPTS)]
        props = {"编号": f"h{i}", "小区名称": name, "区县": FORMULAS[i % len(FORMULAS)], "街道": street}
        props |= {"社区": SCRIPTS[(i + 2) % len(SCRIPTS)], "户数": 100 + i, "人口": 300 + i}
        compounds.append({"type": "Feature", "geometry": _square(lon, lat), "properties": props})
        facility = {"编号": f"f{i}", "名称": name, "类型": "kindergarten", "地址": SCRIPTS[(i + 3) % len(SCRIPTS)]}
        point = {"type": "Point", "coordinates": [lon + 0.0012, lat + 0.0004]}
        facilities.append({"type": "Feature", "geometry": point, "properties": facility})
    paths = directory / "hostile_compounds.geojson", directory / "hostile_facilities.geojson"
    for path, features in zip(paths, (compounds, facilities), strict=True):
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), "utf-8")
    return paths
