"""The operations :mod:`tests.helpers.crash` kills: what each needs before it, how it starts, what its
complete run must have changed (counted from the tables and the input files, not from gisplan's own
report), what every point's state must satisfy, and the next command after a crash.

- ``load``: ``gisplan load pipelines FILE --replace`` (an audited layer: every row deleted and
  inserted is an audit row) — the sample's 492 pipelines replaced by a copy laid one year earlier;
- ``schedule``: ``gisplan progress import 配档表.xlsx`` into the sample without a programme;
- ``submit``: ``gisplan report month YYYY-MM --submit`` (the last month that has ended);
- ``gaps``: ``gisplan gaps`` (every facility type with a radius);
- ``edit``: ``PATCH /ogc/collections/compounds/items/{fid}`` to ``gisplan serve`` (a planner's token);
- ``gap-job``: ``POST /api/gaps`` to ``gisplan serve``, the job run by its runner.
"""

from __future__ import annotations

import contextlib
import getpass
import io
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import httpx
import openpyxl
import psycopg
import pyogrio
from rich.console import Console

from gis import clock
from gis.demo import load_sample, run_programme_demo, sample_path
from gis.settings import Settings
from gis.store import jobs, users
from gis.store.cluster import prepare_database
from gis.store.engine import make_engine
from gis.store.privileges import APP_ROLE, OWNER_ROLE
from gis.workspace import Workspace
from tests.helpers.crash import Attempt, Lab, Server
from tests.helpers.forked import Command

ACTOR = f"cli:{getpass.getuser()}"
NEW_ROWS = "SELECT {cols} FROM {table} WHERE {key} > %s ORDER BY {key}"


# -- the databases before ---------------------------------------------------------------------------
def base(lab: Lab, kind: str) -> str:
    """A template: ``empty`` (extensions and roles), ``sample`` (the sample loaded, as ``gisplan demo``
    does), ``programme`` (and its programme imported and advanced to today, as the demo does; the
    filled schedule table it imported is :func:`schedule_file`), ``planner`` (and a planner, whose
    token is :func:`planner_token`)."""
    if kind in lab.bases:
        return lab.bases[kind]
    name = lab.name(kind)
    if kind == "empty":
        with psycopg.connect(lab.server.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        lab.made.append(name)
        prepare_database(lab.server.url(name))
    else:
        lab.copy(base(lab, {"sample": "empty", "programme": "sample", "planner": "programme"}[kind]), name)
        with workspace(lab, name) as ws:
            if kind == "sample":
                load_sample(ws)
            elif kind == "programme":
                run_programme_demo(ws, Console(file=io.StringIO()), out_dir=lab.work / "programme")
            else:
                lab.tokens["planner"] = users.add_user(ws.engine, "crash-planner", "planner", actor="crash")
    lab.bases[kind] = name
    return name


@contextlib.contextmanager
def workspace(lab: Lab, db: str) -> Any:
    owner = lab.server.url(db, OWNER_ROLE)
    settings = Settings(database_url=lab.server.url(db, APP_ROLE), owner_database_url=owner, home=lab.work / "home")
    assert settings.database_url
    ws = Workspace(make_engine(settings.database_url, owner_url=owner), settings=settings)
    try:
        yield ws
    finally:
        ws.close()


def planner_token(lab: Lab) -> str:
    base(lab, "planner")
    return lab.tokens["planner"]


def schedule_file(lab: Lab) -> Path:
    base(lab, "programme")
    found = sorted((lab.work / "programme").glob("配档表_*.xlsx"))
    assert found, "the programme demo wrote no schedule table"
    return found[-1]


def last(lab: Lab, db: str, table: str, key: str = "id") -> int:
    row = lab.query(db, f"SELECT coalesce(max({key}), 0) FROM {table}")
    return int(row[0][0])  # type: ignore[call-overload]


def new_rows(lab: Lab, db: str, table: str, cols: str, after: int, key: str = "id") -> list[tuple[Any, ...]]:
    return lab.query(db, NEW_ROWS.format(cols=cols, table=table, key=key), (after,))


def changed_tables(lab: Lab, before: str, after: str) -> set[str]:
    old, new = lab.snapshot(before), lab.snapshot(after)
    return {t for t in old.keys() | new.keys() if old.get(t) != new.get(t)}


def only(changed: set[str], allowed: set[str]) -> list[str]:
    extra = sorted(changed - allowed)
    return [f"it changed {', '.join(extra)} too"] if extra else []


def common_invariants(lab: Lab, db: str) -> list[str]:
    """What holds in every state: no gap run without its results, no job left queued or running."""
    problems = []
    empty = lab.query(
        db,
        "SELECT id FROM gap_runs r WHERE NOT EXISTS (SELECT 1 FROM gap_results g WHERE g.run_id = r.id) "
        "AND NOT EXISTS (SELECT 1 FROM site_proposals s WHERE s.run_id = r.id)",
    )
    if empty:
        problems.append(f"gap runs without results: {[r[0] for r in empty]}")
    open_jobs = lab.query(db, "SELECT id, status FROM jobs WHERE status IN ('queued', 'running')")
    if open_jobs:
        problems.append(f"jobs left open: {open_jobs}")
    return problems


# -- operations on the command line -------------------------------------------------------------------
class CommandAttempt:
    """A ``gisplan`` command started on the operation's database."""

    anchored = False

    def __init__(self, command: Command, log: Path) -> None:
        self.command = command
        self.log = log
        self.started = time.monotonic()

    def ended(self) -> bool:
        return self.command.poll() is not None

    def kill(self) -> None:
        self.command.kill()
        self.command.wait(30)

    def problem(self) -> str | None:
        code = self.command.poll()
        if code == 0:
            return None
        return f"exit {code}: {self.log.read_text(encoding='utf-8', errors='replace')[-1500:]}"


class CommandOperation:
    """An operation that is one ``gisplan`` command (its process killed)."""

    name = ""
    label = ""
    writing = "true"
    committed = ""
    judged_apart: tuple[str, ...] = ()
    changes: frozenset[str] = frozenset()  # the tables its complete run may change

    def args(self, lab: Lab) -> list[str]:
        raise NotImplementedError

    def database(self, lab: Lab, template: str) -> str:
        return lab.copy(template)

    def done_with(self, lab: Lab, db: str) -> None:
        lab.drop(db)

    def start(self, lab: Lab, db: str) -> Attempt:
        log = lab.log(self.name)
        return CommandAttempt(lab.launcher.start(self.args(lab), lab.env(db), log), log)

    def settle(self, lab: Lab, db: str) -> list[str]:
        return []

    def check(self, lab: Lab, db: str, outcome: str) -> list[str]:
        return common_invariants(lab, db)

    def next_command(self, lab: Lab, outcome: str) -> tuple[list[str], int, str]:
        """The command to run after the crash, the exit code it must end with and what its output must
        say: the same command again, succeeding."""
        return self.args(lab), 0, ""

    def usable(self, lab: Lab, db: str, outcome: str) -> list[str]:
        args, expected, says = self.next_command(lab, outcome)
        code, output = lab.gisplan(db, args)
        if code != expected or says not in output:
            return [f"the next command (gisplan {' '.join(args[:3])} …) exited {code}: {output[-800:]}"]
        return []

    def close(self, lab: Lab) -> None:
        return None


class LoadReplace(CommandOperation):
    name = "load"
    label = "gisplan load pipelines FILE --replace"
    committed = "SELECT count(*) FROM imports"
    changes = frozenset({"pipelines", "audit_log", "imports", "layer_changes"})

    def prepare(self, lab: Lab) -> str:
        self.file = lab.work / "pipelines_older.gpkg"
        frame = gpd.read_file(sample_path(), layer="pipelines")
        frame["laid_year"] = frame["laid_year"] - 1  # a survey one year older: every row differs
        frame.to_file(self.file, layer="pipelines", driver="GPKG")
        return base(lab, "programme")

    def args(self, lab: Lab) -> list[str]:
        return ["load", "pipelines", str(self.file), "--replace"]

    def check_after(self, lab: Lab, before: str, after: str) -> list[str]:
        problems = only(changed_tables(lab, before, after), set(self.changes))
        old = {r[0] for r in lab.query(before, "SELECT fid FROM pipelines")}
        new = {r[0] for r in lab.query(after, "SELECT fid FROM pipelines")}
        in_file = pyogrio.read_info(self.file, layer="pipelines")["features"]
        if old & new or len(new) != in_file:
            problems.append(f"{len(old & new)} rows kept, {len(new)} rows for {in_file} features of the file")
        imports = new_rows(lab, after, "imports", "id, layer", last(lab, before, "imports"))
        audit = new_rows(lab, after, "audit_log", "action, layer, fid, import_id", last(lab, before, "audit_log"))
        deleted = sorted(r[2] for r in audit if r[0] == "delete" and r[1] == "pipelines")
        inserted = sorted(r[2] for r in audit if r[0] == "insert" and r[1] == "pipelines")
        if len(imports) != 1 or imports[0][1] != "pipelines":
            problems.append(f"imports recorded: {imports}")
        if deleted != sorted(old) or inserted != sorted(new) or len(audit) != len(old) + len(new):
            problems.append(f"audit rows: {len(deleted)} deletes, {len(inserted)} inserts, {len(audit)} in all")
        if imports and any(r[3] != imports[0][0] for r in audit):
            problems.append("audit rows not linked to the import")
        return problems


class ScheduleImport(CommandOperation):
    name = "schedule"
    label = "gisplan progress import 配档表.xlsx"
    committed = "SELECT count(*) FROM programme_events"
    changes = frozenset(
        {"programme_projects", "programme_stage_dates", "programme_events", "compounds", "audit_log", "layer_changes"}
    )

    def prepare(self, lab: Lab) -> str:
        self.file = schedule_file(lab)
        return base(lab, "sample")

    def args(self, lab: Lab) -> list[str]:
        return ["progress", "import", str(self.file)]

    def check_after(self, lab: Lab, before: str, after: str) -> list[str]:
        problems = only(changed_tables(lab, before, after), set(self.changes))
        sheet = openpyxl.load_workbook(self.file, read_only=True)["时间配档表"]
        rows = [r for r in sheet.iter_rows(min_row=4, values_only=True) if r and r[0] is not None]
        ids = sorted(int(r[0]) for r in rows)
        projects = new_rows(lab, after, "programme_projects", "compound_id", 0)
        if sorted(int(r[0]) for r in projects) != ids:
            problems.append(f"projects for compounds {sorted(r[0] for r in projects)}, the file has rows for {ids}")
        events = new_rows(lab, after, "programme_events", "compound_id, actor", 0)
        if not events or {int(r[0]) for r in events} != set(ids) or {r[1] for r in events} != {ACTOR}:
            problems.append(f"events: {len(events)}, of compounds {sorted({r[0] for r in events})}")
        state = "SELECT fid, plan_year, stage, categories FROM compounds ORDER BY fid"
        old, new = lab.query(before, state), lab.query(after, state)
        moved = sorted(int(o[0]) for o, n in zip(old, new, strict=True) if o != n)
        audit = new_rows(lab, after, "audit_log", "action, layer, fid", last(lab, before, "audit_log"))
        if sorted(int(r[2]) for r in audit) != moved or {(r[0], r[1]) for r in audit} - {("update", "compounds")}:
            problems.append(f"audit rows {audit} for the compounds that changed, {moved}")
        return problems


class Submit(CommandOperation):
    name = "submit"
    label = "gisplan report month YYYY-MM --submit"
    committed = "SELECT count(*) FROM programme_submissions"
    changes = frozenset({"programme_submissions"})

    def prepare(self, lab: Lab) -> str:
        ended = clock.today().replace(day=1) - timedelta(days=1)  # the last day of the last month that ended
        self.month = f"{ended.year}-{ended.month:02d}"
        template = base(lab, "programme")
        self.year = str(lab.query(template, "SELECT max(year) FROM programme_projects")[0][0])
        return template

    def args(self, lab: Lab) -> list[str]:
        return ["report", "month", self.month, "--year", self.year, "--submit"]

    def next_command(self, lab: Lab, outcome: str) -> tuple[list[str], int, str]:
        if outcome == "before":
            return self.args(lab), 0, ""
        return self.args(lab), 1, "it is locked"  # submitted once: a second submission is refused

    def check_after(self, lab: Lab, before: str, after: str) -> list[str]:
        problems = only(changed_tables(lab, before, after), set(self.changes))
        found = lab.query(after, "SELECT month, actor, last_event_id FROM programme_submissions")
        events = last(lab, after, "programme_events")
        if found != [(self.month, ACTOR, events)]:
            problems.append(f"submissions {found}; the last event is {events}")
        return problems


class Gaps(CommandOperation):
    name = "gaps"
    label = "gisplan gaps"
    committed = "SELECT count(*) FROM gap_runs"
    changes = frozenset({"gap_runs", "gap_results"})

    def prepare(self, lab: Lab) -> str:
        return base(lab, "programme")

    def args(self, lab: Lab) -> list[str]:
        return ["gaps"]

    def next_command(self, lab: Lab, outcome: str) -> tuple[list[str], int, str]:
        return ["gaps", "--facility", "kindergarten"], 0, ""

    def check_after(self, lab: Lab, before: str, after: str) -> list[str]:
        return only(changed_tables(lab, before, after), set(self.changes)) + run_complete(lab, before, after)


def run_complete(lab: Lab, before: str, after: str) -> list[str]:
    """One new run, with a result for every compound and every facility type it names, once each."""
    runs = new_rows(lab, after, "gap_runs", "id, parameters->'facility_types'", last(lab, before, "gap_runs"))
    if len(runs) != 1:
        return [f"{len(runs)} new gap runs"]
    run_id, types = runs[0]
    compounds = {r[0] for r in lab.query(after, "SELECT fid FROM compounds")}
    results = lab.query(after, "SELECT compound_fid, facility_type FROM gap_results WHERE run_id = %s", (run_id,))
    wanted = {(c, t) for c in compounds for t in types}
    if len(results) != len(wanted) or set(results) != wanted:
        return [f"run {run_id}: {len(results)} results for {len(compounds)} compounds × {len(types)} types"]
    return []


# -- operations against gisplan serve -------------------------------------------------------------------
class RequestAttempt:
    """A request to the operation's server, sent from a thread (so the server can be killed under it)."""

    anchored = True

    def __init__(self, op: ServedOperation, send: Callable[[], httpx.Response]) -> None:
        self.op = op
        self.response: httpx.Response | None = None
        self.error: str | None = None
        self.thread = threading.Thread(target=self._send, args=(send,), daemon=True)
        self.started = time.monotonic()
        self.thread.start()

    def _send(self, send: Callable[[], httpx.Response]) -> None:
        try:
            self.response = send()
        except httpx.HTTPError as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    def ended(self) -> bool:
        return not self.thread.is_alive()

    def kill(self) -> None:
        self.op.kill()
        self.thread.join(30)

    def problem(self) -> str | None:
        if self.response is None:
            return self.error or "no answer"
        if self.response.status_code not in self.op.answers:
            return f"{self.response.status_code}: {self.response.text[:500]}"
        return None


class ServedOperation:
    """An operation sent to ``gisplan serve`` (its whole process group killed). One server process
    and one database name serve all its points: the database is made afresh under the running server
    (which reconnects), and a server killed is started again on the crashed database."""

    name = ""
    label = ""
    writing = "true"
    committed = ""
    judged_apart: tuple[str, ...] = ()
    changes: frozenset[str] = frozenset()
    answers: tuple[int, ...] = ()

    def __init__(self) -> None:
        self.lab: Lab | None = None
        self.warmed = False

    @property
    def server(self) -> Server | None:
        """The server the served operations share (one process at a time, on the lab's live database)."""
        assert self.lab is not None
        return self.lab.serving

    @server.setter
    def server(self, server: Server | None) -> None:
        assert self.lab is not None
        self.lab.serving = server

    def planner(self, lab: Lab) -> str:
        """The template: the programme, and a planner whose token the requests carry."""
        self.lab = lab
        self.token = planner_token(lab)
        return base(lab, "planner")

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def database(self, lab: Lab, template: str) -> str:
        """A fresh copy of ``template`` under the name the server works on; a server started first
        if none runs, and warmed for this operation (its worker process, its job runner ready)."""
        lab.live = lab.live or lab.name("live")
        if self.server is None or not self.warmed:
            lab.copy(template, lab.live)
            if self.server is None:
                self.server = Server(lab, lab.live)
            self.warm(lab)
            self.warmed = True
        lab.copy(template, lab.live)
        assert self.server is not None
        deadline = time.monotonic() + 60
        while httpx.get(self.server.base + "/readyz", timeout=10).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server does not answer on the new database: {self.server.tail()}")
            time.sleep(0.1)
        return lab.live

    def warm(self, lab: Lab) -> None:
        """What the operation's first request would wait for, done before it is timed."""
        problems = self.usable(lab, lab.live, "after")
        if problems:
            raise RuntimeError(f"{self.name}: warming the server: {'; '.join(problems)}")

    def usable(self, lab: Lab, db: str, outcome: str) -> list[str]:
        raise NotImplementedError

    def done_with(self, lab: Lab, db: str) -> None:
        return None

    def kill(self) -> None:
        if self.server is not None:
            self.server.kill()
            self.server = None

    def settle(self, lab: Lab, db: str) -> list[str]:
        """A killed server is started again; the jobs it finds queued run, those it finds running are
        marked failed: wait until none is queued or running."""
        if self.server is None:
            self.server = Server(lab, db)
        deadline = time.monotonic() + 60
        while lab.query(db, "SELECT 1 FROM jobs WHERE status IN ('queued', 'running')"):
            if time.monotonic() > deadline:
                return ["a job stayed queued or running 60 s after the server started again"]
            time.sleep(0.1)
        return []

    def check(self, lab: Lab, db: str, outcome: str) -> list[str]:
        return common_invariants(lab, db)

    def close(self, lab: Lab) -> None:
        return None  # the server is the lab's: stopped when the lab is cleaned up


class Edit(ServedOperation):
    name = "edit"
    label = "PATCH /ogc/collections/compounds/items/{fid}"
    committed = "SELECT count(*) FROM audit_log"
    changes = frozenset({"compounds", "audit_log", "layer_changes"})
    answers = (204,)

    def prepare(self, lab: Lab) -> str:
        template = self.planner(lab)
        fid, households, version = lab.query(
            template, "SELECT fid, households, version FROM compounds ORDER BY fid LIMIT 1"
        )[0]
        self.fid, self.households, self.version = int(fid), int(households or 0) + 7, int(version)  # type: ignore[call-overload]
        return template

    def item(self) -> str:
        assert self.server is not None
        return f"{self.server.base}/ogc/collections/compounds/items/{self.fid}"

    def start(self, lab: Lab, db: str) -> Attempt:
        url = self.item()
        headers = {**self.headers, "If-Match": f'"compounds-{self.fid}-v{self.version}"'}
        body = {"properties": {"households": self.households}}
        return RequestAttempt(self, lambda: httpx.patch(url, json=body, headers=headers, timeout=60))

    def check_after(self, lab: Lab, before: str, after: str) -> list[str]:
        problems = only(changed_tables(lab, before, after), set(self.changes))
        state = "SELECT fid, households, version FROM compounds ORDER BY fid"
        old, new = lab.query(before, state), lab.query(after, state)
        moved = [(o, n) for o, n in zip(old, new, strict=True) if o != n]
        if [(o[0], n[1], n[2]) for o, n in moved] != [(self.fid, self.households, self.version + 1)]:
            problems.append(f"compounds changed: {moved}")
        audit = new_rows(
            lab, after, "audit_log", "action, layer, fid, (after->>'households')::int", last(lab, before, "audit_log")
        )
        if audit != [("update", "compounds", self.fid, self.households)]:
            problems.append(f"audit rows: {audit}")
        return problems

    def usable(self, lab: Lab, db: str, outcome: str) -> list[str]:
        read = httpx.get(self.item(), headers=self.headers, timeout=60)
        if read.status_code != 200:
            return [f"GET after the crash: {read.status_code}"]
        headers = {**self.headers, "If-Match": read.headers["ETag"]}
        again = httpx.patch(self.item(), json={"properties": {"address": "再次编辑"}}, headers=headers, timeout=60)
        return [] if again.status_code == 204 else [f"the next edit: {again.status_code} {again.text[:300]}"]


class JobAttempt(RequestAttempt):
    """``POST /api/gaps``; ended once its job has ended."""

    def __init__(self, op: ServedOperation, send: Callable[[], httpx.Response], db_url: str) -> None:
        self.conn = psycopg.connect(db_url, autocommit=True)
        self.final: tuple[Any, ...] | None = None
        super().__init__(op, send)

    def ended(self) -> bool:
        if self.thread.is_alive():
            return False
        if self.response is None or self.response.status_code != 202:
            self.conn.close()
            return True
        job_id = str(self.response.json()["job"])
        row = self.conn.execute("SELECT status, detail FROM jobs WHERE id = %s", (job_id,)).fetchone()
        if row is None or row[0] not in jobs.FINISHED:
            return False
        self.final = tuple(row)
        self.conn.close()
        return True

    def kill(self) -> None:
        super().kill()
        self.conn.close()

    def problem(self) -> str | None:
        wrong = super().problem()
        if wrong:
            return wrong
        return None if self.final is not None and self.final[0] == "done" else f"the job ended {self.final}"


class GapJob(ServedOperation):
    name = "gap-job"
    label = "POST /api/gaps (a job)"
    writing = "query ILIKE '%gap_r%'"  # the job's child writing its run, not the queue's own rows
    committed = "SELECT count(*) FROM gap_runs"
    judged_apart = ("jobs",)  # a job the crash stopped is kept, failed: judged by check()
    changes = frozenset({"gap_runs", "gap_results", "jobs"})
    answers = (202,)

    def prepare(self, lab: Lab) -> str:
        return self.planner(lab)

    def start(self, lab: Lab, db: str) -> Attempt:
        assert self.server is not None
        url = self.server.base + "/api/gaps"
        return JobAttempt(self, lambda: httpx.post(url, json={}, headers=self.headers, timeout=60), lab.server.url(db))

    def check_after(self, lab: Lab, before: str, after: str) -> list[str]:
        problems = only(changed_tables(lab, before, after), set(self.changes)) + run_complete(lab, before, after)
        found = lab.query(after, "SELECT status, (result->>'run_id')::bigint FROM jobs")
        run = last(lab, after, "gap_runs")
        if found != [("done", run)]:
            problems.append(f"jobs {found}; the new run is {run}")
        return problems

    def check(self, lab: Lab, db: str, outcome: str) -> list[str]:
        """Before: no job, or one failed (the server stopped while it ran) with no run; after: one job,
        done, naming the run that was added."""
        problems = common_invariants(lab, db)
        found = lab.query(db, "SELECT status, (result->>'run_id')::bigint, detail FROM jobs")
        run = last(lab, db, "gap_runs")
        if outcome == "before" and found not in ([], [("failed", None, jobs.DIED)]):
            problems.append(f"no run was added, but the job is {found}")
        if outcome == "after" and found != [("done", run, None)]:
            problems.append(f"run {run} was added, but the job is {found}")
        return problems

    def usable(self, lab: Lab, db: str, outcome: str) -> list[str]:
        assert self.server is not None
        asked = httpx.post(self.server.base + "/api/gaps", json={"facility": ["kindergarten"]}, headers=self.headers)
        if asked.status_code != 202:
            return [f"the next job: {asked.status_code} {asked.text[:300]}"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = httpx.get(asked.headers["Location"], headers=self.headers, timeout=30).json()
            if job["status"] in jobs.FINISHED:
                return [] if job["status"] == "done" else [f"the next job ended {job['status']}: {job.get('detail')}"]
            time.sleep(0.2)
        return ["the next job did not end in 120 s"]


OPERATIONS: dict[str, Callable[[], Any]] = {
    "load": LoadReplace,
    "schedule": ScheduleImport,
    "submit": Submit,
    "gaps": Gaps,
    "edit": Edit,
    "gap-job": GapJob,
}
