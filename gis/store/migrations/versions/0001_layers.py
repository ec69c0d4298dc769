"""Layers, audit log, imports, users.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

The layer tables mirror ``layers/*.yaml`` at this revision; ``gis.store.schema.check_schema`` verifies
at start-up that every declared field has its column. A new field in a layer definition comes
with a migration; a new code-list value (a facility type, say) needs none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# geometry column type per table; the generic ones are constrained by a CHECK
GEOMETRY = {
    "compounds": ("GEOMETRY", ("MULTIPOLYGON", "POINT")),
    "facilities": ("GEOMETRY", ("POINT", "MULTIPOLYGON")),
    "pipelines": ("MULTILINESTRING", None),
    "roads": ("LINESTRING", None),
    "buildings": ("MULTIPOLYGON", None),
}

FIELDS: dict[str, list[sa.Column]] = {
    "compounds": [
        sa.Column("name", sa.Text),
        sa.Column("district", sa.Text),
        sa.Column("street", sa.Text),
        sa.Column("community", sa.Text),
        sa.Column("address", sa.Text),
        sa.Column("built_year", sa.Integer),
        sa.Column("buildings", sa.Integer),
        sa.Column("households", sa.Integer),
        sa.Column("population", sa.Integer),
        sa.Column("floor_area_m2", sa.Float),
        sa.Column("property_mgmt", sa.Text),
        sa.Column("plan_year", sa.Integer),
        sa.Column("stage", sa.Text),
        sa.Column("categories", ARRAY(sa.Text)),
    ],
    "facilities": [
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("capacity", sa.Float),
        sa.Column("address", sa.Text),
        sa.Column("operator", sa.Text),
        sa.Column("district", sa.Text),
        sa.Column("street", sa.Text),
    ],
    "pipelines": [
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("laying", sa.Text),
        sa.Column("operator", sa.Text),
        sa.Column("pressure", sa.Text),
        sa.Column("diameter_mm", sa.Float),
        sa.Column("material", sa.Text),
        sa.Column("laid_year", sa.Integer),
        sa.Column("depth_m", sa.Float),
        sa.Column("voltage_kv", sa.Float),
        sa.Column("owner", sa.Text),
    ],
    "roads": [
        sa.Column("name", sa.Text),
        sa.Column("highway", sa.Text),
        sa.Column("oneway", sa.Boolean),
    ],
    "buildings": [
        sa.Column("name", sa.Text),
        sa.Column("use", sa.Text),
        sa.Column("floors", sa.Integer),
        sa.Column("height_m", sa.Float),
        sa.Column("built_year", sa.Integer),
    ],
}

# Planning data: every row change is audited (statement-level triggers with transition tables,
# so a bulk import costs one INSERT ... SELECT per statement). Reference layers (roads,
# buildings) are audited per import in `imports`.
AUDITED = ("compounds", "facilities", "pipelines")

AUDIT_FUNCTION = """
CREATE FUNCTION gisplan_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    who text := coalesce(nullif(current_setting('gisplan.actor', true), ''), session_user);
    imp bigint := nullif(current_setting('gisplan.import_id', true), '')::bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_log (actor, action, layer, fid, import_id, after)
        SELECT who, 'insert', TG_TABLE_NAME, n.fid, imp, to_jsonb(n) FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO audit_log (actor, action, layer, fid, import_id, before, after)
        SELECT who, 'update', TG_TABLE_NAME, n.fid, imp, to_jsonb(o), to_jsonb(n)
        FROM new_rows n JOIN old_rows o USING (fid);
    ELSE
        INSERT INTO audit_log (actor, action, layer, fid, import_id, before)
        SELECT who, 'delete', TG_TABLE_NAME, o.fid, imp, to_jsonb(o) FROM old_rows o;
    END IF;
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    srid = int(op.get_context().config.attributes["srid"])  # type: ignore[union-attr]
    working_crs = op.get_context().config.attributes["working_crs"]  # type: ignore[union-attr]

    meta = op.create_table(
        "gisplan_meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.bulk_insert(meta, [{"key": "working_crs", "value": working_crs}, {"key": "srid", "value": str(srid)}])

    op.create_table(
        "imports",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("layer", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("path", sa.Text),
        sa.Column("options", JSONB, nullable=False, server_default="{}"),
        sa.Column("report", JSONB),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("layer", sa.Text, nullable=False),
        sa.Column("fid", sa.BigInteger),
        sa.Column("import_id", sa.BigInteger, sa.ForeignKey("imports.id")),
        sa.Column("before", JSONB),
        sa.Column("after", JSONB),
        sa.Column("reason", sa.Text),
    )
    op.create_index("audit_log_layer_fid", "audit_log", ["layer", "fid"])
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.CheckConstraint("role IN ('public', 'planner', 'admin')", name="users_role"),
    )

    op.execute(AUDIT_FUNCTION)
    op.execute(
        "CREATE FUNCTION gisplan_geometry_kind(g geometry) RETURNS text LANGUAGE sql IMMUTABLE STRICT "
        "PARALLEL SAFE AS 'SELECT GeometryType(g)'"
    )
    for table, columns in FIELDS.items():
        gtype, allowed = GEOMETRY[table]
        constraints: list[sa.Constraint] = [sa.UniqueConstraint("source", "source_key", name=f"{table}_source_key")]
        if allowed:
            types = ", ".join(f"'{t}'" for t in allowed)
            # Through a function of our own: PostGIS's geometry_columns view reads a CHECK on
            # GeometryType() as the column's single type, and QGIS would then hide the other type.
            constraints.append(
                sa.CheckConstraint(f"gisplan_geometry_kind(geom) IN ({types})", name=f"{table}_geom_type")
            )
        op.create_table(
            table,
            sa.Column("fid", sa.BigInteger, sa.Identity(), primary_key=True),
            sa.Column("source", sa.Text, nullable=False),
            sa.Column("source_key", sa.Text, nullable=False),
            *columns,
            sa.Column("synthetic", sa.Text),
            sa.Column("extra", JSONB, nullable=False, server_default="{}"),
            sa.Column("version", sa.Integer, nullable=False, server_default="1"),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
            sa.Column("geom", Geometry(gtype, srid=srid, spatial_index=False), nullable=False),
            *constraints,
        )
        op.create_index(f"{table}_geom", table, ["geom"], postgresql_using="gist")
        if table in AUDITED:
            for event, refs in (
                ("INSERT", "NEW TABLE AS new_rows"),
                ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                ("DELETE", "OLD TABLE AS old_rows"),
            ):
                op.execute(
                    f"CREATE TRIGGER {table}_audit_{event.lower()} AFTER {event} ON {table} "
                    f"REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION gisplan_audit()"
                )


def downgrade() -> None:
    for table in FIELDS:
        op.drop_table(table)
    op.execute("DROP FUNCTION gisplan_audit()")
    op.execute("DROP FUNCTION gisplan_geometry_kind(geometry)")
    for table in ("users", "audit_log", "imports", "gisplan_meta"):
        op.drop_table(table)
