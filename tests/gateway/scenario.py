"""What the gateway's Python scenarios share: the stack's key, a client,
and the checks that end a run at the first failure."""
import sys

import boto3
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
