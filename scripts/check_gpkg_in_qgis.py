#!/usr/bin/python3
"""Open an exported GeoPackage in QGIS (headless) and render it: shows that the styles apply.

Needs Debian's python3-qgis (not a project dependency):
    apt-get install python3-qgis qgis-providers
    /usr/bin/python3 scripts/check_gpkg_in_qgis.py out/gisplan.gpkg /tmp/qgis.png
"""

import os
import sys

os.environ["QT_QPA_PLATFORM"] = "offscreen"
from qgis.core import (
    QgsApplication,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

app = QgsApplication([], False)
app.initQgis()
path = sys.argv[1]
layers = []
for name in ["buildings", "roads", "compounds", "facilities", "gaps"]:
    lyr = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
    msg, ok = lyr.loadDefaultStyle()
    r = lyr.renderer()
    print(
        name,
        lyr.isValid(),
        lyr.featureCount(),
        ok,
        msg[:60],
        r.type(),
        getattr(r, "classAttribute", lambda: "")(),
        lyr.attributeAlias(1),
        lyr.labelsEnabled(),
    )
    layers.append(lyr)
ms = QgsMapSettings()
ms.setLayers([layers[2], layers[3], layers[1], layers[0]][::1])
ms.setDestinationCrs(layers[2].crs())
ms.setExtent(layers[2].extent())
ms.setOutputSize(QSize(900, 700))
ms.setBackgroundColor(QColor(255, 255, 255))
job = QgsMapRendererParallelJob(ms)
job.start()
job.waitForFinished()
job.renderedImage().save(sys.argv[2])
