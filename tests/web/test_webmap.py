"""The web map at / in headless Chromium: offline, public vs planner, what it draws and shows."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import numpy as np
import pytest
import shapely
from PIL import Image

from api.main import create_app
from gis.demo import sample_path
from gis.export.symbology import gap_class, symbology
from gis.standards import load_standard, status_marker
from gis.workspace import Workspace
from tests.helpers.browser import Watched
from tests.helpers.live import serve

# the database is a copy of the prepared sample; a long module (run first)
pytestmark = [pytest.mark.sample, pytest.mark.heavy]

READY = (
    "() => window.gisplanMap && window.gisplanMap.loaded() && window.gisplanMap.areTilesLoaded()"
    " && !!document.body.dataset.ready"
)


def open_map(w: Watched, url: str) -> None:
    w.page.goto(url)
    w.page.wait_for_function(READY, timeout=30_000)
    w.page.wait_for_timeout(300)  # one more frame after the last tile


def compound_points(w: Watched, ws: Workspace) -> list[dict[str, Any]]:
    """Each compound polygon's representative point (inside it), as a pixel on the page."""
    gdf = ws.layer("compounds")
    gdf = gdf[gdf.geom_type.isin(["Polygon", "MultiPolygon"])]
    # a point well inside: the label sits at the centre, so take the interior point of a shrunken polygon
    pts = gdf.geometry.buffer(-8).representative_point().to_crs(4326)
    box = w.page.locator("#map").bounding_box()
    assert box is not None
    out = []
    for fid, name, stage, p in zip(gdf["fid"], gdf["name"], gdf["stage"], pts, strict=True):
        xy = w.page.evaluate(f"(() => {{ const p = window.gisplanMap.project([{p.x}, {p.y}]); return [p.x, p.y]; }})()")
        out.append({"fid": int(fid), "name": name, "stage": stage, "x": box["x"] + xy[0], "y": box["y"] + xy[1]})
    return out


def rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def looks_like(pixel: np.ndarray, fill: str, opacity: float = 0.72) -> bool:
    """Is the pixel the fill blended over one of the basemap colours beneath it?"""
    sym = symbology()["basemap"]
    under = [sym["background"], sym["buildings"]["fill"], sym["roads"]["major"], sym["roads"]["casing"]]
    blends = [opacity * rgb(fill) + (1 - opacity) * rgb(u) for u in under]
    return min(float(np.abs(pixel - b).max()) for b in blends) <= 14


def screenshot(w: Watched) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(w.page.screenshot())).convert("RGB")).astype(float)


def test_public_map_offline_draws_compounds_by_stage(site: tuple[str, str, Workspace], watched: Any) -> None:
    base, _token, ws = site
    w = watched()
    open_map(w, base + "/")
    assert w.errors == []
    assert w.outside() == [], "the page asked for something outside the server"
    assert not any("pipelines" in u for u in w.requests), "a public page must not ask for restricted layers"
    config = w.page.evaluate("fetch('/api/map/config').then(r => r.text())")
    assert "pipelines" not in config and "管线" not in config
    # the labels would cover the points probed below
    w.page.evaluate("window.gisplanMap.setLayoutProperty('compounds-label', 'visibility', 'none')")
    w.page.wait_for_timeout(300)
    image = screenshot(w)
    assert image.std() > 20 and len(np.unique(image.reshape(-1, 3), axis=0)) > 100, "blank screenshot"
    points = compound_points(w, ws)
    assert len(points) >= 5
    sym = symbology()["stage"]
    for p in points:
        pixel = image[int(p["y"]), int(p["x"])]
        expected = sym.get(p["stage"] or "none", sym["none"])
        assert looks_like(pixel, expected), f"{p['name']} ({p['stage']}): pixel {pixel} is not {expected}"


def test_click_compound_shows_its_chinese_name_and_gaps(site: tuple[str, str, Workspace], watched: Any) -> None:
    base, _token, ws = site
    w = watched()
    open_map(w, base + "/")
    w.page.evaluate("window.gisplanMap.setLayoutProperty('compounds-label', 'visibility', 'none')")
    target = compound_points(w, ws)[0]
    w.page.mouse.click(target["x"], target["y"])
    w.page.wait_for_selector("#info:not([hidden]) #info-body table + h3 + table tr", timeout=10_000)
    assert w.page.inner_text("#info h3") == target["name"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in target["name"])
    texts = w.page.locator("#info-body table").nth(1).locator("tr").all_inner_texts()
    mine = ws.gap_run().results.query("compound_id == @target['fid']")
    assert len(texts) == len(mine)
    # each row says so when its radius is doubtful: the status the standard's YAML gives the type
    std = load_standard()
    assert all(r.radius_status == std.rule(r.facility_type).status for r in mine.itertuples())
    labels = {c.zh: c.id for c in ws.registry.code_list("facility_type").codes}
    for text in texts:
        label, shown = text.split("\t", 1)
        marker = status_marker(std.rule(labels[label]).status)
        assert (marker in shown) if marker else "（" not in shown, text
    assert w.errors == []


@pytest.mark.parametrize("facility", ["kindergarten", "health_center"])
def test_gap_colours_follow_the_stored_results(site: tuple[str, str, Workspace], watched: Any, facility: str) -> None:
    base, _token, ws = site
    w = watched()
    open_map(w, base + f"/?mode=gap&facility={facility}&catchment=1")
    w.page.wait_for_function(f"() => document.body.dataset.catchment === '{facility}:1'", timeout=20_000)
    w.page.wait_for_function(f"() => document.body.dataset.colour === 'gap:{facility}'", timeout=20_000)
    w.page.evaluate("window.gisplanMap.setLayoutProperty('compounds-label', 'visibility', 'none')")
    w.page.evaluate("window.gisplanMap.setLayoutProperty('catchment', 'visibility', 'none')")
    w.page.wait_for_timeout(500)
    image = screenshot(w)
    results = ws.gap_run().results.query("facility_type == @facility").set_index("compound_id")
    if facility == "health_center":  # the sample has both kinds: the test sees both colours
        assert results["covered"].any() and not results["covered"].all()
    gap = symbology()["gap"]
    for p in compound_points(w, ws):
        r = results.loc[p["fid"]]
        kind = gap_class(None if np.isnan(r["distance_m"]) else r["distance_m"], bool(r["covered"]))
        assert looks_like(image[int(p["y"]), int(p["x"])], gap[kind]["color"]), (p["name"], kind)
    note = w.page.inner_text("#gap-note")
    assert f"{int((~results['covered']).sum())} 个在服务半径外" in note
    # both radii are doubtful (a superseded edition's, one not found): the note says so
    marker = status_marker(load_standard().rule(facility).status)
    assert marker and marker in note
    assert w.errors == [] and w.outside() == []


DRAWN = """() => {
  const symbols = {}, clusters = {};
  const layers = ["facilities", "facilities-fill", "facility-clusters"];
  for (const f of window.gisplanMap.queryRenderedFeatures({ layers })) {
    // a feature cut by two tiles is one symbol; a cluster is one circle, counting its facilities by type
    if (f.layer.id === "facility-clusters") clusters[f.properties.cluster_id] = f.properties;
    else symbols[`${f.layer.id}:${f.id}`] = f.properties.type;
  }
  return { symbols, clusters: Object.values(clusters) };
}"""
FACILITIES_READY = f"() => !!document.body.dataset.facilities && ({READY[6:]})"


def drawn_at(w: Watched, zoom: float | None = None) -> tuple[dict[str, str], list[dict[str, Any]], list[float]]:
    """The facility symbols and clusters drawn (once the points are in), at ``zoom`` if given, and
    the view's bounds."""
    w.page.wait_for_function(FACILITIES_READY, timeout=30_000)
    if zoom is not None:
        w.page.evaluate(f"window.gisplanMap.jumpTo({{ zoom: {zoom} }})")
        w.page.wait_for_function(READY, timeout=30_000)
    w.page.wait_for_timeout(300)
    out = w.page.evaluate(DRAWN)
    return out["symbols"], out["clusters"], w.page.evaluate("window.gisplanMap.getBounds().toArray().flat()")


def test_each_facility_is_drawn_once_polygons_as_one_shape(site: tuple[str, str, Workspace], watched: Any) -> None:
    base, _token, ws = site
    w = watched()
    open_map(w, base + "/")
    drawn, clusters, (west, south, east, north) = drawn_at(w)
    facilities = ws.layer("facilities", crs=4326)
    in_view = facilities[facilities.intersects(shapely.box(west, south, east, north))]
    polygons = in_view.geom_type.isin(["Polygon", "MultiPolygon"])
    assert polygons.any(), "the sample holds a polygon facility: the case this checks"
    # per type, as many symbols as the layer has facilities in view: one each, or counted in a cluster
    for kind, group in in_view.groupby("type"):
        symbols = [key for key, t in drawn.items() if t == kind]
        assert len(symbols) + sum(c.get(f"n_{kind}", 0) for c in clusters) == len(group), (kind, symbols)
    # points are circles, sites are one filled shape: never a circle per vertex
    points = {k for k in drawn if k.startswith("facilities:")}
    assert points <= {f"facilities:{i}" for i in in_view[~polygons]["fid"]}
    assert len(points) + sum(c["point_count"] for c in clusters) == (~polygons).sum()
    assert {k for k in drawn if k.startswith("facilities-fill:")} == {
        f"facilities-fill:{i}" for i in in_view[polygons]["fid"]
    }


def test_crowded_facility_points_are_clustered_and_counted_by_type(
    site: tuple[str, str, Workspace], watched: Any
) -> None:
    """Zoomed out over the whole sample, its points crowd into clusters: every point facility is in one
    cluster or drawn alone, each once, per type as the layer has them (geopandas)."""
    base, _token, ws = site
    w = watched()
    open_map(w, base + "/")
    drawn, clusters, _ = drawn_at(w, 12)
    points = ws.layer("facilities", crs=4326)
    points = points[points.geom_type.isin(["Point", "MultiPoint"])]
    assert clusters, "at zoom 12 the sample's facilities crowd: some must be clustered"
    alone = [t for key, t in drawn.items() if key.startswith("facilities:")]
    assert len(alone) + sum(c["point_count"] for c in clusters) == len(points)
    for kind, group in points.groupby("type"):
        assert alone.count(kind) + sum(c.get(f"n_{kind}", 0) for c in clusters) == len(group), kind
    assert w.errors == [] and w.outside() == []


def test_search_finds_a_compound_by_name(site: tuple[str, str, Workspace], watched: Any) -> None:
    base, _token, ws = site
    name = ws.layer("compounds")["name"].dropna().iloc[2]
    w = watched()
    open_map(w, base + "/")
    w.page.fill("#search", name[:2])
    w.page.press("#search", "Enter")
    w.page.wait_for_selector("#search-results li")
    w.page.locator("#search-results li", has_text=name).first.click()
    w.page.wait_for_selector("#info:not([hidden])")
    assert w.page.inner_text("#info h3") == name
    assert w.errors == []


def test_english_switch(site: tuple[str, str, Workspace], watched: Any) -> None:
    base, _token, _ws = site
    w = watched()
    open_map(w, base + "/")
    assert w.page.inner_text("#title") == "老旧小区改造空间规划"
    w.page.click("#lang")
    assert w.page.inner_text("#title") == "Old residential compound renovation planning"
    assert "Legend" in w.page.inner_text("#panel")


def test_planner_signs_in_and_sees_pipelines(site: tuple[str, str, Workspace], watched: Any) -> None:
    base, token, _ws = site
    w = watched()
    open_map(w, base + "/")
    w.page.click("#login")
    w.page.fill("#token", "wrong-token")
    w.page.click("#login-ok")
    w.page.wait_for_function("() => document.getElementById('login-error').textContent.length > 0")
    w.page.fill("#token", token)
    w.page.click("#login-ok")
    w.page.wait_for_function("() => document.getElementById('role-badge').textContent === '规划人员'", timeout=20_000)
    w.page.wait_for_function(READY, timeout=30_000)
    w.page.evaluate("window.gisplanMap.zoomTo(15, {duration: 0})")
    w.page.wait_for_function(READY, timeout=30_000)
    assert any("/collections/pipelines/tiles/" in u for u in w.requests)
    assert "管线" in w.page.inner_text("#legend")
    rendered = w.page.evaluate("window.gisplanMap.queryRenderedFeatures({layers: ['pipelines']}).length")
    assert rendered > 0
    # the bad token's 401 is the only console error
    assert all("401" in e for e in w.errors), w.errors


def test_tiles_and_config_refuse_pipelines_to_the_public(site: tuple[str, str, Workspace], watched: Any) -> None:
    base, _token, _ws = site
    w = watched()
    w.page.goto(base + "/")
    status = w.page.evaluate(
        "fetch('/ogc/collections/pipelines/tiles/WebMercatorQuad/15/6200/26970').then(r => r.status)"
    )
    assert status == 404
    body = json.loads(w.page.evaluate("fetch('/api/map/catchments/kindergarten').then(r => r.text())"))
    assert body["features"][0]["properties"]["radius_m"] == 300


def test_progress_map_for_planners(site: tuple[str, str, Workspace], watched: Any) -> None:
    """Overdue projects outlined and the month's street figures, from the programme's own status."""
    base, token, ws = site
    status = ws.programme.status()
    overdue = status[status["overdue"]]
    assert len(overdue), "the demo programme stalls a project"
    w = watched()
    w.page.goto(base + "/")
    w.page.evaluate(f"sessionStorage.setItem('gisplan.token', '{token}')")
    open_map(w, base + "/")
    w.page.wait_for_function(f"() => document.body.dataset.progress === '{len(overdue)}'", timeout=20_000)
    states = w.page.evaluate(
        """(ids) => ids.map(id => window.gisplanMap.getFeatureState(
            {source: 'compounds', sourceLayer: 'compounds', id}).overdue === true)""",
        [int(f) for f in status["compound_id"]],
    )
    assert states == status["overdue"].tolist()
    figures = w.page.inner_text("#progress")
    street = status["street"].iloc[0]
    assert street in figures and str(len(overdue)) in figures
    # the public page neither shows nor may fetch them
    public = watched()
    open_map(public, base + "/")
    assert public.page.is_hidden("#progress")
    assert not any("/api/map/progress" in u for u in public.requests)
    assert public.page.evaluate("fetch('/api/map/progress').then(r => r.status)") == 401


def test_without_npm_assets_the_api_serves_and_the_page_says_why(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    ws.load("compounds", sample_path(), source_layer="compounds")
    monkeypatch.setenv("GISPLAN_ASSETS_DIR", str(tmp_path))
    with serve(create_app(workspace=ws)) as base:
        page = httpx.get(base + "/")
        assert page.status_code == 503 and "make assets" in page.json()["detail"]
        assert httpx.get(base + "/ogc/collections/compounds/items").status_code == 200
