"""Run the gisplan command as a user does: a real process, real exit codes, real output."""

from __future__ import annotations

import os
import subprocess
import sys

GISPLAN = [sys.executable, "-m", "gis"]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **env}
    return subprocess.run([*GISPLAN, *args], capture_output=True, text=True, env=full, timeout=300, check=False)
