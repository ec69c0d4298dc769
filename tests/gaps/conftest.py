"""Fixtures of the analysis tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from gis.workspace import Workspace


@pytest.fixture
def haidian(ws: Workspace, data_dir: Path) -> Workspace:
    osm = data_dir / "cn-beijing-haidian-cau" / "map.osm"
    for layer in ("compounds", "facilities", "roads"):
        ws.load(layer, osm)
    return ws
