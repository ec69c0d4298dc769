"""Nothing restricted reaches the public: every public body, of every kind, searched for it.

The whole sample is loaded (pipelines included), analysed and its programme advanced; then every
GET route the public may call is fetched with no token and its body searched — JSON and HTML as
text, GeoPackages by their table and column names, vector tiles by their layer names and keys,
XLSX by every cell — for the restricted layer's names, the code lists only it uses, and the
provenance columns (``extra``, ``source``, ``source_key``, ``synthetic``).
"""

from __future__ import annotations

import io
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mapbox_vector_tile
import morecantile
import openpyxl
import pytest

from api.main import create_app
from gis.registry import registry
from gis.roles import visible_layers
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers.live import serve

pytestmark = pytest.mark.sample  # the database is a copy of the prepared sample

PROVENANCE = ("extra", "source", "source_key", "synthetic")
GAP_TYPES = ["kindergarten", "elderly_station"]


def forbidden_words() -> list[str]:
    """What a public body must never contain: each restricted layer's id and labels, and the ids of the
    code lists that only restricted layers use (their codes are short, so the list ids stand for them)."""
    reg = registry()
    restricted = [layer for layer in reg.layers.values() if layer.restricted]
    assert restricted, "the registry declares no restricted layer: nothing would be tested"
    # Evidence is restricted for what it shows, not for being there: its published photos (公示) are
    # served to everyone under /api/evidence/published, so its name is public by design; its other
    # items, fields and code lists are not.
    words = [w for layer in restricted if layer.id != "evidence" for w in (layer.id, layer.table, layer.label.zh)]
    public_lists = {f.codes for layer in reg.layers.values() if not layer.restricted for f in layer.fields if f.public}
    private_lists = {f.codes for layer in restricted for f in layer.fields if f.codes} - public_lists
    assert "pipeline_kind" in private_lists
    return sorted({*words, *private_lists})


@pytest.fixture
def public_site(ws: Workspace, tmp_path: Path) -> Iterator[tuple[str, Workspace]]:
    assert len(ws.layer("pipelines")) > 0  # there is something to leak
    assert set(GAP_TYPES) <= set(ws.gap_run().results["facility_type"])
    with serve(create_app(workspace=ws)) as base:
        yield base, ws


def text_hits(body: str, words: list[str]) -> list[str]:
    hits = [w for w in words if re.search(rf"(?<![A-Za-z_]){re.escape(w)}(?![A-Za-z_])", body)]
    keys = [k for k in PROVENANCE if re.search(rf'"{k}"\s*:', body)]
    return hits + [f"key {k}" for k in keys]


def gpkg_names(data: bytes, tmp: Path) -> str:
    path = tmp / "public.gpkg"
    path.write_bytes(data)
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT table_name FROM gpkg_contents")]
        names = [*tables]
        for t in tables:
            names += [f'"{r[1]}": ' for r in db.execute(f'PRAGMA table_info("{t}")')]  # as keys, for PROVENANCE
        styles = (
            [r[0] for r in db.execute("SELECT styleQML FROM layer_styles")]
            if "layer_styles" in {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
            else []
        )
    return "\n".join(names + styles)


def xlsx_text(data: bytes) -> str:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return "\n".join(str(c.value) for sheet in book for row in sheet.iter_rows() for c in row if c.value is not None)


def tile_text(data: bytes) -> str:
    decoded: dict[str, Any] = mapbox_vector_tile.decode(data)
    parts = []
    for name, layer in decoded.items():
        parts.append(name)
        for feature in layer["features"]:
            parts += [f'"{k}": ' for k in feature["properties"]]
    return "\n".join(parts)


def public_urls(ws: Workspace, base: str) -> list[str]:
    """Every GET route a public caller can reach with data behind it (the OpenAPI lists the rest)."""
    compounds = ws.layer("compounds")
    cid = int(compounds["fid"].iloc[0])
    centre = compounds.to_crs(4326).union_all().centroid
    urls = [
        "/openapi.json",
        "/ogc",
        "/ogc/conformance",
        "/ogc/collections",
        "/api/map/config",
        f"/api/map/compounds/{cid}/gaps",
        "/api/exports/map.html",
        "/api/exports/gaps.csv",
        f"/api/exports/reports/{cid}.html",
        "/ogc/collections/pipelines",  # the problem body of a restricted collection
        "/ogc/collections/no_such_layer",
        "/api/evidence/published",
    ]
    urls += [f"/api/map/gaps/{t}" for t in GAP_TYPES] + [f"/api/map/catchments/{t}" for t in GAP_TYPES]
    for layer in visible_layers(ws.registry, "public"):
        c = f"/ogc/collections/{layer.id}"
        urls += [c, f"{c}/queryables", f"{c}/items?limit=50", f"{c}/tiles/WebMercatorQuad/tilejson.json"]
        first = ws.layer(layer.id)
        if len(first):
            urls.append(f"{c}/items/{int(first['fid'].iloc[0])}")
        for z in (0, 6, 12, 15):
            tile = morecantile.tms.get("WebMercatorQuad").tile(centre.x, centre.y, z)
            urls.append(f"{c}/tiles/WebMercatorQuad/{z}/{tile.y}/{tile.x}")
    return [base + u for u in urls]


def test_no_public_body_names_a_restricted_layer_or_provenance(
    public_site: tuple[str, Workspace], tmp_path: Path
) -> None:
    base, ws = public_site
    words = forbidden_words()
    leaks: dict[str, list[str]] = {}
    fetched = 0
    with httpx.Client(timeout=120) as client:
        for url in [*public_urls(ws, base), base + "/api/exports/gisplan.gpkg", base + "/api/exports/gaps.xlsx"]:
            r = client.get(url)
            assert r.status_code < 500, (url, r.status_code, r.text[:300])
            fetched += 1
            kind = r.headers.get("content-type", "")
            if "geopackage" in kind or url.endswith(".gpkg"):
                body = gpkg_names(r.content, tmp_path)
            elif "spreadsheetml" in kind:
                body = xlsx_text(r.content)
            elif "vector-tile" in kind:
                body = tile_text(r.content) if r.content else ""
            else:
                body = r.text
            for segment in httpx.URL(url).path.split("/"):  # a problem body may echo what was asked
                body = body.replace(f"'{segment}'", "''").replace(f"/{segment}", "/")
            found = text_hits(body, words)
            if found:
                leaks[url.removeprefix(base)] = found
    assert fetched > 40
    assert not leaks, leaks


def test_a_planner_does_get_them(public_site: tuple[str, Workspace], tmp_path: Path) -> None:
    """The negative control: the same search finds the restricted layer in a planner's bodies, so the
    search above would have seen a leak."""
    base, ws = public_site
    token = add_user(ws.engine, "规划师", "planner")
    headers = {"Authorization": f"Bearer {token}"}
    words = forbidden_words()
    with httpx.Client(timeout=120, headers=headers) as client:
        config = client.get(base + "/api/map/config").text
        gpkg = client.get(base + "/api/exports/gisplan.gpkg", params={"restricted": "true"}).content
        items = client.get(base + "/ogc/collections/compounds/items?limit=5").text
    assert "pipelines" in text_hits(config, words) and "pipeline_kind" in text_hits(config, words)
    assert "pipelines" in text_hits(gpkg_names(gpkg, tmp_path), words)
    assert "key source" in text_hits(items, words) and "key extra" in text_hits(items, words)
