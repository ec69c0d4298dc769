"""Pipeline check runs and their findings (restricted, like the pipelines layer).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    srid = int(op.get_bind().execute(sa.text("SELECT value FROM gisplan_meta WHERE key = 'srid'")).scalar_one())
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("parameters", JSONB, nullable=False),
    )
    op.create_table(
        "pipeline_findings",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("run_id", sa.BigInteger, sa.ForeignKey("pipeline_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("check", sa.Text, nullable=False),
        sa.Column("fid_a", sa.BigInteger, nullable=False),
        sa.Column("kind_a", sa.Text),
        sa.Column("fid_b", sa.BigInteger),
        sa.Column("kind_b", sa.Text),
        sa.Column("required_m", sa.Float),
        sa.Column("actual_m", sa.Float),
        sa.Column("stretch_m", sa.Float),
        sa.Column("compound_id", sa.BigInteger),
        sa.Column("compound_name", sa.Text),
        sa.Column("value_status", sa.Text),
        sa.Column("value_source", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("geom", Geometry("GEOMETRY", srid=srid, spatial_index=False)),
    )
    op.create_index("pipeline_findings_run", "pipeline_findings", ["run_id"])


def downgrade() -> None:
    op.drop_table("pipeline_findings")
    op.drop_table("pipeline_runs")
