"""The renovation programme (城镇老旧小区改造年度计划): projects, stages, progress, monthly statistics.

A *project* is one compound in one programme year: its categories and content items, planned and
actual dates per stage, investment planned and spent (万元), funding, who is responsible. What the
stages, items, funding sources, the deadline and the report look like is data
(``layers/programme/programme.yaml`` and the ``stage`` code list of ``layers/codes.yaml``).

Rules every write follows, each in one transaction:

- Stages only move forward (:meth:`Programme.advance`); an actual date, once given, is only changed
  by an admin's :meth:`Programme.correct`, which needs a reason and is recorded as a correction.
- An actual date cannot lie in the future, nor before the previous stage's.
- A submitted month (:meth:`Programme.submit`) is locked: nothing dated in it (or before it) changes
  any more except by a correction, which the next month's report lists under 更正事项; the stored
  report of the locked month never changes (the tables are append-only in the database).
- Every change is a row of ``programme_events`` (who, when, why, before and after, correction or
  not), and the compound's ``plan_year`` / ``stage`` / ``categories`` follow the latest project in the
  same transaction (so the map tiles and OGC API show the programme's state), audited as layer edits.
"""

from __future__ import annotations

import calendar
import dataclasses
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, text

from gis.errors import (
    AdminRequiredError,
    LockedMonthError,
    ProgrammeError,
    ProjectNotFoundError,
    RegistryError,
    StageOrderError,
)
from gis.registry import CodeList, Labels, normalise_label, registry

if TYPE_CHECKING:
    from gis.programme.monthly import MonthReport
    from gis.workspace import Workspace

Role = Literal["public", "planner", "admin"]


# -- errors ----------------------------------------------------------------------------------------


# -- definitions (data) ----------------------------------------------------------------------------
class Milestone(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str
    en: str


class StageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    milestone: Milestone
    min_days: int
    status: str


@dataclass(frozen=True)
class StageDef:
    id: str
    zh: str
    en: str
    index: int
    milestone_zh: str
    milestone_en: str
    min_days: int


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    zh: str
    en: str
    aliases: list[str] = []


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str
    items: list[Item]


class ReportSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    unit: str
    filer: str
    deadline_day: dict[str, Any]
    sheet: str


class ProgrammeDefs(BaseModel):
    """``layers/programme/programme.yaml`` validated, with the stage list from ``codes.yaml``."""

    model_config = ConfigDict(extra="forbid")
    source: dict[str, Any]
    stages_spec: dict[str, StageSpec]
    finish_stage: str
    finish_by: dict[str, Any]
    categories: dict[str, Category]
    funding_sources: dict[str, Any]
    uncovered_modes: list[str]
    report: ReportSpec
    timezone: str = "Asia/Shanghai"

    @property
    def stage_codes(self) -> CodeList:
        return registry().code_list("stage")

    @cached_property
    def stages(self) -> list[StageDef]:
        out = []
        for i, code in enumerate(self.stage_codes.codes):
            spec = self.stages_spec[code.id]
            out.append(StageDef(code.id, code.zh, code.en, i, spec.milestone.zh, spec.milestone.en, spec.min_days))
        return out

    @cached_property
    def stage_ids(self) -> list[str]:
        return [s.id for s in self.stages]

    def stage(self, stage_id: str) -> StageDef:
        for s in self.stages:
            if s.id == stage_id:
                return s
        raise KeyError(stage_id)

    def index(self, stage_id: str | None) -> int:
        """Position of a stage in the order; -1 for "not started" (None)."""
        return -1 if stage_id is None else self.stage_ids.index(stage_id)

    def resolve_stage(self, value: str) -> str:
        code = self.stage_codes.resolve(value)
        if code is None:
            valid = "、".join(f"{s.id} {s.zh}" for s in self.stages)
            raise ProgrammeError(f"unknown stage {value!r} / 未知阶段; valid: {valid}")
        return code

    @property
    def funding(self) -> CodeList:
        return CodeList.model_validate(
            {
                "id": "funding",
                "label": Labels(zh="资金来源", en="Funding sources"),
                "codes": self.funding_sources["codes"],
            }
        )

    def item_category(self) -> dict[str, str]:
        return {item.id: cat for cat, spec in self.categories.items() for item in spec.items}

    def items(self) -> list[tuple[str, Item]]:
        return [(cat, item) for cat, spec in self.categories.items() for item in spec.items]

    def resolve_item(self, value: str) -> str | None:
        key = normalise_label(value)
        for _cat, item in self.items():
            if key in {normalise_label(s) for s in (item.id, item.zh, item.en, *item.aliases)}:
                return item.id
        return None

    def item_label(self, item_id: str) -> str:
        for _cat, item in self.items():
            if item.id == item_id:
                return item.zh
        return item_id

    def deadline(self, year: int) -> date:
        """The date by which every project of ``year`` must reach the finish stage."""
        return date(year, int(self.finish_by["month"]), int(self.finish_by["day"]))

    def latest_dates(self, year: int) -> dict[str, date]:
        """The latest date each stage up to the finish stage may be reached to finish by the deadline."""
        finish = self.index(self.finish_stage)
        out: dict[str, date] = {}
        days = 0
        for s in reversed(self.stages[: finish + 1]):
            if s.index < finish:
                days += s.min_days
            out[s.id] = date.fromordinal(self.deadline(year).toordinal() - days)
        return out

    def report_deadline(self, month: str) -> date:
        y, m = parse_month(month)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return date(y, m, int(self.report.deadline_day["value"]))


@cache
def programme_defs() -> ProgrammeDefs:
    """The programme definitions shipped in ``layers/programme/programme.yaml`` (read once)."""
    raw = yaml.safe_load(resources.files("layers.programme").joinpath("programme.yaml").read_text(encoding="utf-8"))
    try:
        stages = raw.pop("stages")
        defs = ProgrammeDefs.model_validate({**raw, "stages_spec": stages})
    except ValueError as exc:
        raise RegistryError(f"invalid layers/programme/programme.yaml: {exc}") from exc
    stage_ids = registry().code_list("stage").ids
    if set(defs.stages_spec) != set(stage_ids):
        raise RegistryError("layers/programme/programme.yaml: `stages` must list exactly the stage codes of codes.yaml")
    cats = registry().code_list("renovation_category").ids
    if set(defs.categories) - set(cats) or defs.finish_stage not in stage_ids:
        raise RegistryError("layers/programme/programme.yaml: unknown category or finish stage")
    return defs


# -- small helpers ---------------------------------------------------------------------------------
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(month: str) -> tuple[int, int]:
    m = MONTH.match(month.strip())
    if not m or not 2000 <= int(m.group(1)) <= 2100:
        raise ProgrammeError(f"a month reads YYYY-MM between 2000 and 2100, e.g. 2026-11; got {month!r}")
    return int(m.group(1)), int(m.group(2))


def month_end(month: str) -> date:
    y, m = parse_month(month)
    return date(y, m, calendar.monthrange(y, m)[1])


def month_of(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)


def parse_date(value: Any) -> date | None:
    """A date from an Excel cell or text: 2026-03-15, 2026/3/15, 2026.3.15, 2026年3月15日, 20260315."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            raise ValueError(f"{value} has a time of day; give a date")
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 20000 <= value <= 80000 and float(value).is_integer():  # an Excel serial day number
            return date.fromordinal(date(1899, 12, 30).toordinal() + int(value))
        raise ValueError(f"{value!r} is not a date")
    s = str(value).strip().replace(" ", "")
    for pattern in DATE_PATTERNS:
        m = pattern.match(s)
        if m:
            try:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                raise ValueError(f"{value!r} is not a real date") from None
    raise ValueError(f"{value!r} is not a date (write 2026-03-15 or 2026年3月15日)")


def parse_money(value: Any) -> Decimal | None:
    """万元 with at most two decimals, not negative."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an amount")
    try:
        amount = Decimal(str(value).strip().replace(",", "").replace("，", ""))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount in 万元") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e10"):
        raise ValueError(f"{value!r}: an amount is a number of 万元 from 0 to 10^10")
    rounded = amount.quantize(Decimal("0.01"))
    if rounded != amount:
        raise ValueError(f"{value!r}: at most two decimals of 万元 (100 元)")
    return rounded


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


# -- project state ---------------------------------------------------------------------------------
PLAN_FIELDS = (
    "categories",
    "items",
    "investment_planned",
    "funding",
    "property_mgmt_after",
    "responsible_street",
    "responsible_dept",
    "note",
)


@dataclass
class Project:
    """One project as stored: the plan, the stage reached and the dates."""

    compound_id: int
    year: int
    id: int | None = None
    stage: str | None = None
    categories: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    investment_planned: Decimal | None = None
    investment_spent: Decimal | None = None
    funding: dict[str, Decimal] = field(default_factory=dict)
    property_mgmt_after: str | None = None
    responsible_street: str | None = None
    responsible_dept: str | None = None
    note: str | None = None
    planned: dict[str, date] = field(default_factory=dict)
    actual: dict[str, date] = field(default_factory=dict)

    def copy(self) -> Project:
        return dataclasses.replace(
            self,
            categories=list(self.categories),
            items=list(self.items),
            funding=dict(self.funding),
            planned=dict(self.planned),
            actual=dict(self.actual),
        )

    def plan_values(self) -> dict[str, Any]:
        out: dict[str, Any] = {f: getattr(self, f) for f in PLAN_FIELDS}
        out.update({f"planned.{k}": v for k, v in self.planned.items()})
        return out


def _until(d: date | None, on: date) -> date | None:
    return d if d is not None and d <= on else None


def stage_on(actual: dict[str, date], on: date, defs: ProgrammeDefs) -> str | None:
    """The stage reached on a date: the furthest stage whose actual date is on or before it."""
    reached = [s.id for s in defs.stages if actual.get(s.id) is not None and actual[s.id] <= on]
    return reached[-1] if reached else None


@dataclass(frozen=True)
class Behind:
    overdue: bool
    days: int
    due_stage: str | None  # the furthest stage the plan says should be reached by now (应完成阶段)
    due_date: date | None  # the planned date of the first stage missed


def behind(stage: str | None, planned: dict[str, date], on: date, defs: ProgrammeDefs) -> Behind:
    """Is a project at ``stage`` on ``on`` behind its planned dates, and by how many days."""
    current = defs.index(stage)
    passed = [s for s in defs.stages if planned.get(s.id) is not None and planned[s.id] <= on]
    due_stage = passed[-1].id if passed else None
    missed = [s for s in defs.stages if s.index > current and planned.get(s.id) is not None and planned[s.id] < on]
    if not missed:
        return Behind(False, 0, due_stage, None)
    first = planned[missed[0].id]
    return Behind(True, (on - first).days, due_stage, first)


def at_risk(stage: str | None, year: int, on: date, defs: ProgrammeDefs) -> Behind:
    """Behind the latest dates that still let the project finish by the programme deadline."""
    latest = defs.latest_dates(year)
    current = defs.index(stage)
    missed = [s for s in defs.stages if s.id in latest and s.index > current and latest[s.id] < on]
    passed = [s for s in defs.stages if s.id in latest and latest[s.id] <= on]
    due = passed[-1].id if passed else None
    if not missed:
        return Behind(False, 0, due, None)
    first = latest[missed[0].id]
    return Behind(True, (on - first).days, due, first)


# -- the programme on a workspace ------------------------------------------------------------------
PROJECT_COLUMNS = (
    "id, compound_id, year, stage, categories, items, investment_planned, investment_spent, funding, "
    "property_mgmt_after, responsible_street, responsible_dept, note"
)


def _project_from_row(row: Any, dates: Iterable[Any]) -> Project:
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


@dataclass
class Event:
    action: str
    changes: dict[str, list[Any]]
    stage_before: str | None = None
    stage_after: str | None = None
    effective: date | None = None
    reason: str | None = None
    correction: bool = False
    corrects_month: str | None = None


class RowProblem(BaseModel):
    row: int
    key: str | None = None
    reason: str


class ScheduleImportReport(BaseModel):
    """What an import of a schedule table (时间配档表) did."""

    path: str
    sheet: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    events: int = 0
    rejected: list[RowProblem] = []
    strict: bool = False


class Programme:
    """The renovation programme of a workspace: ``ws.programme``.

    Reading: :meth:`status` (one row per project with stage and overdue, with geometry, for the
    map), :meth:`projects`, :meth:`history`, :meth:`risks`, :meth:`property_coverage`,
    :meth:`submissions`. Writing (each one transaction, audited): :meth:`plan`, :meth:`advance`,
    :meth:`spend`, :meth:`correct` (admins), :meth:`import_schedule`, :meth:`submit`. Files:
    :meth:`write_schedule` (the template / export of the 时间配档表). The monthly report is
    ``ws.report_month(month)``.

    ``today`` / ``now`` parameters exist for replaying a year (tests, back-filling); the CLI and
    the API never pass them.
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.defs = programme_defs()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.defs.timezone)

    def _today(self, today: date | None) -> date:
        return today or datetime.now(self.tz).date()

    # -- reading --------------------------------------------------------------------------------
    def years(self) -> list[int]:
        """The programme years that have projects, oldest first (empty before the first import).

        Examples
        --------
        >>> ws.programme.years()
        """
        if self.ws.working_crs is None:
            return []
        with self.ws.engine.connect() as conn:
            years: list[int] = list(
                conn.execute(text("SELECT DISTINCT year FROM programme_projects ORDER BY 1")).scalars()
            )
            return [int(y) for y in years]

    def default_year(self, year: int | None = None) -> int:
        """``year`` when given, else the latest programme year with projects (ProjectNotFoundError if none).

        Examples
        --------
        >>> ws.programme.default_year()  # the latest year with projects
        >>> ws.programme.default_year(2026)
        """
        if year is not None:
            return year
        years = self.years()
        if not years:
            raise ProjectNotFoundError("the programme has no projects yet: import a schedule (gisplan progress import)")
        return years[-1]

    def _projects(self, conn: Connection, year: int) -> list[Project]:
        rows = conn.execute(
            text(f"SELECT {PROJECT_COLUMNS} FROM programme_projects WHERE year = :y ORDER BY compound_id"), {"y": year}
        ).all()
        dates: dict[int, list[Any]] = {}
        for d in conn.execute(
            text(
                "SELECT d.* FROM programme_stage_dates d JOIN programme_projects p ON p.id = d.project_id "
                "WHERE p.year = :y"
            ),
            {"y": year},
        ):
            dates.setdefault(int(d.project_id), []).append(d)
        return [_project_from_row(r, dates.get(int(r.id), [])) for r in rows]

    def _frame(self, year: int, on: date, *, geometry: bool) -> pd.DataFrame:
        """Per project on a date: compound attributes, stage reached, spending, behind plan, at risk."""
        self.ws._require_schema()
        geom = ", ST_AsBinary(c.geom) AS geom" if geometry else ""
        with self.ws.engine.connect() as conn:
            projects = self._projects(conn, year)
            compounds = pd.read_sql(
                text(
                    "SELECT c.fid AS compound_id, c.name, c.district, c.street, c.buildings, c.households, "
                    f"c.floor_area_m2, c.property_mgmt{geom} FROM compounds c "
                    "WHERE c.fid IN (SELECT compound_id FROM programme_projects WHERE year = :y)"
                ),
                conn,
                params={"y": year},
            )
            spent: dict[int, Decimal] = dict(
                conn.execute(
                    text(
                        "SELECT DISTINCT ON (project_id) project_id, (changes->'investment_spent'->>1)::numeric "
                        "FROM programme_events WHERE year = :y AND changes ? 'investment_spent' "
                        "AND effective <= :on ORDER BY project_id, effective DESC, id DESC"
                    ),
                    {"y": year, "on": on},
                ).all()
            )
        rows = []
        defs = self.defs
        finish = defs.finish_stage
        for p in projects:
            stage = stage_on(p.actual, on, defs)
            b = behind(stage, p.planned, on, defs)
            r = at_risk(stage, year, on, defs)
            rows.append(
                {
                    "project_id": p.id,
                    "compound_id": p.compound_id,
                    "year": year,
                    "stage": stage,
                    "stage_zh": defs.stage(stage).zh if stage else "未启动",
                    "stage_en": defs.stage(stage).en if stage else "Not started",
                    "stage_index": defs.index(stage),
                    "planned_finish": p.planned.get(finish),
                    "overdue": b.overdue,
                    "days_behind": b.days,
                    "due_stage": b.due_stage,
                    "due_stage_zh": defs.stage(b.due_stage).zh if b.due_stage else None,
                    "due_date": b.due_date,
                    "at_risk": r.overdue,
                    "risk_days": r.days,
                    "plan_past_deadline": bool(
                        p.planned.get(finish)
                        and p.planned[finish] > defs.deadline(year)
                        and defs.index(stage) < defs.index(finish)
                    ),
                    "categories": p.categories,
                    "items": p.items,
                    "investment_planned": float(p.investment_planned) if p.investment_planned is not None else None,
                    "investment_spent": float(spent[p.id]) if p.id in spent else None,
                    "property_mgmt_after": p.property_mgmt_after or None,
                    "responsible_street": p.responsible_street,
                    "responsible_dept": p.responsible_dept,
                    **{f"planned_{s}": p.planned.get(s) for s in defs.stage_ids},
                    **{f"actual_{s}": _until(p.actual.get(s), on) for s in defs.stage_ids},
                }
            )
        if not rows:  # no projects that year: the same columns, no rows
            empty = ["project_id", "year", "stage", "stage_zh", "stage_en", "stage_index", "planned_finish",
                     "overdue", "days_behind", "due_stage", "due_stage_zh", "due_date", "at_risk", "risk_days",
                     "plan_past_deadline", "categories", "items", "investment_planned", "investment_spent",
                     "property_mgmt_after", "responsible_street", "responsible_dept",
                     *[f"{k}_{s}" for k in ("planned", "actual") for s in defs.stage_ids]]  # fmt: skip
            return compounds.assign(**{c: pd.Series(dtype=object) for c in empty}).iloc[0:0]
        merged = compounds.merge(pd.DataFrame(rows), on="compound_id", how="right")
        return merged.sort_values(["district", "street", "compound_id"], na_position="last").reset_index(drop=True)

    def status(self, year: int | None = None, on: date | None = None) -> gpd.GeoDataFrame:
        """One row per project of ``year`` (default: the latest year with projects) on ``on``
        (default today): ``compound_id, name, district, street, year, stage, stage_zh, stage_en,
        planned_finish, overdue, days_behind, due_stage, at_risk, risk_days, households, buildings,
        floor_area_m2, investment_planned, investment_spent, geometry`` (working CRS) and the planned
        and actual date of every stage (``planned_construction``, ``actual_construction`` ...).

        Examples
        --------
        >>> st = ws.programme.status(2026)
        >>> st[st.overdue][["name", "street", "stage_zh", "due_stage_zh", "days_behind"]]
        """
        crs = self.ws._require_schema()
        year = self.default_year(year)
        frame = self._frame(year, self._today(on), geometry=True)
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

    def history(self, compound_id: int | None = None, year: int | None = None) -> pd.DataFrame:
        """The event log: every change with who, when, why, before/after, correction or not.

        Examples
        --------
        >>> h = ws.programme.history(compound_id=2, year=2026)
        >>> h[["at", "actor", "action", "stage_before", "stage_after", "effective", "reason", "correction"]]
        """
        where, params = ["TRUE"], {}
        if compound_id is not None:
            where.append("compound_id = :c")
            params["c"] = compound_id
        if year is not None:
            where.append("year = :y")
            params["y"] = year
        with self.ws.engine.connect() as conn:
            frame = pd.read_sql(
                text(f"SELECT * FROM programme_events WHERE {' AND '.join(where)} ORDER BY id"), conn, params=params
            )
        return frame.astype(object).where(frame.notna(), None)

    def risks(self, year: int | None = None, on: date | None = None) -> pd.DataFrame:
        """Projects behind their plan (overdue) or behind the latest dates that still finish by the
        deadline (at_risk), or planned to finish after it, worst first.

        Examples
        --------
        >>> ws.programme.risks(2026, on=date(2026, 9, 1))
        """
        st = self.projects_on(year, on)
        out = st[st["overdue"] | st["at_risk"] | st["plan_past_deadline"]]
        cols = ["compound_id", "name", "district", "street", "stage_zh", "due_stage_zh", "due_date", "days_behind",
                "overdue", "at_risk", "risk_days", "planned_finish", "plan_past_deadline"]  # fmt: skip
        return out.sort_values(["days_behind", "risk_days"], ascending=False)[cols].reset_index(drop=True)

    def risks_by_street(self, year: int | None = None, on: date | None = None) -> pd.DataFrame:
        """Per street: projects, overdue, at risk, the most days behind.

        Examples
        --------
        >>> ws.programme.risks_by_street(2026).sort_values("overdue", ascending=False)
        """
        st = self.projects_on(year, on)
        return (
            st.groupby(["district", "street"], dropna=False)
            .agg(projects=("compound_id", "size"), overdue=("overdue", "sum"), at_risk=("at_risk", "sum"),
                 max_days_behind=("days_behind", "max"), plan_past_deadline=("plan_past_deadline", "sum"))
            .reset_index()
        )  # fmt: skip

    def projects_on(self, year: int | None = None, on: date | None = None) -> pd.DataFrame:
        """As :meth:`status` without geometry (cheaper).

        Examples
        --------
        >>> st = ws.programme.projects_on(2026, on=date(2026, 6, 30))
        >>> st[st.overdue][["name", "stage_zh", "due_stage_zh", "days_behind"]]
        """
        return self._frame(self.default_year(year), self._today(on), geometry=False)

    def property_coverage(self, year: int | None = None, *, by: Sequence[str] = ("district", "street")) -> pd.DataFrame:
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
        year = self.default_year(year)
        return self._coverage(self._frame(year, self._today(None), geometry=False), by)

    def _coverage(self, st: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
        codes = registry().code_list("property_mgmt")
        keys = list(by)
        parts = []
        for when, column in (("before", "property_mgmt"), ("after", "property_mgmt_after")):
            mode = st["property_mgmt"] if when == "before" else st["property_mgmt_after"].fillna(st["property_mgmt"])
            frame = st[[*keys, "households"]].assign(mode=mode.fillna("unknown"), households=st["households"].fillna(0))
            g = frame.groupby([*keys, "mode"], dropna=False).agg(
                compounds=("mode", "size"), households=("households", "sum")
            )
            totals = frame.groupby(keys, dropna=False).agg(all_c=("mode", "size"), all_h=("households", "sum"))
            g = g.join(totals, on=keys)
            g["compound_share"] = g["compounds"] / g["all_c"]
            g["household_share"] = (g["households"] / g["all_h"].where(g["all_h"] > 0)).fillna(0.0)
            parts.append(g.drop(columns=["all_c", "all_h"]).add_suffix(f"_{when}"))
            del column
        out = parts[0].join(parts[1], how="outer").fillna(0).reset_index()
        for c in ("compounds_before", "compounds_after", "households_before", "households_after"):
            out[c] = out[c].astype(int)
        labels = {c.id: c.zh for c in codes.codes}
        out.insert(len(keys) + 1, "mode_zh", out["mode"].map(lambda m: labels.get(m, "未填")))
        out["covered"] = ~out["mode"].isin([*self.defs.uncovered_modes, "unknown"])
        return out

    def submissions(self) -> pd.DataFrame:
        """The submitted (locked) months: when, by whom, deadline, late.

        Examples
        --------
        >>> ws.programme.submissions()[["month", "submitted_at", "actor", "deadline", "late"]]
        """
        with self.ws.engine.connect() as conn:
            return pd.read_sql(
                text("SELECT month, year, submitted_at, actor, deadline, late, last_event_id "
                     "FROM programme_submissions ORDER BY month"),
                conn,
            )  # fmt: skip

    def locked_until(self) -> date | None:
        """The end of the latest submitted month: nothing dated on or before it changes but by correction.

        Examples
        --------
        >>> ws.programme.locked_until()  # date(2026, 10, 31) once "2026-10" is submitted
        """
        with self.ws.engine.connect() as conn:
            return _locked_until(conn)

    # -- writing --------------------------------------------------------------------------------
    def plan(
        self,
        compound_id: int,
        year: int,
        *,
        categories: Sequence[str] | None = None,
        items: Sequence[str] | None = None,
        planned: dict[str, date] | None = None,
        investment_planned: Decimal | float | str | None = None,
        funding: dict[str, Decimal | float | str] | None = None,
        property_mgmt_after: str | None = None,
        responsible_street: str | None = None,
        responsible_dept: str | None = None,
        note: str | None = None,
        actor: str = "notebook",
        role: Role = "planner",
    ) -> Project:
        """Create a project (or change its plan): the fields given replace the stored ones.

        Examples
        --------
        >>> ws.programme.plan(2, 2026, categories=["基础类", "完善类"], items=["供水", "加装电梯"],
        ...     planned={"construction": date(2026, 5, 10), "completed": date(2026, 10, 31)},
        ...     investment_planned=380, funding={"central": 200, "local": 180}, actor="张三")
        """
        _require_planner(role)
        defs = self.defs
        with self._transaction(actor) as conn:
            before = self._load(conn, compound_id, year, create=True)
            after = before.copy() if before.id else before
            if categories is not None:
                after.categories = _resolve_categories(categories)
            if items is not None:
                after.items = [_resolve_item(i, defs) for i in items]
            if planned is not None:
                after.planned = {defs.resolve_stage(k): v for k, v in planned.items() if v is not None}
            if investment_planned is not None:
                after.investment_planned = _money(investment_planned, "investment_planned")
            if funding is not None:
                after.funding = {_resolve_funding(k, defs): _money(v, k) for k, v in funding.items() if v is not None}
            if property_mgmt_after is not None:
                after.property_mgmt_after = _resolve_mgmt(property_mgmt_after)
            for name, value in (("responsible_street", responsible_street), ("responsible_dept", responsible_dept),
                                ("note", note)):  # fmt: skip
                if value is not None:
                    setattr(after, name, value or None)
            _check_plan(after, defs)
            events = _plan_events(before if before.id else None, after)
            if not events:
                return before
            return self._save(conn, before if before.id else None, after, events, actor, role)

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
        _require_planner(role)
        defs = self.defs
        stage = defs.resolve_stage(stage)
        today = self._today(today)
        with self._transaction(actor) as conn:
            before = self._load(conn, compound_id, year)
            if defs.index(stage) <= defs.index(before.stage) and before.actual.get(stage) is None:
                # a stage passed without its date (skipped when reporting): the date may be filled in
                after = before.copy()
                after.actual[stage] = on
                _check_actual(before, after, today, _locked_until(conn), defs)
                fill = Event("fill", {f"actual.{stage}": [None, on]}, before.stage, before.stage, on)
                return self._save(conn, before, after, [fill], actor, role)
            if defs.index(stage) <= defs.index(before.stage):
                if before.actual.get(stage) == on:
                    return before  # the same report twice: nothing to do
                raise StageOrderError(
                    f"{_name(conn, compound_id)} is at {_stage_label(before.stage, defs)} already; stages only move "
                    f"forward — an admin corrects a wrong stage or date with a reason (gisplan progress correct) / "
                    f"阶段只能前进，更正须由管理员说明理由"
                )
            after = before.copy()
            after.actual[stage] = on
            after.stage = stage
            _check_actual(before, after, today, _locked_until(conn), defs)
            event = Event("advance", {f"actual.{stage}": [None, on]}, before.stage, stage, on)
            return self._save(conn, before, after, [event], actor, role)

    def spend(
        self,
        compound_id: int,
        amount: Decimal | float | str,
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
        _require_planner(role)
        today = self._today(today)
        as_of = as_of or today
        with self._transaction(actor) as conn:
            before = self._load(conn, compound_id, year)
            after = before.copy()
            after.investment_spent = _money(amount, "investment_spent")
            if after.investment_spent == before.investment_spent:
                return before
            _check_spent(before, after, as_of, today, _locked_until(conn), _latest_spent(conn, before))
            event = Event("spent", {"investment_spent": [before.investment_spent, after.investment_spent]},
                          effective=as_of)  # fmt: skip
            return self._save(conn, before, after, [event], actor, role)

    def correct(
        self,
        compound_id: int,
        *,
        reason: str,
        stage: str | None = None,
        on: date | None = None,
        actual: dict[str, date | None] | None = None,
        investment_spent: Decimal | float | str | None = None,
        spent_as_of: date | None = None,
        year: int | None = None,
        actor: str = "notebook",
        role: Role = "admin",
        today: date | None = None,
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
        if role != "admin":
            raise AdminRequiredError("only an admin may correct the programme / 更正须由管理员进行")
        if not reason or not reason.strip():
            raise ProgrammeError("a correction needs a reason / 更正须说明理由")
        defs = self.defs
        today = self._today(today)
        with self._transaction(actor) as conn:
            before = self._load(conn, compound_id, year)
            after = before.copy()
            if stage is not None:
                stage = defs.resolve_stage(stage)
                when = on or before.actual.get(stage)
                if when is None:
                    raise ProgrammeError(f"give the date {defs.stage(stage).zh} was reached (--date)")
                after.actual[stage] = when
                for s in defs.stages:
                    if s.index > defs.index(stage):
                        after.actual.pop(s.id, None)
            for k, v in (actual or {}).items():
                sid = defs.resolve_stage(k)
                if v is None:
                    after.actual.pop(sid, None)
                else:
                    after.actual[sid] = v
            reached = [s.id for s in defs.stages if s.id in after.actual]
            after.stage = reached[-1] if reached else None
            if investment_spent is not None:
                after.investment_spent = _money(investment_spent, "investment_spent")
            changes: dict[str, list[Any]] = {}
            dates: list[date] = []
            for sid in defs.stage_ids:
                if before.actual.get(sid) != after.actual.get(sid):
                    changes[f"actual.{sid}"] = [before.actual.get(sid), after.actual.get(sid)]
                    dates += [d for d in (before.actual.get(sid), after.actual.get(sid)) if d is not None]
            money: dict[str, list[Any]] = {}
            if before.investment_spent != after.investment_spent:
                money["investment_spent"] = [before.investment_spent, after.investment_spent]
                if (spent_as_of or today) > today:
                    raise ProgrammeError(f"spending as of {spent_as_of}: a date in the future")
            if not changes and not money:
                raise ProgrammeError("the correction changes nothing / 更正内容与现有记录相同")
            for sid in defs.stage_ids:
                d = after.actual.get(sid)
                if d is not None and d > today:
                    raise ProgrammeError(f"{defs.stage(sid).zh}: {d} is in the future / 实际日期不能晚于今天")
            _check_order(after, defs)
            locked = _submitted_months(conn)

            def corrects(d: date) -> str | None:  # the first submitted report the change alters
                return next((m for m in locked if month_end(m) >= d), None)

            events = []
            if changes:  # stage dates: effective from the earliest date changed
                events.append(Event("correct", changes, before.stage, after.stage, min(dates), reason.strip(), True,
                                    corrects(min(dates))))  # fmt: skip
            if money:  # spending: effective as of its own date, so later figures still follow it
                when = spent_as_of or today
                events.append(Event("correct", money, None, None, when, reason.strip(), True, corrects(when)))
            return self._save(conn, before, after, events, actor, role)

    def sync(self, *, actor: str = "notebook") -> int:
        """Put every programme compound's ``plan_year`` / ``stage`` / ``categories`` back to its latest
        project's (after a re-import of the compounds layer overwrote them); returns how many changed.
        Audited as layer edits. A schedule import does this at its end.

        Examples
        --------
        >>> ws.load("compounds", "小区.gpkg", replace=True)
        >>> ws.programme.sync()
        """
        with self._transaction(actor) as conn:
            return _sync_compound(conn, None)

    # -- submission -----------------------------------------------------------------------------
    def submit(
        self, month: str, *, actor: str = "notebook", role: Role = "planner", now: datetime | None = None,
        year: int | None = None, area: str | None = None,
    ) -> MonthReport:  # fmt: skip
        """Submit (上报) a month's report: store it as it is now and lock the month.

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
        from gis.programme.monthly import compute_month

        _require_planner(role)
        now = now or datetime.now(UTC)
        if now.tzinfo is None:
            raise ProgrammeError("give `now` with its time zone")
        today = now.astimezone(self.tz).date()
        end = month_end(month)
        if today < end:
            raise ProgrammeError(f"{month} has not ended yet (it ends {end}) / 月份未结束，不能上报")
        with self._transaction(actor) as conn:
            done = conn.execute(
                text("SELECT submitted_at FROM programme_submissions WHERE month = :m"), {"m": month}
            ).first()
            if done is not None:
                raise LockedMonthError(
                    f"{month} was submitted on {done.submitted_at:%Y-%m-%d %H:%M}; it is locked / 该月已上报锁定"
                )
            last: int = conn.execute(text("SELECT coalesce(max(id), 0) FROM programme_events")).scalar_one()
            report = compute_month(self, month, year=year, today=today, upto_event=int(last), area=area)
            deadline = self.defs.report_deadline(month)
            report.submitted_at = now
            report.submitted_by = actor
            report.deadline = deadline
            report.late = today > deadline
            report.locked = True
            conn.execute(
                text(
                    "INSERT INTO programme_submissions (month, year, submitted_at, actor, deadline, late, "
                    "last_event_id, report) VALUES (:m, :y, :at, :a, :d, :late, :last, CAST(:r AS jsonb))"
                ),
                {"m": month, "y": report.year, "at": now, "a": actor, "d": deadline, "late": report.late, "last": last,
                 "r": json.dumps(report.to_dict(), ensure_ascii=False)},
            )  # fmt: skip
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
        from gis.programme.schedule import write_schedule

        return write_schedule(self, Path(path), year)

    def import_schedule(
        self, path: str | Path, *, year: int | None = None, strict: bool = False, actor: str = "notebook",
        role: Role = "planner", today: date | None = None, as_of: date | None = None,
    ) -> ScheduleImportReport:  # fmt: skip
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
        from gis.programme.schedule import import_schedule

        return import_schedule(self, Path(path), year=year, strict=strict, actor=actor, role=role,
                               today=self._today(today), as_of=as_of)  # fmt: skip

    # -- internals ------------------------------------------------------------------------------
    def _transaction(self, actor: str) -> _Tx:
        self.ws._require_schema()
        return _Tx(self.ws, actor)

    def _load(self, conn: Connection, compound_id: int, year: int | None, *, create: bool = False) -> Project:
        if conn.execute(text("SELECT 1 FROM compounds WHERE fid = :c"), {"c": compound_id}).first() is None:
            raise ProjectNotFoundError(f"no compound {compound_id} / 无此小区")
        if year is None:
            year = conn.execute(
                text("SELECT max(year) FROM programme_projects WHERE compound_id = :c"), {"c": compound_id}
            ).scalar()
            if year is None:
                raise ProjectNotFoundError(
                    f"{_name(conn, compound_id)} has no project; import a schedule first / 该小区无改造项目"
                )
        row = conn.execute(
            text(f"SELECT {PROJECT_COLUMNS} FROM programme_projects WHERE compound_id = :c AND year = :y FOR UPDATE"),
            {"c": compound_id, "y": year},
        ).first()
        if row is None:
            if create:
                return Project(compound_id=compound_id, year=int(year))
            raise ProjectNotFoundError(f"{_name(conn, compound_id)} has no project in {year} / 该年度无此项目")
        dates = conn.execute(text("SELECT * FROM programme_stage_dates WHERE project_id = :p"), {"p": row.id}).all()
        return _project_from_row(row, dates)

    def _save(
        self, conn: Connection, before: Project | None, after: Project, events: list[Event], actor: str, role: str,
        source: str | None = None, sync: bool = True,
    ) -> Project:  # fmt: skip
        """Write the project, its stage dates and its events; ``sync=False`` leaves the compound's
        stage to one update at the end of a bulk import."""
        values = {
            "c": after.compound_id,
            "y": after.year,
            "stage": after.stage,
            "cats": after.categories,
            "items": after.items,
            "ip": after.investment_planned,
            "isp": after.investment_spent,
            "funding": json.dumps(_jsonable(after.funding)),
            "pma": after.property_mgmt_after,
            "rs": after.responsible_street,
            "rd": after.responsible_dept,
            "note": after.note,
        }
        if before is None or before.id is None:
            after.id = conn.execute(
                text(
                    "INSERT INTO programme_projects (compound_id, year, stage, categories, items, investment_planned, "
                    "investment_spent, funding, property_mgmt_after, responsible_street, responsible_dept, note) "
                    "VALUES (:c, :y, :stage, :cats, :items, :ip, :isp, CAST(:funding AS jsonb), :pma, :rs, :rd, :note) "
                    "RETURNING id"
                ),
                values,
            ).scalar_one()
        else:
            conn.execute(
                text(
                    "UPDATE programme_projects SET stage = :stage, categories = :cats, items = :items, "
                    "investment_planned = :ip, investment_spent = :isp, funding = CAST(:funding AS jsonb), "
                    "property_mgmt_after = :pma, responsible_street = :rs, responsible_dept = :rd, note = :note, "
                    "version = version + 1, updated_at = now() WHERE id = :id"
                ),
                {**values, "id": after.id},
            )
            conn.execute(text("DELETE FROM programme_stage_dates WHERE project_id = :p"), {"p": after.id})
        dates = [
            {"p": after.id, "s": s, "pl": after.planned.get(s), "ac": after.actual.get(s)}
            for s in self.defs.stage_ids
            if after.planned.get(s) or after.actual.get(s)
        ]
        if dates:
            conn.execute(
                text(
                    "INSERT INTO programme_stage_dates (project_id, stage, planned, actual) VALUES (:p, :s, :pl, :ac)"
                ),
                dates,
            )
        if events:  # one round trip for all of them, in order (the ids keep the sequence)
            conn.execute(
                text(
                    "INSERT INTO programme_events (project_id, compound_id, year, actor, role, action, stage_before, "
                    "stage_after, effective, changes, reason, correction, corrects_month, source) VALUES (:p, :c, :y, "
                    ":a, :r, :act, :sb, :sa, :eff, CAST(:ch AS jsonb), :why, :corr, :cm, :src)"
                ),
                [{"p": after.id, "c": after.compound_id, "y": after.year, "a": actor, "r": role, "act": e.action,
                  "sb": e.stage_before, "sa": e.stage_after, "eff": e.effective,
                  "ch": json.dumps(_jsonable(e.changes), ensure_ascii=False), "why": e.reason, "corr": e.correction,
                  "cm": e.corrects_month, "src": source} for e in events],
            )  # fmt: skip
        if sync:
            _sync_compound(conn, after.compound_id)
        return after


class _Tx:
    """One programme write: a transaction, the audit actor set, programme writes serialised."""

    def __init__(self, ws: Workspace, actor: str) -> None:
        self.ws = ws
        self.actor = actor
        self._ctx: Any = None

    def __enter__(self) -> Connection:
        self._ctx = self.ws.engine.begin()
        conn: Connection = self._ctx.__enter__()
        conn.execute(text("SELECT set_config('gisplan.actor', :a, true)"), {"a": self.actor})
        # submissions and writes never interleave: a write sees every lock taken before it
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('gisplan-programme'))"))
        return conn

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)


def _sync_compound(conn: Connection, compound_id: int | None) -> int:
    """The compound (None: every one with a project) shows its latest project's year, stage and
    categories; audited by the layer's trigger. Returns how many compounds changed."""
    return conn.execute(
        text(
            "UPDATE compounds c SET plan_year = p.year, stage = p.stage, categories = p.categories, "
            "version = c.version + 1, updated_at = now() "
            "FROM (SELECT DISTINCT ON (compound_id) compound_id, year, stage, categories FROM programme_projects "
            "      WHERE CAST(:c AS bigint) IS NULL OR compound_id = :c ORDER BY compound_id, year DESC) p "
            "WHERE c.fid = p.compound_id "
            "AND (c.plan_year, c.stage, c.categories) IS DISTINCT FROM (p.year, p.stage, p.categories)"
        ),
        {"c": compound_id},
    ).rowcount


def _submitted_months(conn: Connection) -> list[str]:
    rows = conn.execute(text("SELECT month FROM programme_submissions ORDER BY month")).all()
    return [str(r[0]) for r in rows]


def _locked_until(conn: Connection) -> date | None:
    months = _submitted_months(conn)
    return max(month_end(m) for m in months) if months else None


def _name(conn: Connection, compound_id: int) -> str:
    name = conn.execute(text("SELECT name FROM compounds WHERE fid = :c"), {"c": compound_id}).scalar()
    return f"{name or 'compound'} ({compound_id})"


def _stage_label(stage: str | None, defs: ProgrammeDefs) -> str:
    return f"{defs.stage(stage).zh} {stage}" if stage else "未启动 not started"


def _require_planner(role: str) -> None:
    if role not in ("planner", "admin"):
        raise AdminRequiredError("changing the programme needs a planner / 需规划人员权限")


def _money(value: Any, what: str) -> Decimal:
    try:
        amount = parse_money(value)
    except ValueError as exc:
        raise ProgrammeError(f"{what}: {exc}") from None
    if amount is None:
        raise ProgrammeError(f"{what}: no amount given")
    return amount


def _resolve_categories(values: Iterable[str]) -> list[str]:
    codes = registry().code_list("renovation_category")
    out = set()
    for v in values:
        c = codes.resolve(v)
        if c is None:
            raise ProgrammeError(f"unknown category {v!r} / 未知改造类别; valid: 基础类 完善类 提升类")
        out.add(c)
    return [c for c in codes.ids if c in out]


def _resolve_item(value: str, defs: ProgrammeDefs) -> str:
    item = defs.resolve_item(value)
    if item is None:
        raise ProgrammeError(f"unknown content item {value!r} / 未知改造内容 (see layers/programme/programme.yaml)")
    return item


def _resolve_funding(value: str, defs: ProgrammeDefs) -> str:
    code = defs.funding.resolve(value)
    if code is None:
        raise ProgrammeError(f"unknown funding source {value!r} / 未知资金来源; valid: {', '.join(defs.funding.ids)}")
    return code


def _resolve_mgmt(value: str) -> str:
    code = registry().code_list("property_mgmt").resolve(value)
    if code is None:
        raise ProgrammeError(f"unknown property management mode {value!r} / 未知物业管理方式")
    return code


def _check_plan(p: Project, defs: ProgrammeDefs) -> None:
    cat_of = defs.item_category()
    p.items = [i for i in dict.fromkeys(p.items)]
    p.items.sort(key=[item.id for _c, item in defs.items()].index)
    for item in p.items:
        if cat_of[item] not in p.categories:
            cat = registry().code_list("renovation_category").get(cat_of[item])
            raise ProgrammeError(
                f"content item {defs.item_label(item)} belongs to {cat.zh}, which the categories do not include / "
                f"改造内容「{defs.item_label(item)}」属于{cat.zh}，改造类别中未列"
            )
    wrong = _out_of_order(p.planned, defs)
    if wrong:
        (earlier, d0), (stage, d) = wrong
        raise ProgrammeError(f"planned {stage} {d} is before planned {earlier} {d0} / 计划日期须按阶段先后")


def _check_order(p: Project, defs: ProgrammeDefs) -> None:
    wrong = _out_of_order(p.actual, defs)
    if wrong:
        (earlier, d0), (stage, d) = wrong
        raise ProgrammeError(f"{stage} reached {d}, before {earlier} ({d0}) / 实际日期早于上一阶段")


def _out_of_order(dates: dict[str, date], defs: ProgrammeDefs) -> tuple[tuple[str, date], tuple[str, date]] | None:
    """The first stage dated before the stage before it (Chinese stage names), or None."""
    last: tuple[str, date] | None = None
    for s in defs.stages:
        d = dates.get(s.id)
        if d is None:
            continue
        if last and d < last[1]:
            return last, (s.zh, d)
        last = (s.zh, d)
    return None


def _check_actual(before: Project, after: Project, today: date, locked: date | None, defs: ProgrammeDefs) -> None:
    for s in defs.stage_ids:
        old, new = before.actual.get(s), after.actual.get(s)
        if old == new:
            continue
        if old is not None:
            raise StageOrderError(
                f"the actual date of {defs.stage(s).zh} is {old} already; an admin corrects it with a reason "
                f"(gisplan progress correct) / 实际日期已填报，更正须由管理员说明理由"
            )
        assert new is not None
        if new > today:
            raise ProgrammeError(f"{defs.stage(s).zh} on {new}: a date in the future / 实际日期不能晚于今天")
        if locked is not None and new <= locked:
            raise LockedMonthError(
                f"{defs.stage(s).zh} on {new}: {month_of(locked)} and before are submitted and locked; an admin "
                f"records it as a correction with a reason / 该月已上报锁定，须由管理员以更正方式录入"
            )
    _check_order(after, defs)


def _latest_spent(conn: Connection, p: Project) -> date | None:
    if p.id is None:
        return None
    return conn.execute(
        text("SELECT max(effective) FROM programme_events WHERE project_id = :p AND changes ? 'investment_spent'"),
        {"p": p.id},
    ).scalar()


def _check_spent(
    before: Project, after: Project, as_of: date, today: date, locked: date | None, latest: date | None
) -> None:
    if as_of > today:
        raise ProgrammeError(f"spending as of {as_of}: a date in the future")
    if latest is not None and as_of < latest:
        raise StageOrderError(
            f"spending as of {as_of}: a figure as of {latest} is recorded already; report spending as of today, "
            "or an admin corrects the earlier figure / 已有更晚日期的完成投资，请按当日填报"
        )
    if locked is not None and as_of <= locked:
        raise LockedMonthError(f"spending as of {as_of}: {month_of(locked)} is submitted and locked / 该月已上报锁定")
    was, now = before.investment_spent, after.investment_spent
    if was is not None and now is not None and now < was:
        raise StageOrderError(
            f"spending goes down from {was} to {now} 万元; an admin corrects it with a reason / "
            "累计完成投资不能减少，更正须由管理员"
        )


def _plan_events(before: Project | None, after: Project) -> list[Event]:
    old = before.plan_values() if before else {}
    new = after.plan_values()
    changes = {}
    for k in sorted(set(old) | set(new), key=lambda k: (k.startswith("planned."), k)):
        a, b = old.get(k), new.get(k)
        if (a or None) != (b or None):
            changes[k] = [a or None, b or None]
    if before is None:
        return [Event("create", changes)]
    return [Event("plan", changes, before.stage, before.stage)] if changes else []


def progress_events(
    before: Project, after: Project, today: date, locked: date | None, defs: ProgrammeDefs
) -> list[Event]:
    """The events of new actual dates (import): one per stage, in stage order; checked as advance checks."""
    _check_actual(before, after, today, locked, defs)
    events = []
    stage = before.stage
    for s in defs.stages:
        if s.id in after.actual and s.id not in before.actual:
            new_stage = s.id if defs.index(s.id) > defs.index(stage) else stage
            action = "advance" if new_stage != stage else "fill"
            changes: dict[str, list[Any]] = {f"actual.{s.id}": [None, after.actual[s.id]]}
            events.append(Event(action, changes, stage, new_stage, after.actual[s.id]))
            stage = new_stage
    return events
