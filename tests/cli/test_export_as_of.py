"""``gisplan export ... --as-of DATE``: the GeoPackage and the per-compound report as the layers
stood at the end of a day, from a real process."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest

from gis import clock
from gis.demo import sample_path
from gis.workspace import Workspace
from tests.helpers.cli import run


@pytest.fixture
def env(ws: Workspace, db_url: str, tmp_path: Path) -> dict[str, str]:
    for layer in ("compounds", "roads"):
        ws.load(layer, sample_path(), source_layer=layer)
    return {"GISPLAN_DATABASE_URL": db_url, "GISPLAN_HOME": str(tmp_path / "home")}


def test_export_gpkg_and_report_as_of(env: dict[str, str], ws: Workspace, tmp_path: Path) -> None:
    today = clock.today()  # the imports were audited today, in the programme's time zone
    now = tmp_path / "now.gpkg"
    done = run(["export", "gpkg", "--out", str(now), "--as-of", today.isoformat()], env)
    assert done.returncode == 0, done.stderr
    assert "left out buildings, roads, water (audited per import" in done.stdout
    assert "left out gaps, findings (stored results" in done.stdout
    tables = {name for name, _ in pyogrio.list_layers(now)}
    assert "roads" not in tables
    assert sorted(gpd.read_file(now, layer="compounds")["name"]) == sorted(ws.layer("compounds")["name"])

    then = tmp_path / "then.gpkg"
    done = run(["export", "gpkg", "--out", str(then), "--as-of", (today - timedelta(days=1)).isoformat()], env)
    assert done.returncode == 1 and "nothing to export as of" in done.stderr, done.stderr  # no compounds yet
    assert not then.exists()

    fid = int(ws.layer("compounds")["fid"].iloc[0])
    page = tmp_path / "report.html"
    done = run(["export", "report", str(fid), "--out", str(page), "--as-of", today.isoformat()], env)
    assert done.returncode == 0, done.stderr
    assert str(ws.layer("compounds").set_index("fid").loc[fid, "name"]) in page.read_text(encoding="utf-8")

    bad = run(["export", "gpkg", "--out", str(tmp_path / "x.gpkg"), "--as-of", "not-a-date"], env)
    assert bad.returncode == 2 and "--as-of" in bad.stderr
