"""The tile cache: a kept tile is served until its layer changes, by any writer; never across roles."""

from __future__ import annotations

import threading

import httpx
import mapbox_vector_tile
import morecantile
from sqlalchemy import text

from api.main import create_app
from gis.demo import sample_path
from gis.ogc.tile_cache import TileCache
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers.live import serve

TMS = morecantile.tms.get("WebMercatorQuad")


def _names(content: bytes) -> set[str]:
    decoded = mapbox_vector_tile.decode(content)
    return {f["properties"]["name"] for f in decoded.get("compounds", {}).get("features", [])}


def test_a_kept_tile_is_served_until_an_edit_or_a_dba_changes_its_layer(ws: Workspace) -> None:
    ws.load("compounds", sample_path(), source_layer="compounds")
    token = add_user(ws.engine, "规划师", "planner")
    auth = {"Authorization": f"Bearer {token}"}
    compounds = ws.layer("compounds", crs=4326).set_index("name")
    point = compounds.geometry["富润家园"].representative_point()
    t = TMS.tile(point.x, point.y, 15)
    app = create_app(workspace=ws)
    with serve(app) as base, httpx.Client(base_url=f"{base}/ogc/collections/compounds", timeout=60) as c:
        cache: TileCache = app.state.tiles
        url = f"/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}"
        # a planner's tile is kept under the planner's role: the public's is rendered apart, without
        # the planners' fields
        planner = c.get(url, headers=auth)
        public = c.get(url)
        assert cache.renders == 2
        assert all(
            "synthetic" in f["properties"] for f in mapbox_vector_tile.decode(planner.content)["compounds"]["features"]
        )
        assert all(
            "synthetic" not in f["properties"]
            for f in mapbox_vector_tile.decode(public.content)["compounds"]["features"]
        )
        again = c.get(url)
        assert (cache.renders, again.content, again.headers["etag"]) == (2, public.content, public.headers["etag"])
        assert cache.hits >= 1 and "富润家园" in _names(again.content)
        assert c.get(url, headers={"If-None-Match": public.headers["etag"]}).status_code == 304

        # an edit through the API: the next tile is rendered again and holds the new name
        fid = int(compounds.loc["富润家园", "fid"])
        item = c.get(f"/items/{fid}", headers=auth)
        patched = c.patch(
            f"/items/{fid}",
            json={"properties": {"name": "富润家园（改）"}},
            headers={**auth, "If-Match": item.headers["etag"]},
        )
        assert patched.status_code == 204, patched.text
        edited = c.get(url)
        assert "富润家园（改）" in _names(edited.content) and "富润家园" not in _names(edited.content)
        assert edited.headers["etag"] != public.headers["etag"] and cache.renders == 3
        assert c.get(url, headers={"If-None-Match": public.headers["etag"]}).status_code == 200

        # a change the server did not make (a DBA's statement): the same
        with ws.engine.begin() as conn:
            conn.execute(text("DELETE FROM compounds WHERE fid = :f"), {"f": fid})
        gone = c.get(url)
        assert "富润家园（改）" not in _names(gone.content) and cache.renders == 4
        # the tiles kept under the layer's older counts are let go at once
        assert cache.size <= len(gone.content) + 1024


def test_one_render_for_many_waiting_a_bound_in_bytes_and_none_kept_at_zero(ws: Workspace) -> None:
    ws.load("compounds", sample_path(), source_layer="compounds")
    layer = ws.registry.layer("compounds")
    srid = ws.working_crs.to_epsg()
    west, south, east, north = ws.layer("compounds", crs=4326).total_bounds
    cache = TileCache(10**7)
    got: list[bytes] = []
    threads = [
        threading.Thread(
            target=lambda: got.append(cache.tile(ws.engine, layer, "public", 0, 0, 0, working_srid=srid).data)
        )
        for _ in range(8)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert cache.renders == 1 and len(set(got)) == 1 and len(_names(got[0])) == 9

    # tiles over the data at z10-z16: the cache never holds more than its bound
    tiles = [TMS.tile((west + east) / 2, (south + north) / 2, z) for z in range(10, 17)]
    sizes = [len(cache.tile(ws.engine, layer, "public", t.z, t.x, t.y, working_srid=srid).data) for t in tiles]
    small = TileCache(max(sizes) + 300)
    for t in tiles:
        small.tile(ws.engine, layer, "public", t.z, t.x, t.y, working_srid=srid)
        assert small.size <= small.max_bytes
    assert small.renders == len(tiles)

    none = TileCache(0)
    for _ in range(3):
        none.tile(ws.engine, layer, "public", 0, 0, 0, working_srid=srid)
    assert none.renders == 3 and none.size == 0
