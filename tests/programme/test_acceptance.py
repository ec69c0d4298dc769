"""综合验收: a record scored by hand against the checklist's own numbers; a failed mandatory item blocks
``accepted`` whatever the total; a re-inspection that passes lets it through, not before its day."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import yaml

from gis.errors import AcceptanceRequiredError, NotFoundError, ProgrammeError
from gis.evidence.acceptance import Sheet
from gis.evidence.service import Attachment
from gis.export.acceptance_sheet import write_sheet
from gis.programme.acceptance import Score, checklist, score
from gis.workspace import Workspace
from tests.helpers.photos import photo

pytestmark = pytest.mark.sample
CHECKLIST = yaml.safe_load(
    __import__("importlib.resources").resources.files("layers.programme").joinpath("acceptance.yaml").read_text("utf-8")
)


def full() -> dict[str, float]:
    return {i["id"]: float(i["points"]) for s in CHECKLIST["sections"] for i in s["items"]}


def test_the_result_as_worked_by_hand() -> None:
    points = full()
    assert sum(points.values()) == 100
    # every item at full points but fire safety (mandatory, 8 points) at 4: 96, yet failed (4 < 0.6 x 8)
    scores = [Score(k, Decimal(str(v))) for k, v in points.items() if k != "fire_access"]
    failed = score([*scores, Score("fire_access", Decimal(4))])
    assert failed.total == Decimal(96) and not failed.passed and failed.failed_mandatory == ["fire_access"]
    # worked by hand: the mandatory items at full points (10+6+8+8+9+8 = 49) with fire at 5 (>= 4.8): 54;
    # optional road 8, lighting 5, barrier-free 5, networks 8 = 26, the rest 0: 80, the pass score
    exact = {
        k: (v if any(i["id"] == k and i["mandatory"] for s in CHECKLIST["sections"] for i in s["items"]) else 0)
        for k, v in points.items()
    }
    exact |= {"fire_access": 5, "road_surface": 8, "lighting": 5, "barrier_free": 5, "networks_renewed": 8}
    passed = score([Score(k, Decimal(str(v))) for k, v in exact.items()])
    assert passed.total == Decimal(80) and passed.passed and not passed.failed_mandatory
    short = score([Score(k, Decimal(str(v - 0.5 if k == "lighting" else v))) for k, v in exact.items()])
    assert short.total == Decimal("79.5") and not short.passed and short.short_of == Decimal("0.5")
    with pytest.raises(ProgrammeError, match="missing"):
        score(scores)
    with pytest.raises(ProgrammeError, match="between 0 and 8"):
        score([*scores, Score("fire_access", Decimal(9))])
    assert checklist().pass_score.value == CHECKLIST["pass_score"]["value"] == 80


def _completed(ws: Workspace) -> tuple[int, date]:
    """The project that completed first of those not accepted yet, and its completion day (two days
    ago or earlier: the acceptance and the re-inspection come after it, and not in the future)."""
    st = ws.programme.projects()
    days = {}
    for fid in st.loc[st["stage"] == "completed", "compound_id"].astype(int):
        done = [e for e in ws.programme.history(fid).to_dict("records") if e["stage_after"] == "completed"]
        days[fid] = done[-1]["effective"]
    fid = min(days, key=lambda f: days[f])
    assert days[fid] <= date.today() - timedelta(days=2)
    return fid, days[fid]


def test_a_failed_mandatory_item_blocks_accepted_until_a_reinspection_passes(ws: Workspace) -> None:
    fid, completed = _completed(ws)
    day = completed + timedelta(days=1)
    with pytest.raises(AcceptanceRequiredError, match="no acceptance"):
        ws.programme.advance(fid, "accepted", day, actor="街道")
    scores = full() | {"long_term_mgmt": 2}  # no long-term management yet: mandatory, 2 < 4.8
    with pytest.raises(ProgrammeError, match="rectified"):
        ws.acceptance.record(fid, Sheet(day, ["区住建委 王工"], scores))
    first = ws.acceptance.record(fid, Sheet(day, ["区住建委 王工", "居民代表 李"], scores, ["落实物业服务"]))
    assert float(first["total"]) == 94 and not first["passed"] and first["failed_mandatory"] == ["long_term_mgmt"]
    with pytest.raises(AcceptanceRequiredError):
        ws.programme.advance(fid, "accepted", day, actor="街道")

    # the re-inspection the next day: passes; accepted from that day, not before
    again = day + timedelta(days=1)
    with pytest.raises(NotFoundError):
        ws.acceptance.record(fid, Sheet(again, ["王工"], full(), reinspects=first["id"] + 1000))
    second = ws.acceptance.record(fid, Sheet(again, ["区住建委 王工"], full(), reinspects=first["id"]))
    assert second["passed"] and second["reinspects"] == first["id"]
    with pytest.raises(ProgrammeError, match="passed"):
        ws.acceptance.record(fid, Sheet(again, ["王工"], full(), reinspects=second["id"]))
    with pytest.raises(AcceptanceRequiredError, match="later"):
        ws.programme.advance(fid, "accepted", again - timedelta(days=1), actor="街道")
    ws.programme.advance(fid, "accepted", again, actor="街道")
    assert ws.programme.projects().set_index("compound_id").loc[fid, "stage"] == "accepted"
    assert fid in set(ws.acceptance.public()["compound_id"])
    # an admin's correction cannot move 验收 before the passed day either
    with pytest.raises(AcceptanceRequiredError):
        ws.programme.correct(fid, stage="accepted", on=day, reason="日期填错", actor="管理员", role="admin")


def test_scores_cite_standing_evidence_of_the_compound(ws: Workspace) -> None:
    fid, completed = _completed(ws)
    other = int(ws.layer("compounds").query("fid != @fid")["fid"].iloc[0])
    mine = ws.evidence.add(Attachment(fid, "验收"), [("a.jpg", photo(colour=11))])
    theirs = ws.evidence.add(Attachment(other, "验收"), [("b.jpg", photo(colour=222))])
    day = completed + timedelta(days=1)
    cite_theirs = full() | {"records_complete": (9, "影像齐全", [int(theirs["id"].iloc[0])])}
    with pytest.raises(ProgrammeError, match="evidence"):
        ws.acceptance.record(fid, Sheet(day, ["王工"], cite_theirs))
    mine_id = int(mine["id"].iloc[0])
    record = ws.acceptance.record(fid, Sheet(day, ["王工"], full() | {"records_complete": (9, "影像齐全", [mine_id])}))
    cited = {s["item"]: s for s in record["scores"]}
    assert list(cited["records_complete"]["evidence"]) == [mine_id] and cited["records_complete"]["note"] == "影像齐全"
    # a record is never changed
    with ws.engine.begin() as conn, pytest.raises(Exception, match=r"append-only|permission denied"):
        conn.exec_driver_sql("UPDATE acceptances SET passed = false")


def test_the_sheet_escapes_what_the_team_wrote(ws: Workspace, tmp_path: Path) -> None:
    fid, completed = _completed(ws)
    pic = ws.evidence.add(Attachment(fid, "验收"), [("a.jpg", photo(colour=61))])
    pic_id = int(pic["id"].iloc[0])
    hostile = "<script>alert(1)</script>"
    scores = full() | {"fire_access": 4, "records_complete": (9, '=HYPERLINK("http://x")', [pic_id])}
    rec = ws.acceptance.record(fid, Sheet(completed + timedelta(days=1), [hostile, "王工"], scores, [hostile]))
    html_path = write_sheet(ws.acceptance.sheet(int(rec["id"])), tmp_path / "验收表.html")
    page = html_path.read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "未通过" in page and "消防通道畅通" in page and "依据未核实" in page  # every item is unverified
    assert page.count("data:image/jpeg;base64,") == 1  # the cited photo, inline
    book = openpyxl.load_workbook(write_sheet(ws.acceptance.sheet(int(rec["id"])), tmp_path / "验收表.xlsx"))
    cells = [c for row in book.active.iter_rows() for c in row if c.value is not None]
    note = next(c for c in cells if isinstance(c.value, str) and c.value.startswith("=HYPERLINK"))
    assert note.data_type == "s"  # text, never a formula
    assert any("96 / 100" in str(c.value) for c in cells)  # 100 - 4 on fire safety
