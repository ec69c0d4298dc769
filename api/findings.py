"""Inspection findings (督查问题) over HTTP, planners only: list, open, one, close with its evidence,
and the 督查通报. The library does the work (``ws.findings``); errors map by class (api.errors)."""

from __future__ import annotations

import json
import tempfile
from datetime import date
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Caller
from api.deps import CallerDep, IdPath, WorkspaceDep, require_planner
from gis.evidence.findings import Opening
from gis.export.inspection_report import write_bulletin

router = APIRouter(prefix="/api/findings", tags=["Inspections"])
On = Annotated[date | None, Query(description="their status on this day (default today)")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _planner(caller: CallerDep) -> Caller:
    require_planner(caller, "inspection findings")
    return caller


Planner = Annotated[Caller, Depends(_planner)]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(pd.Series(row, dtype=object).to_json(date_format="iso", force_ascii=False))
    for key in ("found_on", "deadline", "closed_on"):
        if isinstance(out.get(key), str):
            out[key] = out[key][:10]
    return out


@router.get("", summary="Inspection findings with their status (整改中 / 逾期 / 已整改)")
def findings(ws: WorkspaceDep, _: Planner, on: On = None, open_only: bool = Query(False, alias="open")) -> Any:
    listed = ws.findings.items(open_only=open_only, on=on)
    return {"findings": [_plain({str(k): v for k, v in r.items()}) for r in listed.to_dict("records")]}


class OpenBody(BaseModel):
    """A finding: where (the compound, optionally a point), what, who must act, by when."""

    model_config = ConfigDict(extra="forbid")
    compound_id: int = Field(ge=1, le=2**31 - 1)
    what: str = Field(min_length=1, max_length=2000, examples=["脚手架未设防护网"])
    responsible_unit: str = Field(min_length=1, max_length=200, examples=["某建设工程有限公司"])
    deadline: date
    category: str = Field(default="other", max_length=40, examples=["safety"])
    found_on: date | None = None
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    inspector: str | None = Field(default=None, max_length=200)


@router.post("", status_code=201, summary="Open a finding (its photos: gisplan findings add --photo)")
def open_finding(ws: WorkspaceDep, caller: Planner, body: OpenBody) -> dict[str, Any]:
    opening = Opening(**body.model_dump())
    return _plain(ws.findings.open(opening, actor=caller.actor, role=caller.role))


def _bulletin(ws: Any, on: date | None, suffix: str, media: str) -> Response:
    with tempfile.TemporaryDirectory() as tmp:
        content = write_bulletin(ws.findings.bulletin(on), Path(tmp) / f"bulletin{suffix}").read_bytes()
    name = f"ducha-tongbao{suffix}"
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/bulletin.html", summary="The 督查通报 as a printable HTML page (photos inline)")
def bulletin_html(ws: WorkspaceDep, _: Planner, on: On = None) -> Response:
    return _bulletin(ws, on, ".html", "text/html; charset=utf-8")


@router.get("/bulletin.xlsx", summary="The 督查通报 as XLSX")
def bulletin_xlsx(ws: WorkspaceDep, _: Planner, on: On = None) -> Response:
    return _bulletin(ws, on, ".xlsx", XLSX)


@router.get("/{finding_id}", summary="One finding, with the ids of its photos and rectification evidence")
def finding(ws: WorkspaceDep, _: Planner, finding_id: IdPath, on: On = None) -> dict[str, Any]:
    return _plain(ws.findings.get(finding_id, on=on))


@router.post("/{finding_id}/close", summary="Close a finding: the rectification photo or PDF as the request body")
async def close_finding(
    request: Request,
    ws: WorkspaceDep,
    caller: Planner,
    finding_id: IdPath,
    note: Annotated[str | None, Query(max_length=2000)] = None,
    on: Annotated[date | None, Query(description="the day it was put right (default today)")] = None,
    filename: Annotated[str, Query(max_length=255)] = "rectification",
) -> dict[str, Any]:
    body = await request.body()  # the type is read from the content, never from a header or the name
    files = [(filename, body)] if body else []
    close = partial(ws.findings.close, finding_id, files, note=note, closed_on=on, actor=caller.actor, role=caller.role)
    return _plain(await run_in_threadpool(close))  # the database's work off the event loop
