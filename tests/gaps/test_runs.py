"""The store of runs: a hand-made run written and read back whole (unknowns stay unknown), the runs list."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text

from gis.demo import sample_path
from gis.gaps import runs
from gis.gaps.analysis import RESULT_COLUMNS
from gis.gaps.siting import SITE_COLUMNS
from gis.standards import load_standard
from gis.workspace import Workspace


def _results(crs: object) -> gpd.GeoDataFrame:
    frame = {
        "compound_id": [1, 2],
        "compound_name": ["东小区", None],
        "facility_type": ["kindergarten", "kindergarten"],
        "distance_m": [120.5, np.nan],  # the second is unreachable
        "radius_m": [300.0, 300.0],
        "covered": [True, False],
        "basis": ["network", "network"],
        "level": ["5min", "5min"],
        "radius_status": ["normative", "normative"],
        "euclidean_m": [80.2, 700.0],
        "nearest_facility_id": pd.array([9, None], dtype="Int64"),
        "nearest_facility_name": ["幼儿园", None],
        "flag": [None, "no road within 300 m"],
        "district": ["海淀区", "海淀区"],
        "street": ["学院路街道", None],
        "population": [1000.0, np.nan],
        "demand_group": ["children", "children"],
        "demand": [33.2, np.nan],
        "affected": [0.0, np.nan],
        "capacity_ratio": [np.nan, np.nan],
    }
    geoms = [shapely.box(0, 0, 10, 10), shapely.MultiPolygon([shapely.box(20, 0, 30, 10), shapely.box(40, 0, 50, 5)])]
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=crs)


def test_a_run_reads_back_as_written(ws: Workspace) -> None:
    assert runs.list_runs(ws.engine) == []  # nothing loaded yet: no tables, no runs
    ws.load("compounds", sample_path(), source_layer="compounds")
    assert runs.list_runs(ws.engine) == []
    crs = ws.working_crs
    results = _results(crs)
    sites = gpd.GeoDataFrame(
        {
            "rank": [1],
            "facility_type": ["kindergarten"],
            "candidate": ["东小区"],
            "new_compounds": [1],
            "new_compound_names": ["东小区"],
            "new_demand": [np.nan],
        },
        geometry=[shapely.Point(5, 5)],
        crs=crs,
    )
    record = runs.RunRecord(
        actor="test",
        standard=load_standard(),
        basis="network",
        parameters={"tolerance_m": 1.0},
        inputs={"compounds": 2},
        network={"nodes": 3},
        warnings=["a note"],
        results=results,
        srid=ws.db.srid,
        sites=sites,
    )
    run_id = runs.store_run(ws.engine, record)
    back = runs.read_run(ws.engine, run_id)
    assert (back.standard, back.basis, back.network, back.warnings) == ("gb50180", "network", {"nodes": 3}, ["a note"])
    got = back.results
    assert list(got.columns) == [*RESULT_COLUMNS, "geometry"] and got.crs == crs
    pd.testing.assert_frame_equal(
        pd.DataFrame(got.drop(columns="geometry")).astype(object).where(got.notna(), None),
        pd.DataFrame(results.drop(columns="geometry")).astype(object).where(results.notna(), None),
        check_dtype=False,
    )
    assert all(a.equals(b) for a, b in zip(got.geometry, results.geometry, strict=True))
    with ws.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT rank, candidate, new_demand, ST_AsText(geom), ST_SRID(geom) FROM site_proposals")
        ).one()
    assert tuple(stored) == (1, "东小区", None, "POINT(5 5)", ws.db.srid)
    assert list(sites.columns) == SITE_COLUMNS

    second = runs.store_run(ws.engine, runs.RunRecord(**{**record.__dict__, "sites": None, "actor": "again"}))
    listed = runs.list_runs(ws.engine)
    assert [r["id"] for r in listed] == [second, run_id]  # newest first
    assert listed[1]["parameters"]["tolerance_m"] == 1.0 and "standard_overridden" in listed[1]["parameters"]
    assert set(listed[0]) == {"id", "at", "standard", "basis", "parameters", "inputs"}
    assert [r["id"] for r in runs.list_runs(ws.engine, limit=1)] == [second]


def test_a_siting_run_without_result_rows_keeps_its_crs(haidian: Workspace) -> None:
    """A siting run stores sites, no gap rows; reading it back (the API's GeoJSON of a run) needs the
    CRS all the same (found by the fuzzer: GET /api/gaps/runs/{id} of such a run was a 500)."""
    sites = haidian.propose_sites("kindergarten", k=1)
    run = haidian.gap_run(int(sites.attrs["run_id"]))
    assert len(run.results) == 0 and run.results.crs == haidian.working_crs
    assert run.results.to_crs(4326).crs.to_epsg() == 4326
