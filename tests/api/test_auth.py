"""Who is calling, checked on every route: bad tokens answer 401 everywhere, HTTP Basic beside
Bearer, failed sign-ins limited per address, rotation / disabling / expiry, every write naming the
person, admin-only actions, the access log, security headers and links that ignore the Host header."""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.main import create_app
from gis.demo import sample_path
from gis.store.users import add_user, disable_user, list_users, rotate_token
from gis.workspace import Workspace

PATH_VALUES = {
    "collection_id": "compounds",
    "fid": "1",
    "compound_id": "1",
    "run_id": "1",
    "item_id": "1",
    "record_id": "1",
    "finding_id": "1",
    "consultation_id": "1",
    "notice_id": "1",
    "feedback_id": "1",
    "month": "2026-01",
    "quarter": "2026Q3",
    "job_id": "x",
    "facility": "kindergarten",
    "name": "alice",
    "z": "0",
    "y": "0",
    "x": "0",
}
NOT_IN_OPENAPI = [
    "/",
    "/static/app.js",
    "/static/vendor/maplibre-gl/maplibre-gl.js",
    "/docs",
    "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js",
    "/openapi.json",
]


def basic(name: str, token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{token}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def users(ws: Workspace) -> dict[str, str]:
    """The sample's layers loaded; a planner, an admin, a public-role user, a disabled and an
    expired one. Yields their tokens by name."""
    for layer in ("compounds", "facilities", "roads", "pipelines"):
        ws.load(layer, sample_path(), source_layer=layer)
    tokens = {
        "alice": add_user(ws.engine, "alice", "planner"),
        "boss": add_user(ws.engine, "boss", "admin"),
        "viewer": add_user(ws.engine, "viewer", "public"),
        "gone": add_user(ws.engine, "gone", "planner"),
        "old": add_user(ws.engine, "old", "planner", expires=date(2020, 1, 31), today=date(2020, 1, 1)),
        "规划师": add_user(ws.engine, "规划师", "planner"),
    }
    disable_user(ws.engine, "gone")
    return tokens


@pytest.fixture
def client(ws: Workspace, users: dict[str, str]) -> Iterator[TestClient]:
    ws.settings.auth_failures = 100_000  # the matrix sends hundreds of bad tokens from one address
    with TestClient(create_app(workspace=ws)) as c:
        yield c


def operations(app: FastAPI) -> list[tuple[str, str]]:
    ops = []
    for path, item in app.openapi()["paths"].items():
        concrete = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
        ops += [(method.upper(), concrete) for method in item if method in ("get", "post", "put", "patch", "delete")]
    return ops


def test_a_bad_token_answers_401_on_every_route(client: TestClient, users: dict[str, str]) -> None:
    ops = operations(client.app)  # type: ignore[arg-type]
    assert len(ops) >= 40 and ("POST", "/api/reports/month/2026-01/submit") in ops
    ops += [("GET", p) for p in NOT_IN_OPENAPI] + [("GET", "/no/such/path")]
    bad = {
        "unknown bearer": bearer("x" * 43),
        "unknown basic": basic("alice", "x" * 43),
        "right token, other name": basic("boss", users["alice"]),
        "disabled": bearer(users["gone"]),
        "expired": bearer(users["old"]),
        "expired, basic": basic("old", users["old"]),
        "other scheme": {"Authorization": f"Token {users['alice']}"},
        "empty bearer": {"Authorization": "Bearer "},
        "basic not base64": {"Authorization": "Basic %%%"},
        "basic without colon": {"Authorization": "Basic " + base64.b64encode(b"alice").decode()},
    }
    wrong = []
    for method, path in ops:
        for what, headers in bad.items():
            r = client.request(method, path, headers=headers)
            ok = r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
            if not ok or "WWW-Authenticate" not in r.headers:
                wrong.append(f"{method} {path} [{what}]: {r.status_code}")
    assert not wrong, "\n".join(wrong[:40])
    # the same routes without credentials are not refused as unauthenticated when public
    for path in ("/ogc", "/ogc/conformance", "/ogc/collections", "/api/gaps/runs", "/openapi.json", "/static/app.js"):
        assert client.get(path).status_code == 200, path
    assert client.get("/ogc/collections/compounds/items", headers=bearer(users["viewer"])).status_code == 200


def collection_ids(r: Any) -> set[str]:
    assert r.status_code == 200, r.text
    return {c["id"] for c in r.json()["collections"]}


def test_http_basic_signs_in_beside_bearer(client: TestClient, users: dict[str, str]) -> None:
    assert "pipelines" not in collection_ids(client.get("/ogc/collections"))
    assert "pipelines" in collection_ids(client.get("/ogc/collections", headers=bearer(users["alice"])))
    assert "pipelines" in collection_ids(client.get("/ogc/collections", headers=basic("alice", users["alice"])))
    assert "pipelines" in collection_ids(client.get("/ogc/collections", headers=basic("规划师", users["规划师"])))
    assert "pipelines" not in collection_ids(client.get("/ogc/collections", headers=basic("viewer", users["viewer"])))
    r = client.get("/ogc/collections/pipelines/items?limit=1", headers=basic("alice", users["alice"]))
    assert r.status_code == 200 and r.json()["features"]
    refused = client.get("/ogc/collections", headers=basic("alice", users["boss"]))
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")


def test_failed_sign_ins_are_limited_per_client_address(ws: Workspace, users: dict[str, str]) -> None:
    assert (ws.settings.auth_failures, ws.settings.auth_window_s) == (10, 60)  # the defaults
    app = create_app(workspace=ws)
    with TestClient(app) as c:
        statuses = [c.get("/ogc/collections", headers=bearer(f"guess-{i}")).status_code for i in range(10)]
        assert statuses == [401] * 10
        blocked = c.get("/ogc/collections", headers=bearer("guess-10"))
        assert blocked.status_code == 429 and blocked.headers["content-type"] == "application/problem+json"
        assert 1 <= int(blocked.headers["Retry-After"]) <= 60
        # even the right token waits (guessing must not go on), the public does not
        assert c.get("/ogc/collections", headers=bearer(users["alice"])).status_code == 429
        assert c.get("/ogc/collections").status_code == 200
        other = TestClient(app, client=("192.0.2.7", 40000))  # same app and limiter, another address
        assert other.get("/ogc/collections", headers=bearer(users["alice"])).status_code == 200


def test_the_limit_window_moves_on(ws: Workspace, users: dict[str, str]) -> None:
    ws.settings.auth_failures, ws.settings.auth_window_s = 3, 2
    with TestClient(create_app(workspace=ws)) as c:
        assert [c.get("/ogc", headers=bearer("nope")).status_code for _ in range(4)] == [401, 401, 401, 429]
        wait = int(c.get("/ogc", headers=bearer("nope")).headers["Retry-After"])
        assert 1 <= wait <= 2
        time.sleep(wait + 0.2)
        assert c.get("/ogc", headers=bearer(users["alice"])).status_code == 200


def test_rotating_disabling_and_expiry(client: TestClient, ws: Workspace, users: dict[str, str]) -> None:
    old = users["alice"]
    new = rotate_token(ws.engine, "alice", actor="cli:root")
    assert new != old
    assert client.get("/ogc/collections", headers=bearer(old)).status_code == 401
    assert "pipelines" in collection_ids(client.get("/ogc/collections", headers=bearer(new)))
    disable_user(ws.engine, "alice", actor="cli:root")
    assert client.get("/ogc/collections", headers=bearer(new)).status_code == 401
    states = {u.name: u.state() for u in list_users(ws.engine)}
    assert states == {
        "alice": "disabled",
        "boss": "active",
        "viewer": "active",
        "gone": "disabled",
        "old": "expired",
        "规划师": "active",
    }
    with ws.engine.connect() as conn:
        rows = conn.execute(text("SELECT actor, action, after FROM audit_log WHERE layer = 'users' ORDER BY id"))
        audit = [(r.actor, r.action, r.after) for r in rows]
    assert ("cli:root", "rotate") in [(a, b) for a, b, _ in audit]
    assert ("cli:root", "disable") in [(a, b) for a, b, _ in audit]
    assert not any(old in json.dumps(after) or new in json.dumps(after) for _, _, after in audit)


def test_admin_only_actions_are_refused_to_planners_by_the_api(client: TestClient, users: dict[str, str]) -> None:
    planner, admin = bearer(users["alice"]), bearer(users["boss"])
    fix = {"stage": "survey", "reason": "录入错误"}
    assert client.post("/api/programme/1/corrections", json=fix, headers=planner).status_code == 403
    assert client.post("/api/programme/1/corrections", json=fix).status_code == 401
    assert client.post("/api/reports/month/2026-01/submit", headers=planner).status_code == 403
    assert client.post("/api/reports/month/2026-01/submit").status_code == 401
    assert client.get("/api/users", headers=planner).status_code == 403
    assert client.get("/api/users").status_code == 401
    assert client.post("/api/users/viewer/disable", headers=planner).status_code == 403
    listed = client.get("/api/users", headers=admin)
    assert listed.status_code == 200
    assert {u["name"]: u["state"] for u in listed.json()["users"]}["old"] == "expired"
    assert not any(t in listed.text for t in users.values()) and "hash" not in listed.text
    assert client.post("/api/users/viewer/disable", headers=admin).json()["changed"] is True
    assert client.get("/ogc", headers=bearer(users["viewer"])).status_code == 401
    assert client.post("/api/users/nobody/disable", headers=admin).status_code == 404


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def access() -> Iterator[Lines]:
    log = logging.getLogger("gisplan.access")
    handler, level = Lines(), log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield handler
    log.removeHandler(handler)
    log.setLevel(level)


def test_the_access_log_has_a_json_line_per_request_and_never_a_token(
    client: TestClient, users: dict[str, str], access: Lines
) -> None:
    client.get("/ogc/collections")
    client.get("/ogc/collections/pipelines/items?limit=2", headers=bearer(users["alice"]))
    client.get("/ogc/collections/compounds/items?limit=1&access_token=s3cret", headers=basic("boss", users["boss"]))
    client.get("/ogc/collections", headers=bearer(users["gone"]))
    client.get("/ogc/collections", headers=basic("alice", "wrong-password"))
    lines = [json.loads(line) for line in access.lines]  # each is one JSON object
    assert len(lines) == 5
    keys = {"time", "user", "role", "method", "path", "status", "duration_ms", "client"}
    assert all(keys <= set(line) for line in lines)
    anon, restricted, admin, disabled, wrong = lines
    assert (anon["user"], anon["role"], anon["status"], anon["path"]) == (None, "public", 200, "/ogc/collections")
    assert restricted["user"] == "alice" and restricted["role"] == "planner" and restricted["status"] == 200
    assert restricted["collection"] == "pipelines" and restricted["restricted"] is True
    assert admin["user"] == "boss" and admin["restricted"] is False and "s3cret" not in admin["query"]
    assert disabled["status"] == 401 and disabled["auth"] == "disabled" and disabled["user"] == "gone"
    assert wrong["status"] == 401 and wrong["user"] is None
    assert all(line["client"] == "testclient" and line["duration_ms"] >= 0 for line in lines)
    text_ = "\n".join(access.lines)
    for secret in [*users.values(), "wrong-password", "s3cret", "Bearer", "Basic", "uthorization"]:
        assert secret not in text_


def test_security_headers_and_no_store_for_planners(client: TestClient, ws: Workspace, users: dict[str, str]) -> None:
    page = client.get("/")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'"
    assert directives["worker-src"] == "blob:" and directives["img-src"] == "'self' data: blob:"
    assert directives["frame-ancestors"] == "'none'" and "unsafe" not in csp
    planner = bearer(users["alice"])
    for path, headers in [
        ("/", {}),
        ("/ogc/collections", {}),
        ("/ogc/collections/nope", {}),
        ("/static/app.js", {}),
        ("/ogc", bearer("bad")),
        ("/api/programme", planner),
    ]:
        r = client.get(path, headers=headers)
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        assert r.headers["Referrer-Policy"] == "no-referrer", path
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"], path
    for path in (
        "/ogc/collections/pipelines/items?limit=1",
        "/ogc/collections/pipelines/tiles/WebMercatorQuad/0/0/0",
        "/ogc/collections/compounds/items/1",
        "/api/map/config",
        "/api/exports/gisplan.gpkg?restricted=true",
    ):
        r = client.get(path, headers=planner)
        assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store", (path, r.status_code)
    public_tile = client.get("/ogc/collections/compounds/tiles/WebMercatorQuad/0/0/0")
    assert public_tile.headers["Cache-Control"] != "no-store"  # the public's own caching is kept
    report = client.get("/api/exports/reports/1.html")  # a page of ours that needs no script
    assert "default-src 'none'" in report.headers["Content-Security-Policy"]
    ws.settings.basemap_url = "https://t0.tiles.example.org/vec/{z}/{x}/{y}.png?tk=KEY"
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "img-src 'self' data: blob: https://t0.tiles.example.org;" in csp and "KEY" not in csp


def hrefs(body: Any) -> list[str]:
    if isinstance(body, dict):
        return [v for k, v in body.items() if k == "href" and isinstance(v, str)] + [
            h for v in body.values() for h in hrefs(v)
        ]
    if isinstance(body, list):
        return [h for v in body for h in hrefs(v)]
    return []


def test_links_come_from_the_public_url_never_the_host_header(client: TestClient, ws: Workspace) -> None:
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    links = hrefs(client.get("/ogc", headers=evil).json()) + hrefs(client.get("/ogc/collections", headers=evil).json())
    assert len(links) > 10 and not any("evil" in h for h in links)
    ws.settings.public_url = "https://gis.example.gov.cn/gisplan"
    for path in ("/ogc", "/ogc/collections", "/ogc/collections/compounds/items?limit=2"):
        got = hrefs(client.get(path, headers=evil).json())
        assert got and all(h.startswith("https://gis.example.gov.cn/gisplan/") for h in got), got
    tilejson = client.get("/ogc/collections/compounds/tiles/WebMercatorQuad/tilejson.json", headers=evil).json()
    assert tilejson["tiles"][0].startswith("https://gis.example.gov.cn/gisplan/ogc/collections/compounds/tiles/")
