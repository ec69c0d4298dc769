"""Database connections: a URL from the settings, or the embedded cluster started on demand.

Two URLs may name one database: the app's (what every query runs as) and its schema owner's
(what migrations run as; see :mod:`gis.store.privileges`). :func:`resolve_url` returns the app's
and remembers the owner's for it, so :func:`migration_engine` finds it again from the app's engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine, make_url
from sqlalchemy.pool import NullPool

from gis.errors import ServerError
from gis.settings import Settings
from gis.store.cluster import EmbeddedCluster

# app URL -> owner URL, both as SQLAlchemy renders them
_owners: dict[str, str] = {}


def sqlalchemy_url(url: str) -> str:
    """Accept ``postgres://``, ``postgresql://`` and SQLAlchemy URLs; use the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _key(url: str) -> str:
    return make_url(sqlalchemy_url(url)).render_as_string(hide_password=False)


def register_owner(url: str, owner_url: str | None) -> None:
    """Run the migrations of the database at ``url`` (the app's) as ``owner_url``'s role.

    Raises
    ------
    ServerError
        ``owner_url`` names another server or database than ``url``.
    """
    if not owner_url or _key(owner_url) == _key(url):
        return
    app, owner = make_url(sqlalchemy_url(url)), make_url(sqlalchemy_url(owner_url))
    if (app.host, app.port, app.database) != (owner.host, owner.port, owner.database):
        raise ServerError(
            "GISPLAN_OWNER_DATABASE_URL must name the same server and database as GISPLAN_DATABASE_URL "
            f"(only the role differs): {owner.render_as_string()} is not {app.render_as_string()}"
        )
    _owners[_key(url)] = _key(owner_url)


def resolve_url(settings: Settings) -> str:
    """``GISPLAN_DATABASE_URL`` when set; otherwise the embedded cluster, started if needed.

    The owner's URL (``GISPLAN_OWNER_DATABASE_URL``, or the embedded cluster's owner role) is
    remembered for it, for the migrations.
    """
    if settings.database_url:
        url = sqlalchemy_url(settings.database_url)
        register_owner(url, settings.owner_database_url)
        return url
    cluster = EmbeddedCluster(settings.home)
    url = cluster.up()
    register_owner(url, cluster.owner_url())
    return url


def make_engine(url: str, *, owner_url: str | None = None, serving: Settings | None = None) -> Engine:
    """An engine on ``url``; ``owner_url`` (else the one :func:`resolve_url` remembered) runs its migrations.

    A web server's engine (``serving``: its settings) keeps ``db_pool`` connections, no more, and has
    PostgreSQL cancel any statement past ``statement_timeout_s``; others have SQLAlchemy's pool (5 + 10)
    and no timeout."""
    register_owner(url, owner_url)
    options: dict[str, Any] = {}
    connect_args: dict[str, Any] = {}
    if serving is not None:
        options.update(pool_size=serving.db_pool, max_overflow=0)
        if serving.statement_timeout_s:
            connect_args["options"] = f"-c statement_timeout={round(serving.statement_timeout_s * 1000)}"
    return create_engine(sqlalchemy_url(url), pool_pre_ping=True, future=True, connect_args=connect_args, **options)


@contextlib.contextmanager
def migration_engine(engine: Engine) -> Iterator[Engine]:
    """The engine migrations run on: a short-lived one as the schema's owner when one is known for
    ``engine``, else ``engine`` itself (a single-role setup, where the app's user owns the schema)."""
    owner = _owners.get(engine.url.render_as_string(hide_password=False))
    if owner is None:
        yield engine
        return
    migrator = create_engine(owner, poolclass=NullPool, future=True)
    try:
        yield migrator
    finally:
        migrator.dispose()


def dbapi(conn: Connection) -> psycopg.Connection:
    """The psycopg 3 connection under a SQLAlchemy one (for COPY)."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise TypeError("gisplan writes through psycopg 3 (URL scheme postgresql+psycopg://)")
    return driver
