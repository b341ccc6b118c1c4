#!/usr/bin/env python3
"""An ordinary boto3 AWS Batch script, pointed at drover-gateway.

Only endpoint_url and the credentials differ from what runs against AWS.
Usage: boto3_batch.py ENDPOINT_URL    (exit 0 when every check held)
"""
import sys
import time
import uuid

import boto3
from botocore.exceptions import ClientError

endpoint = sys.argv[1]
batch = boto3.client("batch", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="local",
                     aws_secret_access_key="local-secret")
run = uuid.uuid4().hex[:8]
checks = 0


def check(cond, what):
    global checks
    if not cond:
        print("FAILED: " + what, file=sys.stderr)
        sys.exit(1)
    checks += 1


def wait(job_ids, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        jobs = batch.describe_jobs(jobs=job_ids)["jobs"]
        if all(j["status"] in ("SUCCEEDED", "FAILED") for j in jobs):
            return {j["jobId"]: j for j in jobs}
        time.sleep(1)
    raise SystemExit("FAILED: jobs did not finish: %s" % job_ids)


# a definition, a compute environment and a queue
jd = batch.register_job_definition(
    jobDefinitionName="boto-" + run, type="container",
    parameters={"msg": "hello"},
    retryStrategy={"attempts": 1},
    containerProperties={
        "image": "localhost/drover/busybox:latest",
        "command": ["sh", "-c", "echo Ref::msg $AWS_BATCH_JOB_ARRAY_INDEX"],
        "resourceRequirements": [{"type": "VCPU", "value": "0.25"},
                                 {"type": "MEMORY", "value": "32"}]})
check(jd["jobDefinitionArn"].endswith(":job-definition/boto-%s:1" % run),
      "RegisterJobDefinition returns the ARN with revision")
ce = batch.create_compute_environment(
    computeEnvironmentName="boto-ce-" + run, type="UNMANAGED",
    computeResources={"type": "EC2", "maxvCpus": 4, "subnets": []})
check(":compute-environment/boto-ce-" in ce["computeEnvironmentArn"],
      "CreateComputeEnvironment returns its ARN")
batch.update_compute_environment(computeEnvironment="boto-ce-" + run,
                                 computeResources={"maxvCpus": 8})
ces = batch.describe_compute_environments(
    computeEnvironments=["boto-ce-" + run])["computeEnvironments"]
check(ces and ces[0]["computeResources"]["maxvCpus"] == 8,
      "UpdateComputeEnvironment changes maxvCpus")
q = batch.create_job_queue(
    jobQueueName="boto-q-" + run, priority=5, state="ENABLED",
    computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "local"}],
    tags={"team": "data"})
qarn = q["jobQueueArn"]
check(qarn.endswith(":job-queue/boto-q-" + run), "CreateJobQueue ARN")
batch.update_job_queue(jobQueue="boto-q-" + run, priority=7)
qs = batch.describe_job_queues(jobQueues=[qarn])["jobQueues"]
check(qs[0]["priority"] == 7, "UpdateJobQueue priority")

# tags
batch.tag_resource(resourceArn=qarn, tags={"env": "test"})
tags = batch.list_tags_for_resource(resourceArn=qarn)["tags"]
check(tags == {"team": "data", "env": "test"}, "tags after TagResource: %s" % tags)
batch.untag_resource(resourceArn=qarn, tagKeys=["team"])
tags = batch.list_tags_for_resource(resourceArn=qarn)["tags"]
check(tags == {"env": "test"}, "tags after UntagResource: %s" % tags)

# an array with SEQUENTIAL children and a job after it
arr = batch.submit_job(jobName="arr-" + run, jobQueue="boto-q-" + run,
                       jobDefinition="boto-" + run,
                       arrayProperties={"size": 3},
                       dependsOn=[{"type": "SEQUENTIAL"}])
after = batch.submit_job(jobName="after-" + run, jobQueue="boto-q-" + run,
                         jobDefinition="boto-" + run,
                         parameters={"msg": "done"},
                         dependsOn=[{"jobId": arr["jobId"]}])
jobs = wait([arr["jobId"], after["jobId"]])
a = jobs[arr["jobId"]]
check(a["status"] == "SUCCEEDED", "array job succeeded: %s" % a.get("statusReason"))
check(a["arrayProperties"]["statusSummary"].get("SUCCEEDED") == 3,
      "statusSummary counts 3 children")
check(jobs[after["jobId"]]["status"] == "SUCCEEDED", "dependent job succeeded")
check(jobs[after["jobId"]]["startedAt"] >= a["stoppedAt"],
      "the dependent started after the array stopped")
kids = batch.describe_jobs(jobs=["%s:%d" % (arr["jobId"], i) for i in range(3)])["jobs"]
starts = [k["startedAt"] for k in sorted(kids, key=lambda k: k["arrayProperties"]["index"])]
stops = [k["stoppedAt"] for k in sorted(kids, key=lambda k: k["arrayProperties"]["index"])]
check(starts[1] >= stops[0] and starts[2] >= stops[1], "SEQUENTIAL order kept")

# list with filters and pagination
listed = batch.list_jobs(jobQueue="boto-q-" + run, jobStatus="SUCCEEDED")
check({j["jobId"] for j in listed["jobSummaryList"]} >= {arr["jobId"], after["jobId"]},
      "ListJobs by queue and status")
flt = batch.list_jobs(jobQueue="boto-q-" + run,
                      filters=[{"name": "JOB_NAME", "values": ["after-*"]}])
check([j["jobName"] for j in flt["jobSummaryList"]] == ["after-" + run],
      "ListJobs JOB_NAME filter")
page = batch.list_jobs(jobQueue="boto-q-" + run, jobStatus="SUCCEEDED",
                       maxResults=1)
check(len(page["jobSummaryList"]) == 1 and "nextToken" in page, "first page")
page2 = batch.list_jobs(jobQueue="boto-q-" + run, jobStatus="SUCCEEDED",
                        maxResults=1, nextToken=page["nextToken"])
check(page2["jobSummaryList"][0]["jobId"] != page["jobSummaryList"][0]["jobId"],
      "second page differs")
pager = batch.get_paginator("list_jobs")
ids = [j["jobId"] for p in pager.paginate(jobQueue="boto-q-" + run,
                                          jobStatus="SUCCEEDED",
                                          PaginationConfig={"PageSize": 1})
       for j in p["jobSummaryList"]]
check(len(ids) == len(set(ids)) >= 2, "paginator walks every page")

# cancel a waiting job, terminate a running one
batch.register_job_definition(
    jobDefinitionName="boto-sleep-" + run, type="container",
    containerProperties={"image": "localhost/drover/busybox:latest",
                         "command": ["sleep", "60"],
                         "resourceRequirements": [{"type": "VCPU", "value": "0.25"},
                                                  {"type": "MEMORY", "value": "32"}]})
long = batch.submit_job(jobName="long-" + run, jobQueue="boto-q-" + run,
                        jobDefinition="boto-sleep-" + run)
waiting = batch.submit_job(jobName="waiting-" + run, jobQueue="boto-q-" + run,
                           jobDefinition="boto-" + run,
                           dependsOn=[{"jobId": long["jobId"]}])
batch.cancel_job(jobId=waiting["jobId"], reason="not needed")
deadline = time.time() + 60
while batch.describe_jobs(jobs=[long["jobId"]])["jobs"][0]["status"] != "RUNNING":
    check(time.time() < deadline, "long job reaches RUNNING")
    time.sleep(0.5)
batch.terminate_job(jobId=long["jobId"], reason="enough")
jobs = wait([long["jobId"], waiting["jobId"]])
check(jobs[waiting["jobId"]]["status"] == "FAILED" and
      jobs[waiting["jobId"]]["statusReason"] == "not needed",
      "cancelled: %s %s" % (jobs[waiting["jobId"]]["status"],
                            jobs[waiting["jobId"]].get("statusReason")))
check(jobs[long["jobId"]]["status"] == "FAILED" and
      jobs[long["jobId"]]["statusReason"] == "enough",
      "terminated: %s %s" % (jobs[long["jobId"]]["status"],
                             jobs[long["jobId"]].get("statusReason")))

# errors as the SDK parses them
try:
    batch.submit_job(jobName="x", jobQueue="no-such-queue-" + run,
                     jobDefinition="boto-" + run)
    check(False, "an unknown queue is refused")
except ClientError as e:
    check(e.response["Error"]["Code"] == "ClientException" and
          e.response["ResponseMetadata"]["HTTPStatusCode"] == 400,
          "ClientException with HTTP 400: %s" % e.response)
    check("no-such-queue" in e.response["Error"]["Message"], "message names the queue")
bad = boto3.client("batch", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="local", aws_secret_access_key="wrong")
try:
    bad.describe_job_queues()
    check(False, "a wrongly signed request is refused")
except ClientError as e:
    check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 403 and
          e.response["Error"]["Code"] == "InvalidSignatureException",
          "403 InvalidSignatureException: %s" % e.response["Error"])

# delete what was created (queues and CEs must be DISABLED first)
try:
    batch.delete_job_queue(jobQueue="boto-q-" + run)
    check(False, "deleting an ENABLED queue is refused")
except ClientError as e:
    check("DISABLED" in e.response["Error"]["Message"], "delete needs DISABLED")
batch.update_job_queue(jobQueue="boto-q-" + run, state="DISABLED")
batch.delete_job_queue(jobQueue="boto-q-" + run)
check(batch.describe_job_queues(jobQueues=["boto-q-" + run])["jobQueues"] == [],
      "queue deleted")
batch.update_compute_environment(computeEnvironment="boto-ce-" + run,
                                 state="DISABLED")
batch.delete_compute_environment(computeEnvironment="boto-ce-" + run)
batch.deregister_job_definition(jobDefinition="boto-%s:1" % run)
print("boto3: %d checks passed against %s" % (checks, endpoint))
