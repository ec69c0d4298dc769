"""Every change made over the API names the person who made it (``api:<user name>``), never a role:
feature edits in the audit log, gap runs, programme events, the 月报's 更正人 and its submitter."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import text

from api.main import create_app
from gis.demo import load_sample, run_programme_demo
from gis.store.users import add_user
from gis.workspace import Workspace


@pytest.fixture
def planned(ws: Workspace, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    load_sample(ws)
    run_programme_demo(ws, Console(file=io.StringIO()), out_dir=tmp_path / "programme")
    heads = {
        "alice": {"Authorization": f"Bearer {add_user(ws.engine, 'alice', 'planner')}"},
        "boss": {"Authorization": f"Bearer {add_user(ws.engine, '区住建委-王', 'admin')}"},
    }
    with TestClient(create_app(workspace=ws)) as client:
        yield client, {k: v["Authorization"] for k, v in heads.items()}


def test_every_write_names_the_person(planned: tuple[TestClient, dict[str, str]], ws: Workspace) -> None:
    client, auth = planned
    alice, boss = {"Authorization": auth["alice"]}, {"Authorization": auth["boss"]}

    # a feature edit: the audit log's row names alice
    item = client.get("/ogc/collections/compounds/items/2", headers=alice)
    patched = client.patch(
        "/ogc/collections/compounds/items/2",
        json={"properties": {"households": 1265}},
        headers={**alice, "If-Match": item.headers["ETag"]},
    )
    assert patched.status_code == 204, patched.text
    with ws.engine.connect() as conn:
        actor = conn.execute(
            text("SELECT actor FROM audit_log WHERE layer = 'compounds' AND fid = 2 ORDER BY id DESC LIMIT 1")
        ).scalar_one()
    assert actor == "api:alice"

    # a gap run started over HTTP
    job = client.post("/api/gaps", json={"facility": ["kindergarten"]}, headers=alice).json()
    for _ in range(600):
        state = client.get(f"/api/jobs/{job['job']}", headers=alice).json()
        if state["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert state["status"] == "done" and state["actor"] == "api:alice", state
    with ws.engine.connect() as conn:
        ran_by = conn.execute(text("SELECT actor FROM gap_runs WHERE id = :i"), {"i": state["run_id"]}).scalar_one()
    assert ran_by == "api:alice"
    assert "alice" not in client.get("/api/gaps/runs").text  # who ran it is not for the public

    # progress reported by a planner: the programme's event names her
    done = client.post("/api/programme/2/progress", json={"spent": 2000}, headers=alice)
    assert done.status_code == 200, done.text
    assert done.json()["history"][-1]["actor"] == "api:alice"

    # an admin locks May, then corrects a May date: submitter and 更正人 are the admin
    sub = client.post("/api/reports/month/2026-05/submit", headers=boss)
    assert sub.status_code == 201, sub.text
    assert client.get("/api/reports/months", headers=alice).json()["submissions"][0]["actor"] == "api:区住建委-王"
    fix = {"actual": {"tender": "2026-05-14"}, "reason": "招标日期以公告为准"}
    corrected = client.post("/api/programme/2/corrections", json=fix, headers=boss)
    assert corrected.status_code == 201, corrected.text
    last = corrected.json()["history"][-1]
    assert last["actor"] == "api:区住建委-王" and last["correction"] is True
    june = client.get("/api/reports/month/2026-06", headers=alice).json()
    assert [(c["actor"], c["corrects_month"]) for c in june["corrections"]] == [("api:区住建委-王", "2026-05")]

    with ws.engine.connect() as conn:
        actors = {r[0] for r in conn.execute(text("SELECT DISTINCT actor FROM programme_events"))}
    assert "api:planner" not in actors and "api:admin" not in actors


def test_progress_over_http_is_one_transaction(planned: tuple[TestClient, dict[str, str]], ws: Workspace) -> None:
    """A stage reached and a spending figure sent together: when the spending is refused, the stage
    is not recorded either (the route reports both in one transaction)."""
    client, auth = planned
    alice = {"Authorization": auth["alice"]}
    assert client.post("/api/programme/2/progress", json={"spent": 2000}, headers=alice).status_code == 200
    before = client.get("/api/programme/2", headers=alice).json()
    stages = ws.programme.defs.stage_ids
    now = before["project"]["stage"]
    ahead = stages[stages.index(now) + 1] if now in stages and stages.index(now) + 1 < len(stages) else None
    assert ahead is not None, before["project"]
    refused = client.post("/api/programme/2/progress", json={"stage": ahead, "spent": 1999}, headers=alice)
    assert refused.status_code in (400, 409, 422), refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    after = client.get("/api/programme/2", headers=alice).json()
    assert after["project"]["stage"] == now and len(after["history"]) == len(before["history"])
    both = client.post("/api/programme/2/progress", json={"stage": ahead, "spent": 2100}, headers=alice)
    assert both.status_code == 200, both.text
    assert both.json()["project"]["stage"] == ahead and len(both.json()["history"]) > len(before["history"])
