"""Analyses over HTTP: start a gap analysis (202 + a status URL), read runs, download results."""

from __future__ import annotations

import io
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.deps import CallerDep, IdPath, WorkspaceDep, require_planner
from gis.cells import write_frame_csv
from gis.gaps import runs as gap_runs
from gis.gaps.analysis import GapParameters
from gis.gaps.runs import GapRun

router = APIRouter(prefix="/api", tags=["Analyses"])


class GapRequest(BaseModel):
    """What to analyse; every field optional."""

    facility: list[str] | None = Field(default=None, examples=[["kindergarten", "elderly_station"]])
    standard: str = Field(default="gb50180", examples=["gb50180"])
    tolerance_m: float = Field(default=1.0, ge=0, le=50)
    max_leg_m: float = Field(default=300.0, gt=0, le=5000)


class Jobs:
    """Analyses run one at a time in a worker thread; their state lives as long as the process
    (the results themselves are stored in the database as runs)."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gisplan-job")
        self.state: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def submit(self, fn: Any) -> str:
        job_id = uuid.uuid4().hex
        with self.lock:
            self.state[job_id] = {"status": "running"}

        def run() -> None:
            try:
                result = fn()
                update = {"status": "done", **result}
            except Exception as exc:  # reported to the caller in the job's status, safely worded
                update = {
                    "status": "failed",
                    "detail": str(exc) if isinstance(exc, ValueError | KeyError) else "failed",
                }
            with self.lock:
                self.state[job_id] = update

        self.pool.submit(run)
        return job_id


def _jobs(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


@router.post("/gaps", status_code=202, summary="Start a gap analysis (planners)")
def start_gaps(request: Request, body: GapRequest, ws: WorkspaceDep, caller: CallerDep) -> JSONResponse:
    require_planner(caller, "starting an analysis")
    params = GapParameters(tolerance_m=body.tolerance_m, max_leg_m=body.max_leg_m)

    def work() -> dict[str, Any]:
        run = ws.run_gaps(body.facility, standard=body.standard, params=params, actor=caller.actor)
        return {"run_id": run.run_id, "basis": run.basis, "warnings": run.warnings}

    job_id = _jobs(request).submit(work)
    status = f"{str(request.base_url).rstrip('/')}/api/jobs/{job_id}"
    return JSONResponse(
        {"job": job_id, "status": "running", "href": status}, status_code=202, headers={"Location": status}
    )


@router.get("/jobs/{job_id}", summary="The state of a job")
def job(request: Request, job_id: str) -> dict[str, Any]:
    state = _jobs(request).state.get(job_id)
    if state is None:
        raise HTTPException(404, f"no job {job_id}")
    out = dict(state)
    if "run_id" in out:
        out["results"] = f"{str(request.base_url).rstrip('/')}/api/gaps/runs/{out['run_id']}"
    return out


@router.get("/gaps/runs", summary="Stored gap analysis runs")
def runs(ws: WorkspaceDep) -> dict[str, Any]:
    return {"runs": [r | {"at": r["at"].isoformat()} for r in gap_runs.list_runs(ws.engine, limit=100)]}


def get_run(ws: WorkspaceDep, run_id: IdPath) -> GapRun:
    try:
        return ws.gap_run(run_id)
    except LookupError:
        raise HTTPException(404, f"no gap run {run_id}") from None


RunDep = Annotated[GapRun, Depends(get_run)]


@router.get("/gaps/runs/{run_id}", summary="A run's per-compound results (GeoJSON, CRS84)")
def run_results(run: RunDep) -> Response:
    body = json.loads(run.results.to_crs(4326).to_json(na="null", drop_id=True))
    body["run"] = {"id": run.run_id, "standard": run.standard, "basis": run.basis, "warnings": run.warnings}
    return JSONResponse(body, media_type="application/geo+json")


@router.get("/gaps/runs/{run_id}/summary", summary="A run summed up per facility type")
def run_summary(run: RunDep) -> dict[str, Any]:
    return {"run": run.run_id, "basis": run.basis, "summary": json.loads(run.summary().to_json(orient="records"))}


@router.get("/exports/gaps/{run_id}.csv", summary="A run's results as CSV (UTF-8 with BOM, for Excel)")
def export_csv(run: RunDep) -> Response:
    buf = io.StringIO()
    write_frame_csv(run.results.drop(columns="geometry"), buf)
    return Response(
        "\ufeff" + buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="gaps-{run.run_id}.csv"'},
    )
