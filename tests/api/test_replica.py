"""The public map on a read replica: with ``GISPLAN_READ_DATABASE_URL`` the public's reads go to a hot
standby (a real one: ``pg_basebackup -R`` of a primary, streaming), a planner's to the primary.

Shown by taking the primary away: the public's pages, tiles and map state still answer from the
standby, a planner's read answers 503. Before that, an edit on the primary reaches the public once
the standby has replayed it (the lag is the one thing a replica changes for the public).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import make_url, text

from api.main import create_app
from gis.demo import sample_path
from gis.settings import Settings
from gis.store.cluster import EmbeddedCluster
from gis.store.users import add_user
from gis.workspace import connect
from tests.helpers.replica import caught_up, standby

pytestmark = pytest.mark.heavy


def test_the_public_reads_the_standby_and_planners_the_primary(tmp_path: Path) -> None:
    primary = EmbeddedCluster(tmp_path / "home", data_dir=Path(tempfile.mkdtemp(prefix="gisplan-primary-")))
    primary.up()
    try:
        with standby(primary) as port:
            app_url = primary.app_url()
            read_url = make_url(app_url).set(port=port).render_as_string(hide_password=False)
            settings = Settings(
                database_url=app_url,
                owner_database_url=primary.owner_url(),
                read_database_url=read_url,
                home=tmp_path / "home",
            )
            ws = connect(settings=settings, serving=True, check=True)
            for layer in ("compounds", "facilities", "roads"):
                ws.load(layer, sample_path(), source_layer=layer)
            token = add_user(ws.engine, "alice", "planner")
            planner = {"Authorization": f"Bearer {token}"}
            su = {"primary": primary.url(driver="postgresql")}
            su["standby"] = make_url(su["primary"]).set(port=port).render_as_string(hide_password=False)
            caught_up(su["primary"], su["standby"])
            with TestClient(create_app(workspace=ws)) as client:
                page = client.get("/ogc/collections/compounds/items", params={"limit": 100})
                assert page.status_code == 200 and page.json()["numberMatched"] == 9
                first = page.json()["features"][0]
                # an edit on the primary reaches the public once the standby has replayed it
                with ws.engine.begin() as conn:
                    conn.execute(text("UPDATE compounds SET name = '复制测试' WHERE fid = :f"), {"f": first["id"]})
                caught_up(su["primary"], su["standby"])
                again = client.get(f"/ogc/collections/compounds/items/{first['id']}").json()
                assert again["properties"]["name"] == "复制测试"

                primary.down()  # the primary goes away: the standby alone answers the public
                assert client.get("/ogc/collections/compounds/items").status_code == 200
                assert client.get("/ogc/collections/compounds/tiles/WebMercatorQuad/0/0/0").status_code == 200
                assert client.get("/ogc/collections").status_code == 200
                assert client.get("/api/map/config").status_code == 200
                refused = client.get("/ogc/collections/compounds/items", headers=planner)
                assert refused.status_code == 503 and refused.headers["content-type"] == "application/problem+json"
            ws.close()
    finally:
        primary.destroy()
