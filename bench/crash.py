"""Crashes lose nothing: ``kill -9`` of the command line or the server at many moments of five operations.

    .venv/bin/python bench/crash.py [--points 20] [--seed 15] [--only OP ...] [--exec]

The operations (``tests/helpers/crash_ops.py``): ``load`` (``gisplan load pipelines FILE --replace``),
``schedule`` (``gisplan progress import 配档表.xlsx``), ``edit`` (``PATCH`` of a compound to ``gisplan
serve``), ``submit`` (``gisplan report month YYYY-MM --submit``), ``gaps`` (``gisplan gaps``) and
``gap-job`` (``POST /api/gaps`` to ``gisplan serve``, run by its job runner). For each: a database
before it (the bundled sample loaded, as ``gisplan demo`` does, and what the operation needs), the
operation run to completion twice (after it, and its measured durations), then ``--points`` times a
fresh copy of before, the operation started and killed (the command's process, or the server's whole
process group) at a moment spread over its duration, and every gisplan table compared with before and
after (row counts and an md5 of the ordered rows, less the columns that differ per run: the change's
timestamps, a job's uuid and worker), the operation's invariants checked (one audit or event row per
change, no gap run without results, no job left queued or running once the server is up again) and
the next command run. How it works, and which moments: ``tests/helpers/crash.py``.

The commands are started forked from a process that imported the library once (they run what
``gisplan ARGS`` runs, in a process of their own; ``--exec`` starts ``python -m gis`` instead, which
spends some 5 s of CPU importing before it touches the database). ``gisplan serve`` is always a real
process. The database is a throwaway embedded cluster started here (``fsync`` off: only the client is
killed, never PostgreSQL, so that loses nothing), or ``GISPLAN_TEST_DATABASE_URL`` (a server where
the user may create databases and roles).

Prints one row per operation — points, before, after, other (must be 0), where the kills landed —
and the seconds; exits 1 if any point is "other".
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gis.store.cluster import EmbeddedCluster
from gis.store.privileges import APP_ROLE, OWNER_ROLE, ensure_login_role
from tests.helpers.crash import lab_on, run_operation, table
from tests.helpers.crash_ops import OPERATIONS
from tests.helpers.database import SuiteServer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=20, help="kills per operation (default 20)")
    parser.add_argument("--seed", type=int, default=15, help="of the random moments (default 15)")
    parser.add_argument("--only", action="append", choices=sorted(OPERATIONS), help="this operation (repeatable)")
    parser.add_argument("--exec", action="store_true", help="start commands as python -m gis, not forked")
    args = parser.parse_args()
    names = args.only or list(OPERATIONS)
    work = Path(tempfile.mkdtemp(prefix="gisplan-crash-"))
    data = Path(tempfile.mkdtemp(prefix="gisplan-crash-db-"))  # its own: as root, postgres must reach it
    cluster = None
    starts: list[float] = []
    started = time.monotonic()
    try:
        external = os.environ.get("GISPLAN_TEST_DATABASE_URL")
        if external:
            admin = external.replace("postgresql+psycopg://", "postgresql://")
            server = SuiteServer(admin, secrets.token_urlsafe(24), secrets.token_urlsafe(24))
            with psycopg.connect(admin, autocommit=True) as conn:
                ensure_login_role(conn, OWNER_ROLE, server.owner_password)
                ensure_login_role(conn, APP_ROLE, server.app_password)
        else:
            cluster = EmbeddedCluster(work / "cluster-home", data_dir=data, fast=True)
            cluster.up()
            info = cluster.info()
            assert info is not None
            server = SuiteServer(cluster.url("postgres", driver="postgresql"), info.owner_password, info.app_password)
        with lab_on(server, work / "lab", forked=not args.exec, seed=args.seed) as lab:
            results = [run_operation(lab, OPERATIONS[name](), args.points) for name in names]
            starts = sorted(lab.server_starts)
    finally:
        if cluster is not None:
            cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
    how = "python -m gis" if args.exec else "forked"
    print(f"kill -9 at {args.points} points per operation (seed {args.seed}; commands {how}), 2 cores")
    print(table(results))
    if starts:
        print(
            f"gisplan serve started {len(starts)} times, ready in {starts[0]:.1f}–{starts[-1]:.1f} s (median {starts[len(starts) // 2]:.1f} s)"
        )
    print(f"total seconds (set-up included): {time.monotonic() - started:.0f}")
    return 1 if any(r.other for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
