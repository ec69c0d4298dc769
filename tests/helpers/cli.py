"""Run the gisplan command as a user does: a real process, real exit codes, real output."""

from __future__ import annotations

import os
import subprocess
import sys

GISPLAN = [sys.executable, "-m", "gis"]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **env}
    return subprocess.run([*GISPLAN, *args], capture_output=True, text=True, env=full, timeout=300, check=False)


# The command run as `python -m gis`, saying at exit which of the named modules it loaded
LOADED_AT_EXIT = """
import atexit, sys
unused = {unused!r}
atexit.register(lambda: print("LOADED", sorted(m for m in unused if m in sys.modules), file=sys.stderr))
sys.argv[0] = "gisplan"
from gis.cli.app import main
main()
"""


def run_saying_loaded(
    args: list[str], env: dict[str, str], unused: tuple[str, ...]
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run the command; also which of the ``unused`` modules it loaded all the same (``LOADED [...]``)."""
    full = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **env}
    script = LOADED_AT_EXIT.format(unused=unused)
    result = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=full, timeout=300, check=False
    )
    said = [line for line in result.stderr.splitlines() if line.startswith("LOADED ")]
    return result, said[-1] if said else ""
