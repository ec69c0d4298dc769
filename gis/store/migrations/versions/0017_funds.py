"""资金与跟踪审计: the funds ledger of each project (``funds_entries``).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03

One row per ledger entry of a programme project: an estimate (估算/概算), a budget (预算), a tender
control price (招标控制价), a contract (合同价), a change (变更: reason, amount that may be negative, who
approved it and when, or neither), funds received (资金到位) or a payment (拨付), each from a fund source
of ``layers/programme/programme.yaml``, a settlement (结算) or a final account (决算). Amounts in 万元,
numeric(14,2). The fund source codes are those of programme.yaml's ``funding_sources`` (data, so the
library checks them, not the table).

Append-only like the programme's events: the trigger of 0004 refuses UPDATE and DELETE, the owner
included, and the app may only SELECT and INSERT. A mistake is corrected by a new entry naming the one it
supersedes (``supersedes``, of the same project and kind, with a reason), which then no longer counts;
an entry is superseded at most once (a unique index). Each entry names its actor, its business date
(``on_date``) and may cite evidence items (checked by the library: they exist, stand and belong to the
compound).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from gis.store import privileges
from gis.store.engine import dbapi

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

KINDS = ("estimate", "budget", "tender_control", "contract", "change", "received", "payment", "settlement", "final")


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.create_table(
        "funds_entries",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("project_id", sa.BigInteger, sa.ForeignKey("programme_projects.id"), nullable=False),
        sa.Column("compound_id", sa.BigInteger, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("on_date", sa.Date, nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("approved_by", sa.Text),
        sa.Column("approved_on", sa.Date),
        sa.Column("document", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("supersedes", sa.BigInteger, sa.ForeignKey("funds_entries.id")),
        sa.Column("evidence", ARRAY(sa.BigInteger), nullable=False, server_default="{}"),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("synthetic", sa.Text),
        sa.CheckConstraint(f"kind IN ({_in(KINDS)})", name="funds_entries_kind"),
        sa.CheckConstraint(
            "(kind IN ('received', 'payment')) = (source IS NOT NULL)", name="funds_entries_source_kind"
        ),
        sa.CheckConstraint("kind = 'change' OR amount >= 0", name="funds_entries_amount"),
        sa.CheckConstraint(
            "kind = 'change' OR (approved_by IS NULL AND approved_on IS NULL)", name="funds_entries_approval_kind"
        ),
        sa.CheckConstraint("(approved_by IS NULL) = (approved_on IS NULL)", name="funds_entries_approval_pair"),
        sa.CheckConstraint("supersedes IS NULL OR reason IS NOT NULL", name="funds_entries_correction_reason"),
        sa.CheckConstraint("kind <> 'change' OR reason IS NOT NULL", name="funds_entries_change_reason"),
    )
    op.create_index("funds_entries_project", "funds_entries", ["project_id", "on_date"])
    op.create_index("funds_entries_compound", "funds_entries", ["compound_id"])
    op.create_index("funds_entries_superseded_once", "funds_entries", ["supersedes"], unique=True)
    for statement in privileges.guard_statements("funds_entries"):
        op.execute(statement)
    privileges.regrant(dbapi(op.get_bind()))


def downgrade() -> None:
    op.drop_table("funds_entries")
