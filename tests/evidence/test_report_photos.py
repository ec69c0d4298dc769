"""Before/after photos in the 一区一策 report: a published pair reaches the public's report, an
unpublished one only a planner's; the passed acceptance is shown for 公示."""

from __future__ import annotations

import re

import pytest

from gis.evidence.service import Attachment
from gis.export import compound_report
from gis.workspace import Workspace
from tests.helpers.photos import photo

pytestmark = pytest.mark.sample


def _images(page: str) -> int:
    return len(re.findall(r'<img class="photo"', page))


def test_before_after_pairs_in_the_report(ws: Workspace) -> None:
    published = ws.evidence.published()
    demo = int(published["compound_id"].iloc[0])  # the demo's finished compound: a published pair
    public = ws.export_context("public", compound_report.NEEDS)
    page = compound_report.compound_report(public, demo)
    assert "改造前后对比" in page and _images(page) == 2
    accepted = ws.acceptance.public()
    assert "综合验收" in page and demo in set(accepted["compound_id"])

    other = int(ws.layer("compounds").query("fid != @demo")["fid"].iloc[0])
    added = ws.evidence.add(Attachment(other, "环境卫生"), [("b.jpg", photo(colour=1)), ("a.jpg", photo(colour=201))])
    before, after = (int(i) for i in added["id"])
    ws.evidence.pair(before, after)
    assert _images(compound_report.compound_report(ws.export_context("public", compound_report.NEEDS), other)) == 0
    planner = compound_report.compound_report(ws.export_context("planner", compound_report.NEEDS), other)
    assert _images(planner) == 2 and f"#{before}" in planner and f"#{after}" in planner
    ws.evidence.publish(before)  # one side alone is no pair for the public
    assert _images(compound_report.compound_report(ws.export_context("public", compound_report.NEEDS), other)) == 0
    ws.evidence.publish(after)
    assert _images(compound_report.compound_report(ws.export_context("public", compound_report.NEEDS), other)) == 2
