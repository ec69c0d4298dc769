"""The one owner of the programme's tables: ``programme_projects``, ``programme_stage_dates``,
``programme_events`` and ``programme_submissions``, and of the compound stage sync.

Every statement is a named constant run with ``text()``, values always bound. Writes run in
:func:`transaction` (the one audited transaction, programme writes serialised by one advisory lock).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from gis.errors import ProjectNotFoundError
from gis.programme.dates import month_end
from gis.programme.definitions import programme_defs
from gis.programme.model import NO_DAY, TABLE_COLUMNS, Event, Project, ProjectTable
from gis.store.audit import audited
from gis.store.database import Database
from gis.store.engine import dbapi

BIGINT = (-(2**63), 2**63 - 1)
LOCK = "gisplan-programme"  # submissions and writes never interleave: a write sees every lock taken before it

PROJECT_COLUMNS = (
    "id, compound_id, year, stage, categories, items, investment_planned, investment_spent, funding, "
    "property_mgmt_after, responsible_street, responsible_dept, note"
)
COMPOUND_EXISTS = "SELECT 1 FROM compounds WHERE fid = :c"
COMPOUND_NAME = "SELECT name FROM compounds WHERE fid = :c"
YEARS = "SELECT DISTINCT year FROM programme_projects ORDER BY 1"
LATEST_YEAR = "SELECT max(year) FROM programme_projects WHERE compound_id = :c"
PROJECT_FOR_UPDATE = f"""
SELECT {PROJECT_COLUMNS} FROM programme_projects WHERE compound_id = :c AND year = :y FOR UPDATE
"""
STAGE_DATES = "SELECT * FROM programme_stage_dates WHERE project_id = :p"
PROJECTS_OF_YEAR = f"SELECT {PROJECT_COLUMNS} FROM programme_projects WHERE year = :y ORDER BY compound_id"
STAGE_DATES_OF_YEAR = """
SELECT d.* FROM programme_stage_dates d JOIN programme_projects p ON p.id = d.project_id WHERE p.year = :y
"""
COMPOUND_COLUMNS = (
    "c.fid AS compound_id, c.name, c.district, c.street, c.buildings, c.households, c.floor_area_m2, c.property_mgmt"
)
IN_YEAR = "c.fid IN (SELECT compound_id FROM programme_projects WHERE year = :y)"
COMPOUNDS_OF_YEAR = f"SELECT {COMPOUND_COLUMNS} FROM compounds c WHERE {IN_YEAR}"
COMPOUNDS_OF_YEAR_WITH_GEOMETRY = (
    f"SELECT {COMPOUND_COLUMNS}, ST_AsBinary(c.geom) AS geom FROM compounds c WHERE {IN_YEAR}"
)
SCHEDULE_COMPOUNDS = """
SELECT fid, name, district, street, buildings, households, floor_area_m2, categories FROM compounds
WHERE plan_year = :y OR fid IN (SELECT compound_id FROM programme_projects WHERE year = :y)
ORDER BY district, street, fid
"""
# recorded by :at (NULL: whenever): the programme as it stood then (gis.programme.replay)
RECORDED_BY = "(CAST(:at AS timestamptz) IS NULL OR at <= :at)"
SPENT_ON = f"""
SELECT DISTINCT ON (project_id) project_id, (changes->'investment_spent'->>1)::numeric
FROM programme_events WHERE year = :y AND changes ? 'investment_spent' AND effective <= :on AND {RECORDED_BY}
ORDER BY project_id, effective DESC, id DESC
"""
YEARS_RECORDED_BY = f"SELECT DISTINCT year FROM programme_events WHERE {RECORDED_BY} ORDER BY 1"
# the projects of a year with their stage dates as day numbers (days since 1970-01-01), one array of
# each per project in the order of :stages (NULL where a stage has no date), and spending as of :on
PROJECT_TABLE = f"""
WITH st AS (SELECT stage, i FROM unnest(CAST(:stages AS text[])) WITH ORDINALITY AS t(stage, i)),
days AS (
    SELECT p.id, array_agg(d.planned - DATE '1970-01-01' ORDER BY st.i) AS planned,
        array_agg(d.actual - DATE '1970-01-01' ORDER BY st.i) AS actual
    FROM programme_projects p CROSS JOIN st
    LEFT JOIN programme_stage_dates d ON d.project_id = p.id AND d.stage = st.stage
    WHERE p.year = :y GROUP BY p.id
)
SELECT p.id AS project_id, p.compound_id, p.year, p.categories, p.items,
    CAST(p.investment_planned AS float8) AS investment_planned, CAST(s.spent AS float8) AS investment_spent,
    NULLIF(p.property_mgmt_after, '') AS property_mgmt_after, p.responsible_street, p.responsible_dept,
    days.planned, days.actual
FROM programme_projects p JOIN days ON days.id = p.id
LEFT JOIN ({SPENT_ON}) AS s (project_id, spent) ON s.project_id = p.id
WHERE p.year = :y ORDER BY p.compound_id
"""
LATEST_SPENT = """
SELECT max(effective) FROM programme_events WHERE project_id = :p AND changes ? 'investment_spent'
"""
INSERT_PROJECT = """
INSERT INTO programme_projects (compound_id, year, stage, categories, items, investment_planned,
    investment_spent, funding, property_mgmt_after, responsible_street, responsible_dept, note)
VALUES (:c, :y, :stage, :cats, :items, :ip, :isp, CAST(:funding AS jsonb), :pma, :rs, :rd, :note)
RETURNING id
"""
UPDATE_PROJECT = """
UPDATE programme_projects SET stage = :stage, categories = :cats, items = :items, investment_planned = :ip,
    investment_spent = :isp, funding = CAST(:funding AS jsonb), property_mgmt_after = :pma,
    responsible_street = :rs, responsible_dept = :rd, note = :note, version = version + 1, updated_at = now()
WHERE id = :id
"""
DELETE_STAGE_DATES = "DELETE FROM programme_stage_dates WHERE project_id = :p"
INSERT_STAGE_DATES = """
INSERT INTO programme_stage_dates (project_id, stage, planned, actual) VALUES (:p, :s, :pl, :ac)
"""
INSERT_EVENTS = """
INSERT INTO programme_events (project_id, compound_id, year, actor, role, action, stage_before, stage_after,
    effective, changes, reason, correction, corrects_month, source)
VALUES (:p, :c, :y, :a, :r, :act, :sb, :sa, :eff, CAST(:ch AS jsonb), :why, :corr, :cm, :src)
"""
# -- the schedule import's set-based statements: one round trip each for the whole file ------------
COMPOUNDS_AMONG = "SELECT fid FROM compounds WHERE fid = ANY(CAST(:ids AS bigint[]))"
COMPOUNDS_NAMED_AMONG = "SELECT fid, name, street FROM compounds WHERE name = ANY(CAST(:names AS text[])) ORDER BY fid"
PROJECTS_FOR_UPDATE = f"""
SELECT {PROJECT_COLUMNS} FROM programme_projects
WHERE (compound_id, year) IN (SELECT * FROM unnest(CAST(:c AS bigint[]), CAST(:y AS integer[])))
ORDER BY id FOR UPDATE
"""
STAGE_DATES_AMONG = "SELECT * FROM programme_stage_dates WHERE project_id = ANY(CAST(:p AS bigint[]))"
LATEST_SPENT_AMONG = """
SELECT project_id, max(effective) FROM programme_events
WHERE project_id = ANY(CAST(:p AS bigint[])) AND changes ? 'investment_spent' GROUP BY project_id
"""
# The rows travel as one JSON array, read in its order (WITH ORDINALITY): new projects get their ids,
# and events theirs, in the order of the file, as one statement per row gave them.
ROWS = "jsonb_array_elements(CAST(:rows AS jsonb)) WITH ORDINALITY AS t(r, n)"
PROJECT_VALUES = """
(r->>'stage'), ARRAY(SELECT e FROM jsonb_array_elements_text(r->'cats') WITH ORDINALITY AS x(e, i) ORDER BY i),
ARRAY(SELECT e FROM jsonb_array_elements_text(r->'items') WITH ORDINALITY AS x(e, i) ORDER BY i),
CAST(r->>'ip' AS numeric), CAST(r->>'isp' AS numeric), r->'funding', r->>'pma', r->>'rs', r->>'rd', r->>'note'
"""
INSERT_PROJECTS = f"""
INSERT INTO programme_projects (compound_id, year, stage, categories, items, investment_planned,
    investment_spent, funding, property_mgmt_after, responsible_street, responsible_dept, note)
SELECT CAST(r->>'c' AS bigint), CAST(r->>'y' AS integer), {PROJECT_VALUES} FROM {ROWS} ORDER BY n
RETURNING id, compound_id, year
"""
UPDATE_PROJECTS = f"""
UPDATE programme_projects p SET (stage, categories, items, investment_planned, investment_spent, funding,
    property_mgmt_after, responsible_street, responsible_dept, note) = ({PROJECT_VALUES}),
    version = p.version + 1, updated_at = now()
FROM {ROWS} WHERE p.id = CAST(r->>'id' AS bigint)
"""
DELETE_STAGE_DATES_AMONG = "DELETE FROM programme_stage_dates WHERE project_id = ANY(CAST(:p AS bigint[]))"
# COPY: the rows in the order given (the events' ids keep the sequence)
COPY_STAGE_DATES = "COPY programme_stage_dates (project_id, stage, planned, actual) FROM STDIN"
COPY_EVENTS = """
COPY programme_events (project_id, compound_id, year, actor, role, action, stage_before, stage_after, effective,
    changes, reason, correction, corrects_month, source) FROM STDIN
"""
# the compound (all of them when :c is NULL) shows its latest project's year, stage and categories;
# the layer's trigger audits the change
SYNC_COMPOUNDS = """
UPDATE compounds c SET plan_year = p.year, stage = p.stage, categories = p.categories,
    version = c.version + 1, updated_at = now()
FROM (SELECT DISTINCT ON (compound_id) compound_id, year, stage, categories FROM programme_projects
      WHERE CAST(:c AS bigint) IS NULL OR compound_id = :c ORDER BY compound_id, year DESC) p
WHERE c.fid = p.compound_id
AND (c.plan_year, c.stage, c.categories) IS DISTINCT FROM (p.year, p.stage, p.categories)
"""
EVENTS = f"""
SELECT * FROM programme_events
WHERE (CAST(:c AS bigint) IS NULL OR compound_id = :c) AND (CAST(:y AS integer) IS NULL OR year = :y)
AND {RECORDED_BY} ORDER BY id
"""
SUBMITTED_MONTHS = "SELECT month FROM programme_submissions ORDER BY month"
SUBMISSIONS = """
SELECT month, year, submitted_at, actor, deadline, late, last_event_id FROM programme_submissions ORDER BY month
"""
SUBMITTED_AT = "SELECT submitted_at FROM programme_submissions WHERE month = :m"
STORED_REPORT = """
SELECT report FROM programme_submissions WHERE month = :m AND (CAST(:at AS timestamptz) IS NULL OR logged_at <= :at)
"""
LAST_EVENT = f"SELECT coalesce(max(id), 0) FROM programme_events WHERE {RECORDED_BY}"
INSERT_SUBMISSION = """
INSERT INTO programme_submissions (month, year, submitted_at, actor, deadline, late, last_event_id, report)
VALUES (:m, :y, :at, :a, :d, :late, :last, CAST(:r AS jsonb))
"""
LAST_SUBMITTED_EVENT = "SELECT coalesce(max(last_event_id), 0) FROM programme_submissions WHERE month < :m"
CORRECTIONS = """
SELECT e.id, e.at, e.actor, e.changes, e.reason, e.corrects_month, e.compound_id, c.name, c.street
FROM programme_events e JOIN compounds c ON c.fid = e.compound_id
WHERE e.correction AND e.corrects_month IS NOT NULL AND e.id > :prev
AND (CAST(:upto AS bigint) IS NULL OR e.id <= :upto)
ORDER BY e.id
"""
CORRECTION_FIELDS = ["id", "at", "actor", "changes", "reason", "corrects_month", "compound_id", "name", "street"]


@dataclass(frozen=True)
class Author:
    """Who makes a change: the person, their role and, for an import, the file it came from."""

    actor: str
    role: str
    source: str | None = None


@dataclass(frozen=True)
class Submission:
    """A month's report as submitted (上报): stored as it is and the month locked."""

    month: str
    year: int
    at: datetime
    actor: str
    deadline: date
    late: bool
    last_event_id: int
    report: dict[str, Any]


def transaction(db: Database, actor: str) -> AbstractContextManager[Connection]:
    """One programme write: audited as ``actor``'s, serialised with every other programme write."""
    db.require_schema()
    return audited(db.engine, actor, lock=LOCK)


def jsonable(value: Any) -> Any:
    """Dates and amounts as JSON strings (ISO dates, exact decimals), nested as given."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


# -- compounds, as the programme names and finds them ------------------------------------------------
def compound_exists(conn: Connection, compound_id: int) -> bool:
    return conn.execute(text(COMPOUND_EXISTS), {"c": compound_id}).first() is not None


def compound_name(conn: Connection, compound_id: int) -> str:
    """The compound as a message names it: ``石油大院 (12)``."""
    name = conn.execute(text(COMPOUND_NAME), {"c": compound_id}).scalar()
    return f"{name or 'compound'} ({compound_id})"


def compounds_of_year(conn: Connection, year: int, *, geometry: bool) -> pd.DataFrame:
    """The attributes (and the geometry as WKB, ``geom``) of the compounds with a project in ``year``."""
    sql = COMPOUNDS_OF_YEAR_WITH_GEOMETRY if geometry else COMPOUNDS_OF_YEAR
    return pd.read_sql(text(sql), conn, params={"y": year})


def schedule_compounds(conn: Connection, year: int) -> list[Any]:
    """The compounds planned for ``year`` (``plan_year``) or with a project in it, by district and street."""
    return list(conn.execute(text(SCHEDULE_COMPOUNDS), {"y": year}).all())


def sync_compounds(conn: Connection, compound_id: int | None) -> int:
    """The compound (None: every one with a project) shows its latest project's year, stage and
    categories; audited by the layer's trigger. Returns how many compounds changed."""
    # no JIT for the rest of the transaction: the layer's audit trigger inserts from its transition
    # tables, which the planner takes for 50 times their rows, and compiling that insert was half a
    # second of a 10,000-compound sync
    conn.execute(text("SET LOCAL jit = off"))
    return conn.execute(text(SYNC_COMPOUNDS), {"c": compound_id}).rowcount


# -- projects ----------------------------------------------------------------------------------------
def years(conn: Connection) -> list[int]:
    found: list[int] = list(conn.execute(text(YEARS)).scalars())
    return [int(y) for y in found]


def project_from_row(row: Any, dates: Iterable[Any]) -> Project:
    p = Project(
        id=int(row.id),
        compound_id=int(row.compound_id),
        year=int(row.year),
        stage=row.stage,
        categories=list(row.categories or []),
        items=list(row.items or []),
        investment_planned=row.investment_planned,
        investment_spent=row.investment_spent,
        funding={k: Decimal(str(v)) for k, v in (row.funding or {}).items()},
        property_mgmt_after=row.property_mgmt_after,
        responsible_street=row.responsible_street,
        responsible_dept=row.responsible_dept,
        note=row.note,
    )
    for d in dates:
        if d.planned is not None:
            p.planned[d.stage] = d.planned
        if d.actual is not None:
            p.actual[d.stage] = d.actual
    return p


def load_project(conn: Connection, compound_id: int, year: int | None, *, create: bool = False) -> Project:
    """The project of a compound in ``year`` (None: its latest), locked for the transaction.

    ``create`` gives a new, unsaved project when the compound has none that year.
    """
    if not compound_exists(conn, compound_id):
        raise ProjectNotFoundError(f"no compound {compound_id} / 无此小区")
    if year is None:
        year = conn.execute(text(LATEST_YEAR), {"c": compound_id}).scalar()
        if year is None:
            raise ProjectNotFoundError(
                f"{compound_name(conn, compound_id)} has no project; import a schedule first / 该小区无改造项目"
            )
    row = conn.execute(text(PROJECT_FOR_UPDATE), {"c": compound_id, "y": year}).first()
    if row is None:
        if create:
            return Project(compound_id=compound_id, year=int(year))
        raise ProjectNotFoundError(f"{compound_name(conn, compound_id)} has no project in {year} / 该年度无此项目")
    return project_from_row(row, conn.execute(text(STAGE_DATES), {"p": row.id}).all())


def projects(conn: Connection, year: int) -> list[Project]:
    """Every project of ``year`` with its stage dates, by compound."""
    rows = conn.execute(text(PROJECTS_OF_YEAR), {"y": year}).all()
    dates: dict[int, list[Any]] = {}
    for d in conn.execute(text(STAGE_DATES_OF_YEAR), {"y": year}):
        dates.setdefault(int(d.project_id), []).append(d)
    return [project_from_row(r, dates.get(int(r.id), [])) for r in rows]


def project_table(conn: Connection, year: int, on: date) -> ProjectTable:
    """The projects of ``year`` as stored, spending as of ``on``, by compound (see
    :class:`gis.programme.model.ProjectTable`), in one query."""
    stages = programme_defs().stage_ids
    rows = conn.execute(text(PROJECT_TABLE), {"y": year, "on": on, "stages": stages, "at": None}).all()
    columns = list(zip(*rows, strict=True)) if rows else [()] * (len(TABLE_COLUMNS) + 2)
    values = {c: list(v) for c, v in zip(TABLE_COLUMNS, columns, strict=False)}

    def days(arrays: tuple[list[int | None], ...]) -> np.ndarray:
        d = np.array(arrays, dtype=float).reshape(len(rows), len(stages))  # None: NaN
        out = np.full(d.shape, NO_DAY)
        known = ~np.isnan(d)
        out[known] = d[known].astype(np.int64).astype("datetime64[D]")
        return out

    return ProjectTable(values, days(columns[-2]), days(columns[-1]))


def save_project(
    conn: Connection,
    before: Project | None,
    after: Project,
    events: list[Event],
    author: Author,
    *,
    sync: bool = True,
) -> Project:
    """Write the project, its stage dates and its events; ``sync=False`` leaves the compound's stage
    to one :func:`sync_compounds` at the end of a bulk import."""
    values = {
        "c": after.compound_id,
        "y": after.year,
        "stage": after.stage,
        "cats": after.categories,
        "items": after.items,
        "ip": after.investment_planned,
        "isp": after.investment_spent,
        "funding": json.dumps(jsonable(after.funding)),
        "pma": after.property_mgmt_after,
        "rs": after.responsible_street,
        "rd": after.responsible_dept,
        "note": after.note,
    }
    if before is None or before.id is None:
        after.id = conn.execute(text(INSERT_PROJECT), values).scalar_one()
    else:
        conn.execute(text(UPDATE_PROJECT), {**values, "id": after.id})
        conn.execute(text(DELETE_STAGE_DATES), {"p": after.id})
    dates = [
        {"p": after.id, "s": s, "pl": after.planned.get(s), "ac": after.actual.get(s)}
        for s in programme_defs().stage_ids
        if after.planned.get(s) or after.actual.get(s)
    ]
    if dates:
        conn.execute(text(INSERT_STAGE_DATES), dates)
    if events:  # one round trip for all of them, in order (the ids keep the sequence)
        conn.execute(text(INSERT_EVENTS), [_event_values(after, e, author) for e in events])
    if sync:
        sync_compounds(conn, after.compound_id)
    return after


def existing_compounds(conn: Connection, ids: Iterable[int]) -> set[int]:
    """Which of ``ids`` are compounds (ids past bigint's range are none)."""
    among = sorted({i for i in ids if BIGINT[0] <= i <= BIGINT[1]})
    return {int(r[0]) for r in conn.execute(text(COMPOUNDS_AMONG), {"ids": among})} if among else set()


def compounds_by_name(conn: Connection, names: Iterable[str]) -> dict[str, list[tuple[int, str | None]]]:
    """The compounds called each of ``names``: name -> [(fid, street)], by fid."""
    found: dict[str, list[tuple[int, str | None]]] = {}
    among = sorted(set(names))
    for r in conn.execute(text(COMPOUNDS_NAMED_AMONG), {"names": among}) if among else []:
        found.setdefault(r.name, []).append((int(r.fid), r.street))
    return found


def projects_for_update(conn: Connection, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Project]:
    """The stored projects of (compound, year) ``keys``, with their stage dates, locked for the transaction."""
    pairs = sorted(set(keys))
    if not pairs:
        return {}
    rows = conn.execute(text(PROJECTS_FOR_UPDATE), {"c": [c for c, _ in pairs], "y": [y for _, y in pairs]}).all()
    dates: dict[int, list[Any]] = {}
    for d in conn.execute(text(STAGE_DATES_AMONG), {"p": [int(r.id) for r in rows]}):
        dates.setdefault(int(d.project_id), []).append(d)
    return {(int(r.compound_id), int(r.year)): project_from_row(r, dates.get(int(r.id), [])) for r in rows}


def latest_spent_among(conn: Connection, ids: Iterable[int]) -> dict[int, date]:
    """Per project of ``ids``: the date of its latest spending figure (projects without one left out)."""
    among = sorted(set(ids))
    rows = conn.execute(text(LATEST_SPENT_AMONG), {"p": among}).all() if among else []
    return {int(r[0]): r[1] for r in rows}


def save_projects(
    conn: Connection, changes: Sequence[tuple[Project | None, Project, list[Event]]], author: Author
) -> None:
    """Write many changes as :func:`save_project` does one (``before`` None: a new project), in a few
    statements: the new projects (ids in the order given), the updated ones, their stage dates, then
    every event in the order given. The compounds' stage is left to one :func:`sync_compounds`."""
    new = [after for before, after, _ in changes if before is None or before.id is None]
    if new:
        rows = [{"c": p.compound_id, "y": p.year, **_project_json(p)} for p in new]
        ids = {(int(r.compound_id), int(r.year)): int(r.id) for r in conn.execute(text(INSERT_PROJECTS), _rows(rows))}
        for p in new:
            p.id = ids[(p.compound_id, p.year)]
    updated = [after for before, after, _ in changes if before is not None and before.id is not None]
    if updated:
        conn.execute(text(UPDATE_PROJECTS), _rows([{"id": p.id, **_project_json(p)} for p in updated]))
        conn.execute(text(DELETE_STAGE_DATES_AMONG), {"p": [p.id for p in updated]})
    stages = programme_defs().stage_ids
    with dbapi(conn).cursor() as cur:
        with cur.copy(COPY_STAGE_DATES) as copy:
            for _, p, _ in changes:
                for s in stages:
                    if p.planned.get(s) or p.actual.get(s):
                        copy.write_row((p.id, s, p.planned.get(s), p.actual.get(s)))
        with cur.copy(COPY_EVENTS) as copy:
            for _, p, es in changes:
                for e in es:
                    copy.write_row(_event_tuple(p, e, author))


def _as_json(value: Any) -> str:
    """Dates and amounts as :func:`jsonable` writes them (for ``json.dumps(default=...)``)."""
    if isinstance(value, date | Decimal):
        return str(jsonable(value))
    raise TypeError(f"{type(value).__name__} is not JSON")


def _rows(rows: list[dict[str, Any]]) -> dict[str, str]:
    return {"rows": json.dumps(rows, ensure_ascii=False, default=_as_json)}


def _project_json(p: Project) -> dict[str, Any]:
    """A project's stored values, for :func:`_rows`."""
    return {
        "stage": p.stage,
        "cats": p.categories,
        "items": p.items,
        "ip": p.investment_planned,
        "isp": p.investment_spent,
        "funding": p.funding,
        "pma": p.property_mgmt_after,
        "rs": p.responsible_street,
        "rd": p.responsible_dept,
        "note": p.note,
    }


def _event_tuple(p: Project, e: Event, author: Author) -> tuple[Any, ...]:
    """An event as :data:`COPY_EVENTS` takes it; the changes as :func:`_event_values` writes them."""
    changes = json.dumps(e.changes, ensure_ascii=False, default=_as_json)
    return (
        p.id,
        p.compound_id,
        p.year,
        author.actor,
        author.role,
        e.action,
        e.stage_before,
        e.stage_after,
        e.effective,
        changes,
        e.reason,
        e.correction,
        e.corrects_month,
        author.source,
    )


def _event_values(p: Project, e: Event, author: Author) -> dict[str, Any]:
    return {
        "p": p.id,
        "c": p.compound_id,
        "y": p.year,
        "a": author.actor,
        "r": author.role,
        "act": e.action,
        "sb": e.stage_before,
        "sa": e.stage_after,
        "eff": e.effective,
        "ch": json.dumps(jsonable(e.changes), ensure_ascii=False),
        "why": e.reason,
        "corr": e.correction,
        "cm": e.corrects_month,
        "src": author.source,
    }


# -- events ------------------------------------------------------------------------------------------
def latest_spent(conn: Connection, p: Project) -> date | None:
    """The date of the latest spending figure recorded for a project (None if none or new)."""
    if p.id is None:
        return None
    latest: date | None = conn.execute(text(LATEST_SPENT), {"p": p.id}).scalar()
    return latest


def events(conn: Connection, compound_id: int | None, year: int | None, at: datetime | None = None) -> pd.DataFrame:
    """The event log (of one compound, of one year, or all; recorded by ``at`` when given), oldest first."""
    return pd.read_sql(text(EVENTS), conn, params={"c": compound_id, "y": year, "at": at})


def event_rows(conn: Connection, year: int, at: datetime) -> list[Any]:
    """The events of ``year`` recorded by ``at``, oldest first, as mappings (for the replay)."""
    return list(conn.execute(text(EVENTS), {"c": None, "y": year, "at": at}).mappings())


def spent_on(conn: Connection, year: int, on: date, at: datetime) -> dict[int, Decimal]:
    """Per project of ``year``: its spending as of ``on``, from the figures recorded by ``at``."""
    return {int(r[0]): r[1] for r in conn.execute(text(SPENT_ON), {"y": year, "on": on, "at": at})}


def years_recorded_by(conn: Connection, at: datetime) -> list[int]:
    """The programme years with an event recorded by ``at``."""
    return [int(r[0]) for r in conn.execute(text(YEARS_RECORDED_BY), {"at": at})]


def corrections_since(conn: Connection, month: str, upto_event: int | None) -> pd.DataFrame:
    """Corrections of submitted months recorded after the last submission before ``month`` (and up to
    event ``upto_event``), with the compound's name and street: :data:`CORRECTION_FIELDS`."""
    prev: int = conn.execute(text(LAST_SUBMITTED_EVENT), {"m": month}).scalar_one()
    rows = conn.execute(text(CORRECTIONS), {"prev": prev, "upto": upto_event}).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=CORRECTION_FIELDS)


# -- submissions ---------------------------------------------------------------------------------------
def submitted_months(conn: Connection) -> list[str]:
    months: list[str] = list(conn.execute(text(SUBMITTED_MONTHS)).scalars())
    return [str(m) for m in months]


def locked_until(conn: Connection) -> date | None:
    """The end of the latest submitted month (None before the first submission)."""
    months = submitted_months(conn)
    return max(month_end(m) for m in months) if months else None


def submissions(conn: Connection) -> pd.DataFrame:
    return pd.read_sql(text(SUBMISSIONS), conn)


def submitted_at(conn: Connection, month: str) -> datetime | None:
    """When ``month`` was submitted (None: not yet)."""
    at: datetime | None = conn.execute(text(SUBMITTED_AT), {"m": month}).scalar()
    return at


def stored_report(conn: Connection, month: str, at: datetime | None = None) -> dict[str, Any] | None:
    """The report of a submitted month exactly as it was sent (None: not submitted, by ``at`` if given)."""
    report: dict[str, Any] | None = conn.execute(text(STORED_REPORT), {"m": month, "at": at}).scalar()
    return report


def last_event_id(conn: Connection, at: datetime | None = None) -> int:
    """The id of the latest event (recorded by ``at`` when given; 0: none)."""
    return int(conn.execute(text(LAST_EVENT), {"at": at}).scalar_one())


def store_submission(conn: Connection, s: Submission) -> None:
    values = {
        "m": s.month,
        "y": s.year,
        "at": s.at,
        "a": s.actor,
        "d": s.deadline,
        "late": s.late,
        "last": s.last_event_id,
        "r": json.dumps(s.report, ensure_ascii=False),
    }
    conn.execute(text(INSERT_SUBMISSION), values)
