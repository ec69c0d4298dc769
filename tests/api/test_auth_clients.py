"""The clients planners really use, signed in with HTTP Basic (user name, token as the password):
GDAL's OAPIF driver with GDAL_HTTP_USERPWD and QGIS 3.22's own OAPIF provider (Debian's python3-qgis,
headless, an authentication configuration of method Basic). Without credentials, or with a wrong
token, neither reaches the pipelines."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.main import create_app
from gis.demo import sample_path
from gis.store.users import add_user
from gis.workspace import Workspace
from tests.helpers.live import serve

QGIS_SCRIPT = Path(__file__).resolve().parents[1] / "helpers" / "qgis_oapif.py"
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, where python3-qgis lives


@pytest.fixture
def live(ws: Workspace) -> Iterator[tuple[str, str, int]]:
    """The sample served; yields (base URL, a planner's token, the number of pipelines)."""
    for layer in ("compounds", "facilities", "roads", "pipelines"):
        ws.load(layer, sample_path(), source_layer=layer)
    token = add_user(ws.engine, "planner1", "planner")
    with serve(create_app(workspace=ws)) as base:
        yield base, token, len(ws.layer("pipelines"))


def ogrinfo(base: str, userpwd: str | None, layer: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GDAL_HTTP")}
    if userpwd:
        env["GDAL_HTTP_USERPWD"] = userpwd
    args = ["ogrinfo", "-ro", "-so", f"OAPIF:{base}/ogc", *([layer] if layer else [])]
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_gdal_with_basic_auth_lists_and_counts_the_pipelines(live: tuple[str, str, int]) -> None:
    base, token, n = live
    signed = ogrinfo(base, f"planner1:{token}")
    assert signed.returncode == 0, signed.stderr
    assert "pipelines" in signed.stdout and "compounds" in signed.stdout
    counted = ogrinfo(base, f"planner1:{token}", "pipelines")
    assert counted.returncode == 0, counted.stderr
    assert f"Feature Count: {n}" in counted.stdout, counted.stdout

    anonymous = ogrinfo(base, None)
    assert anonymous.returncode == 0 and "compounds" in anonymous.stdout
    assert "pipelines" not in anonymous.stdout
    wrong = ogrinfo(base, f"planner1:{token[:-2]}xx")  # a wrong token: refused, not read as public
    assert wrong.returncode != 0 and "compounds" not in wrong.stdout
    other = ogrinfo(base, f"someone:{token}")  # the right token under another name: refused
    assert other.returncode != 0 and "pipelines" not in other.stdout


def qgis(base: str, *auth: str) -> dict[str, object]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    for key in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(key, None)
    done = subprocess.run(
        [SYSTEM_PYTHON, str(QGIS_SCRIPT), f"{base}/ogc", "pipelines", *auth],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"QGIS printed nothing: {done.returncode} {done.stderr[-2000:]}"
    found: dict[str, object] = json.loads(lines[-1])
    return found


def test_qgis_oapif_provider_with_a_basic_auth_config_reads_the_pipelines(live: tuple[str, str, int]) -> None:
    base, token, n = live
    signed = qgis(base, "planner1", token)
    assert signed["valid"] is True, signed
    assert signed["count"] == n and signed["features"] == n, signed
    anonymous = qgis(base)
    assert anonymous["valid"] is False  # the public cannot see the collection at all
    wrong = qgis(base, "planner1", "not-the-token")
    assert wrong["valid"] is False
