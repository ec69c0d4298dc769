"""Backups of a gisplan database: ``gisplan db dump FILE`` and ``gisplan db restore FILE``.

A dump is PostgreSQL's own custom-format archive (``pg_dump -Fc``) of the schema gisplan lives in —
its tables with every row, sequences, functions, indexes, constraints and triggers; not the
extensions (the target's superuser creates them) nor the roles — taken as the schema's owner, with
a manifest beside it (``FILE.manifest.json``, see :class:`Manifest`): the gisplan version and the
schema revision that wrote it, the server's version, the row count of every table and the
archive's SHA-256. The counts are taken in the very snapshot pg_dump reads (``pg_export_snapshot``),
so they describe the archive exactly, even while the service keeps writing.

A restore checks the manifest first (the archive is the one it describes, its schema revision is
one this gisplan knows: a dump of a newer schema is refused), then does everything in ONE
transaction on the target, as the schema's owner: lock gisplan's tables and count their rows
(refused when any holds data, unless ``replace``: the refusal says what would be overwritten), drop
gisplan's objects, run what ``pg_restore`` makes of the archive (it only decodes it: ``pre-data``,
the rows by ``COPY``, ``post-data``, so the triggers are made after the rows are in and fire for
none of them), grant the app role exactly :func:`gis.store.privileges.grant_app`'s privileges, and
check every table's count against the manifest. Anything failing rolls it all back: the target is
left as it was. Objects are owned by the restoring role (``--no-owner``); the archive's grants are
not replayed (``--no-acl``): they are made again from the model.

The client binaries are Debian's for the server's major version (``/usr/lib/postgresql/N/bin``).
Passwords reach ``pg_dump`` in its environment (``PGPASSWORD``), never on its command line;
``pg_restore`` connects to nothing. The archive and its manifest are written mode 0600: they hold
restricted layers and the users' token hashes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from gis.errors import BackupError, BackupToolError, RestoreTargetNotEmptyError
from gis.store import privileges, schema
from gis.store.engine import libpq_url

FORMAT = "gisplan-backup/1"
MANIFEST_SUFFIX = ".manifest.json"
PG_LIB = Path("/usr/lib/postgresql")
# What a fresh schema already holds rows in (the migrations write them): not "data" to overwrite.
BOOKKEEPING = frozenset(privileges.READ_ONLY)
SECTIONS = ("pre-data", "data", "post-data")
TABLE_KINDS = ("r", "p")
DROP_KINDS = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "f": "FOREIGN TABLE", "S": "SEQUENCE"}
DROP_FUNCTION = "DO $$ BEGIN EXECUTE format('DROP FUNCTION %s CASCADE', {oid}::regprocedure); END $$"
RESET_DEFAULTS = "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} REVOKE ALL ON {} FROM {}"
# pg_restore's script form: COPY blocks (rows end at a line "\."), psql's \restrict guard lines.
COPY_START = re.compile(rb"COPY (.+) FROM stdin;\n")
COPY_END = b"\\.\n"
META_LINE = re.compile(r"\\(un)?restrict \S+")
# pg_restore empties the search path; gisplan_geometry_kind()'s body (a CHECK of the layer tables) names
# PostGIS's GeometryType() unqualified, so rows load and constraints are made under the schema's own path.
EMPTY_PATH = "SELECT pg_catalog.set_config('search_path', '', false);"
CHUNK = 1 << 16
# A line of `pg_restore --list`: the rows of a table ("TABLE DATA schema name owner").
TOC_ROWS = re.compile(r"\d+; \d+ \d+ TABLE DATA (\S+) (\S+) \S+")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Manifest:
    """What ``FILE.manifest.json`` says of the archive ``FILE``."""

    format: str
    gisplan_version: str
    created_at: str
    revision: str
    server_version: int
    schema: str
    tables: dict[str, int]
    extensions: dict[str, str]
    archive: str
    sha256: str

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


@dataclass(frozen=True)
class DumpResult:
    path: Path
    manifest_path: Path
    manifest: Manifest
    seconds: float


@dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    replaced: dict[str, int]  # the rows the target held, per table, before the restore overwrote them
    granted: bool  # the app role's privileges were applied (False: no such role on the server)
    seconds: float


def manifest_path(path: Path) -> Path:
    """Where the manifest of the archive ``path`` lives: beside it, ``path`` + ``.manifest.json``."""
    return path.with_name(path.name + MANIFEST_SUFFIX)


def gisplan_version() -> str:
    try:
        return metadata.version("gisplan")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


# -- the client binaries ---------------------------------------------------------------------------
def client_tool(name: str, server_version: int) -> Path:
    """``pg_dump`` or ``pg_restore`` for the server's major version: Debian's of that version, else the
    next newer one installed (they read older servers), else the one on ``PATH``."""
    major = server_version // 10000
    found = sorted(
        (int(p.parent.parent.name), p)
        for p in PG_LIB.glob(f"*/bin/{name}")
        if p.parent.parent.name.isdigit() and int(p.parent.parent.name) >= major
    )
    if found:
        return found[0][1]
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    raise BackupToolError(
        f"{name} for PostgreSQL {major} is not installed (looked in {PG_LIB}/*/bin and PATH): "
        f"apt-get install postgresql-client-{major}"
    )


def _env(password: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PGPASSWORD", "PGPASSFILE")}
    if password:
        env["PGPASSWORD"] = password
    return env


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(argv, capture_output=True, env=env, check=False)
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip()
        raise BackupToolError(f"{Path(argv[0]).name} failed (exit {done.returncode}): {detail}")
    return done


# -- reading a database ----------------------------------------------------------------------------
def _one(conn: psycopg.Connection, query: str) -> Any:
    row = conn.execute(query).fetchone()
    return row[0] if row else None


def own_tables(conn: psycopg.Connection) -> list[str]:
    """gisplan's tables in the connection's schema (an extension's, such as spatial_ref_sys, left out)."""
    return [name for name, kind, _ in conn.execute(privileges.OWN_RELATIONS).fetchall() if kind in TABLE_KINDS]


def _table(schema_name: str, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema_name), sql.Identifier(name))


def row_counts(conn: psycopg.Connection, schema_name: str, tables: list[str]) -> dict[str, int]:
    query = sql.SQL("SELECT count(*) FROM {}")
    counts = {}
    for name in tables:
        row = conn.execute(query.format(_table(schema_name, name))).fetchone()
        counts[name] = int(row[0]) if row else 0
    return counts


def _revision(conn: psycopg.Connection, schema_name: str, tables: list[str]) -> str:
    if "alembic_version" not in tables:
        raise BackupError(
            f"database {conn.info.dbname!r} holds no gisplan schema (no migrations have run in it): nothing to dump"
        )
    query = sql.SQL("SELECT version_num FROM {}").format(_table(schema_name, "alembic_version"))
    found = [row[0] for row in conn.execute(query).fetchall()]
    if len(found) != 1:
        raise BackupError(f"the schema's revision is not one revision but {found!r}")
    return str(found[0])


# -- dump ------------------------------------------------------------------------------------------
def dump(url: str, path: Path) -> DumpResult:
    """Dump the gisplan database at ``url`` (its schema owner's, or a single role that owns the
    schema) to ``path`` (custom format) and its manifest beside it; both mode 0600."""
    started = time.monotonic()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    params = conninfo_to_dict(libpq_url(url))
    secret = params.pop("password", None)
    password = str(secret) if secret else None
    partial = path.with_name(f".{path.name}.partial")
    with psycopg.connect(libpq_url(url)) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        snapshot = _one(conn, "SELECT pg_export_snapshot()")  # pg_dump reads what this transaction sees
        schema_name = _one(conn, "SELECT current_schema()")
        tables = own_tables(conn)
        revision = _revision(conn, schema_name, tables)
        counts = row_counts(conn, schema_name, tables)
        extensions = {str(n): str(v) for n, v in conn.execute("SELECT extname, extversion FROM pg_extension")}
        server_version = conn.info.server_version
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        try:
            argv = [str(client_tool("pg_dump", server_version)), "--format=custom", "--no-password"]
            argv += [f"--schema={_literal_pattern(schema_name)}", f"--snapshot={snapshot}", f"--file={partial}"]
            argv += [f"--dbname={make_conninfo('', **params)}"]
            _run(argv, _env(password))
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    manifest = Manifest(
        format=FORMAT,
        gisplan_version=gisplan_version(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        revision=revision,
        server_version=server_version,
        schema=schema_name,
        tables=counts,
        extensions=extensions,
        archive=path.name,
        sha256=_sha256(partial),
    )
    target = manifest_path(path)
    _write_private(target, json.dumps(asdict(manifest), indent=2, ensure_ascii=False) + "\n")
    partial.replace(path)
    return DumpResult(path, target, manifest, time.monotonic() - started)


def _literal_pattern(name: str) -> str:
    """A pg_dump ``--schema`` pattern matching exactly ``name`` (quoted: no wildcards, case kept)."""
    return '"' + name.replace('"', '""') + '"'


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    tmp.replace(path)


# -- the manifest ----------------------------------------------------------------------------------
def read_manifest(path: Path) -> Manifest:
    """The manifest of the archive ``path``, checked: its format, the archive's checksum, and a schema
    revision this gisplan knows (a dump of a newer schema is refused)."""
    path = Path(path)
    where = manifest_path(path)
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    try:
        raw = json.loads(where.read_text(encoding="utf-8"))
        manifest = Manifest(**raw)
    except FileNotFoundError:
        raise BackupError(
            f"{where} is missing: a gisplan dump is restored with the manifest written beside it"
        ) from None
    except (ValueError, TypeError) as exc:
        raise BackupError(f"{where} is not a gisplan dump's manifest: {exc}") from None
    if manifest.format != FORMAT:
        raise BackupError(f"{where} is of format {manifest.format!r}; this gisplan reads {FORMAT!r}")
    if _sha256(path) != manifest.sha256:
        raise BackupError(
            f"{path} is not the archive {where.name} describes (its SHA-256 differs): damaged or replaced"
        )
    if not schema.known_revision(manifest.revision):
        raise BackupError(
            f"{path} holds schema revision {manifest.revision!r} (gisplan {manifest.gisplan_version}), which this "
            f"gisplan ({gisplan_version()}, schema {schema.head_revision()}) does not know: it comes from a newer "
            "gisplan. Restore it with that version or a later one."
        )
    return manifest


# -- restore ---------------------------------------------------------------------------------------
def restore(url: str, path: Path, *, replace: bool = False) -> RestoreResult:
    """Restore the dump ``path`` into the database at ``url`` (as the role that will own the schema).

    Raises
    ------
    RestoreTargetNotEmptyError
        The target holds data and ``replace`` is False (nothing was changed).
    BackupError
        The dump or its manifest is wrong, or the target cannot take it (nothing was changed).
    """
    started = time.monotonic()
    manifest = read_manifest(path)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        _check_target(conn, manifest)
        tool = client_tool("pg_restore", conn.info.server_version)
        search_path = _one(conn, "SELECT current_setting('search_path')")
        with conn.transaction():
            replaced = _clear(conn, manifest.schema, replace=replace, target=_describe(conn))
            with tempfile.TemporaryDirectory(prefix="gisplan-restore-") as scratch:
                contents = _contents(tool, Path(path), manifest, Path(scratch))
                for section in SECTIONS:
                    _restore_section(
                        conn,
                        [*_pg_restore(tool, path, manifest.schema, section), f"--use-list={contents}"],
                        section,
                        search_path,
                    )
            conn.execute("SELECT set_config('search_path', %s, false)", (search_path,))
            granted = _grant(conn)
            _verify(conn, manifest)
    return RestoreResult(manifest, replaced, granted, time.monotonic() - started)


def _describe(conn: psycopg.Connection) -> str:
    return f"database {conn.info.dbname!r} on {conn.info.host}:{conn.info.port}"


def _check_target(conn: psycopg.Connection, manifest: Manifest) -> None:
    where = _describe(conn)
    current = _one(conn, "SELECT current_schema()")
    if current != manifest.schema:
        raise BackupError(f"the dump is of schema {manifest.schema!r}, but {where} works in {current!r}")
    if _one(conn, "SELECT 1 FROM pg_extension WHERE extname = 'postgis'") is None:
        raise BackupError(
            f"{where} lacks PostGIS: as its superuser, CREATE EXTENSION postgis (README: How a bureau sets this up "
            "on its own PostgreSQL), or restore into the embedded database"
        )


def _clear(conn: psycopg.Connection, schema_name: str, *, replace: bool, target: str) -> dict[str, int]:
    """Lock gisplan's tables, refuse when they hold data (unless ``replace``), drop gisplan's objects.

    Returns the rows each table held (bookkeeping tables left out)."""
    me = conn.info.user
    relations = conn.execute(privileges.OWN_RELATIONS).fetchall()
    tables = [name for name, kind, _ in relations if kind in TABLE_KINDS]
    if tables:
        names = sql.SQL(", ").join(_table(schema_name, t) for t in tables)
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(names))
    held = {t: n for t, n in row_counts(conn, schema_name, [t for t in tables if t not in BOOKKEEPING]).items() if n}
    if held and not replace:
        listed = ", ".join(f"{t} ({n:,} row{'s' if n != 1 else ''})" for t, n in sorted(held.items()))
        raise RestoreTargetNotEmptyError(
            f"{target} is not empty: restoring would overwrite {listed}. Pass --replace to overwrite them all "
            "(in one transaction), or restore into an empty database"
        )
    functions = conn.execute(privileges.OWN_FUNCTIONS).fetchall()
    foreign = [f"{name} (owned by {owner})" for name, _, owner in relations if owner != me]
    foreign += [f"function {oid} (owned by {owner})" for oid, owner in functions if owner != me]
    if foreign:
        raise BackupError(f"{target} holds objects {me} does not own, so cannot replace: {', '.join(foreign)}")
    for name, kind, _ in relations:
        statement = sql.SQL("DROP {} IF EXISTS {} CASCADE").format(sql.SQL(DROP_KINDS[kind]), _table(schema_name, name))
        conn.execute(statement)
    for oid, _ in functions:
        conn.execute(sql.SQL(DROP_FUNCTION).format(oid=sql.Literal(oid)))
    if privileges.role_exists(conn, privileges.APP_ROLE):  # objects made now get only the grants made below
        for kind in ("TABLES", "SEQUENCES"):
            parts = (
                sql.Identifier(me),
                sql.Identifier(schema_name),
                sql.SQL(kind),
                sql.Identifier(privileges.APP_ROLE),
            )
            conn.execute(sql.SQL(RESET_DEFAULTS).format(*parts))
    return held


def _pg_restore(tool: Path, path: Path, schema_name: str, section: str) -> list[str]:
    return [
        str(tool),
        f"--section={section}",
        f"--schema={schema_name}",
        "--no-owner",
        "--no-acl",
        "--exit-on-error",
        "--file=-",
        str(path),
    ]


def _contents(tool: Path, path: Path, manifest: Manifest, scratch: Path) -> Path:
    """The archive's table of contents without the rows of tables that are not gisplan's (an
    extension's configuration table, e.g. PostGIS's spatial_ref_sys, which the extension fills)."""
    listing = _run([str(tool), "--list", str(path)]).stdout.decode("utf-8")
    kept = []
    for line in listing.splitlines():
        rows = TOC_ROWS.fullmatch(line)
        skip = rows is not None and (rows.group(1) != manifest.schema or rows.group(2) not in manifest.tables)
        kept.append(";" + line if skip else line)
    contents = scratch / "contents.list"
    contents.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return contents


def _restore_section(conn: psycopg.Connection, argv: list[str], section: str, search_path: str) -> None:
    keep_path = sql.SQL("SELECT pg_catalog.set_config('search_path', {}, false);").format(sql.Literal(search_path))
    path_line = keep_path.as_string(conn) if section != "pre-data" else EMPTY_PATH
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
        try:
            if section == "data":
                _run_rows(conn, proc.stdout, path_line)
            else:
                _run_script(conn, proc.stdout.read().decode("utf-8"), path_line)
        finally:
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            errors.seek(0)
            detail = errors.read().decode("utf-8", "replace").strip()
            raise BackupToolError(f"pg_restore failed (exit {code}): {detail}")


def _run_script(conn: psycopg.Connection, script: str, path_line: str) -> None:
    """The statements of a schema section, as one batch (psql's ``\\restrict`` lines dropped)."""
    lines = [path_line if line == EMPTY_PATH else line for line in script.splitlines() if not META_LINE.fullmatch(line)]
    body = "\n".join(lines)
    if body.strip():
        conn.execute(body)


def _run_rows(conn: psycopg.Connection, stream: IO[bytes], path_line: str) -> None:
    """The data section: statements (sequence values, settings) as they come, each table's rows by COPY."""
    pending: list[bytes] = []
    lines = iter(stream)
    for line in lines:
        start = COPY_START.fullmatch(line)
        if start is None:
            text = line.decode("utf-8").rstrip("\n")
            if text == EMPTY_PATH:
                pending.append(path_line.encode("utf-8") + b"\n")
            elif not META_LINE.fullmatch(text):
                pending.append(line)
            continue
        _flush(conn, pending)
        with conn.cursor().copy(f"COPY {start.group(1).decode('utf-8')} FROM STDIN") as copy:
            for chunk in _copy_rows(lines):
                copy.write(chunk)
    _flush(conn, pending)


def _copy_rows(lines: Iterator[bytes]) -> Iterator[bytes]:
    """One table's rows in COPY text format, in chunks, up to the line ``\\.``."""
    batch: list[bytes] = []
    size = 0
    for line in lines:
        if line == COPY_END:
            if batch:
                yield b"".join(batch)
            return
        batch.append(line)
        size += len(line)
        if size >= CHUNK:
            yield b"".join(batch)
            batch, size = [], 0
    raise BackupError("the archive's rows end inside a table (truncated?)")


def _flush(conn: psycopg.Connection, pending: list[bytes]) -> None:
    body = b"".join(pending).decode("utf-8")
    pending.clear()
    if body.strip() and any(not line.startswith("--") and line.strip() for line in body.splitlines()):
        conn.execute(body)


def _grant(conn: psycopg.Connection) -> bool:
    if not privileges.role_exists(conn, privileges.APP_ROLE):
        log.warning(
            "gisplan: role %s does not exist on this server: the restored schema is %s's alone (README: How a "
            "bureau sets this up on its own PostgreSQL).",
            privileges.APP_ROLE,
            conn.info.user,
        )
        return False
    privileges.grant_app(conn, conn.info.user)
    return True


def _verify(conn: psycopg.Connection, manifest: Manifest) -> None:
    """Every table of the manifest is back with its row count, and no other table is there."""
    tables = own_tables(conn)
    if sorted(tables) != sorted(manifest.tables):
        raise BackupError(f"the restore made tables {sorted(tables)}, the manifest lists {sorted(manifest.tables)}")
    counts = row_counts(conn, manifest.schema, tables)
    wrong = [f"{t}: {counts[t]} rows, the manifest says {n}" for t, n in manifest.tables.items() if counts[t] != n]
    if wrong:
        raise BackupError(
            "the restored rows differ from the manifest's counts, so nothing was restored: " + "; ".join(wrong)
        )
