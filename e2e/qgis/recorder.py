"""Shared by the QGIS checks (check.py, filters_tiles.py): numbered
"ok N - name" results, and a recording proxy in front of the server, so that
a check can say which requests QGIS made."""

import http.client
import http.server
import threading
import urllib.parse

results = []
requests = []  # path and query of every request QGIS made through the proxy
lock = threading.Lock()


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(("ok" if ok else "not ok") + f" {len(results)} - {name}" + (f": {detail}" if detail else ""), flush=True)


def start_proxy(server):
    """Starts a proxy forwarding GETs to server (a base URL), keeping the
    Host header (so the links the server writes point back through it) and
    recording every path; returns the proxy's base URL."""
    upstream = urllib.parse.urlsplit(server)

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            with lock:
                requests.append(self.path)
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
            conn.request("GET", self.path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            conn.close()

        def log_message(self, *args):
            pass

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{proxy.server_address[1]}"
