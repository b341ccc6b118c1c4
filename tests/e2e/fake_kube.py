#!/usr/bin/env python3
"""A fake Kubernetes API server for the kubernetes provisioner's e2e test:
the scale subresource of Deployments (GET, merge PATCH) and pod merge
PATCHes, over plain HTTP, refusing any request without the expected bearer
token. Every request is appended, one JSON line each, to LOG; GET /_log
returns them, and each deployment's replicas are kept in memory.
Usage: fake_kube.py PORT TOKEN LOG [NAMESPACE/DEPLOYMENT=REPLICAS]..."""
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, TOKEN, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
SCALE = re.compile(r"^/apis/apps/v1/namespaces/([a-z0-9-]+)/deployments/"
                   r"([a-z0-9.-]+)/scale$")
POD = re.compile(r"^/api/v1/namespaces/([a-z0-9-]+)/pods/([A-Za-z0-9.-]+)$")
replicas = {k: int(v) for k, v in (a.split("=") for a in sys.argv[4:])}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_one(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n)) if n else None
        if self.path == "/_log":
            with open(LOG) as f:
                return self.reply(200, [json.loads(l) for l in f])
        with open(LOG, "a") as f:
            f.write(json.dumps({"method": method, "path": self.path,
                                "body": body, "type":
                                self.headers.get("Content-Type")}) + "\n")
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self.reply(401, {"kind": "Status", "message":
                                    "Unauthorized"})
        m = SCALE.match(self.path)
        if m:
            key = m.group(1) + "/" + m.group(2)
            if method == "PATCH":
                if self.headers.get("Content-Type") != \
                        "application/merge-patch+json":
                    return self.reply(415, {"message": "not a merge patch"})
                replicas[key] = int(body["spec"]["replicas"])
            return self.reply(200, {"kind": "Scale", "apiVersion":
                                    "autoscaling/v1", "metadata": {
                                        "name": m.group(2), "namespace":
                                        m.group(1)}, "spec": {
                                        "replicas": replicas.get(key, 0)}})
        if POD.match(self.path) and method == "PATCH":
            return self.reply(200, {"kind": "Pod", "metadata": body.get(
                "metadata", {})})
        return self.reply(404, {"kind": "Status", "message": "not found: " +
                                self.path})

    def do_GET(self):
        self.handle_one("GET")

    def do_PATCH(self):
        self.handle_one("PATCH")


open(LOG, "w").close()
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
