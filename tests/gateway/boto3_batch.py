#!/usr/bin/env python3
"""An ordinary boto3 AWS Batch script, pointed at drover-gateway.

Only endpoint_url and the credentials differ from what runs against AWS.
Usage: boto3_batch.py ENDPOINT_URL    (exit 0 when every check held)
"""
import sys
import time
import uuid

import json

from botocore.exceptions import ClientError

import model_check
from scenario import Checks, client, signed_post

endpoint = sys.argv[1]
batch = client(endpoint)
replies = model_check.attach(batch)


def post(path, doc):
    """A signed request botocore would not send (it checks parameters
    itself): what a client in another language could. (status, reply)"""
    return signed_post(endpoint + path, json.dumps(doc),
                       {"Content-Type": "application/json"})


run = uuid.uuid4().hex[:8]

check = Checks()


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

# Drover's DEPENDS_ON filter: a job's dependents (the console's graph)
deps = batch.list_jobs(jobQueue="boto-q-" + run, filters=[
    {"name": "DEPENDS_ON", "values": [arr["jobId"]]}])["jobSummaryList"]
check([d["jobId"] for d in deps] == [after["jobId"]],
      "DEPENDS_ON lists the dependent: %s" % deps)
check(batch.list_jobs(jobQueue="boto-q-" + run, filters=[
    {"name": "DEPENDS_ON", "values": [after["jobId"]]}])["jobSummaryList"] == [],
      "DEPENDS_ON of a job nothing waits for: none")

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
bad = client(endpoint, secret="wrong")
try:
    bad.describe_job_queues()
    check(False, "a wrongly signed request is refused")
except ClientError as e:
    check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 403 and
          e.response["Error"]["Code"] == "InvalidSignatureException",
          "403 InvalidSignatureException: %s" % e.response["Error"])

# requests are checked against the model on the server, members named
def refused(path, doc, needle, what):
    status, reply = post(path, doc)
    check(status == 400 and reply.get("__type") == "ClientException" and
          needle in reply.get("message", ""), "%s: %s %s" % (what, status, reply))


base = dict(jobName="m", jobQueue="boto-q-" + run, jobDefinition="boto-" + run)
refused("/v1/listjobs", {"jobQueue": "boto-q-" + run, "filters": [
    {"name": "DEPENDS_ON", "values": ["../../etc/passwd"]}]},
    "filters: DEPENDS_ON takes a job id", "DEPENDS_ON with a path")
refused("/v1/submitjob", dict(base, containerOverrides={"instanceType": "p3"}),
        "containerOverrides.instanceType is not supported by Drover",
        "a member Drover does not honour")
refused("/v1/submitjob", dict(base, containerOverrides={"vcpu": 1}),
        "containerOverrides.vcpu is not a member of ContainerOverrides",
        "an unknown member")
refused("/v1/submitjob", dict(base, containerOverrides={"vcpus": 0.5}),
        "containerOverrides.vcpus must be an integer",
        "a real where the model says Integer")
refused("/v1/submitjob", {"jobName": "m", "jobQueue": "boto-q-" + run},
        "jobDefinition is required", "a required member")
refused("/v1/listjobs", {"jobQueue": "boto-q-" + run, "jobStatus": "DONE"},
        "jobStatus must be one of", "an enum value")
refused("/v1/registerjobdefinition",
        {"jobDefinitionName": "x-" + run, "type": "container",
         "containerProperties": {"image": "busybox",
                                 "jobRoleArn": "arn:aws:iam::1:role/r"}},
        "containerProperties.jobRoleArn is not supported by Drover",
        "an IAM role")
# an operation of the model Drover does not serve (this boto3 may predate
# it: sent as another client would)
status, reply = post("/v1/createquotashare", {"quotaShareName": "p-" + run})
check(status == 400 and reply.get("__type") == "ClientException" and
      "CreateQuotaShare is not supported by Drover" in reply.get("message", ""),
      "an operation Drover does not serve: %s %s" % (status, reply))
# the members AWS always returns, and integers as integers
d = batch.describe_jobs(jobs=[after["jobId"]])["jobs"][0]
check(all(k in d["container"] for k in ("command", "environment", "volumes",
                                          "mountPoints", "ulimits",
                                          "resourceRequirements", "secrets")),
      "container lists present: %s" % sorted(d["container"]))
check(d["tags"] == {} and d["parameters"] == {"msg": "done"},
      "tags and parameters present: %s %s" % (d["tags"], d["parameters"]))
check(a["parameters"] == {"msg": "hello"},
      "parameters show the definition's defaults: %s" % a["parameters"])

# issue 14's findings, each refused or fixed as AWS does it
region, account = qarn.split(":")[3], qarn.split(":")[4]
other = qarn.replace(":%s:%s:" % (region, account), ":us-west-2:%s:" % account)
try:
    batch.tag_resource(resourceArn=other, tags={"x": "y"})
    check(False, "an ARN of another region is refused")
except ClientError as e:
    check("names region us-west-2" in e.response["Error"]["Message"],
          "another region's ARN: %s" % e.response["Error"])
jarn = d["jobArn"]
batch.tag_resource(resourceArn=jarn, tags={"later": "yes"})
t = batch.describe_jobs(jobs=[after["jobId"]])["jobs"][0]["tags"]
check(t == {"later": "yes"}, "DescribeJobs shows TagResource's tags: %s" % t)
batch.untag_resource(resourceArn=jarn, tagKeys=["later"])
t = batch.describe_jobs(jobs=[after["jobId"]])["jobs"][0]["tags"]
check(t == {}, "and UntagResource's: %s" % t)
unversioned = jd["jobDefinitionArn"].rsplit(":", 1)[0]
batch.tag_resource(resourceArn=unversioned, tags={"rev": "latest"})
t = batch.list_tags_for_resource(resourceArn=jd["jobDefinitionArn"])["tags"]
check(t.get("rev") == "latest", "an unversioned definition ARN: %s" % t)
refused("/v1/submitjob", dict(base, shareIdentifier="a"),
        "shareIdentifier applies only to job queues with a fair-share",
        "shareIdentifier on a FIFO queue")
refused("/v1/submitjob", dict(base, schedulingPriorityOverride=5),
        "schedulingPriorityOverride applies only", "priority on a FIFO queue")
refused("/v1/updatecomputeenvironment",
        {"computeEnvironment": "boto-ce-" + run,
         "computeResources": {"minvCpus": 2}},
        "computeResources.minvCpus applies to MANAGED",
        "an instance setting on an UNMANAGED environment")
refused("/v1/createcomputeenvironment",
        {"computeEnvironmentName": "boto-m-" + run, "type": "MANAGED",
         "computeResources": {"type": "EC2", "maxvCpus": 4, "subnets": ["s"]}},
        "instanceRole is required", "a MANAGED EC2 environment without a role")
refused("/v1/canceljob", {"jobId": "", "reason": "r"}, "jobId must not be empty",
        "an empty job id")
t0 = time.time()
refused("/v1/terminatejob", {"jobId": "no-such-job-" + run, "reason": "r"},
        "not found", "an unknown job id")
# no waiting for it to appear (it took the former 5 s wait): not a speed
# goal, so the bound is loose
check(time.time() - t0 < 4, "an unknown job id is answered without a wait")
# pages do not shift when jobs arrive between calls (newest first)
p1 = batch.list_jobs(jobQueue="boto-q-" + run, maxResults=1,
                     filters=[{"name": "JOB_NAME", "values": ["*"]}])
batch.submit_job(jobName="late-" + run, jobQueue="boto-q-" + run,
                 jobDefinition="boto-" + run)
p2 = batch.list_jobs(jobQueue="boto-q-" + run, maxResults=1,
                     nextToken=p1["nextToken"],
                     filters=[{"name": "JOB_NAME", "values": ["*"]}])
check(p2["jobSummaryList"][0]["jobId"] != p1["jobSummaryList"][0]["jobId"],
      "the second page does not repeat the first")

# fair share (issue 15): policies, a fair-share queue, shares, the snapshot
sp = batch.create_scheduling_policy(
    name="boto-sp-" + run, tags={"team": "a"},
    fairsharePolicy={"shareDecaySeconds": 3600, "computeReservation": 25,
                     "shareDistribution": [
                         {"shareIdentifier": "gold", "weightFactor": 0.25},
                         {"shareIdentifier": "bronze*", "weightFactor": 2.0}]})
check(sp["arn"].endswith(":scheduling-policy/boto-sp-" + run),
      "CreateSchedulingPolicy returns its ARN: %s" % sp)
got = batch.describe_scheduling_policies(arns=[sp["arn"]])["schedulingPolicies"]
check(len(got) == 1 and got[0]["fairsharePolicy"]["computeReservation"] == 25
      and got[0]["tags"] == {"team": "a"},
      "DescribeSchedulingPolicies: %s" % got)
batch.update_scheduling_policy(arn=sp["arn"], fairsharePolicy={
    "shareDecaySeconds": 600, "shareDistribution": [
        {"shareIdentifier": "gold", "weightFactor": 0.5}]})
got = batch.describe_scheduling_policies(arns=[sp["arn"]])["schedulingPolicies"]
check(got[0]["fairsharePolicy"]["shareDistribution"][0]["weightFactor"] == 0.5,
      "UpdateSchedulingPolicy replaces the policy: %s" % got)
batch.tag_resource(resourceArn=sp["arn"], tags={"env": "test"})
t = batch.list_tags_for_resource(resourceArn=sp["arn"])["tags"]
check(t == {"team": "a", "env": "test"}, "a policy's tags: %s" % t)
sp2 = batch.create_scheduling_policy(name="boto-sp2-" + run)
got = batch.describe_scheduling_policies(arns=[sp2["arn"]])["schedulingPolicies"]
check(got[0].get("tags", {}) == {} and "fairsharePolicy" not in got[0],
      "a policy created with nothing but a name: %s" % got)
pages, token = [], None
while True:
    kw = {"maxResults": 1}
    if token:
        kw["nextToken"] = token
    page = batch.list_scheduling_policies(**kw)
    pages += [x["arn"] for x in page["schedulingPolicies"]]
    token = page.get("nextToken")
    if not token:
        break
check(sp["arn"] in pages and sp2["arn"] in pages,
      "ListSchedulingPolicies pages through every policy: %s" % pages)
batch.create_compute_environment(computeEnvironmentName="boto-fs-" + run,
                                 type="UNMANAGED", state="DISABLED",
                                 computeResources={"type": "EC2", "maxvCpus": 2,
                                                   "subnets": []})
fq = batch.create_job_queue(
    jobQueueName="boto-fq-" + run, priority=1, schedulingPolicyArn=sp["arn"],
    computeEnvironmentOrder=[{"order": 1,
                              "computeEnvironment": "boto-fs-" + run}])
fqs = batch.describe_job_queues(jobQueues=[fq["jobQueueArn"]])["jobQueues"]
check(fqs[0].get("schedulingPolicyArn") == sp["arn"],
      "DescribeJobQueues shows the policy: %s" % fqs)
share_jobs = {}
for share, prio in (("gold", 1), ("gold", 7), ("bronze1", 0)):
    r = batch.submit_job(jobName="fs-" + share, jobQueue="boto-fq-" + run,
                         jobDefinition="boto-" + run, shareIdentifier=share,
                         schedulingPriorityOverride=prio)
    share_jobs[r["jobId"]] = (share, prio)
d = batch.describe_jobs(jobs=list(share_jobs))["jobs"]
check(all((j["shareIdentifier"], j["schedulingPriority"]) ==
          share_jobs[j["jobId"]] for j in d),
      "DescribeJobs shows share and priority: %s" %
      [(j.get("shareIdentifier"), j.get("schedulingPriority")) for j in d])
deadline = time.time() + 30
while True:  # RUNNABLE once the dispatcher has them (the CE is DISABLED)
    # this boto3 may predate GetJobQueueSnapshot: sent as another client
    # would, its reply walked against the model all the same
    status, snap = post("/v1/getjobqueuesnapshot", {"jobQueue": "boto-fq-" + run})
    check(status == 200, "GetJobQueueSnapshot: %s %s" % (status, snap))
    replies.check("GetJobQueueSnapshot", json.dumps(snap).encode())
    front = [x["jobArn"].rsplit("/", 1)[1]
             for x in snap["frontOfQueue"]["jobs"]]
    if len(front) == 3 or time.time() > deadline:
        break
    time.sleep(0.5)
# gold (weight 0.5) before bronze1 (1.0); within gold priority 7 first
check([share_jobs[j] for j in front] ==
      [("gold", 7), ("bronze1", 0), ("gold", 1)] or
      [share_jobs[j] for j in front] ==
      [("gold", 7), ("gold", 1), ("bronze1", 0)],
      "GetJobQueueSnapshot lists the front in dispatch order: %s" %
      [share_jobs.get(j) for j in front])
check(all(x["earliestTimeAtPosition"] > 0 for x in snap["frontOfQueue"]["jobs"]),
      "each with earliestTimeAtPosition")
gold = batch.list_jobs(jobQueue="boto-fq-" + run, jobStatus="RUNNABLE",
                       filters=[{"name": "SHARE_IDENTIFIER",
                                 "values": ["gold"]}])["jobSummaryList"]
check(sorted(j["jobId"] for j in gold) ==
      sorted(k for k, v in share_jobs.items() if v[0] == "gold"),
      "ListJobs SHARE_IDENTIFIER with jobStatus: %s" % gold)
refused("/v1/submitjob", {"jobName": "x", "jobQueue": "boto-fq-" + run,
                          "jobDefinition": "boto-" + run},
        "shareIdentifier is required", "a fair-share queue's job without a share")
refused("/v1/createschedulingpolicy",
        {"name": "bad-" + run, "fairsharePolicy": {"shareDistribution": [
            {"shareIdentifier": "UserA*"}, {"shareIdentifier": "UserA1"}]}},
        "overlaps", "overlapping share identifiers")
refused("/v1/createschedulingpolicy",
        {"name": "bad-" + run, "quotaSharePolicy": {
            "idleResourceAssignmentStrategy": "FIFO"}},
        "quotaSharePolicy is not supported by Drover", "quota shares")
refused("/v1/updatejobqueue", {"jobQueue": "boto-q-" + run,
                               "schedulingPolicyArn": sp["arn"]},
        "is a FIFO queue", "a FIFO queue gaining a policy")
refused("/v1/deleteschedulingpolicy", {"arn": sp["arn"]}, "uses it",
        "deleting a policy a queue uses")
for j in share_jobs:
    batch.cancel_job(jobId=j, reason="done")
batch.update_job_queue(jobQueue="boto-fq-" + run, state="DISABLED")
batch.delete_job_queue(jobQueue="boto-fq-" + run)
deadline = time.time() + 60
while batch.describe_job_queues(jobQueues=["boto-fq-" + run])["jobQueues"]:
    check(time.time() < deadline, "the fair-share queue goes")
    time.sleep(0.5)
batch.delete_scheduling_policy(arn=sp["arn"])
batch.delete_scheduling_policy(arn=sp2["arn"])
check(batch.describe_scheduling_policies(arns=[sp["arn"]])["schedulingPolicies"]
      == [], "DeleteSchedulingPolicy: gone")
batch.delete_compute_environment(computeEnvironment="boto-fs-" + run)

# consumable resources (issue 15): this boto3 predates them, so the six
# operations go as another client would send them, replies walked against
# the model all the same
def call(op, doc):
    status, reply = post("/v1/" + op.lower(), doc)
    check(status == 200, "%s: %s %s" % (op, status, reply))
    replies.check(op, json.dumps(reply).encode())
    return reply


lic = "boto-lic-" + run
cr = call("CreateConsumableResource", {"consumableResourceName": lic,
                                       "totalQuantity": 4,
                                       "resourceType": "NON_REPLENISHABLE"})
check(cr["consumableResourceArn"].endswith(":consumable-resource/" + lic),
      "CreateConsumableResource: %s" % cr)
refused("/v1/createconsumableresource", {"consumableResourceName": lic},
        "already exists", "a second consumable resource of the same name")
refused("/v1/createconsumableresource",
        {"consumableResourceName": "x-" + run, "totalQuantity": -1},
        "totalQuantity must be an integer from 0", "a negative total")
refused("/v1/createconsumableresource",
        {"consumableResourceName": "x-" + run, "resourceType": "SOMETIMES"},
        "resourceType", "an unknown resource type")
u = call("UpdateConsumableResource", {"consumableResource": lic,
                                      "operation": "REMOVE", "quantity": 1,
                                      "clientToken": "t-" + run})
again = call("UpdateConsumableResource", {"consumableResource": lic,
                                          "operation": "REMOVE", "quantity": 1,
                                          "clientToken": "t-" + run})
check(u["totalQuantity"] == 3 and again["totalQuantity"] == 3,
      "a clientToken applies once: %s %s" % (u, again))
refused("/v1/updateconsumableresource",
        {"consumableResource": lic, "operation": "MULTIPLY", "quantity": 2},
        "operation must be SET, ADD or REMOVE", "an unknown operation")
d = call("DescribeConsumableResource", {"consumableResource": lic})
check(d["totalQuantity"] == 3 and d["availableQuantity"] == 3 and
      d["resourceType"] == "NON_REPLENISHABLE", "DescribeConsumableResource: %s" % d)
refused("/v1/describeconsumableresource", {"consumableResource": "nope-" + run},
        "does not exist", "an unknown consumable resource")
names = []
token = None
while True:
    doc = {"maxResults": 1, "filters": [{"name": "CONSUMABLE_RESOURCE_NAME",
                                         "values": ["boto-LIC-*"]}]}
    if token:
        doc["nextToken"] = token
    page = call("ListConsumableResources", doc)
    names += [x["consumableResourceName"] for x in page["consumableResources"]]
    token = page.get("nextToken")
    if not token:
        break
check(lic in names and all(n.lower().startswith("boto-lic-") for n in names),
      "ListConsumableResources pages by name pattern: %s" % names)
status, _ = post("/v1/registerjobdefinition", {
    "jobDefinitionName": "boto-licensed-" + run, "type": "container",
    "consumableResourceProperties": {"consumableResourceList": [
        {"consumableResource": cr["consumableResourceArn"], "quantity": 2}]},
    "containerProperties": {"image": "localhost/drover/busybox:latest",
                            "command": ["true"], "vcpus": 1, "memory": 16}})
check(status == 200, "a definition needing a consumable resource")
# more than there is: it waits, RUNNABLE
status, sj = post("/v1/submitjob", {
    "jobName": "lic", "jobQueue": "boto-q-" + run,
    "jobDefinition": "boto-licensed-" + run,
    "consumableResourcePropertiesOverride": {"consumableResourceList": [
        {"consumableResource": lic, "quantity": 9}]}})
check(status == 200, "SubmitJob: %s %s" % (status, sj))
refused("/v1/submitjob", {"jobName": "lic", "jobQueue": "boto-q-" + run,
                          "jobDefinition": "boto-licensed-" + run,
                          "consumableResourcePropertiesOverride": {
                              "consumableResourceList": [
                                  {"consumableResource": "other", "quantity": 1}]}},
        "does not need consumable resource other", "an override of another resource")
# recorded by the dispatcher: RUNNABLE, saying what it waits for
want = "consumable resource %s has less than the 9" % lic
deadline = time.time() + 30
while True:
    d = batch.describe_jobs(jobs=[sj["jobId"]])["jobs"][0]
    if d["status"] == "RUNNABLE" and want in d.get("statusReason", ""):
        break
    check(time.time() < deadline, "a job waiting for a consumable resource "
          "says so: %s %s" % (d["status"], d.get("statusReason")))
    time.sleep(0.5)
lj = call("ListJobsByConsumableResource", {"consumableResource": lic})
check([j["jobArn"].rsplit("/", 1)[1] for j in lj["jobs"]] == [sj["jobId"]] and
      lj["jobs"][0]["quantity"] == 9, "ListJobsByConsumableResource: %s" % lj)
refused("/v1/deleteconsumableresource", {"consumableResource": lic},
        "has not finished", "deleting a resource an unfinished job needs")
batch.cancel_job(jobId=sj["jobId"], reason="done")
wait([sj["jobId"]])
call("DeleteConsumableResource", {"consumableResource": cr["consumableResourceArn"]})

# delete what was created (queues and CEs must be DISABLED first)
try:
    batch.delete_job_queue(jobQueue="boto-q-" + run)
    check(False, "deleting an ENABLED queue is refused")
except ClientError as e:
    check("DISABLED" in e.response["Error"]["Message"], "delete needs DISABLED")
# deleting a queue terminates its jobs (AWS), then the queue is gone
doomed = batch.submit_job(jobName="doomed-" + run, jobQueue="boto-q-" + run,
                          jobDefinition="boto-sleep-" + run)
batch.update_job_queue(jobQueue="boto-q-" + run, state="DISABLED")
batch.delete_job_queue(jobQueue="boto-q-" + run)
d = wait([doomed["jobId"]])[doomed["jobId"]]
check(d["status"] == "FAILED" and d["statusReason"] == "The job queue was deleted",
      "a deleted queue's job is terminated: %s %s" % (d["status"], d.get("statusReason")))
deadline = time.time() + 60
while True:
    qs = batch.describe_job_queues(jobQueues=["boto-q-" + run])["jobQueues"]
    if not qs:
        break
    check(qs[0]["status"] == "DELETING" and time.time() < deadline,
          "a queue being deleted shows DELETING: %s" % qs)
    time.sleep(0.5)
batch.update_compute_environment(computeEnvironment="boto-ce-" + run,
                                 state="DISABLED")
batch.delete_compute_environment(computeEnvironment="boto-ce-" + run)
batch.deregister_job_definition(jobDefinition="boto-%s:1" % run)
replies.assert_clean()
print("boto3: %d replies matched the AWS model" % replies.replies)
print("boto3: %d checks passed against %s" % (check.n, endpoint))
