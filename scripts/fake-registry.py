#!/usr/bin/env python3
"""A tiny registry for the image tests' failure cases and token auth, serving one OCI image layout.

Usage: fake-registry.py PORT MODE LAYOUT_DIR [USER:PASSWORD]
MODE:
  token     Bearer auth: /v2/ and content answer 401 with a challenge; /token hands out a token (anonymously,
            or only for USER:PASSWORD in Basic auth when given); content needs the token.
  basic     Basic auth with USER:PASSWORD.
  401       Every request 401, and the token endpoint refuses.
  404       manifests answer 404 MANIFEST_UNKNOWN.
  500       every request 500.
  hang      accepts connections and never answers.
  badblob   serves the manifest, but every blob with one byte changed.
  flaky     the first request for each blob answers 503, the next ones serve it.
Prints "ready" on stdout once listening. Manifests are served by tag from index.json (ref.name) or by digest.
"""
import base64
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
PORT, MODE, LAYOUT = int(sys.argv[1]), sys.argv[2], sys.argv[3]
CREDENTIALS = sys.argv[4] if len(sys.argv) > 4 else None
TOKEN = "berth-test-token"
FAILED_ONCE = set()
LOCK = threading.Lock()


def blob(digest):
    path = os.path.join(LAYOUT, "blobs", *digest.split(":", 1))
    with open(path, "rb") as f:
        return f.read()


def manifest_for(reference):
    if reference.startswith("sha256:"):
        data = blob(reference)
        return data, json.loads(data).get("mediaType", "application/vnd.oci.image.manifest.v1+json")
    with open(os.path.join(LAYOUT, "index.json")) as f:
        index = json.load(f)
    for m in index["manifests"]:
        name = m.get("annotations", {}).get("org.opencontainers.image.ref.name", "")
        if name == reference or name.endswith(":" + reference):
            return blob(m["digest"]), m["mediaType"]
    return None, None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, message, headers=None):
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self.send(status, body, dict({"Content-Type": "application/json"}, **(headers or {})))

    def authorized(self):
        auth = self.headers.get("Authorization", "")
        if MODE == "token":
            return auth == "Bearer " + TOKEN
        if MODE == "basic":
            return auth == "Basic " + base64.b64encode(CREDENTIALS.encode()).decode()
        return MODE not in ("401",)

    def challenge(self):
        if MODE == "basic":
            return {"WWW-Authenticate": 'Basic realm="fake"'}
        realm = "http://127.0.0.1:%d/token" % PORT
        return {"WWW-Authenticate": 'Bearer realm="%s",service="fake-registry"' % realm}

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        if MODE == "hang":
            time.sleep(3600)
            return
        if MODE == "500":
            return self.error(500, "UNKNOWN", "internal failure")
        path = self.path.split("?")[0]
        if path == "/token":
            if MODE == "401":
                return self.error(401, "UNAUTHORIZED", "no")
            if CREDENTIALS:
                expected = "Basic " + base64.b64encode(CREDENTIALS.encode()).decode()
                if self.headers.get("Authorization", "") != expected:
                    return self.error(401, "UNAUTHORIZED", "bad credentials")
            return self.send(200, json.dumps({"token": TOKEN}).encode(), {"Content-Type": "application/json"})
        if not self.authorized():
            return self.error(401, "UNAUTHORIZED", "authentication required", self.challenge())
        if path == "/v2/":
            return self.send(200, b"{}", {"Content-Type": "application/json"})
        parts = path.split("/")
        if len(parts) >= 5 and parts[-2] == "manifests":
            if MODE == "404":
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            data, media_type = manifest_for(parts[-1])
            if data is None:
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            return self.send(200, data, {"Content-Type": media_type})
        if len(parts) >= 5 and parts[-2] == "blobs":
            if MODE == "flaky":
                with LOCK:
                    first = parts[-1] not in FAILED_ONCE
                    FAILED_ONCE.add(parts[-1])
                if first:
                    return self.error(503, "UNAVAILABLE", "try again")
            try:
                data = blob(parts[-1])
            except OSError:
                return self.error(404, "BLOB_UNKNOWN", "blob unknown")
            if MODE == "badblob" and len(data) > 1000:
                data = bytearray(data)
                data[len(data) // 2] ^= 0xFF
                data = bytes(data)
            return self.send(200, data, {"Content-Type": "application/octet-stream"})
        return self.error(404, "NOT_FOUND", "not found")


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
server.daemon_threads = True
print("ready", flush=True)
server.serve_forever()
