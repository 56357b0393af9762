#!/usr/bin/python3
"""Opens an MBTiles archive in QGIS (3.22, headless) as a vector tile layer
and prints what QGIS reads of it: valid=..., the zoom range, the layers of
its style. Run by archive's TestQGISOpensTheMBTiles:
    QT_QPA_PLATFORM=offscreen /usr/bin/python3 testdata/qgis_open.py FILE.mbtiles
"""
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
try:
    from qgis.core import QgsApplication, QgsVectorTileLayer
except ImportError as e:  # never skip: say how to get it
    print(f"PyQGIS is missing ({e}): run scripts/setup (Debian packages qgis, python3-qgis)")
    sys.stdout.flush()
    os._exit(1)

app = QgsApplication([], False)
app.initQgis()
layer = QgsVectorTileLayer(f"type=mbtiles&url={sys.argv[1]}", "archive")
print(f"valid={layer.isValid()}")
if layer.isValid():
    print(f"minzoom={layer.sourceMinZoom()} maxzoom={layer.sourceMaxZoom()}")
    e = layer.extent()
    print(f"extent={e.xMinimum():.0f},{e.yMinimum():.0f},{e.xMaximum():.0f},{e.yMaximum():.0f} crs={layer.crs().authid()}")
sys.stdout.flush()
# exitQgis segfaults on this build: leave without it.
os._exit(0 if layer.isValid() else 1)
