"""The gisplan command in a process of its own, started in milliseconds rather than seconds.

``python -m gis`` spends its first seconds importing the library (5 s of CPU on a loaded 2-core
machine) before it touches the database. :class:`Forked` starts each command in a child forked from
a server process (multiprocessing's ``forkserver``) that imported the library once: the child runs
exactly what ``gisplan ARGS`` runs (``gis.cli.app.main`` with those arguments, this environment,
its output to a file), with its own connections, and can be killed (``SIGKILL``) like any process.
:class:`Executed` starts the real ``python -m gis`` instead.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import gis.cli.app
import gis.import_printers
import gis.printers
import gis.report_printers
import gis.workspace

CONTEXT = multiprocessing.get_context("forkserver")
PRELOAD = [
    __name__,
    gis.workspace.__name__,
    gis.printers.__name__,
    gis.report_printers.__name__,
    gis.import_printers.__name__,
    gis.cli.app.__name__,
]


class Command(Protocol):
    """A started command: its pid; whether it ended (its exit code); kill -9."""

    pid: int

    def poll(self) -> int | None: ...

    def wait(self, timeout: float) -> int | None: ...

    def kill(self) -> None: ...


def run(args: list[str], env: dict[str, str], log: str) -> None:
    """In the forked child: ``gisplan ARGS`` with exactly ``env``, its output appended to ``log``."""
    os.environ.clear()
    os.environ.update(env)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.argv = ["gisplan", *args]
    gis.cli.app.main()


class _ForkedCommand:
    def __init__(self, process: multiprocessing.process.BaseProcess) -> None:
        self.process = process
        self.pid = int(process.pid or 0)

    def poll(self) -> int | None:
        return self.process.exitcode

    def wait(self, timeout: float) -> int | None:
        self.process.join(timeout)
        return self.process.exitcode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


class Forked:
    """Starts ``gisplan ARGS`` forked from a process that has the library imported."""

    name = "forked"

    def __init__(self) -> None:
        CONTEXT.set_forkserver_preload(PRELOAD)  # ignored when this process's fork server runs already

    def start(self, args: list[str], env: dict[str, str], log: Path) -> Command:
        process = CONTEXT.Process(target=run, args=(args, env, str(log)), daemon=True)
        process.start()
        return _ForkedCommand(process)


class _ExecutedCommand:
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.pid = proc.pid

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.proc.wait(timeout)
        return None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)  # its group: the command and anything it started


class Executed:
    """Starts ``python -m gis ARGS``: a new interpreter that imports the library itself."""

    name = "executed"

    def start(self, args: list[str], env: dict[str, str], log: Path) -> Command:
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gis", *args], env=env, stdout=out, stderr=out, start_new_session=True
            )
        return _ExecutedCommand(proc)
