"""The GeoPackage inputs of ``bench/ingest.py``: Liechtenstein's roads and buildings, tiled to a size.

Derived in code from the OSM PBF (2015 snapshot), never written beside it: the walkable roads as
lines, the buildings as compound polygons and as compound points (each building's representative
point), with a few of their tags as columns (some a layer maps, the rest kept in ``extra``). The
copies are translated side by side in UTM 32N (as ``bench/access.py`` tiles them), written in
WGS 84 (as a delivery usually is, so both loaders reproject), and cut to exactly ``n`` features.
Synthetic beyond the first copy.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from gis.ingest.osm import parse_other_tags
from gis.registry import registry

DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "fallback-liechtenstein" / "liechtenstein-latest.osm.pbf"
)
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
    not_walkable = registry().layer("roads").not_walkable
    lines = pyogrio.read_dataframe(DATA, layer="lines", columns=["osm_id", "name", "highway", "other_tags"])
    lines = lines[lines["highway"].notna() & ~lines["highway"].isin(not_walkable)]
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
