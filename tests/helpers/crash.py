"""Crashes lose nothing: ``kill -9`` an operation at many moments; every table is then exactly as
before it or exactly as after it.

For each operation (:mod:`tests.helpers.crash_ops`) a *before* database is made once (a template),
and the operation is run to completion twice on copies of it: the first is *after* and its timings
(the start, the first write seen, the change seen committed, the end), the second proves that two
complete runs leave the same tables (else a column the comparison must leave out, or a nondeterminism,
is named). Then, for each point, on a fresh copy of *before*: start the operation, kill it (the CLI
process, or the server's whole process group) at the point's moment, wait until the database holds
none of its sessions, let a server start again where the operation ran in one (it marks a job it
finds running failed, and runs one it finds queued), then compare every gisplan table with *before*
and *after* (row count and md5 of the ordered rows, :func:`tests.helpers.database.table_checksums`,
less :data:`VOLATILE`), check the operation's own invariants and that the next command succeeds.

The moments, per point (cycled: writing, committed, spread, spread):

- ``spread``: uniformly over 0–1.1 × the measured duration, counted from the operation's start (a
  command's first session on the database, a request sent): before it writes, while it writes,
  while it commits and after it ended;
- ``writing``: uniformly over 0–1.1 × the measured write, counted from the moment a session of the
  operation is seen holding a transaction id (``pg_stat_activity.backend_xid``: it has written);
- ``committed``: the moment its change is seen committed (a row it adds is visible), before it ended.

What the monitor saw when the kill went is the point's *landing*: ``starting``, ``reading`` (on the
database, nothing written yet), ``writing``, ``committed`` or ``ended`` (it finished first).

Only the client is killed, never PostgreSQL: a cluster run with ``fsync`` off (the suite's, the
benchmark's) loses nothing here, since the server itself keeps running.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
import psycopg

from gis.store import backup
from gis.store.privileges import APP_ROLE, OWNER_ROLE
from tests.helpers.database import SuiteServer, table_checksums
from tests.helpers.forked import Executed, Forked
from tests.helpers.served import free_port

POLL_S = 0.004  # between looks, except while watching for a write or a commit: then as fast as it answers
KINDS = ("writing", "committed", "spread", "spread")
# What legitimately differs between two complete runs of an operation on two copies of one database,
# and so is not compared: the time of the change, stamped by the server or the command's clock (and
# what carries it), and a job's fresh uuid and serving process. Each item is needed by at least one
# operation (leaving it in makes two complete runs differ). Ids from sequences are compared: every copy
# starts from the same sequence positions, and the values a killed attempt drew die with its copy.
VOLATILE: dict[str, tuple[str, ...]] = {
    # the change's time (now() of its transaction); a row's own timestamps inside the audited after
    "audit_log": ("at", "after.created_at", "after.updated_at"),
    "imports": ("at", "report.seconds", "report.finished_at"),  # when, and how long it took
    "layer_changes": ("changed_at",),  # clock_timestamp() of the statement that bumped the counter
    "pipelines": ("created_at", "updated_at"),  # the rows load --replace inserts
    "compounds": ("updated_at",),  # the row an edit (or a schedule import's sync) changes
    "gap_runs": ("at",),
    "programme_projects": ("created_at", "updated_at"),
    "programme_events": ("at",),
    # submitted_at is the command's clock (kept in the stored report too); logged_at the server's
    "programme_submissions": ("submitted_at", "logged_at", "report.submitted_at", "report.generated_at"),
    # a job's id is a fresh uuid4, its worker the serving process (host:pid), its times the clock's
    "jobs": ("id", "worker", "created_at", "started_at", "finished_at"),
}
# the operation's sessions (clients: not autovacuum, whose ANALYZE of a fresh copy holds an xid too),
# those of them that have written, and the count its commit makes grow
LOOK = """SELECT count(*), count(*) FILTER (WHERE backend_xid IS NOT NULL AND ({writing})), ({committed})
          FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"""

Snapshot = dict[str, tuple[int, str | None]]


class Attempt(Protocol):
    """One run of an operation: started when made (``started``: the monotonic time it began)."""

    started: float
    anchored: bool  # True: its start is ``started`` (a request sent); False: its first session on the database

    def ended(self) -> bool: ...

    def kill(self) -> None: ...

    def problem(self) -> str | None:
        """Once ended by itself: why it did not succeed (None: it did)."""


class Operation(Protocol):
    """What :func:`run_operation` needs of an operation (see :mod:`tests.helpers.crash_ops`)."""

    name: str
    label: str
    writing: str  # a condition on pg_stat_activity: a session of the operation that has written
    committed: str  # a count, in the database, that grows when the operation's change commits
    judged_apart: tuple[str, ...]  # tables :meth:`check` judges instead of the before/after comparison

    def prepare(self, lab: Lab) -> str: ...

    def database(self, lab: Lab, template: str) -> str: ...

    def done_with(self, lab: Lab, db: str) -> None: ...

    def start(self, lab: Lab, db: str) -> Attempt: ...

    def settle(self, lab: Lab, db: str) -> list[str]: ...

    def check_after(self, lab: Lab, before: str, after: str) -> list[str]: ...

    def check(self, lab: Lab, db: str, outcome: str) -> list[str]: ...

    def usable(self, lab: Lab, db: str, outcome: str) -> list[str]: ...

    def close(self, lab: Lab) -> None: ...


@dataclass
class Lab:
    """Where the operations run: a PostGIS server where databases are made, a scratch directory
    (files, logs, the processes' ``GISPLAN_HOME``), how commands start, the random moments."""

    server: SuiteServer
    work: Path
    forked: bool = True
    seed: int = 15
    rng: random.Random = field(init=False)
    bases: dict[str, str] = field(default_factory=dict)
    made: list[str] = field(default_factory=list)
    counter: int = 0
    server_starts: list[float] = field(default_factory=list)  # seconds each gisplan serve took to be ready
    serving: Server | None = None  # the server the served operations share, on the database ``live``
    live: str = ""
    tokens: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.launcher = Forked() if self.forked else Executed()
        self.work.mkdir(parents=True, exist_ok=True)

    def env(self, db: str) -> dict[str, str]:
        """The environment of a gisplan process working on ``db`` as the app (migrations as the owner)."""
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("GISPLAN_", "PG"))}
        return {
            **keep,
            "GISPLAN_DATABASE_URL": self.server.url(db, APP_ROLE),
            "GISPLAN_OWNER_DATABASE_URL": self.server.url(db, OWNER_ROLE),
            "GISPLAN_HOME": str(self.work / "home"),
            "GISPLAN_PROGRESS": "0",
            "GISPLAN_EDIT_WORKERS": "1",
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }

    def name(self, stem: str) -> str:
        self.counter += 1
        return f"crash_{stem}_{os.getpid()}_{self.counter}"

    def copy(self, template: str, name: str | None = None) -> str:
        """A database copied from ``template`` (replacing one of that name: its sessions are ended)."""
        name = name or self.name("db")
        with psycopg.connect(self.server.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        if name not in self.made:
            self.made.append(name)
        return name

    def drop(self, name: str) -> None:
        with psycopg.connect(self.server.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.made:
            self.made.remove(name)

    def cleanup(self) -> None:
        if self.serving is not None:
            self.serving.stop()
            self.serving = None
        for name in reversed(list(self.made)):
            with contextlib.suppress(psycopg.Error):
                self.drop(name)

    def gisplan(self, db: str, args: list[str], *, timeout: float = 300) -> tuple[int | None, str]:
        """Run ``gisplan ARGS`` on ``db`` to its end: (exit code, output)."""
        log = self.log("cmd")
        cmd = self.launcher.start(args, self.env(db), log)
        code = cmd.wait(timeout)
        if code is None:
            cmd.kill()
            cmd.wait(10)
        return code, log.read_text(encoding="utf-8", errors="replace")

    def log(self, stem: str) -> Path:
        self.counter += 1
        return self.work / "logs" / f"{stem}-{self.counter}.log"

    def snapshot(self, db: str) -> Snapshot:
        with psycopg.connect(self.server.url(db)) as conn:
            return table_checksums(conn, backup.own_tables(conn), leave_out=VOLATILE)

    def query(self, db: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with psycopg.connect(self.server.url(db), autocommit=True) as conn:
            return [tuple(r) for r in conn.execute(sql, params).fetchall()]


class Monitor:
    """The superuser's view of one database while an operation runs there: its sessions, whether one
    of them has written, and the count that grows when its change commits."""

    def __init__(self, lab: Lab, db: str, op: Operation) -> None:
        self.conn = psycopg.connect(lab.server.url(db), autocommit=True)
        self.query = LOOK.format(writing=op.writing, committed=op.committed)
        self.base = self.raw()[2]

    def raw(self) -> tuple[int, int, int]:
        row = self.conn.execute(self.query).fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])

    def look(self) -> tuple[int, int, bool]:
        """(sessions, sessions that have written, the change committed), in one query."""
        sessions, writing, count = self.raw()
        return sessions, writing, count > self.base

    def wait_gone(self, timeout: float = 30.0) -> bool:
        """Wait until the database holds no other session (the killed client's are ended)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.look()[0] == 0:
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self.conn.close()


@dataclass
class Seen:
    """What the monitor saw of one run, in seconds from its start (None: not seen)."""

    write: float | None = None
    commit: float | None = None
    end: float | None = None
    landed: str = "ended"


@dataclass
class Timing:
    """The measured duration of an operation (its reference run): from its start to its end, and of
    its write (from the first write seen to the change seen committed)."""

    seconds: float
    write_s: float | None

    def moment(self, kind: str, rng: random.Random) -> float:
        if kind == "writing" and self.write_s is not None:
            return rng.uniform(0, 1.1 * self.write_s)
        if kind == "committed":
            return 0.0
        return rng.uniform(0, 1.1 * self.seconds)


@dataclass
class Point:
    kind: str
    offset: float
    landed: str = ""
    outcome: str = ""
    problems: list[str] = field(default_factory=list)


@dataclass
class OperationResult:
    name: str
    label: str
    timing: Timing
    points: list[Point]
    problems: list[str]
    seconds: float

    def count(self, outcome: str) -> int:
        return sum(1 for p in self.points if p.outcome == outcome)

    @property
    def other(self) -> int:
        """Points whose state is neither before nor after, or broke an invariant or the next command."""
        return sum(1 for p in self.points if p.outcome not in ("before", "after") or p.problems) + bool(self.problems)

    def landings(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for p in self.points:
            found[p.landed] = found.get(p.landed, 0) + 1
        return found


def drive(lab: Lab, op: Operation, db: str, point: Point | None) -> tuple[Attempt, Seen]:
    """Run the operation on ``db`` under the monitor; kill it at ``point``'s moment (None: let it end)."""
    monitor = Monitor(lab, db, op)
    seen = Seen()
    try:
        attempt = op.start(lab, db)
        anchor = attempt.started if attempt.anchored else None
        writing_at = None
        while True:
            now = time.monotonic()
            sessions, writing, committed = monitor.look()
            if anchor is None and sessions:
                anchor = now
            if writing and writing_at is None:
                writing_at = now
                seen.write = now - (anchor or now)
            if committed and seen.commit is None:
                seen.commit = now - (anchor or now)
            if attempt.ended():
                seen.end = now - (anchor or now)
                if point is not None:  # a server is killed all the same, at its moment after the end
                    _after_the_end(point, now, anchor, seen)
                    attempt.kill()
                break
            if point is not None and _due(point, now, anchor, writing_at, committed):
                seen.landed = _landing(anchor, writing, committed)
                attempt.kill()
                break
            if now - attempt.started > 600:
                raise RuntimeError(f"{op.name}: still running after 600 s")
            if point is not None and point.kind == "spread":
                time.sleep(POLL_S)
        if point is not None and not monitor.wait_gone():
            point.problems.append("its sessions stayed on the database 30 s after the kill")
    finally:
        monitor.close()
    return attempt, seen


def _due(point: Point, now: float, anchor: float | None, writing_at: float | None, committed: bool) -> bool:
    if point.kind == "committed":
        return committed
    if point.kind == "writing" and writing_at is not None:
        return now >= writing_at + point.offset
    if point.kind == "writing":
        return committed  # committed before any write was seen: as late as it can still be caught
    return anchor is not None and now >= anchor + point.offset


def _after_the_end(point: Point, now: float, anchor: float | None, seen: Seen) -> None:
    """Wait for a spread point's moment when it lies after the operation's end (then: nothing to wait for)."""
    if point.kind == "spread" and anchor is not None:
        time.sleep(max(0.0, anchor + point.offset - now))


def _landing(anchor: float | None, writing: int, committed: bool) -> str:
    if committed:
        return "committed"
    if writing:
        return "writing"
    return "reading" if anchor is not None else "starting"


def compare(snap: Snapshot, reference: Snapshot, apart: tuple[str, ...]) -> list[str]:
    """The tables (but ``apart``) whose rows differ from ``reference``'s."""
    return sorted(t for t in set(snap) | set(reference) if t not in apart and snap.get(t) != reference.get(t))


def reference(lab: Lab, op: Operation, template: str) -> tuple[Snapshot, Timing, list[str]]:
    """Run the operation to completion twice on copies of ``template``: the tables the first left, its
    timing and what its change breaks of the operation's own facts (:meth:`Operation.check_after`);
    the second run must leave the same tables."""
    found: list[tuple[Snapshot, Seen]] = []
    problems: list[str] = []
    for _ in range(2):
        db = op.database(lab, template)
        attempt, seen = drive(lab, op, db, None)
        problem = attempt.problem()
        if problem:
            raise RuntimeError(f"{op.name}: the complete run failed: {problem}")
        problems += op.settle(lab, db)
        if not found:
            problems += op.check_after(lab, template, db)
        found.append((lab.snapshot(db), seen))
        op.done_with(lab, db)
    (snap, seen), (other, _) = found
    differ = compare(snap, other, ())
    if differ:
        raise RuntimeError(
            f"{op.name}: two complete runs left different rows in {differ}: a column that differs per run "
            "belongs in VOLATILE (with why), or the operation is not deterministic"
        )
    assert seen.end is not None
    write_s = None
    if seen.write is not None:
        write_s = max((seen.commit if seen.commit is not None else seen.end) - seen.write, 0.001)
    return snap, Timing(seconds=seen.end, write_s=write_s), [f"the complete run: {p}" for p in problems]


def run_operation(lab: Lab, op: Operation, points: int, kinds: tuple[str, ...] | None = None) -> OperationResult:
    """Every point of one operation; see the module's docstring. ``kinds`` names the points' kinds
    (default: ``points`` of them, in the order of ``KINDS``)."""
    started = time.monotonic()
    try:
        template = op.prepare(lab)
        before = lab.snapshot(template)
        after, timing, problems = reference(lab, op, template)
        if not compare(before, after, op.judged_apart):
            problems.append("the complete run changed nothing")
        plan = [Point(kind, timing.moment(kind, lab.rng)) for kind in (kinds or (KINDS * points)[:points])]
        for point in plan:
            crash(lab, op, template, point, before, after)
    finally:
        op.close(lab)
    return OperationResult(op.name, op.label, timing, plan, problems, time.monotonic() - started)


def crash(lab: Lab, op: Operation, template: str, point: Point, before: Snapshot, after: Snapshot) -> None:
    """One point: a fresh copy of before, the operation killed at the point's moment, the verdict."""
    db = op.database(lab, template)
    _, seen = drive(lab, op, db, point)
    point.landed = seen.landed
    point.problems += op.settle(lab, db)
    snap = lab.snapshot(db)
    if not compare(snap, before, op.judged_apart):
        point.outcome = "before"
    elif not compare(snap, after, op.judged_apart):
        point.outcome = "after"
    else:
        point.outcome = "other"
        point.problems.append(
            f"neither before nor after: {', '.join(compare(snap, before, op.judged_apart))} differ from before, "
            f"{', '.join(compare(snap, after, op.judged_apart))} from after"
        )
    point.problems += op.check(lab, db, point.outcome)
    point.problems += op.usable(lab, db, point.outcome)
    op.done_with(lab, db)


# -- gisplan serve as a process of its own ---------------------------------------------------------
class Server:
    """``gisplan serve`` on ``db`` in a process group of its own (killed whole with ``kill -9``)."""

    def __init__(self, lab: Lab, db: str) -> None:
        started = time.monotonic()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = lab.log("serve")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gis", "serve", "--port", str(self.port)],
                env=lab.env(db),
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        self.wait_ready()
        lab.server_starts.append(time.monotonic() - started)

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gisplan serve exited {self.proc.returncode}: {self.tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.base + "/readyz", timeout=5).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"gisplan serve not ready in {timeout} s: {self.tail()}")
            time.sleep(0.1)

    def tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-2000:]

    def kill(self) -> None:
        """``kill -9`` of the whole group: the server, its edit workers, its job runner's children."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(15)
        self.kill()


@contextlib.contextmanager
def lab_on(server: SuiteServer, work: Path, *, forked: bool = True, seed: int = 15) -> Iterator[Lab]:
    lab = Lab(server, work, forked=forked, seed=seed)
    (work / "logs").mkdir(parents=True, exist_ok=True)
    try:
        yield lab
    finally:
        lab.cleanup()


def table(results: list[OperationResult]) -> str:
    """The results as a table: per operation its points, before / after / other, where the kills
    landed, the measured durations and the seconds it took; then every problem found."""
    head = ("operation", "points", "before", "after", "other", "landed (start/read/write/commit/ended)", "took")
    rows = [head]
    for r in results:
        land = r.landings()
        landed = "/".join(str(land.get(k, 0)) for k in ("starting", "reading", "writing", "committed", "ended"))
        rows.append(
            (
                r.name,
                str(len(r.points)),
                str(r.count("before")),
                str(r.count("after")),
                str(r.other),
                landed,
                f"{r.seconds:.0f} s",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    total = sum(r.seconds for r in results)
    lines.append(
        f"total: {sum(len(r.points) for r in results)} points, {sum(r.other for r in results)} other, {total:.0f} s"
    )
    for r in results:
        write = f"{r.timing.write_s:.3f} s" if r.timing.write_s is not None else "not seen"
        lines.append(f"{r.name}: {r.label}; measured {r.timing.seconds:.2f} s from its start, its write {write}")
        lines += [f"  problem: {p}" for p in r.problems]
        lines += [
            f"  point {i} ({p.kind} +{p.offset:.3f} s, landed {p.landed}, {p.outcome}): {problem}"
            for i, p in enumerate(r.points)
            for problem in p.problems
        ]
    return "\n".join(lines)
