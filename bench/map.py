"""Web map and offline export: time to first frame, time to idle, bytes; 1,000 and 10,000 compounds.

    .venv/bin/python bench/map.py [--sizes 1000 10000] [--runs 3]

Compounds: the largest N building footprints of Liechtenstein (OSM 2015, real shapes; names and
stages synthetic) with its real roads as the basemap, in a throwaway embedded cluster. Headless
Debian Chromium (software WebGL, as on these machines), a new browser context per run.

- Web map (gisplan, vector tiles): navigation → first frame with compounds drawn → interactive
  (style loaded, every tile in view loaded); bytes transferred.
- Anchor, same run: the same MapLibre page style with the compounds as one GeoJSON document from
  the OGC API (``items?limit=N``), as a map without tiles would do.
- Export (``ws.map``: compounds, facilities, roads, buildings): file size and load time (navigation →
  Leaflet has drawn) from file://
  Anchor: plain folium (``folium.GeoJson`` of the same layers, its own encoding, Leaflet
  inlined the same way so it can load offline). Past 2,000 features the export switches to the
  light encoding (1 m simplification, 1e-5° coordinates) and a canvas renderer.

Prints medians and ratios; asserts nothing (a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from playwright.sync_api import Browser, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from api.main import create_app
from gis.export.offline_map import OfflineMap, save
from gis.settings import Settings
from gis.store.cluster import EmbeddedCluster, ensure_extensions
from gis.workspace import Workspace, connect
from tests.helpers.live import serve

DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "fallback-liechtenstein" / "liechtenstein-latest.osm.pbf"
)
ARGS = [
    "--no-sandbox",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
STAGES = ["survey", "design", "tender", "construction", "completed", "accepted", None]
FIRST = "window.gisplanMap && window.gisplanMap.getLayer('compounds-fill') && window.gisplanMap.queryRenderedFeatures({layers: ['compounds-fill']}).length > 0"
IDLE = "window.gisplanMap && window.gisplanMap.loaded() && window.gisplanMap.areTilesLoaded()"

ANCHOR_PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/vendor/maplibre-gl/maplibre-gl.css">
<script src="/static/vendor/maplibre-gl/maplibre-gl.js"></script>
<style>html,body,#map{margin:0;height:100%}</style></head><body><div id="map"></div><script>
fetch('/api/map/config').then(r => r.json()).then(cfg => {
  const map = new maplibregl.Map({container: 'map', bounds: cfg.bounds, style: {version: 8,
    sources: {roads: {type: 'vector', tiles: [location.origin + '/ogc/collections/roads/tiles/WebMercatorQuad/{z}/{y}/{x}']},
              compounds: {type: 'geojson', data: '/ogc/collections/compounds/items?limit=LIMIT&properties=name,stage'}},
    layers: [{id: 'bg', type: 'background', paint: {'background-color': '#f7f4ee'}},
             {id: 'roads', type: 'line', source: 'roads', 'source-layer': 'roads', paint: {'line-color': '#d0c8b8'}},
             {id: 'compounds-fill', type: 'fill', source: 'compounds', paint: {'fill-color': '#d95f0e', 'fill-opacity': 0.72}}]}});
  window.gisplanMap = map;
});
</script></body></html>"""


def build(ws: Workspace, n: int, tmp: Path) -> None:
    ws.load("roads", DATA)
    ws.load("buildings", DATA)
    b = ws.layer("buildings")
    b = b.assign(area=b.geometry.area).sort_values("area", ascending=False).reset_index(drop=True)
    if n > len(b):  # more compounds than the country has buildings: copies shifted north, one above the other
        _, miny, _, maxy = b.total_bounds
        copies = [b.geometry.translate(0, k * (maxy - miny)) for k in range(-(-n // len(b)))]
        b = gpd.GeoDataFrame(geometry=pd.concat(copies, ignore_index=True), crs=b.crs)
    b = b.iloc[:n]
    rng = np.random.default_rng(7)
    compounds = gpd.GeoDataFrame(
        {
            "小区名称": [f"测试小区{i}" for i in range(len(b))],
            "户数": rng.integers(50, 800, len(b)),
            "改造阶段": rng.choice(np.array(STAGES, dtype=object), len(b)),
        },
        geometry=b.geometry.values,
        crs=b.crs,
    )
    compounds.to_file(tmp / "compounds.gpkg")
    ws.load("compounds", tmp / "compounds.gpkg")


def web_run(browser: Browser, url: str, *, anchor: bool = False) -> dict[str, float]:
    # the anchor's page is the bench's, under the app's script-less policy for pages it does not know
    # (its inline script would not run): its context bypasses the policy; gisplan's map keeps it
    ctx = browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=anchor)
    received: list[int] = []
    # the context sees the requests of the page and of MapLibre's web workers (tiles, GeoJSON)
    ctx.on("requestfinished", lambda req: received.append(req.sizes()["responseBodySize"]))
    page = ctx.new_page()
    t0 = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_function(f"() => {FIRST}", polling="raf", timeout=120_000)
    first = time.perf_counter() - t0
    page.wait_for_function(f"() => {IDLE}", polling="raf", timeout=120_000)
    idle = time.perf_counter() - t0
    page.wait_for_timeout(200)
    size = sum(received)
    ctx.close()
    return {"first": first, "idle": idle, "bytes": size}


def file_run(browser: Browser, path: Path) -> float:
    ctx = browser.new_context(viewport={"width": 1280, "height": 860})
    page = ctx.new_page()
    t0 = time.perf_counter()
    page.goto(path.as_uri(), wait_until="load", timeout=300_000)
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    took = time.perf_counter() - t0
    ctx.close()
    return took


def folium_anchor(ws: Workspace, path: Path) -> None:
    """The same layers as plain folium writes them (full precision, no simplification)."""
    c = ws.layer("compounds")[["name", "stage", "geometry"]].to_crs(4326)
    m = OfflineMap(tiles=None, prefer_canvas=len(c) > 2000)
    for basemap in ("buildings", "roads"):
        folium.GeoJson(ws.layer(basemap)[["geometry"]].to_crs(4326).to_json(), interactive=False).add_to(m)
    folium.GeoJson(c.to_json(), popup=folium.GeoJsonPopup(fields=["name", "stage"])).add_to(m)
    m.fit_bounds([[c.total_bounds[1], c.total_bounds[0]], [c.total_bounds[3], c.total_bounds[2]]])
    path.write_text(m.get_root().render(), encoding="utf-8")


def low_tiles(ws: Workspace) -> str:
    """The compounds' tiles z0-12 over their centre, rendered by PostGIS with no cache (median of 3):
    the heaviest and the slowest, what a city-wide progress map asks for first."""
    import morecantile

    from gis.ogc import tiles

    tms = morecantile.tms.get("WebMercatorQuad")
    layer = ws.registry.layer("compounds")
    west, south, east, north = ws.layer("compounds", crs=4326).total_bounds
    srid = ws.working_crs.to_epsg()
    rows = []
    for z in range(13):
        t = tms.tile((west + east) / 2, (south + north) / 2, z)
        times, size = [], 0
        for _ in range(3):
            start = time.perf_counter()
            size = len(tiles.render(ws.engine, layer, "public", t.z, t.x, t.y, working_srid=srid))
            times.append(time.perf_counter() - start)
        rows.append((z, size, statistics.median(times)))
    big = max(rows, key=lambda r: r[1])
    slow = max(rows, key=lambda r: r[2])
    return (
        f"low-zoom compound tiles z0-12 (uncached): largest {big[1] / 1e3:.0f} KB at z{big[0]}, slowest "
        f"{slow[2] * 1e3:.0f} ms at z{slow[0]}; every one: "
        + ", ".join(f"z{z} {b / 1e3:.0f} KB {ms * 1e3:.0f} ms" for z, b, ms in rows)
    )


def med(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gisplan-bench-map-"))
    data = Path(tempfile.mkdtemp(prefix="gisplan-bench-map-db-"))  # its own directory: the server's user owns it
    cluster = EmbeddedCluster(tmp / "home", data_dir=data, fast=True)
    cluster.up()
    out: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=ARGS)
            for n in args.sizes:
                url = cluster.url("postgres", driver="postgresql")
                import psycopg

                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"CREATE DATABASE b{n}")
                db = url.rsplit("/", 1)[0] + f"/b{n}"
                ensure_extensions(db)
                ws = connect(settings=Settings(database_url=db, home=tmp / "home"))
                build(ws, n, tmp)
                count = len(ws.layer("compounds"))
                site = tmp / f"anchor{n}"
                site.mkdir()
                (site / "index.html").write_text(ANCHOR_PAGE.replace("LIMIT", str(count)), encoding="utf-8")
                app = create_app(workspace=ws)
                from fastapi.staticfiles import StaticFiles

                app.mount("/bench", StaticFiles(directory=site, html=True))
                with serve(app) as base:
                    web_run(browser, base + "/")  # warm the server's caches and the browser's code cache
                    ours = [web_run(browser, base + "/") for _ in range(args.runs)]
                    anchor = [web_run(browser, base + "/bench/", anchor=True) for _ in range(args.runs)]
                export = save(ws.map(), tmp / f"export{n}.html")
                plain = tmp / f"folium{n}.html"
                folium_anchor(ws, plain)
                e_ours = statistics.median(file_run(browser, export) for _ in range(args.runs))
                e_anchor = statistics.median(file_run(browser, plain) for _ in range(args.runs))
                out.append(low_tiles(ws))
                ws.close()
                out.append(
                    f"{count:>6,} compounds | web map (tiles): first frame {med(ours, 'first'):.2f} s, interactive "
                    f"{med(ours, 'idle'):.2f} s, {med(ours, 'bytes') / 1e6:.2f} MB | anchor (one GeoJSON): first "
                    f"{med(anchor, 'first'):.2f} s, interactive {med(anchor, 'idle'):.2f} s, "
                    f"{med(anchor, 'bytes') / 1e6:.2f} MB | ratio interactive anchor/ours "
                    f"{med(anchor, 'idle') / med(ours, 'idle'):.2f}×, bytes {med(anchor, 'bytes') / med(ours, 'bytes'):.2f}×"
                )
                out.append(
                    f"{'':>6}             | export: {export.stat().st_size / 1e6:.2f} MB, loads in {e_ours:.2f} s | "
                    f"anchor plain folium: {plain.stat().st_size / 1e6:.2f} MB, {e_anchor:.2f} s | ratio size "
                    f"{plain.stat().st_size / export.stat().st_size:.2f}×, load {e_anchor / e_ours:.2f}×"
                )
                print(*out[-3:], sep="\n", flush=True)
            browser.close()
    finally:
        cluster.destroy()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
    print("\n".join(["", "summary (medians of", f"{args.runs} runs):", *out]))


if __name__ == "__main__":
    main()
