"""Construction permits (施工许可): the date (and number) of each project's permit, ``ws.programme.permits``.

The one owner of ``programme_permits`` (migration 0016), an append-only log: recording a permit adds a
row; a later row supersedes an earlier one, and changing a recorded date needs a reason. The 月报's
self-check flags a project that reached construction with no permit date, or before it
(:mod:`gis.programme.selfcheck`); it reads the latest date recorded by its instant.

The permit is kept apart from the project's plan (``programme_projects``) and the schedule table: it is
a document's date that arrives on its own, not a plan figure, and the plan's event log stays as it is.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from gis import clock
from gis.errors import ProgrammeError
from gis.programme import rules, store
from gis.roles import Role
from gis.store.database import Database

INSERT = text(
    "INSERT INTO programme_permits (project_id, compound_id, year, permit_date, permit_no, reason, actor, role) "
    "VALUES (:p, :c, :y, :d, :no, :why, :a, :r) RETURNING id"
)
LATEST_OF_PROJECT = text("SELECT permit_date FROM programme_permits WHERE project_id = :p ORDER BY id DESC LIMIT 1")
LATEST = text(
    "SELECT DISTINCT ON (project_id) project_id, permit_date FROM programme_permits "
    "WHERE year = :y AND (CAST(:at AS timestamptz) IS NULL OR at <= :at) ORDER BY project_id, id DESC"
)
HISTORY = text(
    "SELECT id, compound_id, year, permit_date, permit_no, reason, actor, role, at FROM programme_permits "
    "WHERE CAST(:c AS bigint) IS NULL OR compound_id = :c ORDER BY id"
)


def latest_dates(conn: Connection, year: int, at: datetime | None = None) -> dict[int, date]:
    """Per project of ``year``: its permit date, the latest recorded (by ``at`` when given)."""
    return {int(r[0]): r[1] for r in conn.execute(LATEST, {"y": year, "at": at})}


class Permits:
    """The construction permits of the programme: :meth:`record`, :meth:`history`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self,
        compound_id: int,
        permit_date: date,
        *,
        number: str | None = None,
        year: int | None = None,
        reason: str | None = None,
        actor: str = "notebook",
        role: Role = "planner",
        today: date | None = None,
    ) -> dict[str, Any]:
        """Record the construction permit (施工许可) of a compound's project (its latest, or ``year``'s).

        Raises
        ------
        ProgrammeError
            A date in the future, or a recorded date changed without a reason.

        Examples
        --------
        >>> ws.programme.permits.record(12, date(2026, 5, 6), number="370102202605060101", actor="张三")
        """
        rules.require_planner(role)
        if permit_date > clock.today(today):
            raise ProgrammeError(f"a permit dated {permit_date} is in the future / 施工许可日期不能晚于今天")
        with store.transaction(self.db, actor) as conn:
            project = store.load_project(conn, compound_id, year)
            recorded = conn.execute(LATEST_OF_PROJECT, {"p": project.id}).scalar()
            if recorded is not None and recorded != permit_date and not (reason and reason.strip()):
                raise ProgrammeError(
                    f"the permit of {store.compound_name(conn, compound_id)} is recorded as {recorded}: a change needs "
                    "a reason / 更改已录入的施工许可日期须说明理由"
                )
            values = {"p": project.id, "c": compound_id, "y": project.year, "d": permit_date, "no": number}
            values |= {"why": reason.strip() if reason else None, "a": actor, "r": role}
            fid = int(conn.execute(INSERT, values).scalar_one())
        return {
            "id": fid,
            "compound_id": compound_id,
            "year": project.year,
            "permit_date": permit_date,
            "number": number,
        }

    def history(self, compound_id: int | None = None) -> pd.DataFrame:
        """Every permit date recorded (of one compound), oldest first: who, when, why."""
        with self.db.engine.connect() as conn:
            return pd.read_sql(HISTORY, conn, params={"c": compound_id})

    def dates(self, year: int, at: datetime | None = None) -> dict[int, date]:
        """Per project of ``year``: the permit date (the latest recorded by ``at``)."""
        with self.db.engine.connect() as conn:
            return latest_dates(conn, year, at)
