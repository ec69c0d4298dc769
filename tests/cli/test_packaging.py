"""The wheel carries everything an installed gisplan needs, and an installed gisplan works.

A wheel is built from a copy of the source tree (with the front-end files ``make assets`` put in
gis/web/vendor, as ``make test`` does first), its file list checked against what the code reads,
then installed with ``pip install --target`` and used from a directory outside the repository,
with only the venv's third-party packages beside it: the standards and the pipeline rules load,
the bundled sample loads (so the migrations are there), the app serves the web map and MapLibre,
an offline map inlines Leaflet. The wheel is built by pip (setuptools from PyPI, in pip's isolated
build environment, as the venv's own editable install was).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.heavy  # a long module: collected first (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "gis" / "web" / "vendor"
# What the code asks for (gis/assets.py callers): the web map's page and api/webmap.py, the exports.
VENDOR_FILES = [
    "maplibre-gl/dist/maplibre-gl.js",
    "maplibre-gl/dist/maplibre-gl.css",
    "maplibre-gl/LICENSE.txt",
    "leaflet/dist/leaflet.js",
    "leaflet/dist/leaflet.css",
    "leaflet/LICENSE",
]
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "out", "__pycache__", "*.egg-info", "build", ".*_cache", "tests", "bench"
)

INSTALLED = r"""
import json, sys
from pathlib import Path

import api, gis, layers
from fastapi.testclient import TestClient

from api.main import create_app
from gis.demo import load_sample
from gis.export.offline_map import render_page
from gis.pipelines.rules import rules
from gis.standards import load_standard

target = Path(sys.argv[1]).resolve()
found = {"from": sorted({str(Path(m.__file__).resolve().parents[1]) for m in (api, gis, layers)})}
found["rules"] = rules()["id"]
found["standard"] = load_standard("gb50180").id
ws = gis.connect()
try:
    found["loaded"] = int(load_sample(ws)["features"].sum())
    found["findings"] = len(ws.pipelines.check())
    page = render_page(ws.map("stage"))
    found["leaflet inlined"] = "Leaflet 1.9.4, a JS library" in page and "data:image/png;base64," in page
    with TestClient(create_app(workspace=ws)) as client:
        for path in ("/", "/static/app.js", "/static/vendor/maplibre-gl/maplibre-gl.js",
                     "/static/vendor/maplibre-gl/maplibre-gl.css"):
            answer = client.get(path)
            found[path] = [answer.status_code, len(answer.content)]
finally:
    ws.close()
print(json.dumps(found))
"""


def pip(*args: str, cwd: Path) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pip", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def expected_files() -> set[str]:
    """Read from the source tree, not from pyproject: every data file the code ships or asks for."""
    wanted = {p.relative_to(ROOT).as_posix() for p in (ROOT / "layers").rglob("*") if p.is_file() and p.suffix != ".py"}
    wanted |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "gis" / "web" / "static").iterdir()}
    wanted |= {f"gis/web/vendor/{f}" for f in VENDOR_FILES}
    css = (VENDOR / "leaflet" / "dist" / "leaflet.css").read_text(encoding="utf-8")  # its images, inlined by exports
    wanted |= {f"gis/web/vendor/leaflet/dist/{ref}" for ref in re.findall(r"url\((images/[^)]+)\)", css)}
    migrations = ROOT / "gis" / "store" / "migrations"
    wanted |= {p.relative_to(ROOT).as_posix() for p in migrations.rglob("*") if p.suffix in (".py", ".mako")}
    wanted |= {"gis/sample/haidian_cau.gpkg", "gis/sample/README.md"}
    return {w for w in wanted if "__pycache__" not in w}


def test_the_wheel_carries_everything_and_works_installed(app_url: str, db_url: str, tmp_path: Path) -> None:
    if not all((VENDOR / f).is_file() for f in VENDOR_FILES):
        pytest.fail(f"{VENDOR} lacks the front-end files: run `make assets` (make test does)")
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=NOT_COPIED)
    pip("wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), ".", cwd=source)
    (wheel,) = (tmp_path / "dist").glob("gisplan-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert expected_files() <= names, sorted(expected_files() - names)
    assert not [n for n in names if n.endswith(".map") or "node_modules" in n or n.endswith(".installed")]
    assert wheel.stat().st_size < 3_000_000  # the few vendor files, not the 60 MB of node_modules

    target = tmp_path / "installed"
    pip("install", "--no-deps", "-q", "--target", str(target), str(wheel), cwd=tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("GISPLAN_ASSETS_DIR", "PYTHONPATH")}
    env |= {
        "PYTHONPATH": str(target),  # the venv's site-packages give the dependencies (and come after it)
        "GISPLAN_DATABASE_URL": app_url,
        "GISPLAN_OWNER_DATABASE_URL": db_url,
        "GISPLAN_HOME": str(tmp_path / "home"),
        "GISPLAN_PROGRESS": "0",
    }
    done = subprocess.run(
        [sys.executable, "-c", INSTALLED, str(target)],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["from"] == [str(target.resolve())]  # gis, api and layers of the wheel, not the repository
    assert (found["rules"], found["standard"]) == ("gb50289", "gb50180")
    assert found["loaded"] > 1000 and found["findings"] > 0
    assert found["leaflet inlined"]
    assert found["/"][0] == 200 and found["/static/app.js"][0] == 200
    maplibre = (VENDOR / "maplibre-gl" / "dist" / "maplibre-gl.js").stat().st_size
    assert found["/static/vendor/maplibre-gl/maplibre-gl.js"] == [200, maplibre]
    assert found["/static/vendor/maplibre-gl/maplibre-gl.css"][0] == 200
