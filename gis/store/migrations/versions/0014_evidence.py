"""Evidence (资料留存): the files, content-addressed, and the evidence layer of items that cite them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

The files live in the database (``evidence_files``, keyed by the SHA-256 of their bytes), not on a
disk beside it: ``gisplan db dump`` / ``restore`` carry them, every ``GISPLAN_DATABASE_URL`` (a
bureau's server, a replica) serves them, and one transaction adds a file and the item that cites it.
The table is append-only like the programme's event log: a row is never changed or deleted (a
trigger refuses it, the owner included), and the app may not even try (no UPDATE, DELETE or
TRUNCATE privilege). ``content`` is stored uncompressed (photos and PDFs are compressed already).

``evidence`` is a layer (``layers/evidence.yaml``: points where a photo was taken, no geometry for a
scan): audited row by row like compounds, counted in ``layer_changes``. An item is withdrawn (the
three ``withdrawn_`` columns, set once), published or paired, and nothing else of it ever changes; it is
never deleted. The rules on who may withdraw it are the library's (:mod:`gis.evidence.store`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from gis.store import privileges
from gis.store.engine import dbapi

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# What of an item may change after it is added: its withdrawal (once), publication and pairing,
# and the bookkeeping that goes with a change.
MUTABLE = ("withdrawn_at", "withdrawn_by", "withdraw_reason", "published", "pair", "side", "version", "updated_at")

GUARD = f"""
CREATE FUNCTION gisplan_evidence_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'evidence is never deleted: withdraw the item with a reason'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.withdrawn_at IS NOT NULL AND (NEW.withdrawn_at IS DISTINCT FROM OLD.withdrawn_at
            OR NEW.withdrawn_by IS DISTINCT FROM OLD.withdrawn_by
            OR NEW.withdraw_reason IS DISTINCT FROM OLD.withdraw_reason) THEN
        RAISE EXCEPTION 'evidence item % was withdrawn already; a withdrawal stands', OLD.fid
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (to_jsonb(NEW) - ARRAY[{", ".join(f"'{c}'" for c in MUTABLE)}])
            IS DISTINCT FROM (to_jsonb(OLD) - ARRAY[{", ".join(f"'{c}'" for c in MUTABLE)}]) THEN
        RAISE EXCEPTION 'evidence item %: only its withdrawal, publication and pairing change', OLD.fid
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
"""


def upgrade() -> None:
    srid = int(op.get_bind().execute(sa.text("SELECT value FROM gisplan_meta WHERE key = 'srid'")).scalar_one())
    op.create_table(
        "evidence_files",
        sa.Column("sha256", sa.Text, primary_key=True),
        sa.Column("media_type", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("thumbnail", sa.LargeBinary),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("added_by", sa.Text, nullable=False),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="evidence_files_sha256"),
        sa.CheckConstraint("size_bytes = octet_length(content)", name="evidence_files_size"),
    )
    op.execute("ALTER TABLE evidence_files ALTER COLUMN content SET STORAGE EXTERNAL")
    op.execute(
        "CREATE TRIGGER evidence_files_append_only BEFORE UPDATE OR DELETE ON evidence_files "
        "FOR EACH ROW EXECUTE FUNCTION gisplan_append_only()"
    )
    op.execute(
        "CREATE TRIGGER evidence_files_no_truncate BEFORE TRUNCATE ON evidence_files "
        "FOR EACH STATEMENT EXECUTE FUNCTION gisplan_no_truncate()"
    )

    op.create_table(
        "evidence",
        sa.Column("fid", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_key", sa.Text, nullable=False),
        sa.Column("compound_id", sa.Integer, nullable=False),
        sa.Column("building_id", sa.Integer),
        sa.Column("project_id", sa.Integer),
        sa.Column("stage", sa.Text),
        sa.Column("acceptance_id", sa.Integer),
        sa.Column("finding_id", sa.Integer),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("sha256", sa.Text, sa.ForeignKey("evidence_files.sha256"), nullable=False),
        sa.Column("filename", sa.Text),
        sa.Column("media_type", sa.Text),
        sa.Column("size_bytes", sa.Integer),
        sa.Column("note", sa.Text),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True)),
        sa.Column("month", sa.Text, nullable=False),
        sa.Column("flags", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("pair", sa.Text),
        sa.Column("side", sa.Text),
        sa.Column("published", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
        sa.Column("withdrawn_by", sa.Text),
        sa.Column("withdraw_reason", sa.Text),
        sa.Column("synthetic", sa.Text),
        sa.Column("extra", JSONB, nullable=False, server_default="{}"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("geom", Geometry("POINT", srid=srid, spatial_index=False)),
        sa.UniqueConstraint("source", "source_key", name="evidence_source_key"),
        sa.CheckConstraint("month ~ '^[0-9]{4}-[0-9]{2}$'", name="evidence_month"),
        sa.CheckConstraint(
            "(withdrawn_at IS NULL) = (withdrawn_by IS NULL) AND (withdrawn_at IS NULL) = (withdraw_reason IS NULL)",
            name="evidence_withdrawn_whole",
        ),
        sa.CheckConstraint("withdraw_reason IS NULL OR btrim(withdraw_reason) <> ''", name="evidence_reason_given"),
        sa.CheckConstraint("NOT (published AND withdrawn_at IS NOT NULL)", name="evidence_withdrawn_unpublished"),
    )
    op.create_index("evidence_geom", "evidence", ["geom"], postgresql_using="gist")
    op.create_index("evidence_compound", "evidence", ["compound_id"])
    op.create_index("evidence_sha256", "evidence", ["sha256"])
    op.execute(GUARD)
    op.execute(
        "CREATE TRIGGER evidence_guard BEFORE UPDATE OR DELETE ON evidence "
        "FOR EACH ROW EXECUTE FUNCTION gisplan_evidence_guard()"
    )
    op.execute(
        "CREATE TRIGGER evidence_no_truncate BEFORE TRUNCATE ON evidence "
        "FOR EACH STATEMENT EXECUTE FUNCTION gisplan_no_truncate()"
    )
    for event, refs in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    ):
        op.execute(
            f"CREATE TRIGGER evidence_audit_{event.lower()} AFTER {event} ON evidence "
            f"REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION gisplan_audit()"
        )
    op.execute("INSERT INTO layer_changes VALUES ('evidence', 0, now())")
    op.execute(
        "CREATE TRIGGER evidence_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON evidence "
        "FOR EACH STATEMENT EXECUTE FUNCTION gisplan_layer_changed()"
    )
    conn = dbapi(op.get_bind())
    if privileges.role_exists(conn, privileges.APP_ROLE):
        privileges.grant_app(conn, conn.info.user)


def downgrade() -> None:
    op.drop_table("evidence")
    op.execute("DROP FUNCTION gisplan_evidence_guard()")
    op.execute("DELETE FROM layer_changes WHERE layer_table = 'evidence'")
    op.drop_table("evidence_files")
