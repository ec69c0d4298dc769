"""The ``gisplan`` command run many times in one long-lived process (tests/ingest/test_hostile_files.py):
the library is imported once (about 3 s a process start saved per call), then each request, a JSON line
on standard input, is run as the entry point runs it and answered with a JSON line.

A request is ``{"argv": [...], "cwd": "..."}``. For each, the driver changes to ``cwd``, gives memory
back to the system (``malloc_trim``) and resets its peak resident memory (``/proc/self/clear_refs`` ← 5,
so ``VmHWM`` afterwards is this call's own peak), redirects file descriptors 1 and 2 to temporary files
(so rich, GDAL and any C-level write is caught), calls :func:`gis.cli.app.main` — what ``gisplan``
calls — with ``sys.argv`` set, catching ``SystemExit`` for the exit code (an exception that escapes is
printed as Python would print it, exit code 1), and answers ``{"code", "stdout", "stderr", "seconds",
"peak_bytes"}`` on the original standard output.

State a call could leave behind is reset per call: the working directory, ``sys.argv``, the warning
filters and their once-only registries (``warnings.catch_warnings``), garbage (``gc.collect``). The
library sets one kind of process-wide state, GDAL config options (gis/ingest/osm.py), and unsets
them in ``finally``. Run as ``python tests/helpers/cli_driver.py``.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path


def _peak() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise ValueError("no VmHWM")


def _exit_code(code: object) -> int:
    """What the interpreter would exit with for ``SystemExit(code)`` (printing a non-int code)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code % 256
    print(code, file=sys.stderr)
    return 1


def run(argv: list[str], cwd: str, main: object) -> dict[str, object]:
    libc = ctypes.CDLL("libc.so.6")
    os.chdir(cwd)
    sys.argv = ["gisplan", *argv]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        gc.collect()
        libc.malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")
        started = time.perf_counter()
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            with warnings.catch_warnings():
                try:
                    main()  # type: ignore[operator]
                    code = 0
                except SystemExit as exc:
                    code = _exit_code(exc.code)
                except BaseException:
                    traceback.print_exc()
                    code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            seconds = time.perf_counter() - started
            peak = _peak()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
        out.seek(0)
        err.seek(0)
        said = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    return {"code": code, "stdout": said[0], "stderr": said[1], "seconds": seconds, "peak_bytes": peak}


def serve() -> None:
    reply = os.fdopen(os.dup(1), "w", encoding="utf-8")
    home = os.getcwd()
    # What the commands import inside themselves, once: the library, GDAL, pandas, openpyxl.
    import geopandas  # noqa: F401
    import openpyxl  # noqa: F401
    import pyogrio  # noqa: F401

    import gis.ingest  # noqa: F401
    import gis.programme  # noqa: F401
    import gis.workspace  # noqa: F401
    from gis.cli.app import main

    reply.write(json.dumps({"ready": os.getpid()}) + "\n")
    reply.flush()
    for line in sys.stdin:
        request = json.loads(line)
        answer = run(request["argv"], request["cwd"], main)
        with contextlib.suppress(OSError):
            os.chdir(home)
        reply.write(json.dumps(answer) + "\n")
        reply.flush()


if __name__ == "__main__":
    serve()
