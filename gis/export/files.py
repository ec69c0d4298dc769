"""Writing a result frame to the file a planner asked for, by its suffix."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from gis.errors import InvalidRequestError


def write_results(results: gpd.GeoDataFrame, path: Path) -> None:
    """CSV (no geometry), GeoPackage or GeoJSON (with each compound's geometry), by the suffix."""
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        results.drop(columns="geometry").to_csv(path, index=False, encoding="utf-8-sig")
    elif suffix == ".gpkg":
        results.to_file(path, layer="gaps", driver="GPKG")
    elif suffix in (".geojson", ".json"):
        results.to_crs(4326).to_file(path, driver="GeoJSON")
    else:
        raise InvalidRequestError(f"--out {path.name}: use .csv, .gpkg or .geojson")
