"""Accessibility: gisplan's gap analysis vs pandana and pgRouting on the same graph, same run.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python bench/access.py [--scales 1 10]

Data: the walkable roads, buildings (standing in for compounds: Liechtenstein maps few residential
areas) and typed facilities of Liechtenstein (OSM PBF, 2015); then the same tiled into a grid of
translated copies joined at their seams (synthetic, for scale). For each size, three runs, each in
its own process so that peak memory (max RSS) is its own:

- gisplan: ``gis.gaps.analysis.analyse`` — network build, access legs for every compound and facility,
  one multi-source Dijkstra per facility type, coverage and demand: the whole analysis.
- pandana 0.8: ``Network(...)`` + ``precompute`` + ``set_pois`` + ``nearest_pois`` per type (nodes
  only: no access legs), on gisplan's graph.
- pgRouting 3.4: ``pgr_drivingDistance`` from every facility's nearest node per type, within the
  type's radius, on the same edges loaded into a throwaway PostGIS (load time not counted).

A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "fallback-liechtenstein" / "liechtenstein-latest.osm.pbf"
)


def inputs(scale: int):  # type: ignore[no-untyped-def]
    """Roads, compounds, facilities (GeoDataFrames in UTM 32N), tiled ``scale`` times."""
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
    roads = frames["roads"].assign(source="osm")
    roads = walkable_roads(roads, reg.layer("roads").not_walkable)
    compounds = frames["buildings"][["name", "geometry"]].assign(
        district=None, street=None, population=100.0, households=None
    )
    facilities = frames["facilities"][["type", "name", "capacity", "geometry"]]
    if scale > 1:
        cols = int(np.ceil(np.sqrt(scale)))
        minx, miny, maxx, maxy = roads.total_bounds
        w, h = maxx - minx, maxy - miny
        tiles_r, tiles_c, tiles_f, seams = [], [], [], []
        for t in range(scale):
            dx, dy = (t % cols) * w, (t // cols) * h
            tiles_r.append(roads.assign(geometry=roads.translate(dx, dy)))
            tiles_c.append(compounds.assign(geometry=compounds.translate(dx, dy)))
            tiles_f.append(facilities.assign(geometry=facilities.translate(dx, dy)))
        # join neighbouring tiles: link the 20 line ends nearest each seam across it
        ends = np.array([c for g in roads.geometry for c in (g.coords[0], g.coords[-1])])
        right = ends[np.argsort(-ends[:, 0])[:20]]
        top = ends[np.argsort(-ends[:, 1])[:20]]
        left = ends[np.argsort(ends[:, 0])[:20]]
        bottom = ends[np.argsort(ends[:, 1])[:20]]
        for t in range(scale):
            dx, dy = (t % cols) * w, (t // cols) * h
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
            {"highway": "footway", "source": "osm", "extra": [{}] * len(seams)}, geometry=seams, crs=work
        )
        roads = pd.concat([*tiles_r, seam_frame], ignore_index=True)
        compounds = pd.concat(tiles_c, ignore_index=True)
        facilities = pd.concat(tiles_f, ignore_index=True)
    compounds = compounds.reset_index(drop=True).assign(fid=lambda f: np.arange(len(f)))
    facilities = facilities.reset_index(drop=True).assign(fid=lambda f: np.arange(len(f)))
    return (
        gpd.GeoDataFrame(roads, crs=work),
        gpd.GeoDataFrame(compounds, crs=work),
        gpd.GeoDataFrame(facilities, crs=work),
    )


def types_and_radii(facilities) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from gis.standards import load_standard

    std = load_standard()
    present = set(facilities["type"])
    return {t: r.radius_m for t, r in std.facilities.items() if r.radius_m is not None and t in present}


def worker(tool: str, scale: int) -> dict[str, float]:
    started = time.perf_counter()
    roads, compounds, facilities = inputs(scale)
    read = time.perf_counter() - started
    radii = types_and_radii(facilities)
    from gis.gaps.analysis import GapParameters, analyse, build_network
    from gis.standards import load_standard

    t0 = time.perf_counter()
    extra: dict[str, float] = {}
    if tool == "gisplan":
        results, net, _ = analyse(compounds, facilities, roads, load_standard(), list(radii), GapParameters())
        extra = {"edges": float(net["edges"]) if net else 0.0, "pairs": float(len(results))}
    else:
        net = build_network(roads, GapParameters())  # the same graph for the anchors
        n_edges = net.segment_count
        t0 = time.perf_counter()  # the anchors' clock starts with their own network build
        from scipy.spatial import cKDTree

        tree = cKDTree(net.xy)
        if tool == "pandana":
            import pandana
            import pandas as pd

            nodes = pd.RangeIndex(len(net.xy))
            pn = pandana.Network(
                pd.Series(net.xy[:, 0], index=nodes),
                pd.Series(net.xy[:, 1], index=nodes),
                pd.Series(net.u),
                pd.Series(net.v),
                pd.DataFrame({"length": net.length}),
                twoway=True,
            )
            pn.precompute(max(radii.values()))
            for t, r in radii.items():
                pts = facilities[facilities["type"] == t].geometry.representative_point()
                pn.set_pois(t, r, 1, pts.x.to_numpy(), pts.y.to_numpy())
                pn.nearest_pois(r, t, num_pois=1)
        elif tool == "pgrouting":
            url = sys.argv[sys.argv.index("--db") + 1]
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("DROP TABLE IF EXISTS bench_edges")
                conn.execute("CREATE TABLE bench_edges (id bigint, source bigint, target bigint, cost float8)")
                with conn.cursor().copy("COPY bench_edges FROM STDIN") as cp:
                    for i, (a, b, c) in enumerate(
                        zip(net.u.tolist(), net.v.tolist(), net.length.tolist(), strict=True)
                    ):
                        cp.write_row((i, a, b, c))
                t0 = time.perf_counter()  # loading the edge table is not counted
                for t, r in radii.items():
                    pts = facilities[facilities["type"] == t].geometry.representative_point()
                    starts = sorted({int(i) for i in tree.query(np.c_[pts.x, pts.y])[1]})
                    conn.execute(
                        "SELECT node, min(agg_cost) FROM pgr_drivingDistance("
                        "'SELECT id, source, target, cost FROM bench_edges', %s::bigint[], %s, directed => false) "
                        "GROUP BY node",
                        (starts, r),
                    ).fetchall()
        extra = {"edges": float(n_edges)}
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "read_seconds": read, "peak_mb": peak_mb, **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    args = parser.parse_args()
    from gis.store.cluster import EmbeddedCluster, ensure_extensions

    home, data = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    cluster = EmbeddedCluster(home, data_dir=data, fast=True)
    cluster.up()
    url = cluster.url("gisplan", driver="postgresql")
    ensure_extensions(url)
    rows = []
    try:
        for scale in args.scales:
            for tool in ("gisplan", "pandana", "pgrouting"):
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", tool, "--scale", str(scale), "--db", url],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                rows.append({"scale": scale, "tool": tool, **json.loads(out.stdout.strip().splitlines()[-1])})
    finally:
        cluster.destroy()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
    print(f"{DATA.name}: buildings as compounds, all facility types with a radius; tiles are synthetic copies")
    print(f"{'scale':>5} {'tool':<10} {'edges':>9} {'seconds':>8} {'peak MB':>8}  ratio (anchor / gisplan time)")
    for scale in args.scales:
        mine = next(r for r in rows if r["scale"] == scale and r["tool"] == "gisplan")
        for r in (r for r in rows if r["scale"] == scale):
            ratio = "" if r["tool"] == "gisplan" else f"  {r['seconds'] / mine['seconds']:.1f}x"
            print(
                f"{scale:>5} {r['tool']:<10} {int(mine['edges']):>9} {r['seconds']:>8.2f} {r['peak_mb']:>8.0f}{ratio}"
            )
    print(
        "(reading and preparing the OSM input is not counted for any tool; gisplan's time includes its network build)"
    )


if __name__ == "__main__":
    if "--worker" in sys.argv:
        tool = sys.argv[sys.argv.index("--worker") + 1]
        scale = int(sys.argv[sys.argv.index("--scale") + 1])
        print(json.dumps(worker(tool, scale)))
    else:
        main()
