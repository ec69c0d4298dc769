"""Migrations from an empty database, and the check that the schema matches layers/."""

from __future__ import annotations

import pytest
from alembic import command
from pyproj import CRS
from sqlalchemy import text

from gis.errors import RegistryError
from gis.registry import load_registry
from gis.store import schema
from gis.store.engine import migration_engine
from gis.workspace import Workspace


def test_migrations_from_empty(ws: Workspace) -> None:
    reg = load_registry()
    schema.upgrade(ws.engine, CRS.from_epsg(4548))
    with ws.engine.connect() as conn:
        assert schema.current_revision(conn) == schema.head_revision()
        schema.check_schema(conn, reg)
        columns = {
            r.f_table_name: (r.type, r.srid)
            for r in conn.execute(text("SELECT f_table_name, type, srid FROM geometry_columns"))
        }
        gist = {r[0] for r in conn.execute(text("SELECT tablename FROM pg_indexes WHERE indexdef ILIKE '%gist%'"))}
        triggers = {
            r[0] for r in conn.execute(text("SELECT DISTINCT event_object_table FROM information_schema.triggers"))
        }
        tables = {r[0] for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))}
    assert columns == {
        "compounds": ("GEOMETRY", 4548),
        "facilities": ("GEOMETRY", 4548),
        "pipelines": ("MULTILINESTRING", 4548),
        "roads": ("LINESTRING", 4548),
        "buildings": ("MULTIPOLYGON", 4548),
        "water": ("GEOMETRY", 4548),
        "site_proposals": ("POINT", 4548),
        "pipeline_findings": ("GEOMETRY", 4548),
        "evidence": ("POINT", 4548),
        "inspection_findings": ("POINT", 4548),
    }
    assert gist == set(columns) - {"site_proposals", "pipeline_findings"}  # read by run, not by place
    assert triggers == {
        "compounds",
        "facilities",
        "pipelines",  # planning data audited row by row (and every layer counts its changes: 0008)
        "roads",
        "buildings",
        "water",
        "programme_events",
        "programme_submissions",  # append-only
        "evidence_files",
        "evidence",  # a layer audited row by row, never deleted (0014)
        "inspection_findings",  # likewise (0016)
        "programme_permits",  # append-only (0016)
        "gap_runs",  # a run's rows go with it (0012: checked and cascaded per statement)
        "gap_results",
        "acceptances",
        "acceptance_scores",  # append-only (0015)
        "funds_entries",  # append-only (0017)
        "consultations",
        "consultation_results",
        "consultation_outcomes",
        "feedback",
        "feedback_steps",  # append-only (0018)
        "notices",  # never deleted (0018)
        "assessment_manual_scores",
        "assessment_publications",  # append-only (0019)
    }
    assert {"audit_log", "users", "imports", "gisplan_meta", "gap_runs"} <= tables
    assert ws.working_crs == CRS.from_epsg(4548)

    # A polygon where compounds take only polygons and points is refused by the database itself.
    with pytest.raises(Exception, match="compounds_geom_type"), ws.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO compounds (source, source_key, geom) "
                "VALUES ('t', '1', ST_SetSRID(ST_MakeLine(ST_MakePoint(0, 0), ST_MakePoint(1, 1)), 4548))"
            )
        )


def test_downgrade_and_upgrade_again(ws: Workspace) -> None:
    schema.upgrade(ws.engine, CRS.from_epsg(4547))
    cfg = schema._config()
    with migration_engine(ws.engine) as owner, owner.begin() as conn:  # as the schema's owner
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    with ws.engine.connect() as conn:
        assert schema.stored_working_crs(conn) is None
    schema.upgrade(ws.engine, CRS.from_epsg(4547))
    assert ws.working_crs == CRS.from_epsg(4547)


def test_schema_drift_is_reported(ws: Workspace) -> None:
    schema.upgrade(ws.engine, CRS.from_epsg(4548))
    with migration_engine(ws.engine) as owner, owner.begin() as conn:
        conn.execute(text("ALTER TABLE compounds DROP COLUMN households"))
    with ws.engine.connect() as conn, pytest.raises(RegistryError, match=r"compounds\.households"):
        schema.check_schema(conn, load_registry())
