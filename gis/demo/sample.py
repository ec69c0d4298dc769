"""The bundled sample (OSM ODbL + labelled synthetic fields): where it is and how it is loaded."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from gis.workspace import Workspace

SAMPLE_LAYERS = ("compounds", "facilities", "roads", "buildings", "pipelines", "water")
SOURCE = "sample:haidian_cau"


def sample_path() -> Path:
    """The bundled sample GeoPackage (OSM ODbL + labelled synthetic fields; see gis/sample/README.md)."""
    return Path(str(resources.files("gis") / "sample" / "haidian_cau.gpkg"))


def load_sample(ws: Workspace) -> pd.DataFrame:
    """Load every layer of the bundled sample (re-running updates in place); one row per layer:
    features, new, updated, unchanged, set aside, which are synthetic.

    Examples
    --------
    >>> from gis.demo import load_sample
    >>> load_sample(ws)
    """
    path = sample_path()
    rows = []
    for layer_id in SAMPLE_LAYERS:
        report = ws.load(layer_id, path, source_layer=layer_id, source=SOURCE, actor="demo")
        gdf = ws.layer(layer_id, where={"source": SOURCE})
        synthetic = int(gdf["synthetic"].notna().sum())
        rows.append(
            {
                "layer": layer_id,
                "label": ws.registry.layer(layer_id).label.zh,
                "features": len(gdf),
                "new": report.inserted,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "set_aside": len(report.rejected),
                "synthetic": "all" if synthetic == len(gdf) else f"{synthetic} of {len(gdf)}" if synthetic else "none",
            }
        )
    return pd.DataFrame(rows)
