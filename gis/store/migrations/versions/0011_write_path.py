"""What a layer's row costs to write: the same audit rows and geometry checks, for less.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

``to_jsonb(row)`` turns a geometry into GeoJSON through PostGIS's geometry-to-json cast, which looks
the geometry's SRS up in ``spatial_ref_sys`` anew for every value (it keeps no cache across calls
made this way): about 115 µs a geometry, most of an import of compounds. The triggers now build the
same JSON with ``ST_AsGeoJSON(geom, 15, 2)`` (the cast's 15 digits and short CRS name), which caches
the lookup: identical ``before``/``after`` (tests/ingest/test_audit_rows.py compares them with
``to_jsonb`` of the rows), about 11 µs a geometry. The column list is read from the catalogue on each
statement, so a column added later is audited without touching this function.

The geometry-kind check (``gisplan_geometry_kind``, migration 0001) carried a search path (0008, for
a DBA's ``pg_restore``), which keeps PostgreSQL from inlining it: a function call per row written.
It now names PostGIS's schema itself, needs no search path and is inlined into the CHECK.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

AUDIT_FUNCTION = """
CREATE OR REPLACE FUNCTION gisplan_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    who text := coalesce(nullif(current_setting('gisplan.actor', true), ''), session_user);
    imp bigint := nullif(current_setting('gisplan.import_id', true), '')::bigint;
    cols text;
BEGIN
    SELECT string_agg(
               CASE WHEN a.atttypid = 'geometry'::regtype
                    THEN format('ST_AsGeoJSON(%1$I, 15, 2)::jsonb AS %1$I', a.attname)
                    ELSE quote_ident(a.attname) END,
               ', ' ORDER BY a.attnum)
      INTO cols
      FROM pg_attribute a
     WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped;
    IF TG_OP = 'INSERT' THEN
        EXECUTE format(
            'INSERT INTO audit_log (actor, action, layer, fid, import_id, after) '
            'SELECT $1, ''insert'', $2, n.fid, $3, to_jsonb(n) FROM (SELECT %s FROM new_rows) n', cols)
        USING who, TG_TABLE_NAME, imp;
    ELSIF TG_OP = 'UPDATE' THEN
        EXECUTE format(
            'INSERT INTO audit_log (actor, action, layer, fid, import_id, before, after) '
            'SELECT $1, ''update'', $2, n.fid, $3, to_jsonb(o), to_jsonb(n) '
            'FROM (SELECT %1$s FROM new_rows) n JOIN (SELECT %1$s FROM old_rows) o USING (fid)', cols)
        USING who, TG_TABLE_NAME, imp;
    ELSE
        EXECUTE format(
            'INSERT INTO audit_log (actor, action, layer, fid, import_id, before) '
            'SELECT $1, ''delete'', $2, o.fid, $3, to_jsonb(o) FROM (SELECT %s FROM old_rows) o', cols)
        USING who, TG_TABLE_NAME, imp;
    END IF;
    RETURN NULL;
END $$;
"""

# As migration 0001 made it
PREVIOUS = """
CREATE OR REPLACE FUNCTION gisplan_audit() RETURNS trigger LANGUAGE plpgsql AS $$
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


KIND = (
    "CREATE OR REPLACE FUNCTION gisplan_geometry_kind(g geometry) RETURNS text LANGUAGE sql IMMUTABLE STRICT "
    "PARALLEL SAFE AS 'SELECT {schema}.GeometryType(g)'"
)
POSTGIS_SCHEMA = text(
    "SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
    "WHERE e.extname = 'postgis'"
)


def upgrade() -> None:
    op.execute(AUDIT_FUNCTION)
    op.execute(KIND.format(schema=op.get_bind().execute(POSTGIS_SCHEMA).scalar_one()))
    op.execute("ALTER FUNCTION gisplan_geometry_kind(geometry) RESET search_path")
    # the names it reads (geometry, ST_AsGeoJSON, audit_log) resolve as they do now, whatever the caller's path
    op.execute("ALTER FUNCTION gisplan_audit() SET search_path FROM CURRENT")


def downgrade() -> None:
    op.execute(
        "CREATE OR REPLACE FUNCTION gisplan_geometry_kind(g geometry) RETURNS text LANGUAGE sql IMMUTABLE STRICT "
        "PARALLEL SAFE AS 'SELECT GeometryType(g)'"
    )
    op.execute("ALTER FUNCTION gisplan_geometry_kind(geometry) SET search_path FROM CURRENT")
    op.execute("ALTER FUNCTION gisplan_audit() RESET search_path")
    op.execute(PREVIOUS)
