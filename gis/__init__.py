"""gisplan: GIS spatial planning for old residential compound renovation (城镇老旧小区改造).

The library a notebook imports::

    import gis
    ws = gis.connect()            # the embedded database, or gis.connect("postgresql://...")
    ws.layers()
    ws.load("compounds", "小区.shp")
    ws.layer("compounds", where={"street": "学院路街道"})
"""

from gis.errors import (
    CRSError,
    GisError,
    ImportFailedError,
    ImportRefusedError,
    UnknownLayerError,
    WorkingCRSMismatchError,
)
from gis.ingest import ImportReport
from gis.settings import Settings
from gis.workspace import Workspace, connect

__version__ = "0.1.0"

__all__ = [
    "CRSError",
    "GisError",
    "ImportFailedError",
    "ImportRefusedError",
    "ImportReport",
    "Settings",
    "UnknownLayerError",
    "WorkingCRSMismatchError",
    "Workspace",
    "__version__",
    "connect",
]
