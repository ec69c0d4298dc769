"""A hot standby of an embedded cluster: ``pg_basebackup -R`` of the primary, started on a port of its
own, replaying the primary's WAL by streaming replication (as a bureau's read replica would)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

from gis.store.cluster import EmbeddedCluster, free_port

REPLICATION = "host    replication  postgres  127.0.0.1/32  scram-sha-256\n"


def _as_server(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextlib.contextmanager
def standby(primary: EmbeddedCluster) -> Iterator[int]:
    """Start a standby of the running ``primary``; yields its port; stops and removes it afterwards."""
    info = primary.info()
    assert info is not None
    bindir, pgdata = Path(info.bindir), Path(info.data_dir) / "data"
    with (pgdata / "pg_hba.conf").open("a") as hba:  # the superuser may stream the WAL, with its password
        hba.write(REPLICATION)
    subprocess.run(_as_server([str(bindir / "pg_ctl"), "-D", str(pgdata), "reload"]), check=True, capture_output=True)
    base = Path(tempfile.mkdtemp(prefix="gisplan-standby-"))
    base.chmod(0o700)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    port = free_port()
    try:
        backup = [str(bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(info.port), "-U", "postgres"]
        backup += ["-D", str(base / "data"), "-R", "-X", "stream", "-c", "fast"]
        subprocess.run(_as_server(["env", f"PGPASSWORD={info.password}", *backup]), check=True, capture_output=True)
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c hot_standby=on"
        start = [str(bindir / "pg_ctl"), "-D", str(base / "data"), "-l", str(base / "log"), "-w", "-t", "60"]
        subprocess.run(_as_server([*start, "-o", options, "start"]), check=True, capture_output=True)
        yield port
    finally:
        subprocess.run(
            _as_server([str(bindir / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


def caught_up(primary_url: str, standby_url: str, timeout_s: float = 30.0) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    with psycopg.connect(primary_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()").fetchone()
    assert row is not None
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(standby_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            done = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (row[0],)).fetchone()
            if done and done[0]:
                return
            time.sleep(0.05)
    raise AssertionError(f"the standby did not replay up to {row[0]} within {timeout_s} s")
