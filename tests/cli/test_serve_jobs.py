"""``gisplan serve`` as a process, with jobs: killed with -9 mid-run, its job is failed after the restart
and nothing of the run is written (its child died with it); SIGTERM mid-run stops the job, marks it
and exits within 10 s; ``--workers 2`` answers from both processes, which share the jobs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gis.demo import sample_path
from gis.store.jobs import DIED, SHUTDOWN
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers.jobs import blocked, count, free_port, holding, job_row, start_serve, wait_for

pytestmark = pytest.mark.heavy  # a long module: collected first (tests/conftest.py)

KINDERGARTEN = {"facility": ["kindergarten"]}


@pytest.fixture
def site(ws: Workspace, app_url: str, db_url: str, tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The sample's compounds, facilities and roads, a planner; the environment ``gisplan serve`` runs in
    (as the app role, migrations as the owner), and the planner's header."""
    for layer in ("compounds", "facilities", "roads"):
        ws.load(layer, sample_path(), source_layer=layer)
    token = add_user(ws.engine, "规划师", "planner")
    env = {"GISPLAN_DATABASE_URL": app_url, "GISPLAN_OWNER_DATABASE_URL": db_url, "GISPLAN_HOME": str(tmp_path / "h")}
    return env, {"Authorization": f"Bearer {token}"}


def ended(url: str, auth: dict[str, str]) -> dict[str, Any] | None:
    state: dict[str, Any] = httpx.get(url, headers=auth, timeout=10).json()
    return state if state["status"] not in ("queued", "running") else None


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_a_job_left_running_by_a_killed_server_is_failed_after_a_restart(
    site: tuple[dict[str, str], dict[str, str]], db_url: str, tmp_path: Path
) -> None:
    env, auth = site
    log = tmp_path / "serve.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_serve(env, port, log=log)
    try:
        with holding(db_url):  # the job's run waits inside its transaction, its gap_runs row written
            running = httpx.post(f"{base}/api/gaps", json=KINDERGARTEN, headers=auth).json()
            wait_for("the job's run to wait for the lock", lambda: blocked(db_url), timeout=60)
            waiting = httpx.post(f"{base}/api/gaps", json=KINDERGARTEN, headers=auth).json()
            assert httpx.get(running["href"]).json()["status"] == "running"
            assert httpx.get(waiting["href"]).json()["status"] == "queued"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            assert job_row(db_url, running["job"])[0] == "running"  # as the dead server left it
        # the lock is gone: a child that outlived its server would commit its run now
        time.sleep(2)
        assert count(db_url, "gap_runs") == 0 and count(db_url, "gap_results") == 0
        restarted = time.monotonic()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_serve(env, port, log=log)
        url = f"{base}/api/jobs/{running['job']}"
        failed = wait_for("the dead server's job to be marked", lambda: ended(url, auth), timeout=30)
        marked = time.monotonic() - restarted
        assert failed["status"] == "failed" and failed["detail"] == DIED and "run_id" not in failed
        # the job queued before the kill survived it, and runs now
        url = f"{base}/api/jobs/{waiting['job']}"
        later = wait_for("the queued job to run after the restart", lambda: ended(url, auth), timeout=60)
        assert later["status"] == "done" and count(db_url, "gap_runs") == 1
    finally:
        stop(proc)
    print(f"killed mid-run: job marked failed {marked:.1f} s after the restart began; no run written")


def test_sigterm_stops_the_running_job_and_exits_within_10_s(
    site: tuple[dict[str, str], dict[str, str]], db_url: str, tmp_path: Path
) -> None:
    env, auth = site
    port = free_port()
    proc = start_serve(env, port, log=tmp_path / "serve.log")
    try:
        with holding(db_url):
            job = httpx.post(f"http://127.0.0.1:{port}/api/gaps", json=KINDERGARTEN, headers=auth).json()
            wait_for("the job's run to wait for the lock", lambda: blocked(db_url), timeout=60)
            asked = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
            took = time.monotonic() - asked
            assert job_row(db_url, job["job"])[:2] == ("failed", SHUTDOWN)
        time.sleep(1)
        assert count(db_url, "gap_runs") == 0
    finally:
        stop(proc)
    assert took < 10
    print(f"SIGTERM mid-run: exited in {took:.2f} s, the job marked {SHUTDOWN!r}")


def test_two_workers_answer_and_share_the_jobs(
    site: tuple[dict[str, str], dict[str, str]], db_url: str, tmp_path: Path
) -> None:
    env, auth = site
    access = tmp_path / "access.jsonl"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_serve({**env, "GISPLAN_ACCESS_LOG": str(access)}, port, "--workers", "2", log=tmp_path / "serve.log")
    try:
        job = httpx.post(f"{base}/api/gaps", json=KINDERGARTEN, headers=auth).json()
        path = f"/api/jobs/{job['job']}"

        def lines() -> list[dict[str, Any]]:
            return [json.loads(line) for line in access.read_text(encoding="utf-8").splitlines() if line]

        def both_answered() -> bool:
            httpx.get(base + path, headers=auth, timeout=10)  # a new connection each time
            return len({line["pid"] for line in lines() if line["path"] == path and line["status"] == 200}) == 2

        wait_for("both workers to answer for the job", both_answered, timeout=60, every=0)
        done = wait_for("the job to end", lambda: ended(base + path, auth), timeout=60)
        assert done["status"] == "done"
        seen = lines()
        (posted_by,) = {line["pid"] for line in seen if line["path"] == "/api/gaps"}
        readers = {line["pid"] for line in seen if line["path"] == path and line["status"] == 200}
        assert posted_by in readers and len(readers) == 2  # started through one, read through the other too
        ran_in = int(str(job_row(db_url, job["job"])[2]).rsplit(":", 1)[1])
        assert ran_in in readers  # one of the two workers' runners ran it
        asks = sum(line["path"] == path for line in seen)
    finally:
        stop(proc)
    print(f"--workers 2: pids {sorted(readers)} answered ({asks} reads); posted via {posted_by}, run by {ran_in}")
