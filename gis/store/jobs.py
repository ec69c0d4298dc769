"""The analysis jobs (``jobs``): the one owner of the table — the queue every server process shares.

A job is ``queued`` when submitted, ``running`` once a runner claimed it, then ``done``, ``failed`` or
``cancelled``. The queue is bounded: :func:`submit` refuses a job when the open ones (queued and
running) reach the limit. Finished jobs are kept (they are small); :func:`recent` lists the newest.

Whether the process running a job is alive is PostgreSQL's to say. A runner claims a job on a
connection of its own (:class:`Lease`) and takes a session-level advisory lock keyed by the job's
``seq`` *before* the claim commits; it holds that lock, on that connection, until it has written how
the job ended. So a ``running`` job whose lock anyone else can take belongs to a process (or a
connection) that is gone: :func:`reap` marks it failed. This holds for several server processes and
across restarts alike, and needs no clock, heartbeat or open transaction (which would hold back
vacuum). A gap run is written in one transaction (:func:`gis.gaps.runs.store_run`): a job stopped
part-way leaves no half-written run behind. That transaction also marks the job done
(:func:`done_within`), so a server that dies the instant after it committed leaves a job that is done
and names its run — never a job marked failed whose run exists, nor a run no job names.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from gis.errors import ConflictError, NotFoundError, PermissionDeniedError, TooManyRequestsError
from gis.roles import Role

KINDS = ("gaps",)
OPEN = ("queued", "running")
FINISHED = ("done", "failed", "cancelled")
LOCK_CLASS = 0x6A6F6273  # "jobs": the first key of the two-key advisory locks (never used by another lock)
DIED = "the server stopped while it ran / 服务器在运行中停止"
SHUTDOWN = "stopped by server shutdown / 服务器关闭时已停止"
JOB_ID = re.compile(r"[0-9a-f]{32}")

COLUMNS = "id, seq, kind, params, actor, status, cancel_requested, created_at, started_at, finished_at, result, detail"
# One submission at a time (per database): the count and the insert see the same queue.
QUEUE_LOCK = f"SELECT pg_advisory_xact_lock({LOCK_CLASS}, 0)"
COUNT_OPEN = "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')"
# the median time of the latest finished jobs: how long a place in the queue takes to free up
TYPICAL_S = """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s) FROM (
                 SELECT extract(epoch FROM finished_at - started_at) AS s FROM jobs
                 WHERE started_at IS NOT NULL AND finished_at IS NOT NULL ORDER BY seq DESC LIMIT 20) t"""
INSERT = f"""INSERT INTO jobs (id, kind, params, actor) VALUES (:id, :kind, CAST(:params AS jsonb), :actor)
             RETURNING {COLUMNS}"""
ONE = f"SELECT {COLUMNS} FROM jobs WHERE id = :id"
RECENT = f"SELECT {COLUMNS} FROM jobs ORDER BY seq DESC LIMIT :n"
WAITING = "SELECT EXISTS (SELECT 1 FROM jobs WHERE status = 'queued')"
# a queued job is cancelled at once; a running one is asked to stop (its runner looks every second)
CANCEL = f"""UPDATE jobs SET
               status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
               finished_at = CASE WHEN status = 'queued' THEN clock_timestamp() ELSE finished_at END,
               cancel_requested = true, detail = :detail
             WHERE id = :id AND status IN ('queued', 'running') RETURNING {COLUMNS}"""
# the runner's side
NEXT = "SELECT id, seq FROM jobs WHERE status = 'queued' ORDER BY seq FOR UPDATE SKIP LOCKED LIMIT 1"
HOLD = f"SELECT pg_advisory_lock({LOCK_CLASS}, CAST(:seq AS integer))"
START = f"""UPDATE jobs SET status = 'running', started_at = clock_timestamp(), worker = :worker
            WHERE id = :id RETURNING {COLUMNS}"""
ASKED_TO_STOP = "SELECT cancel_requested FROM jobs WHERE id = :id"
# (a job its child marked done already, in the transaction of what it made, is left as it is)
FINISH = """UPDATE jobs SET status = :status, finished_at = clock_timestamp(), result = CAST(:result AS jsonb),
                            detail = COALESCE(:detail, detail)
            WHERE id = :id AND status = 'running'"""
# the job's own child, in the transaction that stores what it made
DONE = """UPDATE jobs SET status = 'done', finished_at = clock_timestamp(), result = CAST(:result AS jsonb),
                          detail = NULL
          WHERE id = :id AND status = 'running'"""
LET_GO = f"SELECT pg_advisory_unlock({LOCK_CLASS}, CAST(:seq AS integer))"
# the reaper's: running jobs whose row is not being written right now, then whose lock is free
RUNNING = "SELECT id, seq FROM jobs WHERE status = 'running' FOR UPDATE SKIP LOCKED"
ORPHANED = f"SELECT pg_try_advisory_xact_lock({LOCK_CLASS}, CAST(:seq AS integer))"
PRUNE = """DELETE FROM jobs WHERE status IN ('done', 'failed', 'cancelled')
           AND finished_at < clock_timestamp() - make_interval(days => :days)"""
FAIL = """UPDATE jobs SET status = 'failed', finished_at = clock_timestamp(), detail = :detail
          WHERE id = :id AND status = 'running'"""


@dataclass(frozen=True)
class Job:
    """A job as stored: what to run, who asked, its state and, once it ended, its result or why not."""

    id: str
    seq: int
    kind: str
    params: dict[str, Any]
    actor: str
    status: str
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None
    detail: str | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def _job(row: Any) -> Job:
    return Job(**dict(row._mapping))


def submit(engine: Engine, kind: str, params: dict[str, Any], actor: str, *, limit: int) -> Job:
    """Queue a job; :class:`TooManyRequestsError` (with a ``retry_after``) when ``limit`` jobs are open.

    Examples
    --------
    >>> job = submit(ws.engine, "gaps", {"facility": ["kindergarten"]}, "notebook", limit=8)
    >>> job.status
    'queued'
    """
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    with engine.begin() as conn:
        conn.execute(text(QUEUE_LOCK))
        waiting = int(conn.execute(text(COUNT_OPEN)).scalar_one())
        if waiting >= limit:
            raise TooManyRequestsError(
                f"{waiting} analyses are queued or running (the limit is {limit}); try again later"
                " / 分析任务队列已满，请稍后再试",
                retry_after=_retry_after(conn),
            )
        payload = json.dumps(params, ensure_ascii=False)
        row = conn.execute(text(INSERT), {"id": uuid.uuid4().hex, "kind": kind, "params": payload, "actor": actor})
        return _job(row.one())


def _retry_after(conn: Connection) -> int:
    """Seconds to wait before asking again: the typical job's time, 5 s to 10 min (30 s before any ran)."""
    typical = conn.execute(text(TYPICAL_S)).scalar()
    return 30 if typical is None else max(5, min(600, round(float(typical) + 0.5)))


def get(engine: Engine, job_id: str) -> Job | None:
    """The job ``job_id`` (None when there is none, or the id cannot be one)."""
    if not JOB_ID.fullmatch(job_id):
        return None
    with engine.connect() as conn:
        row = conn.execute(text(ONE), {"id": job_id}).first()
    return None if row is None else _job(row)


def recent(engine: Engine, limit: int = 100) -> list[Job]:
    """The newest jobs first, finished or not."""
    with engine.connect() as conn:
        return [_job(row) for row in conn.execute(text(RECENT), {"n": limit})]


def cancel(engine: Engine, job_id: str, *, actor: str, role: Role) -> Job:
    """Cancel a queued job, or ask the runner of a running one to stop it (within a second or so).

    Only the job's owner (``actor``) or an admin may. :class:`NotFoundError` for no such job,
    :class:`ConflictError` for one that has ended already.
    """
    job = get(engine, job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id}")
    if job.actor != actor and role != "admin":
        raise PermissionDeniedError(
            "only the planner who started a job, or an admin, may cancel it / 仅发起人或管理员可取消"
        )
    with engine.begin() as conn:
        row = conn.execute(text(CANCEL), {"id": job.id, "detail": f"cancelled by {actor} / 已取消"}).first()
    if row is None:
        ended = get(engine, job.id)
        raise ConflictError(f"the job has ended already: {ended.status if ended else job.status}")
    return _job(row)


def waiting(engine: Engine) -> bool:
    """Is any job queued?"""
    with engine.connect() as conn:
        return bool(conn.execute(text(WAITING)).scalar())


def reap(engine: Engine) -> list[str]:
    """Mark failed every running job whose runner is gone (its lock is free); returns their ids.

    Run on one of ``engine``'s pooled connections, never on a lease's (a session may take its own
    advisory lock again, and would take its own jobs for dead)."""
    dead: list[str] = []
    with engine.begin() as conn:
        for job_id, seq in conn.execute(text(RUNNING)).all():
            if conn.execute(text(ORPHANED), {"seq": seq}).scalar():
                conn.execute(text(FAIL), {"id": job_id, "detail": DIED})
                dead.append(str(job_id))
    return dead


def prune(engine: Engine, keep_days: int) -> int:
    """Forget the jobs that finished more than ``keep_days`` ago (their runs stay, in ``gap_runs``, with
    who ran them); returns how many. Queued and running jobs are never touched."""
    with engine.begin() as conn:
        return int(conn.execute(text(PRUNE), {"days": keep_days}).rowcount or 0)


def done_within(conn: Connection, job_id: str, result: dict[str, Any]) -> None:
    """Mark the running job ``job_id`` done with ``result``, in ``conn``'s transaction: the one that
    stores what the job made, so that the two commit together or not at all.

    Raises :class:`ConflictError` (rolling that transaction back) when the job is not running: marked
    failed by a runner that took its server for dead, say — then what it made must not be stored."""
    payload = json.dumps(result, ensure_ascii=False, default=str)
    if conn.execute(text(DONE), {"id": job_id, "result": payload}).rowcount != 1:
        raise ConflictError(f"job {job_id} is no longer running: what it made is not stored")


def lease_engine(engine: Engine) -> Engine:
    """Connections of their own for :func:`claim`: each lease's ends with it (and so does its lock)."""
    return create_engine(engine.url, poolclass=NullPool)


class Lease:
    """A job this process claimed and runs: the lock on its own connection says the runner lives."""

    def __init__(self, conn: Connection, job: Job) -> None:
        self.conn = conn
        self.job = job

    def cancel_requested(self) -> bool:
        """Has someone asked for the job to stop (``DELETE /api/jobs/{id}``)?"""
        with self.conn.begin():
            return bool(self.conn.execute(text(ASKED_TO_STOP), {"id": self.job.id}).scalar())

    def finish(self, status: str, *, result: dict[str, Any] | None = None, detail: str | None = None) -> None:
        """Write how the job ended, then let it go."""
        if status not in FINISHED:
            raise ValueError(f"not an end state: {status!r}")
        try:
            with self.conn.begin():
                payload = None if result is None else json.dumps(result, ensure_ascii=False, default=str)
                self.conn.execute(
                    text(FINISH), {"id": self.job.id, "status": status, "result": payload, "detail": detail}
                )
        finally:
            self.release()

    def release(self) -> None:
        """Let the job go (a running job let go before it was finished is reaped as failed)."""
        try:
            if not self.conn.closed and not self.conn.invalidated:
                with self.conn.begin():
                    self.conn.execute(text(LET_GO), {"seq": self.job.seq})
        finally:
            self.conn.close()  # the session ends: nothing of it outlives the lease


def claim(leases: Engine, worker: str) -> Lease | None:
    """Claim the oldest queued job for ``worker`` on a new connection of ``leases``
    (:func:`lease_engine`), or None when nothing is queued."""
    conn = leases.connect()
    row = None
    try:
        with conn.begin():
            found = conn.execute(text(NEXT)).first()
            if found is not None:
                conn.execute(text(HOLD), {"seq": found.seq})  # before the claim is visible: never reaped alive
                row = conn.execute(text(START), {"id": found.id, "worker": worker}).one()
    except BaseException:
        conn.close()
        raise
    if row is None:
        conn.close()
        return None
    return Lease(conn, _job(row))
