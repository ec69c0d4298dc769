"""The ``imports`` table, its one owner: one row per import, who ran it, on what, with its report.

An import is recorded first, inside its own transaction, so that the audit triggers can link every
row they log to it (``gisplan.import_id``); its report is attached once the write is done.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from gis.ingest.attributes import json_safe
from gis.store.database import Database

RECORD = text(
    """
    INSERT INTO imports (actor, layer, source, path, options)
    VALUES (:actor, :layer, :source, :path, CAST(:options AS jsonb))
    RETURNING id
    """
)
MARK_TRANSACTION = text("SELECT set_config('gisplan.import_id', :i, true)")
ATTACH_REPORT = text("UPDATE imports SET report = CAST(:r AS jsonb) WHERE id = :i")
LATEST = text("SELECT id, at, actor, layer, source, path, report FROM imports ORDER BY id DESC LIMIT :n")
COLUMNS_WITHOUT_SCHEMA = ["id", "at", "actor", "layer", "source", "path"]


def to_json(value: object) -> str:
    """``value`` as JSON text for a JSONB column (NaN to null, Chinese kept readable)."""
    return json.dumps(json_safe(value), ensure_ascii=False, default=str)


def record(conn: Connection, *, actor: str, layer: str, source: str, path: str, options: dict[str, Any]) -> int:
    """Record an import in ``conn``'s transaction and mark the transaction with its id, for the
    audit triggers; the new import's id."""
    import_id = int(
        conn.execute(
            RECORD,
            {"actor": actor, "layer": layer, "source": source, "path": path, "options": to_json(options)},
        ).scalar_one()
    )
    conn.execute(MARK_TRANSACTION, {"i": str(import_id)})
    return import_id


def attach_report(conn: Connection, import_id: int, summary: dict[str, Any]) -> None:
    """Store an import's report (:meth:`ImportReport.summary`) on its row."""
    conn.execute(ATTACH_REPORT, {"r": to_json(summary), "i": import_id})


def latest(db: Database, limit: int = 20) -> pd.DataFrame:
    """The latest ``limit`` imports, newest first; an empty frame before the first import."""
    if db.working_crs is None:
        return pd.DataFrame(columns=COLUMNS_WITHOUT_SCHEMA)
    with db.engine.connect() as conn:
        return pd.read_sql(LATEST, conn, params={"n": limit})
