"""The app's role tries what it may not: rewrite the append-only logs, become someone else, run code.

The app (``ws``) connects as ``gisplan_app``, as an installation does; every refusal is checked
for the server's own error class (a permission error, or the TRUNCATE guard's restrict_violation),
never for "something failed".
"""

from __future__ import annotations

import psycopg
import pytest
from alembic import command
from psycopg import errors
from pyproj import CRS
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from gis.errors import ServerError
from gis.store import schema
from gis.store.cluster import prepare_database
from gis.store.engine import make_engine, migration_engine
from gis.workspace import Workspace
from tests.helpers.database import SuiteServer

GUARDED = ("programme_events", "programme_submissions", "audit_log")
# What the app role must not do, each with the error the server answers.
FORBIDDEN = {
    "create a role": ("CREATE ROLE intruder LOGIN SUPERUSER PASSWORD 'x'", errors.InsufficientPrivilege),
    "read the password hashes": ("SELECT rolname, rolpassword FROM pg_authid", errors.InsufficientPrivilege),
    "become the owner": ("SET ROLE gisplan_owner", errors.InsufficientPrivilege),
    "become the superuser": ("SET ROLE postgres", errors.InsufficientPrivilege),
    "create a table": ("CREATE TABLE public.loot (x text)", errors.InsufficientPrivilege),
    "drop the event log": ("DROP TABLE programme_events", errors.InsufficientPrivilege),
    "switch the guards off": ("ALTER TABLE programme_events DISABLE TRIGGER ALL", errors.InsufficientPrivilege),
    "drop the guard": ("DROP FUNCTION gisplan_no_truncate() CASCADE", errors.InsufficientPrivilege),
    "run a program": ("COPY (SELECT 1) TO PROGRAM 'id'", errors.InsufficientPrivilege),
    "read a server file": ("SELECT pg_read_file('/etc/passwd')", errors.InsufficientPrivilege),
    "rewrite the schema version": ("UPDATE alembic_version SET version_num = '0001'", errors.InsufficientPrivilege),
    "change the working CRS": ("UPDATE gisplan_meta SET value = 'EPSG:4326'", errors.InsufficientPrivilege),
}


@pytest.fixture
def migrated(ws: Workspace) -> Workspace:
    schema.upgrade(ws.engine, CRS.from_epsg(4548))
    return ws


def refused(ws: Workspace, statement: str) -> BaseException:
    """Run ``statement`` as the app; return the driver's error (the test fails when it runs)."""
    with pytest.raises(DBAPIError) as caught, ws.engine.begin() as conn:
        conn.execute(text(statement))
    assert caught.value.orig is not None
    return caught.value.orig


def test_the_app_is_a_plain_role_and_owns_nothing(migrated: Workspace) -> None:
    with migrated.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT current_user, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, "
                "pg_has_role(current_user, 'gisplan_owner', 'MEMBER') "
                "FROM pg_roles WHERE rolname = current_user"
            )
        ).one()
        owners = dict(
            conn.execute(text("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'")).all()
        )
    assert tuple(row) == ("gisplan_app", False, False, False, False, False)
    assert owners.pop("spatial_ref_sys") != "gisplan_app"  # PostGIS's, the superuser's
    assert {"programme_events", "programme_submissions", "audit_log", "compounds", "pipelines"} <= set(owners)
    assert set(owners.values()) == {"gisplan_owner"}


def test_the_app_cannot_rewrite_an_append_only_table(migrated: Workspace) -> None:
    # one database for the nine attempts (each in its own transaction): a database costs a second
    for table in GUARDED:
        for verb in ("TRUNCATE {}", "UPDATE {} SET actor = actor", "DELETE FROM {}"):
            error = refused(migrated, verb.format(table))
            assert isinstance(error, errors.InsufficientPrivilege), (verb.format(table), error)
            assert f"permission denied for table {table}" in str(error)


def test_the_app_appends_and_reads_but_the_log_keeps_its_rows(migrated: Workspace) -> None:
    with migrated.engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_log (actor, action, layer) VALUES ('张工', 'note', 'compounds')"))
        conn.execute(text("INSERT INTO compounds (source, source_key, geom) VALUES ('t', '1', 'SRID=4548;POINT(1 2)')"))
        conn.execute(text("UPDATE compounds SET name = '石油大院' WHERE source_key = '1'"))  # ordinary data: allowed
    for statement in ("DELETE FROM audit_log", "UPDATE audit_log SET actor = 'nobody'", "TRUNCATE audit_log"):
        assert isinstance(refused(migrated, statement), errors.InsufficientPrivilege)
    with migrated.engine.connect() as conn:
        log = conn.execute(text("SELECT actor, action FROM audit_log ORDER BY id")).all()
    # the app's own note, then the audit trigger's rows for the insert and the update
    assert [tuple(r) for r in log] == [("张工", "note"), ("gisplan_app", "insert"), ("gisplan_app", "update")]


def test_even_the_owner_cannot_truncate_an_append_only_table(migrated: Workspace) -> None:
    with migration_engine(migrated.engine) as owner:
        assert owner.url.username == "gisplan_owner"
        for table in GUARDED:
            with pytest.raises(DBAPIError) as caught, owner.begin() as conn:
                conn.execute(text(f"TRUNCATE {table} CASCADE"))
            assert isinstance(caught.value.orig, errors.RestrictViolation), (table, caught.value.orig)
            assert f"{table} is append-only" in str(caught.value.orig)
        with owner.begin() as conn:  # the owner's ordinary tables truncate as before
            conn.execute(text("TRUNCATE gap_runs CASCADE"))


def test_the_app_role_cannot(migrated: Workspace) -> None:
    for attempt, (statement, expected) in FORBIDDEN.items():
        error = refused(migrated, statement)
        assert isinstance(error, expected), f"{attempt}: {error!r}"


def test_a_database_made_by_an_older_gisplan_is_upgraded(ws: Workspace, test_server: SuiteServer, db_name: str) -> None:
    """Made as the superuser up to 0005 (as gisplan did before the roles): the superuser hands it to
    the owner, the owner migrates it, the app then has exactly its privileges."""
    superuser = test_server.url(db_name)
    old = make_engine(superuser)
    cfg = schema._config()
    with old.begin() as conn:
        cfg.attributes.update(connection=conn, srid=4548, working_crs="EPSG:4548")
        command.upgrade(cfg, "0005")
        conn.execute(text("INSERT INTO audit_log (actor, action, layer) VALUES ('api:planner', 'old', 'compounds')"))
    old.dispose()
    with psycopg.connect(superuser) as conn:
        owners = {r[0] for r in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")}
    assert owners == {"postgres"}  # what an older gisplan left

    moved = prepare_database(superuser)
    assert {"programme_events", "audit_log", "alembic_version", "gisplan_meta"} <= set(moved)
    ws.check()  # reads the working CRS as the app, then migrates as the owner
    with ws.engine.connect() as conn:
        assert schema.current_revision(conn) == schema.head_revision()
        assert conn.execute(text("SELECT actor FROM audit_log")).scalars().all() == ["api:planner"]
    assert isinstance(refused(ws, "TRUNCATE programme_events"), errors.InsufficientPrivilege)
    assert isinstance(refused(ws, "DELETE FROM audit_log"), errors.InsufficientPrivilege)
    assert prepare_database(superuser) == []  # nothing left to hand over: done once


def test_an_owner_url_for_another_database_is_refused(app_url: str, db_url: str) -> None:
    elsewhere = db_url.rpartition("/")[0] + "/postgres"
    with pytest.raises(ServerError, match="same server and database") as caught:
        make_engine(app_url, owner_url=elsewhere)
    assert "gisplan_owner:***@" in str(caught.value)  # the password never in a message
    assert "gisplan_owner" in migration_owner(make_engine(app_url, owner_url=db_url))


def migration_owner(engine: Engine) -> str:
    with migration_engine(engine) as owner:
        return str(owner.url.username)
