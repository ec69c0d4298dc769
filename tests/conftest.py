"""Test fixtures: a throwaway PostGIS cluster started by the suite, a fresh database per test.

The cluster is gisplan's own embedded cluster code run in a temporary directory with fsync off.
``GISPLAN_TEST_DATABASE_URL`` (a server where the user may create databases and roles: the
suite gives the roles ``gisplan_owner`` and ``gisplan_app`` passwords of its own there) replaces it.
Each test's database is made from a template by the superuser; the app (``settings``, ``ws``)
runs in it as ``gisplan_app`` and the migrations as ``gisplan_owner``, so the suite runs with the
privileges a real installation has. ``db_url`` is the owner's URL (for tests that drive the CLI
in another process, which creates the schema).
A skipped test fails the run: a green run must mean every test ran.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from rich.console import Console

from gis.demo import (
    load_sample,
    run_acceptance_demo,
    run_evidence_demo,
    run_findings_demo,
    run_funds_demo,
    run_programme_demo,
)
from gis.settings import Settings
from gis.store.cluster import EmbeddedCluster, prepare_database
from gis.store.engine import make_engine
from gis.store.privileges import APP_ROLE, OWNER_ROLE, ensure_login_role
from gis.workspace import Workspace
from tests.helpers.database import SuiteServer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# under pytest-xdist each worker has templates of its own (on a shared GISPLAN_TEST_DATABASE_URL too)
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
TEMPLATE = "gisplan_test_template" + (f"_{_WORKER}" if _WORKER else "")
SAMPLE_TEMPLATE = "gisplan_test_sample" + (f"_{_WORKER}" if _WORKER else "")
SAMPLE_GAP_TYPES = ["kindergarten", "elderly_station", "health_center", "primary_school"]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and exitstatus == 0 and not os.environ.get("GISPLAN_ALLOW_SKIP"):
        reporter.write_line(f"FAILED: {len(skipped)} tests were skipped; a skipped test fails the run", red=True)
        session.exitstatus = 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long modules (marked ``heavy``) first, the rest after, each in file order: the two
    workers of ``make test`` (pytest-xdist, work stealing) then share out the short tests at the end
    and finish together, instead of one waiting while the other starts a fuzzer last."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"the shared real data are missing: {DATA}")
    return DATA


@pytest.fixture(scope="session")
def test_server() -> Iterator[SuiteServer]:
    external = os.environ.get("GISPLAN_TEST_DATABASE_URL")
    if external:
        admin = external.replace("postgresql+psycopg://", "postgresql://")
        server = SuiteServer(admin, secrets.token_urlsafe(24), secrets.token_urlsafe(24))
        with psycopg.connect(admin, autocommit=True) as conn:
            ensure_login_role(conn, OWNER_ROLE, server.owner_password)
            ensure_login_role(conn, APP_ROLE, server.app_password)
        yield server
        return
    home = Path(tempfile.mkdtemp(prefix="gisplan-test-home-"))
    data = Path(tempfile.mkdtemp(prefix="gisplan-test-db-"))
    cluster = EmbeddedCluster(home, data_dir=data, fast=True)
    cluster.up()
    info = cluster.info()
    assert info is not None
    try:
        yield SuiteServer(cluster.url("postgres", driver="postgresql"), info.owner_password, info.app_password)
    finally:
        cluster.destroy()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def server_url(test_server: SuiteServer) -> str:
    """The superuser's URL (libpq form) of a PostGIS server where test databases can be created."""
    return test_server.admin_url


@pytest.fixture(scope="session")
def template(test_server: SuiteServer) -> str:
    """A template database with the extensions and the roles' access, so each test's database is a
    quick copy."""
    with psycopg.connect(test_server.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    prepare_database(test_server.url(TEMPLATE))
    return TEMPLATE


@pytest.fixture(scope="session")
def sample_template(test_server: SuiteServer, template: str) -> str:
    """A template database holding the whole sample loaded, its programme advanced to today (as the
    demo does), the gap analysis of ``SAMPLE_GAP_TYPES`` run and the pipelines checked: made once,
    through the library as the app, for the tests marked ``sample`` (each gets a copy)."""
    with psycopg.connect(test_server.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{SAMPLE_TEMPLATE}"')
        conn.execute(f'CREATE DATABASE "{SAMPLE_TEMPLATE}" TEMPLATE "{template}"')
    scratch = Path(tempfile.mkdtemp(prefix="gisplan-test-sample-"))
    owner = test_server.url(SAMPLE_TEMPLATE, OWNER_ROLE)
    settings = Settings(database_url=test_server.url(SAMPLE_TEMPLATE, APP_ROLE), owner_database_url=owner, home=scratch)
    assert settings.database_url
    workspace = Workspace(make_engine(settings.database_url, owner_url=owner), settings=settings)
    try:
        load_sample(workspace)
        run_programme_demo(workspace, Console(file=io.StringIO()), out_dir=scratch / "programme")
        run_evidence_demo(workspace, Console(file=io.StringIO()))
        run_acceptance_demo(workspace, Console(file=io.StringIO()))
        run_funds_demo(workspace, Console(file=io.StringIO()))
        run_findings_demo(workspace, Console(file=io.StringIO()))
        workspace.gaps(SAMPLE_GAP_TYPES)
        workspace.pipelines.check()
    finally:
        workspace.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return SAMPLE_TEMPLATE


@pytest.fixture
def db_name(request: pytest.FixtureRequest, test_server: SuiteServer, template: str) -> Iterator[str]:
    """A fresh gisplan database for one test, made by the superuser: empty (extensions only), or for a
    test marked ``sample`` a copy of ``sample_template``."""
    if request.node.get_closest_marker("sample"):
        template = request.getfixturevalue("sample_template")
    with test_server.database(template) as name:
        yield name


@pytest.fixture
def db_url(test_server: SuiteServer, db_name: str) -> str:
    """The fresh database's URL as its schema owner (``gisplan_owner``, who runs the migrations)."""
    return test_server.url(db_name, OWNER_ROLE)


@pytest.fixture
def app_url(test_server: SuiteServer, db_name: str) -> str:
    """The fresh database's URL as the app (``gisplan_app``)."""
    return test_server.url(db_name, APP_ROLE)


@pytest.fixture
def settings(app_url: str, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The app's settings: the app role, the owner for the migrations (in the environment too, for
    the CLI, the API and notebooks a test starts in another process)."""
    monkeypatch.setenv("GISPLAN_OWNER_DATABASE_URL", db_url)
    return Settings(database_url=app_url, owner_database_url=db_url, home=tmp_path / "home")


@pytest.fixture
def ws(settings: Settings) -> Iterator[Workspace]:
    assert settings.database_url
    engine = make_engine(settings.database_url, owner_url=settings.owner_database_url)
    workspace = Workspace(engine, settings=settings)
    try:
        yield workspace
    finally:
        workspace.close()
