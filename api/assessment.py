"""The quarterly assessment (季度考核) over HTTP: planners read the scheme, a quarter's scores and the
ranking table (XLSX) and record manual scores; admins publish (and lock) a quarter; anyone, the
public included, may read a *published* quarter's ranking — street totals and ranks only, never the
items, notes or evidence (an unpublished quarter does not exist for that route: 404)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Caller
from api.deps import CallerDep, WorkspaceDep, require_admin, require_planner
from gis.assessment.service import ManualEntry
from gis.export.assessment_xlsx import write_ranking

router = APIRouter(prefix="/api/assessment", tags=["Assessment"])
QuarterPath = Annotated[str, PathParam(pattern=r"^(20\d\d|2100)Q[1-4]$", description="YYYYQn", examples=["2026Q3"])]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PUBLIC_COLUMNS = ["rank", "district", "street", "total"]


def _planner(caller: CallerDep) -> Caller:
    require_planner(caller, "the quarterly assessment")
    return caller


Planner = Annotated[Caller, Depends(_planner)]


@router.get("/scheme", summary="The assessment scheme: items, weights, rules, status and source")
def scheme(ws: WorkspaceDep, _: Planner) -> dict[str, Any]:
    frame = ws.assessment.scheme()
    return {"items": frame.to_dict("records"), "missing": ws.assessment.rules.missing.value}


@router.get("/{quarter}.xlsx", summary="The quarter's ranking table (季度考核得分排名) as XLSX")
def scores_xlsx(ws: WorkspaceDep, _: Planner, quarter: QuarterPath) -> Response:
    desk = ws.assessment
    with tempfile.TemporaryDirectory() as tmp:
        content = write_ranking(desk.scores(quarter), desk.rules, Path(tmp) / "ranking.xlsx").read_bytes()
    name = f"kaohe-{quarter}.xlsx"
    return Response(content, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/{quarter}/ranking", summary="A published quarter's street totals and ranks (public)")
def ranking(ws: WorkspaceDep, quarter: QuarterPath) -> dict[str, Any]:
    ranked = ws.assessment.ranking(quarter, published_only=True)
    rows = [
        {"rank": r["rank"], "district": r["district"], "street": r["street"]}
        | {"total": None if r["total"] is None else str(r["total"])}
        for r in ranked[PUBLIC_COLUMNS].to_dict("records")
    ]
    return {"quarter": quarter, "published": True, "streets": rows}


@router.get("/{quarter}", summary="A quarter's scores per street and item (as published when it is)")
def scores(ws: WorkspaceDep, _: Planner, quarter: QuarterPath) -> dict[str, Any]:
    return ws.assessment.scores(quarter).to_dict()


class ManualBody(BaseModel):
    """A manual item's score for a street, with what it rests on and the evidence items it cites."""

    model_config = ConfigDict(extra="forbid")
    street: str = Field(min_length=1, max_length=200, examples=["学院路街道"])
    item: str = Field(min_length=1, max_length=40, examples=["long_term_management"])
    points: float = Field(ge=0, le=100)
    note: str = Field(min_length=1, max_length=2000)
    evidence: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(min_length=1, max_length=50)
    district: str | None = Field(default=None, max_length=200)


@router.post("/{quarter}/manual", status_code=201, summary="Score a manual item for a street (planners)")
def manual(ws: WorkspaceDep, caller: Planner, quarter: QuarterPath, body: ManualBody) -> dict[str, Any]:
    entry = ManualEntry(body.street, body.item, str(body.points), body.note, body.evidence, district=body.district)
    return ws.assessment.score_manual(quarter, entry, actor=caller.actor, role=caller.role)


@router.post("/{quarter}/publish", status_code=201, summary="Publish a quarter's scores and lock it (admins)")
def publish(ws: WorkspaceDep, caller: CallerDep, quarter: QuarterPath) -> dict[str, Any]:
    require_admin(caller, "publishing and locking a quarter's assessment")
    return ws.assessment.publish(quarter, actor=caller.actor, role=caller.role).to_dict()
