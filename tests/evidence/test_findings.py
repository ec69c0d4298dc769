"""Inspection findings (督查) on the prepared sample: a finding that turns overdue and shows in the 月报
(its XLSX and CSV too) until it is closed with evidence; never closed without evidence, not by the
library and not by SQL; the 月报's self-check read from the database (a start without a permit, a stage
without its evidence); the 督查通报 escaped with its photos inline; the public never sees a finding or an
unpublished photo; the API and the command line."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import text

from api.main import create_app
from gis import clock
from gis.errors import FindingClosedError, FindingError, NotFoundError, ProgrammeError, ReadOnlyLayerError
from gis.evidence.findings import Opening
from gis.evidence.service import Attachment
from gis.export.inspection_report import bulletin_html, write_bulletin
from gis.programme.dates import month_of
from gis.report_printers import print_month
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers.cli import run
from tests.helpers.photos import PDF, photo

pytestmark = pytest.mark.sample


def started(ws: Workspace) -> list[dict]:
    """The sample's projects that reached construction, by compound."""
    st = ws.programme.projects()
    return st[st["stage_index"] >= 3].sort_values("compound_id").to_dict("records")


def test_a_finding_turns_overdue_shows_in_the_month_report_and_leaves_it_when_closed(
    ws: Workspace, tmp_path: Path
) -> None:
    today = clock.today()
    fid = int(started(ws)[0]["compound_id"])
    deadline = today - timedelta(days=3)
    opening = Opening(
        fid, "脚手架未设安全网", "某建设工程有限公司", deadline, "安全", found_on=today - timedelta(days=9)
    )
    before_it = clock.now()
    row = ws.findings.open(opening, [("现场.jpg", photo(colour=30))], actor="督查员")
    fnd = int(row["id"])
    assert row["status"] == "overdue" and row["days_overdue"] == 3
    assert row["category"] == "safety" and row["street"] is not None

    def listed(day: date) -> list[int]:
        report = ws.report_month(month_of(day), today=day, live=True)
        return [int(i) for i in report.findings["finding_id"]]

    assert fnd not in listed(deadline)  # on its deadline day it is still in time
    assert fnd in listed(deadline + timedelta(days=1))  # the day after: overdue
    report = ws.report_month(month_of(today), today=today, live=True)
    mine = report.findings[report.findings["finding_id"] == fnd].iloc[0]
    assert mine[["what", "responsible_unit", "deadline", "days_overdue", "category_zh"]].tolist() == [
        "脚手架未设安全网",
        "某建设工程有限公司",
        deadline.isoformat(),
        3,
        "安全",
    ]
    # as it could be read before the finding was entered: not there (the layer rebuilt from its audit)
    earlier = ws.report_month(month_of(today), today=today, live=True, as_of=before_it)
    assert fnd not in earlier.findings["finding_id"].tolist()
    printed = Console(record=True, width=200)
    print_month(printed, report)
    said = printed.export_text()
    assert "督查问题逾期未整改" in said and "脚手架未设安全网" in said and "self-check / 自查" in said
    xlsx = report.write(tmp_path / "月报.xlsx")
    cells = [str(c) for r in openpyxl.load_workbook(xlsx)["统计月报"].iter_rows(values_only=True) for c in r if c]
    assert "三、督查问题逾期未整改（截至统计日已过整改期限）" in cells and "脚手架未设安全网" in cells
    assert any(c.startswith("四、自查") for c in cells)
    table = pd.read_csv(report.write(tmp_path / "月报.csv"), encoding="utf-8-sig", dtype=str).fillna("")
    street = table[(table["街道"] == str(mine["street"])) & (table["区县"] == str(mine["district"]))].iloc[0]
    assert int(street["督查问题逾期未整改（个）"]) >= 1  # the street's own overdue findings
    assert table.iloc[-1]["区县"] == "合计" and int(table.iloc[-1]["督查问题逾期未整改（个）"]) == len(report.findings)
    flagged = report.self_check[report.self_check["street"] == str(mine["street"])]
    assert int(street["自查须核实（项）"]) == len(flagged)
    again = type(report).from_dict(json.loads(json.dumps(report.to_dict())))  # as a submission stores it
    assert again.findings["finding_id"].tolist() == report.findings["finding_id"].tolist()
    assert again.self_check["check"].tolist() == report.self_check["check"].tolist()

    closed = ws.findings.close(fnd, [("整改后.jpg", photo(colour=200))], note="已挂设安全网", actor="施工员")
    assert closed["status"] == "closed" and closed["closed_by"] == "施工员" and closed["closed_on"] == today
    assert fnd not in listed(today)
    assert fnd in listed(deadline + timedelta(days=1))  # on a day before the closing it was overdue
    got = ws.findings.get(fnd)
    assert len(got["photos"]) == 1 and len(got["rectification"]) == 1
    audit = pd_actions(ws, fnd)
    assert audit == [("insert", "督查员"), ("update", "施工员")]


def pd_actions(ws: Workspace, fid: int) -> list[tuple[str, str]]:
    with ws.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT action, actor FROM audit_log WHERE layer = 'inspection_findings' AND fid = :f ORDER BY id"),
            {"f": fid},
        ).all()
    return [(r.action, r.actor) for r in rows]


def test_never_closed_without_evidence(ws: Workspace, app_url: str) -> None:
    today = clock.today()
    fid = int(started(ws)[0]["compound_id"])
    fnd = int(ws.findings.open(Opening(fid, "资料不全", "街道办", today, "资料"), actor="a")["id"])
    with pytest.raises(FindingError, match="rectification evidence"):
        ws.findings.close(fnd, [], actor="a")
    with pytest.raises(FindingError, match="before the finding"):
        ws.findings.open(Opening(fid, "x", "y", today - timedelta(days=1), found_on=today), actor="a")
    with pytest.raises(FindingError, match="category"):
        ws.findings.open(Opening(fid, "x", "y", today, "不存在的类别"), actor="a")
    with pytest.raises(FindingError, match="what was found"):
        ws.findings.open(Opening(fid, "  ", "y", today), actor="a")
    with pytest.raises(FindingError, match="from compound"):
        ws.findings.open(Opening(fid, "x", "y", today, lon=100.0, lat=30.0), actor="a")
    with pytest.raises(NotFoundError):
        ws.findings.close(10**9, [("a.pdf", PDF)], actor="a")
    assert ws.findings.get(fnd)["status"] == "open"
    # the app's own connection cannot go around the library: no evidence, no closing; never a delete
    photo_only = Attachment(fid, "inspection", finding_id=fnd)  # a photo of the finding is not its rectification
    ws.evidence.add(photo_only, [("p.jpg", photo())], actor="a")
    with psycopg.connect(app_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.CheckViolation, match="rectification evidence"):
            conn.execute(
                "UPDATE inspection_findings SET closed_on = current_date, closed_by = 'x' WHERE fid = %s", (fnd,)
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM inspection_findings WHERE fid = %s", (fnd,))
        with pytest.raises(psycopg.errors.RestrictViolation, match="only its closing"):
            conn.execute("UPDATE inspection_findings SET deadline = deadline + 30 WHERE fid = %s", (fnd,))
    ws.findings.close(fnd, [("整改.pdf", PDF)], note="已补齐", actor="a")
    with pytest.raises(FindingClosedError):
        ws.findings.close(fnd, [("again.pdf", PDF)], actor="a")
    with pytest.raises(ReadOnlyLayerError):
        ws.load("inspection_findings", Path(__file__))


def test_the_self_check_reads_permits_and_evidence_from_the_database(ws: Workspace) -> None:
    today = clock.today()
    project = started(ws)[0]
    fid, pid = int(project["compound_id"]), int(project["project_id"])
    month = month_of(today)

    def flags(check: str) -> list[int]:
        found = ws.report_month(month, today=today, live=True).self_check
        return [int(c) for c in found.loc[found["check"] == check, "compound_id"]]

    assert fid in flags("start_without_permit")  # no permit recorded in the sample
    start = project["actual_construction"]
    ws.programme.permits.record(fid, start + timedelta(days=2), number="X-1", actor="a")
    assert fid in flags("start_without_permit")  # a permit after the start is flagged too
    with pytest.raises(ProgrammeError, match="needs a reason"):
        ws.programme.permits.record(fid, start - timedelta(days=5), actor="a")
    ws.programme.permits.record(fid, start - timedelta(days=5), reason="以许可证原件为准", actor="a")
    assert fid not in flags("start_without_permit")
    assert ws.programme.permits.dates(int(project["year"]))[pid] == start - timedelta(days=5)
    assert len(ws.programme.permits.history(fid)) == 2

    unproven = flags("stage_without_evidence")  # the sample's projects at a stage no item documents
    bare_fid = unproven[0]
    stage = str(ws.programme.projects().set_index("compound_id").loc[bare_fid, "stage"])
    ws.evidence.add(Attachment(bare_fid, "other", stage=stage), [("s.jpg", photo())], actor="a")
    assert flags("stage_without_evidence") == unproven[1:]
    # the programme on its own (no facade) says it did not check evidence, and skips that check only
    bare = type(ws.programme)(ws.db).report_month(month, today=today, live=True)
    assert "stage_without_evidence" not in set(bare.self_check["check"])
    assert any("未核对佐证资料" in n for n in bare.notes)


def test_the_bulletin_ranks_streets_escapes_values_and_inlines_photos(ws: Workspace, tmp_path: Path) -> None:
    today = clock.today()
    fid = int(started(ws)[-1]["compound_id"])
    hostile = Opening(fid, '<script>alert("x")</script>', '=HYPERLINK("http://x")', today + timedelta(days=5))
    ws.findings.open(hostile, [("a.jpg", photo(colour=77))], actor="a")
    bulletin = ws.findings.bulletin(today)
    page = bulletin_html(bulletin)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "data:image/jpeg;base64," in page
    assert "http://" not in page.replace("http://x", "")  # nothing fetched: only the escaped text holds a URL
    ranked = bulletin.ranking
    assert ranked["open"].is_monotonic_decreasing and ranked["rank"].iloc[0] == 1
    assert int(ranked["overdue"].sum()) == int((bulletin.findings["status"] == "overdue").sum())
    assert bulletin.findings["status"].iloc[0] == "overdue"  # the demo's overdue finding leads the list
    xlsx = write_bulletin(bulletin, tmp_path / "督查通报.xlsx")
    book = openpyxl.load_workbook(xlsx)
    cells = [c for r in book["问题清单"].iter_rows() for c in r if c.value is not None]
    unit = next(c for c in cells if str(c.value).startswith("=HYPERLINK"))
    assert unit.data_type == "s"  # text, never a formula
    assert len(book["问题清单"]._images) >= 2  # the thumbnails beside their findings


def test_the_public_never_sees_findings_or_their_photos(ws: Workspace) -> None:
    fid = int(started(ws)[0]["compound_id"])
    row = ws.findings.open(Opening(fid, "问题", "单位", clock.today()), [("p.jpg", photo())], actor="a")
    public, planner = add_user(ws.engine, "f-public", "public"), add_user(ws.engine, "f-planner", "planner")
    with TestClient(create_app(workspace=ws)) as client:
        for token in (None, public):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            for path in (
                "/ogc/collections/inspection_findings",
                "/ogc/collections/inspection_findings/items",
                "/ogc/collections/evidence",
            ):
                assert client.get(path, headers=headers).status_code == 404, path
            listed = client.get("/ogc/collections", headers=headers).json()["collections"]
            assert "inspection_findings" not in {c["id"] for c in listed}
            answer = client.get("/api/findings", headers=headers)
            assert answer.status_code == (401 if token is None else 403)
            assert answer.headers["content-type"] == "application/problem+json"
            assert "问题" not in answer.text
        mine = {"Authorization": f"Bearer {planner}"}
        items = client.get("/ogc/collections/inspection_findings/items", headers=mine).json()
        assert str(row["id"]) in {str(f["id"]) for f in items["features"]}
    photo_id = ws.findings.get(int(row["id"]))["photos"][0]
    with pytest.raises(NotFoundError):
        ws.evidence.item(photo_id, role="public")


def test_the_api_opens_lists_and_closes_findings(ws: Workspace) -> None:
    fid = int(started(ws)[0]["compound_id"])
    token = add_user(ws.engine, "f-api", "planner")
    h = {"Authorization": f"Bearer {token}"}
    today = clock.today()
    body = {"compound_id": fid, "what": "围挡破损", "responsible_unit": "施工单位", "deadline": str(today)}
    with TestClient(create_app(workspace=ws)) as client:
        made = client.post("/api/findings", json={**body, "category": "文明施工"}, headers=h)
        assert made.status_code == 201, made.text
        fnd = made.json()["id"]
        assert made.json()["category"] == "civilised" and made.json()["deadline"] == str(today)
        for bad, status in (
            ({**body, "deadline": str(today - timedelta(days=400))}, 422),
            ({**body, "compound_id": 2**31 - 1}, 404),
            ({**body, "what": ""}, 400),  # the body does not validate
            ({**body, "category": "nope"}, 422),
        ):
            r = client.post("/api/findings", json=bad, headers=h)
            assert r.status_code == status and r.headers["content-type"] == "application/problem+json", r.text
        assert client.post(f"/api/findings/{fnd}/close", headers=h).status_code == 422  # no evidence, no closing
        bad_file = client.post(f"/api/findings/{fnd}/close", content=b"#!/bin/sh\n", headers=h)
        assert bad_file.status_code == 415
        assert client.get(f"/api/findings/{fnd}", headers=h).json()["status"] == "open"
        done = client.post(f"/api/findings/{fnd}/close", params={"note": "已修复"}, content=PDF, headers=h)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "closed" and done.json()["closing_note"] == "已修复"
        assert client.post(f"/api/findings/{fnd}/close", content=PDF, headers=h).status_code == 409
        assert client.get("/api/findings/999999999", headers=h).status_code == 404
        before = client.get(f"/api/findings/{fnd}", params={"on": "2000-01-01"}, headers=h)  # not found yet then
        assert before.status_code == 404 and before.headers["content-type"] == "application/problem+json"
        still = client.get("/api/findings", params={"open": "true"}, headers=h).json()["findings"]
        assert fnd not in {f["id"] for f in still} and all(f["status"] != "closed" for f in still)
        page = client.get("/api/findings/bulletin.html", headers=h)
        assert page.status_code == 200 and "督查通报" in page.text
        assert client.get("/api/findings/bulletin.xlsx", headers=h).content[:2] == b"PK"
        month = client.get(f"/api/reports/month/{month_of(today)}", params={"live": "true"}, headers=h).json()
        assert {"findings", "self_check"} <= set(month)


def test_the_command_line(ws: Workspace, db_url: str, tmp_path: Path) -> None:
    env = {"GISPLAN_DATABASE_URL": db_url, "GISPLAN_HOME": str(tmp_path)}
    fid = started(ws)[0]["compound_id"]
    pic = tmp_path / "p.jpg"
    pic.write_bytes(photo())
    due = clock.today().isoformat()
    opening = ["--what", "井盖缺失", "--unit", "市政", "--deadline", due, "--category", "安全", "--photo", str(pic)]
    add = run(["findings", "add", str(fid), *opening], env)
    assert add.returncode == 0, add.stderr
    listed = [json.loads(line) for line in run(["findings", "list", "--open", "--json"], env).stdout.splitlines()]
    mine = next(f for f in listed if f["what"] == "井盖缺失")
    assert mine["category"] == "safety" and mine["inspector"].startswith("cli:")
    refused = run(["findings", "close", str(mine["id"])], env)
    assert refused.returncode != 0  # --photo is required
    closed = run(["findings", "close", str(mine["id"]), "--photo", str(pic), "--note", "已补装"], env)
    assert closed.returncode == 0 and "已整改" in closed.stdout, closed.stderr
    out = tmp_path / "督查通报.html"
    bulletin = run(["report", "inspection", "--out", str(out)], env)
    assert bulletin.returncode == 0 and out.read_text(encoding="utf-8").count("data:image/jpeg") >= 2
    permit = run(["progress", "permit", str(fid), "--date", due, "--number", "P-1"], env)
    assert permit.returncode == 0, permit.stderr
    late = run(["progress", "permit", str(fid), "--date", "2099-01-01"], env)
    assert late.returncode == 1 and "future" in late.stderr
