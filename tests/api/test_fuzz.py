"""Schemathesis over the OpenAPI schema, bounded: no request the schema allows may get a 5xx.

Run through schemathesis' own command line against the live server (its pytest plugin does not
work with pytest 9 yet), once as the public and once as a planner.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from gis.workspace import Workspace

ST = Path(sys.executable).with_name("schemathesis")


@pytest.mark.parametrize("as_planner", [False, True])
def test_no_server_errors(
    server: tuple[str, str],
    ws: Workspace,
    as_planner: bool,
    tmp_path: Path,
) -> None:
    base, token = server
    args = [str(ST), "run", f"{base}/openapi.json", "--checks", "not_a_server_error", "--max-examples", "10"]
    if as_planner:
        args += ["--header", f"Authorization: Bearer {token}"]
    # run where its cache may go (it writes .schemathesis/ into the working directory)
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert counts and counts.group(1) == counts.group(2) and int(counts.group(1)) > 100, result.stdout[-2000:]
