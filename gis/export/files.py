"""Writing a result frame to the file a planner asked for, by its suffix."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from gis.cells import write_frame_csv
from gis.errors import InvalidRequestError


def write_results(results: gpd.GeoDataFrame, path: Path) -> None:
    """CSV (no geometry, text neutralised: :func:`gis.cells.write_frame_csv`), GeoPackage or GeoJSON (with
    each compound's geometry), by the suffix."""
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        write_frame_csv(results.drop(columns="geometry"), path)
    elif suffix == ".gpkg":
        results.to_file(path, layer="gaps", driver="GPKG")
    elif suffix in (".geojson", ".json"):
        results.to_crs(4326).to_file(path, driver="GeoJSON")
    else:
        raise InvalidRequestError(f"--out {path.name}: use .csv, .gpkg or .geojson")
