"""The gisplan command as a user runs it: a real process, real exit codes, real output."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest

from gis.store.cluster import EmbeddedCluster
from tests.helpers.cli import run, run_saying_loaded

pytestmark = pytest.mark.heavy  # a long module: collected first (tests/conftest.py)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["db"],
        ["load"],
        ["layers"],
        ["demo"],
        ["gaps"],
        ["serve"],
        ["users"],
        ["users", "add"],
        ["pipelines"],
        ["pipelines", "check"],
        ["pipelines", "bury"],
        ["db", "up"],
        ["db", "down"],
        ["db", "status"],
        ["db", "url"],
        ["progress"],
        *[["progress", c] for c in ("template", "export", "import", "set", "correct", "show", "history", "risks")],
        ["progress", "coverage"],
        ["report"],
        ["report", "month"],
        ["export"],
        *[["export", c] for c in ("map", "gpkg", "tables", "report")],
        ["evidence"],
        ["acceptance"],
        *[["acceptance", c] for c in ("checklist", "record", "list", "sheet")],
        *[["evidence", c] for c in ("add", "list", "verify", "export", "withdraw", "publish", "pair")],
        ["findings"],
        *[["findings", c] for c in ("add", "close", "list")],
        ["report", "inspection"],
        ["progress", "permit"],
    ],
)
def test_help_for_every_command(args: list[str]) -> None:
    result = run([*args, "--help"], {})
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout and len(result.stdout.splitlines()) > 5


def test_load_prints_counts_and_refusal_exits_nonzero(db_url: str, tmp_path: Path, data_dir: Path) -> None:
    env = {"GISPLAN_DATABASE_URL": db_url, "GISPLAN_HOME": str(tmp_path)}
    refused = run(["load", "compounds", str(data_dir / "cn-huizhou-regplan" / "land.shp")], env)
    assert refused.returncode == 1
    assert "--crs" in refused.stderr and "nothing was changed" in refused.stderr

    # the importer alone is loaded: none of the maps, analyses, programme or workspace
    unused = ("folium", "scipy", "gis.workspace", "gis.gaps", "gis.programme", "gis.export", "gis.pipelines")
    load = ["load", "compounds", str(data_dir / "cn-huizhou-regplan" / "land.shp"), "--crs", "EPSG:4547"]
    ok, loaded = run_saying_loaded(load, env, unused)
    assert ok.returncode == 0, ok.stderr
    assert loaded == "LOADED []", ok.stderr
    assert "79" in ok.stdout and "EPSG:4547" in ok.stdout

    layers = run(["layers"], env)
    assert layers.returncode == 0 and "小区" in layers.stdout and "79" in layers.stdout

    bad_type = run(["load", "facilities", str(data_dir / "cn-huizhou-regplan" / "land.shp"), "--type", "火箭"], env)
    assert bad_type.returncode == 1 and "kindergarten" in bad_type.stderr

    token = run(["users", "add", "张工", "--role", "planner"], env)
    assert token.returncode == 0 and len(token.stdout.strip()) >= 40 and "once" in token.stderr
    again = run(["users", "add", "张工"], env)
    assert again.returncode == 1 and "exists" in again.stderr
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM users WHERE name = '张工'")).scalar_one()
    engine.dispose()
    assert token.stdout.strip() not in stored and len(stored) == 64  # only the hash is kept


def test_embedded_database_lifecycle(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"GISPLAN_HOME": str(home), "GISPLAN_DATABASE_URL": ""}
    try:
        assert run(["db", "status"], env).returncode == 1  # not created yet
        up = run(["db", "up"], env)
        assert up.returncode == 0, up.stderr
        status = run(["db", "status"], env)
        assert status.returncode == 0 and "running" in status.stdout
        url = run(["db", "url"], env).stdout.strip()
        with psycopg.connect(url, autocommit=True) as conn:  # the app's role
            assert conn.execute("SELECT postgis_lib_version()").fetchone()
        owner = EmbeddedCluster(home).owner_url(driver="postgresql")  # tables are the schema owner's
        with psycopg.connect(owner, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (x int)")
            conn.execute("INSERT INTO kept VALUES (42)")
        assert run(["db", "down"], env).returncode == 0
        assert run(["db", "status"], env).returncode == 1
        # as after a machine restart: up again, same cluster, data kept
        assert run(["db", "up"], env).returncode == 0
        assert run(["db", "url"], env).stdout.strip() == url
        with psycopg.connect(owner) as conn:
            assert conn.execute("SELECT x FROM kept").fetchone() == (42,)
    finally:
        EmbeddedCluster(home).destroy()


def test_a_database_out_of_reach_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"GISPLAN_HOME": str(tmp_path), "GISPLAN_DATABASE_URL": f"postgresql://gisplan:x@127.0.0.1:{port}/gisplan"}
    done = run(["progress", "show"], env)  # one command stands for all: the handler is the entry point's
    assert done.returncode == 1, done.stderr
    assert "unavailable" in done.stderr and "数据库暂不可用" in done.stderr
    assert "Traceback" not in done.stderr and "psycopg" not in done.stderr, done.stderr
