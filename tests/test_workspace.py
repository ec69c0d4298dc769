"""The library API a notebook meets: gis.connect, ws.layers, ws.layer with bbox/where/crs."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely

import gis
from gis.errors import UnknownLayerError
from gis.settings import Settings
from gis.workspace import Workspace


def test_empty_database(ws: Workspace) -> None:
    layers = ws.layers()
    assert list(layers.columns) == ["id", "label_zh", "label_en", "geometry", "count", "restricted"]
    assert layers["count"].sum() == 0 and ws.working_crs is None
    with pytest.raises(LookupError, match="load something first"):
        ws.layer("compounds")


def test_read_with_bbox_where_and_crs(ws: Workspace, data_dir: Path) -> None:
    ws.load("compounds", data_dir / "cn-beijing-haidian-cau" / "map.osm")
    everything = ws.layer("compounds", crs=4326)
    target = everything.set_index("name").loc["富润家园"].geometry
    x, y = target.representative_point().coords[0]
    box = (x - 1e-5, y - 1e-5, x + 1e-5, y + 1e-5)
    picked = ws.layer("compounds", bbox=box)
    # the same question answered by shapely on the full layer
    expected = everything[everything.intersects(shapely.box(*box))]
    assert sorted(picked["name"].dropna()) == sorted(expected["name"].dropna()) and "富润家园" in set(picked["name"])
    assert list(ws.layer("compounds", where={"name": ["静淑苑", "学士居"]}).sort_values("name")["name"]) == [
        "学士居",
        "静淑苑",
    ]
    with pytest.raises(KeyError, match="built_year"):
        ws.layer("compounds", where={"小区名称": "静淑苑"})
    with pytest.raises(UnknownLayerError, match="compounds"):
        ws.layer("小区")
    assert ws.layer("compounds", crs="EPSG:4326").crs.to_epsg() == 4326


def test_connect_by_url(db_url: str, tmp_path: Path, data_dir: Path) -> None:
    ws = gis.connect(db_url, settings=Settings(home=tmp_path))
    try:
        ws.load("facilities", data_dir / "cn-beijing-haidian-bupt" / "map.osm")
        assert ws.layers().set_index("id").loc["facilities", "count"] > 0
        assert "t_" in repr(ws) and "***" not in repr(ws).split("@")[-1]
    finally:
        ws.close()


def test_misspelt_option_is_an_error(ws: Workspace, data_dir: Path) -> None:
    with pytest.raises(TypeError, match="strict"):
        ws.load("compounds", data_dir / "cn-beijing-haidian-cau" / "map.osm", strcit=True)  # type: ignore[call-arg]
