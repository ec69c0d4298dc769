"""A layer as of an instant, rebuilt from the audit log, against the layer as it was read live then.

Compounds are imported, edited, created and deleted through the real write paths (``ws.load``, the
OGC edit engine), each change in a transaction of its own, and the database clock is read between
the steps. After the last step, ``ws.layer(..., as_of=instant)`` must give, at every instant, exactly
the frame ``ws.layer()`` read from the table at that instant (kept as it was), and the hand-known
facts of each step (which feature was renamed, created, deleted, moved).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
import shapely
from pyproj import CRS
from sqlalchemy import text

from gis import clock
from gis.demo import sample_path
from gis.errors import AsOfError, NoRowHistoryError
from gis.ogc import edits
from gis.workspace import Workspace

SQUARE = [[116.50, 40.10], [116.501, 40.10], [116.501, 40.101], [116.50, 40.101], [116.50, 40.10]]


def instant(ws: Workspace) -> datetime:
    """The database's clock now (between two steps: after one commit, before the next begins)."""
    with ws.engine.connect() as conn:
        at: datetime = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    return at


def feature(ring: list[list[float]], name: str) -> dict[str, object]:
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {"name": name}}


def assert_same(rebuilt: gpd.GeoDataFrame, live: gpd.GeoDataFrame) -> None:
    """The same columns in the same order, the same rows and values, the same geometry (to a micrometre)."""
    assert list(rebuilt.columns) == list(live.columns)
    assert rebuilt.crs == live.crs
    assert rebuilt["fid"].tolist() == live["fid"].tolist()
    left = pd.DataFrame(rebuilt.drop(columns="geometry")).astype(object).where(rebuilt.notna(), None)
    right = pd.DataFrame(live.drop(columns="geometry")).astype(object).where(live.notna(), None)
    assert left.to_dict("records") == right.to_dict("records")
    assert all(shapely.equals_exact(rebuilt.geometry.values, live.geometry.values, tolerance=1e-6))


def test_compounds_as_of_each_instant_of_a_history(ws: Workspace) -> None:
    before_all = instant(ws)
    ws.load("compounds", sample_path(), source_layer="compounds", actor="张三")
    t1, live1 = instant(ws), ws.layer("compounds")
    assert len(live1) == 9
    compounds, working = ws.registry.layer("compounds"), ws.working_crs
    assert working is not None
    a, b = int(live1["fid"].iloc[0]), int(live1["fid"].iloc[1])
    edit = edits.Edit(ws.registry, compounds, source_crs=CRS.from_epsg(4326), working_crs=working, actor="李四")

    edits.replace(
        ws.engine, edit, a, {"type": "Feature", "properties": {"name": "改名小区"}}, expected_version=1, partial=True
    )
    t2, live2 = instant(ws), ws.layer("compounds")
    x, _ = edits.create(ws.engine, edit, feature(SQUARE, "新建小区"))
    t3, live3 = instant(ws), ws.layer("compounds")
    edits.delete(ws.engine, compounds, b, expected_version=1, actor="李四")
    t4, live4 = instant(ws), ws.layer("compounds")
    moved = [[lon + 0.01, lat] for lon, lat in SQUARE]
    edits.replace(ws.engine, edit, x, feature(moved, "新建小区"), expected_version=1)
    t5, live5 = instant(ws), ws.layer("compounds")

    # each instant: exactly the layer as it was read then
    for at, live in [(t1, live1), (t2, live2), (t3, live3), (t4, live4), (t5, live5)]:
        assert_same(ws.layer("compounds", as_of=at), live)
    # and what each step did, by hand
    name = {t: dict(zip(f["fid"], f["name"], strict=True)) for t, f in [(t1, live1), (t2, live2)]}
    assert name[t1][a] != "改名小区" and name[t2][a] == "改名小区"
    assert {int(f) for f in ws.layer("compounds", as_of=t2)["fid"]} == {int(f) for f in live1["fid"]}
    at3 = ws.layer("compounds", as_of=t3)
    assert len(at3) == 10 and at3.set_index("fid").loc[x, "name"] == "新建小区"
    at4 = ws.layer("compounds", as_of=t4)
    assert b not in set(at4["fid"]) and x in set(at4["fid"]) and len(at4) == 9
    shift = ws.layer("compounds", as_of=t5).set_index("fid").loc[x, "geometry"].centroid.x
    assert shift - at4.set_index("fid").loc[x, "geometry"].centroid.x == pytest.approx(0.01 * 85_000, rel=0.05)
    # before anything: an empty frame with the same columns
    empty = ws.layer("compounds", as_of=before_all)
    assert len(empty) == 0 and list(empty.columns) == list(live1.columns)
    # filters and bounding boxes apply to the rebuilt layer
    box = (116.499, 40.099, 116.502, 40.102)
    assert ws.layer("compounds", as_of=t3, bbox=box)["fid"].tolist() == [x]
    assert ws.layer("compounds", as_of=t4, where={"name": "改名小区"})["fid"].tolist() == [a]
    # a date is the end of that day in the programme's zone; ISO text is read as the value it writes
    today = t5.astimezone(clock.zone()).date()
    assert_same(ws.layer("compounds", as_of=today), live5)
    assert len(ws.layer("compounds", as_of=today - timedelta(days=1))) == 0
    assert_same(ws.layer("compounds", as_of=t2.isoformat()), live2)


def test_rows_older_than_the_audit_stand_as_it_first_knew_them(ws: Workspace, db_url: str) -> None:
    """A database whose audit starts after its rows were written (here: the import's audit rows are
    removed by the schema owner): a row the audit never saw inserted stands, from its creation, as the
    ``before`` of its first audited change, or as it is when the audit never saw it change."""
    before_all = instant(ws)
    ws.load("compounds", sample_path(), source_layer="compounds")
    t1, live1 = instant(ws), ws.layer("compounds")
    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("DELETE FROM audit_log WHERE layer = 'compounds'")
    compounds, working = ws.registry.layer("compounds"), ws.working_crs
    assert working is not None
    a = int(live1["fid"].iloc[0])
    edit = edits.Edit(ws.registry, compounds, source_crs=CRS.from_epsg(4326), working_crs=working, actor="李四")
    edits.replace(
        ws.engine, edit, a, {"type": "Feature", "properties": {"name": "改名小区"}}, expected_version=1, partial=True
    )
    t2, live2 = instant(ws), ws.layer("compounds")
    assert_same(ws.layer("compounds", as_of=t1), live1)  # a from its update's before, the rest from the table
    assert_same(ws.layer("compounds", as_of=t2), live2)
    assert len(ws.layer("compounds", as_of=before_all)) == 0  # created after that


def test_layers_without_row_history_and_bad_instants_are_refused(ws: Workspace) -> None:
    ws.load("roads", sample_path(), source_layer="roads")
    with pytest.raises(NoRowHistoryError, match="roads cannot be read as of a date"):
        ws.layer("roads", as_of="2026-03-31")
    assert NoRowHistoryError.status == 422
    for bad in ["2026-13-01", "yesterday", "2026-03-31T12:00:00"]:  # the last: no offset
        with pytest.raises(AsOfError, match="as_of"):
            ws.layer("compounds", as_of=bad)
    with pytest.raises(AsOfError, match="offset"):
        ws.layer("compounds", as_of=datetime(2026, 3, 31, 12))
