"""``gisplan residents ...``: 居民参与 — consultations (征求居民意见), notices (公示), the public's feedback.

Every value from the data is printed escaped (rich markup in a resident's message is shown as text).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from gis.cli.common import actor, compound_id, open_workspace, out, parse_date_option

app = typer.Typer(help="居民参与: consultations, 公示 notices and the public's feedback.", no_args_is_help=True)
consult = typer.Typer(help="征求居民意见: open, record results, work out the outcome.", no_args_is_help=True)
notice = typer.Typer(help="公示: add, list, close notices.", no_args_is_help=True)
feedback = typer.Typer(help="The public's feedback: list, answer, publish, reject, close.", no_args_is_help=True)
app.add_typer(consult, name="consult")
app.add_typer(notice, name="notice")
app.add_typer(feedback, name="feedback")


def _required_date(value: str, param: str) -> Any:
    day = parse_date_option(value, param)
    if day is None:
        raise typer.BadParameter(f"{param} is required")
    return day


def _pair(value: str, param: str) -> tuple[str, int]:
    """``AREA:OWNERS`` as (area text, owners)."""
    area, colon, owners = value.partition(":")
    if not colon or not owners.strip().isdigit():
        raise typer.BadParameter(f"{param}: give area and owners as AREA:OWNERS, e.g. 1000.00:20")
    return area.strip(), int(owners)


def _show_outcome(o: dict[str, Any]) -> None:
    figures = o["figures"]
    for line in figures["lines"]:
        out.print(f"  {escape(line['text'])}")
    verdict = "[green]通过 passed[/]" if o["passed"] else "[red]未通过 not passed[/]"
    out.print(f"outcome #{o['id']}: {verdict} — {escape(figures['why'])}")
    if o.get("applied_mode"):
        out.print(f"  planned property management set / 已设定计划物业管理方式: {escape(str(o['applied_mode']))}")


@consult.command("open")
def consult_open(
    compound: Annotated[str, typer.Argument(help="The compound: id or name.")],
    topic: Annotated[str, typer.Option(help="property_mgmt, menu, elevator, … (layers/programme/residents.yaml).")],
    title: Annotated[str, typer.Option(help="What is asked.")],
    period: Annotated[str, typer.Option(help="First and last day: 2026-03-01:2026-03-15.")],
    totals: Annotated[str, typer.Option(help="All the exclusive area (m²) and all the owners: 2400.00:48.")],
    channel: Annotated[str, typer.Option(help="meeting, ballot, online, door_to_door, questionnaire.")] = "ballot",
    proposal: Annotated[str | None, typer.Option(help="For property_mgmt: the mode put to the vote.")] = None,
) -> None:
    """Open a consultation of the compound's owners."""
    from gis.residents.consultations import Opening

    ws = open_workspace()
    opens, _, closes = period.partition(":")
    area, owners = _pair(totals, "--totals")
    first, last = _required_date(opens, "--period"), _required_date(closes, "--period")
    opening = Opening(topic, channel, title, first, last, area, owners, proposal=proposal)
    c = ws.residents.open_consultation(compound_id(ws, compound), opening, actor=actor(), role="admin")
    out.print(f"consultation #{c['id']}: {escape(str(c['title']))} ({c['topic']}, matter {c['matter'] or 'default'})")


@consult.command("record")
def consult_record(
    consultation: Annotated[int, typer.Argument(help="The consultation's id.")],
    unit: Annotated[str, typer.Option(help="The building (or household) counted.")],
    taking_part: Annotated[str, typer.Option(help="Exclusive area (m²) and owners taking part: 1000.00:20.")],
    favour: Annotated[str, typer.Option(help="Area and owners in favour: 700.00:14.")],
    against: Annotated[str, typer.Option(help="Area and owners against: 200.00:4.")] = "0:0",
    household: Annotated[bool, typer.Option(help="The unit is a household, not a building.")] = False,
    supersedes: Annotated[int | None, typer.Option(help="The result this corrects.")] = None,
) -> None:
    """Record one building's (or household's) counts; a correction names the result it supersedes."""
    from gis.residents.consultations import Result

    ws = open_workspace()
    kind = "household" if household else "building"
    area, owners = _pair(taking_part, "--taking-part")
    fa, fo = _pair(favour, "--favour")
    aa, ao = _pair(against, "--against")
    r = Result(unit, area, owners, fa, fo, aa, ao, kind, supersedes)
    standing = ws.residents.record_results(consultation, [r], actor=actor(), role="admin")
    out.print(f"{len(standing)} standing result(s) of consultation #{consultation}")


@consult.command("outcome")
def consult_outcome(
    consultation: Annotated[int, typer.Argument(help="The consultation's id.")],
    on: Annotated[str | None, typer.Option("--date", help="The day it is decided (default today).")] = None,
) -> None:
    """Work out and store the outcome (民法典 第二百七十八条); a passed property-management vote sets the plan."""
    ws = open_workspace()
    _show_outcome(ws.residents.decide(consultation, on=parse_date_option(on, "--date"), actor=actor(), role="admin"))


@consult.command("list")
def consult_list(compound: Annotated[str | None, typer.Option(help="Only this compound.")] = None) -> None:
    """The consultations."""
    ws = open_workspace()
    for c in ws.residents.consultations(compound_id(ws, compound) if compound else None).to_dict("records"):
        out.print(
            f"#{c['id']} {c['compound_id']} {c['topic']} {c['opens_on']}–{c['closes_on']} {escape(str(c['title']))}"
        )


@notice.command("add")
def notice_add(
    compound: Annotated[str, typer.Argument(help="The compound: id or name.")],
    kind: Annotated[str, typer.Option(help="改造方案公示, 验收结果公示, 征求意见结果公示 … (or plan, acceptance …).")],
    title: Annotated[str, typer.Option(help="The notice's title.")],
    start: Annotated[str, typer.Option("--from", help="First day shown.")],
    end: Annotated[str, typer.Option("--to", help="Last day shown.")],
    text: Annotated[str | None, typer.Option(help="The text (plain).")] = None,
    text_file: Annotated[Path | None, typer.Option(help="The text from a UTF-8 file.", exists=True)] = None,
) -> None:
    """Publish a notice (公示) of a compound for its period."""
    from gis.residents.public import NoticeDraft

    ws = open_workspace()
    body = text_file.read_text(encoding="utf-8") if text_file else (text or "")
    draft = NoticeDraft(kind, title, body, _required_date(start, "--from"), _required_date(end, "--to"))
    n = ws.residents.add_notice(compound_id(ws, compound), draft, actor=actor(), role="admin")
    out.print(f"notice #{n['id']}: {escape(str(n['title']))} {n['from_on']}–{n['to_on']}")


@notice.command("list")
def notice_list(compound: Annotated[str | None, typer.Option(help="Only this compound.")] = None) -> None:
    """Every notice, closed ones marked."""
    ws = open_workspace()
    for n in ws.residents.notices(compound_id(ws, compound) if compound else None).to_dict("records"):
        closed = " [closed]" if n["closed_by"] else ""
        out.print(
            f"#{n['id']} {n['compound_id']} {n['kind']} {n['from_on']}–{n['to_on']}{closed} {escape(str(n['title']))}"
        )


@notice.command("close")
def notice_close(notice_id: Annotated[int, typer.Argument(help="The notice's id.")]) -> None:
    """Close a notice before its period ends."""
    ws = open_workspace()
    ws.residents.close_notice(notice_id, actor=actor(), role="admin")
    out.print(f"notice #{notice_id} closed")


@feedback.command("list")
def feedback_list(compound: Annotated[str | None, typer.Option(help="Only this compound.")] = None) -> None:
    """The feedback with where it stands (the contact included: planners only)."""
    ws = open_workspace()
    for f in ws.residents.feedback(compound_id(ws, compound) if compound else None, role="admin").to_dict("records"):
        closed = " 已办结" if f["closed_at"] is not None and str(f["closed_at"]) != "NaT" else ""
        rating = f" ★{int(f['rating'])}" if f["rating"] == f["rating"] and f["rating"] is not None else ""
        out.print(f"#{f['id']} {f['compound_id']} [{f['moderation']}{closed}]{rating} {escape(str(f['body']))[:200]}")
        if isinstance(f["contact"], str):
            out.print(f"    contact / 联系方式: {escape(f['contact'])}")


@feedback.command("answer")
def feedback_answer(
    feedback_id: Annotated[int, typer.Argument(help="The item's id.")],
    reply: Annotated[str, typer.Argument(help="The reply (答复).")],
) -> None:
    """Answer an item."""
    open_workspace().residents.answer(feedback_id, reply, actor=actor(), role="admin")
    out.print(f"feedback #{feedback_id} answered")


@feedback.command("publish")
def feedback_publish(
    feedback_id: Annotated[int, typer.Argument(help="The item's id.")],
    text: Annotated[str | None, typer.Option(help="Publish this (edited) text instead.")] = None,
) -> None:
    """Publish an item, its text scrubbed of phone, ID-card numbers and e-mail addresses."""
    item = open_workspace().residents.publish(feedback_id, text=text, actor=actor(), role="admin")
    out.print(f"feedback #{feedback_id} published: {escape(str(item['published_text']))}")


@feedback.command("reject")
def feedback_reject(feedback_id: Annotated[int, typer.Argument(help="The item's id.")]) -> None:
    """Refuse (or withdraw) an item's publication."""
    open_workspace().residents.reject(feedback_id, actor=actor(), role="admin")
    out.print(f"feedback #{feedback_id} not published")


@feedback.command("close")
def feedback_close(feedback_id: Annotated[int, typer.Argument(help="The item's id.")]) -> None:
    """Close an item (办结)."""
    open_workspace().residents.close(feedback_id, actor=actor(), role="admin")
    out.print(f"feedback #{feedback_id} closed")
