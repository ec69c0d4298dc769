"""The job runner: one thread in each server process takes queued jobs from the database and runs
each in a child process, so that a job can be stopped — asked to (``DELETE /api/jobs/{id}``), or
because the server is shutting down — without stopping the server, and the server can stop without
waiting for it.

The queue and every job's state live in the database (:mod:`gis.store.jobs`): any process answers
for any job, several processes share one queue (each claims one job at a time), and a restart loses
nothing queued. The runner holds its job's lease while the child runs and writes how the job ended:
``done`` with the child's result, ``failed`` with a reason a planner may read (the details stay in the
server's log), ``cancelled`` when asked to stop. Stopped by a shutdown, a job is ``failed`` with
:data:`gis.store.jobs.SHUTDOWN`; when the whole server dies, its child dies with it (a pipe only the
server holds open, :func:`die_with_server`) and the next runner to look marks the job failed
(:func:`gis.store.jobs.reap`).

The children come from a fork server that has imported the library once (``forkserver``: a fork of a
process with no threads, unlike the server itself), so a job starts in milliseconds, not seconds.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection as Pipe
from typing import Any

from sqlalchemy import Connection, Engine

from gis.errors import GisError, InvalidRequestError, NotFoundError, ServerError
from gis.gaps.analysis import GapParameters
from gis.gaps.runs import GapRun
from gis.settings import Settings
from gis.store import jobs
from gis.store.engine import make_engine
from gis.workspace import Workspace

log = logging.getLogger(__name__)

CONTEXT = multiprocessing.get_context("forkserver")
POLL_S = 1.0  # how often an idle runner looks for work, and a busy one for a request to stop
PRUNE_EVERY_S = 3600.0  # how often a runner forgets the jobs finished longer ago than GISPLAN_JOB_KEEP_DAYS
STOP_GRACE_S = 2.0  # a child asked to stop (SIGTERM) gets this long before SIGKILL
FAILED = "the analysis failed (the server's log says why) / 分析失败"


def gaps(ws: Workspace, params: dict[str, Any], actor: str, job_id: str) -> dict[str, Any]:
    """A gap analysis (``POST /api/gaps``): stored as a run; the job keeps its id, basis and warnings,
    and is marked done in the run's own transaction (a server dying right after it commits leaves a
    done job, not a failed one whose run exists)."""
    how = GapParameters(
        tolerance_m=float(params["tolerance_m"]),
        max_leg_m=float(params["max_leg_m"]),
        access=str(params.get("access", "all")),
        node_crossings=str(params.get("node_crossings", "auto")),
    )

    def done(conn: Connection, run: GapRun) -> None:
        jobs.done_within(conn, job_id, outcome(run))

    run = ws.run_gaps(params.get("facility"), standard=str(params["standard"]), params=how, actor=actor, also=done)
    return outcome(run)


def outcome(run: GapRun) -> dict[str, Any]:
    """What a done gap job keeps: its run's id, basis and warnings."""
    return {"run_id": run.run_id, "basis": run.basis, "warnings": run.warnings}


def check_gaps(ws: Workspace, params: dict[str, Any]) -> None:
    """What the gap job would refuse at once (an unknown standard or facility type, a type without a
    radius), refused before it is queued: the planner hears it as a 400, not as a failed job later."""
    try:
        ws.analysis_inputs(params.get("facility"), standard=str(params["standard"]), params=None)
    except NotFoundError as exc:  # a name in the request that is nowhere to be found: the request is wrong
        raise InvalidRequestError(exc.args[0] if exc.args else str(exc)) from None


KINDS: dict[str, Callable[[Workspace, dict[str, Any], str, str], dict[str, Any]]] = {"gaps": gaps}


def detail_of(exc: BaseException) -> str:
    """What a planner is told of a failure: the library's own words for a request it could not carry out
    (an unknown facility type, a standard without a rule), never a database message or a trace."""
    if isinstance(exc, GisError) and not isinstance(exc, ServerError):
        return str(exc)
    if isinstance(exc, ValueError | KeyError) and not isinstance(exc, GisError):
        return str(exc)
    return FAILED


def die_with_server(lifeline: Pipe) -> None:
    """End this process the moment the server that started it ends: ``lifeline`` is the read end of a
    pipe whose other end only the server's runner holds; the kernel closes that when the server dies,
    however it dies (``kill -9`` too), and a thread waiting on the read end then ends this process.

    (Not the parent-death signal: a fork server's child has the fork server for its parent, and the
    fork server outlives a killed server for as long as any of its children live.)"""

    def watch() -> None:
        with contextlib.suppress(BaseException):
            lifeline.recv()  # nothing is ever sent: this returns (EOFError) when the server's end closes
        os._exit(1)

    threading.Thread(target=watch, name="gisplan-job-lifeline", daemon=True).start()


def child_main(
    url: str, settings: Settings, job: tuple[str, dict[str, Any], str, str], out: Pipe, lifeline: Pipe
) -> None:
    """The child process: run one job (kind, params, actor, id) against the database at ``url`` and
    send back how it went."""
    die_with_server(lifeline)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the server decides
    kind, params, actor, job_id = job
    ws = Workspace(make_engine(url), settings=settings)  # no statement timeout: the runner bounds a job
    try:
        out.send(("done", KINDS[kind](ws, params, actor, job_id)))
    except Exception as exc:
        detail = detail_of(exc)
        if detail == FAILED:  # gisplan's fault: the trace is for the server's log
            log.exception("job %s (%s) failed", kind, actor)
        else:  # the request's: a line is enough
            log.warning("job %s (%s) failed: %s", kind, actor, detail)
        out.send(("failed", detail))
    finally:
        ws.close()
        out.close()


def warm() -> None:
    """Start the fork server with the library imported, so that the first job need not wait for it."""
    CONTEXT.set_forkserver_preload([__name__])
    multiprocessing.forkserver.ensure_running()


class Runner:
    """Runs this process's share of the queue, one job at a time (:meth:`start`, :meth:`stop`)."""

    def __init__(self, engine: Engine, settings: Settings, *, poll_s: float = POLL_S) -> None:
        self.engine = engine
        self.settings = settings
        self.poll_s = poll_s
        self.url = engine.url.render_as_string(hide_password=False)
        self.leases = jobs.lease_engine(engine)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = threading.Event()
        self.nudged = threading.Event()
        self.pruned_at: float | None = None  # monotonic seconds of the last prune (None: not yet)
        self.thread = threading.Thread(target=self.loop, name="gisplan-jobs", daemon=True)
        self.trouble: str | None = None

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        """A job was just queued here: look now rather than at the next poll."""
        self.nudged.set()

    def stop(self, timeout: float = 3 * STOP_GRACE_S) -> None:
        """Stop claiming; stop the running job's child and mark the job (:data:`gis.store.jobs.SHUTDOWN`)."""
        self.stopping.set()
        self.nudged.set()
        if self.thread.is_alive():
            self.thread.join(timeout)
        self.leases.dispose()

    def loop(self) -> None:
        with contextlib.suppress(Exception):
            warm()
        while not self.stopping.is_set():
            lease = self.next_job()
            if lease is None:
                self.nudged.wait(self.poll_s)
                self.nudged.clear()
                continue
            self.run(lease)

    def next_job(self) -> jobs.Lease | None:
        """Mark the dead's jobs failed, then claim the oldest queued one (None: nothing to do)."""
        try:
            for job_id in jobs.reap(self.engine):
                log.warning("job %s was running in a server that stopped: marked failed", job_id)
            if self.pruned_at is None or time.monotonic() - self.pruned_at > PRUNE_EVERY_S:
                if forgotten := jobs.prune(self.engine, self.settings.job_keep_days):
                    log.info("forgot %d jobs finished over %d days ago", forgotten, self.settings.job_keep_days)
                self.pruned_at = time.monotonic()
            lease = jobs.claim(self.leases, self.worker) if jobs.waiting(self.engine) else None
        except Exception as exc:  # the database is away: say so once, and keep looking
            if str(exc) != self.trouble:
                log.error("the job runner cannot reach the database: %s", exc)
                self.trouble = str(exc)
            return None
        if self.trouble is not None:
            log.warning("the job runner reaches the database again")
            self.trouble = None
        return lease

    def run(self, lease: jobs.Lease) -> None:
        job = lease.job
        receive, send = CONTEXT.Pipe(duplex=False)
        lifeline, held = CONTEXT.Pipe(duplex=False)  # the child's end reads EOF once this process is gone
        args = (self.url, self.settings, (job.kind, job.params, job.actor, job.id), send, lifeline)
        child = CONTEXT.Process(target=child_main, args=args, name=f"gisplan-job-{job.id[:8]}", daemon=True)
        try:
            child.start()
        except Exception:
            log.exception("could not start the process for job %s", job.id)
            receive.close()
            held.close()
            lease.finish("failed", detail=FAILED)
            return
        finally:
            send.close()
            lifeline.close()
        try:
            status, result, detail = self.watch(lease, child, receive)
        except Exception:  # the lease's connection broke: the job cannot be marked from here
            log.exception("lost the lease of job %s; stopping it (the next runner marks it failed)", job.id)
            stop(child)
            with contextlib.suppress(Exception):
                lease.release()
            return
        finally:
            receive.close()
            held.close()
        try:
            lease.finish(status, result=result, detail=detail)
        except Exception:
            log.exception("could not record the end of job %s (the next runner marks it failed)", job.id)

    def watch(self, lease: jobs.Lease, child: Any, receive: Pipe) -> tuple[str, dict[str, Any] | None, str | None]:
        """Wait for the child's word, or for a reason to stop it; how the job ended."""
        ask_at = time.monotonic() + self.poll_s
        while True:
            if receive.poll(0.1):
                try:
                    outcome, value = receive.recv()
                except EOFError:  # it closed the pipe without a word: it is exiting; see how
                    child.join(STOP_GRACE_S)
                    return "failed", None, f"{FAILED} (exit code {child.exitcode})"
                child.join(STOP_GRACE_S)
                return ("done", value, None) if outcome == "done" else ("failed", None, str(value))
            if not child.is_alive() and not receive.poll(0):
                return "failed", None, f"{FAILED} (exit code {child.exitcode})"
            if self.stopping.is_set():
                stop(child)
                return "failed", None, jobs.SHUTDOWN
            if time.monotonic() >= ask_at:
                ask_at = time.monotonic() + self.poll_s
                if lease.cancel_requested():
                    stop(child)
                    return "cancelled", None, None


def stop(child: Any) -> None:
    """SIGTERM, then SIGKILL after :data:`STOP_GRACE_S`: a gap run's transaction is rolled back either way."""
    if child.is_alive():
        child.terminate()
        child.join(STOP_GRACE_S)
    if child.is_alive():
        child.kill()
        child.join(STOP_GRACE_S)
