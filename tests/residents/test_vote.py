"""The owners' vote of 民法典 第二百七十八条 worked out by hand (no database): participation of all
owners by area AND by owners, then the matter's consent of those who took part; exactly 3/4 passes a
3/4 matter ("以上": at least), exactly 1/2 fails a 1/2 matter ("过半数": more than). And what the
published feedback may not carry."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from gis.errors import ProgrammeError
from gis.programme.definitions import programme_defs
from gis.residents.rules import Count, Totals, decide, residents_rules, scrub

RULE = programme_defs().owner_decisions


def _one(area: str, owners: int, fa: str, fo: int, aa: str = "0", ao: int = 0) -> Count:
    return Count(D(area), owners, D(fa), fo, D(aa), ao)


def test_a_vote_that_passes_worked_by_hand() -> None:
    # compound: 3000.00 m², 60 owners. Building 1: 1200.00 m², 25 owners take part, 1000.00 m² / 20 in
    # favour; building 2: 900.50 m², 18 owners, 600.25 m² / 12 in favour.
    # participation: 2100.50 / 3000 = 70.02 % ≥ 2/3; 43 / 60 = 71.7 % ≥ 2/3.
    # consent (选聘物业: more than half): 1600.25 / 2100.50 = 76.2 % > 1/2; 32 / 43 = 74.4 % > 1/2.
    counts = [_one("1200.00", 25, "1000.00", 20, "150.00", 4), _one("900.50", 18, "600.25", 12, "300.25", 6)]
    out = decide(RULE, None, Totals(D("3000.00"), 60), counts)
    assert out["passed"] and out["participation_met"] and out["consent_met"]
    assert (out["area"], out["owners"], out["favour_area"], out["favour_owners"]) == ("2100.50", 43, "1600.25", 32)
    shares = {line["test"].split()[0]: line["share"] for line in out["lines"]}
    # exact fractions, reduced: 2100.50/3000 = 4201/6000, 43/60, 1600.25/2100.50 = 6401/8402, 32/43
    assert shares == {"参与面积": "4201/6000", "参与人数": "43/60", "同意面积": "6401/8402", "同意人数": "32/43"}
    assert all(line["threshold"] in ("≥ 2/3", "> 1/2") for line in out["lines"])


def test_two_thirds_of_the_owners_but_not_of_the_area_fails() -> None:
    # 40 of 60 owners take part (exactly 2/3: enough), but they hold 1999.99 of 3000.00 m² (< 2/3 = 2000)
    counts = [_one("1999.99", 40, "1999.99", 40)]
    out = decide(RULE, None, Totals(D("3000.00"), 60), counts)
    assert not out["participation_met"] and out["consent_met"] and not out["passed"]
    area, owners = out["lines"][0], out["lines"][1]
    assert not area["met"] and area["share"] == "199999/300000"
    assert owners["met"] and owners["share"] == "2/3"
    assert "三分之二" in out["why"]
    # one more cent of area reaches exactly 2/3, "以上": now it passes
    assert decide(RULE, None, Totals(D("3000.00"), 60), [_one("2000.00", 40, "2000.00", 40)])["passed"]


def test_exactly_three_quarters_passes_a_three_quarter_matter() -> None:
    # 加装电梯 is decided as rebuild (改建): at least 3/4 of the participating area and owners
    assert residents_rules().topic("elevator").matter == "rebuild"
    counts = [_one("800.00", 12, "600.00", 9, "200.00", 3)]  # exactly 3/4 and 3/4
    out = decide(RULE, "rebuild", Totals(D("1000.00"), 16), counts)
    assert out["passed"] and [line["share"] for line in out["lines"][2:]] == ["3/4", "3/4"]
    short = decide(RULE, "rebuild", Totals(D("1000.00"), 16), [_one("800.00", 12, "599.99", 9)])
    assert not short["passed"] and short["participation_met"] and not short["consent_met"]


def test_exactly_half_fails_a_majority_matter() -> None:
    counts = [_one("800.00", 12, "400.00", 6, "400.00", 6)]  # exactly 1/2 by area and by owners
    out = decide(RULE, None, Totals(D("1000.00"), 16), counts)
    assert out["participation_met"] and not out["consent_met"] and not out["passed"]
    assert [line["threshold"] for line in out["lines"][2:]] == ["> 1/2", "> 1/2"]
    assert decide(RULE, None, Totals(D("1000.00"), 16), [_one("800.00", 12, "400.01", 7)])["passed"]


def test_impossible_counts_are_refused() -> None:
    with pytest.raises(ProgrammeError):
        decide(RULE, None, Totals(D("100.00"), 2), [_one("100.00", 3, "10.00", 1)])  # more owners than there are
    with pytest.raises(ProgrammeError):
        decide(RULE, None, Totals(D("100.00"), 5), [_one("50.00", 3, "40.00", 2, "20.00", 1)])  # favour+against > area


def test_every_topic_names_an_owners_matter_with_a_status() -> None:
    rules = residents_rules()
    for topic in rules.topics:
        RULE.consent(topic.matter)  # a matter of programme.yaml, or the default
        assert topic.status and topic.source
    assert rules.topic("property_mgmt").decides == "property_mgmt" and rules.topic("property_mgmt").matter is None


@pytest.mark.parametrize(
    "text",
    [
        "电话13812345678找我",
        "电话 138-1234-5678",
        "+86 138 1234 5678",
        "座机010-62345678",
        "身份证110101199003074517",
        "身份证11010119900307451X",
        "邮箱 zhang.san+x@example.com.cn",
        "门牌 12345678 号",
    ],
)
def test_published_text_carries_no_personal_data(text: str) -> None:
    out = scrub(text)
    assert "〔已隐去〕" in out and not any(ch.isdigit() for ch in out.replace("〔已隐去〕", "")), out
    assert "@" not in out


def test_ordinary_text_is_left_alone() -> None:
    assert scrub("3号楼 2单元 楼道灯坏了，已经 3 天") == "3号楼 2单元 楼道灯坏了，已经 3 天"
