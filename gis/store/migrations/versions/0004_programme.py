"""The renovation programme: projects per compound and year, stage dates, the event log, submissions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

``programme_events`` is the programme's audit: every change (plan, stage move, spending, correction)
with who, when, why and the values before and after; it and ``programme_submissions`` (the locked
monthly reports) are append-only, enforced by a trigger, so a locked month cannot be rewritten.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APPEND_ONLY = """
CREATE FUNCTION gisplan_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: a change is a new row (a correction), never an edit', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;
"""


def upgrade() -> None:
    op.create_table(
        "programme_projects",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("compound_id", sa.BigInteger, sa.ForeignKey("compounds.fid", ondelete="RESTRICT"), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("stage", sa.Text),
        sa.Column("categories", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("items", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("investment_planned", sa.Numeric(14, 2)),
        sa.Column("investment_spent", sa.Numeric(14, 2)),
        sa.Column("funding", JSONB, nullable=False, server_default="{}"),
        sa.Column("property_mgmt_after", sa.Text),
        sa.Column("responsible_street", sa.Text),
        sa.Column("responsible_dept", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("compound_id", "year", name="programme_projects_compound_year"),
        sa.CheckConstraint("year BETWEEN 2000 AND 2100", name="programme_projects_year"),
        sa.CheckConstraint("investment_planned >= 0 AND investment_spent >= 0", name="programme_projects_money"),
    )
    op.create_index("programme_projects_year", "programme_projects", ["year"])
    op.create_table(
        "programme_stage_dates",
        sa.Column(
            "project_id", sa.BigInteger, sa.ForeignKey("programme_projects.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("stage", sa.Text, primary_key=True),
        sa.Column("planned", sa.Date),
        sa.Column("actual", sa.Date),
    )
    op.create_table(
        "programme_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("project_id", sa.BigInteger, sa.ForeignKey("programme_projects.id"), nullable=False),
        sa.Column("compound_id", sa.BigInteger, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        # create | plan | advance | spent | correct
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("stage_before", sa.Text),
        sa.Column("stage_after", sa.Text),
        # the business date the change takes effect (a stage reached on, spending as of)
        sa.Column("effective", sa.Date),
        # {field: [before, after]}
        sa.Column("changes", JSONB, nullable=False, server_default="{}"),
        sa.Column("reason", sa.Text),
        sa.Column("correction", sa.Boolean, nullable=False, server_default=sa.false()),
        # the submitted (locked) month a correction changes, YYYY-MM
        sa.Column("corrects_month", sa.Text),
        sa.Column("source", sa.Text),
    )
    op.create_index("programme_events_project", "programme_events", ["project_id", "id"])
    op.create_table(
        "programme_submissions",
        sa.Column("month", sa.Text, primary_key=True),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("deadline", sa.Date, nullable=False),
        sa.Column("late", sa.Boolean, nullable=False),
        # every programme event up to this id is in the report; later corrections go to the next
        sa.Column("last_event_id", sa.BigInteger, nullable=False),
        sa.Column("report", JSONB, nullable=False),
        sa.CheckConstraint("month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'", name="programme_submissions_month"),
    )
    op.execute(APPEND_ONLY)
    for table in ("programme_events", "programme_submissions"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION gisplan_append_only()"
        )


def downgrade() -> None:
    for table in ("programme_submissions", "programme_events", "programme_stage_dates", "programme_projects"):
        op.drop_table(table)
    op.execute("DROP FUNCTION gisplan_append_only()")
