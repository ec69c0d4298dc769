"""督查 (inspection findings) and 施工许可 (construction permits).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03

``inspection_findings`` is a layer (``layers/inspection_findings.yaml``: a point where the
inspector found it), audited row by row like ``evidence`` and counted in ``layer_changes``. A
finding is opened (what, where, the unit responsible, a deadline) and closed once, with a date, who
closed it and a note; nothing else of it ever changes, and it is never deleted (a trigger refuses
it, and the app has no DELETE privilege). It is closed only when a standing (not withdrawn) evidence
item of category ``rectification`` (整改) cites it: the trigger checks that too, so no path around
the library closes a finding without proof.

``programme_permits`` is append-only like the programme's event log: each row records a project's
construction permit date (施工许可 date, with its number) as someone entered it; a later row supersedes
an earlier one (a correction is a new row with a reason), and the 月报's self-check reads the latest
recorded by its instant.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

from gis.store import privileges
from gis.store.engine import dbapi

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# What of a finding may change after it is opened: its closing (once) and the bookkeeping with it.
MUTABLE = ("closed_on", "closed_by", "closing_note", "version", "updated_at")

GUARD = f"""
CREATE FUNCTION gisplan_inspection_findings_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'an inspection finding is never deleted: close it with its evidence'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.closed_on IS NOT NULL AND (NEW.closed_on IS DISTINCT FROM OLD.closed_on
            OR NEW.closed_by IS DISTINCT FROM OLD.closed_by
            OR NEW.closing_note IS DISTINCT FROM OLD.closing_note) THEN
        RAISE EXCEPTION 'finding % was closed already; a closing stands', OLD.fid
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (to_jsonb(NEW) - ARRAY[{", ".join(f"'{c}'" for c in MUTABLE)}])
            IS DISTINCT FROM (to_jsonb(OLD) - ARRAY[{", ".join(f"'{c}'" for c in MUTABLE)}]) THEN
        RAISE EXCEPTION 'finding %: only its closing changes', OLD.fid USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.closed_on IS NOT NULL AND OLD.closed_on IS NULL AND NOT EXISTS (
            SELECT 1 FROM evidence e WHERE e.finding_id = NEW.fid AND e.category = 'rectification'
            AND e.withdrawn_at IS NULL) THEN
        RAISE EXCEPTION 'finding % is closed only with its rectification evidence (整改资料)', OLD.fid
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
"""


def upgrade() -> None:
    srid = int(op.get_bind().execute(sa.text("SELECT value FROM gisplan_meta WHERE key = 'srid'")).scalar_one())
    op.create_table(
        "inspection_findings",
        sa.Column("fid", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_key", sa.Text, nullable=False),
        sa.Column("compound_id", sa.Integer, nullable=False),
        sa.Column("compound_name", sa.Text),
        sa.Column("district", sa.Text),
        sa.Column("street", sa.Text),
        sa.Column("project_id", sa.Integer),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("what", sa.Text, nullable=False),
        sa.Column("responsible_unit", sa.Text, nullable=False),
        sa.Column("inspector", sa.Text),
        sa.Column("found_on", sa.Date, nullable=False),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("closed_on", sa.Date),
        sa.Column("closed_by", sa.Text),
        sa.Column("closing_note", sa.Text),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("synthetic", sa.Text),
        sa.Column("extra", JSONB, nullable=False, server_default="{}"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("geom", Geometry("POINT", srid=srid, spatial_index=False), nullable=False),
        sa.UniqueConstraint("source", "source_key", name="inspection_findings_source_key"),
        sa.CheckConstraint("btrim(what) <> '' AND btrim(responsible_unit) <> ''", name="inspection_findings_said"),
        sa.CheckConstraint("deadline >= found_on", name="inspection_findings_deadline"),
        sa.CheckConstraint("closed_on IS NULL OR closed_on >= found_on", name="inspection_findings_closed_after"),
        sa.CheckConstraint("(closed_on IS NULL) = (closed_by IS NULL)", name="inspection_findings_closed_whole"),
    )
    op.create_index("inspection_findings_geom", "inspection_findings", ["geom"], postgresql_using="gist")
    op.create_index("inspection_findings_compound", "inspection_findings", ["compound_id"])
    op.execute(GUARD)
    op.execute(
        "CREATE TRIGGER inspection_findings_guard BEFORE UPDATE OR DELETE ON inspection_findings "
        "FOR EACH ROW EXECUTE FUNCTION gisplan_inspection_findings_guard()"
    )
    op.execute(
        "CREATE TRIGGER inspection_findings_no_truncate BEFORE TRUNCATE ON inspection_findings "
        "FOR EACH STATEMENT EXECUTE FUNCTION gisplan_no_truncate()"
    )
    for event, refs in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER inspection_findings_audit_{event.lower()} AFTER {event} ON inspection_findings "
            f"REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION gisplan_audit()"
        )
    op.execute("INSERT INTO layer_changes VALUES ('inspection_findings', 0, now())")
    op.execute(
        "CREATE TRIGGER inspection_findings_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON inspection_findings FOR EACH STATEMENT EXECUTE FUNCTION gisplan_layer_changed()"
    )

    op.create_table(
        "programme_permits",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("project_id", sa.BigInteger, sa.ForeignKey("programme_projects.id"), nullable=False),
        sa.Column("compound_id", sa.Integer, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("permit_date", sa.Date, nullable=False),
        sa.Column("permit_no", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("clock_timestamp()")),
    )
    op.create_index("programme_permits_project", "programme_permits", ["project_id", "id"])
    op.execute(
        "CREATE TRIGGER programme_permits_append_only BEFORE UPDATE OR DELETE ON programme_permits "
        "FOR EACH ROW EXECUTE FUNCTION gisplan_append_only()"
    )
    op.execute(
        "CREATE TRIGGER programme_permits_no_truncate BEFORE TRUNCATE ON programme_permits "
        "FOR EACH STATEMENT EXECUTE FUNCTION gisplan_no_truncate()"
    )
    conn = dbapi(op.get_bind())
    if privileges.role_exists(conn, privileges.APP_ROLE):
        privileges.grant_app(conn, conn.info.user)


def downgrade() -> None:
    op.drop_table("programme_permits")
    op.drop_table("inspection_findings")
    op.execute("DROP FUNCTION gisplan_inspection_findings_guard()")
    op.execute("DELETE FROM layer_changes WHERE layer_table = 'inspection_findings'")
