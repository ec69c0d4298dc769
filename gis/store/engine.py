"""Database connections: a URL from the settings, or the embedded cluster started on demand.

Every engine gives up on a connection after ``connect_timeout`` (libpq's, 3 s by default) and on a
free pooled one after ``pool_timeout``, and pings a pooled connection before using it (a restarted
server's dead connections are dropped, not handed out). :func:`database_fault` tells a database
that is down, restarting or out of connections from any other error: callers answer "try again"
(the API: 503 with ``Retry-After``) instead of failing.

Two URLs may name one database: the app's (what every query runs as) and its schema owner's
(what migrations run as; see :mod:`gis.store.privileges`). :func:`resolve_url` returns the app's
and remembers the owner's for it, so :func:`migration_engine` finds it again from the app's engine.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event, exc, make_url
from sqlalchemy.pool import NullPool

from gis.errors import DatabaseUnavailableError, ServerError
from gis.settings import Settings
from gis.store.cluster import EmbeddedCluster

# app URL -> owner URL, both as SQLAlchemy renders them
_owners: dict[str, str] = {}

CONNECT_TIMEOUT_S = 3
POOL_TIMEOUT_S = 5.0
# SQLSTATE classes of a server that is not there for now: connection exception, insufficient
# resources (too many connections), operator intervention (shutting down, starting up, restarting)
UNAVAILABLE_SQLSTATES = ("08", "53", "57P")


def sqlalchemy_url(url: str) -> str:
    """Accept ``postgres://``, ``postgresql://`` and SQLAlchemy URLs; use the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def libpq_url(url: str) -> str:
    """The URL in libpq's own form (``postgresql://``), as psql, QGIS, ogr2ogr (``PG:URL``) and
    psycopg take it; SQLAlchemy's ``postgresql+psycopg://`` is turned back into it."""
    for prefix in ("postgresql+psycopg2://", "postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def database_url(settings: Settings, *, owner: bool = False) -> str:
    """The libpq URL of the database gisplan uses, as the app's role or (``owner``) the schema's owner.

    ``GISPLAN_DATABASE_URL`` (and ``GISPLAN_OWNER_DATABASE_URL``; without it the app's role is taken
    to own the schema, as in a single-role setup) when set; otherwise the embedded cluster, started
    if needed.
    """
    if settings.database_url:
        chosen = settings.owner_database_url if owner and settings.owner_database_url else settings.database_url
        return libpq_url(chosen)
    cluster = EmbeddedCluster(settings.home)
    cluster.up()
    return cluster.owner_url(driver="postgresql") if owner else cluster.app_url(driver="postgresql")


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


# A web server's statements are short and many at once: PostgreSQL's JIT compiled a z10 tile's query
# for 250 ms of its 340 (52 ms without), and a parallel plan's workers take the cores the other
# requests need (77 ms against 52 ms serial, alone; worse under load). Analyses keep both.
SERVING_OPTIONS = ("-c jit=off", "-c max_parallel_workers_per_gather=0")


def _connect_args(url: str, connect_timeout_s: int) -> dict[str, int]:
    """libpq's ``connect_timeout``, unless the URL sets its own."""
    return {} if "connect_timeout" in make_url(url).query else {"connect_timeout": connect_timeout_s}


def make_engine(
    url: str, *, owner_url: str | None = None, settings: Settings | None = None, serving: bool = False
) -> Engine:
    """An engine on ``url``; ``owner_url`` (else the one :func:`resolve_url` remembered) runs its migrations.

    Its timeouts are ``settings``' (``GISPLAN_DB_CONNECT_TIMEOUT_S``, ``GISPLAN_DB_POOL_TIMEOUT_S``), by
    default 3 s and 5 s. No connection is made here: a database that is down is found when it is used.
    A web server's engine (``serving``, with its ``settings``) keeps ``db_pool`` connections, no more,
    has PostgreSQL cancel any statement past ``statement_timeout_s`` and runs without JIT or parallel
    workers (:data:`SERVING_OPTIONS`); others have SQLAlchemy's pool (5 + 10) and no statement timeout.
    """
    register_owner(url, owner_url)
    url = sqlalchemy_url(url)
    connect_s = settings.db_connect_timeout_s if settings else CONNECT_TIMEOUT_S
    connect_args: dict[str, Any] = _connect_args(url, connect_s)
    options: dict[str, Any] = {"pool_timeout": settings.db_pool_timeout_s if settings else POOL_TIMEOUT_S}
    if serving and settings is not None:
        options.update(pool_size=settings.db_pool, max_overflow=0)
        connect_args["options"] = " ".join(SERVING_OPTIONS)
        if settings.statement_timeout_s:
            connect_args["options"] += f" -c statement_timeout={round(settings.statement_timeout_s * 1000)}"
    engine = create_engine(url, pool_pre_ping=not serving, future=True, connect_args=connect_args, **options)
    if serving:
        _ping_when_idle(engine)
    return engine


IDLE_PING_S = 0.25


def _ping_when_idle(engine: Engine) -> None:
    """A web server's pool pings a connection only when it has sat unused for ``IDLE_PING_S``.

    A ping before every checkout was one round trip in every tile and page (a fifth of a bbox page's
    time under load, py-spy); under load a connection is back in use within milliseconds, and one that
    sat idle while the database restarted or was swapped is found dead by its ping and replaced
    (SQLAlchemy's pessimistic recipe: a :class:`~sqlalchemy.exc.DisconnectionError` from the checkout
    makes the pool try a new connection). A connection killed while in constant use fails its one
    request with 503, and the pool then renews every connection older than the failure.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)  # SQLAlchemy's own ping: autocommit, then restored
        except psycopg.Error as error:
            raise exc.DisconnectionError(str(error)) from error


@contextlib.contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads that need no transaction of their own (a tile, a page): each statement
    runs on its own (autocommit), so a request costs its query, not a ``BEGIN`` and a ``ROLLBACK``
    besides (two of a tile's four round trips). A single statement still sees one
    snapshot; writes go through ``engine.begin()`` as always."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        yield conn


def engine_url(engine: Engine) -> str:
    """The URL of ``engine``'s database, password included: for another process to open the same."""
    return engine.url.render_as_string(hide_password=False)


def _is_unavailable(error: BaseException) -> bool:
    if isinstance(error, DatabaseUnavailableError | exc.TimeoutError):  # TimeoutError: no free pooled connection
        return True
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        state = error.sqlstate
        return state is None or state.startswith(UNAVAILABLE_SQLSTATES)  # None: the client's side (refused, closed)
    return False


def database_fault(error: BaseException | None) -> DatabaseUnavailableError | None:
    """The database being down, restarting or out of connections behind ``error`` (itself, a
    SQLAlchemy error around a driver's, or a cause further down the chain), as the library's error;
    None when ``error`` is anything else (a bad query, a constraint, a bug).

    Examples
    --------
    >>> try:
    ...     ws.layer("compounds")
    ... except Exception as exc:
    ...     if (fault := database_fault(exc)) is None:
    ...         raise
    ...     print(fault)  # try again in a few seconds
    """
    seen = 0
    while error is not None and seen < 16:
        if isinstance(error, DatabaseUnavailableError):
            return error
        driver = error.orig if isinstance(error, exc.DBAPIError) else None
        if _is_unavailable(error) or (driver is not None and _is_unavailable(driver)):
            fault = DatabaseUnavailableError(
                "no database connection came free in time: try again in a few seconds"
                if isinstance(error, exc.TimeoutError)
                else "the database is unavailable right now (down, restarting or out of connections): "
                "try again in a few seconds"
            )
            fault.__cause__ = error
            return fault
        error, seen = error.__cause__ or error.__context__, seen + 1
    return None


@contextlib.contextmanager
def migration_engine(engine: Engine) -> Iterator[Engine]:
    """The engine migrations run on: a short-lived one as the schema's owner when one is known for
    ``engine``, else ``engine`` itself (a single-role setup, where the app's user owns the schema)."""
    owner = _owners.get(engine.url.render_as_string(hide_password=False))
    if owner is None:
        yield engine
        return
    migrator = create_engine(
        owner, poolclass=NullPool, connect_args=_connect_args(owner, CONNECT_TIMEOUT_S), future=True
    )
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
