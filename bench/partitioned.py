"""A province's gap analysis: one process beside the partitioned run on Dask, 1×, 10× and 100×.

    .venv/bin/python bench/partitioned.py [--scales 1 10 100] [--per-tile 500]

Data (synthetic, built from real OSM): the walkable roads of Liechtenstein (OSM PBF, 2015) tiled into
a grid of translated copies joined at their seams (bench/access.py's tiling: 10× is 560k segments,
100× about 5.6 M); ``--per-tile`` of its buildings' points per copy as compounds (100 residents
each: 50,000 at 100×); its facility points, each given one of the facility types with a radius in
the default standard at random (seeded), so that every type is asked for.

For each scale, timed from start to exit with its own peak memory (``wait4``):

- one process: ``gisplan gaps`` for every type (where it fits: the command refuses a network that
  would not fit in memory);
- partitioned: ``gisplan gaps --engine dask --workers N`` for N = 1 and 2 (a LocalCluster of N
  processes), partitions of at most ``--partition-segments`` road segments halo included.

Beside them, from the partitioned run's own record: partitions, the peak memory of each worker,
the halo overhead (road segments read by all partitions ÷ the network's), the rows reported as
beyond their radius, the network's components found tile by tile, the sum and the longest of the
tasks' times; and a *projection* (not a measurement) to 16 workers: the components' time plus the
longer of the longest task and the tasks' sum ÷ 16. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import psycopg

from gis.standards import load_standard
from gis.store.cluster import EmbeddedCluster

_spec = importlib.util.spec_from_file_location("bench_access", Path(__file__).with_name("access.py"))
assert _spec is not None and _spec.loader is not None
access = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(access)


def write_inputs(scale: int, per_tile: int, out: Path) -> dict[str, int]:
    """bench/access.py's tiled inputs, then ``per_tile`` compounds a copy and typed facility points."""
    counts = access.write_inputs(scale, out)
    rng = np.random.default_rng(scale)
    compounds = gpd.read_file(out / "compounds.gpkg", engine="pyogrio")
    keep = rng.choice(len(compounds), size=min(len(compounds), per_tile * scale), replace=False)
    compounds.iloc[np.sort(keep)].reset_index(drop=True).to_file(out / "compounds.gpkg", engine="pyogrio")
    facilities = gpd.read_file(out / "facilities.gpkg", engine="pyogrio")
    types = sorted(t for t, r in load_standard().facilities.items() if r.radius_m is not None)
    facilities["type"] = rng.choice(types, size=len(facilities))
    facilities.to_file(out / "facilities.gpkg", engine="pyogrio")
    return {**counts, "compounds": len(keep), "types": len(types)}


def last_run(url: str) -> dict[str, object]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT inputs FROM gap_runs WHERE status = 'complete' ORDER BY id DESC LIMIT 1").fetchone()
    assert row is not None
    return dict(row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--per-tile", type=int, default=500)
    parser.add_argument("--partition-segments", type=int, default=200_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    home, data, work = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    cluster = EmbeddedCluster(home, data_dir=data, fast=True)
    cluster.up()
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    try:
        for scale in args.scales:
            folder = work / f"x{scale}"
            folder.mkdir()
            counts = write_inputs(scale, args.per_tile, folder)
            url, env = access.load_database(cluster, f"part_{scale}", folder, home / f"h{scale}")
            with psycopg.connect(url) as conn:
                row = conn.execute("SELECT sum(ST_NPoints(geom) - ST_NumGeometries(geom)) FROM roads").fetchone()
            segments = int(row[0]) if row and row[0] is not None else 0
            head = f"{scale:>4}x {segments:>9,} segments {counts['compounds']:>7,} compounds {counts['types']} types"
            try:
                seconds, peak, _ = access.timed(access.gisplan("gaps"), env)
                say(f"{head}  one process       {seconds:8.1f} s  peak {peak:7.0f} MB")
                alone = seconds
            except RuntimeError as exc:
                say(f"{head}  one process       does not run here: {str(exc)[-300:]!r}")
                alone = None
            for n in args.workers:
                argv = access.gisplan(
                    "gaps",
                    "--engine",
                    "dask",
                    "--workers",
                    str(n),
                    "--partition-segments",
                    str(args.partition_segments),
                )
                seconds, peak, _ = access.timed(argv, env)
                run = last_run(url)
                peaks = run["peak_mb_per_worker"]
                assert isinstance(peaks, dict)
                total, longest, first = (
                    float(run["task_seconds"]),
                    float(run["longest_task_s"]),
                    float(run["components_s"]),
                )  # type: ignore[arg-type]
                versus = f" ({alone / seconds:.2f}x one process's speed)" if alone else ""
                say(
                    f"{head}  dask, {n} worker{'s' if n > 1 else ' '}   {seconds:8.1f} s{versus}  command peak {peak:5.0f} MB; "
                    f"workers' peaks {', '.join(f'{v:.0f}' for v in peaks.values())} MB; {run['partitions']} partitions, "
                    f"halo overhead {run['halo_overhead']}, {run['rows_beyond_radius']:,} rows beyond the radius; "
                    f"components {first:.1f} s, tasks {total:.1f} s in all, longest {longest:.1f} s"
                )
                if n == max(args.workers):
                    say(
                        f"{'':>6} projection, not measured: 16 workers ≈ {first + max(longest, total / 16):.1f} s "
                        "(the components + the longer of the longest task and the tasks' sum ÷ 16)"
                    )
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        cluster.destroy()
        for d in (home, data, work):
            shutil.rmtree(d, ignore_errors=True)
    load = os.getloadavg()
    print(f"2 cores, 24 GiB; load average {load[0]:.1f} {load[1]:.1f} at the end; synthetic tiles of real OSM data")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
