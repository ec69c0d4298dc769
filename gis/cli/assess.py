"""``gisplan assess ...``: the quarterly assessment of the streets (季度考核): scores, manual items,
publishing (the CLI user stands for the programme's admin, as ``gisplan report submit`` does), export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from gis.cli.common import actor, open_workspace, out

app = typer.Typer(
    help="The quarterly assessment (季度考核): scores, manual items, publish, export.", no_args_is_help=True
)
Q = Annotated[str, typer.Option("--quarter", help="The quarter, e.g. 2026Q3.")]


def _print(scores: object) -> None:
    from gis.assessment.scoring import QuarterScores

    assert isinstance(scores, QuarterScores)
    state = (
        f"已发布 published {scores.published_at:%Y-%m-%d} by {scores.published_by}"
        if scores.published
        else "未发布 computed"
    )
    table = Table(title=escape(f"季度考核 {scores.quarter}（截至 {scores.last_day}）— {state}"))
    for col in ("排名", "区县", "街道", "已计分分值", "总分"):
        table.add_column(col)
    for r in scores.ranking().to_dict("records"):
        total = "未计分" if r["total"] is None else str(r["total"])
        rank = "—" if r["rank"] is None else str(r["rank"])
        table.add_row(rank, escape(str(r["district"] or "")), escape(str(r["street"])), str(r["weight_scored"]), total)
    out.print(table)
    if scores.missing:
        out.print(f"未接入 not handed in: {', '.join(scores.missing)} — those items are 未计分 (not 0)")


@app.command("scores")
def assess_scores(quarter: Q, live: Annotated[bool, typer.Option(help="Recompute even if published.")] = False) -> None:
    """The quarter's scores per street, ranked (as published when it is)."""
    ws = open_workspace()
    _print(ws.assessment.scores(quarter, live=live))


@app.command("publish")
def assess_publish(quarter: Q) -> None:
    """Publish the quarter's scores and lock it (after its last 月报's deadline)."""
    ws = open_workspace()
    _print(ws.assessment.publish(quarter, actor=actor(), role="admin"))


@app.command("manual")
def assess_manual(
    quarter: Q,
    street: Annotated[str, typer.Option("--street", help="The street (街道).")],
    item: Annotated[str, typer.Option("--item", help="The manual item's id (see the scheme).")],
    points: Annotated[str, typer.Option("--points", help="The points given.")],
    note: Annotated[str, typer.Option("--note", help="What the score rests on.")],
    evidence: Annotated[
        list[int], typer.Option("--evidence", help="An evidence item id of the street's compounds (repeat).")
    ],
    district: Annotated[str | None, typer.Option("--district", help="The district (default: the evidence's).")] = None,
) -> None:
    """Score a manual item for a street, citing evidence items of its compounds."""
    from gis.assessment.service import ManualEntry

    ws = open_workspace()
    entry = ManualEntry(street, item, points, note, evidence, district=district)
    row = ws.assessment.score_manual(quarter, entry, actor=actor())
    out.print(
        escape(
            f"#{row['id']} {row['quarter']} {row['street']} {row['item']}: {row['points']} (evidence {row['evidence']})"
        )
    )


@app.command("export")
def assess_export(
    quarter: Q,
    to: Annotated[Path, typer.Option("--to", help="The XLSX to write.")] = Path("out/季度考核得分排名.xlsx"),
    map_to: Annotated[Path | None, typer.Option("--map", help="Also write the map coloured by score (HTML).")] = None,
) -> None:
    """Write the ranking table (XLSX, the bureau's layout) and, with --map, the offline map."""
    from gis.export.assessment_xlsx import write_ranking
    from gis.export.offline_map import save

    ws = open_workspace()
    desk = ws.assessment
    written = [write_ranking(desk.scores(quarter), desk.rules, to)]
    if map_to is not None:
        written.append(save(ws.map("assessment", quarter=quarter), map_to))
    for path in written:
        out.print(f"wrote {escape(str(path))}")
