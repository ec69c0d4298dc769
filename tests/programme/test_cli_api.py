"""The programme as a planner meets it: the `gisplan progress` / `gisplan report` commands (real
processes) and the HTTP API (roles, problem+json statuses, downloads)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openpyxl
import pandas as pd
import pytest
import uvicorn

from api.main import create_app
from gis.store.users import add_user
from tests.helpers.cli import run
from tests.helpers.programme import COMPOUNDS, PLAN, YEAR, Fixture, fill, write_compounds

pytestmark = pytest.mark.heavy  # a long module: collected first (tests/conftest.py)


@pytest.fixture
def live(planned: Fixture) -> Iterator[str]:
    """The API served over real HTTP on a free port, on the planned fixture's database."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(
        uvicorn.Config(create_app(workspace=planned.ws), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {"GISPLAN_DATABASE_URL": db_url, "GISPLAN_HOME": str(tmp_path / "home")}


def test_cli_schedule_progress_report_submit_correct(env: dict[str, str], tmp_path: Path) -> None:
    for args in (
        ["progress"],
        ["report"],
        ["progress", "import"],
        ["progress", "set"],
        ["progress", "correct"],
        ["progress", "template"],
        ["progress", "show"],
        ["report", "month"],
    ):
        helped = run([*args, "--help"], env)
        assert helped.returncode == 0 and "Usage" in helped.stdout, helped.stderr
    loaded = run(["load", "compounds", str(write_compounds(tmp_path / "c.geojson"))], env)
    assert loaded.returncode == 0, loaded.stderr

    template = tmp_path / "配档表.xlsx"
    made = run(["progress", "template", "--out", str(template), "--year", str(YEAR)], env)
    assert made.returncode == 0 and template.exists(), made.stderr
    values = {
        "石油大院": {
            "改造类别": "基础类",
            "改造内容": "供水",
            "计划摸底": "2026-01-10",
            "计划开工": "2026-04-01",
            "计划完工": "2026-08-31",
            "实际摸底": "2026年1月12日",
            "实际设计": "2026-02-02",
            "计划投资（万元）": 1200,
        },
        "林业小区": {
            "改造类别": "基础类",
            "计划开工": "2026-04-15",
            "计划完工": "2026-09-15",
            "实际摸底": "2026-01-16",
        },
        "展春园": {"改造类别": "基础类", "当前阶段": "施工"},
    }
    imported = run(["progress", "import", str(fill(template, tmp_path / "filled.xlsx", values))], env)
    assert imported.returncode == 0, imported.stderr
    assert "当前阶段与实际日期不符" in imported.stdout  # 展春园 set aside, with its reason
    strict = run(["progress", "import", str(tmp_path / "filled.xlsx"), "--strict"], env)
    assert strict.returncode == 1 and "nothing was changed" in strict.stderr

    ok = run(["progress", "set", "石油大院", "--stage", "construction", "--date", "2026-10-05", "--spent", "300"], env)
    assert ok.returncode == 0, ok.stderr
    assert "施工" in ok.stdout and "300.00" in ok.stdout
    back = run(["progress", "set", "石油大院", "--stage", "design", "--date", "2026-10-06"], env)
    assert back.returncode == 1 and "阶段只能前进" in back.stderr
    shown = run(["progress", "show", "--year", str(YEAR)], env)
    assert shown.returncode == 0 and "林业小区" in shown.stdout

    csv, xlsx = tmp_path / "月报.csv", tmp_path / "月报.xlsx"
    draft = run(["report", "month", "2026-10", "--out", str(csv)], env)
    assert draft.returncode == 0 and "draft" in draft.stdout, draft.stderr
    total = pd.read_csv(csv, encoding="utf-8-sig").set_index("区县").loc["合计"]
    projects = [c for c in COMPOUNDS if c[0] in PLAN and c[1] != "展春园"]  # every planned compound but the refused
    assert total["项目数（个）"] == len(projects) and total["施工（个）"] == 1
    assert total["户数（户）"] == sum(c[5] for c in projects) and total["未启动（个）"] == len(projects) - 2
    sent = run(["report", "month", "2026-10", "--submit", "--out", str(xlsx)], env)
    assert sent.returncode == 0 and "submitted" in sent.stdout, sent.stderr
    assert openpyxl.load_workbook(xlsx)["统计月报"]["A1"].value.endswith("（2026年10月）")
    again = run(["report", "month", "2026-10", "--submit"], env)
    assert again.returncode == 1 and "locked" in again.stderr
    locked = run(["progress", "set", "林业小区", "--stage", "design", "--date", "2026-10-20"], env)
    assert locked.returncode == 1 and "锁定" in locked.stderr

    fixed = run(
        [
            "progress",
            "correct",
            "石油大院",
            "--stage",
            "tender",
            "--date",
            "2026-09-28",
            "--reason",
            "施工许可未办，退回招投标",
        ],
        env,
    )
    assert fixed.returncode == 0, fixed.stderr
    history = run(["progress", "history", "石油大院"], env)
    assert "更正" in history.stdout and "施工许可未办" in history.stdout
    nov = run(["report", "month", "2026-11"], env)
    assert "corrections / 更正事项" in nov.stdout and "施工许可未办" in nov.stdout
    for cmd in (["progress", "risks", "--year", str(YEAR)], ["progress", "coverage", "--year", str(YEAR)]):
        r = run(cmd, env)
        assert r.returncode == 0 and "学院路街道" in r.stdout, r.stderr


def test_api_roles_statuses_and_downloads(planned: Fixture, live: str) -> None:
    ws, fid = planned.ws, planned.fid
    planner = {"Authorization": f"Bearer {add_user(ws.engine, '规划师', 'planner')}"}
    admin = {"Authorization": f"Bearer {add_user(ws.engine, '管理员', 'admin')}"}
    with httpx.Client(base_url=live, timeout=60) as client:
        assert client.get("/api/programme").status_code == 401
        assert client.get("/api/reports/month/2026-01").status_code == 401
        r = client.get(f"/api/programme?year={YEAR}", headers=planner)
        assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
        feats = r.json()["features"]
        assert len(feats) == 7 and {"stage", "stage_zh", "overdue", "days_behind"} <= set(feats[0]["properties"])
        assert -180 < feats[0]["geometry"]["coordinates"][0][0][0][0] < 180  # CRS84

        url = f"/api/programme/{fid['c1']}/progress"
        ok = client.post(url, json={"stage": "survey", "date": "2026-01-12"}, headers=planner)
        assert ok.status_code == 200 and ok.json()["project"]["stage"] == "survey"
        assert ok.json()["history"][-1]["actor"] == "api:规划师"
        moved = client.post(url, json={"stage": "design", "date": "2026-02-02"}, headers=planner)
        assert moved.status_code == 200
        back = client.post(url, json={"stage": "survey", "date": "2026-02-03"}, headers=planner)
        assert back.status_code == 409 and back.headers["content-type"] == "application/problem+json"
        assert client.post(url, json={"stage": "砌墙", "date": "2026-02-03"}, headers=planner).status_code == 422
        future = client.post(url, json={"stage": "tender", "date": "2099-01-01"}, headers=planner)
        assert future.status_code == 422 and "future" in future.json()["detail"]
        assert (
            client.post("/api/programme/999999/progress", json={"stage": "survey"}, headers=planner).status_code == 404
        )
        no_project = client.post(f"/api/programme/{fid['c8']}/progress", json={"stage": "survey"}, headers=planner)
        assert no_project.status_code == 404

        corr = f"/api/programme/{fid['c1']}/corrections"
        body = {"stage": "survey", "reason": "设计合同未签，退回摸底"}
        assert client.post(corr, json=body, headers=planner).status_code == 403
        assert client.post(corr, json={"stage": "survey"}, headers=admin).status_code == 400  # no reason
        done = client.post(corr, json=body, headers=admin)
        assert done.status_code == 201 and done.json()["project"]["stage"] == "survey"
        assert done.json()["history"][-1]["correction"] is True

        rep = client.get("/api/reports/month/2026-02", headers=planner)
        assert rep.status_code == 200 and rep.json()["totals"]["projects"] == 7 and not rep.json()["locked"]
        x = client.get("/api/reports/month/2026-02.xlsx", headers=planner)
        assert x.status_code == 200 and x.content[:2] == b"PK"
        c = client.get("/api/reports/month/2026-02.csv", headers=planner)
        assert c.status_code == 200 and c.text.startswith("\ufeff区县,街道,项目数（个）")
        assert client.get("/api/reports/month/2026-13", headers=planner).status_code == 400
        assert client.get("/api/reports/month/2024-05", headers=planner).status_code == 404  # no projects that year
        empty = client.get("/api/programme?year=2024", headers=planner)
        assert empty.status_code == 200 and empty.json()["features"] == []
        assert client.post("/api/reports/month/2026-02/submit", headers=planner).status_code == 403
        sub = client.post("/api/reports/month/2026-02/submit", headers=admin)
        assert sub.status_code == 201 and sub.json()["locked"] and sub.json()["late"] is True
        assert client.post("/api/reports/month/2026-02/submit", headers=admin).status_code == 409
        assert client.get("/api/reports/months", headers=planner).json()["submissions"][0]["month"] == "2026-02"

        assert client.get(f"/api/programme/risks?year={YEAR}", headers=planner).json()["by_street"]
        cov = client.get(f"/api/programme/property-coverage?year={YEAR}", headers=planner).json()["coverage"]
        assert {r["mode"] for r in cov} >= {"none", "professional"}
        sched = client.get(f"/api/programme/schedule.xlsx?year={YEAR}", headers=planner)
        assert sched.status_code == 200
        imp = client.post("/api/programme/schedule", content=sched.content, headers=planner)
        assert imp.status_code == 200 and imp.json()["unchanged"] == 7, imp.json()
        assert client.post("/api/programme/schedule", content=b"not excel", headers=planner).status_code == 422
