"""The findings table (migration 0016): the one owner of ``inspection_findings`` in SQL. Values are always bound.

A finding is inserted once and closed once; the rules (who, when, with which evidence) are
:mod:`gis.evidence.findings`'s, and the database's guard refuses any other change (and a closing
without standing rectification evidence). Reading the layer as a frame is :mod:`gis.store.layers`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

INSERT = text(
    """
    INSERT INTO inspection_findings (source, source_key, compound_id, compound_name, district, street, project_id,
        category, what, responsible_unit, inspector, found_on, deadline, actor, synthetic, geom)
    VALUES ('inspection', :key, :compound_id, :compound_name, :district, :street, :project_id, :category, :what,
        :responsible_unit, :inspector, :found_on, :deadline, :actor, :synthetic,
        ST_SetSRID(ST_MakePoint(:x, :y), CAST(:srid AS integer)))
    RETURNING fid
    """
)
COLUMNS = """
    f.fid AS id, f.compound_id, f.compound_name, f.district, f.street, f.project_id, f.category, f.what,
    f.responsible_unit, f.inspector, f.found_on, f.deadline, f.closed_on, f.closed_by, f.closing_note, f.actor,
    f.synthetic, f.created_at, ST_X(ST_Transform(f.geom, 4326)) AS lon, ST_Y(ST_Transform(f.geom, 4326)) AS lat
"""
ROWS = f"""
    SELECT {COLUMNS} FROM inspection_findings f
    WHERE (CAST(:f AS bigint[]) IS NULL OR f.fid = ANY(CAST(:f AS bigint[])))
    ORDER BY f.fid
"""
FOR_UPDATE = text(f"SELECT {COLUMNS} FROM inspection_findings f WHERE f.fid = :f FOR UPDATE")
CLOSE = text(
    "UPDATE inspection_findings SET closed_on = :on, closed_by = :actor, closing_note = :note, version = version + 1, "
    "updated_at = now() WHERE fid = :f"
)


@dataclass(frozen=True)
class NewFinding:
    """A finding to store: where (x, y in the working CRS), what, who must act and by when."""

    compound_id: int
    compound_name: str | None
    district: str | None
    street: str | None
    project_id: int | None
    category: str
    what: str
    responsible_unit: str
    inspector: str | None
    found_on: date
    deadline: date
    actor: str
    x: float
    y: float
    synthetic: str | None = None


def insert(conn: Connection, finding: NewFinding, *, key: str, srid: int) -> int:
    """Store one finding; its fid."""
    params: dict[str, Any] = {**{k: getattr(finding, k) for k in finding.__dataclass_fields__}}
    return int(conn.execute(INSERT, {**params, "key": key, "srid": srid}).scalar_one())


def rows(conn: Connection, ids: list[int] | None = None) -> pd.DataFrame:
    """Findings (all, or those of ``ids``) with ``lon``/``lat`` in WGS84, by id."""
    return pd.read_sql(text(ROWS), conn, params={"f": ids})


def for_update(conn: Connection, fid: int) -> dict[str, Any] | None:
    """One finding, locked for the transaction (two closings never cross)."""
    row = conn.execute(FOR_UPDATE, {"f": fid}).mappings().first()
    return dict(row) if row is not None else None


def close(conn: Connection, fid: int, *, on: date, actor: str, note: str | None) -> None:
    conn.execute(CLOSE, {"f": fid, "on": on, "actor": actor, "note": note})
