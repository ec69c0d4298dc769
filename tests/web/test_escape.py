"""Stored script injection: compounds and facilities whose names, streets and other text fields are
hostile (``<img onerror>``, ``<script>``, ``"><svg onload>``, ``javascript:``, a name that closes a
JSON string) are shown as text on every page gisplan writes (the offline map, the 一区一策 report,
the web map, a notebook's ``ws.map``), in headless Chromium: after hovering and clicking every
feature nothing ran (``window.__pwned`` unset, no request to the discard port) and each name reads
back exactly."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import pandas as pd
import pytest
import shapely
from pyproj import CRS

from api.main import create_app
from gis.export.compound_report import write_reports
from gis.export.context import ExportContext
from gis.export.offline_map import MapOptions, build_map, save
from gis.registry import registry
from gis.workspace import Workspace
from tests.helpers.browser import Watched
from tests.helpers.hostile import SCRIPTS, inert, write_layers
from tests.helpers.live import serve

pytestmark = pytest.mark.heavy  # a long module: collected first (tests/conftest.py)

WORKING = CRS.from_epsg(4547)
BAD_TYPE = SCRIPTS[0]  # a facility type code nobody defined: shown as itself in legends and popups
LEAFLET_MAP = "Object.values(window).find(v => v instanceof L.Map)"


def _compounds() -> gpd.GeoDataFrame:
    n = len(SCRIPTS)
    frame = pd.DataFrame(
        {
            "fid": range(1, n + 1),
            "name": SCRIPTS,
            "district": SCRIPTS[1:] + SCRIPTS[:1],
            "street": SCRIPTS[2:] + SCRIPTS[:2],
            "community": SCRIPTS[3:] + SCRIPTS[:3],
            "built_year": 1990,
            "households": 100,
            "population": 300,
            "stage": ["survey", None] * (n // 2) + ["survey"] * (n % 2),
            "property_mgmt": None,
        }
    )
    shapes = [shapely.box(116.35 + 0.004 * i, 40.0, 116.352 + 0.004 * i, 40.002) for i in range(n)]
    return gpd.GeoDataFrame(frame, geometry=shapes, crs=4326).to_crs(WORKING)


def _facilities() -> gpd.GeoDataFrame:
    n = len(SCRIPTS)
    frame = pd.DataFrame(
        {
            "fid": range(101, 101 + n),
            "name": SCRIPTS,
            "type": [BAD_TYPE, "kindergarten"] * (n // 2) + [BAD_TYPE] * (n % 2),
            "capacity": 90,
            "address": SCRIPTS[4:] + SCRIPTS[:4],
        }
    )
    points = [shapely.Point(116.3525 + 0.004 * i, 40.0025) for i in range(n)]
    return gpd.GeoDataFrame(frame, geometry=points, crs=4326).to_crs(WORKING)


def _gaps() -> gpd.GeoDataFrame:
    n = len(SCRIPTS)
    frame = pd.DataFrame(
        {
            "run_id": 1,
            "compound_id": range(1, n + 1),
            "facility_type": BAD_TYPE,
            "distance_m": 450.0,
            "radius_m": 300.0,
            "covered": False,
            "nearest_facility_name": SCRIPTS[5:] + SCRIPTS[:5],
            "flag": SCRIPTS[6:] + SCRIPTS[:6],
            "basis": "euclidean",
        }
    )
    return gpd.GeoDataFrame(frame, geometry=[shapely.Point(0, 0)] * n, crs=WORKING)


def _context(**extra: Any) -> ExportContext:
    return ExportContext(
        registry=registry(),
        role="public",
        working_crs=WORKING,
        layers={"compounds": _compounds(), "facilities": _facilities()},
        attribution=SCRIPTS[1],
        today=date(2026, 11, 30),
        **extra,
    )


def _every_feature_text(w: Watched) -> list[str]:
    """Hover (tooltip) and click (popup) every feature of a folium page, as the mouse would (the
    events reach the layer's group, which binds both); returns what they showed."""
    return w.page.evaluate(
        f"""(() => {{ const m = {LEAFLET_MAP}; const out = [];
            m.eachLayer(l => {{ if (!l.feature) return;
                const at = l.getLatLng ? l.getLatLng() : l.getBounds().getCenter();
                l.fire('mouseover', {{latlng: at}}, true);
                document.querySelectorAll('.leaflet-tooltip').forEach(t => out.push(t.textContent));
                l.fire('mouseout', {{latlng: at}}, true);
                l.fire('click', {{latlng: at}}, true);
                document.querySelectorAll('.leaflet-popup-content').forEach(p => out.push(p.textContent));
                m.closePopup();
            }}); return out; }})()"""
    )


def _click_first_compound(w: Watched) -> str:
    """A real mouse hover and click on the first compound; returns its popup's text."""
    xy = w.page.evaluate(
        f"""(() => {{ const m = {LEAFLET_MAP}; let p = null;
            m.eachLayer(l => {{ if (!p && l.feature && l.feature.properties.fid === 1) {{
                p = m.latLngToContainerPoint(l.getBounds().getCenter()); }} }});
            return [p.x, p.y]; }})()"""
    )
    w.page.mouse.move(xy[0], xy[1])
    w.page.mouse.click(xy[0], xy[1])
    w.page.wait_for_selector(".leaflet-popup-content")
    return w.page.inner_text(".leaflet-popup-content")


def _open(w: Watched, url: str) -> None:
    w.page.goto(url)
    w.page.wait_for_selector(".leaflet-interactive")


def test_offline_gap_map_shows_every_hostile_value_as_text(watched: Any, tmp_path: Path) -> None:
    catchment = gpd.GeoDataFrame(
        {"radius_m": [300.0]}, geometry=[shapely.box(116.349, 39.999, 116.40, 40.003)], crs=4326
    ).to_crs(WORKING)
    ctx = _context(gaps=_gaps(), catchment=catchment)
    options = MapOptions(colour="gap", facility=BAD_TYPE, catchment=True, title=SCRIPTS[2])
    path = save(build_map(ctx, options), tmp_path / "map.html")
    w = watched()
    _open(w, path.as_uri())
    assert SCRIPTS[0] in _click_first_compound(w)
    shown = "\n".join(_every_feature_text(w))
    inert(w)
    for value in SCRIPTS:  # names, streets, communities, nearest facilities, addresses, the type
        assert value in shown, value
    labels = w.page.eval_on_selector_all(".gisplan-label", "els => els.map(e => e.textContent)")
    assert sorted(labels) == sorted(SCRIPTS)
    assert w.page.inner_text(".gisplan-title").startswith(SCRIPTS[2])
    assert SCRIPTS[1] in w.page.inner_text(".gisplan-title")  # the attribution
    legend = w.page.inner_text(".gisplan-legend")
    assert f"小区 · {BAD_TYPE}" in legend and f"{BAD_TYPE} 300 米" in legend
    assert f"({BAD_TYPE})" in w.page.inner_text(".leaflet-control-layers")
    assert w.errors == []


def test_offline_progress_map_shows_hostile_streets_as_text(watched: Any, tmp_path: Path) -> None:
    streets = [{"street": s, "projects": 2, "started": 1, "finished": 0, "overdue": 1} for s in SCRIPTS]
    figures = {"year": 2026, "month": SCRIPTS[3], "compounds": {"1": {"overdue": True}}, "streets": streets}
    path = save(build_map(_context(progress=figures), MapOptions(colour="progress")), tmp_path / "progress.html")
    w = watched()
    _open(w, path.as_uri())
    _every_feature_text(w)
    inert(w)
    cells = w.page.eval_on_selector_all(".gisplan-figures td:first-child", "els => els.map(e => e.textContent)")
    assert cells == SCRIPTS
    assert SCRIPTS[3] in w.page.inner_text(".gisplan-figures b")


def test_compound_reports_show_hostile_values_as_text(watched: Any, tmp_path: Path) -> None:
    ctx = _context(gaps=_gaps())
    index, *reports = write_reports(ctx, tmp_path / "reports")
    w = watched()
    w.page.goto(index.as_uri())
    assert w.page.eval_on_selector_all("li a", "els => els.map(e => e.textContent)") == SCRIPTS
    inert(w)
    for i, path in enumerate(reports):
        w.page.goto(path.as_uri())
        assert w.page.inner_text("h1") == f"一区一策 · {SCRIPTS[i]}"
        assert w.page.title() == f"一区一策 · {SCRIPTS[i]}"
        body = w.page.inner_text("body")
        # its street and community, the nearest facility and flag of its gap, the facilities nearby
        for value in (SCRIPTS[(i + 2) % 7], SCRIPTS[(i + 3) % 7], SCRIPTS[(i + 5) % 7], SCRIPTS[(i + 6) % 7]):
            assert value in body, (i, value)
        inert(w)
    assert w.errors == []


@pytest.fixture
def hostile_site(ws: Workspace, tmp_path: Path) -> Iterator[tuple[str, Workspace]]:
    """Hostile compounds and facilities loaded as any import would, a gap run, the app served."""
    compounds, facilities = write_layers(tmp_path)
    ws.load("compounds", compounds, actor="test")
    ws.load("facilities", facilities, actor="test")
    ws.gaps(["kindergarten"])
    with serve(create_app(workspace=ws)) as base:
        yield base, ws


def test_web_map_and_served_pages_show_hostile_values_as_text(
    hostile_site: tuple[str, Workspace], watched: Any, tmp_path: Path
) -> None:
    base, ws = hostile_site
    stored = ws.layer("compounds")
    names = dict(zip(stored["fid"].astype(int), stored["name"], strict=True))
    streets = dict(zip(stored["fid"].astype(int), stored["street"], strict=True))
    w = watched()
    w.page.goto(f"{base}/?mode=gap&facility=kindergarten")
    w.page.wait_for_selector("body[data-ready='1']")
    # search: the results list names every hostile compound as text
    w.page.fill("#search", "pwned")
    w.page.press("#search", "Enter")
    w.page.wait_for_selector("#search-results li")
    items = w.page.eval_on_selector_all("#search-results li", "els => els.map(e => e.textContent)")
    expected = [f"{n} · {streets[f]}" for f, n in names.items() if "pwned" in n]
    assert sorted(items) == sorted(expected)
    # click every result: the info panel shows the compound's fields as text
    for k in range(len(items)):
        w.page.locator("#search-results li").nth(k).click()
        w.page.wait_for_function("() => document.querySelector('#info-body table + h3 + table tr') !== null")
        title = w.page.eval_on_selector("#info-body h3", "e => e.textContent")
        fid = next(f for f, n in names.items() if n == title)
        assert streets[fid] in w.page.eval_on_selector("#info-body", "e => e.textContent")
    w.page.fill("#search", "没有这样的小区")
    w.page.press("#search", "Enter")
    w.page.wait_for_function("() => document.querySelector('#search-results li')?.textContent === '未找到'")
    # and a click on the map itself
    box = w.page.locator("#map").bounding_box()
    assert box is not None
    w.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    w.page.wait_for_timeout(300)
    inert(w)
    assert w.errors == []
    # the offline map and a report as served, and a notebook's ws.map saved to a file
    page = httpx.get(f"{base}/api/exports/map.html", params={"colour": "gap", "facility": "kindergarten"}, timeout=60)
    assert page.status_code == 200
    served = tmp_path / "served.html"
    served.write_text(page.text, encoding="utf-8")
    notebook = save(ws.map("gap", facility="kindergarten"), tmp_path / "notebook.html")
    for path in (served, notebook):
        w = watched()
        _open(w, path.as_uri())
        shown = "\n".join(_every_feature_text(w))
        inert(w)
        for name in names.values():
            assert name in shown, name
    w = watched()
    first = min(names)
    w.page.goto(f"{base}/api/exports/reports/{first}.html")
    assert w.page.inner_text("h1") == f"一区一策 · {names[first]}"
    inert(w)
    # the OGC API's HTML encoding: the items table and a feature's page show the names as text
    w = watched()
    w.page.goto(f"{base}/ogc/collections/compounds/items?f=html&limit=100")
    cells = w.page.eval_on_selector_all("td", "els => els.map(e => e.textContent)")
    assert set(names.values()) <= set(cells)
    inert(w)
    w.page.goto(f"{base}/ogc/collections/compounds/items/{first}?f=html")
    assert names[first] in w.page.eval_on_selector_all("td", "els => els.map(e => e.textContent)")
    inert(w)


def test_the_web_map_builds_no_html_from_strings() -> None:
    """app.js fills the page with DOM nodes and textContent only: no innerHTML or HTML strings."""
    source = (Path(__file__).resolve().parents[2] / "gis" / "web" / "static" / "app.js").read_text("utf-8")
    assert re.findall(r"\.(?:inner|outer)HTML\b|insertAdjacentHTML|document\.write|DOMParser", source) == []
