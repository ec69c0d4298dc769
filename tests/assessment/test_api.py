"""The assessment over real HTTP: planners read a quarter's scores and its XLSX and record manual
scores; the public sees a quarter's ranking only once published, and then only the street totals;
only an admin publishes; a malformed quarter is a 400 problem+json (the house's answer to a bad parameter)."""

from __future__ import annotations

import io

import httpx
import openpyxl
import pytest

from api.main import create_app
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers.live import serve

pytestmark = pytest.mark.sample


def _problem(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"


def test_who_reads_and_publishes(ws: Workspace) -> None:
    planner = {"Authorization": f"Bearer {add_user(ws.engine, 'p-as', 'planner')}"}
    admin = {"Authorization": f"Bearer {add_user(ws.engine, 'a-as', 'admin')}"}
    item = ws.evidence.items().iloc[0]
    street = str(ws.layer("compounds", where={"fid": [int(item["compound_id"])]}).iloc[0]["street"])
    with serve(create_app(workspace=ws)) as base, httpx.Client(base_url=base, timeout=60) as http:
        r = http.get("/api/assessment/2026Q3", headers=planner)
        assert r.status_code == 200 and not r.json()["published"], r.text
        assert {i["item"] for i in r.json()["items"]} >= {"start_rate", "long_term_management"}
        _problem(http.get("/api/assessment/2026Q3"), 401)
        _problem(http.get("/api/assessment/2026Q3/ranking"), 404)  # not published: nothing for anyone there
        body = {"street": street, "item": "long_term_management", "points": 4, "note": "议事会记录齐全"}
        r = http.post("/api/assessment/2026Q3/manual", json={**body, "evidence": [int(item["id"])]}, headers=planner)
        assert r.status_code == 201 and r.json()["points"] == "4.00", r.text
        _problem(http.post("/api/assessment/2026Q3/manual", json={**body, "evidence": [999_999]}, headers=planner), 422)
        _problem(http.post("/api/assessment/2026Q3/publish", headers=planner), 403)
        r = http.post("/api/assessment/2026Q3/publish", headers=admin)
        assert r.status_code == 201 and r.json()["published"], r.text
        _problem(http.post("/api/assessment/2026Q3/publish", headers=admin), 409)
        _problem(
            http.post("/api/assessment/2026Q3/manual", json={**body, "evidence": [int(item["id"])]}, headers=planner),
            409,
        )

        public = http.get("/api/assessment/2026Q3/ranking")
        assert public.status_code == 200, public.text
        rows = public.json()["streets"]
        assert rows and all(set(r) == {"rank", "district", "street", "total"} for r in rows)
        assert "议事会" not in public.text and "evidence" not in public.text

        x = http.get("/api/assessment/2026Q3.xlsx", headers=planner)
        assert x.status_code == 200
        sheet = openpyxl.load_workbook(io.BytesIO(x.content)).active
        assert sheet is not None and "季度考核得分排名（2026年第3季度）" in str(sheet.cell(1, 1).value)
        assert sheet.cell(5, 3).value == street and sheet.cell(5, 1).value == 1

        for bad in ("2026Q5", "2026-Q3", "Q3", "20260Q1"):
            # the house answers a malformed parameter 400 problem+json (api/errors.py), as for a bad month
            _problem(http.get(f"/api/assessment/{bad}", headers=planner), 400)
            _problem(http.get(f"/api/assessment/{bad}/ranking"), 400)
        _problem(http.post("/api/assessment/2026Q4/manual", json={**body, "extra": 1}, headers=planner), 400)
