"""The funds ledger over HTTP on the sample (with the demo's synthetic ledger): planners add and read, the
public and anonymous callers get 404, bad bodies 4xx problem+json and write nothing; the auditor's pack
opens with openpyxl, carries the chain and keeps a hostile reason as text."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from gis.demo.funds import FUNDS_MARK
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers.cli import run

pytestmark = pytest.mark.sample
HOSTILE = '=HYPERLINK("http://evil.example/","点我")'


def test_the_ledger_api_and_the_pack(ws: Workspace) -> None:
    demo = ws.funds.check()
    assert {"contract_within_tender", "change_needs_approval"} <= set(demo["rule"])
    assert ws.funds.entries()["synthetic"].eq(FUNDS_MARK).any()
    fid = int(ws.funds.entries()["compound_id"].iloc[0])
    planner = {"Authorization": f"Bearer {add_user(ws.engine, 'f-planner', 'planner')}"}
    public = {"Authorization": f"Bearer {add_user(ws.engine, 'f-public', 'public')}"}
    with TestClient(create_app(workspace=ws)) as client:
        for headers in ({}, public):
            for path in (f"/api/funds/{fid}", "/api/funds/breaches", "/api/funds/pack.xlsx?compound_id=1"):
                r = client.get(path, headers=headers)
                assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", path
            body = {"kind": "received", "amount": "1.00", "on": str(date.today()), "fund_source": "local"}
            r = client.post(f"/api/funds/{fid}/entries", json=body, headers=headers)
            assert r.status_code == 404
        before = len(client.get(f"/api/funds/{fid}", headers=planner).json()["entries"])
        today = str(date.today())
        bad = [
            {"kind": "payment", "amount": "-10", "on": today, "fund_source": "local"},  # the library: negative
            {"kind": "payment", "amount": "10", "on": today, "fund_source": "lottery"},  # unknown source
            {"kind": "payment", "amount": "abc", "on": today, "fund_source": "local"},  # not an amount
            {"kind": "payment", "amount": "10", "on": today, "fund_source": "local", "admin": True},  # extra field
            {"kind": "bribe", "amount": "10", "on": today},  # unknown kind
            {"kind": "change", "amount": "10", "on": today, "reason": "x" * 3000},  # too long
            {"kind": "change", "amount": "10", "on": "2026-13-40", "reason": "r"},  # not a date
        ]
        for body in bad:
            r = client.post(f"/api/funds/{fid}/entries", json=body, headers=planner)
            assert 400 <= r.status_code < 500 and r.headers["content-type"] == "application/problem+json", body
        assert len(client.get(f"/api/funds/{fid}", headers=planner).json()["entries"]) == before
        body = {"kind": "change", "amount": "9999.00", "on": today, "reason": HOSTILE}
        r = client.post(f"/api/funds/{fid}/entries", json=body, headers=planner)
        assert r.status_code == 201, r.text
        made = r.json()
        assert made["reason"] == HOSTILE and [b["rule"] for b in made["breaches"]] == ["change_needs_approval"]
        led = client.get(f"/api/funds/{fid}", headers=planner).json()
        assert len(led["entries"]) == before + 1 and led["totals"]["changes_unapproved"] >= 9999
        streets = client.get("/api/funds/streets", headers=planner).json()
        assert sum(s["breaches"] for s in streets) == len(client.get("/api/funds/breaches", headers=planner).json())
        r = client.get("/api/funds/pack.xlsx", params={"compound_id": fid}, headers=planner)
        assert r.status_code == 200, r.text
        r2 = client.get("/api/funds/pack.xlsx", headers=planner)  # neither compound nor street
        assert r2.status_code == 422 and r2.headers["content-type"] == "application/problem+json"
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert {"汇总", "台账", "变更", "分来源", "违规", "规则", "资料"} <= set(book.sheetnames)
    chain = [[c.value for c in row] for row in book["台账"].iter_rows()]
    kinds = {row[2] for row in chain[1:]}
    assert {"估算/概算", "预算", "招标控制价", "合同价", "变更", "资金到位", "拨付"} <= kinds
    hostile = [c for row in book["台账"].iter_rows() for c in row if c.value == HOSTILE]
    assert hostile and all(c.data_type == "s" for c in hostile)  # text, never a formula
    changes = [[c.value for c in row] for row in book["变更"].iter_rows()]
    assert any(row[7] == "未批准（超过比例，违规）" for row in changes)
    flagged = [row[1] for row in book["违规"].iter_rows(values_only=True)]
    assert "change_needs_approval" in flagged
    rules = [row[0] for row in book["规则"].iter_rows(values_only=True)]
    assert "payment_within_received" in rules


def test_the_cli(ws: Workspace, db_url: str, tmp_path: Path) -> None:
    env = {"GISPLAN_DATABASE_URL": db_url, "GISPLAN_HOME": str(tmp_path)}
    fid = str(int(ws.funds.entries()["compound_id"].iloc[0]))
    added = run(["funds", "add", fid, "--kind", "received", "--amount", "12.34", "--source", "居民出资"], env)
    assert added.returncode == 0 and "12.34" in added.stdout, added.stdout + added.stderr
    refused = run(["funds", "add", fid, "--kind", "payment", "--amount", "-1", "--source", "local"], env)
    assert refused.returncode == 1 and "error" in refused.stderr
    shown = run(["funds", "show", fid], env)
    assert shown.returncode == 0 and "合同价" in shown.stdout and "居民出资" in shown.stdout, shown.stderr
    checked = run(["funds", "check"], env)  # the demo's breaches: exit 1
    assert checked.returncode == 1 and "contract_within_tender" in checked.stdout, checked.stderr
    out = tmp_path / "pack.xlsx"
    packed = run(["funds", "pack", "--compound", fid, "--out", str(out)], env)
    assert packed.returncode == 0 and openpyxl.load_workbook(out)["台账"].max_row > 8, packed.stderr
