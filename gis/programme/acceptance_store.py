"""The acceptance tables (migration 0015): ``acceptances`` and their ``acceptance_scores``.

The one owner of their SQL. A record is written once, with its scores, in the programme's
transaction (:func:`gis.programme.store.transaction`), and never changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from gis.programme.acceptance import Result, Score

INSERT = text(
    """
    INSERT INTO acceptances (project_id, compound_id, year, held_on, team, total, passed, failed_mandatory,
        findings, reinspects, actor, synthetic)
    VALUES (:project_id, :compound_id, :year, :held_on, CAST(:team AS text[]), :total, :passed,
        CAST(:failed AS text[]), CAST(:findings AS text[]), :reinspects, :actor, :synthetic)
    RETURNING id
    """
)
INSERT_SCORE = text(
    "INSERT INTO acceptance_scores (acceptance_id, item, score, points, note, evidence) "
    "VALUES (:a, :item, :score, :points, :note, CAST(:evidence AS bigint[]))"
)
RECORDS = """
    SELECT a.id, a.project_id, a.compound_id, a.year, a.held_on, a.team, a.total, a.passed, a.failed_mandatory,
           a.findings, a.reinspects, a.actor, a.recorded_at, a.synthetic
    FROM acceptances a
    WHERE (CAST(:c AS bigint) IS NULL OR a.compound_id = :c) AND (CAST(:i AS bigint) IS NULL OR a.id = :i)
    ORDER BY a.held_on, a.id
"""
SCORES = text(
    "SELECT item, score, points, note, evidence FROM acceptance_scores WHERE acceptance_id = :a ORDER BY item"
)
# The first day each project was accepted on: its earliest passed record.
PASSED_ON = text(
    "SELECT project_id, min(held_on) AS held_on FROM acceptances "
    "WHERE passed AND project_id = ANY(CAST(:p AS bigint[])) GROUP BY project_id"
)
# What the public map shows for 公示: the latest record of each project, passed or not.
LATEST = """
    SELECT DISTINCT ON (a.project_id) a.id, a.compound_id, a.year, a.held_on, a.total, a.passed
    FROM acceptances a ORDER BY a.project_id, a.held_on DESC, a.id DESC
"""


@dataclass(frozen=True)
class NewRecord:
    """A team's record as it will be stored."""

    held_on: date
    team: Sequence[str]
    scores: Sequence[Score]
    result: Result
    findings: Sequence[str] = ()
    reinspects: int | None = None
    synthetic: str | None = None


def insert(conn: Connection, project: Any, record: NewRecord, points: dict[str, float], actor: str) -> int:
    """Write one record and its scores (``points``: each item's full points); its id."""
    params = {
        "project_id": project.id,
        "compound_id": project.compound_id,
        "year": project.year,
        "held_on": record.held_on,
        "team": list(record.team),
        "total": record.result.total,
        "passed": record.result.passed,
        "failed": record.result.failed_mandatory,
        "findings": list(record.findings),
        "reinspects": record.reinspects,
        "actor": actor,
        "synthetic": record.synthetic,
    }
    record_id = int(conn.execute(INSERT, params).scalar_one())
    for s in record.scores:
        conn.execute(
            INSERT_SCORE,
            {
                "a": record_id,
                "item": s.item,
                "score": s.score,
                "points": Decimal(str(points[s.item])),
                "note": s.note,
                "evidence": list(s.evidence),
            },
        )
    return record_id


def records(conn: Connection, *, compound_id: int | None = None, record_id: int | None = None) -> pd.DataFrame:
    return pd.read_sql(text(RECORDS), conn, params={"c": compound_id, "i": record_id})


def scores(conn: Connection, record_id: int) -> pd.DataFrame:
    return pd.read_sql(SCORES, conn, params={"a": record_id})


def passed_on(conn: Connection, project_ids: Sequence[int]) -> dict[int, date]:
    """The day each of the projects passed its acceptance (a project with no passed record is left out)."""
    rows = conn.execute(PASSED_ON, {"p": [int(p) for p in project_ids]})
    return {int(r.project_id): r.held_on for r in rows}


def latest(conn: Connection) -> pd.DataFrame:
    """Each project's latest record: what 公示 shows."""
    return pd.read_sql(text(LATEST), conn)
