"""Users' tokens: an optional expiry, when a user was disabled and when their token was last rotated.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

Additive only: existing users keep working (no expiry); ``disabled`` stays the flag the lookup reads.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the last day the token works (in the programme's time zone); NULL: no expiry
    op.add_column("users", sa.Column("expires_on", sa.Date, nullable=True))
    op.add_column("users", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for column in ("rotated_at", "disabled_at", "expires_on"):
        op.drop_column("users", column)
