"""Backups: a dump restored into a fresh database is the same database.

The sample, the programme demo, a gap run, a pipeline check and a user go into one test database;
its dump is restored into a second, fresh database of the suite's server. Every table is compared
by its row count and an md5 of its ordered rows, computed here (as the superuser) and not by
gisplan; so are the catalog's facts (owners and grants of every relation, default privileges,
triggers, constraints, indexes, function bodies, sequence positions). Then the restored database is
used: the append-only guards refuse as before, the user's token signs in, new rows get new ids.
A target holding data is refused (and untouched); a restore that fails after it has dropped and
reloaded everything leaves the target as it was; a dump of a newer schema, or a damaged one, is refused.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from rich.console import Console

from gis.demo import load_sample, run_programme_demo, sample_path
from gis.errors import BackupError, RestoreTargetNotEmptyError
from gis.store import backup, users
from gis.store.engine import make_engine
from gis.store.privileges import APP_ROLE, OWNER_ROLE
from gis.workspace import Workspace
from tests.helpers.database import SuiteServer, table_checksums

CATALOG = {
    "relations": """SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relacl::text
        FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')""",
    "default privileges": """SELECT defaclrole::regrole::text, defaclobjtype, defaclacl::text FROM pg_default_acl""",
    "triggers": """SELECT tgrelid::regclass::text, tgname, tgenabled, tgtype, tgfoid::regprocedure::text
        FROM pg_trigger WHERE NOT tgisinternal""",
    "constraints": """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "functions": """SELECT p.proname, pg_get_userbyid(p.proowner), pg_get_functiondef(p.oid) FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND NOT EXISTS (SELECT 1 FROM pg_depend d
        WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')""",
}


@pytest.fixture
def second_db(test_server: SuiteServer, template: str) -> Iterator[str]:
    """Another fresh database (extensions and the roles' access only), made as ``db_name`` is."""
    with test_server.database(template) as name:
        yield name


def fill(ws: Workspace, tmp_path: Path) -> str:
    """Everything gisplan writes: layers, the programme, a gap run, a pipeline check, a user. Its token."""
    load_sample(ws)
    run_programme_demo(ws, Console(file=io.StringIO()), out_dir=tmp_path / "programme")
    ws.gaps("kindergarten")
    ws.pipelines.check()
    return users.add_user(ws.engine, "张工", "planner", actor="test")


def fingerprint(url: str) -> dict[str, Any]:
    """Every table's rows (count, md5 of the ordered rows), every sequence's position, the catalog."""
    found: dict[str, Any] = {}
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for table, rows in table_checksums(conn, sorted(tables)).items():
            found[f"table {table}"] = rows
        sequences = [r[0] for r in conn.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")]
        for seq in sorted(sequences):
            found[f"sequence {seq}"] = conn.execute(f'SELECT last_value, is_called FROM public."{seq}"').fetchone()
        for name, query in CATALOG.items():
            found[name] = sorted(conn.execute(query).fetchall())
    return found


def test_a_restore_into_a_fresh_database_is_the_same_database(
    ws: Workspace, test_server: SuiteServer, db_name: str, second_db: str, tmp_path: Path
) -> None:
    token = fill(ws, tmp_path)
    source = fingerprint(test_server.url(db_name))
    assert source["table compounds"][0] > 0 and source["table users"][0] == 1
    assert source["table gap_results"][0] > 0 and source["table programme_events"][0] > 0
    assert source["table audit_log"][0] > 0 and source["table pipeline_findings"][0] > 0

    archive = tmp_path / "backups" / "gisplan.dump"
    dumped = backup.dump(test_server.url(db_name, OWNER_ROLE), archive)
    assert dumped.manifest_path == tmp_path / "backups" / "gisplan.dump.manifest.json"
    for written in (archive, dumped.manifest_path):  # token hashes and restricted layers inside
        assert stat.S_IMODE(written.stat().st_mode) == 0o600
    manifest = json.loads(dumped.manifest_path.read_text())
    assert manifest["revision"] and manifest["gisplan_version"] and manifest["format"] == backup.FORMAT
    own = {k.removeprefix("table "): v[0] for k, v in source.items() if k.startswith("table ")}
    own.pop("spatial_ref_sys")  # PostGIS's, not gisplan's: the extension fills it
    assert manifest["tables"] == own

    restored = backup.restore(test_server.url(second_db, OWNER_ROLE), archive)
    assert restored.granted and restored.replaced == {}
    target = fingerprint(test_server.url(second_db))
    assert target == source  # every table, row for row; grants, triggers, functions, sequences

    app = make_engine(test_server.url(second_db, APP_ROLE))
    try:
        check = users.check_token(app, token)
        assert (check.name, check.role, check.problem) == ("张工", "planner", None)
        users.add_user(app, "李工", "public", actor="test")  # new rows get new ids
        with app.connect() as conn:
            for statement in ("TRUNCATE audit_log", "DELETE FROM programme_events", "UPDATE audit_log SET actor = 'x'"):
                with pytest.raises(Exception, match="permission denied"):
                    conn.exec_driver_sql(statement)
                conn.rollback()
    finally:
        app.dispose()
    with psycopg.connect(test_server.url(second_db, OWNER_ROLE)) as conn:
        for statement in ("TRUNCATE programme_events CASCADE", "UPDATE programme_events SET actor = 'x'"):
            with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
                conn.execute(statement)
            conn.rollback()


def test_a_target_with_data_is_refused_and_a_failed_restore_changes_nothing(
    ws: Workspace, test_server: SuiteServer, db_name: str, tmp_path: Path
) -> None:
    load_sample(ws)
    owner = test_server.url(db_name, OWNER_ROLE)
    archive = tmp_path / "gisplan.dump"
    backup.dump(owner, archive)
    users.add_user(ws.engine, "王工", "admin", actor="test")  # made after the dump
    before = fingerprint(test_server.url(db_name))

    with pytest.raises(RestoreTargetNotEmptyError, match=r"compounds \(9 rows\).*users \(1 row\).*--replace"):
        backup.restore(owner, archive)
    assert fingerprint(test_server.url(db_name)) == before

    # Fails at the very end (a count the restored rows do not match), after dropping and reloading all.
    wrong = json.loads(backup.manifest_path(archive).read_text())
    wrong["tables"]["compounds"] += 1
    backup.manifest_path(archive).write_text(json.dumps(wrong))
    with pytest.raises(BackupError, match="compounds: 9 rows, the manifest says 10"):
        backup.restore(owner, archive, replace=True)
    assert fingerprint(test_server.url(db_name)) == before

    wrong["tables"]["compounds"] -= 1
    backup.manifest_path(archive).write_text(json.dumps(wrong))
    replaced = backup.restore(owner, archive, replace=True)
    assert replaced.replaced["users"] == 1 and replaced.replaced["compounds"] == 9
    assert users.list_users(ws.engine) == []  # as it was at the dump


def test_a_dump_of_a_newer_schema_or_a_damaged_one_is_refused(
    ws: Workspace, test_server: SuiteServer, db_name: str, second_db: str, tmp_path: Path
) -> None:
    ws.load("compounds", sample_path(), source_layer="compounds")
    archive = tmp_path / "gisplan.dump"
    manifest = backup.dump(test_server.url(db_name, OWNER_ROLE), archive).manifest
    target = test_server.url(second_db, OWNER_ROLE)

    newer = tmp_path / "newer.dump"
    shutil.copy(archive, newer)
    future = dataclasses.replace(manifest, revision="0099_from_the_future", gisplan_version="9.0.0")
    backup.manifest_path(newer).write_text(json.dumps(dataclasses.asdict(future)))
    with pytest.raises(BackupError, match=r"0099_from_the_future.*newer gisplan"):
        backup.restore(target, newer)

    damaged = tmp_path / "damaged.dump"
    damaged.write_bytes(archive.read_bytes()[:-100])
    shutil.copy(backup.manifest_path(archive), backup.manifest_path(damaged))
    with pytest.raises(BackupError, match="SHA-256 differs"):
        backup.restore(target, damaged)
    alone = tmp_path / "alone.dump"
    shutil.copy(archive, alone)
    with pytest.raises(BackupError, match=r"alone\.dump\.manifest\.json is missing"):
        backup.restore(target, alone)
    with psycopg.connect(test_server.url(second_db)) as conn:  # untouched: still only PostGIS's table
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (1,)
