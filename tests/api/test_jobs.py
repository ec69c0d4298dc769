"""Analysis jobs over HTTP, in the database: read back by another app on the same database, a bounded
queue (429 past it), queued jobs reported as queued, cancelling (queued at once, running by its
runner) with nothing half-written left behind; and the bound on heavy requests (503 past it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.main import create_app
from gis.demo import sample_path
from gis.store.engine import make_engine
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers.jobs import blocked, count, holding, wait_for
from tests.helpers.live import serve

KINDERGARTEN = {"facility": ["kindergarten"]}


@pytest.fixture
def tokens(ws: Workspace) -> dict[str, str]:
    for layer in ("compounds", "facilities", "roads"):
        ws.load(layer, sample_path(), source_layer=layer)
    return {
        name: add_user(ws.engine, name, role)
        for name, role in [("甲", "planner"), ("乙", "planner"), ("管理", "admin")]
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def finished(c: httpx.Client, href: str, headers: dict[str, str] | None = None) -> dict[str, Any] | None:
    state: dict[str, Any] = c.get(href, headers=headers).json()
    return state if state["status"] not in ("queued", "running") else None


@pytest.fixture
def other(ws: Workspace) -> Iterator[Workspace]:
    """A second workspace (its own engine, as another server process has) on the same database."""
    assert ws.settings.database_url
    second = Workspace(make_engine(ws.settings.database_url), settings=ws.settings)
    try:
        yield second
    finally:
        second.close()


def test_jobs_persist_and_read_back_through_another_app(
    ws: Workspace, other: Workspace, tokens: dict[str, str]
) -> None:
    started = time.monotonic()
    with (
        serve(create_app(workspace=ws)) as a,
        serve(create_app(workspace=other)) as b,
        httpx.Client(base_url=a) as ca,
        httpx.Client(base_url=b) as cb,
    ):
        made = ca.post("/api/gaps", json=KINDERGARTEN, headers=bearer(tokens["甲"]))
        assert made.status_code == 202 and made.json()["status"] == "queued", made.text
        job_id = made.json()["job"]
        planner = bearer(tokens["乙"])
        done = wait_for("the job to end", lambda: finished(cb, f"/api/jobs/{job_id}", planner), timeout=60)
        assert done["status"] == "done" and done["results"].startswith(b) and done["basis"] == "network"
        assert done["params"]["facility"] == ["kindergarten"] and done["actor"] == "api:甲"
        assert done["created_at"] <= done["started_at"] <= done["finished_at"]
        seen_by_a = ca.get(f"/api/jobs/{job_id}", headers=planner).json()
        assert {k: v for k, v in seen_by_a.items() if k not in ("href", "results")} == {
            k: v for k, v in done.items() if k not in ("href", "results")
        }
        listed = cb.get("/api/jobs", headers=planner).json()["jobs"]
        assert [j["job"] for j in listed] == [job_id]
        assert cb.get("/api/jobs").status_code == 401
        public = cb.get(f"/api/jobs/{job_id}").json()
        assert public["status"] == "done" and "actor" not in public  # who asked is for planners
        assert ca.get(f"/api/gaps/runs/{done['run_id']}").status_code == 200
    # both apps gone (a restart): a third one reads the same job
    with serve(create_app(workspace=other)) as c, httpx.Client(base_url=c) as cc:
        again = cc.get(f"/api/jobs/{job_id}").json()
        assert again["status"] == "done" and again["run_id"] == done["run_id"]
    print(f"job read back through another app and after a restart: {time.monotonic() - started:.1f} s")


def test_a_bounded_queue_cancelling_and_nothing_half_written(
    ws: Workspace, tokens: dict[str, str], db_url: str
) -> None:
    ws.settings.job_queue = 2
    owner, someone_else, admin = (bearer(tokens[n]) for n in ("甲", "乙", "管理"))
    with serve(create_app(workspace=ws)) as base, httpx.Client(base_url=base) as c:
        with holding(db_url):  # the first job's run waits inside its transaction
            first = c.post("/api/gaps", json=KINDERGARTEN, headers=owner).json()
            wait_for("the first job's run to wait for the lock", lambda: blocked(db_url), timeout=60)
            assert c.get(first["href"]).json()["status"] == "running"
            second = c.post("/api/gaps", json=KINDERGARTEN, headers=owner)
            assert second.status_code == 202
            assert c.get(second.json()["href"]).json()["status"] == "queued"  # not "running" while it waits

            full = c.post("/api/gaps", json=KINDERGARTEN, headers=owner)
            assert full.status_code == 429 and full.headers["content-type"] == "application/problem+json"
            assert int(full.headers["Retry-After"]) >= 5 and count(db_url, "jobs") == 2

            assert c.delete(second.json()["href"], headers=someone_else).status_code == 403
            assert c.delete(second.json()["href"]).status_code == 401
            cancelled = c.delete(second.json()["href"], headers=owner)
            assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
            assert c.delete(second.json()["href"], headers=owner).status_code == 409
            assert c.delete(f"/api/jobs/{'0' * 32}", headers=owner).status_code == 404

            third = c.post("/api/gaps", json=KINDERGARTEN, headers=owner)  # room again
            assert third.status_code == 202
            assert c.delete(third.json()["href"], headers=admin).json()["status"] == "cancelled"  # an admin may

            asked = time.monotonic()
            stopping = c.delete(first["href"], headers=owner)
            assert stopping.status_code == 202 and stopping.json()["cancel_requested"] is True
            stopped = wait_for("the running job to stop", lambda: finished(c, first["href"]), timeout=15)
            took = time.monotonic() - asked
            assert stopped["status"] == "cancelled" and "run_id" not in stopped and took < 5
        # the lock is gone: the stopped child's transaction was rolled back, never committed
        time.sleep(1)
        assert count(db_url, "gap_runs") == 0 and count(db_url, "gap_results") == 0
        statuses = {j["job"]: j["status"] for j in c.get("/api/jobs", headers=owner).json()["jobs"]}
        assert sorted(statuses.values()) == ["cancelled"] * 3
        # the runner carries on
        fourth = c.post("/api/gaps", json=KINDERGARTEN, headers=owner).json()
        assert wait_for("the next job", lambda: finished(c, fourth["href"]), timeout=60)["status"] == "done"
        assert count(db_url, "gap_runs") == 1
        # a request the library would refuse is refused at once, in its own words, and queues nothing
        jobs_before = count(db_url, "jobs")
        for wrong in ({"facility": ["没有这种设施"]}, {"standard": "no-such-standard"}):
            refused = c.post("/api/gaps", json=wrong, headers=owner)
            assert refused.status_code == 400 and refused.headers["content-type"] == "application/problem+json"
            assert "unknown" in refused.json()["detail"]
        assert count(db_url, "jobs") == jobs_before
    print(f"a running job stopped {took:.2f} s after DELETE; no run of it in gap_runs")


def test_heavy_requests_past_the_bound_answer_503(ws: Workspace, tokens: dict[str, str], db_url: str) -> None:
    run_id = ws.gaps("kindergarten").attrs["run_id"]
    ws.settings.heavy_requests = 1
    answers: list[httpx.Response] = []
    with serve(create_app(workspace=ws)) as base, httpx.Client(base_url=base, timeout=60) as c:
        with holding(db_url, mode="ACCESS EXCLUSIVE"):  # the results cannot be read: the first request waits
            held = threading.Thread(target=lambda: answers.append(httpx.get(f"{base}/api/gaps/runs/{run_id}")))
            held.start()
            wait_for("the first heavy request to wait", lambda: blocked(db_url), timeout=30)
            refused = c.get(f"/api/exports/gaps/{run_id}.csv")
            assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
            assert refused.headers["content-type"] == "application/problem+json"
            assert c.get("/api/map/catchments/kindergarten").status_code == 503
            assert c.get("/ogc/collections/compounds/items", params={"limit": 2}).status_code == 200  # light: served
        held.join(30)
        assert [r.status_code for r in answers] == [200]
        assert c.get(f"/api/exports/gaps/{run_id}.csv").status_code == 200  # the slot was given back
