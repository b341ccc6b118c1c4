// An ordinary AWS SDK for Java v2 program, pointed at drover-gateway: only
// the endpoint and the credentials differ from what runs against AWS. The
// Java SDK checks every reply's types against the model (an Integer
// written as 1.0 fails to unmarshall), so each call here is also a check.
// Usage: java -cp CLASSPATH Scenario.java ENDPOINT_URL
// The same scenario as tests/gateway/js/scenario.mjs.
import java.net.URI;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.stream.Collectors;

import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.batch.BatchClient;
import software.amazon.awssdk.services.batch.model.*;

public class Scenario {
    static int checks = 0;
    static BatchClient batch;

    static void check(boolean cond, String what) {
        if (!cond) {
            System.err.println("FAILED: " + what);
            System.exit(1);
        }
        checks++;
    }

    static BatchClient client(String endpoint, String secret) {
        return BatchClient.builder()
            .endpointOverride(URI.create(endpoint))
            .region(Region.US_EAST_1)
            .httpClient(UrlConnectionHttpClient.create())
            .credentialsProvider(StaticCredentialsProvider.create(
                AwsBasicCredentials.create("local", secret)))
            .build();
    }

    static Map<String, JobDetail> waitFor(List<String> ids, Predicate<JobDetail> done,
                                          String what) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 180_000;
        for (;;) {
            List<JobDetail> jobs = batch.describeJobs(b -> b.jobs(ids)).jobs();
            if (jobs.size() == ids.size() && jobs.stream().allMatch(done)) {
                Map<String, JobDetail> m = new HashMap<>();
                jobs.forEach(j -> m.put(j.jobId(), j));
                return m;
            }
            check(System.currentTimeMillis() < deadline, what + ": " +
                  jobs.stream().map(j -> j.jobName() + "=" + j.status())
                      .collect(Collectors.joining(" ")));
            Thread.sleep(500);
        }
    }

    static boolean finished(JobDetail j) {
        return j.status() == JobStatus.SUCCEEDED || j.status() == JobStatus.FAILED;
    }

    static void refused(Runnable call, String needle, String what) {
        try {
            call.run();
            check(false, what + ": accepted");
        } catch (ClientException e) {
            check(e.statusCode() == 400 && e.awsErrorDetails().errorMessage().contains(needle),
                  what + ": " + e.awsErrorDetails().errorMessage());
        }
    }

    public static void main(String[] args) throws Exception {
        String endpoint = args[0];
        batch = client(endpoint, "local-secret");
        String run = UUID.randomUUID().toString().substring(0, 8);
        String image = "localhost/drover/busybox:latest";
        List<ResourceRequirement> rr = List.of(
            ResourceRequirement.builder().type(ResourceType.VCPU).value("0.25").build(),
            ResourceRequirement.builder().type(ResourceType.MEMORY).value("32").build());

        // definitions
        String def = "java-" + run;
        RegisterJobDefinitionResponse jd = batch.registerJobDefinition(b -> b
            .jobDefinitionName(def).type(JobDefinitionType.CONTAINER)
            .parameters(Map.of("msg", "hello"))
            .retryStrategy(r -> r.attempts(1))
            .containerProperties(c -> c.image(image).resourceRequirements(rr)
                .command("sh", "-c", "echo Ref::msg $AWS_BATCH_JOB_ARRAY_INDEX")));
        check(jd.revision() == 1 &&
              jd.jobDefinitionArn().endsWith(":job-definition/" + def + ":1"),
              "RegisterJobDefinition");
        batch.registerJobDefinition(b -> b.jobDefinitionName("java-sleep-" + run)
            .type(JobDefinitionType.CONTAINER)
            .containerProperties(c -> c.image(image).resourceRequirements(rr)
                .command("sleep", "60")));
        batch.registerJobDefinition(b -> b.jobDefinitionName("java-stubborn-" + run)
            .type(JobDefinitionType.CONTAINER)
            .containerProperties(c -> c.image(image).resourceRequirements(rr)
                .command("sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done")));
        List<JobDefinition> defs = batch.describeJobDefinitions(b -> b
            .jobDefinitionName(def).status("ACTIVE")).jobDefinitions();
        check(defs.size() == 1 && defs.get(0).parameters().get("msg").equals("hello") &&
              defs.get(0).containerProperties().resourceRequirements().size() == 2,
              "DescribeJobDefinitions");

        // an environment: UNMANAGED without computeResources, as AWS allows
        String ceName = "java-ce-" + run;
        CreateComputeEnvironmentResponse ce = batch.createComputeEnvironment(b -> b
            .computeEnvironmentName(ceName).type(CEType.UNMANAGED).unmanagedvCpus(4));
        check(ce.computeEnvironmentArn().endsWith(":compute-environment/" + ceName),
              "CreateComputeEnvironment");
        batch.updateComputeEnvironment(b -> b.computeEnvironment(ceName).unmanagedvCpus(8));
        List<ComputeEnvironmentDetail> ces = batch.describeComputeEnvironments(b -> b
            .computeEnvironments(ceName)).computeEnvironments();
        check(ces.size() == 1 && ces.get(0).unmanagedvCpus() == 8 &&
              ces.get(0).state() == CEState.ENABLED && ces.get(0).status() == CEStatus.VALID,
              "UpdateComputeEnvironment: " + ces);

        // a queue on the stack's workers, with tags
        String q = "java-q-" + run;
        CreateJobQueueResponse cq = batch.createJobQueue(b -> b.jobQueueName(q)
            .priority(5).state(JQState.ENABLED).tags(Map.of("team", "data"))
            .computeEnvironmentOrder(o -> o.order(1).computeEnvironment("local")));
        batch.updateJobQueue(b -> b.jobQueue(q).priority(7));
        List<JobQueueDetail> qs = batch.describeJobQueues(b -> b
            .jobQueues(cq.jobQueueArn())).jobQueues();
        check(qs.get(0).priority() == 7 && qs.get(0).status() == JQStatus.VALID,
              "UpdateJobQueue");

        // tags by ARN
        batch.tagResource(b -> b.resourceArn(cq.jobQueueArn()).tags(Map.of("env", "test")));
        Map<String, String> tags = batch.listTagsForResource(b -> b
            .resourceArn(cq.jobQueueArn())).tags();
        check(tags.equals(Map.of("team", "data", "env", "test")), "TagResource: " + tags);
        batch.untagResource(b -> b.resourceArn(cq.jobQueueArn()).tagKeys("team"));
        tags = batch.listTagsForResource(b -> b.resourceArn(cq.jobQueueArn())).tags();
        check(tags.equals(Map.of("env", "test")), "UntagResource: " + tags);

        // plain, dependent, SEQUENTIAL array, N_TO_N arrays
        SubmitJobResponse plain = batch.submitJob(b -> b.jobName("plain-" + run)
            .jobQueue(q).jobDefinition(def).tags(Map.of("kind", "plain")));
        SubmitJobResponse dep = batch.submitJob(b -> b.jobName("dep-" + run)
            .jobQueue(q).jobDefinition(def).parameters(Map.of("msg", "after"))
            .dependsOn(d -> d.jobId(plain.jobId())));
        SubmitJobResponse seq = batch.submitJob(b -> b.jobName("seq-" + run)
            .jobQueue(q).jobDefinition(def).arrayProperties(a -> a.size(3))
            .dependsOn(d -> d.type(ArrayJobDependency.SEQUENTIAL)));
        SubmitJobResponse n1 = batch.submitJob(b -> b.jobName("n1-" + run)
            .jobQueue(q).jobDefinition(def).arrayProperties(a -> a.size(2)));
        SubmitJobResponse n2 = batch.submitJob(b -> b.jobName("n2-" + run)
            .jobQueue(q).jobDefinition(def).arrayProperties(a -> a.size(2))
            .dependsOn(d -> d.jobId(n1.jobId()).type(ArrayJobDependency.N_TO_N)));
        // read-your-writes: the job is there the moment SubmitJob returns
        List<JobDetail> now = batch.describeJobs(b -> b.jobs(dep.jobId())).jobs();
        check(now.size() == 1 && now.get(0).jobName().equals("dep-" + run),
              "DescribeJobs right after SubmitJob");
        List<String> all = List.of(plain.jobId(), dep.jobId(), seq.jobId(),
                                   n1.jobId(), n2.jobId());
        Map<String, JobDetail> jobs = waitFor(all, Scenario::finished, "jobs finish");
        for (String id : all) {
            check(jobs.get(id).status() == JobStatus.SUCCEEDED,
                  "succeeded: " + jobs.get(id).jobName() + " " + jobs.get(id).statusReason());
        }
        check(jobs.get(dep.jobId()).startedAt() >= jobs.get(plain.jobId()).stoppedAt(),
              "the dependent started after its dependency stopped");
        check("plain".equals(jobs.get(plain.jobId()).tags().get("kind")),
              "DescribeJobs shows tags");
        check(jobs.get(seq.jobId()).arrayProperties().statusSummary().get("SUCCEEDED") == 3,
              "statusSummary counts 3 children");
        List<JobDetail> kids = new ArrayList<>(batch.describeJobs(b -> b.jobs(
            seq.jobId() + ":0", seq.jobId() + ":1", seq.jobId() + ":2")).jobs());
        kids.sort((a, b) -> a.arrayProperties().index() - b.arrayProperties().index());
        check(kids.get(1).startedAt() >= kids.get(0).stoppedAt() &&
              kids.get(2).startedAt() >= kids.get(1).stoppedAt(), "SEQUENTIAL order kept");
        List<JobDetail> nk = batch.describeJobs(b -> b.jobs(n1.jobId() + ":0",
            n1.jobId() + ":1", n2.jobId() + ":0", n2.jobId() + ":1")).jobs();
        check(nk.get(2).startedAt() >= nk.get(0).stoppedAt() &&
              nk.get(3).startedAt() >= nk.get(1).stoppedAt(), "N_TO_N pairs children");

        // list: filters and the paginator
        List<JobSummary> flt = batch.listJobs(b -> b.jobQueue(q).filters(
            f -> f.name("JOB_NAME").values("dep-*"))).jobSummaryList();
        check(flt.size() == 1 && flt.get(0).jobId().equals(dep.jobId()),
              "ListJobs JOB_NAME filter");
        List<String> seen = new ArrayList<>();
        batch.listJobsPaginator(b -> b.jobQueue(q).jobStatus(JobStatus.SUCCEEDED)
            .maxResults(1)).jobSummaryList().forEach(j -> seen.add(j.jobId()));
        check(seen.size() == 5 && new HashSet<>(seen).size() == 5,
              "the paginator walks every page once: " + seen.size());

        // describe while running, cancel a waiting job, terminate running ones
        SubmitJobResponse lng = batch.submitJob(b -> b.jobName("long-" + run)
            .jobQueue(q).jobDefinition("java-sleep-" + run));
        SubmitJobResponse stubborn = batch.submitJob(b -> b.jobName("stubborn-" + run)
            .jobQueue(q).jobDefinition("java-stubborn-" + run));
        SubmitJobResponse waiting = batch.submitJob(b -> b.jobName("waiting-" + run)
            .jobQueue(q).jobDefinition(def).dependsOn(d -> d.jobId(lng.jobId())));
        batch.cancelJob(b -> b.jobId(waiting.jobId()).reason("not needed"));
        jobs = waitFor(List.of(lng.jobId(), stubborn.jobId()),
                       j -> j.status() == JobStatus.RUNNING, "jobs reach RUNNING");
        check(jobs.get(lng.jobId()).container().logStreamName() != null,
              "a RUNNING job shows its log stream");
        batch.terminateJob(b -> b.jobId(lng.jobId()).reason("enough"));
        batch.terminateJob(b -> b.jobId(stubborn.jobId()).reason("stop"));
        jobs = waitFor(List.of(lng.jobId(), stubborn.jobId(), waiting.jobId()),
                       Scenario::finished, "terminated jobs finish");
        JobDetail w = jobs.get(waiting.jobId());
        check(w.status() == JobStatus.FAILED && "not needed".equals(w.statusReason()) &&
              w.isCancelled(), "cancelled");
        for (String[] t : new String[][] {{lng.jobId(), "enough"}, {stubborn.jobId(), "stop"}}) {
            JobDetail j = jobs.get(t[0]);
            check(j.status() == JobStatus.FAILED && t[1].equals(j.statusReason()) &&
                  j.isTerminated(), "terminated: " + j.status() + " " + j.statusReason());
        }

        // errors as the SDK parses them
        refused(() -> batch.submitJob(b -> b.jobName("x").jobQueue("no-such-q-" + run)
                    .jobDefinition(def)), "no-such-q-" + run, "an unknown queue");
        refused(() -> batch.submitJob(b -> b.jobName("x").jobQueue(q).jobDefinition(def)
                    .containerOverrides(c -> c.instanceType("p3"))),
                "containerOverrides.instanceType is not supported by Drover",
                "a member Drover does not honour");
        try {
            client(endpoint, "wrong").describeJobQueues(b -> {});
            check(false, "a wrongly signed request is accepted");
        } catch (BatchException e) {
            check(e.statusCode() == 403 &&
                  "InvalidSignatureException".equals(e.awsErrorDetails().errorCode()),
                  "wrong signature: " + e.awsErrorDetails().errorCode());
        }

        // fair share (issue 15): each reply unmarshalled by the strict SDK
        String spName = "java-sp-" + run;
        CreateSchedulingPolicyResponse sp = batch.createSchedulingPolicy(b -> b
            .name(spName).fairsharePolicy(f -> f.shareDecaySeconds(600)
                .computeReservation(10).shareDistribution(ShareAttributes.builder()
                    .shareIdentifier("gold").weightFactor(0.5f).build())));
        List<SchedulingPolicyDetail> sps = batch.describeSchedulingPolicies(b -> b
            .arns(sp.arn())).schedulingPolicies();
        check(sps.size() == 1 && sps.get(0).fairsharePolicy().computeReservation() == 10 &&
              sps.get(0).fairsharePolicy().shareDistribution().get(0).weightFactor() == 0.5f,
              "DescribeSchedulingPolicies: " + sps);
        check(batch.listSchedulingPolicies(b -> {}).schedulingPolicies().stream()
              .anyMatch(x -> x.arn().equals(sp.arn())), "ListSchedulingPolicies");
        batch.updateSchedulingPolicy(b -> b.arn(sp.arn())
            .fairsharePolicy(f -> f.shareDecaySeconds(1200)));
        String fq = "java-fq-" + run;
        batch.createJobQueue(b -> b.jobQueueName(fq).priority(1)
            .schedulingPolicyArn(sp.arn())
            .computeEnvironmentOrder(o -> o.order(1).computeEnvironment("fair")));
        check(sp.arn().equals(batch.describeJobQueues(b -> b.jobQueues(fq)).jobQueues()
              .get(0).schedulingPolicyArn()), "a fair-share queue shows its policy");
        SubmitJobResponse fj = batch.submitJob(b -> b.jobName("fs-" + run).jobQueue(fq)
            .jobDefinition(def).shareIdentifier("gold").schedulingPriorityOverride(3));
        GetJobQueueSnapshotResponse snap = batch.getJobQueueSnapshot(b -> b.jobQueue(fq));
        check(snap.frontOfQueue() != null && snap.queueUtilization() != null &&
              snap.queueUtilization().fairshareUtilization() != null,
              "GetJobQueueSnapshot: " + snap);
        JobDetail fd = waitFor(List.of(fj.jobId()),
            j -> j.status() == JobStatus.SUCCEEDED, "the fair-share job").get(fj.jobId());
        check("gold".equals(fd.shareIdentifier()) && fd.schedulingPriority() == 3,
              "a job's share and priority: " + fd);
        check(batch.listJobs(b -> b.jobQueue(fq).jobStatus(JobStatus.SUCCEEDED)
              .filters(KeyValuesPair.builder().name("SHARE_IDENTIFIER").values("gold").build()))
              .jobSummaryList().stream().anyMatch(x -> "gold".equals(x.shareIdentifier())),
              "ListJobs by SHARE_IDENTIFIER");
        batch.updateJobQueue(b -> b.jobQueue(fq).state(JQState.DISABLED));
        batch.deleteJobQueue(b -> b.jobQueue(fq));
        for (long deadline = System.currentTimeMillis() + 60_000;
             !batch.describeJobQueues(b -> b.jobQueues(fq)).jobQueues().isEmpty(); ) {
            check(System.currentTimeMillis() < deadline, "the fair-share queue goes");
            Thread.sleep(500);
        }
        batch.deleteSchedulingPolicy(b -> b.arn(sp.arn()));

        // consumable resources (issue 15): Longs in every reply
        String lic = "java-lic-" + run;
        CreateConsumableResourceResponse cr = batch.createConsumableResource(b -> b
            .consumableResourceName(lic).totalQuantity(6_000_000_000L)
            .resourceType("REPLENISHABLE"));
        check(cr.consumableResourceArn().endsWith(":consumable-resource/" + lic),
              "CreateConsumableResource: " + cr);
        UpdateConsumableResourceResponse cu = batch.updateConsumableResource(b -> b
            .consumableResource(cr.consumableResourceArn()).operation("SET")
            .quantity(2L));
        check(cu.totalQuantity() == 2L, "UpdateConsumableResource: " + cu);
        String crDef = "java-licensed-" + run;
        batch.registerJobDefinition(b -> b.jobDefinitionName(crDef)
            .type(JobDefinitionType.CONTAINER)
            .consumableResourceProperties(p -> p.consumableResourceList(
                ConsumableResourceRequirement.builder().consumableResource(lic)
                    .quantity(1L).build()))
            .containerProperties(c -> c.image("localhost/drover/busybox:latest")
                .command("true").resourceRequirements(
                    ResourceRequirement.builder().type(ResourceType.VCPU).value("0.25").build(),
                    ResourceRequirement.builder().type(ResourceType.MEMORY).value("16").build())));
        SubmitJobResponse cj = batch.submitJob(b -> b.jobName("lic-" + run)
            .jobQueue("fifo-fair").jobDefinition(crDef));
        JobDetail cd = waitFor(List.of(cj.jobId()),
            j -> j.status() == JobStatus.SUCCEEDED, "the licensed job").get(cj.jobId());
        check(lic.equals(cd.consumableResourceProperties().consumableResourceList()
              .get(0).consumableResource()), "a job's consumable resources: " + cd);
        DescribeConsumableResourceResponse crd = batch.describeConsumableResource(b -> b
            .consumableResource(lic));
        check(crd.totalQuantity() == 2L && crd.inUseQuantity() == 0L &&
              crd.availableQuantity() == 2L, "DescribeConsumableResource: " + crd);
        check(batch.listConsumableResources(b -> b.filters(KeyValuesPair.builder()
              .name("CONSUMABLE_RESOURCE_NAME").values(lic).build()))
              .consumableResources().size() == 1, "ListConsumableResources");
        List<ListJobsByConsumableResourceSummary> lj = batch
            .listJobsByConsumableResource(b -> b.consumableResource(lic)).jobs();
        check(lj.size() == 1 && lj.get(0).quantity() == 1L &&
              "SUCCEEDED".equals(lj.get(0).jobStatus()),
              "ListJobsByConsumableResource: " + lj);
        batch.deleteConsumableResource(b -> b.consumableResource(lic));
        batch.deregisterJobDefinition(b -> b.jobDefinition(crDef + ":1"));

        // disable and delete what was created
        batch.updateJobQueue(b -> b.jobQueue(q).state(JQState.DISABLED));
        batch.deleteJobQueue(b -> b.jobQueue(q));
        // DELETING while the dispatcher terminates its jobs, then gone
        for (long deadline = System.currentTimeMillis() + 60_000; ; ) {
            List<JobQueueDetail> left = batch.describeJobQueues(b -> b.jobQueues(q)).jobQueues();
            if (left.isEmpty()) {
                break;
            }
            check(left.get(0).status() == JQStatus.DELETING &&
                  System.currentTimeMillis() < deadline, "a queue being deleted: " + left);
            Thread.sleep(500);
        }
        batch.updateComputeEnvironment(b -> b.computeEnvironment(ceName)
            .state(CEState.DISABLED));
        ComputeEnvironmentDetail d = batch.describeComputeEnvironments(b -> b
            .computeEnvironments(ceName)).computeEnvironments().get(0);
        check(d.state() == CEState.DISABLED && (d.statusReason() == null ||
              !d.statusReason().contains("MISCONFIGURATION")),
              "a DISABLED environment: " + d);
        batch.deleteComputeEnvironment(b -> b.computeEnvironment(ceName));
        for (String n : List.of(def, "java-sleep-" + run, "java-stubborn-" + run)) {
            batch.deregisterJobDefinition(b -> b.jobDefinition(n + ":1"));
        }
        System.out.println("java: " + checks + " checks passed against " + endpoint);
    }
}
