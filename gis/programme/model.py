"""A project as the programme knows it, the events that change it, and where it stands on a date."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from gis.programme.definitions import ProgrammeDefs

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

    @property
    def is_new(self) -> bool:
        """Not stored yet (a plan or an import creates it)."""
        return self.id is None

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


@dataclass
class Event:
    """One change of a project, as ``programme_events`` records it."""

    action: str  # create | plan | advance | fill | spent | correct
    changes: dict[str, list[Any]]  # field -> [before, after]
    stage_before: str | None = None
    stage_after: str | None = None
    effective: date | None = None  # the business date (a stage reached, spending as of)
    reason: str | None = None
    correction: bool = False
    corrects_month: str | None = None  # the first submitted month the correction alters


# the stored values of a project that the frame carries as they are
TABLE_COLUMNS = [
    "project_id",
    "compound_id",
    "year",
    "categories",
    "items",
    "investment_planned",
    "investment_spent",
    "property_mgmt_after",
    "responsible_street",
    "responsible_dept",
]
NO_DAY = np.datetime64("NaT", "D")


@dataclass(frozen=True)
class ProjectTable:
    """The projects of a year as stored, column by column: ``values`` holds :data:`TABLE_COLUMNS`
    as lists (None where there is no value; amounts as floats, spending as of the frame's date),
    ``planned`` and ``actual`` the date of every stage as (projects, stages) ``datetime64[D]`` arrays
    (NaT where there is none). :func:`gis.programme.status.project_table` builds it from projects,
    :func:`gis.programme.store.project_table` from two queries."""

    values: dict[str, list[Any]]
    planned: np.ndarray
    actual: np.ndarray

    def __len__(self) -> int:
        return len(self.values["project_id"])


@dataclass(frozen=True)
class Behind:
    overdue: bool
    days: int
    due_stage: str | None  # the furthest stage the plan says should be reached by now (应完成阶段)
    due_date: date | None  # the planned date of the first stage missed


def until(d: date | None, on: date) -> date | None:
    """``d`` if it lies on or before ``on``: a date as it was known on ``on``."""
    return d if d is not None and d <= on else None


def stage_on(actual: dict[str, date], on: date, defs: ProgrammeDefs) -> str | None:
    """The stage reached on a date: the furthest stage whose actual date is on or before it."""
    reached = [s.id for s in defs.stages if actual.get(s.id) is not None and actual[s.id] <= on]
    return reached[-1] if reached else None


def furthest(actual: dict[str, date], defs: ProgrammeDefs) -> str | None:
    """The furthest stage with an actual date, whenever it was reached."""
    reached = [s.id for s in defs.stages if s.id in actual]
    return reached[-1] if reached else None


def behind(stage: str | None, planned: dict[str, date], on: date, defs: ProgrammeDefs) -> Behind:
    """Is a project at ``stage`` on ``on`` behind its planned dates, and by how many days."""
    return _behind_dates(stage, planned, on, defs)


def at_risk(stage: str | None, year: int, on: date, defs: ProgrammeDefs) -> Behind:
    """Behind the latest dates that still let the project finish by the programme deadline."""
    return _behind_dates(stage, defs.latest_dates(year), on, defs)


def _behind_dates(stage: str | None, dates: dict[str, date], on: date, defs: ProgrammeDefs) -> Behind:
    """Behind ``dates`` (a stage to be reached by each): the first stage beyond ``stage`` whose date
    has passed (strictly before ``on``) is missed; the due stage is the furthest one dated on or before."""
    current = defs.index(stage)
    dated = [s for s in defs.stages if dates.get(s.id) is not None]
    passed = [s for s in dated if dates[s.id] <= on]
    due_stage = passed[-1].id if passed else None
    missed = [s for s in dated if s.index > current and dates[s.id] < on]
    if not missed:
        return Behind(False, 0, due_stage, None)
    first = dates[missed[0].id]
    return Behind(True, (on - first).days, due_stage, first)
