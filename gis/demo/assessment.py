"""The demo's quarterly assessment (季度考核): the last full quarter's scores for the sample, with its
manual item scored citing a demo evidence item — the score and its note labelled synthetic."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from gis import clock
from gis.assessment.figures import Quarter
from gis.assessment.service import ManualEntry
from gis.demo.programme import EVIDENCE_MARK
from gis.errors import ProjectNotFoundError
from gis.export.assessment_xlsx import write_ranking
from gis.export.offline_map import save
from gis.workspace import Workspace

ASSESSMENT_MARK = "assessment: demo manual score / 合成示例考核评分"


def run_assessment_demo(ws: Workspace, console: Console, *, out_dir: Path | None = None) -> None:
    """Score the manual item of the last full quarter for the street of a demo evidence item (once),
    print the ranking and, with ``out_dir``, write the ranking table and the map coloured by score."""
    quarter = Quarter.last_full_before(clock.today()).id
    desk = ws.assessment
    items = ws.evidence.items()
    demo = items[items["synthetic"].eq(EVIDENCE_MARK) & items["withdrawn_at"].isna()]
    manual = [i for i in desk.rules.items if i.kind == "manual"]
    done = desk.manual_scores(quarter)
    published = quarter in set(desk.publications()["quarter"])
    if len(demo) and manual and not done["synthetic"].eq(ASSESSMENT_MARK).any() and not published:
        first = demo.iloc[0]
        compound = ws.layer("compounds", where={"fid": [int(first["compound_id"])]}).iloc[0]
        item = manual[0]
        note = "示例评分（合成）：已建立物业管理与居民议事机制，佐证为示例照片"
        entry = ManualEntry(
            str(compound["street"]), item.id, item.weight * 0.8, note, [int(first["id"])], synthetic=ASSESSMENT_MARK
        )
        desk.score_manual(quarter, entry, actor="demo")
    try:
        scores = desk.scores(quarter)
    except ProjectNotFoundError:
        console.print(f"assessment / 季度考核 {quarter}: no projects in its year, nothing to score")
        return
    lines = [
        f"{'—' if r['rank'] is None else r['rank']}. {r['street']} {'未计分' if r['total'] is None else r['total']}"
        for r in scores.ranking().to_dict("records")
    ]
    console.print(
        escape(
            f"assessment / 季度考核 {quarter} (manual item synthetic 合成示例"
            + (f"; not handed in 未接入: {', '.join(scores.missing)}" if scores.missing else "")
            + "): "
        )
        + escape("; ".join(lines))
    )
    if out_dir is not None:
        table = write_ranking(scores, desk.rules, out_dir / f"季度考核得分排名_{quarter}.xlsx")
        page = save(ws.map("assessment", quarter=quarter), out_dir / f"季度考核得分图_{quarter}.html")
        console.print(f"wrote {escape(str(table))}, {escape(str(page))}")
