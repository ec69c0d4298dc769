"""Analysis jobs in the database: queued, running, done, failed or cancelled, for every server process.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

A job is a row: what to run (``kind``, ``params``), who asked (``actor``), its state and, once it
ended, its result or why it did not finish. ``seq`` orders the queue and keys the advisory lock a
running job's runner holds for as long as it runs (``gis.store.jobs``): a ``running`` row whose lock
nobody holds belongs to a server that died. The app role gets its usual privileges on the table by
the owner's default privileges (migration ``0007_db_roles``).
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JOBS = """
CREATE TABLE jobs (
    id text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    kind text NOT NULL CHECK (kind IN ('gaps')),
    params jsonb NOT NULL,
    actor text NOT NULL,
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    cancel_requested boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at timestamptz,
    finished_at timestamptz,
    worker text,
    result jsonb,
    detail text,
    CHECK ((status IN ('done', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
    CHECK (status <> 'running' OR started_at IS NOT NULL),
    CHECK (status <> 'done' OR result IS NOT NULL)
)
"""


def upgrade() -> None:
    op.execute(JOBS)
    # the queue and the open jobs are read every second by every server process: a small partial index
    op.execute("CREATE INDEX jobs_open ON jobs (seq) WHERE status IN ('queued', 'running')")


def downgrade() -> None:
    op.execute("DROP TABLE jobs")
