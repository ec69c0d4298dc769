"""季度考核 (the quarterly assessment): manual item scores and published quarters.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03

``assessment_manual_scores``: a planner's score of a manual item of the scheme
(``layers/programme/assessment.yaml``) for a street in a quarter, with the note it rests on and the
evidence items it cites (at least one); a later row for the same quarter, street and item
supersedes an earlier one. ``assessment_publications``: a quarter's scores as published (a JSON
snapshot, like a submitted month's report), one row per quarter: once there, the quarter is locked.
Both are append-only (the trigger of 0004 refuses UPDATE and DELETE, the owner included; the app may
only SELECT and INSERT).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from gis.store import privileges
from gis.store.engine import dbapi

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

QUARTER = r"^(20\d\d|2100)Q[1-4]$"


def upgrade() -> None:
    op.create_table(
        "assessment_manual_scores",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("quarter", sa.Text, nullable=False),
        sa.Column("district", sa.Text),
        sa.Column("street", sa.Text, nullable=False),
        sa.Column("item", sa.Text, nullable=False),
        sa.Column("points", sa.Numeric(6, 2), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("evidence", ARRAY(sa.BigInteger), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("synthetic", sa.Text),
        sa.CheckConstraint(f"quarter ~ '{QUARTER}'", name="assessment_manual_scores_quarter"),
        sa.CheckConstraint("points >= 0", name="assessment_manual_scores_points"),
        sa.CheckConstraint("cardinality(evidence) > 0", name="assessment_manual_scores_evidence"),
    )
    op.create_index("assessment_manual_scores_quarter_idx", "assessment_manual_scores", ["quarter", "id"])
    op.create_table(
        "assessment_publications",
        sa.Column("quarter", sa.Text, primary_key=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("scores", JSONB, nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(f"quarter ~ '{QUARTER}'", name="assessment_publications_quarter"),
    )
    for table in ("assessment_manual_scores", "assessment_publications"):
        for statement in privileges.guard_statements(table):
            op.execute(statement)
    privileges.regrant(dbapi(op.get_bind()))


def downgrade() -> None:
    op.drop_table("assessment_publications")
    op.drop_table("assessment_manual_scores")
