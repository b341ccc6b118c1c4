#!/usr/bin/env python3
"""Issue 13's gateway findings, as an attacker sends them to a live
drover-gateway; after each, a signed boto3 call must still be served.

Usage: hostile.py ENDPOINT_URL    (exit 0 when every check held)
"""
import datetime
import hashlib
import http.client
import json
import socket
import sys
import time
import urllib.parse
import uuid

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

from scenario import CREDS, Checks, client

endpoint = sys.argv[1]
url = urllib.parse.urlparse(endpoint)
HOST, PORT = url.hostname, url.port
creds = CREDS
batch = client(endpoint)
run = uuid.uuid4().hex[:8]

check = Checks()


def alive(after):
    """A signed call is served: the gateway survived `after`."""
    try:
        q = batch.describe_job_queues(jobQueues=["default"])["jobQueues"]
    except Exception as e:  # noqa: BLE001 - any failure is the finding
        check(False, "gateway not serving after %s: %s" % (after, e))
    check(len(q) == 1, "gateway answers after %s" % after)


def raw(method, path, headers, body=b"", source=None):
    """One request on its own connection: (status, parsed JSON body)."""
    c = http.client.HTTPConnection(HOST, PORT, timeout=15,
                                   source_address=(source, 0) if source else None)
    c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers:
        c.putheader(k, v)
    c.putheader("Content-Length", str(len(body)))
    c.endheaders(body)
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        doc = json.loads(data.decode("utf-8")) if data else None
    except (UnicodeDecodeError, ValueError):
        check(False, "%s %s: a reply that is not UTF-8 JSON: %r" % (method, path, data[:200]))
    return r.status, doc


def signed(path, body, tweak=None):
    """Headers botocore signs for POST path; tweak(request) may change the
    request before it is signed."""
    req = AWSRequest(method="POST", url=endpoint + path, data=body,
                     headers={"Content-Type": "application/json"})
    if tweak:
        tweak(req)
    SigV4Auth(creds, "batch", "us-east-1").add_auth(req)
    return [("Host", "%s:%d" % (HOST, PORT))] + list(req.headers.items())


# 1. a non-UTF-8 X-Amz-Date with key id local: refused, not a crash
status, doc = raw("POST", "/v1/describejobqueues", [
    (b"Host", ("%s:%d" % (HOST, PORT)).encode()),
    (b"Authorization", b"AWS4-HMAC-SHA256 Credential=local/20261206/us-east-1/batch/aws4_request, "
                       b"SignedHeaders=host;x-amz-date, Signature=00"),
    (b"X-Amz-Date", b"\xff\xfe"),
], b"{}")
check(status == 403 and doc and "__type" in doc, "non-UTF-8 X-Amz-Date: %s %s" % (status, doc))
alive("a non-UTF-8 X-Amz-Date")

# 2. a refusal that quotes 260 x é: a clear error, valid UTF-8
try:
    batch.register_job_definition(
        jobDefinitionName="hostile-env-%s" % run, type="container",
        containerProperties={"image": "x", "vcpus": 1, "memory": 32,
                             "environment": [{"name": "AWS_BATCH" + "é" * 260, "value": "v"}]})
    check(False, "a reserved environment name was accepted")
except ClientError as e:
    check(e.response["Error"]["Code"] == "ClientException", "é x 260: %s" % e)
alive("a refusal cut inside a character")

# 3. SigV4 as AWS checks it
body = b'{"jobQueues": ["default"]}'


def unsigned_payload(req):
    req.headers["X-Amz-Content-Sha256"] = "UNSIGNED-PAYLOAD"


h = signed("/v1/describejobqueues", body)  # the control: as signed, served
status, doc = raw("POST", "/v1/describejobqueues", h, body)
check(status == 200 and doc["jobQueues"], "a raw signed request: %s %s" % (status, doc))
h = signed("/v1/describejobqueues", body, unsigned_payload)
status, doc = raw("POST", "/v1/describejobqueues", h, body)
check(status == 403, "UNSIGNED-PAYLOAD accepted: %s %s" % (status, doc))
# the same signature over another body
h = signed("/v1/describejobqueues", body)
status, doc = raw("POST", "/v1/describejobqueues", h, b'{"jobQueues": ["other"]}')
check(status == 403, "a body the signature does not cover: %s" % status)
# X-Amz-Date with trailing garbage
h = [(k, v + "garbage" if k.lower() == "x-amz-date" else v) for k, v in signed("/v1/describejobqueues", body)]
status, doc = raw("POST", "/v1/describejobqueues", h, body)
check(status == 403, "X-Amz-Date with trailing garbage: %s %s" % (status, doc))
# host left out of SignedHeaders: sign without it
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
day = now[:8]
canon = "\n".join(["POST", "/v1/describejobqueues", "", "x-amz-date:" + now, "",
                   "x-amz-date", hashlib.sha256(body).hexdigest()])
import hmac  # noqa: E402


def _h(k, m):
    return hmac.new(k, m.encode(), hashlib.sha256).digest()


scope = "%s/us-east-1/batch/aws4_request" % day
sts = "\n".join(["AWS4-HMAC-SHA256", now, scope, hashlib.sha256(canon.encode()).hexdigest()])
k = _h(_h(_h(_h(("AWS4local-secret").encode(), day), "us-east-1"), "batch"), "aws4_request")
sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
status, doc = raw("POST", "/v1/describejobqueues", [
    ("Host", "%s:%d" % (HOST, PORT)), ("X-Amz-Date", now),
    ("Authorization", "AWS4-HMAC-SHA256 Credential=local/%s, SignedHeaders=x-amz-date, Signature=%s" % (scope, sig)),
], body)
check(status == 403, "host not in SignedHeaders: %s %s" % (status, doc))
alive("SigV4 refusals")

# 4. a definition nested 2,000 levels inside an unknown key: refused, and
# every SDK can still list definitions
deep = {"jobDefinitionName": "hostile-deep-%s" % run, "type": "container",
        "containerProperties": {"image": "x", "vcpus": 1, "memory": 32}}
body = (json.dumps(deep)[:-1] + ', "x": ' + '{"x": ' * 2000 + "{}" + "}" * 2000 + "}").encode()
h = signed("/v1/registerjobdefinition", body)
status, doc = raw("POST", "/v1/registerjobdefinition", h, body)
check(status == 400 and doc.get("__type") == "ClientException", "2,000 levels: %s %s" % (status, doc))
defs = batch.describe_job_definitions()["jobDefinitions"]
check(all(d["jobDefinitionName"] != deep["jobDefinitionName"] for d in defs), "the deep definition was stored")
alive("a deeply nested request")

# 5. UpdateJobQueue with computeEnvironmentOrder
q = "hostile-q-%s" % run
batch.create_job_queue(jobQueueName=q, priority=1,
                       computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "local"}])
r = batch.update_job_queue(jobQueue=q, computeEnvironmentOrder=[{"order": 2, "computeEnvironment": "local"}])
check(r["jobQueueName"] == q, "UpdateJobQueue answered %s" % r)
got = batch.describe_job_queues(jobQueues=[q])["jobQueues"][0]["computeEnvironmentOrder"]
check(got[0]["order"] == 2, "computeEnvironmentOrder after the update: %s" % got)

# 6. many idle connections from one address do not starve the others: the
# per-address limit closes them, a signed call from another address is
# served while they are held
idle = []
for _ in range(300):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.bind(("127.0.0.2", 0))
        s.connect((HOST, PORT))
        idle.append(s)
    except OSError:
        s.close()
        break
time.sleep(0.5)
alive("300 idle connections from 127.0.0.2")
refused = 0
for s in idle:
    try:
        s.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        if s.recv(1) == b"":
            refused += 1
    except OSError:
        refused += 1
check(refused >= len(idle) - 64, "the per-address limit closed %d of %d idle connections" % (refused, len(idle)))
for s in idle:
    s.close()

# 7. a slow client is cut: a header byte a second does not outlive the
# header deadline (gateway.header.timeout.seconds, 10 s), and the gateway
# serves others meanwhile
s = socket.create_connection((HOST, PORT), timeout=60)
start = time.monotonic()
held = None
try:
    for ch in b"POST /v1/describejobqueues HTTP/1.1\r\nHost: " + b"x" * 100:
        s.send(bytes([ch]))
        s.settimeout(1.0)
        try:
            if s.recv(1) == b"":
                held = time.monotonic() - start
                break
        except socket.timeout:
            pass
except OSError:
    held = time.monotonic() - start
s.close()
check(held is not None and held < 20, "a byte-a-second client was held %s s" % held)
alive("a slow client")

print("hostile gateway: %d checks passed" % check.n)
