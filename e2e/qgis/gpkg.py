#!/usr/bin/python3
"""QGIS opens a lastmile field package offline, and edits it as a field worker.

Run by fieldpkg's TestQGIS:
    QT_QPA_PLATFORM=offscreen /usr/bin/python3 e2e/qgis/gpkg.py FILE.gpkg EXPECTED.json [EDITS.json]

EXPECTED.json maps each table of the package to its feature count in the
database. Every table must open in QGIS's OGR provider (the one QField uses
too) as a valid layer with that many features, a geometry type and typed
fields. With EDITS.json, QGIS then edits the package through its editing
buffer, as in the field: {"change": [table, id, field, value], "move":
[table, id, dx, dy], "add": [table, {field: value}, wkt], "delete": [table,
id]}. One "ok"/"not ok" line per check, then "N passed, N failed".
"""
import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
try:
    from qgis.core import (QgsApplication, QgsFeature, QgsGeometry, QgsVectorLayer,
                           QgsWkbTypes)
except ImportError as e:  # never skip: say how to get it
    print(f"not ok - PyQGIS is missing ({e}): run scripts/setup (Debian packages qgis, python3-qgis)")
    print("0 passed, 1 failed")
    sys.exit(1)

path, expected = sys.argv[1], json.load(open(sys.argv[2]))
edits = json.load(open(sys.argv[3])) if len(sys.argv) > 3 else None
results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(("ok" if ok else "not ok") + f" {len(results)} - {name}" + (f": {detail}" if detail else ""), flush=True)


def open_layer(table):
    return QgsVectorLayer(f"{path}|layername={table}", table, "ogr")


def by_id(layer, id_):
    return next((f for f in layer.getFeatures() if f["id"] == id_), None)


app = QgsApplication([], False)
app.initQgis()
for table, count in sorted(expected.items()):
    layer = open_layer(table)
    check(f"{table}: QGIS opens the layer", layer.isValid())
    if not layer.isValid():
        continue
    check(f"{table}: feature count", layer.featureCount() == count, f"QGIS {layer.featureCount()}, database {count}")
    check(f"{table}: a geometry type", layer.geometryType() != QgsWkbTypes.NullGeometry and layer.wkbType() != QgsWkbTypes.Unknown,
          QgsWkbTypes.displayString(layer.wkbType()))
    check(f"{table}: EPSG:4326", layer.crs().authid() == "EPSG:4326", layer.crs().authid())
    types = {f.name(): f.typeName() for f in layer.fields()}
    want = {"id": "Integer64", "version": "Integer64", "started_on": "Date", "funding_yuan": "Real", "props": "String"}
    bad = {k: types.get(k) for k, v in want.items() if types.get(k) != v}
    check(f"{table}: typed fields", not bad, f"{bad} in {types}")
    n = sum(1 for f in layer.getFeatures() if f.hasGeometry() and not f.geometry().isEmpty())
    check(f"{table}: every feature has its geometry", n == count, f"{n} of {count}")

if edits:
    def edit(table, fn):
        layer = open_layer(table)
        ok = layer.startEditing()
        fn(layer)
        ok = layer.commitChanges() and ok
        return ok, layer.commitErrors()

    t, id_, field, value = edits["change"]

    def change(layer):
        f = by_id(layer, id_)
        layer.changeAttributeValue(f.id(), layer.fields().indexOf(field), value)
    check(f"QGIS changes {t} {id_}", *edit(t, change))

    t, id_, dx, dy = edits["move"]

    def move(layer):
        f = by_id(layer, id_)
        g = QgsGeometry(f.geometry())
        g.moveVertex(g.vertexAt(0).x() + dx, g.vertexAt(0).y() + dy, 0)
        layer.changeGeometry(f.id(), g)
    check(f"QGIS moves the first vertex of {t} {id_}", *edit(t, move))

    t, attrs, wkt = edits["add"]

    def add(layer):
        f = QgsFeature(layer.fields())
        for k, v in attrs.items():
            f[k] = v
        f.setGeometry(QgsGeometry.fromWkt(wkt))
        layer.addFeature(f)
    check(f"QGIS adds a feature to {t}", *edit(t, add))

    t, id_ = edits["delete"]
    check(f"QGIS deletes {t} {id_}", *edit(t, lambda layer: layer.deleteFeature(by_id(layer, id_).id())))

passed = sum(results)
print(f"{passed} passed, {len(results) - passed} failed", flush=True)
# QgsApplication.exitQgis() crashes (SIGSEGV) in 3.22 when run headless; leave without it.
os._exit(0 if passed == len(results) else 1)
