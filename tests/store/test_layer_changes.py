"""The change counts caches key on: every writing statement on a layer moves its count, in the writer's
transaction (a rolled-back one moves nothing), and the extent the collections serve follows an edit at
once — checked against the features' own bounds computed by geopandas."""

from __future__ import annotations

from pyproj import CRS
from sqlalchemy import text

from gis.demo import sample_path
from gis.ogc import edits
from gis.store import layers
from gis.workspace import Workspace


def _holds(extent: list[float] | None, ws: Workspace, layer_id: str) -> bool:
    """The extent holds every feature's own bounds (geopandas), and not much more: it is the working
    CRS's box, seen in longitude/latitude, so it may reach past them by a sliver of its size."""
    assert extent is not None
    minx, miny, maxx, maxy = ws.layer(layer_id).to_crs(4326).total_bounds
    (x0, y0, x1, y1), eps = extent, 1e-7
    inside = x0 <= minx + eps and y0 <= miny + eps and x1 >= maxx - eps and y1 >= maxy - eps
    slack = max(minx - x0, miny - y0, x1 - maxx, y1 - maxy)
    return inside and slack <= 0.02 * max(maxx - minx, maxy - miny)


def test_every_write_moves_the_count_and_a_rolled_back_one_does_not(ws: Workspace) -> None:
    ws.load("compounds", sample_path(), source_layer="compounds")
    compounds, roads = ws.registry.layer("compounds"), ws.registry.layer("roads")
    loaded = layers.stamp(ws.engine, [compounds, roads])
    assert loaded[0] >= 1 and loaded[1] == 0  # the import wrote compounds, nothing wrote roads
    with ws.engine.connect() as conn:  # a writer that gives up leaves no trace
        conn.execute(text("UPDATE compounds SET name = name || '?'"))
        conn.rollback()
    assert layers.stamp(ws.engine, [compounds, roads]) == loaded
    ws.load("compounds", sample_path(), source_layer="compounds")  # the same file again: an import still ran
    again = layers.stamp(ws.engine, [compounds])[0]
    assert again > loaded[0]
    fid = int(ws.layer("compounds")["fid"].iloc[0])
    version = edits.current_version(ws.engine, compounds, fid)
    assert version is not None
    edits.delete(ws.engine, compounds, fid, expected_version=version, actor="test")
    assert layers.stamp(ws.engine, [compounds])[0] == again + 1


def test_the_extent_follows_an_edit_at_once(ws: Workspace) -> None:
    ws.load("compounds", sample_path(), source_layer="compounds")
    compounds = ws.registry.layer("compounds")
    first = layers.extent_lonlat(ws.engine, compounds)
    assert first is not None
    assert _holds(first, ws, "compounds")
    assert layers.extent_lonlat(ws.engine, compounds) == first  # kept: the same answer
    working = ws.working_crs
    assert working is not None
    far = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[116.50, 40.10], [116.501, 40.10], [116.501, 40.101], [116.50, 40.101], [116.50, 40.10]]],
        },
        "properties": {"name": "远处的小区"},
    }
    edit = edits.Edit(ws.registry, compounds, source_crs=CRS.from_epsg(4326), working_crs=working, actor="test")
    fid, version = edits.create(ws.engine, edit, far)
    grown = layers.extent_lonlat(ws.engine, compounds)
    assert grown is not None and grown != first
    assert _holds(grown, ws, "compounds")
    assert grown[2] >= 116.501 and grown[3] >= 40.101 > first[3]
    edits.delete(ws.engine, compounds, fid, expected_version=version, actor="test")
    assert layers.extent_lonlat(ws.engine, compounds) == first


def test_the_count_follows_imports_and_edits_at_once(ws: Workspace) -> None:
    """The kept count of a layer (an unfiltered page's numberMatched) against len() of the layer read
    afresh by geopandas, after an import, a second import, a create and a delete."""
    compounds = ws.registry.layer("compounds")
    ws.load("compounds", sample_path(), source_layer="compounds")
    assert layers.count(ws.engine, compounds) == (len(ws.layer("compounds")), False) == (9, False)
    ws.load("roads", sample_path(), source_layer="roads")  # another layer's change keeps it
    assert layers.count(ws.engine, compounds) == (9, False)
    working = ws.working_crs
    assert working is not None
    edit = edits.Edit(ws.registry, compounds, source_crs=CRS.from_epsg(4326), working_crs=working, actor="test")
    point = {"type": "Point", "coordinates": [116.35, 40.0]}
    new = {"type": "Feature", "geometry": point, "properties": {"name": "新"}}
    fid, version = edits.create(ws.engine, edit, new)
    assert layers.count(ws.engine, compounds) == (len(ws.layer("compounds")), False) == (10, False)
    edits.delete(ws.engine, compounds, fid, expected_version=version, actor="test")
    assert layers.count(ws.engine, compounds) == (9, False)
    # above the limit the planner's estimate is given, and said to be one
    estimate, estimated = layers.count(ws.engine, compounds, estimate_above=-2)
    assert estimated and estimate >= -1
