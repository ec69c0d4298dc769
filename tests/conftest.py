"""Test fixtures: a throwaway PostGIS cluster started by the suite, a fresh database per test.

The cluster is gisplan's own embedded cluster code run in a temporary directory with fsync off.
``GISPLAN_TEST_DATABASE_URL`` (a server where the user may create databases) replaces it.
A skipped test fails the run: a green run must mean every test ran.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from gis.settings import Settings
from gis.store.cluster import EmbeddedCluster, ensure_extensions
from gis.store.engine import make_engine
from gis.workspace import Workspace

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TEMPLATE = "gisplan_test_template"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and exitstatus == 0 and not os.environ.get("GISPLAN_ALLOW_SKIP"):
        reporter.write_line(f"FAILED: {len(skipped)} tests were skipped; a skipped test fails the run", red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"the shared real data are missing: {DATA}")
    return DATA


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """An admin URL (libpq form) of a PostGIS server where test databases can be created."""
    external = os.environ.get("GISPLAN_TEST_DATABASE_URL")
    if external:
        yield external.replace("postgresql+psycopg://", "postgresql://")
        return
    home = Path(tempfile.mkdtemp(prefix="gisplan-test-home-"))
    data = Path(tempfile.mkdtemp(prefix="gisplan-test-db-"))
    cluster = EmbeddedCluster(home, data_dir=data, fast=True)
    cluster.up()
    try:
        yield cluster.url("postgres", driver="postgresql")
    finally:
        cluster.destroy()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)


def _with_db(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def template(server_url: str) -> str:
    """A template database with the extensions, so each test's database is a quick copy."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    ensure_extensions(_with_db(server_url, TEMPLATE))
    return TEMPLATE


@pytest.fixture
def db_url(server_url: str, template: str) -> Iterator[str]:
    """A fresh, empty gisplan database (extensions only) for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _with_db(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, home=tmp_path / "home")


@pytest.fixture
def ws(settings: Settings) -> Iterator[Workspace]:
    assert settings.database_url
    workspace = Workspace(make_engine(settings.database_url), settings=settings)
    try:
        yield workspace
    finally:
        workspace.close()
