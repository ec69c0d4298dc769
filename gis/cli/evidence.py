"""``gisplan evidence ...``: photos, scans and PDFs kept as proof (资料留存), restricted to planners."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from gis.cli.common import actor, compound_id, err, open_workspace, out

app = typer.Typer(
    help="Evidence (资料留存): attach photos and documents, list, verify every file, export, withdraw.",
    no_args_is_help=True,
)
LIST_FIELDS = ["id", "compound_id", "category", "stage", "sha256", "taken_at", "lon", "lat", "flags"]
MORE_FIELDS = ["filename", "media_type", "note", "actor", "added_at", "month", "side", "pair", "published"]


def json_value(value: Any) -> Any:
    """A value as JSON holds it: None for NaN and NaT, ISO text for dates, lists for arrays."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "isoformat"):
        return None if str(value) == "NaT" else value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


@app.command("add")
def evidence_add(
    compound: Annotated[str, typer.Argument(help="The compound: its id or its unique name.")],
    files: Annotated[list[Path], typer.Argument(help="Photos (JPEG, PNG, WebP, TIFF) or PDFs.", exists=True)],
    category: Annotated[
        str, typer.Option(help="违建 临建 环境卫生 管线 施工 完工 验收 其他 (or the English codes).")
    ] = "other",
    stage: Annotated[str | None, typer.Option(help="The project stage the files document (施工, 完工 ...).")] = None,
    note: Annotated[str | None, typer.Option(help="What the files show.")] = None,
    side: Annotated[str | None, typer.Option(help="before (改造前) or after (改造后).")] = None,
) -> None:
    """Attach files to a compound in one transaction (all or none). Each is recognised by its content,
    stored once under its SHA-256, and flagged when it does not prove what it is attached to."""
    from gis.evidence.service import Attachment

    ws = open_workspace()
    attachment = Attachment(compound_id(ws, compound), category=category, stage=stage, note=note, side=side)
    added = ws.evidence.add(attachment, [(p.name, p.read_bytes()) for p in files], actor=actor())
    for row in added.to_dict("records"):
        marks = ", ".join(row["flags"]) or "ok"
        out.print(f"#{row['id']} {escape(str(row['filename']))} {row['sha256'][:12]} {row['category']}: {marks}")


@app.command("list")
def evidence_list(
    compound: Annotated[str | None, typer.Argument(help="Only this compound (id or name).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line, per item.")] = False,
) -> None:
    """The items, oldest first, with their flags; withdrawn items say so."""
    ws = open_workspace()
    found = ws.evidence.items(compound_id(ws, compound) if compound else None)
    for row in found.to_dict("records"):
        if as_json:
            keys = [*LIST_FIELDS, *MORE_FIELDS, "withdrawn_at", "withdraw_reason"]
            print(json.dumps({k: json_value(row[k]) for k in keys}, ensure_ascii=False))
            continue
        gone = f" [withdrawn: {escape(str(row['withdraw_reason']))}]" if row["withdrawn_at"] is not None else ""
        marks = ", ".join(row["flags"]) or "ok"
        out.print(
            f"#{row['id']} compound {row['compound_id']} {row['category']} {row['stage'] or '-'} "
            f"{escape(str(row['filename']))} {row['sha256'][:12]} {marks}{gone}"
        )
    if not as_json:
        out.print(f"{len(found)} items")


@app.command("verify")
def evidence_verify() -> None:
    """Prove every item's file is present and matches its SHA-256; exit 1 naming each that is not."""
    report = open_workspace().evidence.verify()
    for row in report.missing:
        err.print(f"[red]missing[/] #{row['id']} {row['sha256']} {escape(str(row['filename']))}")
    for row in report.changed:
        err.print(f"[red]changed[/] #{row['id']} {row['sha256']} {escape(str(row['filename']))}")
    out.print(f"{report.items} items, {report.files} files ({report.bytes:,} bytes)")
    if not report.ok:
        err.print(f"{len(report.missing)} missing, {len(report.changed)} changed / 资料文件缺失或被改动")
        raise typer.Exit(1)
    out.print("every file is present and matches its SHA-256 / 全部文件完整")


@app.command("export")
def evidence_export(
    compound: Annotated[str, typer.Argument(help="The compound: id or name.")],
    out_dir: Annotated[Path, typer.Option("--out", help="The folder to write the files and evidence.csv into.")],
) -> None:
    """Write a compound's standing items (each checked against its SHA-256) and a listing."""
    ws = open_workspace()
    written = ws.evidence.export(compound_id(ws, compound), out_dir)
    out.print(f"wrote {len(written) - 1} files and {escape(str(written[-1]))}")


@app.command("withdraw")
def evidence_withdraw(
    item: Annotated[int, typer.Argument(help="The item's id.")],
    reason: Annotated[str, typer.Option(help="Why (kept with the item, audited).")],
) -> None:
    """Withdraw an item (撤回) with a reason; it is kept, never deleted. The command line acts as an admin."""
    row = open_workspace().evidence.withdraw(item, reason, actor=actor(), role="admin")
    out.print(f"withdrew #{row['id']}: {escape(str(row['withdraw_reason']))}")


@app.command("publish")
def evidence_publish(
    item: Annotated[int, typer.Argument(help="The item's id.")],
    undo: Annotated[bool, typer.Option("--undo", help="Take it off the public map.")] = False,
) -> None:
    """Show a photo to the public (公示: before/after of a finished compound), or take it back."""
    open_workspace().evidence.publish(item, not undo, actor=actor(), role="admin")
    out.print(f"#{item} {'unpublished' if undo else 'published'}")


@app.command("pair")
def evidence_pair(
    before: Annotated[int, typer.Argument(help="The photo before (改造前).")],
    after: Annotated[int, typer.Argument(help="The photo after (改造后) of the same place.")],
) -> None:
    """Pair a before and an after photo, shown side by side in the 一区一策 report and on the map."""
    key = open_workspace().evidence.pair(before, after, actor=actor(), role="admin")
    out.print(f"paired {before} (before) and {after} (after): {key}")
