"""OGC API items as of an instant, over real HTTP: the page, count, filters, order and paging of the
layer as it stood then (checked against the layer read live at that instant), bad values as 400
problem+json, layers without row history as 422, and the public role's limits unchanged."""

from __future__ import annotations

from datetime import datetime

import httpx
from pyproj import CRS
from sqlalchemy import text

from gis.ogc import edits
from gis.roles import visible_fields
from gis.workspace import Workspace

PROBLEM = "application/problem+json"


def instant(ws: Workspace) -> datetime:
    with ws.engine.connect() as conn:
        at: datetime = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    return at


def names(body: dict[str, object]) -> list[str]:
    return [f["properties"]["name"] for f in body["features"]]  # type: ignore[attr-defined, index]


def test_items_as_of_an_instant(ws: Workspace, server: tuple[str, str]) -> None:
    base, token = server
    planner = {"Authorization": f"Bearer {token}"}
    t1, live1 = instant(ws), ws.layer("compounds")
    layer, working = ws.registry.layer("compounds"), ws.working_crs
    assert working is not None
    a = int(live1["fid"].min())
    edit = edits.Edit(ws.registry, layer, source_crs=CRS.from_epsg(4326), working_crs=working, actor="李四")
    change = {"type": "Feature", "properties": {"name": "改名小区"}}
    edits.replace(ws.engine, edit, a, change, expected_version=1, partial=True)
    t2 = instant(ws)
    items = "/ogc/collections/compounds/items"
    with httpx.Client(base_url=base, timeout=60) as client:
        then = client.get(items, params={"as_of": t1.isoformat()}, headers=planner)
        assert then.status_code == 200, then.text
        assert sorted(names(then.json())) == sorted(live1["name"])
        assert then.json()["numberMatched"] == len(live1) == 9
        now = client.get(items, params={"as_of": t2.isoformat()}, headers=planner).json()
        assert "改名小区" in names(now) and "改名小区" not in names(then.json())
        # order, paging and filters run over the layer as it stood
        by_name = sorted(live1["name"], reverse=True)
        page = client.get(items, params={"as_of": t1.isoformat(), "sortby": "-name", "limit": 3, "offset": 3})
        assert names(page.json()) == by_name[3:6] and page.json()["numberMatched"] == 9
        assert any(link["rel"] == "next" and "as_of=" in link["href"] for link in page.json()["links"])
        cql = {"filter": "name = '改名小区'"}
        assert client.get(items, params={"as_of": t1.isoformat(), **cql}).json()["numberMatched"] == 0
        assert client.get(items, params={"as_of": t2.isoformat(), **cql}).json()["numberMatched"] == 1
        one = client.get(f"{items}/{a}", params={"as_of": t1.isoformat()})
        assert one.status_code == 200 and one.json()["properties"]["name"] == live1.set_index("fid").loc[a, "name"]
        assert "etag" not in one.headers  # a past state is not a version to edit against
        # the public sees its own fields only, and never the restricted layer
        public = client.get(items, params={"as_of": t1.isoformat(), "limit": 1}).json()["features"][0]
        assert set(public["properties"]) == set(visible_fields(layer, "public"))
        hidden = client.get("/ogc/collections/pipelines/items", params={"as_of": t1.isoformat()})
        assert hidden.status_code == 404 and hidden.headers["content-type"] == PROBLEM
        pipes = client.get("/ogc/collections/pipelines/items", params={"as_of": t1.isoformat()}, headers=planner)
        assert pipes.status_code == 200 and pipes.json()["numberMatched"] == len(ws.layer("pipelines"))
        # what cannot be answered says why
        for bad in ["2026-02-30", "last month", "2026-03-31T12:00:00"]:
            refused = client.get(items, params={"as_of": bad})
            assert refused.status_code == 400 and refused.headers["content-type"] == PROBLEM, refused.text
            assert "as_of" in refused.json()["detail"]
        roads = client.get("/ogc/collections/roads/items", params={"as_of": "2026-03-31"})
        assert roads.status_code == 422 and roads.headers["content-type"] == PROBLEM
        assert "audited" in roads.json()["detail"] and "pipelines" not in roads.text  # names no restricted layer
