#!/usr/bin/python3
"""Read a collection through QGIS's own OGC API – Features provider, headless, signed in with an
authentication configuration of method Basic (user name, token as the password) — as a planner
does in QGIS. Run by the tests with Debian's /usr/bin/python3 (python3-qgis), never imported.

    /usr/bin/python3 tests/helpers/qgis_oapif.py URL COLLECTION [USER TOKEN]

Prints one JSON line: {"valid": bool, "count": int, "features": int} (-1 when the layer is invalid).
"""

import json
import os
import sys
import tempfile

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["QGIS_AUTH_DB_DIR_PATH"] = tempfile.mkdtemp(prefix="qgis-auth-")
from qgis.core import QgsApplication, QgsAuthMethodConfig, QgsDataSourceUri, QgsVectorLayer

app = QgsApplication([], False)
app.initQgis()
url, collection = sys.argv[1], sys.argv[2]
uri = QgsDataSourceUri()
uri.setParam("url", url)
uri.setParam("typename", collection)
if len(sys.argv) > 4:
    am = QgsApplication.authManager()
    am.setMasterPassword("gisplan-test-master", True)
    cfg = QgsAuthMethodConfig()
    cfg.setName("gisplan")
    cfg.setMethod("Basic")
    cfg.setConfig("username", sys.argv[3])
    cfg.setConfig("password", sys.argv[4])
    stored = am.storeAuthenticationConfig(cfg)
    ok = stored[0] if isinstance(stored, tuple) else stored
    if not ok:
        print(json.dumps({"valid": False, "count": -1, "features": -1, "error": "auth config not stored"}), flush=True)
        sys.exit(2)
    uri.setAuthConfigId(cfg.id())
layer = QgsVectorLayer(uri.uri(False), collection, "OAPIF")
count = layer.featureCount() if layer.isValid() else -1
features = sum(1 for _ in layer.getFeatures()) if layer.isValid() else -1
print(json.dumps({"valid": layer.isValid(), "count": count, "features": features}), flush=True)
os._exit(0)  # QGIS 3.22 may crash while tearing down headless; the answer is out already
