"""The one owner of the funds ledger's table (``funds_entries``, migration 0017).

An entry is written once, in the programme's transaction (:func:`gis.programme.store.transaction`), and
never changed: the table refuses UPDATE and DELETE.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from gis.funds.rules import ENTRY_COLUMNS

COLUMNS = ", ".join(ENTRY_COLUMNS)
INSERT = text(
    """
    INSERT INTO funds_entries (project_id, compound_id, year, kind, on_date, amount, source, reason, approved_by,
        approved_on, document, note, supersedes, evidence, actor, synthetic)
    VALUES (:project_id, :compound_id, :year, :kind, :on_date, :amount, :source, :reason, :approved_by,
        :approved_on, :document, :note, :supersedes, CAST(:evidence AS bigint[]), :actor, :synthetic)
    RETURNING id
    """
)
# the entries of some projects (None: all), recorded by an instant (None: now)
ENTRIES = text(
    f"""
    SELECT {COLUMNS} FROM funds_entries
    WHERE (CAST(:p AS bigint[]) IS NULL OR project_id = ANY(CAST(:p AS bigint[])))
      AND (CAST(:y AS integer) IS NULL OR year = :y)
      AND (CAST(:at AS timestamptz) IS NULL OR recorded_at <= :at)
    ORDER BY on_date, id
    """
)
ONE = text(f"SELECT {COLUMNS} FROM funds_entries WHERE id = :i")
SUPERSEDED = text("SELECT 1 FROM funds_entries WHERE supersedes = :i")


def insert(conn: Connection, values: dict[str, Any]) -> int:
    """Write one entry (``values``: the columns of :data:`INSERT`); its id."""
    return int(conn.execute(INSERT, values).scalar_one())


def entries(
    conn: Connection,
    *,
    project_ids: Sequence[int] | None = None,
    year: int | None = None,
    recorded_by: datetime | None = None,
) -> pd.DataFrame:
    """The entries (:data:`gis.funds.rules.ENTRY_COLUMNS`) by business date, amounts exact."""
    params = {"p": None if project_ids is None else [int(p) for p in project_ids], "y": year, "at": recorded_by}
    rows = conn.execute(ENTRIES, params).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=ENTRY_COLUMNS)


def one(conn: Connection, entry_id: int) -> dict[str, Any] | None:
    row = conn.execute(ONE, {"i": entry_id}).mappings().first()
    return dict(row) if row is not None else None


def superseded(conn: Connection, entry_id: int) -> bool:
    return conn.execute(SUPERSEDED, {"i": entry_id}).first() is not None
