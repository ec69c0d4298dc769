"""Comparing two gap runs' rows (a partitioned run against the single-process one)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

CRS = "EPSG:4547"
SPACING = 100.0


def compare_rows(whole: pd.DataFrame, parts: pd.DataFrame) -> list[str]:
    """What differs between the two runs' rows (empty: equal within the stated tolerances)."""
    key = ["facility_type", "compound_id"]
    a = whole.sort_values(key).reset_index(drop=True)
    b = parts.sort_values(key).reset_index(drop=True)
    if len(a) != len(b) or not (a[key].to_numpy() == b[key].to_numpy()).all():
        return ["not the same rows"]
    wrong = []
    for col in ["distance_m", "euclidean_m"]:
        x, y = a[col].to_numpy(dtype=float), b[col].to_numpy(dtype=float)
        same = (np.isnan(x) & np.isnan(y)) | (np.abs(x - y) <= 0.01)
        if not same.all():
            wrong.append(f"{col}: {int((~same).sum())} rows")
    for col in ["covered", "flag", "nearest_facility_id", "affected", "demand", "population"]:
        x, y = values(a[col]), values(b[col])
        differ = sum(u != v for u, v in zip(x, y, strict=True))
        if differ:
            wrong.append(f"{col}: {differ} rows")
    x, y = a["capacity_ratio"].to_numpy(dtype=float), b["capacity_ratio"].to_numpy(dtype=float)
    same = (np.isnan(x) & np.isnan(y)) | (np.abs(x - y) <= 1e-9 * np.maximum(np.abs(x), 1e-12))
    if not same.all():
        wrong.append(f"capacity_ratio: {int((~same).sum())} rows")
    return wrong


def values(column: pd.Series) -> list[object]:
    """The column's values, every missing one (None, NaN, NA) as None."""
    return [None if pd.isna(v) else v for v in column.astype(object)]


def grid_world(seed: int) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A 3 km street grid with holes and an island, 163 compounds (a long one across the grid, one on
    the island, one with no road near) and 43 facilities of three types (see test_partitions)."""
    rng = np.random.default_rng(seed)
    n = 30  # a 3 km square of 100 m blocks
    lines = []
    for i in range(n + 1):
        for j in range(n):
            if rng.random() > 0.12:  # holes: missing blocks of street
                lines.append(shapely.LineString([(i * SPACING, j * SPACING), (i * SPACING, (j + 1) * SPACING)]))
            if rng.random() > 0.12:
                lines.append(shapely.LineString([(j * SPACING, i * SPACING), ((j + 1) * SPACING, i * SPACING)]))
    # an island: a short street far east, reached by nothing
    lines.append(shapely.LineString([(3600, 1500), (3800, 1500)]))
    roads = gpd.GeoDataFrame(
        {"fid": np.arange(1, len(lines) + 1), "source": ["osm"] * len(lines), "highway": "residential"},
        geometry=lines,
        crs=CRS,
    )
    xy = rng.uniform(50, 2950, size=(160, 2))
    geoms = [shapely.box(x - 15, y - 15, x + 15, y + 15) for x, y in xy]
    geoms.append(shapely.box(200, 1460, 2800, 1490))  # a long compound across many partitions
    geoms.append(shapely.box(3650, 1510, 3700, 1540))  # on the island
    geoms.append(shapely.box(5000, 5000, 5030, 5030))  # no road within 300 m, alone
    k = len(geoms)
    compounds = gpd.GeoDataFrame(
        {
            "fid": np.arange(1, k + 1),
            "name": [f"C{i}" for i in range(1, k + 1)],
            "district": "区",
            "street": rng.choice(["甲街道", "乙街道"], k),
            "population": rng.integers(200, 3000, k).astype(float),
            "households": np.nan,
        },
        geometry=geoms,
        crs=CRS,
    )
    fxy = rng.uniform(0, 3000, size=(40, 2))
    kinds = ["kindergarten"] * 25 + ["clinic"] * 15
    points = [shapely.Point(x, y) for x, y in fxy]
    capacity: list[float | None] = [float(c) for c in rng.integers(30, 200, 40)]
    # primary schools only in the south-west corner: other partitions have none near
    points += [shapely.Point(150, 150), shapely.Point(420, 310)]
    kinds += ["primary_school", "primary_school"]
    capacity += [None, None]
    # a clinic at exactly 300 m straight east of the first compound's east side, on its row's street
    c0 = geoms[0]
    points.append(shapely.Point(c0.bounds[2] + 300.0, c0.centroid.y))
    kinds.append("clinic")
    capacity.append(None)
    facilities = gpd.GeoDataFrame(
        {
            "fid": np.arange(101, 101 + len(points)),
            "name": [f"F{i}" for i in range(len(points))],
            "type": kinds,
            "capacity": capacity,
        },
        geometry=points,
        crs=CRS,
    )
    return compounds, facilities, roads


def summary_facts(summary: dict[str, object]) -> dict[str, object]:
    """The summary but an island's component number (each computation numbers its own) and the
    noding count (counted per coordinate by one, per vertex by the other)."""
    out = {k: v for k, v in summary.items() if k not in ("noded_crossings", "islands")}
    islands = summary["islands"]
    assert isinstance(islands, list)
    out["islands"] = sorted((i["length_m"], i["nodes"]) for i in islands)
    return out
