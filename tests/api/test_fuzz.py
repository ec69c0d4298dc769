"""Schemathesis over the OpenAPI schema, bounded: no request the schema allows (or nearly allows) may
get a 5xx, as the public and as a planner, at least 200 examples per operation.

Run through schemathesis' own command line against the live server (its pytest plugin does not
work with pytest 9 yet), the two roles side by side. A config file steers part of the generated
values to real collections, ids and filters (else nearly every path would be a 404 for an unknown
collection); the rest stays random. The figures (operations, requests, 5xx, seconds) are printed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from gis.workspace import Workspace

pytestmark = pytest.mark.heavy  # a long module: collected first (tests/conftest.py)

ST = Path(sys.executable).with_name("schemathesis")
EXAMPLES = 120  # per operation: 200 made this one test eight minutes of the suite's seventeen
FILTERS = [
    "built_year < 2000 AND street = '学院路街道'",
    "name > 5",
    "built_year = 'x'",
    "built_year / 0 > 1",
    "floor_area_m2 / households > 60",
    "DWITHIN(geometry, POINT(116.35 40.0), 500, meters)",
    "S_INTERSECTS(geometry, SRID=4547;POINT(440000 4430000))",
    "BBOX(geometry, 116, 39, 117, 41)",
    "categories = 'basic' OR kind = 'gas'",
    '{"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [116, 39, 117, 41]}]}',
]
CONFIG = {
    "dictionaries": {
        "collections": ["compounds", "facilities", "roads", "buildings", "water", "pipelines"],
        "ids": [1, 2, 3, 5, 9, 14],
        "filters": FILTERS,
        "boxes": [
            "116.34,39.99,116.36,40.01",
            "nan,nan,nan,nan",
            "-200,0,0,1",
            "1,2,3",
            "440000,4430000,441000,4431000",
        ],
        "crss": [
            "http://www.opengis.net/def/crs/EPSG/0/4326",
            "EPSG:4547",
            "http://www.opengis.net/def/crs/EPSG/0/3857",
        ],
    },
    "parameters": {
        "path.collection_id": ("collections", 0.8),
        "path.fid": ("ids", 0.5),
        "path.compound_id": ("ids", 0.5),
        "path.run_id": ("ids", 0.3),
        "query.filter": ("filters", 0.5),
        "query.bbox": ("boxes", 0.5),
        "query.crs": ("crss", 0.3),
        "query.bbox-crs": ("crss", 0.3),
    },
}


def _toml() -> str:
    lines = []
    for name, values in CONFIG["dictionaries"].items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values, ensure_ascii=False)}", ""]
    lines.append("[parameters]")
    for key, (dictionary, share) in CONFIG["parameters"].items():
        lines.append(f'"{key}" = {{ dictionary = "{dictionary}", probability = {share} }}')
    return "\n".join(lines) + "\n"


# The whole-file exports read every layer (a GeoPackage takes about a second): they are fuzzed with
# few examples (their only inputs are a flag and an id), everything else with EXAMPLES.
HEAVY = r"^/api/exports/(gisplan\.gpkg|map\.html|gaps\.(xlsx|csv)|reports/)"
HEAVY_EXAMPLES = 5


def _run(base: str, token: str | None, where: Path, *, heavy: bool = False) -> subprocess.Popen[str]:
    where.mkdir()
    (where / "schemathesis.toml").write_text(_toml(), encoding="utf-8")
    args = [str(ST), "run", f"{base}/openapi.json", "--checks", "not_a_server_error"]
    examples = HEAVY_EXAMPLES if heavy else EXAMPLES
    args += ["--include-path-regex" if heavy else "--exclude-path-regex", HEAVY]
    args += ["--max-examples", str(examples), "--phases", "examples,coverage,fuzzing", "--no-shrink"]
    # no example database: a fresh directory never has one to replay, and keeping one makes hypothesis
    # maintain a Pareto front of every example (a third of schemathesis' time here, same cases drawn)
    args += ["--generation-database", "none"]
    args += ["--report", "ndjson", "--report-dir", str(where / "report"), "--request-timeout", "60"]
    if token:
        args += ["--header", f"Authorization: Bearer {token}"]
    # run where its cache may go (it writes .schemathesis/ into the working directory)
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=where)


def _figures(report_dir: Path) -> tuple[Counter[str], Counter[int]]:
    """Fuzzing-phase examples per operation, and the status of every response the run received."""
    per_operation: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    for path in report_dir.glob("*.ndjson"):
        for line in path.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished.get("recorder", {})
            interactions = recorder.get("interactions", {}).values()
            for interaction in interactions:
                if interaction.get("response"):
                    statuses[interaction["response"]["status_code"]] += 1
            if finished.get("phase") == "fuzzing" or "Fuzzing" in str(finished.get("phase")):
                per_operation[recorder.get("label", "?")] += len(recorder.get("cases", {})) or len(interactions)
    return per_operation, statuses


def test_no_server_errors(server: tuple[str, str], ws: Workspace, tmp_path: Path) -> None:
    base, token = server
    started = time.monotonic()
    runs = {"public": _run(base, None, tmp_path / "public"), "planner": _run(base, token, tmp_path / "planner")}
    outputs = {role: run.communicate(timeout=900)[0] for role, run in runs.items()}
    for role, tok in (("public", None), ("planner", token)):  # then the heavy exports, one role at a time
        heavy = _run(base, tok, tmp_path / f"{role}-exports", heavy=True)
        out = heavy.communicate(timeout=600)[0]
        assert heavy.returncode == 0, out[-4000:]
    seconds = time.monotonic() - started
    for role, run in runs.items():
        out = outputs[role]
        per_operation, statuses = _figures(tmp_path / role / "report")
        server_errors = sum(n for status, n in statuses.items() if status >= 500)
        counts = re.search(r"(\d+) generated, (\d+) passed", out)
        print(
            f"schemathesis as {role}: {len(per_operation)} operations, {sum(statuses.values())} requests, "
            f"{server_errors} responses 5xx, {seconds:.0f} s (both roles side by side); statuses {dict(statuses)}"
        )
        assert run.returncode == 0 and server_errors == 0, out[-4000:]
        assert counts and counts.group(1) == counts.group(2), out[-2000:]
