"""The programme as it stood at an instant: its projects rebuilt from the event log (pure, in memory).

Every change of a project is an event of ``programme_events`` with the values it changed, before and
after (``changes``: ``{field: [before, after]}``, written by :mod:`gis.programme.rules`); the stored
tables (``programme_projects``, ``programme_stage_dates``) hold only the latest state. Folding a
project's events in the order they were recorded, each setting the ``after`` of every value it names,
gives the project as it stood after the last of them: fold the events recorded by an instant and it
is the project as it stood then. The stage follows the events that move a stage date (``advance``,
``fill``, ``correct``): it is their ``stage_after``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from gis.programme.model import Project

AMOUNTS = ("investment_planned", "investment_spent")
LISTS = ("categories", "items")
TEXTS = ("property_mgmt_after", "responsible_street", "responsible_dept", "note")


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _amount(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def apply(p: Project, changes: Mapping[str, list[Any]], stage_after: str | None) -> None:
    """Set on ``p`` the ``after`` of every value an event changed (dates and amounts from their JSON
    text); an event that moves a stage date leaves the project at its ``stage_after``."""
    moved = False
    for name, (_, after) in changes.items():
        kind, _, stage = name.partition(".")
        if kind in ("planned", "actual") and stage:
            dates = p.planned if kind == "planned" else p.actual
            if after is None:
                dates.pop(stage, None)
            else:
                dates[stage] = _day(after)
            moved = moved or kind == "actual"
        elif name in AMOUNTS:
            setattr(p, name, _amount(after))
        elif name in LISTS:
            setattr(p, name, list(after or []))
        elif name == "funding":
            p.funding = {k: Decimal(str(v)) for k, v in (after or {}).items()}
        elif name in TEXTS:
            setattr(p, name, after)
        else:
            raise ValueError(f"an event changes {name!r}, which a project does not have")
    if moved:
        p.stage = stage_after


def projects(events: Iterable[Mapping[str, Any]]) -> list[Project]:
    """The projects that ``events`` (rows of ``programme_events``: ``project_id``, ``compound_id``,
    ``year``, ``stage_after``, ``changes``, oldest first) leave behind, by compound and year.

    Examples
    --------
    >>> projects([{"project_id": 1, "compound_id": 2, "year": 2026, "stage_after": None,
    ...            "changes": {"categories": [None, ["basic"]]}}])[0].categories
    ['basic']
    """
    found: dict[int, Project] = {}
    for e in events:
        pid = int(e["project_id"])
        p = found.get(pid)
        if p is None:
            p = found[pid] = Project(compound_id=int(e["compound_id"]), year=int(e["year"]), id=pid)
        apply(p, e["changes"] or {}, e["stage_after"])
    return sorted(found.values(), key=lambda p: (p.compound_id, p.year))
