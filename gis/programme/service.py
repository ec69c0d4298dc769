"""The renovation programme (城镇老旧小区改造年度计划): ``ws.programme``, the operations.

A *project* is one compound in one programme year: its categories and content items, planned and
actual dates per stage, investment planned and spent (万元), funding, who is responsible. What the
stages, items, funding sources, the deadline and the report look like is data
(:mod:`gis.programme.definitions`). Each write is one audited transaction
(:func:`gis.programme.store.transaction`) that loads the project, applies the change as the rules
say (:mod:`gis.programme.rules`), and records it as events of ``programme_events``; the compound's
``plan_year`` / ``stage`` / ``categories`` follow the latest project in the same transaction (so
the map tiles and OGC API show the programme's state), audited as layer edits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Unpack
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Connection

from gis import clock
from gis.errors import LockedMonthError, ProgrammeError, ProjectNotFoundError
from gis.programme import acceptance_store, replay, rules, schedule, schedule_import, status, store
from gis.programme.dates import month_end, parse_month
from gis.programme.definitions import programme_defs
from gis.programme.model import Event, Project
from gis.programme.monthly import MonthEvidence, MonthInputs
from gis.programme.monthly_report import MonthReport
from gis.programme.permits import Permits, latest_dates
from gis.programme.rules import CorrectionFields, Money, PlanFields, ProgressFields
from gis.programme.schedule_import import ScheduleImportReport
from gis.registry import registry
from gis.roles import Role
from gis.store import layers
from gis.store.database import Database

AsOf = date | datetime | str | None
# What the 月报 reads from the evidence floor, handed down by the facade: (connection, the report's day,
# the instant it is read as of) -> the overdue findings and the stages evidenced.
GatherEvidence = Callable[[Connection, date, datetime], MonthEvidence]
# the compound's columns a project's row carries (as gis.programme.store.compounds_of_year reads them)
COMPOUND_FIELDS = ["name", "district", "street", "buildings", "households", "floor_area_m2", "property_mgmt"]


class Programme:
    """The renovation programme of a database: ``ws.programme``.

    Reading: :meth:`status` (one row per project with stage and overdue, with geometry, for the
    map), :meth:`projects`, :meth:`history`, :meth:`risks`, :meth:`property_coverage`,
    :meth:`submissions`. Writing (each one transaction, audited): :meth:`plan`, :meth:`advance`,
    :meth:`spend`, :meth:`correct` (admins), :meth:`import_schedule`, :meth:`submit`. Files:
    :meth:`write_schedule` (the template / export of the 时间配档表). The monthly report is
    :meth:`report_month` (``ws.report_month(month)``).

    ``today`` / ``now`` parameters exist for replaying a year (tests, back-filling); the CLI and
    the API never pass them.

    ``as_of`` on the readings (a date: the end of that day in the programme's time zone; an aware
    datetime; ISO text): the programme as it stood then, its projects rebuilt from the events recorded
    by that instant (:mod:`gis.programme.replay`) and its compounds from the layer's audit; ``on``
    then defaults to that day. Not to be confused with :meth:`spend`'s ``as_of``, the business date a
    spending figure is as of.
    """

    def __init__(self, db: Database, evidence: GatherEvidence | None = None) -> None:
        self.db = db
        self.defs = programme_defs()
        self.evidence = evidence  # None: the 月报 says it did not check evidence and findings

    @property
    def permits(self) -> Permits:
        """Construction permits (施工许可): ``.record(compound, date, number=...)``, ``.history()``."""
        return Permits(self.db)

    @property
    def tz(self) -> ZoneInfo:
        """The programme's time zone (the one clock's)."""
        return clock.zone()

    # -- reading --------------------------------------------------------------------------------
    def years(self) -> list[int]:
        """The programme years that have projects, oldest first (empty before the first import).

        Examples
        --------
        >>> ws.programme.years()
        """
        if self.db.working_crs is None:
            return []
        with self.db.engine.connect() as conn:
            return store.years(conn)

    def years_as_of(self, as_of: date | datetime | str) -> list[int]:
        """The programme years with an event recorded by ``as_of`` (see the class's note on ``as_of``).

        Examples
        --------
        >>> ws.programme.years_as_of(date(2026, 3, 31))
        """
        with self.db.engine.connect() as conn:
            return store.years_recorded_by(conn, clock.as_of_instant(as_of))

    def default_year(self, year: int | None = None, *, as_of: datetime | None = None) -> int:
        """``year`` when given, else the latest programme year with projects (ProjectNotFoundError if none).

        Examples
        --------
        >>> ws.programme.default_year()  # the latest year with projects
        >>> ws.programme.default_year(2026)
        """
        if year is not None:
            return year
        years = self.years_as_of(as_of) if as_of is not None else self.years()
        if not years:
            raise ProjectNotFoundError("the programme has no projects yet: import a schedule (gisplan progress import)")
        return years[-1]

    def _frame(self, year: int, on: date, *, geometry: bool, as_of: datetime | None = None) -> pd.DataFrame:
        """Per project on a date: compound attributes, stage reached, spending, behind plan, at risk;
        ``as_of``: the projects and compounds as they stood at that instant."""
        crs = self.db.require_schema()
        if as_of is not None:
            with self.db.engine.connect() as conn:
                projects = replay.projects(store.event_rows(conn, year, as_of))
                spent = store.spent_on(conn, year, on, as_of)
            table = status.project_table(projects, spent, self.defs)
            compounds_layer = registry().layer("compounds")
            ids = sorted({p.compound_id for p in projects})
            found = layers.read_as_of(
                self.db.engine, compounds_layer, crs, as_of, where={"fid": ids}, columns=COMPOUND_FIELDS
            )
            compounds = pd.DataFrame(found.drop(columns="geometry")).rename(columns={"fid": "compound_id"})
            if geometry:
                compounds["geom"] = shapely.to_wkb(found.geometry.values) if len(found) else []
            return status.frame_on(table, compounds, on, self.defs)
        with self.db.engine.connect() as conn:
            table = store.project_table(conn, year, on)
            compounds = store.compounds_of_year(conn, year, geometry=geometry)
        return status.frame_on(table, compounds, on, self.defs)

    @staticmethod
    def _dated(on: date | None, as_of: AsOf) -> tuple[date, datetime | None]:
        """The day a reading is on (``on``; else the ``as_of`` day, else today) and the ``as_of`` instant."""
        at = clock.as_of_instant(as_of) if as_of is not None else None
        if on is None and at is not None:
            return at.astimezone(clock.zone()).date(), at
        return clock.today(on), at

    def status(self, year: int | None = None, on: date | None = None, *, as_of: AsOf = None) -> gpd.GeoDataFrame:
        """One row per project of ``year`` (default: the latest year with projects) on ``on``
        (default today): ``compound_id, name, district, street, year, stage, stage_zh, stage_en,
        planned_finish, overdue, days_behind, due_stage, at_risk, risk_days, households, buildings,
        floor_area_m2, investment_planned, investment_spent, geometry`` (working CRS) and the planned
        and actual date of every stage (``planned_construction``, ``actual_construction`` ...).

        Examples
        --------
        >>> st = ws.programme.status(2026)
        >>> st[st.overdue][["name", "street", "stage_zh", "due_stage_zh", "days_behind"]]
        >>> ws.programme.status(2026, as_of=date(2026, 3, 31))  # as it stood at the end of March
        """
        crs = self.db.require_schema()
        day, at = self._dated(on, as_of)
        year = self.default_year(year, as_of=at)
        frame = self._frame(year, day, geometry=True, as_of=at)
        geoms = gpd.GeoSeries.from_wkb(frame.pop("geom").map(bytes) if len(frame) else [], crs=crs)
        frame["days_behind"] = frame["days_behind"].astype(int) if len(frame) else frame.get("days_behind")
        return gpd.GeoDataFrame(frame, geometry=geoms.values, crs=crs)

    def projects(self, year: int | None = None) -> pd.DataFrame:
        """The projects of a year as stored now (no geometry).

        Examples
        --------
        >>> ws.programme.projects(2026)[["name", "street", "stage_zh", "investment_planned", "investment_spent"]]
        """
        return pd.DataFrame(self.status(year).drop(columns="geometry"))

    def projects_on(self, year: int | None = None, on: date | None = None, *, as_of: AsOf = None) -> pd.DataFrame:
        """As :meth:`status` without geometry (cheaper).

        Examples
        --------
        >>> st = ws.programme.projects_on(2026, on=date(2026, 6, 30))
        >>> st[st.overdue][["name", "stage_zh", "due_stage_zh", "days_behind"]]
        """
        day, at = self._dated(on, as_of)
        return self._frame(self.default_year(year, as_of=at), day, geometry=False, as_of=at)

    def history(self, compound_id: int | None = None, year: int | None = None, *, as_of: AsOf = None) -> pd.DataFrame:
        """The event log: every change with who, when, why, before/after, correction or not
        (``as_of``: those recorded by then).

        Examples
        --------
        >>> h = ws.programme.history(compound_id=2, year=2026)
        >>> h[["at", "actor", "action", "stage_before", "stage_after", "effective", "reason", "correction"]]
        """
        at = clock.as_of_instant(as_of) if as_of is not None else None
        with self.db.engine.connect() as conn:
            frame = store.events(conn, compound_id, year, at)
        return frame.astype(object).where(frame.notna(), None)

    def risks(self, year: int | None = None, on: date | None = None, *, as_of: AsOf = None) -> pd.DataFrame:
        """Projects behind their plan (overdue) or behind the latest dates that still finish by the
        deadline (at_risk), or planned to finish after it, worst first.

        Examples
        --------
        >>> ws.programme.risks(2026, on=date(2026, 9, 1))
        """
        return status.risks(self.projects_on(year, on, as_of=as_of))

    def risks_by_street(self, year: int | None = None, on: date | None = None, *, as_of: AsOf = None) -> pd.DataFrame:
        """Per street: projects, overdue, at risk, the most days behind.

        Examples
        --------
        >>> ws.programme.risks_by_street(2026).sort_values("overdue", ascending=False)
        """
        return status.risks_by_street(self.projects_on(year, on, as_of=as_of))

    def property_coverage(
        self, year: int | None = None, *, by: Sequence[str] = ("district", "street"), as_of: AsOf = None
    ) -> pd.DataFrame:
        """Property management coverage (物业管理覆盖) of the year's compounds, before and after renovation.

        One row per group and management mode: compounds and households before (the compound's
        ``property_mgmt`` now) and after (the project's ``property_mgmt_after``, else unchanged), and
        their shares of the group; mode ``unknown`` where none is recorded. ``covered`` is False for
        the modes listed as uncovered in the programme definitions (无物业).

        Examples
        --------
        >>> cov = ws.programme.property_coverage(2026, by=["street"])
        >>> cov[~cov.covered][["street", "mode_zh", "compounds_before", "compounds_after"]]
        """
        st = self.projects_on(year, as_of=as_of)
        return status.coverage(st, by, self.defs.uncovered_modes)

    def submissions(self) -> pd.DataFrame:
        """The submitted (locked) months: when, by whom, deadline, late.

        Examples
        --------
        >>> ws.programme.submissions()[["month", "submitted_at", "actor", "deadline", "late"]]
        """
        with self.db.engine.connect() as conn:
            return store.submissions(conn)

    def locked_until(self) -> date | None:
        """The end of the latest submitted month: nothing dated on or before it changes but by correction.

        Examples
        --------
        >>> ws.programme.locked_until()  # date(2026, 10, 31) once "2026-10" is submitted
        """
        with self.db.engine.connect() as conn:
            return store.locked_until(conn)

    # -- writing --------------------------------------------------------------------------------
    def plan(
        self,
        compound_id: int,
        year: int,
        *,
        actor: str = "notebook",
        role: Role = "planner",
        **fields: Unpack[PlanFields],
    ) -> Project:
        """Create a project (or change its plan): the fields given replace the stored ones.

        ``categories``, ``items``, ``planned`` (stage -> date), ``investment_planned``, ``funding``
        (source -> 万元), ``property_mgmt_after``, ``responsible_street``, ``responsible_dept``,
        ``note``; labels may be Chinese or codes.

        Examples
        --------
        >>> ws.programme.plan(2, 2026, categories=["基础类", "完善类"], items=["供水", "加装电梯"],
        ...     planned={"construction": date(2026, 5, 10), "completed": date(2026, 10, 31)},
        ...     investment_planned=380, funding={"central": 200, "local": 180}, actor="张三")
        """
        rules.require_planner(role)
        rules.require_known(fields, PlanFields)
        with store.transaction(self.db, actor) as conn:
            before = store.load_project(conn, compound_id, year, create=True)
            after, events = rules.plan_change(before, fields, self.defs)
            return self._save(conn, before, after, events, store.Author(actor, role))

    def advance(
        self,
        compound_id: int,
        stage: str,
        on: date,
        *,
        year: int | None = None,
        actor: str = "notebook",
        role: Role = "planner",
        today: date | None = None,
    ) -> Project:
        """Record that a project reached ``stage`` on ``on`` (进度填报). Forward only.

        Raises
        ------
        StageOrderError
            The project is at that stage or beyond already (an admin corrects with :meth:`correct`).
        LockedMonthError
            ``on`` lies in (or before) a submitted month.
        ProgrammeError
            A date in the future or before the previous stage's.

        Examples
        --------
        >>> ws.programme.advance(2, "construction", date(2026, 5, 10), actor="张三")
        """
        return self.progress(compound_id, stage=stage, on=on, year=year, actor=actor, role=role, today=today)

    def spend(
        self,
        compound_id: int,
        amount: Money,
        *,
        as_of: date | None = None,
        year: int | None = None,
        actor: str = "notebook",
        role: Role = "planner",
        today: date | None = None,
    ) -> Project:
        """Record the investment spent so far (累计完成投资, 万元) as of a date (default today).

        Examples
        --------
        >>> ws.programme.spend(2, 120.5, as_of=date(2026, 6, 30), actor="张三")
        """
        return self.progress(compound_id, spent=amount, as_of=as_of, year=year, actor=actor, role=role, today=today)

    def progress(
        self,
        compound_id: int,
        *,
        year: int | None = None,
        actor: str = "notebook",
        role: Role = "planner",
        today: date | None = None,
        **report: Unpack[ProgressFields],
    ) -> Project:
        """Report progress (进度填报) in one transaction: ``stage`` reached on ``on`` (default today), as
        :meth:`advance` checks it, and/or the investment ``spent`` so far as of ``as_of`` (default
        today), as :meth:`spend` does; both are recorded or, when either is refused, neither.

        Examples
        --------
        >>> ws.programme.progress(2, stage="construction", on=date(2026, 5, 10), spent=320, actor="张三")
        """
        rules.require_planner(role)
        rules.require_known(report, ProgressFields)
        stage, spent = report.get("stage"), report.get("spent")
        if stage is None and spent is None:
            raise ProgrammeError("give a stage and/or the investment spent / 请填写阶段或累计完成投资")
        code = self.defs.resolve_stage(stage) if stage is not None else None
        today = clock.today(today)
        with store.transaction(self.db, actor) as conn:
            before = store.load_project(conn, compound_id, year)
            accepted = acceptance_store.passed_on(conn, [before.id] if before.id else [])
            checks = rules.Checks(self.defs, today, store.locked_until(conn), accepted)
            after, events = before, list[Event]()
            if code is not None:
                name = store.compound_name(conn, compound_id)
                after, events = rules.advance_change(before, code, report.get("on") or today, checks, name)
            if spent is not None:
                latest = store.latest_spent(conn, before)
                after, spending = rules.spend_change(after, spent, report.get("as_of") or today, checks, latest)
                events = [*events, *spending]
            return self._save(conn, before, after, events, store.Author(actor, role))

    def correct(
        self,
        compound_id: int,
        *,
        reason: str,
        year: int | None = None,
        actor: str = "notebook",
        role: Role = "admin",
        today: date | None = None,
        **fields: Unpack[CorrectionFields],
    ) -> Project:
        """An admin's correction (更正), with a reason; recorded as a correction.

        ``stage`` with ``on``: the project is really at ``stage``, reached on ``on`` (later stages'
        dates are cleared; a stage may move backward). ``actual``: set or clear single stage dates.
        ``investment_spent`` (as of ``spent_as_of``): the real amount spent. When a change touches a
        submitted month, the correction names that month; the next report lists it under 更正事项
        and the submitted report stays as it was sent.

        Examples
        --------
        >>> ws.programme.correct(2, reason="开工日期填错，以施工许可证为准", stage="construction",
        ...     on=date(2026, 5, 12), actor="李四")
        """
        rules.require_known(fields, CorrectionFields)
        rules.require_admin(role)
        rules.require_reason(reason)
        today = clock.today(today)
        with store.transaction(self.db, actor) as conn:
            before = store.load_project(conn, compound_id, year)
            checks = rules.Checks(self.defs, today, accepted=acceptance_store.passed_on(conn, [before.id or 0]))
            submitted = store.submitted_months(conn)
            after, events = rules.correction_change(before, fields, reason, checks, submitted)
            return self._save(conn, before, after, events, store.Author(actor, role))

    def sync(self, *, actor: str = "notebook") -> int:
        """Put every programme compound's ``plan_year`` / ``stage`` / ``categories`` back to its latest
        project's (after a re-import of the compounds layer overwrote them); returns how many changed.
        Audited as layer edits. A schedule import does this at its end.

        Examples
        --------
        >>> ws.load("compounds", "小区.gpkg", replace=True)
        >>> ws.programme.sync()
        """
        with store.transaction(self.db, actor) as conn:
            return store.sync_compounds(conn, None)

    @staticmethod
    def _save(conn: Connection, before: Project, after: Project, events: list[Event], author: store.Author) -> Project:
        """Store a change (nothing when it has no events: the project as it was)."""
        if not events:
            return before
        return store.save_project(conn, None if before.is_new else before, after, events, author)

    # -- the monthly report ---------------------------------------------------------------------
    def report_month(
        self,
        month: str,
        *,
        year: int | None = None,
        today: date | None = None,
        live: bool = False,
        area: str | None = None,
        as_of: AsOf = None,
    ) -> MonthReport:
        """The report of a month: as submitted when the month is locked (unless ``live``), else computed
        from the data now (the stage each project had reached at the end of the month, or today for
        the running month).

        ``as_of``: as it would have been read then: the submitted report if its submission was recorded
        by then (``logged_at``), else computed from the programme as it stood then (projects, compounds
        and corrections recorded by that instant), ``today`` defaulting to that day.

        Examples
        --------
        >>> ws.programme.report_month("2026-11").by_street
        >>> ws.programme.report_month("2026-03", as_of=date(2026, 4, 5))  # what could be read on 5 April
        """
        parse_month(month)
        self.db.require_schema()
        day, at = self._dated(today, as_of)
        if not live:
            with self.db.engine.connect() as conn:
                stored = store.stored_report(conn, month, at)
            if stored is not None:
                return MonthReport.from_dict(stored)
        return self._compute_month(month, year=year, today=day, area=area, as_of=at)

    def _compute_month(
        self,
        month: str,
        *,
        year: int | None,
        today: date,
        area: str | None,
        upto_event: int | None = None,
        as_of: datetime | None = None,
    ) -> MonthReport:
        year = year or parse_month(month)[0]
        on = min(month_end(month), today)
        projects = self.projects_on(year, on, as_of=as_of)
        with self.db.engine.connect() as conn:
            if as_of is not None and upto_event is None:
                upto_event = store.last_event_id(conn, as_of)
            corrections = store.corrections_since(conn, month, upto_event)
            gathered = self.evidence(conn, on, as_of or clock.now()) if self.evidence else None
            before = [m for m in store.submitted_months(conn) if m < month]
            previous = store.stored_report(conn, before[-1], as_of) if before else None
            dated = latest_dates(conn, year, as_of)
        inputs = MonthInputs(month, year, on, projects, corrections, self.defs, as_of or clock.now(), area)
        return MonthReport.compute(dataclasses.replace(inputs, evidence=gathered, permits=dated, previous=previous))

    def submit(
        self,
        month: str,
        *,
        actor: str = "notebook",
        role: Role = "admin",
        now: datetime | None = None,
        year: int | None = None,
        area: str | None = None,
    ) -> MonthReport:
        """Submit (上报) a month's report: store it as it is now and lock the month (admins).

        Raises
        ------
        LockedMonthError
            The month was submitted already.
        ProgrammeError
            The month has not ended yet.

        Examples
        --------
        >>> r = ws.programme.submit("2026-11", actor="张三")
        >>> r.write("out/月报_2026-11.xlsx")
        """
        rules.require_admin(role, "submit and lock a month / 上报锁定须由管理员进行")
        now = now or clock.now()
        if now.tzinfo is None:
            raise ProgrammeError("give `now` with its time zone")
        today = now.astimezone(clock.zone()).date()
        end = month_end(month)
        if today < end:
            raise ProgrammeError(f"{month} has not ended yet (it ends {end}) / 月份未结束，不能上报")
        with store.transaction(self.db, actor) as conn:
            done = store.submitted_at(conn, month)
            if done is not None:
                raise LockedMonthError(f"{month} was submitted on {done:%Y-%m-%d %H:%M}; it is locked / 该月已上报锁定")
            last = store.last_event_id(conn)
            report = self._compute_month(month, year=year, today=today, area=area, upto_event=last)
            report.submitted_at = now
            report.submitted_by = actor
            report.late = today > self.defs.report_deadline(month)
            report.locked = True
            submission = store.Submission(
                month, report.year, now, actor, self.defs.report_deadline(month), report.late, last, report.to_dict()
            )
            store.store_submission(conn, submission)
            return report

    # -- the schedule table ---------------------------------------------------------------------
    def write_schedule(self, path: str | Path, year: int | None = None) -> Path:
        """Write the schedule table (时间配档表) of ``year``: a row per compound planned for that year
        (``plan_year``) or with a project in it, filled with what is stored — the template when
        nothing is, the export otherwise.

        Examples
        --------
        >>> ws.programme.write_schedule("out/时间配档表_2026.xlsx", 2026)
        """
        if year is None:
            years = self.years()
            year = years[-1] if years else clock.today().year
        return schedule.write_schedule(self.db, Path(path), year)

    def import_schedule(
        self,
        path: str | Path,
        *,
        year: int | None = None,
        strict: bool = False,
        actor: str = "notebook",
        role: Role = "planner",
        today: date | None = None,
        as_of: date | None = None,
    ) -> ScheduleImportReport:
        """Read a schedule table (XLSX) and apply it, in one transaction.

        Rows that cannot be used are set aside with their reason and the rest is applied;
        ``strict`` refuses the whole file instead (:class:`gis.ImportRefusedError`, nothing written).
        Plan columns replace the stored plan; new actual dates advance the stage (forward only);
        changed actual dates and lower spending are refused (corrections are an admin's).

        Examples
        --------
        >>> rep = ws.programme.import_schedule("时间配档表_2026.xlsx", year=2026, actor="张三")
        >>> rep.created, rep.updated, rep.rejected
        """
        return schedule_import.import_schedule(
            self.db, Path(path), year=year, strict=strict, actor=actor, role=role, today=clock.today(today), as_of=as_of
        )


def report_month(
    db: Database,
    month: str,
    *,
    year: int | None = None,
    today: date | None = None,
    live: bool = False,
    area: str | None = None,
    as_of: AsOf = None,
) -> MonthReport:
    """The monthly statistics (统计月报) of ``month``: :meth:`Programme.report_month` on ``db``."""
    return Programme(db).report_month(month, year=year, today=today, live=live, area=area, as_of=as_of)
