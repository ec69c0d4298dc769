"""``gisplan users add | list | disable | rotate`` as an administrator runs them, and ``gisplan serve``:
its warning when it listens beyond loopback, and its access log on stderr and in GISPLAN_ACCESS_LOG."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from datetime import date
from pathlib import Path

import httpx
import pytest

from gis.cli.serve import is_loopback, tls_warning
from gis.demo import sample_path
from gis.errors import UserError
from gis.store.users import add_user, check_token, list_users
from gis.workspace import Workspace
from tests.helpers.cli import GISPLAN, run

pytestmark = pytest.mark.heavy  # a long module: collected first (tests/conftest.py)


@pytest.fixture
def env(ws: Workspace, db_url: str, tmp_path: Path) -> dict[str, str]:
    ws.load("compounds", sample_path(), source_layer="compounds")
    return {"GISPLAN_DATABASE_URL": db_url, "GISPLAN_HOME": str(tmp_path / "home")}


def test_add_list_rotate_disable_and_expiry(env: dict[str, str], ws: Workspace) -> None:
    added = run(["users", "add", "alice", "--role", "planner", "--expires", "2099-06-30"], env)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert len(token) >= 40 and "2099-06-30" in added.stderr and "GDAL_HTTP_USERPWD" in added.stderr
    assert check_token(ws.engine, token, name="alice").problem is None
    assert check_token(ws.engine, token, today=date(2099, 7, 1)).problem == "expired"

    assert run(["users", "add", "bob", "--expires", "2020-01-01"], env).returncode == 1  # past already
    refused = run(["users", "add", "--", "<img src=x onerror=alert(1)>"], env)
    assert refused.returncode == 1 and "user name" in refused.stderr, refused.stderr
    for hostile in ["a:b", "x y", "tab\tname", "-rf", "'; DROP TABLE users;--", "", "a" * 65, "名\u202e"]:
        with pytest.raises(UserError, match="user name"):
            add_user(ws.engine, hostile, "planner")
    assert [u.name for u in list_users(ws.engine)] == ["alice"]

    listed = run(["users", "list"], env)
    assert listed.returncode == 0 and "alice" in listed.stdout and "active" in listed.stdout
    assert "2099-06-30" in listed.stdout and token not in listed.stdout

    rotated = run(["users", "rotate", "alice"], env)
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.strip()
    assert new != token and len(new) >= 40
    assert check_token(ws.engine, token).problem == "unknown"  # the old token stopped working
    assert check_token(ws.engine, new, name="alice").problem is None

    disabled = run(["users", "disable", "alice"], env)
    assert disabled.returncode == 0 and "disabled" in disabled.stdout
    assert check_token(ws.engine, new).problem == "disabled"
    assert "disabled" in run(["users", "list"], env).stdout
    missing = run(["users", "rotate", "nobody"], env)
    assert missing.returncode == 1 and "no user" in missing.stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("gis.example.org", False),
    ],
)
def test_which_addresses_are_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    assert (tls_warning(host, None) is None) is loopback


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_warns_beyond_loopback_and_writes_the_access_log(env: dict[str, str], tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "logs" / "access.jsonl"
    full = {**os.environ, **env, "GISPLAN_ACCESS_LOG": str(log), "COLUMNS": "200", "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [*GISPLAN, "serve", "--host", "0.0.0.0", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full,
    )
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/ogc/conformance", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/ogc", headers={"Authorization": "Bearer nope"}).status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert "TLS" in err and "0.0.0.0" in err and f":{port}/ogc" in out
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [(line["path"], line["status"]) for line in lines][-2:] == [("/ogc/conformance", 200), ("/ogc", 401)]
    assert '"path": "/ogc"' in err and "nope" not in err + log.read_text(encoding="utf-8")
