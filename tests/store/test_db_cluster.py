"""The embedded cluster lets nobody else in: another OS account, a connection without a password.

A cluster of its own (gisplan's code, fsync off), so these hold whatever server the rest of the
suite uses. As root (how the suite runs in CI) a real second account is created with ``useradd``
and tries the socket and TCP with ``psql``; not root, the same attempts are made as this account
without a password, which is what a second account could do at most.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from psycopg import errors
from pyproj import CRS
from sqlalchemy import make_url

import gis
from gis.demo import sample_path
from gis.settings import Settings
from gis.store import schema, users
from gis.store.cluster import EmbeddedCluster, ensure_extensions
from gis.store.engine import make_engine
from tests.helpers.cli import run

ROLES = ("gisplan_owner", "gisplan_app")


def data_parent() -> Path:
    """An open parent (0755, as ``/var/lib/gisplan`` or a home is) for a data directory gisplan
    creates itself, as it does by default; not under pytest's root-only tmp."""
    parent = Path(tempfile.mkdtemp(prefix="gisplan-sec-db-"))
    parent.chmod(0o755)
    return parent


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmbeddedCluster]:
    home = Path(tempfile.mkdtemp(prefix="gisplan-sec-home-"))
    data = data_parent()
    cluster = EmbeddedCluster(home, data_dir=data / "cluster", fast=True)
    cluster.up()
    try:
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)


def described(cluster: EmbeddedCluster) -> dict[str, str | int]:
    return dict(json.loads(cluster.info_path.read_text()))


def psql(
    cluster: EmbeddedCluster, host: str, user: str, *, as_os_user: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``psql -w`` (never prompts, so no password unless one is given) as ``as_os_user``."""
    info = described(cluster)
    argv = [str(Path(str(info["bindir"])) / "psql"), "-w", "-X", "-h", host, "-p", str(info["port"])]
    argv += ["-U", user, "-d", "gisplan", "-Atc", "SELECT current_user"]
    if as_os_user:
        argv = ["runuser", "-u", as_os_user, "--", *argv]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False, cwd="/")


@pytest.fixture
def intruder() -> Iterator[str | None]:
    """A second OS account (as root), removed afterwards; None when not root."""
    if os.geteuid() != 0:
        yield None
        return
    name = f"gpi{secrets.token_hex(4)}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False)


def test_the_socket_directory_and_the_description_are_private(cluster: EmbeddedCluster) -> None:
    info = described(cluster)
    socket_dir = Path(str(info["data_dir"]))
    server_user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    st = socket_dir.stat()
    assert stat.S_IMODE(st.st_mode) == 0o700
    assert pwd.getpwuid(st.st_uid).pw_name == server_user
    sock = (socket_dir / f".s.PGSQL.{info['port']}").stat()
    assert stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o700  # the socket is in there, closed
    assert stat.S_IMODE(cluster.info_path.stat().st_mode) == 0o600
    assert {"password", "owner_password", "app_password"} <= set(info)


def test_no_connection_is_trusted(cluster: EmbeddedCluster) -> None:
    info = described(cluster)
    hba = Path(str(info["data_dir"])) / "data" / "pg_hba.conf"
    rules = [line.split() for line in hba.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert rules and all(rule[-1] == "scram-sha-256" for rule in rules), rules
    with psycopg.connect(cluster.url("postgres", driver="postgresql")) as conn:
        loaded = conn.execute("SELECT type, auth_method, error FROM pg_hba_file_rules").fetchall()
        listen = conn.execute("SHOW listen_addresses").fetchone()
    assert loaded and {(t, m) for t, m, _ in loaded} == {("local", "scram-sha-256"), ("host", "scram-sha-256")}
    assert all(e is None for _, _, e in loaded)
    assert listen == ("127.0.0.1",)


def test_no_password_no_entry(cluster: EmbeddedCluster) -> None:
    """This very account, over the socket and over TCP, as each role, without the password."""
    socket_dir = str(described(cluster)["data_dir"])
    for host in (socket_dir, "127.0.0.1"):
        for user in ("postgres", *ROLES):
            result = psql(cluster, host, user)
            assert result.returncode != 0 and result.stdout == "", (host, user, result.stdout)
            assert "no password supplied" in result.stderr, (host, user, result.stderr)


def test_another_os_account_cannot_reach_the_socket(cluster: EmbeddedCluster, intruder: str | None) -> None:
    socket_dir = str(described(cluster)["data_dir"])
    if intruder is None:  # not root: the brief's fallback, a second connection without a password
        result = psql(cluster, socket_dir, "postgres")
        assert result.returncode != 0 and "no password supplied" in result.stderr
        return
    for user in ("postgres", *ROLES):
        result = psql(cluster, socket_dir, user, as_os_user=intruder)
        assert result.returncode != 0 and result.stdout == "", (user, result.stdout)
        assert "Permission denied" in result.stderr, result.stderr  # the directory, before any auth
        result = psql(cluster, "127.0.0.1", user, as_os_user=intruder)
        assert result.returncode != 0 and "no password supplied" in result.stderr, result.stderr
    # nor can it read the passwords
    reads = subprocess.run(
        ["runuser", "-u", intruder, "--", "cat", str(cluster.info_path)], capture_output=True, text=True, check=False
    )
    assert reads.returncode != 0 and "password" not in reads.stdout


def test_db_url_prints_the_app_url(cluster: EmbeddedCluster) -> None:
    result = run(["db", "url"], {"GISPLAN_HOME": str(cluster.home), "GISPLAN_DATABASE_URL": ""})
    assert result.returncode == 0, result.stderr
    printed = result.stdout.strip()
    assert printed.startswith("postgresql://")  # libpq's form: psql, QGIS and ogr2ogr take it
    url = make_url(printed)
    assert (url.username, url.host, url.database) == ("gisplan_app", "127.0.0.1", "gisplan")
    assert url.password == described(cluster)["app_password"]
    with psycopg.connect(printed) as conn:
        assert conn.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (
            "gisplan_app",
            False,
        )
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE loot (x text)")


def test_dump_and_restore_of_the_embedded_database(cluster: EmbeddedCluster, tmp_path: Path) -> None:
    """``gisplan db dump`` / ``db restore`` with no GISPLAN_DATABASE_URL: the embedded database, as its owner."""
    env = {"GISPLAN_HOME": str(cluster.home), "GISPLAN_DATABASE_URL": "", "GISPLAN_OWNER_DATABASE_URL": ""}
    ws = gis.connect(settings=Settings(home=cluster.home, database_url=None, owner_database_url=None))
    try:
        ws.load("compounds", sample_path(), source_layer="compounds")
        token = users.add_user(ws.engine, "甲", "planner", actor="test")
        archive = tmp_path / "embedded.dump"
        dumped = run(["db", "dump", str(archive)], env)
        assert dumped.returncode == 0, dumped.stderr
        users.add_user(ws.engine, "乙", "planner", actor="test")
        refused = run(["db", "restore", str(archive)], env)
        assert refused.returncode == 1 and "users (2 rows)" in refused.stderr and "--replace" in refused.stderr
        restored = run(["db", "restore", str(archive), "--replace"], env)
        assert restored.returncode == 0, restored.stderr
        assert [u.name for u in users.list_users(ws.engine)] == ["甲"]
        assert users.check_token(ws.engine, token).problem is None
        assert len(ws.layer("compounds")) == 9
    finally:
        ws.close()


def older_gisplan(cluster: EmbeddedCluster) -> None:
    """Put ``cluster`` back as gisplan made it before the roles: local trust, a 0755 directory,
    no roles, a schema at 0005 owned by ``postgres``, a description without role passwords."""
    info = described(cluster)
    base = Path(str(info["data_dir"]))
    admin = cluster.url("gisplan", driver="postgresql")
    engine = make_engine(admin)
    cfg = schema._config()
    with engine.begin() as conn:
        cfg.attributes.update(connection=conn, srid=4548, working_crs="EPSG:4548")
        command.upgrade(cfg, "0005")
    engine.dispose()
    with psycopg.connect(admin, autocommit=True) as conn:
        for db in ("gisplan", "postgres"):
            with psycopg.connect(cluster.url(db, driver="postgresql"), autocommit=True) as other:
                other.execute("DROP OWNED BY gisplan_owner, gisplan_app")
        conn.execute("DROP ROLE gisplan_owner")
        conn.execute("DROP ROLE gisplan_app")
        conn.execute("GRANT CONNECT, TEMPORARY ON DATABASE gisplan TO PUBLIC")
        (base / "data" / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
        conn.execute("SELECT pg_reload_conf()")
    base.chmod(0o755)
    old = {k: v for k, v in info.items() if k not in ("owner_password", "app_password")}
    cluster.info_path.write_text(json.dumps(old))


def test_an_older_cluster_is_closed_and_its_database_handed_to_the_owner(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = data_parent()
    cluster = EmbeddedCluster(tmp_path / "home", data_dir=data / "cluster", fast=True)
    try:
        cluster.up()
        older_gisplan(cluster)
        socket_dir = str(described(cluster)["data_dir"])
        assert psql(cluster, socket_dir, "postgres").stdout.strip() == "postgres"  # the hole, reproduced

        # A bureau's server: its schema owner may not create roles, and gisplan_app does not exist.
        admin = cluster.url("postgres", driver="postgresql")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE ROLE bureau_gis LOGIN PASSWORD 'bureau-pw'")
            conn.execute("CREATE DATABASE bureau OWNER bureau_gis")
        ensure_extensions(cluster.url("bureau", driver="postgresql"))
        bureau = make_url(cluster.url("bureau")).set(username="bureau_gis", password="bureau-pw")
        engine = make_engine(bureau.render_as_string(hide_password=False))
        with caplog.at_level(logging.WARNING, logger="gis.store.privileges"):
            schema.upgrade(engine, CRS.from_epsg(4548))  # does not fail
        assert "may not create roles: skipped" in caplog.text and "README" in caplog.text
        with engine.connect() as conn, pytest.raises(Exception, match="programme_events is append-only"):
            conn.exec_driver_sql("TRUNCATE programme_events CASCADE")  # the guard is there all the same
        engine.dispose()

        # Our own cluster, on its next `db up`: closed, the roles made, the old database handed over.
        again = EmbeddedCluster(tmp_path / "home")
        app = make_url(again.up())
        assert app.username == "gisplan_app"
        assert stat.S_IMODE(Path(socket_dir).stat().st_mode) == 0o700
        result = psql(cluster, socket_dir, "postgres")
        assert result.returncode != 0 and "no password supplied" in result.stderr  # reloaded, no trust
        assert described(again)["app_password"] and stat.S_IMODE(again.info_path.stat().st_mode) == 0o600
        ws = gis.connect(
            settings=Settings(home=tmp_path / "home", database_url=None, owner_database_url=None)
        )  # the app; migrates as the owner
        try:
            with ws.engine.connect() as conn:
                assert schema.current_revision(conn) == schema.head_revision()
                assert conn.exec_driver_sql("SELECT current_user").scalar() == "gisplan_app"
                with pytest.raises(Exception, match="permission denied for table programme_events"):
                    conn.exec_driver_sql("TRUNCATE programme_events")
        finally:
            ws.close()
        with psycopg.connect(cluster.url("gisplan", driver="postgresql")) as conn:
            owners = {
                r[0]
                for r in conn.execute(
                    "SELECT tableowner FROM pg_tables WHERE tablename <> 'spatial_ref_sys' AND schemaname = 'public'"
                )
            }
        assert owners == {"gisplan_owner"}
    finally:
        cluster.destroy()
        shutil.rmtree(data, ignore_errors=True)
