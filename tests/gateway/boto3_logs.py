#!/usr/bin/env python3
"""A job's output through the CloudWatch Logs API, as an AWS Batch user
reads it: boto3's `logs` client and `aws logs get-log-events`, pointed at
drover-gateway (log group /aws/batch/job, the stream the job's
container.logStreamName names), while the job runs and after.

Usage: boto3_logs.py ENDPOINT_URL    (exit 0 when every check held)
"""
import json
import os
import re
import subprocess
import sys
import time
import uuid

import boto3
from botocore.exceptions import ClientError

from scenario import (KEY, REGION, SECRET, Checks, client,
                      register_busybox, signed_post)

endpoint = sys.argv[1]
batch = client(endpoint)
logs = boto3.client("logs", endpoint_url=endpoint, region_name=REGION,
                    aws_access_key_id=KEY, aws_secret_access_key=SECRET)
GROUP = "/aws/batch/job"
run = uuid.uuid4().hex[:8]
check = Checks()


def define(name, script):
    register_busybox(batch, name, script)


def describe(job_id):
    return batch.describe_jobs(jobs=[job_id])["jobs"][0]


def wait_for(job_id, pred, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        j = describe(job_id)
        if pred(j):
            return j
        time.sleep(0.2)
    check(False, "job %s: timed out, %s" % (job_id, describe(job_id)))


def refused(fn, code, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"] == code
    return False


def messages(events):
    return [e["message"] for e in events]


def read_while_running(job_id, stream, first):
    """The stream's messages once `first` is there (10 s at most), and
    the job's status then."""
    seen = []
    deadline = time.time() + 10
    while time.time() < deadline and first not in seen:
        seen = messages(logs.get_log_events(logGroupName=GROUP,
                                            logStreamName=stream,
                                            startFromHead=True)["events"])
        time.sleep(0.2)
    return seen, describe(job_id)["status"]


# a job of the process runtime (queue proc): lines over a few seconds
name = "e2e-logs-" + run
define(name, "echo 'first line'; sleep 3; echo 'second line'; echo; "
             "printf 'third, with no newline'")
job = batch.submit_job(jobName=name, jobQueue="proc",
                       jobDefinition=name)["jobId"]
j = wait_for(job, lambda j: j["status"] in ("RUNNING", "SUCCEEDED",
                                             "FAILED"))
stream = j["container"].get("logStreamName", "")
check(re.fullmatch(re.escape(name) + r"/default/[0-9a-f]{32}", stream),
      "logStreamName as AWS Batch names it: %r" % stream)
check(j["attempts"] == [] or
      j["attempts"][0]["container"]["logStreamName"] == stream,
      "the attempt names the same stream")

# while it runs: the first line is there, the second not yet
seen, status = read_while_running(job, stream, "first line")
check(seen == ["first line"] and status == "RUNNING",
      "read while it runs: %r (%s)" % (seen, status))

j = wait_for(job, lambda j: j["status"] in ("SUCCEEDED", "FAILED"))
check(j["status"] == "SUCCEEDED", "the job succeeded: %s" % j)
out = logs.get_log_events(logGroupName=GROUP, logStreamName=stream,
                          startFromHead=True)
ev = out["events"]
want = ["first line", "second line", "third, with no newline"]
check(messages(ev) == want, "every line, the empty one not: %r" % ev)
check(all(e["timestamp"] <= f["timestamp"] for e, f in zip(ev, ev[1:])),
      "times in order: %r" % ev)
check(ev[1]["timestamp"] - ev[0]["timestamp"] >= 2500,
      "the second line came 3 s after the first: %r" % ev)
check(abs(ev[0]["timestamp"] - j["startedAt"]) < 5000,
      "the first line's time is the job's: %r, startedAt %d"
      % (ev[0], j["startedAt"]))

# paging forward one event at a time, until the token comes back
got, token = [], None
for _ in range(10):
    kw = {"nextToken": token} if token else {"startFromHead": True}
    page = logs.get_log_events(logGroupName=GROUP, logStreamName=stream,
                               limit=1, **kw)
    got += messages(page["events"])
    if page["nextForwardToken"] == token:
        break
    token = page["nextForwardToken"]
check(got == want, "forward paging: %r" % got)
# from the tail (startFromHead false, the default), then backward
tail = logs.get_log_events(logGroupName=GROUP, logStreamName=stream,
                           limit=2)
check(messages(tail["events"]) == want[1:], "the tail: %r" % tail)
back = logs.get_log_events(logGroupName=GROUP, logStreamName=stream,
                           limit=2, nextToken=tail["nextBackwardToken"])
check(messages(back["events"]) == want[:1], "backward: %r" % back)
late = logs.get_log_events(logGroupName=GROUP, logStreamName=stream,
                           startFromHead=True, startTime=ev[1]["timestamp"])
check(messages(late["events"]) == want[1:], "startTime: %r" % late)

# FilterLogEvents in that stream
f = logs.filter_log_events(logGroupName=GROUP, logStreamNames=[stream],
                           filterPattern='"second line"')
check(messages(f["events"]) == ["second line"] and
      f["events"][0]["logStreamName"] == stream and
      f["events"][0]["eventId"], "filter by phrase: %r" % f)
f = logs.filter_log_events(logGroupName=GROUP, logStreamNamePrefix=name,
                           filterPattern="line -second -third")
check(messages(f["events"]) == ["first line"], "terms and -term: %r" % f)
f = logs.filter_log_events(logGroupName=GROUP, logStreamNames=[stream],
                           filterPattern="?second ?third ?nowhere")
check(messages(f["events"]) == want[1:], "?term: %r" % f)
check(refused(logs.filter_log_events, "InvalidParameterException",
              logGroupName=GROUP, logStreamNames=[stream],
              filterPattern="{ $.x = 1 }"),
      "a JSON pattern is refused by name")

# DescribeLogStreams
d = logs.describe_log_streams(logGroupName=GROUP,
                              logStreamNamePrefix=name + "/")
check([s["logStreamName"] for s in d["logStreams"]] == [stream],
      "the job's stream by prefix: %r" % d)
s0 = d["logStreams"][0]
check(s0["firstEventTimestamp"] == ev[0]["timestamp"] and
      s0["lastEventTimestamp"] == ev[-1]["timestamp"] and
      s0["arn"].endswith(":log-group:/aws/batch/job:log-stream:" + stream),
      "the stream's times and ARN: %r" % s0)

# refusals, in the Logs API's own words
check(refused(logs.get_log_events, "ResourceNotFoundException",
              logGroupName="/aws/other", logStreamName=stream),
      "another log group does not exist")
check(refused(logs.get_log_events, "ResourceNotFoundException",
              logGroupName=GROUP, logStreamName=name + "/default/" +
              "0" * 32), "an unknown stream does not exist")
check(refused(logs.get_log_events, "InvalidParameterException",
              logGroupName=GROUP, logStreamName=stream, nextToken="f/999"),
      "a token past the end is refused")

# what a client in another language could send: signed raw requests
def raw(target, body, service="logs"):
    return signed_post(endpoint + "/", body,
                       {"Content-Type": "application/x-amz-json-1.1",
                        "X-Amz-Target": target}, service)


st, r = raw("Logs_20140328.PutLogEvents", b"{}")
check(st == 400 and r["__type"] == "UnknownOperationException",
      "an operation Drover does not serve: %s %r" % (st, r))
st, r = raw("Logs_20140328.GetLogEvents", b"{not json")
check(st == 400 and r["__type"] == "InvalidParameterException",
      "a body that is no JSON: %s %r" % (st, r))
st, r = raw("Logs_20140328.GetLogEvents",
            json.dumps({"logGroupName": GROUP, "logStreamName": 7}).encode())
check(st == 400 and "logStreamName" in r["message"],
      "a stream name that is no string, named: %s %r" % (st, r))
st, r = raw("Logs_20140328.GetLogEvents",
            json.dumps({"logGroupName": GROUP, "logStreamName": stream,
                        "nextToken": "f/" + "9" * 5000}).encode())
check(st == 400 and len(json.dumps(r)) < 4096,
      "an oversized token, not echoed: %s" % st)
st, r = raw("Logs_20140328.GetLogEvents",
            json.dumps({"logGroupName": GROUP,
                        "logStreamName": stream}).encode(), service="batch")
check(st == 403, "a Logs request signed for batch is refused: %s %r"
      % (st, r))

# the aws CLI reads the same lines
env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET,
           AWS_DEFAULT_REGION=REGION, AWS_PAGER="")
cli = subprocess.run(
    ["aws", "--endpoint-url", endpoint, "logs", "get-log-events",
     "--log-group-name", GROUP, "--log-stream-name", stream,
     "--start-from-head", "--output", "json"],
    env=env, capture_output=True, text=True, timeout=120)
check(cli.returncode == 0 and
      messages(json.loads(cli.stdout)["events"]) == want,
      "aws logs get-log-events: %s %s" % (cli.stdout, cli.stderr))

# a container job: its lines' times come from the engine, and its output
# is there while it runs (kept every 2 s)
cname = "e2e-logs-ctr-" + run
define(cname, "echo alpha; sleep 6; echo beta")
cjob = batch.submit_job(jobName=cname, jobQueue="default",
                        jobDefinition=cname)["jobId"]
cj = wait_for(cjob, lambda j: j["status"] in ("RUNNING", "SUCCEEDED",
                                              "FAILED"))
cstream = cj["container"]["logStreamName"]
seen, status = read_while_running(cjob, cstream, "alpha")
check(seen == ["alpha"] and status == "RUNNING",
      "a container's output read while it runs: %r (%s)" % (seen, status))
cj = wait_for(cjob, lambda j: j["status"] in ("SUCCEEDED", "FAILED"))
cev = logs.get_log_events(logGroupName=GROUP, logStreamName=cstream,
                          startFromHead=True)["events"]
check(messages(cev) == ["alpha", "beta"] and
      cj["startedAt"] - 5000 <= cev[0]["timestamp"] <= cj["stoppedAt"] and
      cev[1]["timestamp"] - cev[0]["timestamp"] >= 5000,
      "a container's lines and times: %r (%d..%d)"
      % (cev, cj["startedAt"], cj["stoppedAt"]))

print("logs: %d checks passed" % check.n)
