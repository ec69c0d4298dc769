"""Who the programme is for and what the owners must agree to, as data (``layers/programme/programme.yaml``
``scope`` and ``owner_decisions``), validated.

The owners' thresholds are those of 民法典 第二百七十八条, named by subject (a local rule's item
numbers differ from the article's): who must take part in a vote, and the consent each matter needs.
Every share counts twice, by exclusive (专有部分) area and by owners, and both must be met.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict

from gis.errors import ProgrammeError
from gis.standards import Sourced, Status


class Share(BaseModel):
    """A threshold: ``share`` (numerator, denominator) of ``of_whom`` (all owners, or those taking
    part), reached when met (``at_least``: 以上, the share itself counts) or passed (过半数: more than)."""

    model_config = ConfigDict(extra="forbid")
    share: tuple[int, int]
    at_least: bool
    of: list[Literal["area", "owners"]]
    of_whom: Literal["all", "participants"]

    @property
    def fraction(self) -> Fraction:
        return Fraction(*self.share)

    def met(self, part: float, whole: float) -> bool:
        """Whether ``part`` of ``whole`` (one count: area or owners) reaches the threshold."""
        if whole <= 0:
            return False
        ratio = Fraction(part) / Fraction(whole)
        return ratio >= self.fraction if self.at_least else ratio > self.fraction


class Matter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    zh: str
    en: str
    consent: Share


class OwnerDecisions(BaseModel):
    """The participation every vote needs, and the consent of each matter (the rest: ``default_consent``)."""

    model_config = ConfigDict(extra="forbid")
    status: Status
    source: str
    participation: Share
    default_consent: Share
    matters: list[Matter]

    def consent(self, matter: str | None) -> Share:
        """The consent a matter needs; ``None`` (any other matter) needs the default."""
        if matter is None:
            return self.default_consent
        for m in self.matters:
            if m.id == matter:
                return m.consent
        raise ProgrammeError(f"unknown owners' matter {matter!r}; known: {', '.join(m.id for m in self.matters)}")


class ScopeExtension(BaseModel):
    model_config = ConfigDict(extra="forbid")
    place: str
    built_by_end_of_year: int
    status: Status
    note: str = ""


class Scope(BaseModel):
    """The compounds the programme is for (built by the end of a year) and local extensions seen."""

    model_config = ConfigDict(extra="forbid")
    built_by_end_of_year: Sourced
    local_extensions: list[ScopeExtension] = []
