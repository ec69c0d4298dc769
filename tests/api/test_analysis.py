"""Analyses over HTTP: 202 with a status URL, results as GeoJSON and CSV equal to the library's."""

from __future__ import annotations

import time
from datetime import datetime

import httpx

from gis.workspace import Workspace


def test_gap_analysis_over_http(server: tuple[str, str], ws: Workspace) -> None:
    base, token = server
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base) as c:
        assert c.post("/api/gaps", json={"facility": ["kindergarten"]}).status_code == 401
        assert c.post("/api/gaps", json={"tolerance_m": -1}, headers=auth).status_code == 400
        started = c.post("/api/gaps", json={"facility": ["kindergarten", "primary_school"]}, headers=auth)
        assert started.status_code == 202 and started.headers["location"].endswith(started.json()["job"])
        assert started.json()["status"] == "queued"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = c.get(started.headers["location"]).json()
            if state["status"] not in ("queued", "running"):
                break
            time.sleep(0.05)
        assert state["status"] == "done", state
        results = c.get(state["results"]).json()
        assert results["run"]["basis"] == "network" and len(results["features"]) == 2 * 9
        library = ws.gap_run(state["run_id"]).results.set_index(["compound_id", "facility_type"])["distance_m"]
        for f in results["features"]:
            p = f["properties"]
            assert p["distance_m"] == library[(p["compound_id"], p["facility_type"])]
        summary = c.get(f"/api/gaps/runs/{state['run_id']}/summary").json()["summary"]
        assert {s["facility_type"] for s in summary} == {"kindergarten", "primary_school"}
        csv = c.get(f"/api/exports/gaps/{state['run_id']}.csv")
        assert csv.status_code == 200 and csv.text.startswith("\ufeffcompound_id,compound_name,facility_type")
        listed = c.get("/api/gaps/runs").json()["runs"]
        assert [r["id"] for r in listed] == [state["run_id"]] and listed[0]["basis"] == "network"
        assert listed[0]["parameters"]["facility_types"] == ["kindergarten", "primary_school"]
        assert datetime.fromisoformat(listed[0]["at"]).tzinfo is not None
        assert c.get("/api/gaps/runs/99999").status_code == 404
        assert c.get("/api/jobs/nope").status_code == 404
