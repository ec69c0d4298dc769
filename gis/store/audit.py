"""The one audited transaction: every write to planning data runs inside :func:`audited`.

The layers' audit triggers (migration 0001) read the person from the transaction-local setting
``gisplan.actor``; setting it here, and only here, means no write can forget it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

SET_ACTOR = text("SELECT set_config('gisplan.actor', :actor, true)")
LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:name))")


def set_actor(conn: Connection, actor: str) -> None:
    """Name the person for the audit triggers, for the rest of ``conn``'s current transaction."""
    conn.execute(SET_ACTOR, {"actor": actor})


@contextmanager
def audited(engine: Engine, actor: str, *, lock: str | None = None) -> Iterator[Connection]:
    """A transaction whose changes the audit log attributes to ``actor``.

    Parameters
    ----------
    engine
        The database.
    actor
        Who makes the change (a person's user name; ``api:...`` never stands alone).
    lock
        The name of a transaction-level advisory lock to take first, so that writes of one kind
        (the programme's) never interleave.
    """
    with engine.begin() as conn:
        set_actor(conn, actor)
        if lock is not None:
            conn.execute(LOCK, {"name": lock})
        yield conn
