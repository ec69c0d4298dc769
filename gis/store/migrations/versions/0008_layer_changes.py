"""A change counter per layer, bumped in the writing transaction: what caches key on.

Revision ID: 0008
Revises: 0006_db_roles
Create Date: 2026-12-01

Every statement that inserts, updates, deletes or truncates rows of a layer table adds one to that
layer's row of ``layer_changes`` (a statement-level trigger), inside the writer's transaction: a
reader sees the new number exactly when it can see the new rows, so a value cached under the number
it read first is never newer than the rows it describes, and a change always changes the number.
Caches (layer extents, and what later keys on them) are thereby invalidated by the change, never by
time. Concurrent writers of one layer queue on its row until the first commits.

Also: the geometry-kind function of the layers' CHECK constraints keeps the search path it was made
with, so a DBA's own ``pg_restore`` (which empties the search path) can evaluate it.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0006_db_roles"
branch_labels = None
depends_on = None

LAYER_TABLES = ("compounds", "facilities", "roads", "buildings", "pipelines", "water")

CHANGED = """
CREATE FUNCTION gisplan_layer_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO layer_changes AS c (layer_table, n, changed_at) VALUES (TG_TABLE_NAME, 1, clock_timestamp())
    ON CONFLICT (layer_table) DO UPDATE SET n = c.n + 1, changed_at = clock_timestamp();
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.execute(
        "CREATE TABLE layer_changes (layer_table text PRIMARY KEY, n bigint NOT NULL, changed_at timestamptz NOT NULL)"
    )
    op.execute(CHANGED)
    op.execute("ALTER FUNCTION gisplan_layer_changed() SET search_path FROM CURRENT")
    op.execute("ALTER FUNCTION gisplan_geometry_kind(geometry) SET search_path FROM CURRENT")
    for table in LAYER_TABLES:
        op.execute(f"INSERT INTO layer_changes VALUES ('{table}', 0, now())")
        op.execute(
            f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION gisplan_layer_changed()"
        )


def downgrade() -> None:
    op.execute("ALTER FUNCTION gisplan_geometry_kind(geometry) RESET search_path")
    for table in LAYER_TABLES:
        op.execute(f"DROP TRIGGER {table}_changed ON {table}")
    op.execute("DROP FUNCTION gisplan_layer_changed()")
    op.execute("DROP TABLE layer_changes")
