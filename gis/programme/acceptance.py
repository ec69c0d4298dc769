"""综合验收 (final acceptance) as data and arithmetic: ``layers/programme/acceptance.yaml`` validated,
and a team's scores turned into a result. Pure: no table is read here.

A result passes when its total reaches ``pass_score`` and every mandatory item reaches
``mandatory_min_share`` of its points; every item is scored (an item left out is refused, not taken
as zero: a checklist half filled in is not an acceptance).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache

from pydantic import BaseModel, ConfigDict, model_validator

from gis.errors import ProgrammeError
from gis.registry import read_rules
from gis.standards import Rule, Status


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    zh: str
    en: str
    points: float
    mandatory: bool
    status: Status
    source: str


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    zh: str
    en: str
    items: list[Item]


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    note: str
    status: Status


class Checklist(BaseModel):
    """The checklist: sections of items with points, the pass score and the mandatory items' floor."""

    model_config = ConfigDict(extra="forbid")
    source: Source
    pass_score: Rule
    mandatory_min_share: Rule
    sections: list[Section]

    @model_validator(mode="after")
    def _unique(self) -> Checklist:
        ids = [i.id for i in self.items]
        if len(ids) != len(set(ids)):
            raise ValueError("acceptance items must have unique ids")
        return self

    @property
    def items(self) -> list[Item]:
        return [i for s in self.sections for i in s.items]

    @property
    def total_points(self) -> float:
        return sum(i.points for i in self.items)

    def section_of(self, item_id: str) -> Section:
        return next(s for s in self.sections if any(i.id == item_id for i in s.items))


@dataclass(frozen=True)
class Score:
    """One item's score, what the team noted, and the evidence items it rests on."""

    item: str
    score: Decimal
    note: str | None = None
    evidence: tuple[int, ...] = ()


@dataclass(frozen=True)
class Result:
    """What the scores come to: the total, passed or not, and why not."""

    total: Decimal
    passed: bool
    failed_mandatory: list[str] = field(default_factory=list)
    short_of: Decimal = Decimal(0)  # points the total lacks to pass (0 when it reaches the pass score)


@cache
def checklist() -> Checklist:
    """The checklist shipped in ``layers/programme/acceptance.yaml`` (read once)."""
    return read_rules("acceptance.yaml", Checklist)


def score(scores: list[Score], rules: Checklist | None = None) -> Result:
    """The result of a complete set of scores.

    Raises
    ------
    ProgrammeError
        An item is unknown, scored twice, left out, or scored outside 0 to its points.
    """
    rules = rules or checklist()
    items = {i.id: i for i in rules.items}
    given: dict[str, Score] = {}
    for s in scores:
        if s.item not in items:
            raise ProgrammeError(f"no acceptance item {s.item!r}; the items: {', '.join(items)}")
        if s.item in given:
            raise ProgrammeError(f"acceptance item {s.item} is scored twice")
        if not Decimal(0) <= s.score <= Decimal(str(items[s.item].points)):
            raise ProgrammeError(f"{items[s.item].zh}: {s.score} is not between 0 and {items[s.item].points:g}")
        given[s.item] = s
    missing = [f"{i.id} {i.zh}" for i in rules.items if i.id not in given]
    if missing:
        raise ProgrammeError(f"every item is scored; missing: {'; '.join(missing)} / 验收表须逐项打分")
    total = sum((s.score for s in given.values()), Decimal(0))
    share = Decimal(str(rules.mandatory_min_share.value))
    failed = [i.id for i in rules.items if i.mandatory and given[i.id].score < Decimal(str(i.points)) * share]
    need = Decimal(str(rules.pass_score.value))
    return Result(
        total=total,
        passed=total >= need and not failed,
        failed_mandatory=failed,
        short_of=max(need - total, Decimal(0)),
    )
