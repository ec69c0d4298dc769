"""Every request body is capped while it streams, before it is parsed and before the token is checked.

A real ``gisplan serve`` process is sent a 1 GB body (chunked, and with a Content-Length) on the three
kinds of limit — POST /api/gaps (the 1 MB default), a feature PATCH (10 MB), the schedule import
(20 MB) — anonymously, with a planner's token and with a bad one: each is answered 413 problem+json
in under 2 s, the client stops sending (it never gets near 1 GB through), and the server's resident
memory grows by less than 50 MB. Bodies within their limit, chunked too, still arrive whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gis.demo import sample_path
from gis.settings import Settings
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers.served import Served, peak_rss, serve_process, stream_body

pytestmark = pytest.mark.heavy  # a long module: collected first (tests/conftest.py)

GB = 1 << 30
MB = 1 << 20
PROBLEM = "application/problem+json"
ROUTES = [  # (method, path, its limit in MB)
    ("POST", "/api/gaps", 1),
    ("PATCH", "/ogc/collections/compounds/items/1", 10),
    ("POST", "/api/programme/schedule", 20),
]


@pytest.fixture
def served(ws: Workspace, settings: Settings, tmp_path: Path) -> Iterator[tuple[Served, str]]:
    for layer in ("compounds", "facilities", "roads"):
        ws.load(layer, sample_path(), source_layer=layer)
    token = add_user(ws.engine, "规划师", "planner")
    env = {
        "GISPLAN_DATABASE_URL": str(settings.database_url),
        "GISPLAN_OWNER_DATABASE_URL": str(settings.owner_database_url),
        "GISPLAN_HOME": str(settings.home),
    }
    with serve_process(env, tmp_path / "serve.log", ready="/ogc") as server:
        yield server, token


def test_a_gigabyte_is_refused_early_and_unread(served: tuple[Served, str]) -> None:
    server, token = served
    callers = {
        "anonymous": {},
        "planner": {"Authorization": f"Bearer {token}"},
        "bad token": {"Authorization": "Bearer nope"},
    }
    start_rss = server.rss()
    rows = []
    for method, path, limit_mb in ROUTES:
        for who, headers in callers.items():
            for chunked in (True, False):
                with peak_rss(server) as rss:
                    answer = stream_body(server.base, method, path, total=GB, chunked=chunked, headers=headers)
                grown = (rss[1] - rss[0]) / MB
                how = "chunked" if chunked else "content-length"
                rows.append((method, path, who, how, answer.status, answer.seconds, answer.sent / MB, grown))
                where = f"{method} {path} {who} {how}: {answer}"
                assert answer.status == 413, where
                assert answer.headers["content-type"] == PROBLEM, where
                problem = json.loads(answer.body)
                assert problem["status"] == 413 and f"{limit_mb:g} MB" in problem["detail"], problem
                assert answer.seconds < 2, where
                assert grown < 50, where
                # the client stopped: what got through is the limit and what the sockets buffer, not 1 GB
                assert answer.sent < (limit_mb + 64) * MB, where
    total = (server.rss() - start_rss) / MB
    for method, path, who, how, status, seconds, sent, grown in rows:
        print(
            f"{method:6} {path:36} {who:10} {how:14} {status} in {seconds:.3f} s,",
            f"{sent:.1f} MB sent, RSS +{grown:.1f} MB",
        )
    print(f"server RSS after all {len(rows)}: +{total:.1f} MB")
    assert total < 50
    # the server still answers, and its access log names each refusal
    assert httpx.get(server.base + "/ogc", timeout=10).status_code == 200
    logged = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    refused = [line for line in logged if line["status"] == 413]
    assert len(refused) == len(rows) and all("body" in line for line in refused)
    assert not any(line.get("auth") for line in refused)  # refused before the token was looked at


def test_bodies_within_their_limit_arrive_whole_chunked_or_not(served: tuple[Served, str]) -> None:
    server, token = served
    auth = {"Authorization": f"Bearer {token}"}
    item = httpx.get(server.base + "/ogc/collections/compounds/items/1", headers=auth, timeout=30)
    etag = item.headers["etag"]
    patch = json.dumps({"properties": {"households": 321}}).encode()
    headers = {**auth, "If-Match": etag, "Content-Type": "application/json"}
    answer = stream_body(
        server.base,
        "PATCH",
        "/ogc/collections/compounds/items/1",
        total=len(patch),
        chunked=True,
        headers=headers,
        piece=patch,
    )
    assert answer.status == 204, answer
    got = httpx.get(server.base + "/ogc/collections/compounds/items/1", headers=auth, timeout=30).json()
    assert got["properties"]["households"] == 321
    gaps = json.dumps({"facility": ["kindergarten"]}).encode()
    for chunked in (True, False):
        answer = stream_body(
            server.base,
            "POST",
            "/api/gaps",
            total=len(gaps),
            chunked=chunked,
            headers={**auth, "Content-Type": "application/json"},
            piece=gaps,
        )
        assert answer.status == 202, answer
    # exactly at the default limit passes the cap (and is then read as the JSON it is not)
    at_limit = b" " * (MB - 2) + b"{}"
    answer = stream_body(
        server.base,
        "POST",
        "/api/gaps",
        total=MB,
        chunked=True,
        headers={**auth, "Content-Type": "application/json"},
        piece=at_limit,
    )
    assert answer.status == 202, answer
    answer = stream_body(server.base, "POST", "/api/gaps", total=MB + 1, chunked=False, headers=auth)
    assert answer.status == 413, answer
