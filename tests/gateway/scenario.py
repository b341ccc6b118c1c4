"""What the gateway's Python scenarios share: the stack's key, a client,
and the checks that end a run at the first failure."""
import json
import sys
import urllib.error
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

KEY, SECRET, REGION = "local", "local-secret", "us-east-1"
CREDS = Credentials(KEY, SECRET)


def client(endpoint, secret=SECRET):
    """A boto3 Batch client on the gateway, as any script would make one."""
    return boto3.client("batch", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=KEY, aws_secret_access_key=secret)


class Checks:
    """check(cond, what): exit 1 with `what` when cond is false; count."""

    def __init__(self):
        self.n = 0

    def __call__(self, cond, what):
        if not cond:
            print("FAILED: " + what, file=sys.stderr)
            sys.exit(1)
        self.n += 1


def signed_post(url, body, headers, service="batch"):
    """A request signed as an SDK would sign it, whatever its body: what a
    client in another language could send. (status, reply as JSON)"""
    req = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(CREDS, service, REGION).add_auth(req)
    r = urllib.request.Request(url, data=req.body,
                               headers=dict(req.headers.items()),
                               method="POST")
    try:
        with urllib.request.urlopen(r, timeout=30) as f:
            return f.status, json.loads(f.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def register_busybox(batch, name, script, memory="32"):
    """A job definition running `script` with sh in the stack's busybox
    image."""
    batch.register_job_definition(
        jobDefinitionName=name, type="container",
        containerProperties={
            "image": "localhost/drover/busybox:latest",
            "command": ["sh", "-c", script],
            "resourceRequirements": [{"type": "VCPU", "value": "0.25"},
                                     {"type": "MEMORY", "value": memory}]})
