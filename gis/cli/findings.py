"""``gisplan findings ...``: inspection findings (督查问题), restricted to planners."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from gis.cli.common import actor, compound_id, open_workspace, out, parse_date_option
from gis.cli.evidence import json_value

app = typer.Typer(
    help="Inspection findings (督查问题): open with photos, close with rectification evidence, list.",
    no_args_is_help=True,
)
STATUS_ZH = {"open": "整改中", "overdue": "逾期未整改", "closed": "已整改"}


def _line(row: dict[str, object]) -> str:
    late = f" 逾期{row['days_overdue']}天" if row["status"] == "overdue" else ""
    return escape(
        f"#{row['id']} {row['compound_name']}（{row['compound_id']}） {row['street'] or '-'} [{row['category']}] "
        f"{row['what']} — {row['responsible_unit']}, 期限 {row['deadline']}: {STATUS_ZH[str(row['status'])]}{late}"
    )


@app.command("add")
def findings_add(
    compound: Annotated[str, typer.Argument(help="The compound: its id or its unique name.")],
    what: Annotated[str, typer.Option("--what", help="What was found (问题描述).")],
    unit: Annotated[str, typer.Option("--unit", help="The unit responsible for putting it right (责任单位).")],
    deadline: Annotated[str, typer.Option("--deadline", help="The rectification deadline (整改期限), YYYY-MM-DD.")],
    category: Annotated[str, typer.Option(help="安全 质量 进度 文明施工 资料 其他 (or the English codes).")] = "other",
    photo: Annotated[list[Path] | None, typer.Option("--photo", help="A photo of it (repeat).", exists=True)] = None,
    found: Annotated[str | None, typer.Option("--found", help="The day it was found (default today).")] = None,
    at: Annotated[str | None, typer.Option("--at", help="Where: LON,LAT in WGS84 (default: the compound).")] = None,
) -> None:
    """Open a finding (and store its photos) in one transaction; you (your OS user) are its inspector."""
    from gis.evidence.findings import Opening

    ws = open_workspace()
    due = parse_date_option(deadline, "--deadline")
    assert due is not None
    lon, lat = _lon_lat(at) if at else (None, None)
    opening = Opening(
        compound_id(ws, compound),
        what,
        unit,
        due,
        category=category,
        found_on=parse_date_option(found, "--found"),
        lon=lon,
        lat=lat,
        inspector=actor(),
    )
    row = ws.findings.open(opening, [(p.name, p.read_bytes()) for p in photo or []], actor=actor())
    out.print(_line(row))


def _lon_lat(value: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in value.replace("，", ",").split(","))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not LON,LAT", param_hint="--at") from None
    return lon, lat


@app.command("close")
def findings_close(
    finding: Annotated[int, typer.Argument(help="The finding's id.")],
    photo: Annotated[
        list[Path], typer.Option("--photo", help="Rectification evidence: a photo or a PDF (repeat).", exists=True)
    ],
    note: Annotated[str | None, typer.Option(help="What was done (整改情况).")] = None,
    on: Annotated[str | None, typer.Option("--on", help="The day it was put right (default today).")] = None,
) -> None:
    """Close a finding (整改销号) with its rectification evidence: never without."""
    ws = open_workspace()
    files = [(p.name, p.read_bytes()) for p in photo]
    row = ws.findings.close(finding, files, note=note, closed_on=parse_date_option(on, "--on"), actor=actor())
    out.print(_line(row))


@app.command("list")
def findings_list(
    open_only: Annotated[bool, typer.Option("--open", help="Only those not closed (overdue included).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line, per finding.")] = False,
    on: Annotated[str | None, typer.Option("--on", help="Their status on this day (default today).")] = None,
) -> None:
    """The findings, by id, with their status (整改中 / 逾期未整改 / 已整改)."""
    ws = open_workspace()
    found = ws.findings.items(open_only=open_only, on=parse_date_option(on, "--on"))
    for row in found.to_dict("records"):
        if as_json:
            print(json.dumps({str(k): json_value(v) for k, v in row.items()}, ensure_ascii=False))
        else:
            out.print(_line({str(k): v for k, v in row.items()}))
    if not as_json:
        out.print(f"{len(found)} findings")
