"""What the programme looks like, as data: ``layers/programme/programme.yaml`` validated.

The stages (their order is the ``stage`` code list of ``layers/codes.yaml``), each stage's milestone
and minimum duration, the categories and their content items, the funding sources, the finishing
deadline and the monthly report's title, unit, filer and deadline day; the programme's scope and
the owners' thresholds (:mod:`gis.programme.owners`). Each category and item carries its status.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache, cached_property
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict

from gis.errors import ProgrammeError, RegistryError
from gis.programme.dates import parse_month
from gis.programme.owners import OwnerDecisions, Scope
from gis.registry import CodeList, Labels, normalise_label, registry
from gis.standards import Status
from gis.yamlfiles import load_yaml


class Milestone(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str
    en: str


class StageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    milestone: Milestone
    min_days: int
    status: str
    # reached only on or after the day of a passed 综合验收 (layers/programme/acceptance.yaml)
    requires_acceptance: bool = False


@dataclass(frozen=True)
class StageDef:
    """A stage with its place in the order: the code list's labels and the YAML's milestone."""

    id: str
    zh: str
    en: str
    index: int
    milestone_zh: str
    milestone_en: str
    min_days: int
    requires_acceptance: bool = False


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    zh: str
    en: str
    aliases: list[str] = []
    status: Status | None = None  # None: the category's items_status


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str
    status: Status  # of the category and its note
    items_status: Status  # of its items, unless an item says otherwise
    items: list[Item]

    def item_status(self, item: Item) -> Status:
        return item.status or self.items_status


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
    scope: Scope
    owner_decisions: OwnerDecisions
    stages_spec: dict[str, StageSpec]
    finish_stage: str
    finish_by: dict[str, Any]
    categories: dict[str, Category]
    funding_sources: dict[str, Any]
    uncovered_modes: list[str]
    report: ReportSpec
    timezone: str = "Asia/Shanghai"  # read by gis.clock, the one clock

    @property
    def stage_codes(self) -> CodeList:
        return registry().code_list("stage")

    @cached_property
    def stages(self) -> list[StageDef]:
        out = []
        for i, code in enumerate(self.stage_codes.codes):
            spec = self.stages_spec[code.id]
            milestone = spec.milestone
            out.append(
                StageDef(
                    code.id, code.zh, code.en, i, milestone.zh, milestone.en, spec.min_days, spec.requires_acceptance
                )
            )
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

    def stage_label(self, stage: str | None) -> str:
        """A stage as a message names it: ``施工 construction``, or ``未启动 not started``."""
        return f"{self.stage(stage).zh} {stage}" if stage else "未启动 not started"

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
        return dict(self.item_categories)

    @cached_property
    def item_categories(self) -> dict[str, str]:
        """Each content item's category (read once: every row of an import asks)."""
        return {item.id: cat for cat, spec in self.categories.items() for item in spec.items}

    @cached_property
    def item_order(self) -> dict[str, int]:
        """Each content item's place in the definitions' order."""
        return {item.id: i for i, (_cat, item) in enumerate(self.items())}

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
        """The day the report of ``month`` is due: the deadline day of the following month."""
        y, m = parse_month(month)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return date(y, m, int(self.report.deadline_day["value"]))


@cache
def programme_defs() -> ProgrammeDefs:
    """The programme definitions shipped in ``layers/programme/programme.yaml`` (read once)."""
    text = resources.files("layers.programme").joinpath("programme.yaml").read_text(encoding="utf-8")
    raw = load_yaml(text)
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


# -- labels as planners write them, to codes (ProgrammeError for an unknown one) ---------------------
def category_codes(values: Iterable[str]) -> list[str]:
    """Renovation categories (基础类 / complete / 提升类 ...) as codes, in the code list's order."""
    codes = registry().code_list("renovation_category")
    out = set()
    for v in values:
        c = codes.resolve(v)
        if c is None:
            raise ProgrammeError(f"unknown category {v!r} / 未知改造类别; valid: 基础类 完善类 提升类")
        out.add(c)
    return [c for c in codes.ids if c in out]


def item_code(value: str, defs: ProgrammeDefs) -> str:
    """A content item (供水, elevators ...) as its id."""
    item = defs.resolve_item(value)
    if item is None:
        raise ProgrammeError(f"unknown content item {value!r} / 未知改造内容 (see layers/programme/programme.yaml)")
    return item


def funding_code(value: str, defs: ProgrammeDefs) -> str:
    """A funding source (中央补助, local ...) as its code."""
    code = defs.funding.resolve(value)
    if code is None:
        raise ProgrammeError(f"unknown funding source {value!r} / 未知资金来源; valid: {', '.join(defs.funding.ids)}")
    return code


def mgmt_code(value: str) -> str:
    """A property management mode (专业物业, none ...) as its code."""
    code = registry().code_list("property_mgmt").resolve(value)
    if code is None:
        raise ProgrammeError(f"unknown property management mode {value!r} / 未知物业管理方式")
    return code
