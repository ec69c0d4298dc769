"""The programme's rules without a database: stages forward only, no dates in the future, locked
months, spending never down, corrections naming the month they alter; and where a project stands
on a date (stage reached, behind plan, at risk). Every expected date and day count is worked out
by hand in the comments from ``layers/programme/programme.yaml`` (finish ``completed`` by 30
November; minimum days construction 90, tender 30, design 30, survey 15)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from gis.errors import AdminRequiredError, LockedMonthError, ProgrammeError, StageOrderError
from gis.programme import Project, at_risk, behind, programme_defs, stage_on
from gis.programme.rules import (
    Checks,
    advance_change,
    correction_change,
    plan_change,
    progress_events,
    require_admin,
    require_planner,
    spend_change,
)

DEFS = programme_defs()
TODAY = date(2026, 6, 30)
D = date.fromisoformat


def project(stage: str | None = None, **actual: str) -> Project:
    """A stored project (id 1) of compound 7 in 2026 with these actual dates."""
    return Project(compound_id=7, year=2026, id=1, stage=stage, actual={k: D(v) for k, v in actual.items()})


def checks(locked: str | None = None, today: date = TODAY) -> Checks:
    return Checks(DEFS, today, D(locked) if locked else None)


# -- stages move forward only -------------------------------------------------------------------------
def test_a_stage_reached_moves_the_project_forward_with_one_event() -> None:
    before = project("survey", survey="2026-01-12")
    after, events = advance_change(before, "design", D("2026-02-02"), checks(), "石油大院 (7)")
    assert after.stage == "design" and after.actual["design"] == D("2026-02-02")
    assert [(e.action, e.stage_before, e.stage_after, e.effective) for e in events] == [
        ("advance", "survey", "design", D("2026-02-02"))
    ]
    assert before.stage == "survey" and "design" not in before.actual  # the project before is untouched


def test_a_stage_never_moves_back_and_the_same_report_twice_changes_nothing() -> None:
    before = project("tender", survey="2026-01-12", design="2026-02-02", tender="2026-03-02")
    with pytest.raises(StageOrderError, match=r"石油大院 \(7\) is at 招投标 tender already"):
        advance_change(before, "design", D("2026-02-20"), checks(), "石油大院 (7)")
    same, events = advance_change(before, "tender", D("2026-03-02"), checks(), "石油大院 (7)")
    assert same is before and events == []


def test_a_passed_stage_without_its_date_is_filled_in_but_not_after_the_next_stage() -> None:
    before = project("tender", survey="2026-01-16", tender="2026-03-16")  # design's date never reported
    after, events = advance_change(before, "design", D("2026-02-18"), checks(), "c2")
    assert after.stage == "tender" and [(e.action, e.stage_after) for e in events] == [("fill", "tender")]
    with pytest.raises(ProgrammeError, match="before"):  # design on 20 March, after tender on 16 March
        advance_change(before, "design", D("2026-03-20"), checks(), "c2")


def test_an_actual_date_is_not_in_the_future() -> None:
    before = project("survey", survey="2026-01-12")
    advance_change(before, "design", TODAY, checks(), "c1")  # today is fine
    with pytest.raises(ProgrammeError, match="future"):
        advance_change(before, "design", date(2026, 7, 1), checks(), "c1")


def test_a_date_in_a_locked_month_is_refused_the_day_after_is_not() -> None:
    before = project("survey", survey="2026-01-12")
    with pytest.raises(LockedMonthError, match="2026-05"):
        advance_change(before, "design", D("2026-05-31"), checks(locked="2026-05-31"), "c1")
    after, _ = advance_change(before, "design", D("2026-06-01"), checks(locked="2026-05-31"), "c1")
    assert after.stage == "design"


def test_an_import_advances_stage_by_stage_and_never_changes_a_recorded_date() -> None:
    before = project("survey", survey="2026-01-12")
    after = before.copy()
    after.actual.update(design=D("2026-02-02"), tender=D("2026-03-02"))
    events = progress_events(before, after, checks())
    assert [(e.action, e.stage_before, e.stage_after) for e in events] == [
        ("advance", "survey", "design"),
        ("advance", "design", "tender"),
    ]
    changed = before.copy()
    changed.actual["survey"] = D("2026-01-13")
    with pytest.raises(StageOrderError, match="already"):
        progress_events(before, changed, checks())


# -- spending ----------------------------------------------------------------------------------------
def test_spending_never_goes_down() -> None:
    before = project("construction", construction="2026-04-01")
    before.investment_spent = Decimal("450.00")
    with pytest.raises(StageOrderError, match=r"goes down from 450\.00 to 400\.00"):
        spend_change(before, "400", TODAY, checks(), latest=D("2026-05-31"))
    after, events = spend_change(before, "800", TODAY, checks(), latest=D("2026-05-31"))
    assert after.investment_spent == Decimal("800.00")
    assert [(e.action, e.changes, e.effective) for e in events] == [
        ("spent", {"investment_spent": [Decimal("450.00"), Decimal("800.00")]}, TODAY)
    ]
    same, events = spend_change(before, "450", TODAY, checks(), latest=D("2026-05-31"))
    assert same is before and events == []


def test_spending_is_as_of_a_date_after_the_latest_figure_not_locked_not_future() -> None:
    before = project("construction", construction="2026-04-01")
    before.investment_spent = Decimal("100")
    with pytest.raises(StageOrderError, match="as of 2026-05-31 is recorded already"):
        spend_change(before, "200", D("2026-05-30"), checks(), latest=D("2026-05-31"))
    with pytest.raises(LockedMonthError):
        spend_change(before, "200", D("2026-05-31"), checks(locked="2026-05-31"), latest=None)
    with pytest.raises(ProgrammeError, match="future"):
        spend_change(before, "200", date(2026, 7, 1), checks(), latest=None)
    with pytest.raises(ProgrammeError, match="two decimals"):
        spend_change(before, "200.001", TODAY, checks(), latest=None)


# -- corrections and who may -------------------------------------------------------------------------
def test_a_correction_names_the_first_submitted_month_it_alters() -> None:
    before = project("construction", survey="2026-01-08", design="2026-02-05", tender="2026-03-12")
    before.actual["construction"] = D("2026-04-28")
    fields = {"stage": "construction", "on": D("2026-05-06")}
    after, events = correction_change(before, fields, " 以施工许可证为准 ", checks(), ["2026-04", "2026-05"])
    assert after.actual["construction"] == D("2026-05-06") and after.stage == "construction"
    (e,) = events
    # effective from the earliest date changed (28 April), which lies in April: the April report changes
    assert (e.action, e.effective, e.corrects_month, e.correction, e.reason) == (
        "correct",
        D("2026-04-28"),
        "2026-04",
        True,
        "以施工许可证为准",
    )
    assert e.changes == {"actual.construction": [D("2026-04-28"), D("2026-05-06")]}


def test_a_correction_may_move_a_stage_back_and_clears_the_later_dates() -> None:
    before = project("construction", survey="2026-01-12", design="2026-02-02", tender="2026-03-02")
    before.actual["construction"] = D("2026-04-01")
    after, (e,) = correction_change(before, {"stage": "tender"}, "施工许可未办", checks(), [])
    assert after.stage == "tender" and "construction" not in after.actual
    assert (e.stage_before, e.stage_after, e.corrects_month) == ("construction", "tender", None)
    with pytest.raises(ProgrammeError, match="reason"):
        correction_change(before, {"stage": "tender"}, "  ", checks(), [])
    with pytest.raises(ProgrammeError, match="changes nothing"):
        correction_change(before, {"actual": {"survey": D("2026-01-12")}}, "核对", checks(), [])


def test_only_planners_change_and_only_admins_correct() -> None:
    require_planner("planner")
    require_planner("admin")
    with pytest.raises(AdminRequiredError):
        require_planner("public")
    require_admin("admin")
    with pytest.raises(AdminRequiredError):
        require_admin("planner")


# -- the plan ----------------------------------------------------------------------------------------
def test_a_new_plan_is_one_create_event_with_items_in_the_definitions_order() -> None:
    new = Project(compound_id=7, year=2026)
    fields = {
        "categories": ["完善类", "基础类"],
        "items": ["加装电梯", "供水", "供水"],
        "planned": {"construction": D("2026-05-10"), "completed": D("2026-10-31")},
        "investment_planned": "380",
    }
    after, (e,) = plan_change(new, fields, DEFS)
    assert after.categories == ["basic", "complete"] and after.items == ["water_supply", "elevators"]
    assert e.action == "create" and e.changes["investment_planned"] == [None, Decimal("380.00")]
    _, events = plan_change(project(), {"note": None}, DEFS)
    assert events == []  # nothing given, nothing changes


def test_a_plan_refuses_items_outside_its_categories_and_dates_out_of_order() -> None:
    with pytest.raises(ProgrammeError, match="加装电梯"):
        plan_change(project(), {"categories": ["基础类"], "items": ["加装电梯"]}, DEFS)
    late_design = {"survey": D("2026-03-01"), "design": D("2026-02-01")}
    with pytest.raises(ProgrammeError, match="计划日期须按阶段先后"):
        plan_change(project(), {"planned": late_design}, DEFS)


# -- where a project stands ----------------------------------------------------------------------------
def test_the_stage_on_a_date_is_the_furthest_reached_by_then() -> None:
    actual = {"survey": D("2026-01-10"), "design": D("2026-02-01")}
    assert stage_on(actual, D("2026-01-09"), DEFS) is None
    assert stage_on(actual, D("2026-01-31"), DEFS) == "survey"
    assert stage_on(actual, D("2026-02-01"), DEFS) == "design"


PLANNED = {  # c3 of the fixture: construction planned for 1 May
    "survey": D("2026-02-01"),
    "design": D("2026-03-01"),
    "tender": D("2026-04-01"),
    "construction": D("2026-05-01"),
    "completed": D("2026-10-31"),
}


def test_behind_plan_counts_days_from_the_first_stage_missed() -> None:
    # at tender on 30 June, construction (1 May) was missed: 30 days of May + 30 of June = 60
    b = behind("tender", PLANNED, D("2026-06-30"), DEFS)
    assert (b.overdue, b.days, b.due_stage, b.due_date) == (True, 60, "construction", D("2026-05-01"))
    # on 1 May itself construction is due but not yet missed
    b = behind("tender", PLANNED, D("2026-05-01"), DEFS)
    assert (b.overdue, b.days, b.due_stage, b.due_date) == (False, 0, "construction", None)
    # not started on 2 February: survey (1 February) missed by one day
    b = behind(None, PLANNED, D("2026-02-02"), DEFS)
    assert (b.overdue, b.days, b.due_stage) == (True, 1, "survey")


def test_at_risk_against_the_latest_dates_that_still_finish_by_30_november() -> None:
    # latest dates for 2026: completed 11-30; construction 90 days before, 09-01; tender 30 before
    # that, 08-02; design 07-03; survey 15 days before design, 06-18
    assert DEFS.latest_dates(2026) == {
        "completed": D("2026-11-30"),
        "construction": D("2026-09-01"),
        "tender": D("2026-08-02"),
        "design": D("2026-07-03"),
        "survey": D("2026-06-18"),
    }
    r = at_risk("design", 2026, D("2026-08-10"), DEFS)  # tender's latest date passed 8 days ago
    assert (r.overdue, r.days, r.due_stage, r.due_date) == (True, 8, "tender", D("2026-08-02"))
    r = at_risk("design", 2026, D("2026-08-02"), DEFS)  # the day itself is still in time
    assert (r.overdue, r.days, r.due_stage) == (False, 0, "tender")
    assert not at_risk("completed", 2026, D("2026-12-31"), DEFS).overdue
