"""The residents' rules as data (``layers/programme/residents.yaml``) and the owners' vote worked out
with exact fractions.

The thresholds are the programme's ``owner_decisions`` (:mod:`gis.programme.owners`: 民法典 第二百七十八条);
this module maps each consultation topic to one of its matters by subject and applies the shares to
the counts: participation of all owners (≥ 2/3 of the exclusive area AND of the owners), then the
matter's consent of those who took part (> 1/2, or ≥ 3/4 for raising the fund, rebuilding and
changing the use of common parts). Every figure is a :class:`fractions.Fraction` of exact decimals,
never a float: 2/3 of 3000.00 m² is 2000 m², and 2000.00 m² reaches it.

Also here: what the public's feedback may not show (:func:`scrub`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict

from gis.errors import ProgrammeError
from gis.programme.owners import OwnerDecisions, Share
from gis.registry import read_rules
from gis.standards import Status


class Topic(BaseModel):
    """A consultation's subject and the owners' matter it is decided as (None: the default)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    zh: str
    en: str
    matter: str | None
    decides: str | None = None  # "property_mgmt": a passed outcome sets the project's planned mode
    status: Status
    source: str
    note: str = ""


class Labelled(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    zh: str
    en: str


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int
    seconds: int


class FeedbackLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status
    source: str
    max_chars: int
    max_contact_chars: int
    per_client: Window
    everyone: Window
    satisfied_from: int


class ResidentsRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topics: list[Topic]
    channels: list[Labelled]
    notice_kinds: list[Labelled]
    feedback: FeedbackLimits

    def topic(self, topic_id: str) -> Topic:
        for t in self.topics:
            if t.id == topic_id or t.zh == topic_id:
                return t
        raise ProgrammeError(
            f"unknown topic {topic_id!r}; known: {', '.join(t.id for t in self.topics)} / 未知征询事项"
        )

    def channel(self, channel_id: str) -> str:
        return _pick(self.channels, channel_id, "channel / 征询方式")

    def notice_kind(self, kind: str) -> str:
        return _pick(self.notice_kinds, kind, "notice kind / 公示类别")


def _pick(options: Sequence[Labelled], given: str, what: str) -> str:
    for o in options:
        if given in (o.id, o.zh):
            return o.id
    raise ProgrammeError(f"unknown {what} {given!r}; known: {', '.join(o.id for o in options)}")


@cache
def residents_rules() -> ResidentsRules:
    """The rules shipped in ``layers/programme/residents.yaml`` (read once); every topic's matter is
    one of the programme's owners' matters."""
    return read_rules("residents.yaml", ResidentsRules)


# -- the vote ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Count:
    """One building's or household's result: the exclusive area (m²) and the owners who took part,
    and of them those in favour and those against (abstaining is the rest)."""

    area: Decimal
    owners: int
    favour_area: Decimal
    favour_owners: int
    against_area: Decimal
    against_owners: int

    def check(self) -> None:
        values = (self.area, self.favour_area, self.against_area, self.owners, self.favour_owners, self.against_owners)
        if any(v < 0 for v in values):
            raise ProgrammeError("counts cannot be negative / 票数与面积不能为负")
        if self.favour_area + self.against_area > self.area or self.favour_owners + self.against_owners > self.owners:
            raise ProgrammeError("in favour and against exceed those taking part / 同意与反对之和超过参与表决")


@dataclass(frozen=True)
class Totals:
    """The compound's (or unit's) whole: every owner and all the exclusive area (m²)."""

    area: Decimal
    owners: int


def _test(share: Share, part: Fraction, whole: Fraction) -> tuple[bool, Fraction | None]:
    """Whether ``part`` of ``whole`` reaches the share (``at_least``: ≥, else >), and the ratio."""
    if whole <= 0:
        return False, None
    ratio = part / whole
    return (ratio >= share.fraction if share.at_least else ratio > share.fraction), ratio


def _frac(value: Decimal | int) -> Fraction:
    return Fraction(value)  # a Decimal converts exactly


def _show(f: Fraction | None) -> str:
    if f is None:
        return "—"
    return f"{f.numerator}/{f.denominator}" if f.denominator != 1 else str(f.numerator)


def _line(
    what: str, part: Fraction, whole: Fraction, share: Share, met: bool, ratio: Fraction | None
) -> dict[str, Any]:
    sign = "≥" if share.at_least else ">"
    pct = "—" if ratio is None else f"{float(ratio):.2%}"
    return {
        "test": what,
        "part": _show(part),
        "whole": _show(whole),
        "share": _show(ratio),
        "percent": pct,
        "threshold": f"{sign} {_show(share.fraction)}",
        "met": met,
        "text": f"{what}: {_show(part)} / {_show(whole)} = {pct} {sign} {_show(share.fraction)}: "
        + ("是 met" if met else "否 not met"),
    }


def decide(rule: OwnerDecisions, matter: str | None, totals: Totals, counts: Sequence[Count]) -> dict[str, Any]:
    """The owners' decision on ``matter`` from the counts (each building's or household's), worked out.

    Returns
    -------
    dict
        ``passed``, ``participation_met``, ``consent_met``, the summed counts, ``lines`` (each test:
        part / whole = share against the threshold, met or not) and ``why`` (Chinese first).
    """
    for c in counts:
        c.check()
    area = sum((c.area for c in counts), Decimal(0))
    owners = sum(c.owners for c in counts)
    favour_area = sum((c.favour_area for c in counts), Decimal(0))
    favour_owners = sum(c.favour_owners for c in counts)
    against_area = sum((c.against_area for c in counts), Decimal(0))
    against_owners = sum(c.against_owners for c in counts)
    if area > totals.area or owners > totals.owners:
        raise ProgrammeError("more take part than the compound has / 参与表决的面积或人数超过总数")
    take_part, consent = rule.participation, rule.consent(matter)
    tests = (
        ("参与面积 participating area", take_part, area, totals.area),
        ("参与人数 participating owners", take_part, owners, totals.owners),
        ("同意面积 area in favour", consent, favour_area, area),
        ("同意人数 owners in favour", consent, favour_owners, owners),
    )
    lines = []
    for what, share, part, whole in tests:
        met, ratio = _test(share, _frac(part), _frac(whole))
        lines.append(_line(what, _frac(part), _frac(whole), share, met, ratio))
    part_met = lines[0]["met"] and lines[1]["met"]
    consent_met = lines[2]["met"] and lines[3]["met"]
    passed = part_met and consent_met
    if passed:
        why = "通过：参与与同意均达到法定比例 / passed: participation and consent both reached"
    elif not part_met:
        why = (
            "未通过：参与表决未达到专有部分面积和人数均三分之二以上 / "
            "failed: participation below 2/3 of the area or of the owners"
        )
    else:
        sign = "以上" if consent.at_least else "过"
        why = (
            f"未通过：同意未达到参与表决者的{_show(consent.fraction)}{sign} / "
            f"failed: consent short of {_show(consent.fraction)} of the participants"
        )
    return {
        "matter": matter,
        "passed": passed,
        "participation_met": part_met,
        "consent_met": consent_met,
        "total_area": str(totals.area),
        "total_owners": totals.owners,
        "area": str(area),
        "owners": owners,
        "favour_area": str(favour_area),
        "favour_owners": favour_owners,
        "against_area": str(against_area),
        "against_owners": against_owners,
        "lines": lines,
        "why": why,
    }


# -- what the public may not see ---------------------------------------------------------------------
# e-mail addresses; mainland ID cards (18 digits, the last may be X; the old 15); mobile numbers
# (1[3-9] + 9 digits, with or without +86 and separators); landlines (0 + area code + 7–8 digits);
# then any other run of 7 or more digits (a number written with spaces or dashes included).
HIDDEN = "〔已隐去〕"
SCRUB = (
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.ASCII),
    re.compile(r"(?<!\d)\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)"),
    re.compile(r"(?<!\d)\d{15}(?!\d)"),
    re.compile(r"(?:\+?86[\s-]?)?(?<!\d)1[3-9]\d(?:[\s-]?\d){8}(?!\d)"),
    re.compile(r"(?<!\d)0\d{2,3}[\s-]?\d{7,8}(?!\d)"),
    re.compile(r"\d(?:[\s-]?\d){6,}"),
)


def scrub(text: str) -> str:
    """``text`` with e-mail addresses, ID-card numbers, phone numbers and any other long run of
    digits replaced by 〔已隐去〕: what is published of a message never carries personal data."""
    for pattern in SCRUB:
        text = pattern.sub(HIDDEN, text)
    return text


def check_topics(rules: ResidentsRules, owners: OwnerDecisions) -> None:
    """Every topic's matter is one of the owners' matters (a RegistryError-like ProgrammeError names it)."""
    for t in rules.topics:
        owners.consent(t.matter)
