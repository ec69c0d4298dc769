"""Database connections: a URL from the settings, or the embedded cluster started on demand."""

from __future__ import annotations

import psycopg
from sqlalchemy import Connection, Engine, create_engine

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


def dbapi(conn: Connection) -> psycopg.Connection:
    """The psycopg 3 connection under a SQLAlchemy one (for COPY)."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise TypeError("gisplan writes through psycopg 3 (URL scheme postgresql+psycopg://)")
    return driver
