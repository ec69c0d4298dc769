"""综合验收 (final acceptance): an acceptance record per project, with a score per checklist item.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

A record is what a team found on a day: kept as written, never changed or deleted (the append-only
trigger of 0004 refuses it, the owner included; the app may only SELECT and INSERT). A failed
acceptance is followed by a re-inspection, a new record naming the one it re-inspects
(``reinspects``). The programme's stage ``accepted`` is reached only on or after the day of a passed
record (:mod:`gis.programme.rules`). Each score may cite the evidence items it rests on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from gis.store import privileges
from gis.store.engine import dbapi

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "acceptances",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("project_id", sa.BigInteger, sa.ForeignKey("programme_projects.id"), nullable=False),
        sa.Column("compound_id", sa.BigInteger, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("held_on", sa.Date, nullable=False),
        sa.Column("team", ARRAY(sa.Text), nullable=False),
        sa.Column("total", sa.Numeric(6, 2), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("failed_mandatory", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("findings", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("reinspects", sa.BigInteger, sa.ForeignKey("acceptances.id")),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("synthetic", sa.Text),
        sa.CheckConstraint("cardinality(team) > 0", name="acceptances_team"),
        sa.CheckConstraint("NOT (passed AND cardinality(failed_mandatory) > 0)", name="acceptances_result"),
    )
    op.create_index("acceptances_project", "acceptances", ["project_id", "held_on"])
    op.create_table(
        "acceptance_scores",
        sa.Column("acceptance_id", sa.BigInteger, sa.ForeignKey("acceptances.id"), primary_key=True),
        sa.Column("item", sa.Text, primary_key=True),
        sa.Column("score", sa.Numeric(6, 2), nullable=False),
        sa.Column("points", sa.Numeric(6, 2), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("evidence", ARRAY(sa.BigInteger), nullable=False, server_default="{}"),
        sa.CheckConstraint("score >= 0 AND score <= points", name="acceptance_scores_range"),
    )
    for table in ("acceptances", "acceptance_scores"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION gisplan_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION gisplan_no_truncate()"
        )
    conn = dbapi(op.get_bind())
    if privileges.role_exists(conn, privileges.APP_ROLE):
        privileges.grant_app(conn, conn.info.user)


def downgrade() -> None:
    op.drop_table("acceptance_scores")
    op.drop_table("acceptances")
