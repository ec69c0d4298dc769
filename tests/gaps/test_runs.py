"""The store of runs: a hand-made run written and read back whole (unknowns stay unknown), the runs list."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from gis.demo import sample_path
from gis.gaps import runs
from gis.gaps.analysis import RESULT_COLUMNS
from gis.gaps.siting import SITE_COLUMNS
from gis.standards import load_standard
from gis.workspace import Workspace


def _results(compounds: gpd.GeoDataFrame, facility: tuple[int, str]) -> gpd.GeoDataFrame:
    """Two hand-made rows for the first two compounds of the layer: a run names its compounds by id,
    and their names, district, street and geometry are the layer's."""
    two = compounds.iloc[:2]
    frame = {
        "compound_id": two["fid"].tolist(),
        "compound_name": two["name"].tolist(),
        "facility_type": ["kindergarten", "kindergarten"],
        "distance_m": [120.5, np.nan],  # the second is unreachable
        "radius_m": [300.0, 300.0],
        "covered": [True, False],
        "basis": ["network", "network"],
        "level": ["5min", "5min"],
        "radius_status": ["normative", "normative"],
        "euclidean_m": [80.2, 700.0],
        "nearest_facility_id": pd.array([facility[0], None], dtype="Int64"),
        "nearest_facility_name": [facility[1], None],
        "flag": [None, "no road within 300 m"],
        "district": two["district"].tolist(),
        "street": two["street"].tolist(),
        "population": [1000.0, np.nan],
        "demand_group": ["children", "children"],
        "demand": [33.2, np.nan],
        "affected": [0.0, np.nan],
        "capacity_ratio": [np.nan, np.nan],
    }
    return gpd.GeoDataFrame(frame, geometry=two.geometry.tolist(), crs=compounds.crs)


def test_a_run_reads_back_as_written(ws: Workspace) -> None:
    assert runs.list_runs(ws.engine) == []  # nothing loaded yet: no tables, no runs
    ws.load("compounds", sample_path(), source_layer="compounds")
    ws.load("facilities", sample_path(), source_layer="facilities")
    assert runs.list_runs(ws.engine) == []
    crs = ws.working_crs
    first = ws.layer("facilities").iloc[0]
    results = _results(ws.layer("compounds"), (int(first["fid"]), str(first["name"])))
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

    with ws.engine.connect() as conn, pytest.raises(sa_exc.DBAPIError, match="names no gap run"):
        conn.execute(
            text(
                "INSERT INTO gap_results SELECT 999, compound_fid, compound_name, district, street, "
                "facility_type, level, radius_m, radius_status, distance_m, euclidean_m, covered, basis, "
                "nearest_fid, nearest_name, flag, population, demand_group, demand, affected, capacity_ratio "
                "FROM gap_results"
            )
        )
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
