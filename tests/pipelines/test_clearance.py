"""Clearances between buried lines: hand-worked stretches, the rule per pair, and the clipping bound
against a brute-force computation (every pair buffered whole) on real lines."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.pipelines.clearance import Lines, PairRules, line_profiles, measure, pair_rules
from gis.pipelines.rules import rules
from gis.workspace import Workspace

GK = "EPSG:4548"
X0, Y0 = 442000.0, 4428000.0
FACTOR = 4.0


def test_the_most_specific_rule_per_pair() -> None:
    frame = pd.DataFrame(
        {
            "kind": ["JS", "WS", "JS", "RQ", "RQ", "GY"],
            "diameter_mm": [150, 400, None, 160, 400, None],
            "pressure": [None, None, None, "medium_b", "medium_b", None],
        }
    )
    codes, profiles = line_profiles(frame)
    by = pair_rules(profiles)
    dn = np.fmax(frame["diameter_mm"].to_numpy(dtype=float)[:, None], frame["diameter_mm"].to_numpy(dtype=float))
    required = by.required(np.repeat(codes, len(codes)), np.tile(codes, len(codes)), dn.ravel()).reshape(
        len(codes), len(codes)
    )
    # water ≤ 200 mm beside a sewer: 1.0 m, with that row's status; water of unknown diameter: > 200 mm, 1.5 m
    (row,) = [r for r in rules()["horizontal_clearance_m"] if {r["a"], r["b"]} == {"sewer_storm", "water_le_200"}]
    assert required[0, 1] == row["value"] == 1.0 and by.status[codes[0], codes[1]] == row["status"] == "weak"
    assert required[2, 1] == 1.5 and "200" in by.note[codes[2], codes[1]]
    # gas beside gas: 0.4 m up to DN 300, 0.5 m above (the larger of the two diameters)
    assert required[3, 3] == 0.4 and required[3, 4] == 0.5
    # water beside 中压B gas: water_any × gas_medium_b (0.5 m), not the sewer rows
    assert required[0, 3] == 0.5
    # industrial lines are not in 表4.1.9
    assert np.isnan(required[5]).all() and np.isnan(required[:, 5]).all()


def _line(*pts: tuple[float, float]) -> shapely.LineString:
    return shapely.LineString([(X0 + x, Y0 + y) for x, y in pts])


def test_lines_parting_at_a_junction(ws: Workspace, tmp_path: Path) -> None:
    # A sewer along the x axis; water mains (≤ 200 mm: 1.0 m required) leave its start at an angle θ.
    # A point t along a main is t·sin θ from the sewer: the stretch is 1 / sin θ (the buffer's straight
    # side is exact), a finding only past 4 m.
    angles = {"JS-5m": math.asin(1 / 5), "JS-3m": math.asin(1 / 3)}
    geoms = [_line((0, 0), (100, 0))]
    geoms += [_line((0, 0), (50 * math.cos(a), 50 * math.sin(a))) for a in angles.values()]
    gpd.GeoDataFrame(
        {"管线编号": ["WS-1", *angles], "管线种类": ["污水", "给水", "给水"], "管径": [400, 150, 150]},
        geometry=geoms,
        crs=GK,
    ).to_file(tmp_path / "p.gpkg")
    ws.load("pipelines", tmp_path / "p.gpkg")
    f = ws.pipelines.check()
    found = f[f["check"] == "clearance"]
    assert len(found) == 1  # the 3 m stretch is a crossing, not a parallel run; the mains meet at 0 m too
    row = found.iloc[0]
    assert {row.kind_a, row.kind_b} == {"WS", "JS"} and row.required_m == 1.0 and row.actual_m == 0.0
    # to rounding at coordinates of 4.4e6 m
    assert row.stretch_m == pytest.approx(5.0, abs=1e-6)
    assert row.geometry.length == pytest.approx(row.stretch_m, abs=1e-9)


def _brute_force(lines: Lines, by: PairRules, ia: np.ndarray, ib: np.ndarray) -> pd.DataFrame:
    """Every pair with a rule, whole lines buffered: the computation the bound is meant to save."""
    required = by.required(lines.profile[ia], lines.profile[ib], np.fmax(lines.diameter[ia], lines.diameter[ib]))
    ok = ~np.isnan(required)
    ia, ib, required = ia[ok], ib[ok], required[ok]
    a, b = lines.geom[ia], lines.geom[ib]
    actual = shapely.distance(a, b)
    stretch = shapely.length(shapely.intersection(a, shapely.buffer(b, required)))
    found = (actual < required) & (stretch > FACTOR * required)
    return pd.DataFrame(
        {
            "fid_a": lines.fid[ia[found]],
            "fid_b": lines.fid[ib[found]],
            "actual": actual[found],
            "stretch": stretch[found],
        }
    )


def test_the_bound_drops_no_finding(data_dir: Path) -> None:
    # 1,500 real lines of the Kigali water network, kinds given in turn (synthetic)
    base = gpd.read_file(data_dir / "rw-kigali-water-pipes" / "Pipeline_packed.shp", rows=1500)
    base = base.explode(index_parts=False).reset_index(drop=True)
    kinds = [
        ("JS", 150.0, None),
        ("WS", 400.0, None),
        ("RQ", 160.0, "medium_b"),
        ("DL", None, None),
        ("JS", 300.0, None),
    ]
    frame = pd.DataFrame(
        [(i + 1, *kinds[i % len(kinds)]) for i in range(len(base))], columns=["fid", "kind", "diameter_mm", "pressure"]
    )
    lines, by = Lines.from_frame(frame, np.asarray(base.geometry.values, dtype=object))
    # every pair of lines within the largest clearance between lines (2 m; the GiST candidates hold them)
    ia, ib = shapely.STRtree(lines.geom).query(lines.geom, predicate="dwithin", distance=2.0)
    ia, ib = ia[ia < ib], ib[ia < ib]
    ours = measure(lines, by, ia.astype(np.int64), ib.astype(np.int64), FACTOR)
    theirs = _brute_force(lines, by, ia, ib)
    assert len(theirs) > 50
    m = ours.merge(theirs, on=["fid_a", "fid_b"], how="outer", indicator=True)
    assert (m["_merge"] == "both").all()
    assert np.abs(m["actual_m"] - m["actual"]).max() < 1e-9
    assert np.abs(m["stretch_m"] - m["stretch"]).max() < 1e-4
    # the stretch geometry is the stretch: lines only, as long as the reported length
    assert (shapely.get_dimensions(ours["geom"].to_numpy()) == 1).all()
    np.testing.assert_allclose(shapely.length(ours["geom"].to_numpy()), ours["stretch_m"], atol=1e-9)


def test_the_factor_is_the_rules() -> None:
    assert float(rules()["min_parallel_stretch_factor"]["value"]) == FACTOR
