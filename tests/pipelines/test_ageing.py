"""Ageing by the service-life rules of layers/standards/pipelines/gb50289.yaml, on lines made by hand
(no database): a material to replace is an ``ageing`` finding; age alone makes a line to assess."""

from __future__ import annotations

from datetime import date

import pandas as pd

from gis.pipelines.rules import TO_ASSESS, ageing, rules

TODAY = date(2026, 6, 1)


def test_age_alone_is_a_line_to_assess_and_a_material_is_due() -> None:
    lines = pd.DataFrame(
        {
            "fid": [1, 2, 3, 4, 5, 6, 7, 8],
            "kind": ["JS", "JS", "RQ", "RQ", "RQ", "WS", "WS", "RL"],
            "material": ["球墨铸铁", "水泥管", "PE", "钢管", "灰口铸铁", "素混凝土", "钢筋混凝土", None],
            "laid_year": [1990, 2020, 2010, 2006, 2015, 2019, 1970, 2010],
        }
    )
    found = ageing(lines, TODAY).set_index("fid_a")
    # 1: 36 years ≥ 30, by age alone: to assess. 2: 水泥管, whatever its age: due. 3: PE, 16 years < 20:
    # nothing. 4: steel, 20 years: to assess. 5: grey cast iron: due. 6: 素混凝土: due. 7: 56 years ≥ 50:
    # to assess. 8: heat, 16 years < 20: nothing
    assert found["check"].to_dict() == {
        1: "ageing_to_assess",
        2: "ageing",
        4: "ageing_to_assess",
        5: "ageing",
        6: "ageing",
        7: "ageing_to_assess",
    }
    assert all(TO_ASSESS in note for note in found.loc[found["check"] == "ageing_to_assess", "note"])
    assert not any(TO_ASSESS in note for note in found.loc[found["check"] == "ageing", "note"])
    assert "laid 1990, 36 years, 球墨铸铁" in found.loc[1, "note"]
    # each finding has the status and source of the rules it used
    life = rules()["service_life"]
    assert set(found["value_status"]) == {life["status"]} and set(found["value_source"]) == {life["source"]}


def test_only_material_rules_claim_a_line_is_due() -> None:
    # the data: a rule by age alone must say that it asks for an assessment, never that the line is due
    for rule in rules()["service_life"]["rules"]:
        assert rule["assess"] is ("material" not in rule), rule
