"""Web API throughput: gisplan vs tipg on the same PostGIS table, same load generator, same run.

    apt-get install wrk; python3 -m venv /tmp/tipg-venv && /tmp/tipg-venv/bin/pip install tipg uvicorn
    .venv/bin/python bench/api.py [--seconds 20] [--tipg /tmp/tipg-venv/bin/uvicorn]

The buildings of Liechtenstein (OSM 2015, 8,994 polygons) loaded by gisplan, and a 10× copy
(translated, synthetic) in a second database. For each size both servers run side by side on
127.0.0.1 with one worker process each and then four (``--workers``; tipg is only an anchor, never
imported by the product), and ``wrk`` (2 threads, 16 connections, ``--seconds`` each) requests:
GeoJSON pages of 1,000 features, the same with a bbox, and MVT tiles by zoom band (z0–8, z9–12,
z13–16: a fixed list of the tiles over the data's centre and its neighbours). Prints requests/s,
p50/p99 latency and bytes/s for both, and the ratios. A benchmark, not a test: it asserts nothing.

tipg cuts a tile at 10,000 features by default (``TIPG_MAX_FEATURES_PER_TILE``): a low tile of the
10× copy then holds a ninth of its buildings. The tiles are therefore also asked of a third server,
tipg with no such cut ("tipg, whole"), whose tiles hold what gisplan's do.

gisplan keeps the tiles it rendered until their layer changes (``GISPLAN_TILE_CACHE_MB``, default
64 per process; :mod:`gis.ogc.tile_cache`), so a fixed list of tiles is rendered once and then read
from memory. The tiles are therefore also asked of a second gisplan with the cache off
("gisplan, uncached": every tile rendered by PostGIS, as tipg renders each).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import httpx
import morecantile
import pandas as pd
import psycopg

from gis.ingest import load_file
from gis.registry import registry
from gis.store.cluster import EmbeddedCluster, ensure_extensions
from gis.store.engine import make_engine

DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "fallback-liechtenstein" / "liechtenstein-latest.osm.pbf"
)
LUA = """
paths = {%s}
i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(url: str) -> None:
    for _ in range(200):
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def wrk(paths: list[str], base: str, seconds: int, workdir: Path) -> dict[str, float]:
    script = workdir / "paths.lua"
    script.write_text(LUA % ", ".join(f'"{p}"' for p in paths))
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s", str(script), base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        m = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(KB|MB|GB|B)", out)
    bytes_s = float(transfer.group(1)) * {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9}[transfer.group(2)] if transfer else 0
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": ms("50%"),
        "p99": ms("99%"),
        "bytes_s": bytes_s,
        "non2xx": float(errors.group(1)) if errors else 0,
    }


def quiet(admin: str, limit_s: float = 180.0) -> float:
    """Wait until the server runs no client's statement (a scenario's last requests outlive wrk: the
    server goes on with what it was asked, and a slow anchor's tiles took the cores from the next
    scenario's first seconds). Returns the seconds waited."""
    start = time.perf_counter()
    with psycopg.connect(admin, autocommit=True) as conn:
        while time.perf_counter() - start < limit_s:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND backend_type = 'client backend' "
                "AND pid <> pg_backend_pid()"
            ).fetchone()
            if row is not None and row[0] == 0:
                break
            time.sleep(0.2)
    return time.perf_counter() - start


def settle(limit_s: float = 180.0, idle: float = 0.9) -> float:
    """Wait until the machine's cores are mostly idle for a second (``idle`` of their time): a
    server answers once its first worker is up, while its other workers, its edit workers and the
    other servers are still starting. Returns the seconds waited."""

    def times() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, all

    start = time.perf_counter()
    while time.perf_counter() - start < limit_s:
        idle0, all0 = times()
        time.sleep(1.0)
        idle1, all1 = times()
        if all1 > all0 and (idle1 - idle0) / (all1 - all0) >= idle:
            break
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--tipg", default="/tmp/tipg-venv/bin/uvicorn")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4], help="worker processes per server")
    parser.add_argument("--sizes", nargs="+", default=["1x", "10x"], choices=["1x", "10x"])
    parser.add_argument("--only", nargs="+", default=None, help="scenarios to run (e.g. 'items 1000 bbox')")
    args = parser.parse_args()
    if not shutil.which("wrk") or not Path(args.tipg).exists():
        raise SystemExit("needs wrk (apt-get install wrk) and tipg in its own venv (see the docstring)")
    home, data = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    cluster = EmbeddedCluster(home, data_dir=data)
    cluster.up()
    rows = []
    waited: list[float] = []
    try:
        admin = cluster.url("postgres", driver="postgresql")
        # four servers of four workers each, their pools and tipg's, wrk's 16 at a time: past 100
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET max_connections = 400")
        cluster.down()
        cluster.up()
        admin = cluster.url("postgres", driver="postgresql")
        with psycopg.connect(admin, autocommit=True) as conn:
            for db in ("bench1", "bench10"):
                conn.execute(f"CREATE DATABASE {db}")
        one = cluster.url("bench1", driver="postgresql")
        ten = cluster.url("bench10", driver="postgresql")
        for url in (one, ten):
            ensure_extensions(url)
        load_file(make_engine(one), registry(), "buildings", DATA, actor="bench")
        base = gpd.read_postgis("SELECT fid, name, use, floors, geom FROM buildings", make_engine(one), geom_col="geom")
        minx, miny, maxx, maxy = base.total_bounds
        copies = [base.translate((i % 4) * (maxx - minx), (i // 4) * (maxy - miny)) for i in range(10)]
        tiled = gpd.GeoDataFrame(
            {
                "name": pd.concat([base["name"]] * 10, ignore_index=True),
                "use": pd.concat([base["use"]] * 10, ignore_index=True),
            },
            geometry=pd.concat(copies, ignore_index=True),
            crs=base.crs,
        )
        tiled.to_file(home / "ten.gpkg", layer="buildings")
        load_file(make_engine(ten), registry(), "buildings", home / "ten.gpkg", actor="bench")
        # fixed lists of tiles over the original data, by zoom band (a tile and its neighbours)
        tms = morecantile.tms.get("WebMercatorQuad")
        lon_lat = base.to_crs(4326).total_bounds
        centre = ((lon_lat[0] + lon_lat[2]) / 2, (lon_lat[1] + lon_lat[3]) / 2)
        bands = {
            f"tiles z{zooms[0]}-{zooms[-1]}": sorted(
                {
                    tms.tile(centre[0] + dx * 0.01, centre[1] + dy * 0.01, z)
                    for z in zooms
                    for dx in (-1, 0, 1)
                    for dy in (-1, 0, 1)
                },
                key=lambda t: (t.z, t.x, t.y),
            )
            for zooms in (list(range(0, 9)), list(range(9, 13)), list(range(13, 17)))
        }
        bbox = f"{centre[0] - 0.02},{centre[1] - 0.02},{centre[0] + 0.02},{centre[1] + 0.02}"
        sizes = [(s, u) for s, u in (("1x", one), ("10x", ten)) if s in args.sizes]
        for size, url, workers in ((s, u, w) for s, u in sizes for w in args.workers):
            gp, up, tp, wp = free_port(), free_port(), free_port(), free_port()
            env = {**os.environ, "GISPLAN_DATABASE_URL": url, "GISPLAN_HOME": str(home)}
            servers = [
                *(
                    subprocess.Popen(
                        [sys.executable, "-m", "gis", "serve", "--port", str(port), "--workers", str(workers)],
                        env={**env, "GISPLAN_TILE_CACHE_MB": mb},
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    for port, mb in ((gp, "64"), (up, "0"))
                ),
                *(
                    subprocess.Popen(
                        [
                            args.tipg,
                            "tipg.main:app",
                            "--port",
                            str(port),
                            "--workers",
                            str(workers),
                            "--log-level",
                            "warning",
                        ],
                        env={
                            **os.environ,
                            "DATABASE_URL": url,
                            "TIPG_DB_EXCLUDE_FUNCTION_SCHEMAS": '["public"]',
                            "TIPG_MAX_FEATURES_PER_QUERY": "10000",
                            **({"TIPG_MAX_FEATURES_PER_TILE": str(10**7)} if whole else {}),
                        },
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    for port, whole in ((tp, False), (wp, True))
                ),
            ]
            try:
                wait(f"http://127.0.0.1:{gp}/ogc/collections")
                wait(f"http://127.0.0.1:{up}/ogc/collections")
                wait(f"http://127.0.0.1:{tp}/collections")
                wait(f"http://127.0.0.1:{wp}/collections")
                print(f"{size} w{workers}: every process started after {settle():.1f} s", flush=True)
                scenarios = {k: v for k, v in paths(bands, bbox).items() if not args.only or k in args.only}
                for name, (ours, theirs) in scenarios.items():
                    waited.append(quiet(admin))
                    a = wrk(ours, f"http://127.0.0.1:{gp}", args.seconds, home)
                    waited.append(quiet(admin))
                    b = wrk(theirs, f"http://127.0.0.1:{tp}", args.seconds, home)
                    c = u = None
                    if name.startswith("tiles"):
                        waited.append(quiet(admin))
                        c = wrk(theirs, f"http://127.0.0.1:{wp}", args.seconds, home)
                        waited.append(quiet(admin))
                        u = wrk(ours, f"http://127.0.0.1:{up}", args.seconds, home)
                    rows.append((f"{size} w{workers}", name, a, u, b, c))
                    print(f"{size} w{workers} {name}: waited {sum(waited):.1f} s so far", flush=True)
            finally:
                for s in servers:
                    s.terminate()
                    s.wait(timeout=20)
    finally:
        cluster.destroy()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
    print(f"wrk -t2 -c16 -d{args.seconds}s per scenario; w: worker processes per server; 2 cores shared by all")
    print(
        f"each run began once PostgreSQL ran no statement left from the run before: waited {sum(waited):.1f} s "
        f"in all, {max(waited, default=0):.1f} s at most"
    )
    print(
        f"{'size':<6} {'scenario':<16} {'server':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'MB/s':>7} {'non-2xx':>7}"
    )
    for size, name, a, u, b, c in rows:
        for server, r in (("gisplan", a), ("gisplan, uncached", u), ("tipg", b), ("tipg, whole", c)):
            if r is not None:
                print(
                    f"{size:<6} {name:<16} {server:<8} {r['rps']:>8.1f} {r['p50']:>8.1f} {r['p99']:>8.1f} "
                    f"{r['bytes_s'] / 1e6:>7.2f} {int(r['non2xx']):>7}"
                )
        for ours, mine in (("gisplan", a), ("uncached", u)):
            for anchor, r in (("tipg", b), ("tipg, whole", c)):
                if mine is not None and r is not None:
                    print(f"{'':<6} {ours:>16} ÷ {anchor:<11} {ratio(mine, r)}")


def paths(bands: dict[str, list[morecantile.Tile]], bbox: str) -> dict[str, tuple[list[str], list[str]]]:
    """Each scenario's paths: gisplan's, tipg's."""
    return {
        "items 1000": (
            ["/ogc/collections/buildings/items?limit=1000"],
            ["/collections/public.buildings/items?limit=1000"],
        ),
        "items 1000 bbox": (
            [f"/ogc/collections/buildings/items?limit=1000&bbox={bbox}"],
            [f"/collections/public.buildings/items?limit=1000&bbox={bbox}"],
        ),
        **{
            band: (
                [f"/ogc/collections/buildings/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}" for t in tiles],
                [f"/collections/public.buildings/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}" for t in tiles],
            )
            for band, tiles in bands.items()
        },
    }


def ratio(a: dict[str, float], b: dict[str, float]) -> str:
    """gisplan's throughput and p99 as ratios of the anchor's."""
    p99 = f"{a['p99'] / b['p99']:.2f}x" if a["p99"] and b["p99"] else "n/a (too few requests for a p99)"
    return f"{a['rps'] / b['rps']:.2f}x throughput, p99 {p99}"


if __name__ == "__main__":
    main()
