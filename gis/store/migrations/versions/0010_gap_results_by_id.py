"""Gap results name their compound by id: no copy of its geometry in every row.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

A run stores one row per compound and facility type; each row used to carry its own copy of the
compound's geometry (16 types: 16 copies), which was most of what storing a run cost. The readers
of :mod:`gis.gaps.runs` now join the compounds layer by ``compound_fid`` where a geometry is wanted
(the compound as it stands; a compound deleted since has none, and is no one's latest result). The
name, district and street stay copied, so a run's table still reads as it was.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS gap_results_geom")
    op.execute("ALTER TABLE gap_results DROP COLUMN geom")


def downgrade() -> None:
    op.execute("ALTER TABLE gap_results ADD COLUMN geom geometry")
    op.execute("UPDATE gap_results r SET geom = c.geom FROM compounds c WHERE c.fid = r.compound_fid")
    op.execute("DELETE FROM gap_results WHERE geom IS NULL")
    op.execute("ALTER TABLE gap_results ALTER COLUMN geom SET NOT NULL")
    op.execute("CREATE INDEX gap_results_geom ON gap_results USING gist (geom)")
