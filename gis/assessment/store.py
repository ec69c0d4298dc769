"""The assessment's tables (migration 0019): the one owner of ``assessment_manual_scores`` and
``assessment_publications`` in SQL. Values are always bound.

Both are append-only: a manual score is superseded by a later row for the same quarter, street and
item (:data:`LATEST_MANUAL`), and a quarter is published once. The rules (who, when, with which
evidence) are :mod:`gis.assessment.service`'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

MANUAL_COLUMNS = ["id", "quarter", "district", "street", "item", "points", "note", "evidence", "actor"]
MANUAL_COLUMNS += ["recorded_at", "synthetic"]
INSERT_MANUAL = text(
    "INSERT INTO assessment_manual_scores (quarter, district, street, item, points, note, evidence, actor, synthetic) "
    "VALUES (:quarter, :district, :street, :item, :points, :note, CAST(:evidence AS bigint[]), :actor, :synthetic) "
    "RETURNING id"
)
MANUAL = f"""
    SELECT {", ".join(MANUAL_COLUMNS)} FROM assessment_manual_scores WHERE quarter = :q ORDER BY id
"""
LATEST_MANUAL = f"""
    SELECT DISTINCT ON (district, street, item) {", ".join(MANUAL_COLUMNS)}
    FROM assessment_manual_scores WHERE quarter = :q
    ORDER BY district, street, item, id DESC
"""
PUBLISHED = text("SELECT scores FROM assessment_publications WHERE quarter = :q")
PUBLISHED_AT = text("SELECT published_at, actor FROM assessment_publications WHERE quarter = :q")
PUBLICATIONS = "SELECT quarter, published_at, actor, logged_at FROM assessment_publications ORDER BY quarter"
INSERT_PUBLICATION = text(
    "INSERT INTO assessment_publications (quarter, published_at, actor, scores) "
    "VALUES (:q, :at, :actor, CAST(:scores AS jsonb))"
)


@dataclass(frozen=True)
class ManualScore:
    """A planner's score of a manual item for a street in a quarter."""

    quarter: str
    district: str | None
    street: str
    item: str
    points: Decimal
    note: str
    evidence: tuple[int, ...]
    synthetic: str | None = None


def insert_manual(conn: Connection, score: ManualScore, actor: str) -> int:
    values: dict[str, Any] = {k: getattr(score, k) for k in score.__dataclass_fields__}
    values["evidence"] = list(score.evidence)
    return int(conn.execute(INSERT_MANUAL, {**values, "actor": actor}).scalar_one())


def manual(conn: Connection, quarter: str, *, latest: bool = True) -> pd.DataFrame:
    """The manual scores of a quarter: the latest per street and item (``latest``), or every row by id."""
    frame = pd.read_sql(text(LATEST_MANUAL if latest else MANUAL), conn, params={"q": quarter})
    frame["points"] = frame["points"].map(lambda v: Decimal(str(v))).astype(object)
    frame["district"] = frame["district"].astype(object).where(frame["district"].notna(), None)
    return frame.reindex(columns=MANUAL_COLUMNS)


def published(conn: Connection, quarter: str) -> dict[str, Any] | None:
    """A published quarter's scores exactly as published (None: not published)."""
    stored: dict[str, Any] | None = conn.execute(PUBLISHED, {"q": quarter}).scalar()
    return stored


def published_at(conn: Connection, quarter: str) -> tuple[datetime, str] | None:
    row = conn.execute(PUBLISHED_AT, {"q": quarter}).first()
    return (row[0], str(row[1])) if row is not None else None


def publications(conn: Connection) -> pd.DataFrame:
    return pd.read_sql(text(PUBLICATIONS), conn)


def publish(conn: Connection, quarter: str, at: datetime, actor: str, scores: dict[str, Any]) -> None:
    payload = json.dumps(scores, ensure_ascii=False)
    conn.execute(INSERT_PUBLICATION, {"q": quarter, "at": at, "actor": actor, "scores": payload})
