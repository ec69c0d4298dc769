"""The database's roles: the app's privileges, and no TRUNCATE of the append-only tables.

Revision ID: 0006_db_roles
Revises: 0005
Create Date: 2026-12-01

Runs as the schema's owner (see :mod:`gis.store.privileges` for the split). The append-only tables
(``programme_events``, ``programme_submissions``, ``audit_log``) get a statement-level trigger that
refuses ``TRUNCATE`` to everyone, their owner included; the row triggers of 0004 refuse UPDATE and
DELETE of the programme's two. The app role (``gisplan_app``) gets ``SELECT, INSERT, UPDATE,
DELETE`` on the other tables, ``SELECT, INSERT`` only on the append-only ones and ``SELECT`` only
on ``alembic_version`` and ``gisplan_meta``; so do the owner's later tables, by default.

On a server where the role does not exist and this user may not create it (a bureau's own
PostgreSQL), role creation and the grants are skipped with a warning, and the TRUNCATE guard is
still installed: the README says which roles and GRANTs the bureau sets up.
"""

from __future__ import annotations

from alembic import op

from gis.store import privileges
from gis.store.engine import dbapi

revision = "0006_db_roles"
down_revision = "0006"
branch_labels = None
depends_on = None

NO_TRUNCATE = """
CREATE FUNCTION gisplan_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: it is never truncated', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;
"""
# the append-only tables at this revision (later ones install their own guard)
APPEND_ONLY = ("programme_events", "programme_submissions", "audit_log")


def upgrade() -> None:
    op.execute(NO_TRUNCATE)
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION gisplan_no_truncate()"
        )
    conn = dbapi(op.get_bind())
    if privileges.ensure_app_role(conn):
        privileges.grant_app(conn, conn.info.user)


def downgrade() -> None:
    for table in APPEND_ONLY:
        op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
    op.execute("DROP FUNCTION gisplan_no_truncate()")
