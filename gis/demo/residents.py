"""The demo's residents' voice (synthetic, labelled so): one consultation on bringing in property
management that passes and sets the project's planned mode, a notice open today on the accepted
compound, and two messages of feedback (one answered and published)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from rich.console import Console

from gis import clock
from gis.residents.consultations import Opening, Result
from gis.residents.public import Message, NoticeDraft
from gis.workspace import Workspace

RESIDENTS_MARK = "residents: drawn by gisplan demo / 合成示例居民参与"


def run_residents_demo(ws: Workspace, console: Console) -> None:
    """Re-running adds nothing (the consultation's mark is looked for first)."""
    if ws.residents.consultations()["synthetic"].eq(RESIDENTS_MARK).any():
        return
    projects = ws.programme.projects()
    if projects.empty:
        return
    today = clock.today()
    project = projects.iloc[0]
    fid = int(project["compound_id"])
    mode = "basic" if project["property_mgmt_after"] != "basic" else "professional"
    opening = Opening(
        "property_mgmt",
        "ballot",
        "引入物业管理征询（示例）",
        today - timedelta(days=30),
        today - timedelta(days=16),
        "6000.00",
        120,
        proposal=mode,
        note="合成示例 synthetic",
        synthetic=RESIDENTS_MARK,
    )
    c = ws.residents.open_consultation(fid, opening, actor="demo")
    counts = [
        Result("1号楼", "2400.00", 46, "1900.00", 37, "300.00", 6, synthetic=RESIDENTS_MARK),
        Result("2号楼", "2100.00", 42, "1500.00", 30, "400.00", 8, synthetic=RESIDENTS_MARK),
    ]
    ws.residents.record_results(c["id"], counts, actor="demo")
    outcome = ws.residents.decide(c["id"], actor="demo", synthetic=RESIDENTS_MARK)
    accepted = ws.acceptance.records()
    shown = int(accepted.iloc[0]["compound_id"]) if len(accepted) else fid
    text = "本小区综合验收已通过，现予公示。公示期内如有异议，请通过公众地图留言。（合成示例）"
    period = (today - timedelta(days=2), today + timedelta(days=5))
    draft = NoticeDraft("验收结果公示", "综合验收结果公示（示例）", text, *period, synthetic=RESIDENTS_MARK)
    ws.residents.add_notice(shown, draft, actor="demo")
    at = datetime.combine(today - timedelta(days=3), time(9, 30), clock.zone())
    first = ws.residents.submit_feedback(
        shown, Message("楼道灯已经修好，谢谢！（示例）", 5, synthetic=RESIDENTS_MARK, received_at=at), actor="demo"
    )
    ws.residents.answer(first["id"], "感谢反馈。（示例）", actor="demo")
    ws.residents.publish(first["id"], actor="demo")
    ws.residents.submit_feedback(
        shown, Message("3号楼门口施工围挡影响通行。（示例）", 3, "示例联系人", synthetic=RESIDENTS_MARK), actor="demo"
    )
    verdict = "passed" if outcome["passed"] else "not passed"
    console.print(
        f"residents / 居民参与: consultation #{c['id']} {verdict}, planned mode {outcome['applied_mode']}; "
        f"a notice open on compound {shown}; 2 feedback items (1 published) — synthetic (gisplan residents …)"
    )
