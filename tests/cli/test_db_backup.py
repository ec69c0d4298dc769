"""``gisplan db dump``, ``db restore`` and ``db url`` as a user runs them: real processes, real tools.

The database is named as a bureau names its own server (``GISPLAN_DATABASE_URL`` in SQLAlchemy's
form, the owner's beside it); ``db url`` must print what psql, psycopg and GDAL (``PG:URL``) open.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import psycopg
from sqlalchemy import make_url

from gis.demo import sample_path
from gis.store.privileges import APP_ROLE, OWNER_ROLE
from gis.workspace import Workspace
from tests.helpers.cli import run
from tests.helpers.database import SuiteServer


def env_for(server: SuiteServer, database: str, home: Path) -> dict[str, str]:
    app = server.url(database, APP_ROLE).replace("postgresql://", "postgresql+psycopg://")
    return {
        "GISPLAN_DATABASE_URL": app,
        "GISPLAN_OWNER_DATABASE_URL": server.url(database, OWNER_ROLE),
        "GISPLAN_HOME": str(home),
    }


def clean_env() -> dict[str, str]:
    """This environment without libpq's variables, so only the URL says where to connect."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def test_dump_restore_and_a_url_psql_and_gdal_open(
    ws: Workspace, test_server: SuiteServer, template: str, db_name: str, tmp_path: Path
) -> None:
    ws.load("compounds", sample_path(), source_layer="compounds")
    source = env_for(test_server, db_name, tmp_path / "home")
    archive = tmp_path / "gisplan.dump"
    dumped = run(["db", "dump", str(archive)], source)
    assert dumped.returncode == 0, dumped.stderr
    assert "wrote" in dumped.stdout and "rows" in dumped.stdout
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert (tmp_path / "gisplan.dump.manifest.json").is_file()

    # into a second, fresh database; then over it again (it now holds data: --replace)
    other = f"{db_name}_r"
    with psycopg.connect(test_server.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{other}" TEMPLATE "{template}"')
    try:
        target = env_for(test_server, other, tmp_path / "home")
        restored = run(["db", "restore", str(archive)], target)
        assert restored.returncode == 0, restored.stderr
        assert "restored" in restored.stdout
        replaced = run(["db", "restore", str(archive), "--replace"], target)
        assert replaced.returncode == 0, replaced.stderr
        assert "replaced" in replaced.stdout and "restored" in replaced.stdout

        printed = run(["db", "url"], target)
        assert printed.returncode == 0, printed.stderr
        url = printed.stdout.strip()
        assert url.startswith("postgresql://") and make_url(url).username == APP_ROLE
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_user, count(*) FROM compounds").fetchone() == (APP_ROLE, 9)
        psql = subprocess.run(
            ["psql", url, "-XAtc", "select 1"], capture_output=True, text=True, env=clean_env(), timeout=60, check=False
        )
        assert (psql.returncode, psql.stdout.strip()) == (0, "1"), psql.stderr
        gdal = subprocess.run(
            ["ogrinfo", "-ro", "-so", f"PG:{url}", "compounds"],
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,
            check=False,
        )
        assert gdal.returncode == 0 and "Feature Count: 9" in gdal.stdout, gdal.stdout + gdal.stderr

        owner = run(["db", "url", "--owner"], target)
        assert make_url(owner.stdout.strip()).username == OWNER_ROLE
    finally:
        with psycopg.connect(test_server.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)')
