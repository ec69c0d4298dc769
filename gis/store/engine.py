"""Database connections: a URL from the settings, or the embedded cluster started on demand."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine

from gis.settings import Settings
from gis.store.cluster import EmbeddedCluster


def sqlalchemy_url(url: str) -> str:
    """Accept ``postgres://``, ``postgresql://`` and SQLAlchemy URLs; use the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def resolve_url(settings: Settings) -> str:
    """``GISPLAN_DATABASE_URL`` when set; otherwise the embedded cluster, started if needed."""
    if settings.database_url:
        return sqlalchemy_url(settings.database_url)
    return EmbeddedCluster(settings.home).up()


def make_engine(url: str) -> Engine:
    return create_engine(sqlalchemy_url(url), pool_pre_ping=True, future=True)
