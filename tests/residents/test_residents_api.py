"""The public's feedback over real HTTP from 127.0.0.1: a flood answers 429 with Retry-After (never a
5xx), nothing is shown before a planner publishes it, the contact never reaches a public body; an
oversize body is 413 problem+json; hostile text comes back as JSON text, and the web map inserts it
with textContent only."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from api.main import create_app
from gis import clock
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers.live import serve

pytestmark = pytest.mark.sample
CONTACT = "13912345678"
HOSTILE = "<script>alert(\"x\")</script> =cmd|' /C calc'!A0 电话13912345678"


def _problem(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json" and r.json()["detail"]


def test_flood_moderation_and_what_the_public_sees(ws: Workspace) -> None:
    planner = {"Authorization": f"Bearer {add_user(ws.engine, 'p-res', 'planner')}"}
    compound = int(ws.layer("compounds")["fid"].min())
    today = clock.today()
    with serve(create_app(workspace=ws)) as base, httpx.Client(base_url=base, timeout=60) as http:
        sent = {"compound_id": compound, "text": HOSTILE, "rating": 2, "contact": CONTACT}
        statuses = []
        for _ in range(300):
            r = http.post("/api/feedback", json=sent)
            statuses.append(r.status_code)
            if r.status_code == 429:
                _problem(r, 429)
                assert int(r.headers["Retry-After"]) >= 1
        assert statuses[:5] == [202] * 5 and set(statuses[5:]) == {429}  # 5 per client address (residents.yaml)
        assert not any(s >= 500 for s in statuses)
        assert len(ws.residents.feedback()) == 5
        # nothing public before moderation; the contact never in a public body
        assert http.get("/api/feedback/published").json() == []
        assert http.get(f"/api/feedback/published?compound_id={compound}").json() == []
        _problem(http.get("/api/feedback"), 401)
        listed = http.get("/api/feedback", headers=planner).json()
        assert listed[0]["contact"] == CONTACT and listed[0]["moderation"] == "pending"
        first = listed[0]["id"]
        r = http.post(f"/api/feedback/{first}/answer", json={"reply": "已转物业处理"}, headers=planner)
        assert r.status_code == 200, r.text
        assert http.post(f"/api/feedback/{first}/publish", json={}, headers=planner).status_code == 200
        _problem(http.post(f"/api/feedback/{first}/publish", json={}), 401)
        public = http.get("/api/feedback/published")
        assert public.status_code == 200 and [p["id"] for p in public.json()] == [first]
        item = public.json()[0]
        assert set(item) == {"id", "compound_id", "text", "rating", "reply", "received_at", "published_at"}
        assert item["text"].startswith("<script>") and "=cmd|" in item["text"]  # JSON text, escaped by whoever shows it
        assert item["reply"] == "已转物业处理" and item["rating"] == 2
        # a notice open today with its text; the public list never carries the feedback's contact
        notice = {
            "compound_id": compound,
            "kind": "改造方案公示",
            "title": "方案",
            "text": HOSTILE.replace(CONTACT, ""),
            "from_on": str(today),
            "to_on": str(today + timedelta(days=5)),
        }
        _problem(http.post("/api/notices", json=notice), 401)
        assert http.post("/api/notices", json=notice, headers=planner).status_code == 201
        shown = http.get("/api/notices/public").json()
        assert [n["compound_id"] for n in shown] == [compound] and "evidence" in shown[0]
        for path in (
            "/api/feedback/published",
            "/api/notices/public",
            f"/api/feedback/published?compound_id={compound}",
        ):
            assert CONTACT not in http.get(path).text
        # bad and oversize bodies: problem+json, never a 5xx
        _problem(http.post("/api/feedback", json=sent | {"text": "x" * 1001}), 400)
        _problem(http.post("/api/feedback", json=sent | {"rating": 6}), 400)
        _problem(http.post("/api/feedback", json=sent | {"extra": 1}), 400)
        big = http.post(
            "/api/feedback", content=b'{"text": "' + b"x" * 20_000 + b'"}', headers={"content-type": "application/json"}
        )
        _problem(big, 413)


def test_the_web_map_inserts_text_with_text_content_only() -> None:
    app_js = (Path(__file__).resolve().parents[2] / "gis" / "web" / "static" / "app.js").read_text(encoding="utf-8")
    notice = app_js[app_js.index("async function showPublicNotice") :]
    notice = notice[: notice.index("\nfunction ", 10)]
    assert "/api/notices/public" in notice and "/api/feedback/published" in notice
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", app_js)
