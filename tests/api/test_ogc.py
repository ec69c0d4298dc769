"""OGC API – Features through real clients: GDAL from Debian, owslib, httpx; roles and problems."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest
import shapely
from owslib.ogcapi.features import Features

from gis.demo import sample_path
from gis.workspace import Workspace

pytestmark = pytest.mark.heavy  # a long module: collected first (tests/conftest.py)


def gdal(args: list[str], headers: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"GDAL_HTTP_HEADERS": headers} if headers else {})}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_gdal_lists_public_collections_and_a_planner_sees_pipelines(server: tuple[str, str]) -> None:
    base, token = server
    public = gdal(["ogrinfo", "-ro", "-so", f"OAPIF:{base}/ogc"])
    assert public.returncode == 0, public.stderr
    assert "compounds" in public.stdout and "roads" in public.stdout
    assert "pipelines" not in public.stdout
    planner = gdal(["ogrinfo", "-ro", "-so", f"OAPIF:{base}/ogc"], headers=f"Authorization: Bearer {token}")
    assert "pipelines" in planner.stdout


def test_ogr2ogr_copies_a_collection_with_chinese_attributes(server: tuple[str, str], tmp_path: Path) -> None:
    base, _ = server
    out = tmp_path / "compounds.gpkg"
    result = gdal(["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{base}/ogc", "compounds"])
    assert result.returncode == 0, result.stderr
    info = gdal(["ogrinfo", "-ro", "-al", "-q", str(out)])
    assert "富润家园" in info.stdout and "学院路街道" in info.stdout


def test_owslib_reads_collections_items_bbox_and_filters(server: tuple[str, str]) -> None:
    base, _ = server
    api = Features(f"{base}/ogc")
    ids = [c["id"] for c in api.collections()["collections"]]
    assert "compounds" in ids and "pipelines" not in ids
    everything = api.collection_items("compounds", limit=100)
    assert everything["numberMatched"] == 9
    bbox = api.collection_items("compounds", bbox=[116.3460, 39.9970, 116.3500, 40.0000])
    assert 0 < bbox["numberReturned"] < 9
    named = api.collection_items("facilities", type="kindergarten")
    assert named["numberMatched"] == 2 and {f["properties"]["type"] for f in named["features"]} == {"kindergarten"}


def test_paging_by_next_links_returns_every_feature_once(server: tuple[str, str]) -> None:
    base, _ = server
    url: str | None = f"{base}/ogc/collections/roads/items?limit=40"
    seen: list[int] = []
    with httpx.Client() as client:
        while url:
            page = client.get(url).json()
            seen += [f["id"] for f in page["features"]]
            url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert len(seen) == len(set(seen)) == page["numberMatched"] == 297
    past = httpx.get(f"{base}/ogc/collections/roads/items?limit=40&offset=5000").json()
    assert past["numberReturned"] == 0 and past["numberMatched"] == 297
    filtered = httpx.get(f"{base}/ogc/collections/roads/items", params={"limit": 5, "highway": "footway"}).json()
    assert filtered["numberReturned"] == 5 and filtered["numberMatched"] > 5
    # a filtered page that comes out short is the last: its count is the rows before it and in it,
    # the same as the full count; past the end it is counted again
    n = filtered["numberMatched"]
    for offset, returned in ((n - 2, 2), (0, n), (n + 10, 0)):
        page = httpx.get(
            f"{base}/ogc/collections/roads/items", params={"limit": n + 5, "offset": offset, "highway": "footway"}
        ).json()
        assert (page["numberReturned"], page["numberMatched"]) == (returned, n), offset


def test_restricted_collection_does_not_exist_for_the_public(server: tuple[str, str]) -> None:
    base, token = server
    with httpx.Client(base_url=f"{base}/ogc") as c:
        for path in (
            "/collections/pipelines",
            "/collections/pipelines/items",
            "/collections/pipelines/items/1",
            "/collections/pipelines/queryables",
        ):
            r = c.get(path)
            assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
            assert r.json() == c.get("/collections/no_such_layer" + path[len("/collections/pipelines") :]).json() | {
                "detail": r.json()["detail"],
                "instance": r.json()["instance"],
            }
        planner = c.get("/collections/pipelines/items?limit=1", headers={"Authorization": f"Bearer {token}"})
        assert planner.status_code == 200 and planner.json()["numberMatched"] > 0
        # public fields only: no unmapped attributes or provenance for the public
        props = c.get("/collections/compounds/items?limit=1").json()["features"][0]["properties"]
        assert not {"extra", "source", "source_key", "synthetic"} & set(props)  # provenance is for planners
        mine = c.get("/collections/compounds/items?limit=1", headers={"Authorization": f"Bearer {token}"}).json()
        assert "extra" in mine["features"][0]["properties"]


def test_problems_not_stack_traces(server: tuple[str, str]) -> None:
    base, _ = server
    bad = {
        "/collections/compounds/items?limit=100000000": 400,
        "/collections/compounds/items?limit=0": 400,
        "/collections/compounds/items?bbox=1,2,x,4": 400,
        "/collections/compounds/items?bbox=1,2,3": 400,
        "/collections/compounds/items?crs=EPSG:9999": 400,
        "/collections/compounds/items?colour=red": 400,
        "/collections/compounds/items?built_year=old": 400,
        "/collections/compounds/items/abc": 400,
        "/collections/compounds/items/999999": 404,
        "/collections/nope": 404,
    }
    with httpx.Client(base_url=f"{base}/ogc") as c:
        for path, status in bad.items():
            r = c.get(path)
            assert r.status_code == status, path
            body = r.json()
            assert r.headers["content-type"] == "application/problem+json" and body["status"] == status
            assert "Traceback" not in r.text and "psycopg" not in r.text and body["detail"]
        assert c.get("/collections", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_crs_axis_order_and_working_crs(server: tuple[str, str]) -> None:
    base, _ = server
    url = f"{base}/ogc/collections/facilities/items"
    with httpx.Client() as c:
        lonlat = c.get(url, params={"limit": 1}).json()["features"][0]["geometry"]["coordinates"]
        r = c.get(url, params={"limit": 1, "crs": "http://www.opengis.net/def/crs/EPSG/0/4490"})
        assert r.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4490>"
        latlon = r.json()["features"][0]["geometry"]["coordinates"]
        metres = c.get(url, params={"limit": 1, "crs": "http://www.opengis.net/def/crs/EPSG/0/4548"}).json()
    first = lonlat if isinstance(lonlat[0], float) else lonlat[0][0][0]
    flipped = latlon if isinstance(latlon[0], float) else latlon[0][0][0]
    assert 116 < first[0] < 117 and 39 < first[1] < 41  # CRS84: longitude first
    assert flipped[0] == pytest.approx(first[1], abs=1e-5) and flipped[1] == pytest.approx(first[0], abs=1e-5)
    m = metres["features"][0]["geometry"]["coordinates"]
    m = m if isinstance(m[0], float) else m[0][0][0]
    assert 400_000 < m[0] < 600_000 and 4_000_000 < m[1] < 5_000_000


def test_cql2_text_and_json_sortby_and_properties(server: tuple[str, str], ws: Workspace) -> None:
    base, token = server
    url = f"{base}/ogc/collections/compounds/items"
    everything = ws.layer("compounds")
    expected = sorted(everything[everything["built_year"] < 1990]["name"])
    with httpx.Client() as c:
        text_filter = c.get(url, params={"filter": "built_year < 1990 AND street = '学院路街道'"}).json()
        assert sorted(f["properties"]["name"] for f in text_filter["features"]) == expected
        assert text_filter["numberMatched"] == len(expected)
        as_json = '{"op": "<", "args": [{"property": "built_year"}, 1990]}'
        json_filter = c.get(url, params={"filter": as_json, "filter-lang": "cql2-json"}).json()
        assert json_filter["numberMatched"] == len(expected)
        spatial = c.get(
            url,
            params={
                "filter": "S_INTERSECTS(geometry, POLYGON((116.346 39.997, 116.350 39.997, 116.350 40.0, "
                "116.346 40.0, 116.346 39.997)))"
            },
        ).json()
        by_bbox = c.get(url, params={"bbox": "116.346,39.997,116.350,40.0"}).json()
        assert {f["id"] for f in spatial["features"]} == {f["id"] for f in by_bbox["features"]}
        ordered = c.get(url, params={"sortby": "-built_year", "properties": "name,built_year"}).json()["features"]
        years = [f["properties"]["built_year"] for f in ordered]
        assert years == sorted(years, reverse=True) and set(ordered[0]["properties"]) == {"name", "built_year"}
        for bad in ("built_year <", "colour = 'red'", "name LIKE"):
            r = c.get(url, params={"filter": bad})
            assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json", bad
        # a public filter cannot reach a planner-only column
        assert c.get(url, params={"filter": "source = 'x'"}).status_code == 400
        assert (
            c.get(url, params={"filter": "source = 'x'"}, headers={"Authorization": f"Bearer {token}"}).status_code
            == 200
        )
        assert c.get(url, params={"sortby": "password"}).status_code == 400


def test_vector_tiles_hold_the_features_and_no_restricted_field(server: tuple[str, str], ws: Workspace) -> None:
    import mapbox_vector_tile
    import morecantile

    base, token = server
    tms = morecantile.tms.get("WebMercatorQuad")
    compounds = ws.layer("compounds", crs=4326)
    point = compounds.set_index("name").geometry["富润家园"].representative_point()
    t = tms.tile(point.x, point.y, 16)
    url = f"{base}/ogc/collections/compounds/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}"
    with httpx.Client() as c:
        r = c.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        layer = mapbox_vector_tile.decode(r.content)["compounds"]
        names = {f["properties"]["name"] for f in layer["features"]}
        # independently: the compounds whose geometry meets the tile's bounds
        tile_box = shapely.box(*tms.bounds(t))
        expected = set(compounds[compounds.intersects(tile_box)]["name"])
        assert names == expected and "富润家园" in names
        assert all("extra" not in f["properties"] and "source" not in f["properties"] for f in layer["features"])
        # caching: an unchanged tile answers 304 to its ETag; clients must revalidate every time
        assert r.headers["cache-control"].endswith("no-cache")
        again = c.get(url, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304
        # pipelines' tiles and TileJSON do not exist for the public, do for a planner
        pipe_tile = f"{base}/ogc/collections/pipelines/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}"
        assert c.get(pipe_tile).status_code == 404
        assert c.get(f"{base}/ogc/collections/pipelines/tiles/WebMercatorQuad/tilejson.json").status_code == 404
        planner = c.get(pipe_tile, headers={"Authorization": f"Bearer {token}"})
        assert planner.status_code == 200 and "pipelines" in mapbox_vector_tile.decode(planner.content)
        tj = c.get(f"{base}/ogc/collections/compounds/tiles/WebMercatorQuad/tilejson.json").json()
        assert tj["tilejson"] == "3.0.0" and "{z}/{y}/{x}" in tj["tiles"][0]
        assert "extra" not in tj["vector_layers"][0]["fields"] and "name" in tj["vector_layers"][0]["fields"]
        assert c.get(f"{base}/ogc/collections/compounds/tiles/WebMercatorQuad/3/99/99").status_code == 404


def test_edits_with_optimistic_concurrency_and_audit(server: tuple[str, str], ws: Workspace) -> None:
    from sqlalchemy import text

    base, token = server
    auth = {"Authorization": f"Bearer {token}"}
    items = f"{base}/ogc/collections/compounds/items"
    with httpx.Client(timeout=60) as c:  # the first edit starts a worker process (api.workers): seconds
        # the public cannot write
        assert c.post(items, json={"type": "Feature"}).status_code == 401
        # create, checked like an import: Chinese labels and codes resolved
        new = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [116.3500, 40.0010]},
            "properties": {"name": "新建小区", "built_year": "1989年", "property_mgmt": "准物业"},
        }
        created = c.post(items, json=new, headers=auth)
        assert created.status_code == 201, created.text
        url = created.headers["location"]
        fid = created.json()["id"]
        got = c.get(url)
        assert got.json()["properties"]["built_year"] == 1989 and got.json()["properties"]["property_mgmt"] == "basic"
        tag = got.headers["etag"]
        # a bad value is refused whole
        bad = c.patch(url, json={"properties": {"property_mgmt": "外星物业"}}, headers={**auth, "If-Match": tag})
        assert bad.status_code == 400 and "外星物业" in bad.json()["detail"]
        # two planners read the same version; the first write wins, the second gets 412
        first = c.patch(url, json={"properties": {"households": 120}}, headers={**auth, "If-Match": tag})
        assert first.status_code == 204
        second = c.patch(url, json={"properties": {"households": 999}}, headers={**auth, "If-Match": tag})
        assert second.status_code == 412 and second.headers["content-type"] == "application/problem+json"
        assert c.patch(url, json={"properties": {"households": 1}}, headers=auth).status_code == 428
        assert c.get(url).json()["properties"]["households"] == 120
        # replace the geometry, in the working CRS
        moved = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [442100.0, 4428300.0]},
            "properties": {"name": "新建小区", "households": 120},
        }
        gk = "<http://www.opengis.net/def/crs/EPSG/0/4548>"
        put = c.put(url, json=moved, headers={**auth, "If-Match": first.headers["etag"], "Content-Crs": gk})
        assert put.status_code == 204, put.text
        # and delete with the latest ETag
        assert c.delete(url, headers={**auth, "If-Match": first.headers["etag"]}).status_code == 412
        assert c.delete(url, headers={**auth, "If-Match": put.headers["etag"]}).status_code == 204
        assert c.get(url).status_code == 404
    with ws.engine.connect() as conn:
        story = conn.execute(
            text(
                "SELECT action, before->>'households', after->>'households' FROM audit_log "
                "WHERE layer = 'compounds' AND fid = :f ORDER BY id"
            ),
            {"f": fid},
        ).all()
    # exactly the applied changes, in order: the refused and the stale writes left no trace
    assert [tuple(r) for r in story] == [
        ("insert", None, None),
        ("update", None, "120"),
        ("update", "120", "120"),
        ("delete", "120", None),
    ]


def test_every_zoom_and_a_world_bbox_hold_what_lies_in_them(server: tuple[str, str], ws: Workspace) -> None:
    """The pyramid from z0 to z22 over one compound, and bboxes far beyond the working zone: each holds
    the features that lie in it (checked by shapely in Web Mercator), z0 and the world every one."""
    import mapbox_vector_tile
    import morecantile

    base, _ = server
    tms = morecantile.tms.get("WebMercatorQuad")
    compounds = ws.layer("compounds", crs=3857)
    point = ws.layer("compounds", crs=4326).set_index("name").geometry["富润家园"].representative_point()
    with httpx.Client(base_url=f"{base}/ogc/collections") as c:
        for bbox in ("-180,-90,180,90", "-180,-85,180,85", "100,20,130,50", "116,39.9,117,40.1"):
            page = c.get("/compounds/items", params={"bbox": bbox, "limit": 100}).json()
            assert page["numberMatched"] == len(compounds) == 9, bbox
        far = c.get("/compounds/items", params={"bbox": "-120,-50,-60,10"}).json()  # South America
        assert far["numberMatched"] == 0
        for z in range(23):
            t = tms.tile(point.x, point.y, z)
            r = c.get(f"/compounds/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}")
            assert r.status_code == 200, z
            decoded = mapbox_vector_tile.decode(r.content)
            assert "compounds" in decoded, f"z{z}: an empty tile ({len(r.content)} bytes)"
            names = {f["properties"]["name"] for f in decoded["compounds"]["features"]}
            left, bottom, right, top = tms.xy_bounds(t)
            margin = (right - left) * 64 / 4096  # the tile's buffer: features this close may be drawn too
            inside = set(compounds[compounds.intersects(shapely.box(left, bottom, right, top))]["name"])
            near = shapely.box(left - margin, bottom - margin, right + margin, top + margin)
            assert inside <= names <= set(compounds[compounds.intersects(near)]["name"]), z
            assert "富润家园" in names, z
            if z == 0:
                assert len(names) == 9


def test_a_feature_too_small_for_the_zoom_is_left_out_and_a_large_one_kept(
    server: tuple[str, str], ws: Workspace
) -> None:
    """Buildings (not drawn as points) over the zooms where the sample's buildings pass from many
    cells of the tile's grid to under one: measured by shapely in Web Mercator, a building that holds
    a disc of a cell's radius is in its tile, one whose box is under a third of a cell across is not."""
    import mapbox_vector_tile
    import morecantile

    base, _ = server
    ws.load("buildings", sample_path(), source_layer="buildings")
    tms = morecantile.tms.get("WebMercatorQuad")
    buildings = ws.layer("buildings", crs=3857)
    west, south, east, north = ws.layer("buildings", crs=4326).total_bounds
    seen_large = seen_small = 0
    with httpx.Client(base_url=f"{base}/ogc/collections") as c:
        for z in range(5, 13):
            t = tms.tile((west + east) / 2, (south + north) / 2, z)
            left, bottom, right, top = tms.xy_bounds(t)
            cell = (right - left) / 4096
            inside = buildings[buildings.within(shapely.box(left, bottom, right, top))]
            decoded = mapbox_vector_tile.decode(c.get(f"/buildings/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}").content)
            drawn = {f["id"] for f in decoded.get("buildings", {}).get("features", [])}
            large = set(inside[~inside.geometry.buffer(-cell).is_empty]["fid"])
            b = inside.geometry.bounds
            small = set(inside[((b.maxx - b.minx) ** 2 + (b.maxy - b.miny) ** 2) ** 0.5 < cell / 3]["fid"])
            assert large <= drawn, z
            assert not small & drawn, z
            seen_large, seen_small = seen_large + len(large), seen_small + len(small)
    assert seen_large > 100 and seen_small > 100, (seen_large, seen_small)  # both kinds were met on the way


def test_every_ogc_path_answers_with_and_without_a_trailing_slash(server: tuple[str, str]) -> None:
    base, _ = server
    with httpx.Client(base_url=base) as c:
        for path in (
            "/ogc",
            "/ogc/conformance",
            "/ogc/api",
            "/ogc/collections",
            "/ogc/collections/compounds",
            "/ogc/collections/compounds/items",
            "/ogc/collections/compounds/queryables",
            "/ogc/collections/compounds/tiles/WebMercatorQuad/tilejson.json",
        ):
            plain, slashed = c.get(path), c.get(path + "/")
            assert plain.status_code == slashed.status_code == 200, path
            assert plain.headers["content-type"] == slashed.headers["content-type"], path
            if "json" in plain.headers["content-type"]:
                assert plain.json() == slashed.json(), path
        assert c.get("/ogc/collections/pipelines/").status_code == 404  # the public still sees no pipelines


def test_the_service_desc_is_an_openapi_3_0_definition(server: tuple[str, str]) -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV30SpecValidator

    base, _ = server
    with httpx.Client(base_url=base) as c:
        links = c.get("/ogc").json()["links"]
        desc = next(link for link in links if link["rel"] == "service-desc")
        assert desc["type"] == "application/vnd.oai.openapi+json;version=3.0"
        answer = c.get(desc["href"])
        assert answer.headers["content-type"] == desc["type"]
        document = answer.json()
        assert document["openapi"].startswith("3.0.")
        validate(document, cls=OpenAPIV30SpecValidator)  # raises on any departure from OpenAPI 3.0
        # the OGC API's paths, relative to its base: the app's /ogc paths, their prefix taken off
        full = c.get("/openapi.json").json()
        ogc = {p.removeprefix("/ogc") or "/" for p in full["paths"] if p == "/ogc" or p.startswith("/ogc/")}
        assert full["openapi"].startswith("3.1") and set(document["paths"]) == ogc
        assert "/collections/{collection_id}/items" in document["paths"]
        (server,) = document["servers"]
        assert server["url"] == f"{base}/ogc" and c.get(server["url"] + "/collections").status_code == 200
        doc = next(link for link in links if link["rel"] == "service-doc")
        assert c.get(doc["href"]).status_code == 200


def test_an_html_encoding_for_planners_to_browse(server: tuple[str, str], ws: Workspace) -> None:
    base, _ = server
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    gdal_like = {"Accept": "application/geo+json, application/json"}
    with httpx.Client(base_url=f"{base}/ogc") as c:
        for path in ("", "/conformance", "/collections", "/collections/compounds", "/collections/compounds/items"):
            page = c.get(path, params={"f": "html"})
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), path
            assert "<script" not in page.text, path
            assert c.get(path, headers=browser).headers["content-type"].startswith("text/html"), path
            assert "json" in c.get(path, headers=gdal_like).headers["content-type"], path
            assert "json" in c.get(path).headers["content-type"], path  # no Accept: JSON, as before
            alternates = [link for link in c.get(path).json().get("links", []) if link["rel"] == "alternate"]
            assert path == "/conformance" or alternates[0]["type"] == "text/html", path
        listed = c.get("/collections", params={"f": "html"}).text
        assert "小区" in listed and "pipelines" not in listed
        table = c.get("/collections/compounds/items", params={"f": "html", "limit": 100}).text
        names = set(ws.layer("compounds")["name"])
        assert all(f"<td>{n}</td>" in table for n in names)
        fid = int(ws.layer("compounds")["fid"].iloc[0])
        assert c.get(f"/collections/compounds/items/{fid}", params={"f": "html"}).status_code == 200
        bad = c.get("/collections", params={"f": "xml"})
        assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
