"""Load: ``gisplan serve --workers N`` beside ``--workers 1`` under the same mixed load, 64 connections.

    apt-get install wrk
    .venv/bin/python bench/load.py [--seconds 60] [--connections 64] [--workers 4]

``gisplan demo`` fills a throwaway home (its own embedded cluster: the sample's layers, the programme,
the gap runs, the pipelines checked). The server then runs on 127.0.0.1 with one worker process and
with ``--workers N``, each for ``--seconds`` under ``wrk`` (2 threads, ``--connections`` connections,
a 30 s timeout) on the same round-robin mix of anonymous requests, as the public map and QGIS send them:
vector tiles z0–z16 over the sample of every public layer, items pages (with and without a bbox),
the collections, a collection, TileJSON, the web map's gap reads and a run's summary, and public
exports (the gap table as CSV, a 一区一策 report, the offline map). Each answer's status is counted
(wrk's Lua ``response``): an error is a socket error, a timeout or any status but 200 and 503; a 503
is load shed on purpose (the bound on heavy requests, ``GISPLAN_HEAVY_REQUESTS`` per worker) and is
counted apart. Bounded: ``--seconds`` per run, two runs. Prints throughput and p50/p99 of both runs and
the ratio. A benchmark, not a test: the exit status is 1 if there was any error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import morecantile

from gis.store.cluster import EmbeddedCluster

# statuses counted per wrk thread, summed in done(); the summary line is parsed below
LUA = """
paths = {%s}
local counts = {}
local threads = {}
local i = 0
setup = function(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
init = function(args)
  i = tonumber(wrk.thread:get("id")) * 7919
end
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
response = function(status, headers, body)
  local key = "s" .. status
  counts[key] = (counts[key] or 0) + 1
  wrk.thread:set(key, counts[key])
end
done = function(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for _, status in ipairs({%s}) do
      local n = thread:get("s" .. status)
      if n then total[status] = (total[status] or 0) + n end
    end
  end
  local parts = {}
  for status, n in pairs(total) do table.insert(parts, '"' .. status .. '": ' .. n) end
  io.write("STATUSES {" .. table.concat(parts, ", ") .. "}\\n")
  io.write(string.format("LATENCY p50=%%d p99=%%d\\n", latency:percentile(50), latency:percentile(99)))
  io.write(string.format("ERRORS connect=%%d read=%%d write=%%d timeout=%%d\\n",
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
"""
STATUSES = [200, 204, 301, 302, 304, 400, 401, 403, 404, 405, 409, 413, 422, 429, 500, 502, 503, 504]
PUBLIC_TILED = ["compounds", "facilities", "roads", "buildings", "water"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(url: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout_s} s")


def mix(base: str) -> list[str]:
    """The request paths, weighted by repetition: mostly tiles and pages, a few exports."""
    with httpx.Client(base_url=base, timeout=60) as c:
        compounds = c.get("/ogc/collections/compounds/items", params={"limit": 20}).json()["features"]
        ids = [f["id"] for f in compounds]
        west, south, east, north = c.get("/ogc/collections/compounds").json()["extent"]["spatial"]["bbox"][0]
        runs = c.get("/api/gaps/runs").json()["runs"]
    run_ids = [r["id"] for r in runs]
    facilities = sorted({t for r in runs for t in r["parameters"].get("facility_types", [])})
    lon, lat = (west + east) / 2, (south + north) / 2
    tms = morecantile.tms.get("WebMercatorQuad")
    tiles = []
    for z in range(0, 17):
        t = tms.tile(lon, lat, z)
        around = [(0, 0)] if z < 10 else [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
        tiles += [(z, t.y + dy, t.x + dx) for dx, dy in around]
    paths = [
        f"/ogc/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}" for layer in PUBLIC_TILED for z, y, x in tiles
    ]
    box = f"{lon - 0.005},{lat - 0.005},{lon + 0.005},{lat + 0.005}"
    pages = []
    for layer in PUBLIC_TILED:
        pages += [f"/ogc/collections/{layer}/items?limit=100", f"/ogc/collections/{layer}/items?limit=100&offset=100"]
        pages += [f"/ogc/collections/{layer}/items?limit=100&bbox={box}"]
    pages += [f"/ogc/collections/compounds/items/{fid}" for fid in ids[:10]]
    meta = [
        "/ogc",
        "/ogc/collections",
        "/ogc/collections/compounds",
        "/ogc/collections/roads/tiles/WebMercatorQuad/tilejson.json",
    ]
    gaps = [f"/api/map/gaps/{f}" for f in facilities] + [f"/api/gaps/runs/{r}/summary" for r in run_ids[:2]]
    exports = ["/api/exports/gaps.csv", f"/api/exports/reports/{ids[0]}.html", "/api/exports/map.html"]
    # about 70 % tiles, 15 % pages, 5 % metadata, 8 % gap reads, 1 % exports
    weighted = paths * 2 + pages * 4 + meta * 3 + gaps * 8 + exports
    return weighted


@dataclass
class Result:
    rps: float
    p50: float  # ms
    p99: float
    requests: int
    ok: int
    shed: int  # 503 with Retry-After: the heavy-request bound at work
    errors: int  # socket errors, timeouts, any other status
    statuses: dict[int, int]


def wrk(paths: list[str], base: str, seconds: int, connections: int, workdir: Path) -> Result:
    script = workdir / "mix.lua"
    script.write_text(LUA % (", ".join(json.dumps(p) for p in paths), ", ".join(map(str, STATUSES))))
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script), base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    statuses = {int(k): v for k, v in json.loads(re.search(r"STATUSES (\{.*\})", out).group(1)).items()}  # type: ignore[union-attr]
    lat = re.search(r"LATENCY p50=(\d+) p99=(\d+)", out)
    err = re.search(r"ERRORS connect=(\d+) read=(\d+) write=(\d+) timeout=(\d+)", out)
    assert lat and err, out
    sockets = sum(int(g) for g in err.groups())
    done = sum(statuses.values())
    return Result(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50=int(lat.group(1)) / 1000,
        p99=int(lat.group(2)) / 1000,
        requests=done,
        ok=statuses.get(200, 0),
        shed=statuses.get(503, 0),
        errors=sockets + sum(n for s, n in statuses.items() if s not in (200, 503)),
        statuses=statuses,
    )


def serve(env: dict[str, str], workers: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gis", "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    wait(base + "/readyz")
    return proc, base


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("needs wrk: apt-get install wrk")
    home = Path(tempfile.mkdtemp(prefix="gisplan-load-"))
    env = {**os.environ, "GISPLAN_HOME": str(home), "NO_COLOR": "1"}
    env.pop("GISPLAN_DATABASE_URL", None)
    rows = []
    started = time.monotonic()
    try:
        subprocess.run([sys.executable, "-m", "gis", "demo"], env=env, check=True, stdout=subprocess.DEVNULL)
        for workers in (1, args.workers):
            proc, base = serve(env, workers, home / f"serve-{workers}.log")
            try:
                paths = mix(base)
                for path in sorted(set(paths)):  # every path answers before the load: no error is the mix's
                    status = httpx.get(base + path, timeout=60).status_code
                    if status != 200:
                        raise SystemExit(f"{path} answered {status} before the load")
                rows.append((workers, wrk(paths, base, args.seconds, args.connections, home)))
            finally:
                stop(proc)
    finally:
        EmbeddedCluster(home).destroy()
        shutil.rmtree(home, ignore_errors=True)
    print(
        f"wrk -t2 -c{args.connections} -d{args.seconds}s, {len(set(paths))} distinct paths "
        f"(tiles z0-16, pages, metadata, gap reads, exports); 2 cores shared by server, database and wrk"
    )
    print(
        f"{'workers':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'200':>8} {'503 shed':>8} {'errors':>6}"
    )
    for workers, r in rows:
        print(
            f"{workers:>7} {r.rps:>8.1f} {r.p50:>8.1f} {r.p99:>8.1f} {r.requests:>9} "
            f"{r.ok:>8} {r.shed:>8} {r.errors:>6}"
        )
    (_, one), (_, many) = rows
    print(
        f"ratio {args.workers}/1 workers: {many.rps / one.rps:.2f}x throughput, "
        f"p99 {many.p99 / one.p99:.2f}x; {time.monotonic() - started:.0f} s in all"
    )
    if any(r.errors for _, r in rows):
        print("errors:", [r.statuses for _, r in rows])
        raise SystemExit(1)


if __name__ == "__main__":
    main()
