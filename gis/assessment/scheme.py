"""The assessment scheme as data: ``layers/programme/assessment.yaml`` validated.

Every item states its weight, the figures it reads and how it scores them, in a small declared
vocabulary (:class:`Item`): no text is evaluated. Pure: no table is read here.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gis.assessment.figures import FIGURES
from gis.registry import read_rules
from gis.standards import Status


class Step(BaseModel):
    """A threshold band: a value reaching ``at_least`` earns ``share`` of the item's weight."""

    model_config = ConfigDict(extra="forbid")
    at_least: float = Field(ge=0)
    share: float = Field(ge=0, le=1)


class Figure(BaseModel):
    """What an item measures: the ratio of two named figures (:data:`gis.assessment.figures.FIGURES`)."""

    model_config = ConfigDict(extra="forbid")
    ratio: tuple[str, str]

    @model_validator(mode="after")
    def _known(self) -> Figure:
        unknown = [f for f in self.ratio if f not in FIGURES]
        if unknown:
            raise ValueError(f"unknown figures {unknown}; the figures: {', '.join(FIGURES)}")
        return self


class Item(BaseModel):
    """One item of the scheme: computed from figures (``kind: figure``) or scored by hand (``manual``)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    zh: str
    en: str
    weight: float = Field(gt=0, le=100)
    kind: Literal["figure", "manual"] = "figure"
    figure: Figure | None = None
    score: Literal["linear", "threshold"] | None = None
    target: float | None = Field(default=None, gt=0)
    steps: list[Step] = Field(default_factory=list)
    when_empty: Literal["full", "not_scored"] = "not_scored"
    status: Status
    source: str

    @model_validator(mode="after")
    def _complete(self) -> Item:
        if self.kind == "manual":
            if self.figure or self.score or self.steps or self.target is not None:
                raise ValueError(f"{self.id}: a manual item has no figure or score rule")
            return self
        if self.figure is None or self.score is None:
            raise ValueError(f"{self.id}: an item computed from figures names its figure and score")
        if self.score == "linear" and self.target is None:
            raise ValueError(f"{self.id}: a linear score needs a target")
        if self.score == "threshold":
            bars = [s.at_least for s in self.steps]
            if not bars or bars != sorted(bars, reverse=True) or len(set(bars)) != len(bars):
                raise ValueError(f"{self.id}: threshold steps are given from the highest down, each once")
        return self

    @property
    def points(self) -> Decimal:
        """The weight as points (two decimals)."""
        return Decimal(str(self.weight)).quantize(Decimal("0.01"))

    def rule_text(self) -> str:
        """The rule in words, for the notes of the ranking table."""
        if self.kind == "manual":
            return f"{self.zh}：人工评分（0～{self.weight:g}分），须引用本街道小区的佐证资料并说明理由"
        assert self.figure is not None
        num, den = (FIGURES[f].zh for f in self.figure.ratio)
        if self.score == "linear":
            rule = f"得分＝{self.weight:g}×min(1, 比值÷{self.target:g})"
        else:
            bands = "，".join(f"≥{s.at_least:.0%}得{s.share * self.weight:g}分" for s in self.steps)
            rule = f"分档：{bands}，其余0分"
        empty = "无应考核对象时得满分" if self.when_empty == "full" else "无应考核对象时未计分"
        return f"{self.zh}＝{num}÷{den}；{rule}；{empty}"


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    note: str
    status: Status


class Missing(BaseModel):
    """What the total does with items not scored: ``rescale`` (缺项按比例折算) or ``omit``."""

    model_config = ConfigDict(extra="forbid")
    value: Literal["rescale", "omit"]
    status: Status


class Scheme(BaseModel):
    """The scheme: its source, the items and what a missing item does to the total."""

    model_config = ConfigDict(extra="forbid")
    source: Source
    missing: Missing
    items: list[Item] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Scheme:
        ids = [i.id for i in self.items]
        if len(ids) != len(set(ids)):
            raise ValueError("assessment items must have unique ids")
        return self

    @property
    def total_points(self) -> Decimal:
        return sum((i.points for i in self.items), Decimal(0))

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)

    def missing_text(self) -> str:
        if self.missing.value == "rescale":
            return (
                f"未计分项不计入总分，总分按比例折算：已计分项得分合计×{self.total_points:g}÷已计分项分值合计"
                "（缺项按比例折算）；未计分不等于零分。"
            )
        return "未计分项不计入总分，总分为已计分项得分合计（不折算）；未计分不等于零分。"


@cache
def scheme() -> Scheme:
    """The scheme shipped in ``layers/programme/assessment.yaml`` (read once)."""
    return read_rules("assessment.yaml", Scheme)
