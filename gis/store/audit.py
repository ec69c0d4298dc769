"""The one audited transaction: every write to planning data runs inside :func:`audited`.

The layers' audit triggers (migration 0001) read the person from the transaction-local setting
``gisplan.actor``; setting it here, and only here, means no write can forget it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, text

SET_ACTOR = text("SELECT set_config('gisplan.actor', :actor, true)")
LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:name))")
HAS_TRIGGER = text("SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = :n)")
INSERT_AUDIT = text(
    "INSERT INTO audit_log (actor, action, layer, fid, before, after) "
    "VALUES (:a, :act, :l, :f, CAST(:b AS jsonb), CAST(:af AS jsonb))"
)


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


def record(
    conn: Connection, *, table: str, layer: str, action: str, fid: int, change: tuple[Any, Any], actor: str
) -> None:
    """One row of ``audit_log`` for a change of a table that has no audit trigger (roads, buildings,
    water: imports of those are audited per import, edits per row, here). ``change`` is (before, after)."""
    if conn.execute(HAS_TRIGGER, {"n": f"{table}_audit_update"}).scalar_one():
        return  # the planning layers' triggers write it themselves
    before, after = change
    conn.execute(
        INSERT_AUDIT,
        {
            "a": actor,
            "act": action,
            "l": layer,
            "f": fid,
            "b": json.dumps(before, default=str) if before else None,
            "af": json.dumps(after, default=str) if after else None,
        },
    )
