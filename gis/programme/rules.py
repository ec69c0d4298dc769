"""The rules every programme change follows, as pure functions of the project before and after.

- Stages only move forward; an actual date, once given, is only changed by an admin's correction,
  which needs a reason and is recorded as a correction.
- An actual date cannot lie in the future, nor before the previous stage's.
- A submitted month is locked: nothing dated in it (or before it) changes any more except by a
  correction, which names the first submitted month it alters.
- Spending (累计完成投资) never goes down, nor is it reported as of a date before the latest figure.

Each change function returns the project after the change and the events to record (none: nothing
changes), or raises the error that says why it cannot be made; nothing here reads or writes a table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, TypedDict

from gis.errors import (
    AcceptanceRequiredError,
    AdminRequiredError,
    LockedMonthError,
    ProgrammeError,
    StageOrderError,
)
from gis.programme.dates import month_end, month_of, parse_money
from gis.programme.definitions import (
    ProgrammeDefs,
    category_codes,
    funding_code,
    item_code,
    mgmt_code,
)
from gis.programme.model import Event, Project, furthest
from gis.registry import registry

Money = Decimal | float | str


@dataclass(frozen=True)
class Checks:
    """What a change is checked against: the definitions, today, and the end of the latest submitted
    month (None before the first submission)."""

    defs: ProgrammeDefs
    today: date
    locked: date | None = None
    # project id -> the day it passed its acceptance (综合验收); filled by the caller, who reads it
    accepted: dict[int, date] = field(default_factory=dict)


class PlanFields(TypedDict, total=False):
    """The plan of a project, as :meth:`gis.programme.Programme.plan` takes it (labels or codes)."""

    categories: Sequence[str] | None
    items: Sequence[str] | None
    planned: dict[str, date] | None
    investment_planned: Money | None
    funding: dict[str, Money] | None
    property_mgmt_after: str | None
    responsible_street: str | None
    responsible_dept: str | None
    note: str | None


class ProgressFields(TypedDict, total=False):
    """What a progress report gives (see :meth:`gis.programme.Programme.progress`)."""

    stage: str | None
    on: date | None
    spent: Money | None
    as_of: date | None


class CorrectionFields(TypedDict, total=False):
    """What an admin's correction changes (see :meth:`gis.programme.Programme.correct`)."""

    stage: str | None
    on: date | None
    actual: dict[str, date | None] | None
    investment_spent: Money | None
    spent_as_of: date | None


def require_known(fields: Mapping[str, object], spec: type) -> None:
    """A keyword the change does not know is a caller's mistake, as for any Python function."""
    unknown = sorted(set(fields) - set(spec.__annotations__))
    if unknown:
        raise TypeError(f"unexpected keyword argument {unknown[0]!r}")


# -- who may -----------------------------------------------------------------------------------------
def require_planner(role: str, doing: str = "changing the programme") -> None:
    if role not in ("planner", "admin"):
        raise AdminRequiredError(f"{doing} needs a planner / 需规划人员权限")


def require_admin(role: str, doing: str = "correct the programme / 更正须由管理员进行") -> None:
    if role != "admin":
        raise AdminRequiredError(f"only an admin may {doing}")


def require_reason(reason: str | None) -> None:
    if not reason or not reason.strip():
        raise ProgrammeError("a correction needs a reason / 更正须说明理由")


def money(value: Any, what: str) -> Decimal:
    """An amount of 万元 given for ``what``; ProgrammeError when it is not one."""
    try:
        amount = parse_money(value)
    except ValueError as exc:
        raise ProgrammeError(f"{what}: {exc}") from None
    if amount is None:
        raise ProgrammeError(f"{what}: no amount given")
    return amount


# -- the checks --------------------------------------------------------------------------------------
def ordered_items(items: Sequence[str], defs: ProgrammeDefs) -> list[str]:
    """Content items once each, in the order of the definitions."""
    return sorted(dict.fromkeys(items), key=defs.item_order.__getitem__)


def check_plan(p: Project, defs: ProgrammeDefs) -> None:
    """Every content item belongs to one of the categories; planned dates follow the stage order."""
    cat_of = defs.item_categories
    for item in p.items:
        if cat_of[item] not in p.categories:
            cat = registry().code_list("renovation_category").get(cat_of[item])
            label = defs.item_label(item)
            raise ProgrammeError(
                f"content item {label} belongs to {cat.zh}, which the categories do not include / "
                f"改造内容「{label}」属于{cat.zh}，改造类别中未列"
            )
    wrong = out_of_order(p.planned, defs)
    if wrong:
        (earlier, d0), (stage, d) = wrong
        raise ProgrammeError(f"planned {stage} {d} is before planned {earlier} {d0} / 计划日期须按阶段先后")


def out_of_order(dates: dict[str, date], defs: ProgrammeDefs) -> tuple[tuple[str, date], tuple[str, date]] | None:
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


def check_order(p: Project, defs: ProgrammeDefs) -> None:
    """No stage was reached before the stage before it."""
    wrong = out_of_order(p.actual, defs)
    if wrong:
        (earlier, d0), (stage, d) = wrong
        raise ProgrammeError(f"{stage} reached {d}, before {earlier} ({d0}) / 实际日期早于上一阶段")


def check_actual(before: Project, after: Project, checks: Checks) -> None:
    """New actual dates only (a recorded one never changes), none in the future or in a locked month."""
    defs = checks.defs
    for s in defs.stage_ids:
        old, new = before.actual.get(s), after.actual.get(s)
        if old == new:
            continue
        zh = defs.stage(s).zh
        if old is not None:
            raise StageOrderError(
                f"the actual date of {zh} is {old} already; an admin corrects it with a reason "
                f"(gisplan progress correct) / 实际日期已填报，更正须由管理员说明理由"
            )
        assert new is not None
        if new > checks.today:
            raise ProgrammeError(f"{zh} on {new}: a date in the future / 实际日期不能晚于今天")
        check_accepted(after, s, new, checks)
        if checks.locked is not None and new <= checks.locked:
            raise LockedMonthError(
                f"{zh} on {new}: {month_of(checks.locked)} and before are submitted and locked; an admin "
                f"records it as a correction with a reason / 该月已上报锁定，须由管理员以更正方式录入"
            )
    check_order(after, defs)


def check_accepted(after: Project, stage: str, on: date, checks: Checks) -> None:
    """A stage that needs a passed acceptance (``accepted``) is reached on or after the day it passed."""
    if not checks.defs.stage(stage).requires_acceptance:
        return
    passed = checks.accepted.get(after.id) if after.id is not None else None
    if passed is None or on < passed:
        why = f"the acceptance was passed on {passed}, later" if passed else "no acceptance of it has passed"
        raise AcceptanceRequiredError(
            f"{checks.defs.stage(stage).zh} on {on}: {why}; record a passed 综合验收 first "
            "(gisplan acceptance record) / 须先通过综合验收"
        )


def check_spent(before: Project, after: Project, as_of: date, checks: Checks, latest: date | None) -> None:
    """Spending as of a date not in the future, not before the latest figure nor in a locked month,
    and never less than before. ``latest`` is the date of the latest figure recorded."""
    if as_of > checks.today:
        raise ProgrammeError(f"spending as of {as_of}: a date in the future")
    if latest is not None and as_of < latest:
        raise StageOrderError(
            f"spending as of {as_of}: a figure as of {latest} is recorded already; report spending as of today, "
            "or an admin corrects the earlier figure / 已有更晚日期的完成投资，请按当日填报"
        )
    locked = checks.locked
    if locked is not None and as_of <= locked:
        raise LockedMonthError(f"spending as of {as_of}: {month_of(locked)} is submitted and locked / 该月已上报锁定")
    was, now = before.investment_spent, after.investment_spent
    if was is not None and now is not None and now < was:
        raise StageOrderError(
            f"spending goes down from {was} to {now} 万元; an admin corrects it with a reason / "
            "累计完成投资不能减少，更正须由管理员"
        )


# -- the events of a change ----------------------------------------------------------------------------
def plan_events(before: Project | None, after: Project) -> list[Event]:
    """``create`` for a new project, else one ``plan`` event with every plan value that changed."""
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


def progress_events(before: Project, after: Project, checks: Checks) -> list[Event]:
    """The events of new actual dates (import): one per stage, in stage order; checked as advance checks."""
    check_actual(before, after, checks)
    defs = checks.defs
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


# -- the changes -----------------------------------------------------------------------------------------
def plan_change(before: Project, fields: PlanFields, defs: ProgrammeDefs) -> tuple[Project, list[Event]]:
    """The fields given replace the stored ones (an empty text clears it)."""
    after = before.copy()
    if fields.get("categories") is not None:
        after.categories = category_codes(fields["categories"] or [])
    if fields.get("items") is not None:
        after.items = [item_code(i, defs) for i in fields["items"] or []]
    if fields.get("planned") is not None:
        after.planned = {defs.resolve_stage(k): v for k, v in (fields["planned"] or {}).items() if v is not None}
    if fields.get("investment_planned") is not None:
        after.investment_planned = money(fields["investment_planned"], "investment_planned")
    if fields.get("funding") is not None:
        given = (fields["funding"] or {}).items()
        after.funding = {funding_code(k, defs): money(v, k) for k, v in given if v is not None}
    if fields.get("property_mgmt_after") is not None:
        after.property_mgmt_after = mgmt_code(fields["property_mgmt_after"] or "")
    for name in ("responsible_street", "responsible_dept", "note"):
        value = fields.get(name)
        if value is not None:
            setattr(after, name, value or None)
    after.items = ordered_items(after.items, defs)
    check_plan(after, defs)
    return after, plan_events(None if before.is_new else before, after)


def advance_change(before: Project, stage: str, on: date, checks: Checks, name: str) -> tuple[Project, list[Event]]:
    """``stage`` (a code) reached on ``on``: forward only, or a passed stage's missing date filled in.

    ``name`` is the compound as the refusal names it. The same report twice changes nothing.
    """
    defs = checks.defs
    after = before.copy()
    after.actual[stage] = on
    if defs.index(stage) > defs.index(before.stage):
        after.stage = stage
        check_actual(before, after, checks)
        return after, [Event("advance", {f"actual.{stage}": [None, on]}, before.stage, stage, on)]
    if before.actual.get(stage) is None:  # a stage passed without its date (skipped when reporting)
        check_actual(before, after, checks)
        return after, [Event("fill", {f"actual.{stage}": [None, on]}, before.stage, before.stage, on)]
    if before.actual[stage] == on:
        return before, []
    raise StageOrderError(
        f"{name} is at {defs.stage_label(before.stage)} already; stages only move forward — an admin corrects "
        "a wrong stage or date with a reason (gisplan progress correct) / 阶段只能前进，更正须由管理员说明理由"
    )


def spend_change(
    before: Project, amount: Money, as_of: date, checks: Checks, latest: date | None
) -> tuple[Project, list[Event]]:
    """The investment spent so far, as of ``as_of``; ``latest`` as for :func:`check_spent`."""
    after = before.copy()
    after.investment_spent = money(amount, "investment_spent")
    if after.investment_spent == before.investment_spent:
        return before, []
    check_spent(before, after, as_of, checks, latest)
    changes: dict[str, list[Any]] = {"investment_spent": [before.investment_spent, after.investment_spent]}
    return after, [Event("spent", changes, effective=as_of)]


def correction_change(
    before: Project, fields: CorrectionFields, reason: str, checks: Checks, submitted: Sequence[str]
) -> tuple[Project, list[Event]]:
    """An admin's correction with its reason: stage dates set, cleared or moved back, spending set.

    ``submitted`` are the submitted months; an event touching one names the first it alters
    (``corrects_month``) so that the next report lists it under 更正事项.
    """
    require_reason(reason)
    defs, today = checks.defs, checks.today
    after = before.copy()
    after.actual = corrected_dates(before.actual, fields, defs)
    after.stage = furthest(after.actual, defs)
    if fields.get("investment_spent") is not None:
        after.investment_spent = money(fields.get("investment_spent"), "investment_spent")
    changes = {
        f"actual.{s}": [before.actual.get(s), after.actual.get(s)]
        for s in defs.stage_ids
        if before.actual.get(s) != after.actual.get(s)
    }
    spent_as_of = fields.get("spent_as_of")
    spent = {}
    if before.investment_spent != after.investment_spent:
        spent["investment_spent"] = [before.investment_spent, after.investment_spent]
        if (spent_as_of or today) > today:
            raise ProgrammeError(f"spending as of {spent_as_of}: a date in the future")
    if not changes and not spent:
        raise ProgrammeError("the correction changes nothing / 更正内容与现有记录相同")
    for s in defs.stage_ids:
        d = after.actual.get(s)
        if d is not None and d > today:
            raise ProgrammeError(f"{defs.stage(s).zh}: {d} is in the future / 实际日期不能晚于今天")
        if d is not None and d != before.actual.get(s):
            check_accepted(after, s, d, checks)  # an admin too: accepted needs a passed acceptance
    check_order(after, defs)

    def corrects(d: date) -> str | None:  # the first submitted report the change alters
        return next((m for m in submitted if month_end(m) >= d), None)

    why = reason.strip()
    events = []
    if changes:  # stage dates: effective from the earliest date changed
        first = min(d for pair in changes.values() for d in pair if d is not None)
        events.append(Event("correct", changes, before.stage, after.stage, first, why, True, corrects(first)))
    if spent:  # spending: effective as of its own date, so later figures still follow it
        when = spent_as_of or today
        events.append(Event("correct", spent, None, None, when, why, True, corrects(when)))
    return after, events


def corrected_dates(actual: dict[str, date], fields: CorrectionFields, defs: ProgrammeDefs) -> dict[str, date]:
    """The actual dates after a correction: ``stage`` reached ``on`` (later stages cleared), then
    single dates of ``actual`` set or cleared (None)."""
    out = dict(actual)
    stage_value = fields.get("stage")
    if stage_value is not None:
        stage = defs.resolve_stage(stage_value)
        when = fields.get("on") or actual.get(stage)
        if when is None:
            raise ProgrammeError(f"give the date {defs.stage(stage).zh} was reached (--date)")
        out[stage] = when
        for s in defs.stages:
            if s.index > defs.index(stage):
                out.pop(s.id, None)
    for k, v in (fields.get("actual") or {}).items():
        sid = defs.resolve_stage(k)
        if v is None:
            out.pop(sid, None)
        else:
            out[sid] = v
    return out
