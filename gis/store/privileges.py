"""Who may do what in a gisplan database: the owner role, the app role and their privileges.

The split (the same for the embedded cluster and a bureau's own PostgreSQL):

``postgres`` (superuser)
    Creates the cluster, the database, the extensions and the two roles below, and hands the
    objects of a database made by an older gisplan (which it owned) to the owner. Nothing else.
``gisplan_owner`` (login, not a superuser, cannot create roles or databases)
    Owns the schema objects (tables, sequences, functions, triggers) and runs the migrations.
    It has ``CREATE`` on the schema; the app never connects as it.
``gisplan_app`` (login, not a superuser, owns nothing but its temporary tables)
    What the library, the CLI and the API connect as: ``SELECT, INSERT, UPDATE, DELETE`` on the
    tables, read-only on the schema's bookkeeping (``alembic_version``, ``gisplan_meta``), and on
    the append-only tables (:data:`APPEND_ONLY`) ``SELECT, INSERT`` only: ``UPDATE``, ``DELETE``
    and ``TRUNCATE`` are revoked, and a statement-level trigger refuses ``TRUNCATE`` even to the
    owner. It is a member of no role, so it cannot ``SET ROLE`` to the owner.

The grants are applied by migration ``0007_db_roles`` (revision ``0006_db_roles``, run as the
owner) and, for a database made by an older gisplan, by :func:`adopt` (run as the superuser) before the migrations run.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

OWNER_ROLE = "gisplan_owner"
APP_ROLE = "gisplan_app"

# Append-only: the programme's event log, locked months and permit dates, the audit log, the evidence
# files, the acceptance records, the funds ledger, the consultations and the public's feedback with its steps.
APPEND_ONLY = (
    "programme_events",
    "programme_submissions",
    "programme_permits",
    "audit_log",
    "evidence_files",
    "acceptances",
    "acceptance_scores",
    "funds_entries",
    "consultations",
    "consultation_results",
    "consultation_outcomes",
    "feedback",
    "feedback_steps",
    "assessment_manual_scores",
    "assessment_publications",
)
# Never deleted, but changed in part (an evidence item is withdrawn, published or paired; a finding closed).
NO_DELETE = ("evidence", "inspection_findings", "notices")
# Written by migrations only: the app reads them.
READ_ONLY = ("alembic_version", "gisplan_meta")

ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"

CREATE_ROLE = "CREATE ROLE {} WITH " + ROLE_ATTRIBUTES + " PASSWORD {}"
ALTER_ROLE = "ALTER ROLE {} WITH " + ROLE_ATTRIBUTES + " PASSWORD {}"
ROLE_EXISTS = "SELECT 1 FROM pg_roles WHERE rolname = %s"
MAY_CREATE_ROLES = "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"

# gisplan's own relations and functions in the schema: an extension's (PostGIS's spatial_ref_sys,
# its functions) are left alone, and so are serial sequences (they follow their table). Identity
# sequences are listed: the owner's default privileges give the app USAGE on one made after 0007
# (jobs' seq), so the grants applied again after a restore must too, or the restore differs.
OWN_RELATIONS = """
SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner) AS owner
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  AND NOT EXISTS (
    SELECT 1 FROM pg_depend d
    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('e', 'a'))
ORDER BY c.relname
"""
OWN_FUNCTIONS = """
SELECT p.oid, pg_get_userbyid(p.proowner)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = current_schema()
  AND NOT EXISTS (
    SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY 1
"""

DEFAULT_GRANTS = (
    "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}",
    "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT USAGE, SELECT ON SEQUENCES TO {}",
)
KINDS = {"S": "SEQUENCE", "v": "VIEW", "m": "MATERIALIZED VIEW", "f": "FOREIGN TABLE"}
ALTER_OWNER = "ALTER {kind} {name} OWNER TO {owner}"
# Functions by oid, so that their (quoted) signature never passes through Python.
ADOPT_FUNCTION = "DO $$ BEGIN EXECUTE format('ALTER FUNCTION %s OWNER TO %I', {oid}::regprocedure, {owner}); END $$"

log = logging.getLogger(__name__)


def role_exists(conn: psycopg.Connection, role: str) -> bool:
    return conn.execute(ROLE_EXISTS, (role,)).fetchone() is not None


def ensure_login_role(conn: psycopg.Connection, role: str, password: str) -> None:
    """Create ``role`` (or reset it) as a plain login role with ``password`` (needs CREATEROLE)."""
    statement = ALTER_ROLE if role_exists(conn, role) else CREATE_ROLE
    conn.execute(sql.SQL(statement).format(sql.Identifier(role), sql.Literal(password)))


def ensure_app_role(conn: psycopg.Connection) -> bool:
    """True when :data:`APP_ROLE` exists (created here, without login, when this user may).

    A user that may not create roles (a bureau's schema owner, say) skips it with a warning: the
    app then runs as whoever connects, and the README says which roles and GRANTs to set up.
    """
    if role_exists(conn, APP_ROLE):
        return True
    row = conn.execute(MAY_CREATE_ROLES).fetchone()
    user = conn.info.user
    if not (row and row[0]):
        log.warning(
            "gisplan: role %s does not exist and %s may not create roles: skipped creating it and "
            "granting it the app's privileges. The append-only tables are still guarded against "
            "TRUNCATE. Have the database administrator create the roles and grants as documented "
            "in the README (How a bureau sets this up on its own PostgreSQL).",
            APP_ROLE,
            user,
        )
        return False
    conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(APP_ROLE)))
    log.warning(
        "gisplan: created role %s without login; give it LOGIN and a password, and point "
        "GISPLAN_DATABASE_URL at it (README: How a bureau sets this up on its own PostgreSQL).",
        APP_ROLE,
    )
    return True


def grant_app(conn: psycopg.Connection, creator: str) -> None:
    """Grant :data:`APP_ROLE` what the app needs on ``creator``'s objects, and no more.

    Run by ``creator`` (the owner, in the migration) or a superuser. Tables ``creator`` creates later
    get the same grants by default (``ALTER DEFAULT PRIVILEGES``); a later append-only table revokes
    its own. Another application's tables in the same schema are left alone.
    """
    app = sql.Identifier(APP_ROLE)
    relations = conn.execute(OWN_RELATIONS).fetchall()
    own = {name for name, _, _ in relations}  # at migration 0007 the later tables do not exist yet
    for name, kind, owner in relations:
        if owner != creator:
            continue
        target = sql.Identifier(name)
        if kind == "S":
            conn.execute(sql.SQL("GRANT USAGE, SELECT ON SEQUENCE {} TO {}").format(target, app))
            continue
        conn.execute(sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(target, app))
        if name in READ_ONLY:
            conn.execute(sql.SQL("GRANT SELECT ON TABLE {} TO {}").format(target, app))
        elif name in APPEND_ONLY:
            conn.execute(sql.SQL("GRANT SELECT, INSERT ON TABLE {} TO {}").format(target, app))
        elif name in NO_DELETE:
            conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE ON TABLE {} TO {}").format(target, app))
        else:
            conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {} TO {}").format(target, app))
    for name in (*APPEND_ONLY, *NO_DELETE):
        if name in own:
            conn.execute(sql.SQL("REVOKE DELETE, TRUNCATE ON TABLE {} FROM PUBLIC").format(sql.Identifier(name)))
    for name in APPEND_ONLY:
        if name in own:
            conn.execute(sql.SQL("REVOKE UPDATE ON TABLE {} FROM PUBLIC").format(sql.Identifier(name)))
    for statement in DEFAULT_GRANTS:
        conn.execute(sql.SQL(statement).format(sql.Identifier(creator), sql.Identifier(schema_of(conn)), app))


def guard_statements(table: str, *, updates: bool = True) -> list[str]:
    """The triggers that keep ``table``'s rows, the owner's writes included: no DELETE (and no UPDATE
    when ``updates`` is true, i.e. append-only) and no TRUNCATE; a migration executes them."""
    rows = "UPDATE OR DELETE" if updates else "DELETE"
    name = "append_only" if updates else "no_delete"
    return [
        f"CREATE TRIGGER {table}_{name} BEFORE {rows} ON {table} FOR EACH ROW EXECUTE FUNCTION gisplan_append_only()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION gisplan_no_truncate()",
    ]


def regrant(conn: psycopg.Connection) -> None:
    """After a migration made tables: the app role's grants on them, when the role exists yet."""
    if role_exists(conn, APP_ROLE):
        grant_app(conn, conn.info.user)


def schema_of(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT current_schema()").fetchone()
    assert row is not None and row[0], "no current schema"
    return str(row[0])


def prepare(conn: psycopg.Connection, database: str) -> None:
    """As the superuser: let the two roles into ``database`` and its schema (nobody else)."""
    db = sql.Identifier(database)
    schema = sql.Identifier(schema_of(conn))
    owner, app = sql.Identifier(OWNER_ROLE), sql.Identifier(APP_ROLE)
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
    conn.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}, {}").format(db, owner, app))
    conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC").format(schema))
    conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(schema, owner))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, app))


def adopt(conn: psycopg.Connection) -> list[str]:
    """As the superuser: hand gisplan's objects that someone else owns to the owner role.

    A database made by an older gisplan belongs to ``postgres``; after this the owner can migrate
    it. The app's grants follow (:func:`grant_app`). Returns the objects handed over.
    """
    owner = sql.Identifier(OWNER_ROLE)
    moved = []
    for name, kind, current in conn.execute(OWN_RELATIONS).fetchall():
        if current != OWNER_ROLE:
            kind_sql = sql.SQL(KINDS.get(kind, "TABLE"))
            conn.execute(sql.SQL(ALTER_OWNER).format(kind=kind_sql, name=sql.Identifier(name), owner=owner))
            moved.append(name)
    for oid, current in conn.execute(OWN_FUNCTIONS).fetchall():
        if current != OWNER_ROLE:
            conn.execute(sql.SQL(ADOPT_FUNCTION).format(oid=sql.Literal(oid), owner=sql.Literal(OWNER_ROLE)))
            moved.append(f"function {oid}")
    if moved:
        grant_app(conn, OWNER_ROLE)
    return moved
