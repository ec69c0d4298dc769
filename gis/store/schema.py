"""The schema: Alembic migrations (in ``gis/store/migrations``) and the check that it matches ``layers/``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pyproj import CRS
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import ProgrammingError

from gis.crs import crs_label
from gis.errors import RegistryError, ServerError
from gis.registry import SYSTEM_COLUMNS, Registry
from gis.store.engine import database_fault, migration_engine

SQL_TYPES = {
    "text": "TEXT",
    "integer": "INTEGER",
    "number": "DOUBLE PRECISION",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMP",
    "code": "TEXT",
    "codes": "ARRAY",
}


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("gis.store") / "migrations"))
    return cfg


@cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of this gisplan's migrations (a newer gisplan's is not)."""
    return any(script.revision == revision for script in ScriptDirectory.from_config(_config()).walk_revisions())


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def stored_working_crs(conn: Connection) -> CRS | None:
    """The working CRS recorded when the schema was created, or None before that."""
    if conn.execute(text("SELECT to_regclass('public.gisplan_meta')")).scalar() is None:
        return None
    value = conn.execute(text("SELECT value FROM gisplan_meta WHERE key = 'working_crs'")).scalar()
    return _crs(value) if value else None


@lru_cache(maxsize=16)
def _crs(value: str) -> CRS:
    # asked on nearly every request; pyproj takes milliseconds to build a CRS from its definition
    return CRS.from_user_input(value)


def at_head(engine: Engine) -> bool:
    """Whether the schema is at the head revision (False too when this role may not tell yet)."""
    try:
        with engine.connect() as conn:
            return current_revision(conn) == head_revision()
    except ProgrammingError:  # an older database, before the app role could read alembic_version
        return False


@dataclass(frozen=True)
class Readiness:
    """Whether the database answers and holds the schema this gisplan needs (``GET /readyz``).

    ``schema`` is the stored revision (None: no layers were loaded yet, so no schema either; the app
    serves, with nothing in it), ``head`` the one this gisplan needs, ``reason`` why it is not ready.
    """

    ready: bool
    schema: str | None
    head: str
    reason: str | None = None


def readiness(engine: Engine) -> Readiness:
    """Ask the database for its schema revision (one short query; a database that is down answers
    within the engine's connect timeout)."""
    head = head_revision()
    try:
        with engine.connect() as conn:
            current = current_revision(conn)
    except ProgrammingError:
        return Readiness(False, None, head, "this role may not read the schema's revision yet (migrating)")
    except Exception as error:
        fault = database_fault(error)
        if fault is None:
            raise
        return Readiness(False, None, head, str(fault))
    if current is not None and current != head:
        return Readiness(False, current, head, f"the schema is at {current}; this gisplan needs {head} (migrating)")
    return Readiness(True, current, head)


def upgrade(engine: Engine, working_crs: CRS) -> None:
    """Bring the schema to the head revision; the first migration uses ``working_crs``'s SRID.

    ``engine`` is the app's; the migrations run as the schema's owner when one is known for it
    (:func:`gis.store.engine.migration_engine`), else as ``engine``'s own role.
    """
    epsg = working_crs.to_epsg()
    if epsg is None:
        raise ValueError(f"the working CRS must have an EPSG code, got {crs_label(working_crs)}")
    if at_head(engine):  # the common case, read as the app: no owner connection
        return
    cfg = _config()
    with migration_engine(engine) as migrator, migrator.begin() as conn:
        # A server's engine cancels long statements; a migration (and waiting for another's) may be long.
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        # One migration run at a time per database, even when two processes start together.
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('gisplan-migrations'))"))
        if current_revision(conn) == head_revision():
            return
        cfg.attributes["connection"] = conn
        cfg.attributes["srid"] = epsg
        cfg.attributes["working_crs"] = f"EPSG:{epsg}"
        try:
            command.upgrade(cfg, "head")
        except ProgrammingError as exc:
            if not isinstance(exc.orig, psycopg.errors.InsufficientPrivilege):
                raise
            raise ServerError(
                f"the database role {conn.engine.url.username!r} may not change the schema: "
                "migrations run as the schema's owner; set GISPLAN_OWNER_DATABASE_URL to the owner "
                f"role's URL (README: How a bureau sets this up on its own PostgreSQL). {exc.orig}"
            ) from exc


def check_schema(conn: Connection, registry: Registry) -> None:
    """Every field declared in ``layers/`` has a column of the right type in its table."""
    insp = inspect(conn)
    problems = []
    for layer in registry.layers.values():
        if not insp.has_table(layer.table):
            problems.append(f"table {layer.table} is missing")
            continue
        columns = {c["name"]: c for c in insp.get_columns(layer.table)}
        for name in SYSTEM_COLUMNS:
            if name not in columns:
                problems.append(f"{layer.table}.{name} is missing")
        for f in layer.fields:
            col = columns.get(f.id)
            if col is None:
                problems.append(f"{layer.table}.{f.id} is declared in layers/{layer.id}.yaml but has no column")
                continue
            if SQL_TYPES[f.type] not in str(col["type"]).upper():
                problems.append(f"{layer.table}.{f.id} is {col['type']}, layers/ declares {f.type}")
    if problems:
        raise RegistryError(
            "the database schema does not match layers/ (a field was added without a migration?): "
            + "; ".join(problems)
        )


def bring_up_to_date(engine: Engine, registry: Registry) -> None:
    """Upgrade a database made by an older gisplan to the newer tables, then check them against
    ``layers/`` (:func:`check_schema`); a database with no schema yet is left as it is."""
    with engine.connect() as conn:
        crs = stored_working_crs(conn)
    if crs is None:
        return
    upgrade(engine, crs)
    with engine.connect() as conn:
        check_schema(conn, registry)
