"""gisplan: GIS spatial planning for old residential compound renovation (城镇老旧小区改造).

The library a notebook imports::

    import gis
    ws = gis.connect()            # the embedded database, or gis.connect("postgresql://...")
    ws.layers()
    ws.load("compounds", "小区.shp")
    ws.layer("compounds", where={"street": "学院路街道"})
"""

from importlib import import_module
from typing import Any

from gis.errors import (
    CRSError,
    GisError,
    ImportFailedError,
    ImportRefusedError,
    UnknownLayerError,
    WorkingCRSMismatchError,
)

__version__ = "0.1.0"

# The facade's names load on first use (PEP 562): every ``gis.*`` module, ``python -m gis`` and the
# ``gisplan`` command import this package first, and ``gisplan --help`` must not pay for geopandas,
# SQLAlchemy and folium. ``import gis; gis.connect()`` works as before.
LAZY = {
    "ImportReport": "gis.ingest",
    "Settings": "gis.settings",
    "Workspace": "gis.workspace",
    "connect": "gis.workspace",
}


def __getattr__(name: str) -> Any:
    if name in LAZY:
        value = getattr(import_module(LAZY[name]), name)
        globals()[name] = value  # once loaded, a plain module attribute
        return value
    raise AttributeError(f"module 'gis' has no attribute {name!r}")


__all__ = [
    "CRSError",
    "GisError",
    "ImportFailedError",
    "ImportRefusedError",
    "UnknownLayerError",
    "WorkingCRSMismatchError",
    "__version__",
    *LAZY,
]
