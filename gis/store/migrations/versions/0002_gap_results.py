"""Gap analysis runs and their per-compound results (a layer of their own).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Each run is stamped with its standard (and the values a county rule overrode), parameters, input
counts, network summary and warnings. Results keep a copy of each compound's geometry, name and
street at the time of the run, so a run stays what it was when compounds are edited later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    srid = int(op.get_bind().execute(sa.text("SELECT value FROM gisplan_meta WHERE key = 'srid'")).scalar_one())
    op.create_table(
        "gap_runs",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("standard", sa.Text, nullable=False),
        sa.Column("basis", sa.Text, nullable=False),
        sa.Column("parameters", JSONB, nullable=False),
        sa.Column("inputs", JSONB, nullable=False),
        sa.Column("network", JSONB),
        sa.Column("warnings", JSONB, nullable=False, server_default="[]"),
        sa.CheckConstraint("basis IN ('network', 'euclidean')", name="gap_runs_basis"),
    )
    op.create_table(
        "gap_results",
        sa.Column("run_id", sa.BigInteger, sa.ForeignKey("gap_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("compound_fid", sa.BigInteger, nullable=False),
        sa.Column("compound_name", sa.Text),
        sa.Column("district", sa.Text),
        sa.Column("street", sa.Text),
        sa.Column("facility_type", sa.Text, nullable=False),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("radius_m", sa.Float, nullable=False),
        sa.Column("radius_status", sa.Text, nullable=False),
        sa.Column("distance_m", sa.Float),
        sa.Column("euclidean_m", sa.Float),
        sa.Column("covered", sa.Boolean, nullable=False),
        sa.Column("basis", sa.Text, nullable=False),
        sa.Column("nearest_fid", sa.BigInteger),
        sa.Column("nearest_name", sa.Text),
        sa.Column("flag", sa.Text),
        sa.Column("population", sa.Float),
        sa.Column("demand_group", sa.Text, nullable=False),
        sa.Column("demand", sa.Float),
        sa.Column("affected", sa.Float),
        sa.Column("capacity_ratio", sa.Float),
        sa.Column("geom", Geometry("GEOMETRY", srid=srid, spatial_index=False), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "compound_fid", "facility_type"),
    )
    op.create_index("gap_results_geom", "gap_results", ["geom"], postgresql_using="gist")
    op.create_table(
        "site_proposals",
        sa.Column("run_id", sa.BigInteger, sa.ForeignKey("gap_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("facility_type", sa.Text, nullable=False),
        sa.Column("candidate", sa.Text),
        sa.Column("new_compounds", sa.Integer, nullable=False),
        sa.Column("new_compound_names", sa.Text),
        sa.Column("new_demand", sa.Float),
        sa.Column("geom", Geometry("POINT", srid=srid, spatial_index=False), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "rank"),
    )


def downgrade() -> None:
    op.drop_table("site_proposals")
    op.drop_table("gap_results")
    op.drop_table("gap_runs")
