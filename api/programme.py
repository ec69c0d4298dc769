"""The renovation programme over HTTP (planners): projects and progress, corrections (admins), the
schedule table, and the monthly statistics (统计月报) with their submission."""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api import jsonable, workers
from api.auth import Caller
from api.deps import CallerDep, IdPath, WorkersDep, WorkspaceDep, require_admin, require_planner
from gis.errors import ImportRefusedError
from gis.programme import (
    MonthReport,
    ScheduleImportReport,
)
from gis.workspace import Workspace

router = APIRouter(prefix="/api", tags=["Programme"])
MONTH = r"^(20\d\d|2100)-(0[1-9]|1[0-2])$"
Month = Annotated[str, PathParam(pattern=MONTH, description="YYYY-MM", examples=["2026-11"])]
Year = Annotated[int | None, Query(ge=2000, le=2100, description="programme year (default: the latest)")]
On = Annotated[date | None, Query(description="as on this date (default today, or the as_of day)")]
AsOf = Annotated[
    str | None,
    Query(
        description="the programme as it stood then, rebuilt from its event log: an ISO date (the end of that "
        "day, programme time zone) or a datetime with offset",
        examples=["2026-03-31"],
    ),
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _planner(caller: CallerDep) -> Caller:
    require_planner(caller, "the programme")
    return caller


Planner = Annotated[Caller, Depends(_planner)]


F = TypeVar("F", bound=pd.DataFrame)


def _iso_dates(frame: F) -> F:
    frame = frame.copy()
    for c in frame.columns:
        if c != "geometry" and frame[c].map(lambda v: isinstance(v, date)).any():
            frame[c] = frame[c].map(lambda v: v.isoformat() if isinstance(v, date) else None)
    return frame


@router.get("/programme", summary="Projects of a year with stage and overdue (GeoJSON, CRS84)")
def programme(ws: WorkspaceDep, _: Planner, year: Year = None, on: On = None, as_of: AsOf = None) -> Response:
    st = ws.programme.status(year, on, as_of=as_of)
    geo = _iso_dates(st).to_crs(4326)
    body = json.loads(geo.to_json(na="null", drop_id=True))
    body["year"] = int(st["year"].iloc[0]) if len(st) else year
    return JSONResponse(body, media_type="application/geo+json")


@router.get("/programme/risks", summary="Overdue and at-risk projects, and per street")
def risks(ws: WorkspaceDep, _: Planner, year: Year = None, on: On = None, as_of: AsOf = None) -> dict[str, Any]:
    return {
        "projects": jsonable.records(_iso_dates(ws.programme.risks(year, on, as_of=as_of))),
        "by_street": jsonable.records(ws.programme.risks_by_street(year, on, as_of=as_of)),
    }


@router.get("/programme/property-coverage", summary="Property management coverage before and after renovation")
def coverage(ws: WorkspaceDep, _: Planner, year: Year = None, as_of: AsOf = None) -> dict[str, Any]:
    return {"coverage": jsonable.records(ws.programme.property_coverage(year, as_of=as_of))}


@router.get("/programme/schedule.xlsx", summary="The schedule table (时间配档表) of a year, as stored")
def schedule(ws: WorkspaceDep, _: Planner, year: Year = None) -> Response:
    with tempfile.TemporaryDirectory() as tmp:
        path = ws.programme.write_schedule(Path(tmp) / "schedule.xlsx", year)
        content = path.read_bytes()
    return Response(content, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="schedule.xlsx"'})


@router.post("/programme/schedule", summary="Import a schedule table (the XLSX as the request body)")
async def import_schedule(
    request: Request, pool: WorkersDep, caller: Planner, year: Year = None, strict: bool = False
) -> Any:
    body = await request.body()  # at most GISPLAN_MAX_SCHEDULE_MB: capped by api.bodies as it streamed
    # reading 10,000 rows and recording each takes half a minute: in a worker process, not here
    try:
        return await pool.run(_import_schedule, caller, body, year, strict)
    except ImportRefusedError as exc:
        detail = exc.report.model_dump() if isinstance(exc.report, ScheduleImportReport) else None
        problem = {"type": "about:blank", "title": "Unprocessable Content", "status": 422, "detail": str(exc)}
        return JSONResponse({**problem, "report": detail}, status_code=422, media_type="application/problem+json")


def _import_schedule(caller: Caller, body: bytes, year: int | None, strict: bool) -> dict[str, Any]:
    """In a worker process: import the XLSX in ``body``; returns the report."""
    ws = workers.workspace()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "schedule.xlsx"
        path.write_bytes(body)
        report = ws.programme.import_schedule(path, year=year, strict=strict, actor=caller.actor, role=caller.role)
    out: dict[str, Any] = report.model_dump(exclude={"path"})
    return out


@router.get("/programme/{compound_id}", summary="One project: plan, stage dates and every recorded change")
def project(ws: WorkspaceDep, _: Planner, compound_id: IdPath, year: Year = None, as_of: AsOf = None) -> dict[str, Any]:
    st = ws.programme.projects_on(year, None, as_of=as_of)
    row = st[st["compound_id"] == compound_id]
    if row.empty:
        raise HTTPException(404, f"no project for compound {compound_id}")
    history = ws.programme.history(compound_id, int(row.iloc[0]["year"]), as_of=as_of)
    return {"project": jsonable.records(_iso_dates(row))[0], "history": jsonable.records(history)}


class ProgressBody(BaseModel):
    """A stage reached on a date (forward only), and/or the investment spent so far."""

    model_config = ConfigDict(populate_by_name=True)
    stage: str | None = Field(default=None, examples=["construction"])
    on: date | None = Field(default=None, alias="date", description="the date the stage was reached (default today)")
    spent: float | None = Field(default=None, ge=0, description="investment spent so far (as of today), 万元")
    year: int | None = Field(default=None, ge=2000, le=2100)


@router.post("/programme/{compound_id}/progress", summary="Report progress (planners): a stage reached")
def progress(ws: WorkspaceDep, caller: Planner, compound_id: IdPath, body: ProgressBody) -> dict[str, Any]:
    role = caller.role
    if body.stage is None and body.spent is None:
        raise HTTPException(422, "give a stage and/or spent")
    # the stage and the spending in one transaction: both are recorded, or (either refused) neither
    ws.programme.progress(
        compound_id,
        year=body.year,
        actor=caller.actor,
        role=role,
        stage=body.stage,
        on=body.on,
        spent=None if body.spent is None else str(body.spent),
    )
    return project(ws, caller, compound_id, body.year)


class CorrectionBody(BaseModel):
    """An admin's correction; a reason is required."""

    model_config = ConfigDict(populate_by_name=True)
    reason: str = Field(min_length=1, examples=["开工日期录入错误，以施工许可证为准"])
    stage: str | None = None
    on: date | None = Field(default=None, alias="date")
    actual: dict[str, date | None] | None = None
    investment_spent: float | None = Field(default=None, ge=0)
    spent_as_of: date | None = None
    year: int | None = Field(default=None, ge=2000, le=2100)


@router.post("/programme/{compound_id}/corrections", status_code=201, summary="Correct a project (admins)")
def correct(ws: WorkspaceDep, caller: CallerDep, compound_id: IdPath, body: CorrectionBody) -> dict[str, Any]:
    require_admin(caller, "correcting the programme")
    spent = None if body.investment_spent is None else str(body.investment_spent)
    ws.programme.correct(
        compound_id,
        reason=body.reason,
        stage=body.stage,
        on=body.on,
        actual=body.actual,
        investment_spent=spent,
        spent_as_of=body.spent_as_of,
        year=body.year,
        actor=caller.actor,
        role=caller.role,
    )
    return project(ws, caller, compound_id, body.year)


def _report(ws: Workspace, month: str, year: int | None, live: bool, as_of: str | None = None) -> MonthReport:
    return ws.report_month(month, year=year, live=live, as_of=as_of)


def _download(rep: MonthReport, suffix: str, media: str) -> Response:
    with tempfile.TemporaryDirectory() as tmp:
        path = rep.write(Path(tmp) / f"report{suffix}")
        content = path.read_bytes()
    name = f"yuebao-{rep.month}{suffix}"
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/reports/months", summary="Submitted months: when, by whom, deadline, late")
def months(ws: WorkspaceDep, _: Planner) -> dict[str, Any]:
    return {"submissions": jsonable.records(ws.programme.submissions())}


@router.get("/reports/month/{month}.xlsx", summary="The 统计月报 as XLSX")
def month_xlsx(
    ws: WorkspaceDep, _: Planner, month: Month, year: Year = None, live: bool = False, as_of: AsOf = None
) -> Response:
    return _download(_report(ws, month, year, live, as_of), ".xlsx", XLSX)


@router.get("/reports/month/{month}.csv", summary="The 统计月报 as CSV (UTF-8 with BOM)")
def month_csv(
    ws: WorkspaceDep, _: Planner, month: Month, year: Year = None, live: bool = False, as_of: AsOf = None
) -> Response:
    return _download(_report(ws, month, year, live, as_of), ".csv", "text/csv; charset=utf-8")


@router.get("/reports/month/{month}", summary="The 统计月报 of a month (as submitted when locked)")
def month_json(
    ws: WorkspaceDep, _: Planner, month: Month, year: Year = None, live: bool = False, as_of: AsOf = None
) -> dict[str, Any]:
    return _report(ws, month, year, live, as_of).to_dict()


@router.post("/reports/month/{month}/submit", status_code=201, summary="Submit (上报) a month and lock it")
def submit(ws: WorkspaceDep, caller: CallerDep, month: Month, year: Year = None) -> dict[str, Any]:
    require_admin(caller, "submitting and locking a month")
    return ws.programme.submit(month, actor=caller.actor, role=caller.role, year=year).to_dict()
