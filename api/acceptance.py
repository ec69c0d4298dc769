"""综合验收 over HTTP: the checklist and the records for planners, the printable 验收表, and what 公示
shows to everyone (each project's passed acceptance: compound, day, total)."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api import jsonable
from api.deps import CallerDep, IdPath, WorkspaceDep, require_planner
from gis.evidence.acceptance import Sheet
from gis.export.acceptance_sheet import write_sheet

router = APIRouter(prefix="/api", tags=["综合验收 Acceptance"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Compound = Annotated[int | None, Query(ge=1, le=2**63 - 1, description="only this compound's records")]


class ItemScore(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: float = Field(ge=0, le=1000)
    note: str | None = Field(default=None, max_length=2000)
    evidence: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(default=[], max_length=100)


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")
    compound_id: int = Field(ge=1, le=2**63 - 1)
    held_on: date
    team: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1, max_length=50)
    # item -> score (an unknown item is refused by the checklist; no key schema: OpenAPI 3.0 has none)
    scores: dict[str, ItemScore] = Field(max_length=200)
    findings: list[Annotated[str, Field(max_length=2000)]] = Field(default=[], max_length=100)
    reinspects: int | None = Field(default=None, ge=1, le=2**63 - 1)
    year: int | None = Field(default=None, ge=2000, le=2100)


@router.get("/acceptance/checklist", summary="The checklist: items, points, mandatory, the status of each rule")
def checklist(ws: WorkspaceDep) -> list[dict[str, Any]]:
    return jsonable.records(ws.acceptance.checklist())


@router.get("/acceptance/public", summary="公示: each project's passed acceptance (compound, day, total), for everyone")
def public(ws: WorkspaceDep) -> list[dict[str, Any]]:
    return jsonable.records(ws.acceptance.public())


@router.get("/acceptance", summary="Acceptance records (planners)")
def records(ws: WorkspaceDep, caller: CallerDep, compound_id: Compound = None) -> list[dict[str, Any]]:
    require_planner(caller, "acceptance records")
    return jsonable.records(ws.acceptance.records(compound_id))


@router.post("/acceptance", status_code=201, summary="Record an acceptance: every item scored (planners)")
def record(ws: WorkspaceDep, caller: CallerDep, body: Record) -> dict[str, Any]:
    require_planner(caller, "recording an acceptance")
    scores = {k: (v.score, v.note, v.evidence) for k, v in body.scores.items()}
    sheet = Sheet(body.held_on, body.team, scores, body.findings, body.reinspects)
    return jsonable.value(
        ws.acceptance.record(body.compound_id, sheet, year=body.year, actor=caller.actor, role=caller.role)
    )


@router.get("/acceptance/{record_id}", summary="One record with its scores (planners)")
def one(ws: WorkspaceDep, caller: CallerDep, record_id: IdPath) -> dict[str, Any]:
    require_planner(caller, "acceptance records")
    return jsonable.value(ws.acceptance.get(record_id))


def _sheet(ws: Any, record_id: int, suffix: str, media_type: str) -> Response:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_sheet(ws.acceptance.sheet(record_id), Path(tmp) / f"sheet{suffix}")
        data = path.read_bytes()
    name = f"acceptance-{record_id}{suffix}"
    return Response(data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/acceptance/{record_id}/sheet.xlsx", summary="The printable 验收表, XLSX (planners)")
def sheet_xlsx(ws: WorkspaceDep, caller: CallerDep, record_id: IdPath) -> Response:
    require_planner(caller, "the 验收表")
    return _sheet(ws, record_id, ".xlsx", XLSX)


@router.get("/acceptance/{record_id}/sheet.html", summary="The printable 验收表, HTML with the cited photos (planners)")
def sheet_html(ws: WorkspaceDep, caller: CallerDep, record_id: IdPath) -> Response:
    require_planner(caller, "the 验收表")
    return _sheet(ws, record_id, ".html", "text/html; charset=utf-8")
