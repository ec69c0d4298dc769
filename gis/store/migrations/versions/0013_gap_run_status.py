"""A gap run has a status: a partitioned run is written by many tasks, and seen only once complete.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

A run in one process is written in one transaction, and was never seen half-written. A partitioned
run (:mod:`gis.gaps.distributed`) is written by one transaction per partition, so its row says
``running`` until the last has committed, then ``complete``; a run whose tasks failed is ``failed``
and its rows are deleted. Every reader of runs and results (:mod:`gis.gaps.runs`) reads complete
runs only. Earlier runs were all complete.
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE gap_runs ADD COLUMN status text NOT NULL DEFAULT 'complete' "
        "CONSTRAINT gap_runs_status CHECK (status IN ('running', 'complete', 'failed'))"
    )
    # readers ask for the complete runs: a partial index keeps that as cheap as before
    op.execute("CREATE INDEX gap_runs_complete ON gap_runs (id) WHERE status = 'complete'")


def downgrade() -> None:
    op.execute("DELETE FROM gap_runs WHERE status <> 'complete'")
    op.execute("DROP INDEX gap_runs_complete")
    op.execute("ALTER TABLE gap_runs DROP COLUMN status")
