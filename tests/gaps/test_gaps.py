"""Gap analysis through the library, the CLI and the stored runs, checked against independent
computations: networkx on the real Haidian network, hand-worked layouts, straight-line geometry."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.ops import nearest_points

from gis.gaps.analysis import CONTRACT_COLUMNS, GapParameters
from gis.standards import load_standard
from gis.workspace import Workspace
from tests.helpers.cli import run_saying_loaded

pytestmark = pytest.mark.heavy  # a long module: collected first (tests/conftest.py)

TYPES = ["kindergarten", "primary_school", "health_center", "supermarket"]

# the parts of the library `gisplan gaps` never needs (the maps, the importers, the programme, the workspace)
UNUSED_BY_GAPS = ("folium", "gis.workspace", "gis.ingest", "gis.programme", "gis.export.offline_map", "gis.pipelines")


Segment = tuple[tuple[float, float], tuple[float, float]]


def _segments(roads: gpd.GeoDataFrame) -> list[Segment]:
    """Every pair of consecutive road vertices (to the millimetre)."""
    segs: list[Segment] = []
    for line in roads.geometry:
        xy = [(round(x, 3), round(y, 3)) for x, y in line.coords]
        segs += [(a, b) for a, b in itertools.pairwise(xy) if a != b]
    return segs


def _brute_access(seg_geoms: list[shapely.LineString], geom: shapely.Geometry, p: GapParameters) -> list[Any]:
    """(segment, offset along it, leg) of every segment within the search distance, found by brute force."""
    d = np.array([g.distance(geom) for g in seg_geoms])
    idx = np.flatnonzero(d <= p.search_m)
    if not len(idx):
        best = int(np.argmin(d))
        idx = np.array([best]) if d[best] <= p.max_leg_m else np.array([], dtype=int)
    out = []
    for i in idx:
        on_seg = nearest_points(seg_geoms[i], geom)[0]
        out.append((int(i), seg_geoms[i].project(on_seg), float(d[i])))
    return out


def _access_of(frame: gpd.GeoDataFrame, seg_geoms: list[shapely.LineString], p: GapParameters) -> dict[Any, Any]:
    """The access points of every feature, by fid."""
    return {fid: _brute_access(seg_geoms, g, p) for fid, g in zip(frame["fid"], frame.geometry, strict=True)}


def _split_graph(segs: list[Segment], seg_geoms: list[shapely.LineString], access: list[dict[Any, Any]]) -> nx.Graph:
    """The road graph with every segment split at the access points on it."""
    graph = nx.Graph()
    splits: dict[int, list[tuple[float, object]]] = {}
    for owner, points in [item for per_layer in access for item in per_layer.items()]:
        for seg, offset, _leg in points:
            splits.setdefault(seg, []).append((offset, ("ap", owner, seg, offset)))
    for i, (a, b) in enumerate(segs):
        chain = [(0.0, a), *sorted(splits.get(i, []), key=lambda t: t[0]), (seg_geoms[i].length, b)]
        for (o1, n1), (o2, n2) in itertools.pairwise(chain):
            w = o2 - o1
            if graph.has_edge(n1, n2):
                w = min(w, graph[n1][n2]["weight"])
            graph.add_edge(n1, n2, weight=w)
    return graph


def _join_ends(graph: nx.Graph, roads: gpd.GeoDataFrame, tolerance_m: float) -> None:
    """Road ends within the tolerance of another node are joined (the documented rule)."""
    nodes = [n for n in graph.nodes if isinstance(n[0], float)]
    ends = {pt for line in roads.geometry for pt in (line.coords[0], line.coords[-1])}
    ends = {(round(x, 3), round(y, 3)) for x, y in ends}
    for e in ends:
        if e in graph and graph.degree(e) == 1:
            for n in nodes:
                gap = math.dist(e, n)
                if 0 < gap <= tolerance_m and not graph.has_edge(e, n):
                    graph.add_edge(e, n, weight=gap)


def _independent_distances(
    roads: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, p: GapParameters
) -> dict[int, float]:
    """Nearest-facility walking distance per compound, computed another way: networkx over a graph
    whose segments are split at every access point, access points found by brute force with shapely."""
    segs = _segments(roads)
    seg_geoms = [shapely.LineString(s) for s in segs]
    c_access = _access_of(compounds, seg_geoms, p)
    f_access = _access_of(facilities, seg_geoms, p)
    graph = _split_graph(segs, seg_geoms, [c_access, f_access])
    _join_ends(graph, roads, p.tolerance_m)
    graph.add_node("S")
    for fid, points in f_access.items():
        for seg, offset, leg in points:
            graph.add_edge("S", ("ap", fid, seg, offset), weight=leg)
    dist = nx.single_source_dijkstra_path_length(graph, "S")
    out: dict[int, float] = {}
    for fid, points in c_access.items():
        geom = compounds.set_index("fid").geometry[fid]
        if facilities.geometry.intersects(geom).any():
            out[fid] = 0.0
            continue
        cands = [dist.get(("ap", fid, seg, offset), math.inf) + leg for seg, offset, leg in points]
        out[fid] = min(cands) if cands else math.inf
    return out


def test_real_network_distances_match_networkx(haidian: Workspace) -> None:
    ws = haidian
    run = ws.run_gaps(TYPES)
    assert run.basis == "network"
    roads = ws.layer("roads")
    roads = roads[~roads["highway"].isin(ws.registry.layer("roads").not_walkable)]
    compounds, facilities = ws.layer("compounds"), ws.layer("facilities")
    checked = 0
    for ftype in TYPES:
        fac = facilities[facilities["type"] == ftype]
        expected = _independent_distances(roads, compounds, fac, GapParameters())
        got = run.results[run.results["facility_type"] == ftype].set_index("compound_id")["distance_m"]
        for fid, d in expected.items():
            if math.isinf(d):
                assert pd.isna(got[fid])
            else:
                assert got[fid] == pytest.approx(d, abs=1.0), (ftype, fid)
                checked += 1
    assert checked >= 30
    # straight-line distances against geopandas
    kg = facilities[facilities["type"] == "kindergarten"]
    euclid = compounds.geometry.apply(lambda g: kg.distance(g).min())
    ours = run.results[run.results["facility_type"] == "kindergarten"].set_index("compound_id")["euclidean_m"]
    assert np.allclose(ours.loc[compounds["fid"]].to_numpy(), euclid.to_numpy(), atol=0.1)
    # walking is never shorter than the straight line
    r = run.results.dropna(subset=["distance_m"])
    assert (r["distance_m"] >= r["euclidean_m"] - 0.1).all()


def test_run_is_stored_and_reads_back(haidian: Workspace) -> None:
    ws = haidian
    run = ws.run_gaps(["kindergarten"])
    back = ws.gap_run(run.run_id)
    assert back.standard == "gb50180" and back.basis == "network"
    cols = ["compound_id", "facility_type", "distance_m", "covered", "nearest_facility_id", "affected"]
    a = run.results[cols].sort_values("compound_id").reset_index(drop=True)
    b = back.results[cols].sort_values("compound_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert ws.gap_run().run_id == run.run_id  # the latest


def test_demand_and_coverage_rules(haidian: Workspace) -> None:
    ws = haidian
    std = load_standard()
    res = ws.gaps("kindergarten")
    # OSM compounds carry no population: said per compound, and no demand is invented
    assert res["flag"].str.contains("no population").all() and res["demand"].isna().all()
    assert (res["covered"] == (res["distance_m"] <= std.rule("kindergarten").radius_m)).all()
    assert res.attrs["basis"] == "network" and res.attrs["standard"] == "gb50180"


def test_households_stand_in_for_population(ws: Workspace, tmp_path: Path) -> None:
    compounds = gpd.GeoDataFrame(
        {"小区名称": ["甲", "乙"], "户数": [100, 200], "人口": [None, 700]},
        geometry=[shapely.Point(442000, 4428000), shapely.Point(443000, 4428000)],
        crs="EPSG:4548",
    )
    compounds.to_file(tmp_path / "c.gpkg")
    fac = gpd.GeoDataFrame(
        {"名称": ["养老驿站"], "类型": ["养老驿站"]}, geometry=[shapely.Point(442100, 4428000)], crs="EPSG:4548"
    )
    fac.to_file(tmp_path / "f.gpkg")
    ws.load("compounds", tmp_path / "c.gpkg")
    ws.load("facilities", tmp_path / "f.gpkg")
    res = ws.gaps("elderly_station").set_index("compound_name")
    assert res.loc["甲", "population"] == pytest.approx(262.0)  # 100 households × 2.62
    assert "households" in res.loc["甲", "flag"]
    assert res.loc["乙", "population"] == 700
    assert res.loc["乙", "demand"] == pytest.approx(700 * 0.167, abs=0.1)
    # no roads: straight lines, said loudly
    assert set(res["basis"]) == {"euclidean"} and any("STRAIGHT" in w for w in res.attrs["warnings"])
    assert res.loc["甲", "distance_m"] == pytest.approx(100.0) and res.loc["甲", "covered"]
    assert res.loc["乙", "distance_m"] == pytest.approx(900.0) and not res.loc["乙", "covered"]
    assert res.loc["乙", "affected"] == pytest.approx(res.loc["乙", "demand"]) and res.loc["甲", "affected"] == 0


def test_county_rule_overrides_a_radius(haidian: Workspace, settings: object) -> None:
    ws = haidian
    rules = ws.settings.home / "standards"
    rules.mkdir(parents=True)
    (rules / "demo-county.yaml").write_text(
        "id: demo-county\nextends: gb50180\ntitle: {zh: 某县补充规定, en: A county rule}\n"
        "facilities:\n  kindergarten: {radius_m: 600, status: local_rule, source: 某县规划局 2026 年规定}\n",
        encoding="utf-8",
    )
    national = ws.gaps("kindergarten")
    county = ws.gaps("kindergarten", standard="demo-county")
    assert set(county["radius_m"]) == {600.0} and set(county["level"]) == {"lc5"}
    assert county["covered"].sum() == (national["distance_m"] <= 600).sum()
    with ws.engine.connect() as conn:
        from sqlalchemy import text

        params = conn.execute(text("SELECT parameters FROM gap_runs WHERE standard = 'demo-county'")).scalar_one()
    assert "facilities.kindergarten.radius_m" in params["standard_overridden"]


def test_planner_files_points_schools_and_unnoded_roads(ws: Workspace, tmp_path: Path) -> None:
    """The issue's 'done when': compounds as points in CGCS2000 GK, a file of schools, a road file."""
    gk = "EPSG:4548"
    gpd.GeoDataFrame(
        {"小区名称": ["东小区", "西小区", "北小区"], "户数": [300, 400, 250]},
        geometry=[shapely.Point(442210, 4428100), shapely.Point(441600, 4427950), shapely.Point(442020, 4428300)],
        crs=gk,
    ).to_file(tmp_path / "小区.shp", encoding="gbk")
    gpd.GeoDataFrame({"名称": ["实验小学"]}, geometry=[shapely.Point(442100, 4427990)], crs=gk).to_file(
        tmp_path / "学校.shp", encoding="gbk"
    )
    # two roads that cross at (442000, 4428000) without a shared vertex, as CAD files have them
    gpd.GeoDataFrame(
        {"路名": ["学院路", "成府路"], "等级": ["secondary", "tertiary"]},
        geometry=[
            shapely.LineString([(441500, 4428000), (442500, 4428000)]),
            shapely.LineString([(442000, 4427500), (442000, 4428500)]),
        ],
        crs=gk,
    ).to_file(tmp_path / "道路.shp", encoding="gbk")
    ws.load("compounds", tmp_path / "小区.shp")
    ws.load("facilities", tmp_path / "学校.shp", type="primary_school")
    ws.load("roads", tmp_path / "道路.shp")
    out = tmp_path / "gaps.csv"
    env = {"GISPLAN_DATABASE_URL": ws.engine.url.render_as_string(hide_password=False), "GISPLAN_HOME": str(tmp_path)}
    args = ["gaps", "--facility", "primary_school", "--out", str(out)]
    result, loaded = run_saying_loaded(args, env, UNUSED_BY_GAPS)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert list(table.columns[: len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
    d = table.set_index("compound_name")["distance_m"]
    # the school's leg: 10 m north onto 学院路 at x=442100
    assert d["东小区"] == pytest.approx(10 + 110 + 100)  # east along 学院路, then a 100 m leg
    assert d["西小区"] == pytest.approx(10 + 500 + 50)  # west along 学院路, then a 50 m leg
    assert d["北小区"] == pytest.approx(10 + 100 + 300 + 20)  # through the crossing, noded by gisplan
    covered = table.set_index("compound_name")["covered"]
    assert bool(covered["东小区"]) and bool(covered["北小区"]) and not bool(covered["西小区"])  # 500 m radius
    assert "primary_school" in result.stdout and "2 / 3" in result.stdout
    assert loaded == "LOADED []", result.stderr  # the command imported only what an analysis uses


def test_unknown_facility_type_lists_the_valid_ones(haidian: Workspace) -> None:
    with pytest.raises(KeyError, match="kindergarten"):
        haidian.gaps("火箭发射场")
    with pytest.raises(ValueError, match="radius"):
        haidian.gaps("public_toilet")


def test_one_type_under_two_names_is_analysed_once(haidian: Workspace) -> None:
    both = haidian.gaps(["kindergarten", "幼儿园"])
    assert set(both["facility_type"]) == {"kindergarten"}
    assert both["compound_id"].is_unique and len(both) == len(haidian.layer("compounds"))
