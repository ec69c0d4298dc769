"""The residents' tables (migration 0018): ``consultations``, ``consultation_results``,
``consultation_outcomes``, ``notices``, ``feedback`` and ``feedback_steps``.

The one owner of their SQL. Every write runs in a transaction the caller opened and names its actor;
nothing here updates a row but a notice's closing (the others are append-only).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

# -- consultations -----------------------------------------------------------------------------------
INSERT_CONSULTATION = text(
    """
    INSERT INTO consultations (compound_id, topic, matter, proposal, channel, title, opens_on, closes_on,
        total_area, total_owners, note, actor, synthetic)
    VALUES (:compound_id, :topic, :matter, :proposal, :channel, :title, :opens_on, :closes_on,
        :total_area, :total_owners, :note, :actor, :synthetic)
    RETURNING id
    """
)
CONSULTATIONS = text(
    """
    SELECT id, compound_id, topic, matter, proposal, channel, title, opens_on, closes_on, total_area,
           total_owners, note, actor, recorded_at, synthetic
    FROM consultations
    WHERE (CAST(:c AS bigint) IS NULL OR compound_id = :c) AND (CAST(:i AS bigint) IS NULL OR id = :i)
    ORDER BY opens_on, id
    """
)
INSERT_RESULT = text(
    """
    INSERT INTO consultation_results (consultation_id, unit_kind, unit, area, owners, favour_area, favour_owners,
        against_area, against_owners, supersedes, actor, synthetic)
    VALUES (:consultation_id, :unit_kind, :unit, :area, :owners, :favour_area, :favour_owners,
        :against_area, :against_owners, :supersedes, :actor, :synthetic)
    RETURNING id
    """
)
RESULTS = text(
    """
    SELECT r.id, r.consultation_id, r.unit_kind, r.unit, r.area, r.owners, r.favour_area, r.favour_owners,
           r.against_area, r.against_owners, r.supersedes, r.actor, r.recorded_at,
           EXISTS (SELECT 1 FROM consultation_results s WHERE s.supersedes = r.id) AS superseded
    FROM consultation_results r
    WHERE r.consultation_id = :c
    ORDER BY r.id
    """
)
INSERT_OUTCOME = text(
    """
    INSERT INTO consultation_outcomes (consultation_id, decided_on, passed, figures, project_id, applied_mode,
        actor, synthetic)
    VALUES (:c, :decided_on, :passed, CAST(:figures AS jsonb), :project_id, :applied_mode, :actor, :synthetic)
    RETURNING id
    """
)
OUTCOMES = text(
    """
    SELECT o.id, o.consultation_id, c.compound_id, c.topic, o.decided_on, o.passed, o.figures, o.project_id,
           o.applied_mode, o.actor, o.recorded_at
    FROM consultation_outcomes o JOIN consultations c ON c.id = o.consultation_id
    WHERE (CAST(:c AS bigint) IS NULL OR o.consultation_id = :c) AND (CAST(:i AS bigint) IS NULL OR o.id = :i)
    ORDER BY o.id
    """
)

# -- notices -----------------------------------------------------------------------------------------
INSERT_NOTICE = text(
    """
    INSERT INTO notices (compound_id, kind, title, body, from_on, to_on, actor, synthetic)
    VALUES (:compound_id, :kind, :title, :body, :from_on, :to_on, :actor, :synthetic)
    RETURNING id
    """
)
CLOSE_NOTICE = text(
    "UPDATE notices SET closed_at = now(), closed_by = :actor WHERE id = :i AND closed_at IS NULL RETURNING id"
)
NOTICES = text(
    """
    SELECT id, compound_id, kind, title, body, from_on, to_on, actor, recorded_at, closed_at, closed_by, synthetic
    FROM notices
    WHERE (CAST(:c AS bigint) IS NULL OR compound_id = :c) AND (CAST(:i AS bigint) IS NULL OR id = :i)
    ORDER BY from_on, id
    """
)
# Open on a day: within its period and not closed. Only what the public may read.
OPEN_NOTICES = text(
    """
    SELECT id, compound_id, kind, title, body, from_on, to_on
    FROM notices
    WHERE from_on <= :d AND to_on >= :d AND closed_at IS NULL
    ORDER BY compound_id, from_on, id
    """
)

# -- feedback ----------------------------------------------------------------------------------------
INSERT_FEEDBACK = text(
    """
    INSERT INTO feedback (compound_id, body, rating, contact, received_at, synthetic)
    VALUES (:compound_id, :body, :rating, :contact, COALESCE(CAST(:at AS timestamptz), now()), :synthetic)
    RETURNING id
    """
)
INSERT_STEP = text(
    """
    INSERT INTO feedback_steps (feedback_id, action, reply, published_text, actor)
    VALUES (:f, :action, :reply, :published_text, :actor)
    RETURNING id
    """
)
# Each item with where it stands: its latest reply, the latest publish or reject, its closing.
STATE = """
    WITH s AS (
        SELECT feedback_id,
               (array_agg(reply ORDER BY at DESC, id DESC) FILTER (WHERE action = 'answer'))[1] AS reply,
               max(at) FILTER (WHERE action = 'answer') AS answered_at,
               (array_agg(action ORDER BY at DESC, id DESC)
                    FILTER (WHERE action IN ('publish', 'reject')))[1] AS moderation,
               (array_agg(published_text ORDER BY at DESC, id DESC) FILTER (WHERE action = 'publish'))[1]
                    AS published_text,
               max(at) FILTER (WHERE action = 'publish') AS published_at,
               max(at) FILTER (WHERE action = 'close') AS closed_at
        FROM feedback_steps GROUP BY feedback_id)
"""
FEEDBACK = text(
    STATE
    + """
    SELECT f.id, f.compound_id, f.body, f.rating, f.contact, f.received_at, f.synthetic, s.reply, s.answered_at,
           COALESCE(s.moderation, 'pending') AS moderation, s.published_text, s.published_at, s.closed_at
    FROM feedback f LEFT JOIN s ON s.feedback_id = f.id
    WHERE (CAST(:c AS bigint) IS NULL OR f.compound_id = :c) AND (CAST(:i AS bigint) IS NULL OR f.id = :i)
    ORDER BY f.received_at, f.id
    """
)
# What the public reads: published items only, the published (scrubbed) text, never the body or contact.
PUBLISHED = text(
    STATE
    + """
    SELECT f.id, f.compound_id, s.published_text AS text, f.rating, s.reply, f.received_at, s.published_at
    FROM feedback f JOIN s ON s.feedback_id = f.id
    WHERE s.moderation = 'publish' AND (CAST(:c AS bigint) IS NULL OR f.compound_id = :c)
    ORDER BY s.published_at DESC, f.id DESC
    """
)
# Received in [start, end] (the programme's days), with whether answered / closed by now.
RECEIVED = text(
    STATE
    + """
    SELECT f.id, f.compound_id, f.rating, s.answered_at IS NOT NULL AS answered, s.closed_at IS NOT NULL AS closed
    FROM feedback f LEFT JOIN s ON s.feedback_id = f.id
    WHERE (f.received_at AT TIME ZONE :tz)::date BETWEEN :start AND :end
    ORDER BY f.id
    """
)
STEPS = text(
    "SELECT id, action, reply, published_text, actor, at FROM feedback_steps WHERE feedback_id = :f ORDER BY id"
)


@dataclass(frozen=True)
class NewConsultation:
    compound_id: int
    topic: str
    matter: str | None
    proposal: str | None
    channel: str
    title: str
    opens_on: date
    closes_on: date
    total_area: Decimal
    total_owners: int
    note: str | None = None
    synthetic: str | None = None


@dataclass(frozen=True)
class NewResult:
    unit_kind: str
    unit: str
    area: Decimal
    owners: int
    favour_area: Decimal
    favour_owners: int
    against_area: Decimal
    against_owners: int
    supersedes: int | None = None
    synthetic: str | None = None


@dataclass(frozen=True)
class NewNotice:
    compound_id: int
    kind: str
    title: str
    body: str
    from_on: date
    to_on: date
    synthetic: str | None = None


@dataclass(frozen=True)
class NewFeedback:
    compound_id: int
    body: str
    rating: int | None
    contact: str | None
    at: datetime | None = None
    synthetic: str | None = None


def insert_consultation(conn: Connection, c: NewConsultation, actor: str) -> int:
    return int(conn.execute(INSERT_CONSULTATION, asdict(c) | {"actor": actor}).scalar_one())


def consultations(
    conn: Connection, *, compound_id: int | None = None, consultation_id: int | None = None
) -> pd.DataFrame:
    return pd.read_sql(CONSULTATIONS, conn, params={"c": compound_id, "i": consultation_id})


def insert_result(conn: Connection, consultation_id: int, r: NewResult, actor: str) -> int:
    params = asdict(r) | {"consultation_id": consultation_id, "actor": actor}
    return int(conn.execute(INSERT_RESULT, params).scalar_one())


def results(conn: Connection, consultation_id: int) -> pd.DataFrame:
    return pd.read_sql(RESULTS, conn, params={"c": consultation_id})


@dataclass(frozen=True)
class NewOutcome:
    decided_on: date
    passed: bool
    figures: dict[str, Any]
    project_id: int | None
    applied_mode: str | None
    synthetic: str | None = None


def insert_outcome(conn: Connection, consultation_id: int, o: NewOutcome, actor: str) -> int:
    params = {
        "c": consultation_id,
        "decided_on": o.decided_on,
        "passed": o.passed,
        "figures": json.dumps(o.figures, ensure_ascii=False),
        "project_id": o.project_id,
        "applied_mode": o.applied_mode,
        "actor": actor,
        "synthetic": o.synthetic,
    }
    return int(conn.execute(INSERT_OUTCOME, params).scalar_one())


def outcomes(conn: Connection, *, consultation_id: int | None = None, outcome_id: int | None = None) -> pd.DataFrame:
    return pd.read_sql(OUTCOMES, conn, params={"c": consultation_id, "i": outcome_id})


def insert_notice(conn: Connection, n: NewNotice, actor: str) -> int:
    return int(conn.execute(INSERT_NOTICE, asdict(n) | {"actor": actor}).scalar_one())


def close_notice(conn: Connection, notice_id: int, actor: str) -> bool:
    """Close a notice; False when it is closed already (or there is none)."""
    return conn.execute(CLOSE_NOTICE, {"i": notice_id, "actor": actor}).first() is not None


def notices(conn: Connection, *, compound_id: int | None = None, notice_id: int | None = None) -> pd.DataFrame:
    return pd.read_sql(NOTICES, conn, params={"c": compound_id, "i": notice_id})


def open_notices(conn: Connection, on: date) -> pd.DataFrame:
    return pd.read_sql(OPEN_NOTICES, conn, params={"d": on})


def insert_feedback(conn: Connection, f: NewFeedback) -> int:
    return int(conn.execute(INSERT_FEEDBACK, asdict(f)).scalar_one())


def insert_step(conn: Connection, feedback_id: int, action: str, actor: str, **texts: str | None) -> int:
    params = {"f": feedback_id, "action": action, "actor": actor, "reply": None, "published_text": None} | texts
    return int(conn.execute(INSERT_STEP, params).scalar_one())


def feedback(conn: Connection, *, compound_id: int | None = None, feedback_id: int | None = None) -> pd.DataFrame:
    """Every item with its state, the contact included: for planners only."""
    return pd.read_sql(FEEDBACK, conn, params={"c": compound_id, "i": feedback_id})


def published(conn: Connection, compound_id: int | None = None) -> pd.DataFrame:
    return pd.read_sql(PUBLISHED, conn, params={"c": compound_id})


def received(conn: Connection, start: date, end: date, tz: str) -> pd.DataFrame:
    return pd.read_sql(RECEIVED, conn, params={"start": start, "end": end, "tz": tz})


def steps(conn: Connection, feedback_id: int) -> pd.DataFrame:
    return pd.read_sql(STEPS, conn, params={"f": feedback_id})
