"""Analyses over HTTP: queue a gap analysis (202 + the job's URL), follow or cancel the job, read runs.

Jobs live in the database (:mod:`gis.store.jobs`), so any server process answers for any job; each
process's runner (:mod:`gis.jobs`, started by ``api.main``) takes its share of the queue.
"""

from __future__ import annotations

import io
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.auth import Caller
from api.deps import CallerDep, IdPath, WorkspaceDep, require_planner
from api.heavy import HEAVY
from gis.cells import write_frame_csv
from gis.errors import TooManyRequestsError
from gis.gaps import runs as gap_runs
from gis.gaps.runs import GapRun
from gis.jobs import Runner, check_gaps
from gis.store import jobs
from gis.store.jobs import Job

router = APIRouter(prefix="/api", tags=["Analyses"])

JobPath = Annotated[str, Path(max_length=64, description="a job's id")]


class GapRequest(BaseModel):
    """What to analyse; every field optional."""

    facility: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, max_length=32, examples=[["kindergarten", "elderly_station"]]
    )
    standard: str = Field(default="gb50180", pattern=r"^[A-Za-z0-9_\-]{1,64}$", examples=["gb50180"])
    tolerance_m: float = Field(default=1.0, ge=0, le=50)
    max_leg_m: float = Field(default=300.0, gt=0, le=5000)
    access: Literal["all", "nearest"] = Field(
        default="all", description="all: every road segment within 30 m; nearest: the nearest segment only"
    )
    node_crossings: Literal["auto", "yes", "no"] = Field(
        default="auto", description="split road lines where they cross (auto: not OSM, not across levels)"
    )


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _view(request: Request, job: Job, caller: Caller) -> dict[str, Any]:
    """A job as the API shows it: state, times, what was asked and, once done, the run and its URL."""
    out: dict[str, Any] = {
        "job": job.id,
        "kind": job.kind,
        "status": job.status,
        "params": job.params,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at and job.started_at.isoformat(),
        "finished_at": job.finished_at and job.finished_at.isoformat(),
        "href": f"{_base(request)}/api/jobs/{job.id}",
    }
    if caller.role != "public":  # who asked is for planners
        out["actor"] = job.actor
    if job.status == "running" and job.cancel_requested:
        out["cancel_requested"] = True
    if job.result:
        out.update(job.result)
        if "run_id" in job.result:
            out["results"] = f"{_base(request)}/api/gaps/runs/{job.result['run_id']}"
    if job.detail:
        out["detail"] = job.detail
    return out


@router.post("/gaps", status_code=202, summary="Start a gap analysis (planners): queued as a job")
def start_gaps(request: Request, body: GapRequest, ws: WorkspaceDep, caller: CallerDep) -> JSONResponse:
    require_planner(caller, "starting an analysis")
    check_gaps(ws, body.model_dump())  # what the job would refuse is a 400 now, not a failed job later
    try:
        job = jobs.submit(ws.engine, "gaps", body.model_dump(), caller.actor, limit=ws.settings.job_queue)
    except TooManyRequestsError as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
    runner: Runner = request.app.state.runner
    runner.wake()
    view = _view(request, job, caller)
    return JSONResponse(view, status_code=202, headers={"Location": view["href"]})


@router.get("/jobs", summary="The latest 100 jobs, newest first (planners)")
def list_jobs(request: Request, ws: WorkspaceDep, caller: CallerDep) -> dict[str, Any]:
    require_planner(caller, "listing jobs")
    return {"jobs": [_view(request, job, caller) for job in jobs.recent(ws.engine, limit=100)]}


@router.get("/jobs/{job_id}", summary="A job: queued, running, done, failed or cancelled")
def job(request: Request, ws: WorkspaceDep, caller: CallerDep, job_id: JobPath) -> dict[str, Any]:
    found = jobs.get(ws.engine, job_id)
    if found is None:
        raise HTTPException(404, f"no job {job_id}")
    return _view(request, found, caller)


@router.delete("/jobs/{job_id}", status_code=202, summary="Cancel a job (its planner, or an admin)")
def cancel_job(request: Request, ws: WorkspaceDep, caller: CallerDep, job_id: JobPath) -> dict[str, Any]:
    """A queued job is cancelled at once; a running one is stopped by its runner within a second or so
    (``GET`` the job to see it ``cancelled``). 409 for a job that has ended."""
    require_planner(caller, "cancelling a job")
    return _view(request, jobs.cancel(ws.engine, job_id, actor=caller.actor, role=caller.role), caller)


@router.get("/gaps/runs", summary="Stored gap analysis runs")
def runs(ws: WorkspaceDep) -> dict[str, Any]:
    return {"runs": [r | {"at": r["at"].isoformat()} for r in gap_runs.list_runs(ws.engine, limit=100)]}


def get_run(ws: WorkspaceDep, run_id: IdPath) -> GapRun:
    try:
        return ws.gap_run(run_id)
    except LookupError:
        raise HTTPException(404, f"no gap run {run_id}") from None


RunDep = Annotated[GapRun, Depends(get_run)]


@router.get("/gaps/runs/{run_id}", summary="A run's per-compound results (GeoJSON, CRS84)", dependencies=HEAVY)
def run_results(run: RunDep) -> Response:
    body = json.loads(run.results.to_crs(4326).to_json(na="null", drop_id=True))
    body["run"] = {"id": run.run_id, "standard": run.standard, "basis": run.basis, "warnings": run.warnings}
    return JSONResponse(body, media_type="application/geo+json")


@router.get("/gaps/runs/{run_id}/summary", summary="A run summed up per facility type")
def run_summary(run: RunDep) -> dict[str, Any]:
    return {"run": run.run_id, "basis": run.basis, "summary": json.loads(run.summary().to_json(orient="records"))}


@router.get(
    "/exports/gaps/{run_id}.csv", summary="A run's results as CSV (UTF-8 with BOM, for Excel)", dependencies=HEAVY
)
def export_csv(run: RunDep) -> Response:
    buf = io.StringIO()
    write_frame_csv(run.results.drop(columns="geometry"), buf)
    return Response(
        "\ufeff" + buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="gaps-{run.run_id}.csv"'},
    )
