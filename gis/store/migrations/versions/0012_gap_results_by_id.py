"""Gap results name their compound by id: no copy of its geometry in every row.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

A run stores one row per compound and facility type; each row used to carry its own copy of the
compound's geometry (16 types: 16 copies), which was most of what storing a run cost. The readers
of :mod:`gis.gaps.runs` now join the compounds layer by ``compound_fid`` where a geometry is wanted
(the compound as it stands; a compound deleted since has none, and is no one's latest result). The
name, district and street stay copied, so a run's table still reads as it was.

The rows' foreign key to ``gap_runs`` is checked once per statement instead of once per row: the
per-row check (a key-share lock on the run, row by row) was more than half of storing a run of
117k rows (1.9 s of 3.2 s, EXPLAIN ANALYZE). A statement-level trigger refuses rows naming no run,
and one on ``gap_runs`` deletes a deleted run's rows, as the cascade did.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


RUN_EXISTS = """
CREATE FUNCTION gap_results_run_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM gap_runs r WHERE r.id = n.run_id)) THEN
        RAISE foreign_key_violation USING MESSAGE = 'gap_results: a row names no gap run';
    END IF;
    RETURN NULL;
END $$
"""
RUN_DELETED = """
CREATE FUNCTION gap_runs_delete_results() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM gap_results WHERE run_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS gap_results_geom")
    op.execute("ALTER TABLE gap_results DROP COLUMN geom")
    op.execute("ALTER TABLE gap_results DROP CONSTRAINT gap_results_run_id_fkey")
    op.execute(RUN_EXISTS)
    op.execute(
        "CREATE TRIGGER gap_results_run_exists AFTER INSERT ON gap_results "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION gap_results_run_exists()"
    )
    op.execute(RUN_DELETED)
    op.execute(
        "CREATE TRIGGER gap_runs_delete_results AFTER DELETE ON gap_runs "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION gap_runs_delete_results()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER gap_runs_delete_results ON gap_runs")
    op.execute("DROP FUNCTION gap_runs_delete_results()")
    op.execute("DROP TRIGGER gap_results_run_exists ON gap_results")
    op.execute("DROP FUNCTION gap_results_run_exists()")
    op.execute(
        "ALTER TABLE gap_results ADD CONSTRAINT gap_results_run_id_fkey FOREIGN KEY (run_id) "
        "REFERENCES gap_runs (id) ON DELETE CASCADE"
    )
    op.execute("ALTER TABLE gap_results ADD COLUMN geom geometry")
    op.execute("UPDATE gap_results r SET geom = c.geom FROM compounds c WHERE c.fid = r.compound_fid")
    op.execute("DELETE FROM gap_results WHERE geom IS NULL")
    op.execute("ALTER TABLE gap_results ALTER COLUMN geom SET NOT NULL")
    op.execute("CREATE INDEX gap_results_geom ON gap_results USING gist (geom)")
