"""居民参与: consultations (征求居民意见) with their results and outcomes, notices (公示), the public's feedback.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03

A consultation, each result recorded for it (per building or household) and each outcome worked out
from them are kept as written: append-only like the acceptance records (the triggers of 0004 refuse
an UPDATE, DELETE or TRUNCATE, the owner included; the app may only SELECT and INSERT). A correction
is a new result naming the one it supersedes (``supersedes``); a later outcome replaces an earlier
one. The public's feedback is append-only too, and so is every step a planner takes on it (answer,
publish, reject, close: ``feedback_steps``, each with its actor); the contact a member of the public
leaves is a column no public read selects. A notice (公示) is never deleted; only its closing is
written later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from gis.store import privileges
from gis.store.engine import dbapi

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

APPEND_ONLY = ("consultations", "consultation_results", "consultation_outcomes", "feedback", "feedback_steps")


def _written() -> list[sa.Column]:
    return [
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("synthetic", sa.Text),
    ]


def upgrade() -> None:
    area = sa.Numeric(14, 2)
    op.create_table(
        "consultations",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("compound_id", sa.BigInteger, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("matter", sa.Text),
        sa.Column("proposal", sa.Text),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("opens_on", sa.Date, nullable=False),
        sa.Column("closes_on", sa.Date, nullable=False),
        sa.Column("total_area", area, nullable=False),
        sa.Column("total_owners", sa.Integer, nullable=False),
        sa.Column("note", sa.Text),
        *_written(),
        sa.CheckConstraint("closes_on >= opens_on", name="consultations_period"),
        sa.CheckConstraint("total_area > 0 AND total_owners > 0", name="consultations_totals"),
    )
    op.create_index("consultations_compound", "consultations", ["compound_id", "opens_on"])
    op.create_table(
        "consultation_results",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("consultation_id", sa.BigInteger, sa.ForeignKey("consultations.id"), nullable=False),
        sa.Column("unit_kind", sa.Text, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("area", area, nullable=False),
        sa.Column("owners", sa.Integer, nullable=False),
        sa.Column("favour_area", area, nullable=False),
        sa.Column("favour_owners", sa.Integer, nullable=False),
        sa.Column("against_area", area, nullable=False),
        sa.Column("against_owners", sa.Integer, nullable=False),
        sa.Column("supersedes", sa.BigInteger, sa.ForeignKey("consultation_results.id")),
        *_written(),
        sa.CheckConstraint("unit_kind IN ('building', 'household')", name="consultation_results_kind"),
        sa.CheckConstraint(
            "area >= 0 AND owners >= 0 AND favour_area >= 0 AND favour_owners >= 0 AND against_area >= 0 "
            "AND against_owners >= 0 AND favour_area + against_area <= area "
            "AND favour_owners + against_owners <= owners",
            name="consultation_results_counts",
        ),
    )
    op.create_table(
        "consultation_outcomes",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("consultation_id", sa.BigInteger, sa.ForeignKey("consultations.id"), nullable=False),
        sa.Column("decided_on", sa.Date, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("figures", JSONB, nullable=False),
        sa.Column("project_id", sa.BigInteger),
        sa.Column("applied_mode", sa.Text),
        *_written(),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("compound_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("from_on", sa.Date, nullable=False),
        sa.Column("to_on", sa.Date, nullable=False),
        *_written(),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("closed_by", sa.Text),
        sa.CheckConstraint("to_on >= from_on", name="notices_period"),
        sa.CheckConstraint("(closed_at IS NULL) = (closed_by IS NULL)", name="notices_closing"),
    )
    op.create_index("notices_period", "notices", ["from_on", "to_on"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("compound_id", sa.BigInteger, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("rating", sa.SmallInteger),
        sa.Column("contact", sa.Text),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("synthetic", sa.Text),
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="feedback_rating"),
        sa.CheckConstraint("length(body) BETWEEN 1 AND 4000", name="feedback_body"),
    )
    op.create_index("feedback_compound", "feedback", ["compound_id", "received_at"])
    op.create_table(
        "feedback_steps",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("feedback_id", sa.BigInteger, sa.ForeignKey("feedback.id"), nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("reply", sa.Text),
        sa.Column("published_text", sa.Text),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("action IN ('answer', 'publish', 'reject', 'close')", name="feedback_steps_action"),
        sa.CheckConstraint("(action = 'publish') = (published_text IS NOT NULL)", name="feedback_steps_published"),
    )
    op.create_index("feedback_steps_feedback", "feedback_steps", ["feedback_id", "at"])
    statements = [s for table in APPEND_ONLY for s in privileges.guard_statements(table)]
    for statement in (*statements, *privileges.guard_statements("notices", updates=False)):
        op.execute(statement)
    privileges.regrant(dbapi(op.get_bind()))


def downgrade() -> None:
    for table in ("feedback_steps", "feedback", "notices", "consultation_outcomes", "consultation_results"):
        op.drop_table(table)
    op.drop_table("consultations")
