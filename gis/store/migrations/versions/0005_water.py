"""The water layer (水系): water bodies and waterways for the offline basemap.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    srid = int(op.get_bind().execute(sa.text("SELECT value FROM gisplan_meta WHERE key = 'srid'")).scalar_one())
    op.create_table(
        "water",
        sa.Column("fid", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_key", sa.Text, nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("kind", sa.Text),
        sa.Column("synthetic", sa.Text),
        sa.Column("extra", JSONB, nullable=False, server_default="{}"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("geom", Geometry("GEOMETRY", srid=srid, spatial_index=False), nullable=False),
        sa.UniqueConstraint("source", "source_key", name="water_source_key"),
        # the layer's own kind check, as for compounds and facilities (QGIS then lists both kinds)
        sa.CheckConstraint(
            "gisplan_geometry_kind(geom) IN ('MULTIPOLYGON', 'MULTILINESTRING')", name="water_geom_type"
        ),
    )
    op.create_index("water_geom", "water", ["geom"], postgresql_using="gist")


def downgrade() -> None:
    op.drop_table("water")
