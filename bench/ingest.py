"""Import throughput: gisplan vs ogr2ogr (GDAL from Debian, COPY mode), same server, same SRID, same run.

    .venv/bin/python bench/ingest.py [--repeat 3]

Loads the buildings and the walkable roads of Liechtenstein (OSM PBF, 2015 snapshot) into one
throwaway PostGIS cluster, first with gisplan into its empty layers (read, tag mapping, validation
and repair, keys, import log: everything on), then with ``ogr2ogr -f PostgreSQL -overwrite`` into
new plain tables in the same SRID. Prints features/s for each and the ratio.
A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy import text

from gis.ingest import load_file
from gis.registry import registry
from gis.store.cluster import EmbeddedCluster, ensure_extensions
from gis.store.engine import make_engine

DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "fallback-liechtenstein" / "liechtenstein-latest.osm.pbf"
)
NOT_WALKABLE = registry().layer("roads").not_walkable


def ogr2ogr(pg: str, layer: str, where: str, table: str, srid: int) -> tuple[float, int]:
    argv = [
        "ogr2ogr",
        "-f",
        "PostgreSQL",
        pg,
        str(DATA),
        layer,
        "-where",
        where,
        "-t_srs",
        f"EPSG:{srid}",
        "-nln",
        table,
        "-overwrite",
        "-lco",
        "GEOMETRY_NAME=geom",
        "-nlt",
        "PROMOTE_TO_MULTI",
        "--config",
        "PG_USE_COPY",
        "YES",
    ]
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    with psycopg.connect(pg.removeprefix("PG:")) as conn:
        count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
    return seconds, int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs per loader; the median is reported")
    args = parser.parse_args()
    if shutil.which("ogr2ogr") is None:
        raise SystemExit("ogr2ogr not found: apt-get install gdal-bin")

    home, data = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    cluster = EmbeddedCluster(home, data_dir=data)
    cluster.up()
    try:
        url = cluster.url("gisplan", driver="postgresql")
        ensure_extensions(url)
        info = cluster.info()
        assert info is not None
        pg = f"PG:host=127.0.0.1 port={info.port} dbname=gisplan user=postgres password={info.password}"
        engine = make_engine(url)
        reg = registry()
        results: dict[str, dict[str, tuple[float, int]]] = {}
        for layer in ("buildings", "roads"):
            runs = []
            for _ in range(args.repeat):
                # into an empty layer, as ogr2ogr -overwrite loads into a new table
                if runs:
                    with engine.begin() as conn:
                        conn.execute(text(f"TRUNCATE {layer}, audit_log, imports"))
                started = time.perf_counter()
                report = load_file(engine, reg, layer, DATA, actor="bench")
                runs.append((time.perf_counter() - started, report.loaded))
            results.setdefault(layer, {})["gisplan"] = (statistics.median(r[0] for r in runs), runs[0][1])
        with engine.connect() as conn:
            srid = int(conn.execute(text("SELECT value FROM gisplan_meta WHERE key = 'srid'")).scalar_one())
        excluded = ", ".join(f"'{c}'" for c in NOT_WALKABLE)
        wheres = {
            "buildings": ("multipolygons", "building IS NOT NULL"),
            "roads": ("lines", f"highway IS NOT NULL AND highway NOT IN ({excluded})"),
        }
        for layer, (gdal_layer, where) in wheres.items():
            runs = [ogr2ogr(pg, gdal_layer, where, f"ogr_{layer}", srid) for _ in range(args.repeat)]
            results[layer]["ogr2ogr"] = (statistics.median(r[0] for r in runs), runs[0][1])
        engine.dispose()
    finally:
        cluster.destroy()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)

    print(f"import of {DATA.name} into PostGIS (EPSG:{srid}), median of {args.repeat} runs")
    print(f"{'layer':<10} {'loader':<8} {'features':>9} {'seconds':>8} {'features/s':>11}")
    total = {"gisplan": [0.0, 0], "ogr2ogr": [0.0, 0]}
    for layer, by in results.items():
        for loader, (seconds, count) in by.items():
            print(f"{layer:<10} {loader:<8} {count:>9} {seconds:>8.2f} {count / seconds:>11.0f}")
            total[loader][0] += seconds
            total[loader][1] += count
        ratio = (by["gisplan"][1] / by["gisplan"][0]) / (by["ogr2ogr"][1] / by["ogr2ogr"][0])
        print(f"{layer:<10} ratio gisplan/ogr2ogr throughput: {ratio:.2f}x")
    g, o = total["gisplan"], total["ogr2ogr"]
    print(f"{'both':<10} ratio gisplan/ogr2ogr throughput: {(g[1] / g[0]) / (o[1] / o[0]):.2f}x (goal >= 0.8x)")


if __name__ == "__main__":
    main()
