"""Finished jobs are forgotten after GISPLAN_JOB_KEEP_DAYS; queued, running and recent ones are kept."""

from __future__ import annotations

from sqlalchemy import text

from gis.demo import sample_path
from gis.store import jobs
from gis.workspace import Workspace


def test_finished_jobs_older_than_the_retention_are_forgotten(ws: Workspace) -> None:
    ws.load("compounds", sample_path(), source_layer="compounds")  # the first load makes the schema
    made = {}
    for name in ("old done", "old failed", "old cancelled", "recent done", "queued", "running"):
        made[name] = jobs.submit(ws.engine, "gaps", {"standard": "gb50180"}, "test", limit=100).id
    with ws.engine.begin() as conn:
        for name, status, age in (
            ("old done", "done", 31),
            ("old failed", "failed", 45),
            ("old cancelled", "cancelled", 400),
            ("recent done", "done", 29),
            ("running", "running", 90),  # started long ago, still running: never forgotten
        ):
            conn.execute(
                text(
                    "UPDATE jobs SET status = :s, result = CASE WHEN :s = 'done' THEN '{}'::jsonb END, "
                    "finished_at = CASE WHEN :s = 'running' THEN NULL "
                    "ELSE clock_timestamp() - make_interval(days => :d) END, "
                    "started_at = clock_timestamp() - make_interval(days => :d), "
                    "created_at = clock_timestamp() - make_interval(days => :d + 1) WHERE id = :id"
                ),
                {"s": status, "d": age, "id": made[name]},
            )
    assert jobs.prune(ws.engine, keep_days=30) == 3
    left = {job.id for job in jobs.recent(ws.engine, limit=100)}
    assert left == {made[n] for n in ("recent done", "queued", "running")}
    assert jobs.prune(ws.engine, keep_days=30) == 0  # nothing more to forget
