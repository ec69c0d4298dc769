"""Import throughput: gisplan vs ogr2ogr (GDAL from Debian, COPY mode), same server, same SRID, same run.

    .venv/bin/python bench/ingest.py [--repeat 3] [--sizes 10000 100000] [--cli]

Inputs, derived in code into a temporary directory (:func:`write_inputs`): GeoPackages in WGS 84
of Liechtenstein's walkable roads (lines), its buildings as compound polygons and as compound
points (OSM PBF, 2015), tiled by translation to exactly each size (synthetic beyond the first
copy); and the PBF itself (buildings and walkable roads, tag rules on both sides).

Into one throwaway PostGIS cluster whose gisplan schema exists (EPSG:32632, the working CRS gisplan
picks for Liechtenstein): gisplan through ``load_file`` (what ``gisplan load`` and ``ws.load`` call,
report written) into its emptied layer, every check on: validation and repair, field mapping, keys
(a unique ``osm_id`` column for the roads, content hashes for the compounds), unmapped attributes
kept in ``extra``, the import log, the audit log of the compounds (a row per feature), one
transaction. Against it ``ogr2ogr -f PostgreSQL PG:... file -nln t -t_srs EPSG:32632 -lco
GEOMETRY_NAME=geom -overwrite`` into a new plain table (COPY, GDAL's default for a new table).
With ``--cli`` also ``python -m gis load`` as a user runs it, in a process of its own (interpreter
start and imports included). Median of ``--repeat`` runs each; features/s and the ratio of
throughputs (gisplan / ogr2ogr) per input and size. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyogrio
from pyproj import CRS
from sqlalchemy import text

from gis.ingest import load_file
from gis.ingest.osm import parse_other_tags
from gis.registry import registry
from gis.store import schema
from gis.store.cluster import EmbeddedCluster, ensure_extensions
from gis.store.engine import make_engine

DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "fallback-liechtenstein" / "liechtenstein-latest.osm.pbf"
)
SRID = 32632
LAYER_OF = {"roads": "roads", "compound_points": "compounds", "compound_polygons": "compounds"}
NOT_WALKABLE = registry().layer("roads").not_walkable


# -- the inputs: derived from the PBF, never written beside it ------------------------------------
UTM32N = "EPSG:32632"
ROAD_TAGS = ("oneway", "surface", "maxspeed", "lit", "bridge", "tunnel", "layer")
BUILDING_TAGS = ("addr:street", "addr:housenumber", "addr:city", "building:levels")


def _with_tags(frame: gpd.GeoDataFrame, tags: tuple[str, ...]) -> gpd.GeoDataFrame:
    parsed = [parse_other_tags(o) for o in frame["other_tags"]]
    for tag in tags:
        frame[tag.replace(":", "_")] = [p.get(tag) for p in parsed]
    return frame.drop(columns=["other_tags"])


def base_layers() -> dict[str, gpd.GeoDataFrame]:
    """One copy of each input, in UTM 32N: ``roads``, ``compound_polygons``, ``compound_points``."""
    lines = pyogrio.read_dataframe(DATA, layer="lines", columns=["osm_id", "name", "highway", "other_tags"])
    lines = lines[lines["highway"].notna() & ~lines["highway"].isin(NOT_WALKABLE)]
    roads = _with_tags(lines.reset_index(drop=True), ROAD_TAGS)
    polys = pyogrio.read_dataframe(DATA, layer="multipolygons", columns=["name", "building", "other_tags"])
    polys = polys[polys["building"].notna()].reset_index(drop=True)
    buildings = _with_tags(polys, BUILDING_TAGS)
    roads, buildings = roads.to_crs(UTM32N), buildings.to_crs(UTM32N)
    points = buildings.assign(geometry=buildings.geometry.representative_point())
    return {"roads": roads, "compound_polygons": buildings, "compound_points": points}


def tiled(frame: gpd.GeoDataFrame, n: int, key: str | None = None) -> gpd.GeoDataFrame:
    """``frame`` copied side by side (a grid of translated copies) until it holds ``n`` features;
    ``key``, when given, made unique per copy (copy number times 10^12 added)."""
    copies = int(np.ceil(n / len(frame)))
    cols = int(np.ceil(np.sqrt(copies)))
    minx, miny, maxx, maxy = frame.total_bounds
    w, h = maxx - minx, maxy - miny
    tiles = []
    for t in range(copies):
        tile = frame.assign(geometry=frame.geometry.translate((t % cols) * w, (t // cols) * h))
        if key is not None:
            tile[key] = frame[key].astype("int64") + t * 10**12
        tiles.append(tile)
    out = pd.concat(tiles, ignore_index=True).head(n)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=frame.crs)


def write_inputs(directory: Path, sizes: list[int]) -> dict[tuple[str, int], Path]:
    """A GeoPackage per input and size in ``directory`` (in WGS 84); their paths by (input, size)."""
    paths: dict[tuple[str, int], Path] = {}
    for name, frame in base_layers().items():
        for n in sizes:
            path = directory / f"{name}-{n}.gpkg"
            out = tiled(frame, n, key="osm_id" if name == "roads" else None).to_crs("EPSG:4326")
            pyogrio.write_dataframe(out, path, layer=name)
            paths[(name, n)] = path
    return paths


# -- the runs ----------------------------------------------------------------------------------------


def timed(run: Callable[[], tuple[float, int]], repeat: int) -> tuple[float, int]:
    """The median seconds of ``repeat`` runs, and the features the first one loaded."""
    runs = [run() for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), runs[0][1]


class Databases:
    """A fresh database for each gisplan run, copied from one that holds the schema: every run loads
    into empty layers with an empty audit log (which is append-only: never truncated)."""

    TEMPLATE = "gisplan_bench_template"

    def __init__(self, cluster: EmbeddedCluster) -> None:
        self.cluster = cluster
        self.made = 0
        admin = cluster.url("postgres", driver="postgresql")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.TEMPLATE}")
        ensure_extensions(cluster.url(self.TEMPLATE, driver="postgresql"))
        engine = make_engine(cluster.url(self.TEMPLATE, driver="postgresql"))
        schema.upgrade(engine, CRS.from_epsg(SRID))
        engine.dispose()

    @contextmanager
    def fresh(self) -> Iterator[str]:
        """The URL of a new database with the schema and nothing loaded, dropped afterwards."""
        self.made += 1
        name = f"gisplan_bench_{self.made}"
        admin = self.cluster.url("postgres", driver="postgresql")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {self.TEMPLATE}")
        try:
            yield self.cluster.url(name, driver="postgresql")
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def gisplan_run(dbs: Databases, layer: str, path: Path, reports: Path) -> Callable[[], tuple[float, int]]:
    def run() -> tuple[float, int]:
        with dbs.fresh() as url:
            engine = make_engine(url)
            with engine.connect() as conn:  # the pool's connection opened, as a running workspace has it
                conn.execute(text("SELECT 1"))
            started = time.perf_counter()
            report = load_file(engine, registry(), layer, path, actor="bench", reports_dir=reports)
            seconds = time.perf_counter() - started
            engine.dispose()
        return seconds, report.loaded

    return run


def cli_run(dbs: Databases, layer: str, path: Path, home: Path) -> Callable[[], tuple[float, int]]:
    def run() -> tuple[float, int]:
        with dbs.fresh() as url:
            env = {**os.environ, "GISPLAN_DATABASE_URL": url, "GISPLAN_HOME": str(home), "NO_COLOR": "1"}
            argv = [sys.executable, "-m", "gis", "load", layer, str(path)]
            started = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True, env=env)
            seconds = time.perf_counter() - started
            with psycopg.connect(url) as conn:
                count = conn.execute(f"SELECT count(*) FROM {layer}").fetchone()[0]  # type: ignore[index]
        return seconds, int(count)

    return run


def ogr2ogr_run(pg: str, path: Path, table: str, extra: list[str]) -> Callable[[], tuple[float, int]]:
    argv = ["ogr2ogr", "-f", "PostgreSQL", pg, str(path), *extra, "-nln", table, "-t_srs", f"EPSG:{SRID}"]
    argv += ["-lco", "GEOMETRY_NAME=geom", "-overwrite"]

    def run() -> tuple[float, int]:
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        seconds = time.perf_counter() - started
        with psycopg.connect(pg.removeprefix("PG:")) as conn:
            return seconds, int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs per loader; the median is reported")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--cli", action="store_true", help="also time `python -m gis load` (a process each)")
    parser.add_argument("--no-pbf", action="store_true", help="leave out the OSM PBF case")
    args = parser.parse_args()
    if shutil.which("ogr2ogr") is None:
        raise SystemExit("ogr2ogr not found: apt-get install gdal-bin")
    gdal = subprocess.run(["ogr2ogr", "--version"], capture_output=True, text=True, check=True).stdout.strip()

    scratch = Path(tempfile.mkdtemp(prefix="gisplan-bench-ingest-"))
    # directories of their own: the server's OS user (postgres, when run as root) must enter them
    home, data = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    inputs = write_inputs(scratch, args.sizes)
    cluster = EmbeddedCluster(home, data_dir=data)
    cluster.up()
    rows: list[tuple[str, int, str, float, float]] = []  # input, size, loader, seconds, features
    try:
        url = cluster.url("gisplan", driver="postgresql")
        ensure_extensions(url)
        info = cluster.info()
        assert info is not None
        pg = f"PG:host=127.0.0.1 port={info.port} dbname=gisplan user=postgres password={info.password}"
        dbs = Databases(cluster)
        cases: list[tuple[str, int, str, Path, list[str]]] = [
            (name, n, LAYER_OF[name], path, []) for (name, n), path in inputs.items()
        ]
        if not args.no_pbf:
            excluded = ", ".join(f"'{c}'" for c in NOT_WALKABLE)
            pbf_roads = ["lines", "-where", f"highway IS NOT NULL AND highway NOT IN ({excluded})"]
            pbf_buildings = ["multipolygons", "-where", "building IS NOT NULL", "-nlt", "PROMOTE_TO_MULTI"]
            cases += [
                ("pbf roads", 0, "roads", DATA, pbf_roads),
                ("pbf buildings", 0, "buildings", DATA, pbf_buildings),
            ]
        for name, n, layer, path, ogr_extra in cases:
            table = "ogr_" + name.replace(" ", "_")
            for loader, run in (
                ("gisplan", gisplan_run(dbs, layer, path, scratch / "reports")),
                *([("gisplan CLI", cli_run(dbs, layer, path, home))] if args.cli else []),
                ("ogr2ogr", ogr2ogr_run(pg, path, table, ogr_extra)),
            ):
                seconds, count = timed(run, args.repeat)
                rows.append((name, n or count, loader, seconds, count))
                print(f"  {name} {n or count:,} {loader}: {seconds:.3f} s, {count:,} features", file=sys.stderr)
    finally:
        cluster.destroy()
        for folder in (scratch, home, data):
            shutil.rmtree(folder, ignore_errors=True)

    load = os.getloadavg()
    print(
        f"imports into PostGIS (EPSG:{SRID}), gisplan vs {gdal}, median of {args.repeat} runs, {os.cpu_count()} cores,"
    )
    print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'input':<18} {'features':>9} {'loader':<12} {'seconds':>8} {'features/s':>11} {'ratio':>7}")
    anchors = {(name, n): (s, c) for name, n, loader, s, c in rows if loader == "ogr2ogr"}
    for name, n, loader, seconds, count in rows:
        rate = count / seconds
        anchor = anchors[(name, n)]
        ratio = "" if loader == "ogr2ogr" else f"{rate / (anchor[1] / anchor[0]):.2f}x"
        print(f"{name:<18} {n:>9,} {loader:<12} {seconds:>8.3f} {rate:>11,.0f} {ratio:>7}")
    print("ratio: gisplan's throughput / ogr2ogr's on the same input (goal >= 1.00x)")


if __name__ == "__main__":
    main()
