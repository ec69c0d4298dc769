"""For the tests of jobs: hold a gap run's store open (so a job is caught mid-write), wait, count.

A job's child writes its run in one transaction: the ``gap_runs`` row first, then the results. A test
that locks ``gap_results`` against writes (``SHARE``) catches the child inside that transaction,
its run row written but not committed, for as long as it likes — no sleep or hook in the product.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import psycopg

from tests.helpers.cli import GISPLAN

T = TypeVar("T")

WAITING_ON = """SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                WHERE c.relname = %s AND NOT l.granted"""


@contextmanager
def holding(owner_url: str, table: str = "gap_results", mode: str = "SHARE") -> Iterator[None]:
    """``table`` locked in ``mode`` (``SHARE``: no writes; ``ACCESS EXCLUSIVE``: no reads either) until
    the block ends, by the schema's owner in a transaction of its own."""
    with psycopg.connect(owner_url) as conn:
        conn.execute(f"LOCK TABLE {table} IN {mode} MODE")
        try:
            yield
        finally:
            conn.rollback()


def blocked(owner_url: str, table: str = "gap_results") -> int:
    """How many sessions wait for a lock on ``table``."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        row = conn.execute(WAITING_ON, (table,)).fetchone()
    return int(row[0]) if row else 0


def count(owner_url: str, table: str, where: str = "true") -> int:
    """Committed rows of ``table`` (what any other session sees)."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()
    return int(row[0]) if row else 0


def job_row(owner_url: str, job_id: str) -> tuple[str, str | None, str | None]:
    """(status, detail, worker) of a job, read from the table itself."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        row = conn.execute("SELECT status, detail, worker FROM jobs WHERE id = %s", (job_id,)).fetchone()
    assert row is not None, job_id
    return row[0], row[1], row[2]


def wait_for(what: str, found: Callable[[], T | None], timeout: float = 30.0, every: float = 0.05) -> T:
    """Poll ``found`` until it returns something truthy (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = found()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(env: dict[str, str], port: int, *args: str, log: Path) -> subprocess.Popen[bytes]:
    """``gisplan serve`` in a process of its own (its output to ``log``), once it answers."""
    full = {**os.environ, **env, "NO_COLOR": "1"}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*GISPLAN, "serve", "--port", str(port), *args], stdout=out, stderr=subprocess.STDOUT, env=full
        )

    def up() -> bool:
        assert proc.poll() is None, log.read_text(encoding="utf-8", errors="replace")[-3000:]
        try:
            return httpx.get(f"http://127.0.0.1:{port}/ogc/conformance", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for("gisplan serve to answer", up, timeout=90, every=0.2)
    return proc
