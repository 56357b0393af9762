#!/usr/bin/python3
"""QGIS as a client: the desktop GIS the county bureaus use, driven headless.

Run by e2e/run against a served demo county:
    QT_QPA_PLATFORM=offscreen /usr/bin/python3 e2e/qgis/check.py BASE_URL

Each check compares what QGIS (3.22, Debian's python3-qgis) reads through its
OAPIF provider with what the API itself serves, read here independently with
urllib. QGIS talks to the server through a small recording proxy, so that the
requests it makes can be counted. Checks, for every collection (the layers
and the per-kind collections of mixed layers):
  - QGIS reads numberMatched features, and no value the API serves arrives
    NULL (577 of 765 road widths did, when 8 was written without ".0");
  - fields are typed as the collection's schema says, wherever QGIS 3.22 can
    know it (it types fields from the first 10 features: a field null in all
    of them arrives as text; such fields are reported, not failed);
  - every feature draws: its geometry is of the layer's geometry type (a
    mixed layer's points never draw; its per-kind collections must);
  - QGIS exports the layer with QgsVectorFileWriter to GeoPackage,
    Shapefile, GeoJSON and XLSX without unticking a field, and the file reads
    back with the same count (a mixed layer skips Shapefile, which holds one
    geometry type: its per-kind collections export to it);
  - roads load in at most 2 /items requests (QGIS pages by 1000 once /api
    declares components/parameters/limit; it made 9 before).
It prints one "ok"/"not ok" line per check and a closing "N passed, N failed"
line; the exit status is non-zero on any failure.
"""
import collections
import json
import os
import sys
import tempfile
import urllib.request

from recorder import check, lock, requests, results, start_proxy

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# GDAL's per-field warnings on Shapefile export (names shortened to 10
# characters, widths to 254) are the format's limits, not failures.
os.environ.setdefault("CPL_LOG", os.devnull)
try:
    from qgis.core import (QgsApplication, QgsCoordinateTransformContext, QgsVectorFileWriter,
                           QgsVectorLayer, QgsWkbTypes)
    from qgis.PyQt.QtCore import QVariant
except ImportError as e:  # never skip: say how to get it
    print(f"not ok - PyQGIS is missing ({e}): run scripts/setup (Debian packages qgis, python3-qgis)")
    print("0 passed, 1 failed")
    sys.exit(1)

SERVER = sys.argv[1].rstrip("/")
BASE = start_proxy(SERVER)


def get(path):
    with urllib.request.urlopen(SERVER + path) as r:
        return json.load(r)


def all_items(cid):
    """Every feature of a collection as the API serves it, following next links."""
    out, url = [], f"{SERVER}/ogc/collections/{cid}/items?limit=10000"
    while url:
        with urllib.request.urlopen(url) as r:
            page = json.load(r)
        out += page["features"]
        url = next((l["href"] for l in page.get("links", []) if l["rel"] == "next"), None)
    return out


def take_requests():
    with lock:
        out = list(requests)
        requests.clear()
    return out


def qgis_layer(cid):
    uri = f"url='{BASE}/ogc' typename='{cid}' restrictToRequestBBOX='0'"
    return QgsVectorLayer(uri, cid, "OAPIF")


def is_null(v):
    return v is None or (isinstance(v, QVariant) and v.isNull()) or (hasattr(v, "isNull") and v.isNull())


# The QGIS field types a schema type may arrive as.
WANT = {
    ("number", None): {QVariant.Double},
    ("integer", None): {QVariant.Int, QVariant.LongLong},
    ("string", "date"): {QVariant.Date},
    ("string", "date-time"): {QVariant.DateTime},
    ("boolean", None): {QVariant.Bool},
    ("string", None): {QVariant.String},
}

# Export formats: the OGR driver, the file suffix, whether it keeps geometries.
FORMATS = [("GPKG", "gpkg", True), ("ESRI Shapefile", "shp", True), ("GeoJSON", "geojson", True), ("XLSX", "xlsx", False)]

app = QgsApplication([], False)
app.initQgis()
observed = {}
tmp = tempfile.mkdtemp(prefix="lastmile-qgis-")
kinds_served = {}  # collection → Counter of geometry types the API serves
for c in get("/ogc/collections")["collections"]:
    cid = c["id"]
    served = all_items(cid)
    kinds_served[cid] = collections.Counter(f["geometry"]["type"] for f in served if f.get("geometry"))
    schema = get(f"/ogc/collections/{cid}/schema")["properties"]
    take_requests()
    layer = qgis_layer(cid)
    check(f"{cid}: QGIS opens the collection", layer.isValid())
    if not layer.isValid():
        continue
    feats = list(layer.getFeatures())
    reqs = [r for r in take_requests() if "/items" in r]
    check(f"{cid}: QGIS reads every feature", len(feats) == len(served), f"QGIS {len(feats)}, API {len(served)}")
    # What is lost on the way: per field, how many values the API serves
    # that QGIS reads as NULL (non-null counts compared field by field).
    lost = {}
    for fld in layer.fields():
        k = fld.name()
        in_qgis = sum(1 for qf in feats if not is_null(qf[k]))
        in_api = sum(1 for sf in served if sf["properties"].get(k) is not None)
        if in_api != in_qgis:
            lost[k] = in_api - in_qgis
    check(f"{cid}: no value arrives NULL", not lost, f"values lost per field: {lost}" if lost else "")
    # Types: as the schema says, for every field QGIS 3.22 could type (a
    # value among the first 10 features, which it types the fields from).
    sample = served[:10]
    wrong, untyped = {}, []
    for name, s in schema.items():
        if name in ("id", "geometry") or layer.fields().indexOf(name) < 0:
            continue
        want = WANT.get((s.get("type"), s.get("format") if s.get("format") in ("date", "date-time") else None))
        if want is None:
            continue
        if all(f["properties"].get(name) is None for f in sample):
            untyped.append(name)
            continue
        got = layer.fields().field(name).type()
        if got not in want:
            wrong[name] = f"{layer.fields().field(name).typeName()} (schema: {s.get('type')} {s.get('format', '')})".strip()
    check(f"{cid}: fields typed as the schema says", not wrong, f"wrong: {wrong}" if wrong else (f"null in QGIS's 10-feature sample, so text: {untyped}" if untyped else ""))
    if cid == "roads":
        w = layer.fields().field("width_m")
        nulls = sum(1 for qf in feats if is_null(qf["width_m"]))
        api_nulls = sum(1 for sf in served if sf["properties"].get("width_m") is None)
        check("roads: every width arrives, as a real", w.type() == QVariant.Double and nulls == api_nulls,
              f"width_m {w.typeName()}, {nulls} of {len(feats)} NULL in QGIS, {api_nulls} without a width in the API")
        check("roads: loaded in at most 2 /items requests (page size from /api)", len(reqs) <= 2, f"{len(reqs)}: {reqs}")
    # Drawing: a feature draws when its geometry is of the layer's type.
    gtype = layer.geometryType()
    drawn = sum(1 for qf in feats if qf.hasGeometry() and qf.geometry().type() == gtype)
    with_geom = sum(1 for qf in feats if qf.hasGeometry())
    mixed = len({k.replace("Multi", "") for k in kinds_served[cid]}) > 1
    if mixed:
        print(f"# {cid}: mixed ({dict(kinds_served[cid])}); QGIS draws {drawn} of {with_geom} — read its per-kind collections", flush=True)
    else:
        check(f"{cid}: every feature draws", drawn == with_geom, f"{drawn} of {with_geom} of type {QgsWkbTypes.geometryDisplayString(gtype)}")
    # Export, every field ticked.
    exported = {}
    for driver, ext, geom in FORMATS:
        if mixed and driver == "ESRI Shapefile":
            continue  # one geometry type per shapefile: the per-kind collections export to it
        path = os.path.join(tmp, f"{cid}.{ext}")
        opts = QgsVectorFileWriter.SaveVectorOptions()
        opts.driverName = driver
        opts.fileEncoding = "UTF-8"
        err, msg, newfile, _ = QgsVectorFileWriter.writeAsVectorFormatV3(layer, path, QgsCoordinateTransformContext(), opts)
        back = QgsVectorLayer(newfile or path, "back", "ogr")
        if not back.isValid() and driver == "ESRI Shapefile" and layer.geometryType() == QgsWkbTypes.NullGeometry:
            back = QgsVectorLayer(path[:-4] + ".dbf", "back", "ogr")  # an empty collection: no geometry type, a table
        n = back.featureCount() if back.isValid() else -1
        exported[driver] = n
        check(f"{cid}: QGIS exports to {driver}", err == QgsVectorFileWriter.NoError and n == len(served),
              f"error {err} {msg!r}; read back {n} of {len(served)}" if err or n != len(served) else f"{n} features")
    observed[cid] = {
        "features": len(feats),
        "served": len(served),
        "wkb_type": QgsWkbTypes.displayString(layer.wkbType()),
        "types": {f.name(): f.typeName() for f in layer.fields()},
        "values_lost": lost,
        "untyped": untyped,
        "drawn": drawn,
        "items_requests": len(reqs),
        "exported": exported,
    }

# The per-kind collections hold every feature of the mixed layer, each kind
# in its own: the counts per kind equal what the mixed collection serves.
for cid, views in [("power_upgrades", ("power_upgrades_lines", "power_upgrades_points")),
                   ("relocation_sites", ("relocation_sites_polygons", "relocation_sites_points"))]:
    if cid not in kinds_served:
        continue
    per_kind = collections.Counter()
    for v in views:
        per_kind.update({k: observed.get(v, {}).get("drawn", 0) for k in kinds_served.get(v, {})})
    check(f"{cid}: its per-kind collections draw every feature in QGIS", per_kind == kinds_served[cid],
          f"drawn {dict(per_kind)}, served {dict(kinds_served[cid])}")

out = os.environ.get("LASTMILE_QGIS_REPORT")
if out:
    with open(out, "w") as f:
        json.dump(observed, f, indent=1, ensure_ascii=False)
passed = sum(results)
print(f"{passed} passed, {len(results) - passed} failed", flush=True)
# QgsApplication.exitQgis() crashes (SIGSEGV) in 3.22 when run headless after
# network providers were used; leave without it.
os._exit(0 if passed == len(results) else 1)
