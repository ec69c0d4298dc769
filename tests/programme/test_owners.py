"""The programme's scope and the owners' thresholds of 民法典 第二百七十八条, read from
layers/programme/programme.yaml, against votes worked out by hand (no database)."""

from __future__ import annotations

import pytest

from gis.errors import ProgrammeError
from gis.programme.definitions import programme_defs


def test_participation_is_two_thirds_of_area_and_of_owners_at_least() -> None:
    rule = programme_defs().owner_decisions
    take_part = rule.participation
    assert rule.status == "confirmed" and "第二百七十八条" in rule.source
    assert take_part.of == ["area", "owners"] and take_part.of_whom == "all"
    # 以上 counts the share itself: 200 of 300 owners is exactly two thirds and enough; 199 is not
    assert take_part.met(200, 300) and not take_part.met(199, 300)


def test_the_three_quarter_matters_by_subject_and_the_rest_by_half() -> None:
    rule = programme_defs().owner_decisions
    # raising the fund, altering or rebuilding, changing common parts: three quarters of the participants
    for matter in ("raise_maintenance_fund", "rebuild", "change_common_use"):
        consent = rule.consent(matter)
        assert consent.of_whom == "participants" and consent.met(150, 200) and not consent.met(149, 200)
    # using the fund (not raising it) and any other matter: more than half; exactly half is not enough
    for consent in (rule.consent("use_maintenance_fund"), rule.consent(None)):
        assert consent.met(101, 200) and not consent.met(100, 200)
    with pytest.raises(ProgrammeError):
        rule.consent("item_7")  # matters are named by subject, never by a local rule's number


def test_the_scope_and_the_categories_say_how_far_they_go() -> None:
    defs = programme_defs()
    assert defs.scope.built_by_end_of_year.value == 2000 and defs.scope.built_by_end_of_year.status == "strong"
    assert {e.status for e in defs.scope.local_extensions} == {"local_rule"}
    improve = defs.categories["improve"]
    # the 提升类 list is the one the second search found whole; the 基础类 utilities were not found verbatim
    assert {improve.item_status(i) for i in improve.items} == {"strong"}
    basic = defs.categories["basic"]
    status = {i.id: basic.item_status(i) for i in basic.items}
    assert status["building_repair"] == "strong" and status["fibre"] == "unverified"
