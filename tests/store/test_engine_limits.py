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
