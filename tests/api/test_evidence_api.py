"""Evidence over real HTTP: a multipart upload checked by content and capped, the files of published
items for everyone and nothing else of evidence for the public, a withdrawal after the lock for
admins only, the OGC collection for planners."""

from __future__ import annotations

import os
from datetime import date, timedelta

import httpx
import pytest

from api.main import create_app
from gis.evidence.service import Attachment
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers.live import serve
from tests.helpers.photos import PDF, photo

pytestmark = pytest.mark.sample


def _problem(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json" and r.json()["detail"]


def test_upload_publish_and_what_the_public_sees(ws: Workspace) -> None:
    planner = {"Authorization": f"Bearer {add_user(ws.engine, 'p-ev', 'planner')}"}
    admin = {"Authorization": f"Bearer {add_user(ws.engine, 'a-ev', 'admin')}"}
    compound = int(ws.layer("compounds")["fid"].min())
    lon, lat = ws.layer("compounds", where={"fid": compound}).to_crs(4326).geometry.iloc[0].representative_point().xy
    ws.settings.max_evidence_mb = 30
    with serve(create_app(workspace=ws)) as base, httpx.Client(base_url=base, timeout=60) as http:
        before = len(ws.evidence.items())
        sent = {"compound_id": str(compound), "category": "施工", "note": "<b>北门</b>"}
        pic = photo(lon=lon[0], lat=lat[0], taken="2026:05:10 09:30:00", colour=33)
        r = http.post(
            "/api/evidence", data=sent, files=[("files", ("a.jpg", pic)), ("files", ("s.pdf", PDF))], headers=planner
        )
        assert r.status_code == 201, r.text
        items = r.json()
        assert [i["flags"] for i in items] == [[], []] and [i["media_type"] for i in items] == [
            "image/jpeg",
            "application/pdf",
        ]
        assert items[0]["lon"] == pytest.approx(lon[0], abs=1e-6) and items[0]["note"] == "<b>北门</b>"
        photo_id, pdf_id = items[0]["id"], items[1]["id"]

        # refused whole, nothing stored: a script named .jpg; no compound; a file over evidence.yaml's cap
        script = [("files", ("ok.jpg", pic)), ("files", ("x.jpg", b"<script>alert(1)</script>"))]
        _problem(http.post("/api/evidence", data=sent, files=script, headers=planner), 415)
        _problem(
            http.post("/api/evidence", data={"category": "施工"}, files=[("files", ("a.jpg", pic))], headers=planner),
            400,
        )
        big = os.urandom(26 * 1024 * 1024)
        _problem(http.post("/api/evidence", data=sent, files=[("files", ("big.jpg", big))], headers=planner), 413)
        _problem(
            http.post(
                "/api/evidence",
                content=b"--x\r\nbroken",
                headers={**planner, "Content-Type": "multipart/form-data; boundary=x"},
            ),
            400,
        )
        _problem(http.post("/api/evidence", json={"compound_id": compound}, headers=planner), 415)
        _problem(http.post("/api/evidence", data=sent, files=[("files", ("a.jpg", pic))]), 401)
        assert len(ws.evidence.items()) == before + 2

        # the body cap, before anything is read
        ws.settings.max_evidence_mb = 1
        with serve(create_app(workspace=ws)) as small, httpx.Client(base_url=small, timeout=60) as other:
            r = other.post(
                "/api/evidence", data=sent, files=[("files", ("b.jpg", os.urandom(2 * 1024 * 1024)))], headers=planner
            )
            _problem(r, 413)
            assert "GISPLAN_MAX_EVIDENCE_MB" in r.json()["detail"]

        # the public: nothing of an unpublished item, not even that it exists
        for path in (
            f"/api/evidence/{photo_id}",
            f"/api/evidence/{photo_id}/file",
            f"/api/evidence/{photo_id}/thumbnail",
        ):
            _problem(http.get(path), 404)
        _problem(http.get("/api/evidence"), 401)
        _problem(http.get("/ogc/collections/evidence/items"), 404)
        assert photo_id not in [i["id"] for i in http.get("/api/evidence/published").json()]

        assert (
            http.post(f"/api/evidence/{photo_id}/publish", json={"published": True}, headers=planner).status_code == 200
        )
        _problem(http.post(f"/api/evidence/{pdf_id}/publish", json={"published": True}, headers=planner), 422)
        shown = http.get(f"/api/evidence/{photo_id}")
        assert shown.status_code == 200 and "note" not in shown.json() and "sha256" not in shown.json()
        got = http.get(f"/api/evidence/{photo_id}/file")
        assert got.content == pic and got.headers["content-type"] == "image/jpeg"
        assert (
            got.headers["x-content-type-options"] == "nosniff"
            and "default-src 'none'" in got.headers["content-security-policy"]
        )
        thumb = http.get(f"/api/evidence/{photo_id}/thumbnail")
        assert thumb.status_code == 200 and thumb.content[:3] == b"\xff\xd8\xff" and len(thumb.content) < len(pic)
        assert photo_id in [i["id"] for i in http.get("/api/evidence/published").json()]

        # planners: the OGC collection, the items and verify
        ogc = http.get("/ogc/collections/evidence/items", params={"limit": 500}, headers=planner).json()
        assert {f["id"] for f in ogc["features"]} >= {photo_id, pdf_id}
        assert next(f for f in ogc["features"] if f["id"] == pdf_id)["geometry"] is None
        scan = http.get(f"/api/evidence/{pdf_id}", headers=planner)  # no position: null, never NaN
        assert scan.status_code == 200 and scan.json()["lon"] is None
        _problem(
            http.delete(f"/ogc/collections/evidence/items/{photo_id}", headers={**planner, "If-Match": '"x"'}), 405
        )
        assert http.get("/api/evidence/verify", headers=planner).json()["ok"] is True

        # after the month is submitted only an admin withdraws, with a reason
        month = (date.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        old = ws.evidence.add(
            Attachment(compound, "违建"), [("o.jpg", photo(taken=f"{month.replace('-', ':')}:03 10:00:00", colour=99))]
        )
        old_id = int(old["id"].iloc[0])
        ws.programme.submit(month, actor="chief", role="admin")
        _problem(http.post(f"/api/evidence/{old_id}/withdraw", json={"reason": "错传"}, headers=planner), 403)
        _problem(http.post(f"/api/evidence/{old_id}/withdraw", json={"reason": ""}, headers=admin), 400)
        done = http.post(f"/api/evidence/{old_id}/withdraw", json={"reason": "错传"}, headers=admin)
        assert done.status_code == 200 and done.json()["withdrawn_by"].endswith("a-ev")
        # a withdrawn published photo leaves the public map (taken in May: a submitted month, an admin's)
        _problem(http.post(f"/api/evidence/{photo_id}/withdraw", json={"reason": "模糊"}, headers=planner), 403)
        assert (
            http.post(f"/api/evidence/{photo_id}/withdraw", json={"reason": "模糊"}, headers=admin).status_code == 200
        )
        _problem(http.get(f"/api/evidence/{photo_id}/file"), 404)
