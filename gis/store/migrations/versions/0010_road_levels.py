"""Roads: the level a way runs at — ``bridge``, ``tunnel`` (boolean) and ``layer`` (integer).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

OpenStreetMap's ``bridge``, ``tunnel`` and ``layer`` tags and the Geofabrik shapefiles' columns of
the same names (T/F, an integer). Two ways that cross in the plan but not at the same level (a
footpath under a bridge) do not meet: the gap analysis reads these columns to decide which
crossings are junctions. Rows loaded before keep the tags in ``extra``; a re-import fills them.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE roads ADD COLUMN bridge boolean, ADD COLUMN tunnel boolean, ADD COLUMN layer integer")


def downgrade() -> None:
    op.execute("ALTER TABLE roads DROP COLUMN bridge, DROP COLUMN tunnel, DROP COLUMN layer")
