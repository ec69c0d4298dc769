"""The one audited transaction: every write to planning data runs inside :func:`audited`; and the
layers as they stood at an instant, rebuilt from the audit (:func:`as_of_table`).

The layers' audit triggers (migration 0001) read the person from the transaction-local setting
``gisplan.actor``; setting it here, and only here, means no write can forget it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, column, text
from sqlalchemy.sql.selectable import Subquery

from gis.errors import NoRowHistoryError
from gis.registry import LayerDef

SET_ACTOR = text("SELECT set_config('gisplan.actor', :actor, true)")
LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:name))")
HAS_TRIGGER = text("SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = :n)")
INSERT_AUDIT = text(
    "INSERT INTO audit_log (actor, action, layer, fid, before, after) "
    "VALUES (:a, :act, :l, :f, CAST(:b AS jsonb), CAST(:af AS jsonb))"
)

# The tables whose every row change the audit triggers record, before and after (migrations 0001, 0014, 0016);
# the other layers (roads, buildings, water) are audited per import in ``imports``.
ROW_AUDITED = ("compounds", "facilities", "pipelines", "evidence", "inspection_findings")
AS_OF_SYSTEM = ("source", "source_key", "synthetic", "extra", "version", "created_at", "updated_at")
# A layer at an instant, from its audit rows: per feature the last row at or before the instant (by
# id: the order the changes were made in; ``at`` is its transaction's start, so it only cuts), its
# ``after`` unless it was a delete. A feature whose history the audit does not start (no insert: rows
# older than the log) stands as the audit first knew it: the ``before`` of its first row after the
# instant, or the row itself when the audit never saw it change; it exists if it was created by then.
# The geometry comes back from the GeoJSON the triggers wrote (migration 0011), in the working CRS.
AS_OF = """
WITH last AS (
    SELECT DISTINCT ON (fid) fid, id, action FROM audit_log
    WHERE layer = :as_of_layer AND at <= :as_of_at ORDER BY fid, id DESC
), first_after AS (
    SELECT DISTINCT ON (fid) fid, id, action FROM audit_log a
    WHERE layer = :as_of_layer AND at > :as_of_at AND NOT EXISTS (SELECT 1 FROM last WHERE last.fid = a.fid)
    ORDER BY fid, id
), state AS (
    SELECT a.after AS doc FROM last JOIN audit_log a ON a.id = last.id WHERE last.action <> 'delete'
    UNION ALL
    SELECT a.before FROM first_after f JOIN audit_log a ON a.id = f.id WHERE f.action <> 'insert'
)
SELECT {from_doc}, ST_SetSRID(ST_GeomFromGeoJSON(s.doc->'geom'), :as_of_srid) AS geom
FROM state s CROSS JOIN LATERAL jsonb_populate_record(NULL::{table}, s.doc - 'geom') r
WHERE r.created_at <= :as_of_at
UNION ALL
SELECT {from_row}, c.geom FROM {table} c
WHERE c.created_at <= :as_of_at
AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.layer = :as_of_layer AND a.fid = c.fid)
"""


def as_of_columns(layer: LayerDef) -> list[str]:
    """The columns of :func:`as_of_table`: ``fid``, the layer's fields and system columns (``geom`` last)."""
    return ["fid", *[f.id for f in layer.fields], *AS_OF_SYSTEM]


def require_row_history(layer: LayerDef) -> None:
    """Refuse a layer whose changes are audited per import only: its rows cannot be replayed."""
    if layer.table not in ROW_AUDITED:  # the message names no other layer: some are restricted
        raise NoRowHistoryError(
            f"{layer.id} cannot be read as of a date: its imports are audited as a whole (the imports "
            "table), not row by row, so its past rows are not recorded"
        )


def as_of_table(layer: LayerDef, at: datetime, srid: int) -> Subquery:
    """The layer as it stood at instant ``at`` (aware), as a subquery named like a layer table: the
    columns of :func:`as_of_columns` and ``geom`` (in ``srid``, the working CRS), so that the filters,
    bounding boxes, orders and pages written for the table run over it unchanged.

    Raises
    ------
    NoRowHistoryError
        ``layer`` has no row audit (roads, buildings, water).
    """
    require_row_history(layer)
    names = as_of_columns(layer)
    quoted = [f'"{n}"' for n in names]  # identifiers from the registry only
    sql = AS_OF.format(
        table=f'"{layer.table}"',
        from_doc=", ".join(f"r.{q}" for q in quoted),
        from_row=", ".join(f"c.{q}" for q in quoted),
    )
    statement = text(sql).bindparams(
        bindparam("as_of_layer", layer.table), bindparam("as_of_at", at), bindparam("as_of_srid", srid)
    )
    return statement.columns(*[column(n) for n in [*names, "geom"]]).subquery(layer.table)


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
