"""Clearance check: gisplan (candidate pairs by the GiST index, then shapely) vs a straightforward
geopandas version, both timed on the clearance check alone (the same work), findings compared.

    .venv/bin/python bench/pipelines.py [--copies 16] [--repeat 3]

Data: the Kigali water network (3,436 real lines, UTM 36S), tiled into translated copies
(synthetic) to pass 50,000 lines, each line given a kind, diameter and pressure in turn (synthetic)
so that the GB 50289 table applies to its neighbours. Both implementations find the same thing:
pairs of buried lines closer than the table's clearance along a stretch longer than 4× it.
gisplan: ``gis.pipelines.checks.clearances`` (the lines read from PostgreSQL, candidate pairs by
the GiST index, rule per pair, pairs that cannot reach the stretch dropped by clipping, distance
and stretch by shapely). geopandas: ``sjoin(predicate="dwithin")`` at the largest clearance, the
same rule per pair in pandas, shapely for distances and stretches (``intersection`` with
``buffer``) of every pair within its clearance. Loading is not timed; the median of ``--repeat``
runs of each is. The whole ``check`` (also buildings, crossings, ageing) is timed once, for
information. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import event

from gis.ingest import load_file
from gis.pipelines.checks import check, clearances
from gis.pipelines.rules import categories, rules
from gis.registry import registry
from gis.store.cluster import EmbeddedCluster, ensure_extensions
from gis.store.database import Database
from gis.store.engine import make_engine

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "rw-kigali-water-pipes" / "Pipeline_packed.shp"
KINDS = [
    ("JS", 150, None),
    ("WS", 400, None),
    ("RQ", 160, "medium_b"),
    ("DL", None, None),
    ("TX", None, None),
    ("JS", 300, None),
]


def tiled(copies: int) -> gpd.GeoDataFrame:
    base = gpd.read_file(DATA).explode(index_parts=False).reset_index(drop=True)
    minx, miny, maxx, maxy = base.total_bounds
    cols = int(np.ceil(np.sqrt(copies)))
    parts = [base.translate((i % cols) * (maxx - minx), (i // cols) * (maxy - miny)) for i in range(copies)]
    lines = gpd.GeoDataFrame(geometry=pd.concat(parts, ignore_index=True), crs=base.crs)
    spec = [KINDS[i % len(KINDS)] for i in range(len(lines))]
    lines["kind"] = [k for k, _, _ in spec]
    lines["diameter_mm"] = [d for _, d, _ in spec]
    lines["pressure"] = [p for _, _, p in spec]
    lines["synthetic"] = "*"
    return lines


def geopandas_check(lines: gpd.GeoDataFrame) -> pd.DataFrame:
    r = rules()
    table: dict[tuple[str, str], float] = {}
    for row in r["horizontal_clearance_m"]:
        value = row.get("value") or (row.get("value_by_dn") or {}).get("le_300")
        if value is not None:
            table[(row["a"], row["b"])] = table[(row["b"], row["a"])] = float(value)
    cats = [
        categories(k, d, p)[0] for k, d, p in zip(lines["kind"], lines["diameter_mm"], lines["pressure"], strict=True)
    ]
    max_value = max(v for (a, b), v in table.items() if "building" not in (a, b))
    pairs = gpd.sjoin(lines, lines, predicate="dwithin", distance=max_value)
    pairs = pairs[pairs.index < pairs["index_right"]]
    left, right = pairs.index.to_numpy(), pairs["index_right"].to_numpy()

    def required(i: int, j: int) -> float:
        best = None
        for ra, ca in enumerate(cats[i]):
            for rb, cb in enumerate(cats[j]):
                if (ca, cb) in table and (best is None or ra + rb < best[0]):
                    best = (ra + rb, table[(ca, cb)])
        return best[1] if best else np.nan

    req = np.array([required(i, j) for i, j in zip(left, right, strict=True)])
    geoms = np.asarray(lines.geometry.values, dtype=object)
    keep = ~np.isnan(req)
    left, right, req = left[keep], right[keep], req[keep]
    dist = shapely.distance(geoms[left], geoms[right])
    close = dist < req
    left, right, req, dist = left[close], right[close], req[close], dist[close]
    stretch = shapely.length(shapely.intersection(geoms[left], shapely.buffer(geoms[right], req)))
    factor = float(r["min_parallel_stretch_factor"]["value"])
    ok = stretch > factor * req
    return pd.DataFrame(
        {"a": left[ok], "b": right[ok], "required": req[ok], "actual": dist[ok], "stretch": stretch[ok]}
    )


def compare(ours: pd.DataFrame, theirs: pd.DataFrame, fids: np.ndarray) -> list[str]:
    """The two sets of findings side by side: pairs, clearances, distances, stretches."""
    g = theirs.assign(fid_a=fids[theirs["a"].to_numpy()], fid_b=fids[theirs["b"].to_numpy()])
    m = ours.merge(g, on=["fid_a", "fid_b"], how="outer", indicator=True)
    both = m[m["_merge"] == "both"]
    only_ours, only_theirs = int((m["_merge"] == "left_only").sum()), int((m["_merge"] == "right_only").sum())
    same_rule = bool((both["required_m"] == both["required"]).all())
    d_actual = float(np.abs(both["actual_m"] - both["actual"]).max()) if len(both) else 0.0
    d_stretch = float(np.abs(both["stretch_m"] - both["stretch"]).max()) if len(both) else 0.0
    return [
        f"same pairs: {'yes' if not only_ours and not only_theirs else 'NO'} ({len(both):,} in both, "
        f"{only_ours} only in gisplan's, {only_theirs} only in geopandas'); same clearance per pair: "
        f"{'yes' if same_rule else 'NO'}",
        f"largest difference per pair: actual distance {d_actual:.1e} m, stretch {d_stretch:.1e} m",
    ]


def _median_time(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return float(np.median(times)), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    lines = tiled(args.copies)
    home, data = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    cluster = EmbeddedCluster(home, data_dir=data, fast=True)
    cluster.up()
    try:
        url = cluster.url("gisplan", driver="postgresql")
        ensure_extensions(url)
        engine = make_engine(url)
        path = home / "lines.gpkg"
        lines.to_file(path, layer="pipelines", driver="GPKG")
        load_file(engine, registry(), "pipelines", path, actor="bench")
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE pipelines")
            stored = gpd.read_postgis("SELECT fid, geom FROM pipelines ORDER BY fid", conn, geom_col="geom")
        # the anchor's rows are the file's; the stored lines are the same, one row each, in that order
        if len(stored) != len(lines) or not shapely.equals(stored.geometry.values, lines.geometry.values).all():
            raise SystemExit("the stored lines are not the file's, row for row: the findings cannot be compared")
        fids = stored["fid"].to_numpy()
        db = Database(engine)
        crs = db.require_schema()
        in_db = [0.0]

        @event.listens_for(engine, "before_cursor_execute")
        def _start(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
            conn.info["t0"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def _stop(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
            in_db[0] += time.perf_counter() - conn.info.pop("t0")

        def ours_once() -> gpd.GeoDataFrame:
            with engine.begin() as conn:
                return clearances(conn, compound=None, crs=crs)

        ours, found = _median_time(ours_once, args.repeat)
        in_db_each = in_db[0] / args.repeat
        started = time.perf_counter()
        whole = check(db)
        whole_time = time.perf_counter() - started
        cols = ["fid_a", "fid_b", "required_m", "actual_m", "stretch_m"]
        in_whole = whole[whole["check"] == "clearance"].sort_values(["fid_a", "fid_b"])[cols]
        same_in_whole = np.array_equal(in_whole.to_numpy(dtype=float), found[cols].to_numpy(dtype=float))
        gp, theirs = _median_time(lambda: geopandas_check(lines), args.repeat)
        engine.dispose()
    finally:
        cluster.destroy()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
    print(f"{len(lines):,} lines ({args.copies} tiled copies of {DATA.name}; kinds synthetic), 2 cores")
    print(f"clearance check alone, median of {args.repeat}:")
    print(f"  gisplan (GiST candidates, then shapely): {ours:6.2f} s, {len(found):,} findings")
    print(f"    of which in the database: {in_db_each:.2f} s ({in_db_each / ours:.0%})")
    print(f"  geopandas sjoin dwithin:                 {gp:6.2f} s, {len(theirs):,} findings")
    print(f"  ratio geopandas / gisplan time: {gp / ours:.2f}x (goal >= 1)")
    for line in compare(found, theirs, fids):
        print(f"  {line}")
    print(
        f"gisplan's whole check (also buildings, crossings, ageing), once: {whole_time:.2f} s; "
        f"its clearance findings the same as the clearance check's: {'yes' if same_in_whole else 'NO'}"
    )


if __name__ == "__main__":
    main()
