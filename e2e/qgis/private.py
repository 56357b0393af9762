#!/usr/bin/python3
"""QGIS 3.22 reading a --private lastmile server, driven headless.

Run by e2e/run against a second server on the demo county's database, started
with --private, and a token with scope read:
    QT_QPA_PLATFORM=offscreen /usr/bin/python3 e2e/qgis/private.py BASE_URL TOKEN

QGIS 3.22 cannot send a bearer token (its "API Header" authentication arrived
in 3.24); it has authentication configurations of type Basic. lastmile takes
the token as a Basic password, whatever the user name. Checks:
  - without credentials QGIS cannot open a collection (the server answers 401);
  - with a Basic configuration holding a wrong token it cannot either;
  - with a Basic configuration holding the token as the password, every
    collection opens and QGIS reads as many features as numberMatched says
    (read here independently with urllib, also with Basic).
One "ok"/"not ok" line per check, then "N passed, N failed"; non-zero exit on
any failure.
"""
import base64
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A throwaway authentication database: never the user's.
os.environ["QGIS_AUTH_DB_DIR_PATH"] = tempfile.mkdtemp(prefix="lastmile-qgis-auth-")
try:
    from qgis.core import QgsApplication, QgsAuthMethodConfig, QgsVectorLayer
except ImportError as e:  # never skip: say how to get it
    print(f"not ok - PyQGIS is missing ({e}): run scripts/setup (Debian packages qgis, python3-qgis)")
    print("0 passed, 1 failed")
    sys.exit(1)

BASE, TOKEN = sys.argv[1].rstrip("/"), sys.argv[2]
results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(("ok" if ok else "not ok") + f" {len(results)} - {name}" + (f": {detail}" if detail else ""), flush=True)


def get(path, password=None):
    """GET path as JSON, with Basic credentials when a password is given; (status, body)."""
    req = urllib.request.Request(BASE + path)
    if password is not None:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"analyst:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.load(r), r.headers
    except urllib.error.HTTPError as e:
        return e.code, None, e.headers


app = QgsApplication([], False)
app.initQgis()
am = QgsApplication.authManager()
if not am.setMasterPassword("lastmile-e2e-master", True):
    check("QGIS authentication database ready", False, "setMasterPassword failed")


def basic_config(name, password):
    cfg = QgsAuthMethodConfig()
    cfg.setName(name)
    cfg.setMethod("Basic")
    cfg.setConfig("username", "analyst")
    cfg.setConfig("password", password)
    stored = am.storeAuthenticationConfig(cfg)
    if isinstance(stored, tuple):  # newer QGIS return (ok, config)
        stored = stored[0]
    check(f"QGIS stores the Basic configuration {name!r}", stored and cfg.id() != "")
    return cfg.id()


def layer(cid, authcfg=None):
    uri = f"url='{BASE}/ogc' typename='{cid}' restrictToRequestBBOX='0'"
    if authcfg:
        uri = f"authcfg='{authcfg}' " + uri
    return QgsVectorLayer(uri, cid, "OAPIF")


status, _, headers = get("/ogc/collections")
challenges = headers.get_all("WWW-Authenticate") or []
check("the private server refuses an anonymous read, challenging for Basic", status == 401 and any(c.startswith("Basic ") for c in challenges),
      f"{status} {challenges}")
status, body, _ = get("/ogc/collections", TOKEN)
check("the token as a Basic password reads the collections", status == 200 and body and body.get("collections"), f"{status}")
collections = [c["id"] for c in (body or {}).get("collections", [])]

good = basic_config("lastmile token", TOKEN)
bad = basic_config("lastmile wrong token", TOKEN[:-4] + ("AAAA" if not TOKEN.endswith("AAAA") else "BBBB"))

anonymous = layer("roads")
check("without credentials QGIS cannot open roads", not anonymous.isValid())
wrong = layer("roads", bad)
check("with a wrong token QGIS cannot open roads", not wrong.isValid())

observed = {}
for cid in collections:
    lyr = layer(cid, good)
    if not lyr.isValid():
        check(f"{cid}: QGIS opens the collection through Basic", False)
        continue
    _, page, _ = get(f"/ogc/collections/{cid}/items?limit=1", TOKEN)
    matched = page["numberMatched"]
    n = sum(1 for _ in lyr.getFeatures())
    observed[cid] = {"qgis": n, "numberMatched": matched}
    check(f"{cid}: QGIS reads every feature through Basic", n == matched, f"QGIS {n}, numberMatched {matched}")

out = os.environ.get("LASTMILE_QGIS_PRIVATE_REPORT")
if out:
    with open(out, "w") as f:
        json.dump(observed, f, indent=1)
passed = sum(results)
print(f"{passed} passed, {len(results) - passed} failed", flush=True)
# QgsApplication.exitQgis() crashes (SIGSEGV) in 3.22 when run headless after
# network providers were used; leave without it.
os._exit(0 if passed == len(results) and len(observed) == len(collections) and collections else 1)
