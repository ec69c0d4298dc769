"""A web server's engine: a fixed pool and a statement timeout; every other engine neither."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from gis.settings import Settings
from gis.store.engine import make_engine


def test_a_servers_engine_has_its_pool_and_statement_timeout(settings: Settings) -> None:
    assert settings.database_url
    serving = settings.model_copy(update={"statement_timeout_s": 0.5, "db_pool": 3})
    server = make_engine(settings.database_url, settings=serving, serving=True)
    plain = make_engine(settings.database_url)
    try:
        assert server.pool.size() == 3 and server.pool._max_overflow == 0  # type: ignore[attr-defined]
        with server.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "500ms"
            # short statements, many at once: no JIT compilation, no parallel workers
            assert conn.execute(text("SHOW jit")).scalar() == "off"
            assert conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar() == "0"
            started = time.monotonic()
            with pytest.raises(OperationalError, match="statement timeout"):
                conn.execute(text("SELECT pg_sleep(5)"))
            assert time.monotonic() - started < 3
        with plain.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "0"
            assert conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar() != "0"
    finally:
        server.dispose()
        plain.dispose()


def test_a_servers_pool_pings_only_an_idle_connection(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection the database dropped while it sat in the pool is found by its ping and replaced
    (no failed request); one back in use within ``IDLE_PING_S`` is not pinged (no round trip), so its
    death shows as a disconnect the app answers 503, and the pool renews it."""
    from gis.store import engine
    from gis.store.engine import database_fault, reading

    monkeypatch.setattr(engine, "IDLE_PING_S", 1.0)  # wide, so "at once" holds on a loaded machine too
    assert settings.database_url
    serving = settings.model_copy(update={"db_pool": 1})
    server = make_engine(settings.database_url, settings=serving, serving=True)
    plain = make_engine(settings.database_url)

    def backend() -> int:
        with reading(server) as conn:
            return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())

    def kill(pid: int) -> None:
        with plain.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar() is True
        time.sleep(0.05)  # the backend has gone before the next checkout

    try:
        first = backend()
        kill(first)
        time.sleep(1.2)
        second = backend()  # pinged, found dead, replaced: the request itself succeeds
        assert second != first
        kill(second)
        with pytest.raises(OperationalError) as raised:  # at once: not pinged, so the statement meets it
            backend()
        assert database_fault(raised.value) is not None
        assert backend() not in (first, second)  # and the pool has renewed it
    finally:
        server.dispose()
        plain.dispose()
