"""Progress bars: shown when someone watches (a terminal, forced), silent in a pipe or a test."""

from __future__ import annotations

import pytest

from gis.bars import track
from gis.demo import sample_path
from gis.workspace import Workspace


def test_silent_when_not_interactive(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GISPLAN_PROGRESS", raising=False)
    assert list(track([1, 2, 3], "x")) == [1, 2, 3]
    assert capsys.readouterr().err == ""


def test_bars_for_an_import_and_an_analysis(
    ws: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GISPLAN_PROGRESS", "1")
    ws.load("compounds", sample_path(), source_layer="compounds")
    err = capsys.readouterr().err
    assert "导入 haidian_cau.gpkg → compounds" in err and "读取 reading" in err
    ws.gaps(["kindergarten", "clinic"])
    err = capsys.readouterr().err
    assert "服务缺口分析" in err and "kindergarten" in err and "clinic" in err
    monkeypatch.setenv("GISPLAN_PROGRESS", "0")
    ws.gaps("kindergarten")
    assert capsys.readouterr().err == ""
