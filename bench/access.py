"""Accessibility, end to end: ``gisplan gaps`` beside pandana and pgRouting on the same inputs, same run.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python bench/access.py [--scales 1 9 10]

Data: the walkable roads of Liechtenstein (OSM PBF, 2015), its buildings' representative points standing
in for compounds (Liechtenstein maps few residential areas; 100 residents each) and its typed
facilities; for a scale above 1 the same tiled into a grid of translated copies joined at their seams
(synthetic: 9 is the 3 × 3 grid, 10 the README's 560k-edge case). Each scale is written to GeoPackages
(UTM 32N, the roads as lines with name and class only: a file that is not OSM), which every tool reads.

Each tool runs in its own process, timed from its start to its exit (interpreter, imports, reading,
graph, queries, writing: the whole process), with its own peak memory (max RSS, from ``wait4``):

- gisplan: ``gisplan gaps`` with its defaults, for the facility types present (``--facility`` for
  each type the data hold that has a radius: 4 in Liechtenstein), against a database
  the GeoPackages were loaded into with ``gisplan load`` first (not timed): it reads the layers from
  PostGIS and writes its run there.
- pandana 0.8: reads the GeoPackages (pyogrio), builds nodes and edges from the lines' vertices
  (vectorised), ``Network`` (its contraction hierarchy), the compounds' nodes, then per type
  ``set_pois`` + ``nearest_pois``: nearest facility per node, read at the compounds' nodes; no
  access legs, nothing written. (No ``precompute``: it serves aggregations, not nearest_pois.)
- pgRouting 3.4: ``pgr_drivingDistance`` from every facility's nearest node per type within the type's
  radius, on pandana's edges loaded into the same PostGIS (the load is not counted; the SQL alone is).

A benchmark, not a test: it asserts nothing. It prints each figure beside gisplan's as a ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "fallback-liechtenstein" / "liechtenstein-latest.osm.pbf"
)


# -- the inputs ---------------------------------------------------------------------------------
def write_inputs(scale: int, out: Path) -> dict[str, int]:
    """Roads, compounds and facilities of Liechtenstein tiled ``scale`` times, as GeoPackages in ``out``."""
    import geopandas as gpd
    import pandas as pd
    import shapely
    from pyproj import CRS

    from gis.gaps.analysis import walkable_roads
    from gis.ingest.osm import read_osm
    from gis.ingest.prepare import prepare
    from gis.registry import registry

    reg = registry()
    work = CRS.from_epsg(32632)
    frames = {}
    for layer in ("roads", "buildings", "facilities"):
        raw = read_osm(DATA, reg.layer(layer), reg)
        prep = prepare(raw, reg.layer(layer), reg, source_crs=CRS.from_epsg(4326), working_crs=work)
        frame = prep.values.copy()
        frame["extra"] = prep.extra
        frames[layer] = gpd.GeoDataFrame(frame, geometry=list(prep.geoms), crs=work)
    roads = walkable_roads(frames["roads"], reg.layer("roads").not_walkable)[["name", "highway", "geometry"]]
    compounds = gpd.GeoDataFrame(
        {"name": frames["buildings"]["name"], "population": 100},
        geometry=frames["buildings"].geometry.representative_point(),
        crs=work,
    )
    facilities = frames["facilities"][["type", "name", "capacity", "geometry"]]
    facilities = facilities.assign(geometry=facilities.geometry.representative_point())
    if scale > 1:
        cols = int(np.ceil(np.sqrt(scale)))
        minx, miny, maxx, maxy = roads.total_bounds
        w, h = maxx - minx, maxy - miny
        tiles: dict[str, list[gpd.GeoDataFrame]] = {"r": [], "c": [], "f": []}
        seams = []
        # join neighbouring tiles: link the 20 line ends nearest each seam across it
        ends = np.array([c for g in roads.geometry for c in (g.coords[0], g.coords[-1])])
        right, top = ends[np.argsort(-ends[:, 0])[:20]], ends[np.argsort(-ends[:, 1])[:20]]
        left, bottom = ends[np.argsort(ends[:, 0])[:20]], ends[np.argsort(ends[:, 1])[:20]]
        for t in range(scale):
            dx, dy = (t % cols) * w, (t // cols) * h
            for key, frame in (("r", roads), ("c", compounds), ("f", facilities)):
                tiles[key].append(frame.assign(geometry=frame.translate(dx, dy)))
            if (t % cols) + 1 < cols and t + 1 < scale:
                seams += [
                    shapely.LineString([(a[0] + dx, a[1] + dy), (b[0] + dx + w, b[1] + dy)])
                    for a, b in zip(right, left, strict=True)
                ]
            if t + cols < scale:
                seams += [
                    shapely.LineString([(a[0] + dx, a[1] + dy), (b[0] + dx, b[1] + dy + h)])
                    for a, b in zip(top, bottom, strict=True)
                ]
        seam_frame = gpd.GeoDataFrame(
            {"name": [None] * len(seams), "highway": ["footway"] * len(seams)}, geometry=seams, crs=work
        )
        roads = gpd.GeoDataFrame(pd.concat([*tiles["r"], seam_frame], ignore_index=True), crs=work)
        compounds = gpd.GeoDataFrame(pd.concat(tiles["c"], ignore_index=True), crs=work)
        facilities = gpd.GeoDataFrame(pd.concat(tiles["f"], ignore_index=True), crs=work)
    for name, frame in (("roads", roads), ("compounds", compounds), ("facilities", facilities)):
        frame.reset_index(drop=True).to_file(out / f"{name}.gpkg", engine="pyogrio")
    return {"roads": len(roads), "compounds": len(compounds), "facilities": len(facilities)}


def radii() -> dict[str, float]:
    """The facility types with a radius in the default standard, and their radii."""
    from gis.standards import load_standard

    return {t: float(r.radius_m) for t, r in load_standard().facilities.items() if r.radius_m is not None}


# -- the anchors' graphs, as a careful script would build them (vectorised; nothing of gisplan's) ---
def graph_from_lines(path: Path):  # type: ignore[no-untyped-def]
    """Nodes and edges of the road lines: every vertex a node and every pair of consecutive vertices
    an edge, the same vertex in two lines one node (OSM ways meet at shared vertices, and are not
    split there: a graph of the lines' ends alone would not join them)."""
    import pandas as pd
    import pyogrio
    import shapely

    lines = pyogrio.read_dataframe(path, columns=[]).geometry.to_numpy()
    coords, owner = shapely.get_coordinates(lines, return_index=True)
    same = owner[1:] == owner[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    length = np.hypot(*(b - a).T)
    keys = np.round(np.vstack([a, b]) * 1000).astype(np.int64)  # millimetres: one node per place
    ids = pd.DataFrame(keys, columns=["x", "y"]).groupby(["x", "y"], sort=False).ngroup().to_numpy()
    first = np.zeros(int(ids.max()) + 1, dtype=np.int64)
    first[ids[::-1]] = np.arange(len(ids))[::-1]
    xy = keys[first] / 1000.0
    u, v = ids[: len(a)], ids[len(a) :]
    keep = u != v
    return xy, u[keep], v[keep], length[keep]


def pandana_worker(folder: Path) -> dict[str, float]:
    """pandana's whole job: read, graph, contraction hierarchy (``Network``), then per type
    ``set_pois`` and ``nearest_pois`` (no ``precompute``: that serves aggregations only)."""
    import pandana
    import pandas as pd
    import pyogrio

    xy, u, v, length = graph_from_lines(folder / "roads.gpkg")
    nodes = pd.RangeIndex(len(xy))
    net = pandana.Network(
        pd.Series(xy[:, 0], index=nodes),
        pd.Series(xy[:, 1], index=nodes),
        pd.Series(u),
        pd.Series(v),
        pd.DataFrame({"length": length}),
        twoway=True,
    )
    wanted = radii()
    facilities = pyogrio.read_dataframe(folder / "facilities.gpkg", columns=["type"])
    compounds = pyogrio.read_dataframe(folder / "compounds.gpkg", columns=[])
    present = {t: r for t, r in wanted.items() if (facilities["type"] == t).any()}
    # the compounds' nodes: what a user reads the per-node answers at
    at = net.get_node_ids(compounds.geometry.x, compounds.geometry.y)
    for t, r in present.items():
        pts = facilities.geometry[facilities["type"] == t]
        net.set_pois(t, r, 1, pts.x.to_numpy(), pts.y.to_numpy())
        net.nearest_pois(r, t, num_pois=1).loc[at.to_numpy()]
    return {"edges": float(len(u))}


def pgrouting_worker(folder: Path, url: str) -> dict[str, float]:
    import psycopg
    import pyogrio
    from scipy.spatial import cKDTree

    xy, u, v, length = graph_from_lines(folder / "roads.gpkg")
    facilities = pyogrio.read_dataframe(folder / "facilities.gpkg", columns=["type"])
    tree = cKDTree(xy)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_edges")
        conn.execute("CREATE TABLE bench_edges (id bigint, source bigint, target bigint, cost float8)")
        with conn.cursor().copy("COPY bench_edges FROM STDIN") as cp:
            for i, (a, b, c) in enumerate(zip(u.tolist(), v.tolist(), length.tolist(), strict=True)):
                cp.write_row((i, a, b, c))
        started = time.perf_counter()  # loading the edge table is not counted
        for t, r in radii().items():
            pts = facilities.geometry[facilities["type"] == t]
            if not len(pts):
                continue
            starts = sorted({int(i) for i in tree.query(np.c_[pts.x, pts.y])[1]})
            conn.execute(
                "SELECT node, min(agg_cost) FROM pgr_drivingDistance("
                "'SELECT id, source, target, cost FROM bench_edges', %s::bigint[], %s, directed => false) "
                "GROUP BY node",
                (starts, r),
            ).fetchall()
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE bench_edges")
    return {"sql_seconds": seconds}


def routing_worker(folder: Path) -> dict[str, float]:
    """gisplan's routing alone, for pgRouting's SQL: its network built from the same file (not
    counted), then the nearest facility of every type for every compound (access legs included)."""
    import geopandas as gpd
    import pyogrio

    from gis.gaps.analysis import GapParameters, build_network

    params = GapParameters()
    roads = gpd.GeoDataFrame(pyogrio.read_dataframe(folder / "roads.gpkg", columns=[]))
    net = build_network(roads, params)
    compounds = pyogrio.read_dataframe(folder / "compounds.gpkg", columns=[]).geometry.to_numpy()
    facilities = pyogrio.read_dataframe(folder / "facilities.gpkg", columns=["type"])
    c_access = net.access(compounds, search_m=params.search_m, max_leg_m=params.max_leg_m)
    started = time.perf_counter()
    for t in radii():
        pts = facilities.geometry[facilities["type"] == t].to_numpy()
        if len(pts):
            f_access = net.access(pts, search_m=params.search_m, max_leg_m=params.max_leg_m)
            net.nearest(f_access, len(pts), c_access, len(compounds))
    return {"routing_seconds": time.perf_counter() - started}


# -- the runs -------------------------------------------------------------------------------------
def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``argv`` to its end: wall seconds, its own peak memory (MB) and its standard output."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stdout:
        proc = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode() if proc.stderr else ""
        stdout.seek(0)
        text = stdout.read().decode()
    if proc.returncode:
        raise RuntimeError(f"{argv[:3]} exited {proc.returncode}: {err[-2000:]}{text[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, text


def load_database(cluster: Any, name: str, folder: Path, home: Path) -> tuple[str, dict[str, str]]:
    """A new database ``name`` in ``cluster`` with ``folder``'s roads, compounds and facilities
    loaded by ``gisplan load`` (not timed); its URL and the environment of a gisplan run on it."""
    import psycopg

    from gis.store.cluster import ensure_extensions

    with psycopg.connect(cluster.url("postgres", driver="postgresql"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = cluster.url(name, driver="postgresql")
    ensure_extensions(url)
    env = {**os.environ, "GISPLAN_DATABASE_URL": url, "GISPLAN_HOME": str(home), "NO_COLOR": "1"}
    for layer in ("roads", "compounds", "facilities"):
        timed(gisplan("load", layer, str(folder / f"{layer}.gpkg")), env)
    return url, env


def gisplan(*args: str) -> list[str]:
    """The ``gisplan`` command installed beside this interpreter, with ``args``."""
    return [str(Path(sys.executable).with_name("gisplan")), *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 9, 10])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each tool per scale (the median is shown)")
    args = parser.parse_args()
    from gis.store.cluster import EmbeddedCluster

    home, data, work = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    cluster = EmbeddedCluster(home, data_dir=data, fast=True)
    cluster.up()
    rows = []
    try:
        for scale in args.scales:
            folder = work / f"x{scale}"
            folder.mkdir()
            counts = write_inputs(scale, folder)
            url, env = load_database(cluster, f"bench_{scale}", folder, home / f"h{scale}")
            runs: dict[str, list[dict[str, float]]] = {"gisplan": [], "pandana": [], "pgrouting": [], "routing": []}
            import pyogrio

            present = set(pyogrio.read_dataframe(folder / "facilities.gpkg", columns=["type"])["type"])
            types = [t for t in radii() if t in present]  # every tool: the types present with a radius
            for _ in range(args.repeat):
                seconds, peak, _ = timed(gisplan("gaps", *[a for t in types for a in ("--facility", t)]), env)
                runs["gisplan"].append({"seconds": seconds, "peak_mb": peak})
                seconds, peak, text = timed([sys.executable, __file__, "--worker", "pandana", str(folder)], env)
                runs["pandana"].append({"seconds": seconds, "peak_mb": peak, **json.loads(text.splitlines()[-1])})
                seconds, peak, text = timed([sys.executable, __file__, "--worker", "pgrouting", str(folder), url], env)
                runs["pgrouting"].append({"seconds": seconds, "peak_mb": peak, **json.loads(text.splitlines()[-1])})
                seconds, peak, text = timed([sys.executable, __file__, "--worker", "routing", str(folder)], env)
                runs["routing"].append({"seconds": seconds, "peak_mb": peak, **json.loads(text.splitlines()[-1])})
            for tool, found in runs.items():
                found.sort(key=lambda r: r["seconds"])
                rows.append({"scale": scale, "tool": tool, **counts, **found[len(found) // 2]})
    finally:
        cluster.destroy()
        for d in (home, data, work):
            shutil.rmtree(d, ignore_errors=True)
    load = os.getloadavg()
    print(f"{DATA.name}: building points as compounds, every facility type with a radius; tiles are synthetic copies")
    print(f"(2 cores; load average {load[0]:.1f} {load[1]:.1f} at the end; each tool's whole process, median)")
    print(f"{'scale':>5} {'roads':>7} {'compounds':>9} {'tool':<10} {'edges':>8} {'seconds':>8} {'peak MB':>8}  ratio")
    for scale in args.scales:
        mine = next(r for r in rows if r["scale"] == scale and r["tool"] == "gisplan")
        anchor = next(r for r in rows if r["scale"] == scale and r["tool"] == "pandana")
        for r in (r for r in rows if r["scale"] == scale and r["tool"] in ("gisplan", "pandana")):
            ratio = "" if r["tool"] == "gisplan" else f"  {r['seconds'] / mine['seconds']:.2f}x gisplan's time"
            print(
                f"{scale:>5} {r['roads']:>7} {r['compounds']:>9} {r['tool']:<10} {int(anchor['edges']):>8} "
                f"{r['seconds']:>8.2f} {r['peak_mb']:>8.0f}{ratio}"
            )
        pgr = next(r for r in rows if r["scale"] == scale and r["tool"] == "pgrouting")
        own = next(r for r in rows if r["scale"] == scale and r["tool"] == "routing")
        print(
            f"{'':>5} routing alone: gisplan {own['routing_seconds']:.2f} s, pgRouting pgr_drivingDistance "
            f"{pgr['sql_seconds']:.2f} s ({pgr['sql_seconds'] / own['routing_seconds']:.2f}x gisplan's time)"
        )
    if len(args.scales) > 1:
        first, last = args.scales[0], args.scales[-1]
        t = {s: next(r["seconds"] for r in rows if r["scale"] == s and r["tool"] == "gisplan") for s in (first, last)}
        print(f"gisplan: {last / first:g}x the data takes {t[last] / t[first]:.1f}x the time")


if __name__ == "__main__":
    if "--worker" in sys.argv:
        at = sys.argv.index("--worker")
        tool, folder = sys.argv[at + 1], Path(sys.argv[at + 2])
        if tool == "pandana":
            result = pandana_worker(folder)
        elif tool == "routing":
            result = routing_worker(folder)
        else:
            result = pgrouting_worker(folder, sys.argv[at + 3])
        print(json.dumps(result))
    else:
        main()
