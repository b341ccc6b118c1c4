// An ordinary AWS SDK for JavaScript v3 script, pointed at drover-gateway:
// only the endpoint and the credentials differ from what runs against AWS.
// Usage: node scenario.mjs ENDPOINT_URL   (exit 0 when every check held)
// The same scenario as tests/gateway/java/Scenario.java.
import {
  BatchClient, RegisterJobDefinitionCommand, DescribeJobDefinitionsCommand,
  DeregisterJobDefinitionCommand, CreateComputeEnvironmentCommand,
  UpdateComputeEnvironmentCommand, DescribeComputeEnvironmentsCommand,
  DeleteComputeEnvironmentCommand, CreateJobQueueCommand,
  UpdateJobQueueCommand, DescribeJobQueuesCommand, DeleteJobQueueCommand,
  SubmitJobCommand, DescribeJobsCommand, ListJobsCommand, CancelJobCommand,
  TerminateJobCommand, TagResourceCommand, UntagResourceCommand,
  ListTagsForResourceCommand, paginateListJobs, BatchServiceException,
  CreateSchedulingPolicyCommand, DescribeSchedulingPoliciesCommand,
  ListSchedulingPoliciesCommand, DeleteSchedulingPolicyCommand,
  GetJobQueueSnapshotCommand, CreateConsumableResourceCommand,
  DescribeConsumableResourceCommand, ListConsumableResourcesCommand,
  UpdateConsumableResourceCommand, DeleteConsumableResourceCommand,
  ListJobsByConsumableResourceCommand,
} from "@aws-sdk/client-batch";

const endpoint = process.argv[2];
const creds = { accessKeyId: "local", secretAccessKey: "local-secret" };
const batch = new BatchClient({ endpoint, region: "us-east-1",
                                credentials: creds });
const run = Math.random().toString(16).slice(2, 10);
let checks = 0;

function check(cond, what) {
  if (!cond) {
    console.error("FAILED: " + what);
    process.exit(1);
  }
  checks++;
}
const send = (cmd) => batch.send(cmd);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function describe(id) {
  return (await send(new DescribeJobsCommand({ jobs: [id] }))).jobs[0];
}

async function waitFor(ids, done, what, seconds = 180) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const { jobs } = await send(new DescribeJobsCommand({ jobs: ids }));
    if (jobs.length === ids.length && jobs.every(done)) {
      return Object.fromEntries(jobs.map((j) => [j.jobId, j]));
    }
    check(Date.now() < deadline, what + ": " +
          JSON.stringify(jobs.map((j) => [j.jobName, j.status])));
    await sleep(500);
  }
}
const finished = (j) => j.status === "SUCCEEDED" || j.status === "FAILED";

async function refused(cmd, needle, what) {
  try {
    await send(cmd);
    check(false, what + ": accepted");
  } catch (e) {
    check(e instanceof BatchServiceException && e.name === "ClientException" &&
          e.message.includes(needle), what + ": " + e.name + " " + e.message);
  }
}

const image = "localhost/drover/busybox:latest";
const rr = [{ type: "VCPU", value: "0.25" }, { type: "MEMORY", value: "32" }];

// definitions
const jd = await send(new RegisterJobDefinitionCommand({
  jobDefinitionName: "js-" + run, type: "container",
  parameters: { msg: "hello" }, retryStrategy: { attempts: 1 },
  containerProperties: {
    image, command: ["sh", "-c", "echo Ref::msg $AWS_BATCH_JOB_ARRAY_INDEX"],
    resourceRequirements: rr,
  },
}));
check(jd.revision === 1 && jd.jobDefinitionArn.endsWith(
  ":job-definition/js-" + run + ":1"), "RegisterJobDefinition");
await send(new RegisterJobDefinitionCommand({
  jobDefinitionName: "js-sleep-" + run, type: "container",
  containerProperties: { image, command: ["sleep", "60"], resourceRequirements: rr },
}));
// ignores SIGTERM and exits 0 when told to stop: terminated all the same
await send(new RegisterJobDefinitionCommand({
  jobDefinitionName: "js-stubborn-" + run, type: "container",
  containerProperties: {
    image, resourceRequirements: rr,
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
  },
}));
const defs = await send(new DescribeJobDefinitionsCommand({
  jobDefinitionName: "js-" + run, status: "ACTIVE" }));
check(defs.jobDefinitions.length === 1 &&
      defs.jobDefinitions[0].parameters.msg === "hello",
      "DescribeJobDefinitions");

// an environment: UNMANAGED without computeResources, as AWS allows
const ceName = "js-ce-" + run;
const ce = await send(new CreateComputeEnvironmentCommand({
  computeEnvironmentName: ceName, type: "UNMANAGED", unmanagedvCpus: 4 }));
check(ce.computeEnvironmentArn.endsWith(":compute-environment/" + ceName),
      "CreateComputeEnvironment");
await send(new UpdateComputeEnvironmentCommand({
  computeEnvironment: ceName, unmanagedvCpus: 8 }));
let ces = (await send(new DescribeComputeEnvironmentsCommand({
  computeEnvironments: [ceName] }))).computeEnvironments;
check(ces.length === 1 && ces[0].unmanagedvCpus === 8 &&
      ces[0].state === "ENABLED" && ces[0].status === "VALID",
      "UpdateComputeEnvironment: " + JSON.stringify(ces));

// a queue on the stack's workers, with tags
const q = "js-q-" + run;
const cq = await send(new CreateJobQueueCommand({
  jobQueueName: q, priority: 5, state: "ENABLED", tags: { team: "data" },
  computeEnvironmentOrder: [{ order: 1, computeEnvironment: "local" }],
}));
await send(new UpdateJobQueueCommand({ jobQueue: q, priority: 7 }));
const qs = (await send(new DescribeJobQueuesCommand({
  jobQueues: [cq.jobQueueArn] }))).jobQueues;
check(qs[0].priority === 7 && qs[0].status === "VALID", "UpdateJobQueue");

// tags by ARN
await send(new TagResourceCommand({ resourceArn: cq.jobQueueArn,
                                    tags: { env: "test" } }));
let tags = (await send(new ListTagsForResourceCommand({
  resourceArn: cq.jobQueueArn }))).tags;
check(tags.team === "data" && tags.env === "test", "TagResource");
await send(new UntagResourceCommand({ resourceArn: cq.jobQueueArn,
                                      tagKeys: ["team"] }));
tags = (await send(new ListTagsForResourceCommand({
  resourceArn: cq.jobQueueArn }))).tags;
check(JSON.stringify(tags) === '{"env":"test"}', "UntagResource");

// plain, dependent, SEQUENTIAL array, N_TO_N arrays
const def = "js-" + run;
const plain = await send(new SubmitJobCommand({
  jobName: "plain-" + run, jobQueue: q, jobDefinition: def,
  tags: { kind: "plain" } }));
const dep = await send(new SubmitJobCommand({
  jobName: "dep-" + run, jobQueue: q, jobDefinition: def,
  parameters: { msg: "after" }, dependsOn: [{ jobId: plain.jobId }] }));
const seq = await send(new SubmitJobCommand({
  jobName: "seq-" + run, jobQueue: q, jobDefinition: def,
  arrayProperties: { size: 3 }, dependsOn: [{ type: "SEQUENTIAL" }] }));
const n1 = await send(new SubmitJobCommand({
  jobName: "n1-" + run, jobQueue: q, jobDefinition: def,
  arrayProperties: { size: 2 } }));
const n2 = await send(new SubmitJobCommand({
  jobName: "n2-" + run, jobQueue: q, jobDefinition: def,
  arrayProperties: { size: 2 },
  dependsOn: [{ jobId: n1.jobId, type: "N_TO_N" }] }));
// read-your-writes: the job is there the moment SubmitJob returns
check((await describe(dep.jobId)).jobName === "dep-" + run,
      "DescribeJobs right after SubmitJob");
const all = [plain, dep, seq, n1, n2].map((j) => j.jobId);
let jobs = await waitFor(all, finished, "jobs finish");
check(all.every((id) => jobs[id].status === "SUCCEEDED"),
      "all succeed: " + all.map((id) => jobs[id].status + " " +
                                (jobs[id].statusReason || "")));
check(jobs[dep.jobId].startedAt >= jobs[plain.jobId].stoppedAt,
      "the dependent started after its dependency stopped");
check(jobs[plain.jobId].tags.kind === "plain", "DescribeJobs shows tags");
check(jobs[seq.jobId].arrayProperties.statusSummary.SUCCEEDED === 3,
      "statusSummary counts 3 children");
const kids = (await send(new DescribeJobsCommand({
  jobs: [0, 1, 2].map((i) => seq.jobId + ":" + i) }))).jobs
  .sort((a, b) => a.arrayProperties.index - b.arrayProperties.index);
check(kids[1].startedAt >= kids[0].stoppedAt &&
      kids[2].startedAt >= kids[1].stoppedAt, "SEQUENTIAL order kept");
const nk = (await send(new DescribeJobsCommand({
  jobs: [n1.jobId + ":0", n1.jobId + ":1", n2.jobId + ":0",
         n2.jobId + ":1"] }))).jobs;
check(nk[2].startedAt >= nk[0].stoppedAt && nk[3].startedAt >= nk[1].stoppedAt,
      "N_TO_N pairs children");

// list: filters and the paginator
const flt = await send(new ListJobsCommand({
  jobQueue: q, filters: [{ name: "JOB_NAME", values: ["dep-*"] }] }));
check(flt.jobSummaryList.length === 1 &&
      flt.jobSummaryList[0].jobId === dep.jobId, "ListJobs JOB_NAME filter");
const seen = [];
for await (const page of paginateListJobs({ client: batch, pageSize: 1 },
                                          { jobQueue: q, jobStatus: "SUCCEEDED" })) {
  check(page.jobSummaryList.length <= 1, "a page of one");
  seen.push(...page.jobSummaryList.map((j) => j.jobId));
}
check(seen.length === 5 && new Set(seen).size === 5,
      "the paginator walks every page once: " + seen.length);

// describe while running, cancel a waiting job, terminate running ones
const long = await send(new SubmitJobCommand({
  jobName: "long-" + run, jobQueue: q, jobDefinition: "js-sleep-" + run }));
const stubborn = await send(new SubmitJobCommand({
  jobName: "stubborn-" + run, jobQueue: q,
  jobDefinition: "js-stubborn-" + run }));
const waiting = await send(new SubmitJobCommand({
  jobName: "waiting-" + run, jobQueue: q, jobDefinition: def,
  dependsOn: [{ jobId: long.jobId }] }));
await send(new CancelJobCommand({ jobId: waiting.jobId, reason: "not needed" }));
jobs = await waitFor([long.jobId, stubborn.jobId],
                     (j) => j.status === "RUNNING", "jobs reach RUNNING");
check(typeof jobs[long.jobId].container.logStreamName === "string",
      "a RUNNING job shows its log stream");
await send(new TerminateJobCommand({ jobId: long.jobId, reason: "enough" }));
await send(new TerminateJobCommand({ jobId: stubborn.jobId, reason: "stop" }));
jobs = await waitFor([long.jobId, stubborn.jobId, waiting.jobId], finished,
                     "terminated jobs finish");
check(jobs[waiting.jobId].status === "FAILED" &&
      jobs[waiting.jobId].statusReason === "not needed" &&
      jobs[waiting.jobId].isCancelled, "cancelled");
for (const [id, reason] of [[long.jobId, "enough"], [stubborn.jobId, "stop"]]) {
  check(jobs[id].status === "FAILED" && jobs[id].statusReason === reason &&
        jobs[id].isTerminated,
        "terminated: " + jobs[id].status + " " + jobs[id].statusReason);
}

// errors as the SDK parses them
await refused(new SubmitJobCommand({ jobName: "x", jobQueue: "no-such-q-" + run,
                                     jobDefinition: def }),
              "no-such-q-" + run, "an unknown queue");
await refused(new SubmitJobCommand({ jobName: "x", jobQueue: q, jobDefinition: def,
                                     containerOverrides: { instanceType: "p3" } }),
              "containerOverrides.instanceType is not supported by Drover",
              "a member Drover does not honour");
const bad = new BatchClient({ endpoint, region: "us-east-1",
                              credentials: { ...creds, secretAccessKey: "wrong" } });
try {
  await bad.send(new DescribeJobQueuesCommand({}));
  check(false, "a wrongly signed request is accepted");
} catch (e) {
  check(e.name === "InvalidSignatureException" &&
        e.$metadata.httpStatusCode === 403, "wrong signature: " + e.name);
}

// fair share (issue 15): a policy, a fair-share queue, a share, the snapshot
const sp = await send(new CreateSchedulingPolicyCommand({
  name: "js-sp-" + run,
  fairsharePolicy: { shareDecaySeconds: 600, computeReservation: 5,
                     shareDistribution: [{ shareIdentifier: "team*",
                                           weightFactor: 0.25 }] } }));
const sps = (await send(new DescribeSchedulingPoliciesCommand({
  arns: [sp.arn] }))).schedulingPolicies;
check(sps.length === 1 &&
      sps[0].fairsharePolicy.shareDistribution[0].weightFactor === 0.25,
      "DescribeSchedulingPolicies: " + JSON.stringify(sps));
check((await send(new ListSchedulingPoliciesCommand({}))).schedulingPolicies
      .some((x) => x.arn === sp.arn), "ListSchedulingPolicies");
const fq = "js-fq-" + run;
await send(new CreateJobQueueCommand({
  jobQueueName: fq, priority: 1, schedulingPolicyArn: sp.arn,
  computeEnvironmentOrder: [{ order: 1, computeEnvironment: "fair" }] }));
const fj = await send(new SubmitJobCommand({
  jobName: "fs-" + run, jobQueue: fq, jobDefinition: def,
  shareIdentifier: "team7" }));
const snap = await send(new GetJobQueueSnapshotCommand({ jobQueue: fq }));
check(Array.isArray(snap.frontOfQueue.jobs) &&
      typeof snap.queueUtilization.lastUpdatedAt === "number",
      "GetJobQueueSnapshot: " + JSON.stringify(snap));
const fd = (await waitFor([fj.jobId], (j) => j.status === "SUCCEEDED",
                          "the fair-share job"))[fj.jobId];
check(fd.shareIdentifier === "team7", "a job's share: " + fd.shareIdentifier);
await send(new UpdateJobQueueCommand({ jobQueue: fq, state: "DISABLED" }));
await send(new DeleteJobQueueCommand({ jobQueue: fq }));
for (const deadline = Date.now() + 60000;
     (await send(new DescribeJobQueuesCommand({ jobQueues: [fq] }))).jobQueues
       .length > 0;) {
  check(Date.now() < deadline, "the fair-share queue goes");
  await sleep(500);
}
await send(new DeleteSchedulingPolicyCommand({ arn: sp.arn }));

// consumable resources (issue 15): a resource, a job needing it, the lists
const lic = "js-lic-" + run;
const cr = await send(new CreateConsumableResourceCommand({
  consumableResourceName: lic, totalQuantity: 1,
  resourceType: "REPLENISHABLE", tags: { team: "js" } }));
check(cr.consumableResourceArn.endsWith(":consumable-resource/" + lic),
      "CreateConsumableResource: " + JSON.stringify(cr));
const crDef = "js-licensed-" + run;
await send(new RegisterJobDefinitionCommand({
  jobDefinitionName: crDef, type: "container",
  consumableResourceProperties: { consumableResourceList: [
    { consumableResource: cr.consumableResourceArn, quantity: 1 }] },
  containerProperties: {
    image: "localhost/drover/busybox:latest", command: ["true"],
    resourceRequirements: [{ type: "VCPU", value: "0.25" },
                           { type: "MEMORY", value: "16" }] } }));
const cj = await send(new SubmitJobCommand({
  jobName: "lic-" + run, jobQueue: "fifo-fair", jobDefinition: crDef,
  consumableResourcePropertiesOverride: { consumableResourceList: [
    { consumableResource: lic, quantity: 1 }] } }));
const cd = (await waitFor([cj.jobId], (j) => j.status === "SUCCEEDED",
                          "the licensed job"))[cj.jobId];
check(cd.consumableResourceProperties.consumableResourceList[0]
        .consumableResource === lic,
      "a job's consumable resources: " +
      JSON.stringify(cd.consumableResourceProperties));
const crd = await send(new DescribeConsumableResourceCommand({
  consumableResource: cr.consumableResourceArn }));
check(crd.totalQuantity === 1 && crd.inUseQuantity === 0 &&
      crd.availableQuantity === 1 && crd.tags.team === "js" &&
      typeof crd.createdAt === "number",
      "DescribeConsumableResource: " + JSON.stringify(crd));
// the SDK fills in clientToken (an idempotency token) itself
const upd = await send(new UpdateConsumableResourceCommand({
  consumableResource: lic, operation: "ADD", quantity: 2 }));
check(upd.totalQuantity === 3, "UpdateConsumableResource: " + JSON.stringify(upd));
const lcr = (await send(new ListConsumableResourcesCommand({
  filters: [{ name: "CONSUMABLE_RESOURCE_NAME",
              values: [lic.toUpperCase()] }] }))).consumableResources;
check(lcr.length === 1 && lcr[0].totalQuantity === 3,
      "ListConsumableResources: " + JSON.stringify(lcr));
const lj = (await send(new ListJobsByConsumableResourceCommand({
  consumableResource: lic }))).jobs;
check(lj.length === 1 && lj[0].jobStatus === "SUCCEEDED" &&
      lj[0].quantity === 1 && lj[0].jobArn.endsWith(cj.jobId),
      "ListJobsByConsumableResource: " + JSON.stringify(lj));
await send(new DeleteConsumableResourceCommand({ consumableResource: lic }));
try {
  await send(new DescribeConsumableResourceCommand({ consumableResource: lic }));
  check(false, "a deleted consumable resource is described");
} catch (e) {
  check(e.name === "ClientException" && e.message.includes("does not exist"),
        "a deleted consumable resource: " + e.name + " " + e.message);
}

// disable and delete what was created
await send(new UpdateJobQueueCommand({ jobQueue: q, state: "DISABLED" }));
await send(new DeleteJobQueueCommand({ jobQueue: q }));
// DELETING while the dispatcher terminates its jobs, then gone
for (const deadline = Date.now() + 60000; ;) {
  const left = (await send(new DescribeJobQueuesCommand({ jobQueues: [q] })))
    .jobQueues;
  if (left.length === 0) break;
  check(left[0].status === "DELETING" && Date.now() < deadline,
        "a queue being deleted: " + JSON.stringify(left));
  await sleep(500);
}
await send(new UpdateComputeEnvironmentCommand({ computeEnvironment: ceName,
                                                 state: "DISABLED" }));
ces = (await send(new DescribeComputeEnvironmentsCommand({
  computeEnvironments: [ceName] }))).computeEnvironments;
check(ces[0].state === "DISABLED" && !(ces[0].statusReason || "").includes(
  "MISCONFIGURATION"), "a DISABLED environment: " + JSON.stringify(ces[0]));
await send(new DeleteComputeEnvironmentCommand({ computeEnvironment: ceName }));
for (const d of [def, "js-sleep-" + run, "js-stubborn-" + run, crDef]) {
  await send(new DeregisterJobDefinitionCommand({ jobDefinition: d + ":1" }));
}
console.log(`js: ${checks} checks passed against ${endpoint}`);
