"""When a photo does not prove what it is attached to: the flags an item carries. Pure.

An item is never silently accepted: a photo without a position or a time is flagged for it, one taken
farther than ``max_distance_m`` from its compound (``far_from_compound``), or outside the dates of
the stage it documents (``outside_stage_dates``), or of a stage the project has not reached
(``stage_not_reached``), likewise. The numbers come from ``layers/programme/evidence.yaml``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from shapely.geometry.base import BaseGeometry

from gis.evidence.definitions import EvidenceDefs
from gis.evidence.files import FileFacts

Flag = Literal["no_position", "no_time", "far_from_compound", "outside_stage_dates", "stage_not_reached"]


@dataclass(frozen=True)
class StageWindow:
    """The days a stage's photos may be taken on: from the day the project reached it to the day it
    reached the next (``end`` None: not yet), each widened by the grace days."""

    stage: str
    start: date | None  # None: the project has not reached the stage
    end: date | None

    def holds(self, day: date, grace: timedelta) -> bool:
        if self.start is None:
            return False
        return self.start - grace <= day and (self.end is None or day <= self.end + grace)


def stage_window(stage: str, actual: dict[str, date], stage_ids: Sequence[str]) -> StageWindow:
    """The window of ``stage`` from a project's actual dates (stage -> the day it was reached)."""
    start = actual.get(stage)
    later = [actual[s] for s in stage_ids[stage_ids.index(stage) + 1 :] if s in actual]
    return StageWindow(stage, start, min(later) if later else None)


def flags(
    facts: FileFacts,
    defs: EvidenceDefs,
    *,
    point: BaseGeometry | None = None,
    compound: BaseGeometry | None = None,
    window: StageWindow | None = None,
) -> list[Flag]:
    """The flags of one item, in a fixed order.

    Parameters
    ----------
    facts
        What the file records (:func:`gis.evidence.files.inspect`).
    point, compound
        The photo's position and the compound's geometry, both in the working CRS (metres); None when
        the photo has no position or the item no compound.
    window
        The stage the item documents, when it documents one.
    """
    out: list[Flag] = []
    if not facts.is_image:
        return out  # a scan or a PDF proves by what it says, not where it was made
    if point is None:
        out.append("no_position")
    if facts.taken_at is None:
        out.append("no_time")
    if point is not None and compound is not None and point.distance(compound) > defs.max_distance_m.value:
        out.append("far_from_compound")
    if window is not None:
        if window.start is None:
            out.append("stage_not_reached")
        elif facts.taken_at is not None:
            grace = timedelta(days=defs.stage_grace_days.value)
            if not window.holds(facts.taken_at.date(), grace):
                out.append("outside_stage_dates")
    return out
