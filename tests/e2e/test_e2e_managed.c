/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End-to-end: a MANAGED compute environment's workers follow its queue.
 * The stack's environment "managed" (tests/e2e/run: minvCpus 0, maxvCpus
 * 4, the process provisioner, 1-vCPU workers, idle period 5 s) has no
 * worker while nothing waits; jobs make the dispatcher start workers, up
 * to maxvCpus; they go away once idle; one killed mid-run is replaced and
 * its job retried.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "drover/pg.h"
#include "drover/util.h"
#include "e2e.h"

#define CE "managed"

static drv_pg_t *pg;

static void setup(void)
{
    e2e_setup();
    char e[512];
    pg = drv_pg_connect(drv_conf_get(e2e_conf, "pg.conninfo"), NULL, e,
                        sizeof(e));
    ck_assert_msg(pg, "%s", e);
}

static void teardown(void)
{
    drv_pg_destroy(pg);
    e2e_teardown();
}

/* One integer the database says. */
static long long pg_int(const char *sql)
{
    char e[512];
    drv_pg_res_t *r = drv_pg_query(pg, sql, 0, NULL, e, sizeof(e));
    ck_assert_msg(r, "%s: %s", sql, e);
    long long v = drv_pg_res_int(r, 0, 0, -1);
    drv_pg_res_free(r);
    return v;
}

/* The environment as DescribeComputeEnvironments shows it (owned). */
static json_t *describe(const char *name)
{
    json_t *r = e2e_call("DescribeComputeEnvironments",
                         "{\"computeEnvironments\":[\"%s\"]}", name);
    json_t *ce = json_incref(json_array_get(
        json_object_get(r, "computeEnvironments"), 0));
    json_decref(r);
    ck_assert_msg(ce, "compute environment %s not described", name);
    return ce;
}

static json_int_t desired(void)
{
    json_t *ce = describe(CE);
    json_int_t d = json_integer_value(json_object_get(
        json_object_get(ce, "computeResources"), "desiredvCpus"));
    json_decref(ce);
    return d;
}

/* Provisioned workers that are not stopping (the processes the
 * provisioner keeps), and the environment's live workers (heartbeats). */
static long long provisioned(void)
{
    return pg_int("SELECT count(*) FROM provisioned_workers WHERE "
                  "compute_environment = '" CE "' AND state <> 'STOPPING'");
}

static long long live(void)
{
    return pg_int("SELECT count(*) FROM workers WHERE compute_environment = "
                  "'" CE "' AND NOT lost");
}

/* Wait (up to timeout_s) until the environment has no worker at all and
 * wants none. */
static void wait_empty(int timeout_s)
{
    int64_t until = drv_mono_ms() + timeout_s * 1000LL;
    long long p = -1, l = -1;
    json_int_t d = -1;
    while (drv_mono_ms() < until) {
        p = pg_int("SELECT count(*) FROM provisioned_workers WHERE "
                   "compute_environment = '" CE "'");
        l = live();
        d = desired();
        if (p == 0 && l == 0 && d == 0) {
            return;
        }
        usleep(500 * 1000);
    }
    ck_abort_msg("after %d s the environment still has %lld provisioned and "
                 "%lld live workers, desiredvCpus %lld",
                 timeout_s, p, l, (long long)d);
}

/* 12 one-vCPU jobs on 1-vCPU workers, maxvCpus 4: none before, at most 4
 * at once while they wait (4 reached), all SUCCEEDED, none after the idle
 * period. */
START_TEST(test_e2e_managed_scales_from_zero_and_back)
{
    wait_empty(90);
    e2e_register_full("e2e-managed", "{\"image\":\"localhost/drover/busybox:"
                      "latest\",\"command\":[\"sh\",\"-c\",\"echo managed; "
                      "sleep 3\"],\"resourceRequirements\":[{\"type\":"
                      "\"VCPU\",\"value\":\"1\"},{\"type\":\"MEMORY\","
                      "\"value\":\"128\"}]}",
                      NULL);
    char ids[12][128];
    for (int i = 0; i < 12; i++) {
        char name[32];
        snprintf(name, sizeof(name), "managed-%d", i);
        snprintf(ids[i], sizeof(ids[i]), "%s",
                 e2e_submit_to(CE, name, "e2e-managed", NULL));
    }
    long long most = 0, most_live = 0;
    json_int_t most_desired = 0;
    int done = 0;
    int64_t until = drv_mono_ms() + 240 * 1000;
    while (done < 12 && drv_mono_ms() < until) {
        long long p = provisioned(), l = live();
        json_int_t d = desired();
        most = p > most ? p : most;
        most_live = l > most_live ? l : most_live;
        most_desired = d > most_desired ? d : most_desired;
        ck_assert_msg(p <= 4 && l <= 4 && d <= 4,
                      "over maxvCpus: %lld provisioned, %lld live, desired "
                      "%lld",
                      p, l, (long long)d);
        done = 0;
        for (int i = 0; i < 12; i++) {
            char sql[2048];
            snprintf(sql, sizeof(sql),
                     "SELECT count(*) FROM jobs WHERE job_id = '%s' AND "
                     "status IN ('SUCCEEDED', 'FAILED')",
                     ids[i]);
            done += (int)pg_int(sql);
        }
        usleep(300 * 1000);
    }
    for (int i = 0; i < 12; i++) {
        json_t *j = e2e_wait(ids[i], 60);
        ck_assert_str_eq(json_string_value(json_object_get(j, "status")),
                         "SUCCEEDED");
        json_decref(j);
    }
    printf("managed: 12 jobs, at most %lld workers started at once, %lld "
           "live, desiredvCpus up to %lld\n",
           most, most_live, (long long)most_desired);
    ck_assert_int_eq(most, 4);
    ck_assert_int_eq(most_desired, 4);
    /* every attempt ran on a worker the provisioner started */
    ck_assert_int_eq(pg_int("SELECT count(DISTINCT a.worker) FROM attempts a "
                            "JOIN jobs j USING (job_id) WHERE j.queue = '" CE
                            "' AND a.worker NOT LIKE '%" CE "-%'"),
                     0);
    wait_empty(60);
}
END_TEST

/* A provisioned worker killed while it runs a job: its attempt is lost at
 * once (not a lease later), the job is retried, and a new worker with a
 * new id takes it. */
START_TEST(test_e2e_managed_killed_worker_is_replaced)
{
    e2e_register_full("e2e-managed-long", "{\"image\":\"localhost/drover/"
                      "busybox:latest\",\"command\":[\"sh\",\"-c\",\"sleep "
                      "6; echo done\"],\"resourceRequirements\":[{\"type\":"
                      "\"VCPU\",\"value\":\"1\"},{\"type\":\"MEMORY\","
                      "\"value\":\"128\"}]}",
                      "\"retryStrategy\":{\"attempts\":2}");
    const char *id = e2e_submit_to(CE, "managed-kill", "e2e-managed-long",
                                   NULL);
    char job[64];
    snprintf(job, sizeof(job), "%s", id);
    json_decref(e2e_wait_status(job, "RUNNING", 120));
    char sql[512], e[512];
    snprintf(sql, sizeof(sql),
             "SELECT p.worker_id, split_part(p.handle, ':', 1) FROM attempts "
             "a JOIN provisioned_workers p ON p.worker_id = a.worker WHERE "
             "a.job_id = '%s' AND a.attempt = 1",
             job);
    drv_pg_res_t *r = drv_pg_query(pg, sql, 0, NULL, e, sizeof(e));
    ck_assert_msg(r && drv_pg_res_rows(r) == 1, "no provisioned worker "
                  "holds the attempt: %s", r ? "" : e);
    char worker[256];
    snprintf(worker, sizeof(worker), "%s", drv_pg_res_get(r, 0, 0));
    int pid = atoi(drv_pg_res_get(r, 0, 1));
    drv_pg_res_free(r);
    ck_assert_int_gt(pid, 1);
    int64_t t0 = drv_mono_ms();
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    json_t *j = e2e_wait(job, 120);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")),
                     "SUCCEEDED");
    json_t *attempts = json_object_get(j, "attempts");
    ck_assert_int_eq(json_array_size(attempts), 2);
    const char *why = json_string_value(json_object_get(
        json_array_get(attempts, 0), "statusReason"));
    ck_assert_msg(why && strstr(why, worker), "first attempt: %s", why);
    json_decref(j);
    /* lost at the next sweep after the provisioner saw it gone, well
     * within the 30 s lease: the retry's 6 s run included */
    int64_t took = drv_mono_ms() - t0;
    printf("managed: job retried and done %lld ms after its worker was "
           "killed\n",
           (long long)took);
    ck_assert_int_lt(took, 28000);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM attempts WHERE job_id = '%s' AND attempt "
             "= 2 AND worker <> '%s' AND worker LIKE '%%" CE "-%%'",
             job, worker);
    ck_assert_int_eq(pg_int(sql), 1);
    wait_empty(60);
}
END_TEST

/* What no worker size can hold is told so at once; desiredvCpus set
 * through the API starts workers with nothing queued, and cannot be
 * lowered (AWS's rule); minvCpus keeps workers. */
START_TEST(test_e2e_managed_sizes_and_desired)
{
    wait_empty(90);
    e2e_register_full("e2e-managed-big", "{\"image\":\"localhost/drover/"
                      "busybox:latest\",\"command\":[\"true\"],"
                      "\"resourceRequirements\":[{\"type\":\"VCPU\","
                      "\"value\":\"2\"},{\"type\":\"MEMORY\",\"value\":"
                      "\"128\"}]}",
                      NULL);
    char job[64];
    snprintf(job, sizeof(job), "%s",
             e2e_submit_to(CE, "managed-big", "e2e-managed-big", NULL));
    const char *want = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT";
    char reason[1100] = "";
    for (int i = 0; i < 40 && !strstr(reason, want); i++) {
        usleep(250 * 1000);
        json_t *r = e2e_call("DescribeJobs", "{\"jobs\":[\"%s\"]}", job);
        json_t *j = json_array_get(json_object_get(r, "jobs"), 0);
        const char *s = json_string_value(json_object_get(j,
                                                          "statusReason"));
        snprintf(reason, sizeof(reason), "%s", s ? s : "");
        json_decref(r);
    }
    ck_assert_msg(strstr(reason, want), "statusReason: %s", reason);
    ck_assert_int_eq(provisioned(), 0); /* nothing started for it */
    json_decref(e2e_call("TerminateJob", "{\"jobId\":\"%s\",\"reason\":"
                         "\"too big\"}", job));
    /* desiredvCpus 2: two workers with no job waiting */
    json_decref(e2e_call("UpdateComputeEnvironment", "{\"computeEnvironment\":"
                         "\"" CE "\",\"computeResources\":{\"desiredvCpus\":"
                         "2}}"));
    int64_t until = drv_mono_ms() + 10000;
    while (desired() != 2 && drv_mono_ms() < until) {
        usleep(100 * 1000);
    }
    ck_assert_int_eq(desired(), 2);
    /* they stay one idle period after they start (5 s here) */
    until = drv_mono_ms() + 60000;
    while (live() < 2 && drv_mono_ms() < until) {
        usleep(100 * 1000);
    }
    ck_assert_int_eq(live(), 2);
    /* lowering it is refused, as AWS refuses it */
    char e[DRV_ERRSTR_SIZE];
    drv_err_t err;
    json_t *req = json_pack("{s:s,s:{s:i}}", "computeEnvironment", CE,
                            "computeResources", "desiredvCpus", 1);
    ck_assert_ptr_null(drv_client_call(e2e_client, "UpdateComputeEnvironment",
                                       req, &err, e, sizeof(e)));
    ck_assert_msg(strstr(e, "Manually scaling down compute environment is "
                            "not supported"), "%s", e);
    json_decref(req);
    /* past maxvCpus, or minvCpus over maxvCpus: refused, naming it */
    req = json_pack("{s:s,s:{s:i}}", "computeEnvironment", CE,
                    "computeResources", "minvCpus", 5);
    ck_assert_ptr_null(drv_client_call(e2e_client, "UpdateComputeEnvironment",
                                       req, &err, e, sizeof(e)));
    ck_assert_msg(strstr(e, "minvCpus"), "%s", e);
    json_decref(req);
    /* minvCpus 1 keeps one worker past the idle period; 0 lets it go */
    json_decref(e2e_call("UpdateComputeEnvironment", "{\"computeEnvironment\":"
                         "\"" CE "\",\"computeResources\":{\"minvCpus\":1}}"));
    until = drv_mono_ms() + 60000;
    while ((live() != 1 || provisioned() != 1) && drv_mono_ms() < until) {
        usleep(250 * 1000);
    }
    ck_assert_int_eq(live(), 1);
    sleep(7); /* past the idle period: minvCpus holds it */
    ck_assert_int_eq(provisioned(), 1);
    ck_assert_int_eq(desired(), 1);
    json_decref(e2e_call("UpdateComputeEnvironment", "{\"computeEnvironment\":"
                         "\"" CE "\",\"computeResources\":{\"minvCpus\":0}}"));
    wait_empty(60);
}
END_TEST

/* Hostile or wrong settings: refused naming the field, or the
 * environment INVALID saying why; nothing is started for it. */
START_TEST(test_e2e_managed_refusals)
{
    static const struct {
        const char *req, *says;
    } bad[] = {
        {"{\"computeEnvironmentName\":\"m-bad1\",\"type\":\"MANAGED\","
         "\"tags\":{\"drover:provisioner\":\"rm -rf\"},\"computeResources\":"
         "{\"type\":\"EC2\",\"maxvCpus\":4,\"instanceRole\":\"r\","
         "\"subnets\":[]}}",
         "tags.drover:provisioner"},
        {"{\"computeEnvironmentName\":\"m-bad2\",\"type\":\"MANAGED\","
         "\"computeResources\":{\"type\":\"EC2\",\"minvCpus\":8,"
         "\"maxvCpus\":4,\"instanceRole\":\"r\",\"subnets\":[]}}",
         "minvCpus"},
        {"{\"computeEnvironmentName\":\"m-bad3\",\"type\":\"MANAGED\","
         "\"computeResources\":{\"type\":\"EC2\",\"desiredvCpus\":9,"
         "\"maxvCpus\":4,\"instanceRole\":\"r\",\"subnets\":[]}}",
         "desiredvCpus"},
        {"{\"computeEnvironmentName\":\"m-bad4\",\"type\":\"MANAGED\","
         "\"computeResources\":{\"type\":\"EC2\",\"maxvCpus\":-1,"
         "\"instanceRole\":\"r\",\"subnets\":[]}}",
         "maxvCpus"},
        {"{\"computeEnvironmentName\":\"m-bad5\",\"type\":\"MANAGED\","
         "\"computeResources\":{\"type\":\"EC2\",\"maxvCpus\":4,"
         "\"instanceRole\":\"r\",\"subnets\":[],\"instanceTypes\":[\""
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "\"]}}",
         "instanceTypes[0]"},
        {"{\"computeEnvironmentName\":\"m-bad6\",\"type\":\"MANAGED\","
         "\"computeResources\":{\"type\":\"EC2\",\"maxvCpus\":4,"
         "\"desiredvCpus\":2.5,\"instanceRole\":\"r\",\"subnets\":[]}}",
         "desiredvCpus"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char e[DRV_ERRSTR_SIZE];
        drv_err_t err;
        json_t *req = json_loads(bad[i].req, 0, NULL);
        ck_assert(req);
        ck_assert_ptr_null(drv_client_call(e2e_client,
                                           "CreateComputeEnvironment", req,
                                           &err, e, sizeof(e)));
        ck_assert_msg(strstr(e, bad[i].says), "%s: %s", bad[i].says, e);
        json_decref(req);
    }
    /* the tag set later, through TagResource: checked the same way */
    {
        json_t *ce = describe(CE);
        char e[DRV_ERRSTR_SIZE];
        drv_err_t err;
        json_t *req = json_pack(
            "{s:O,s:{s:s}}", "resourceArn",
            json_object_get(ce, "computeEnvironmentArn"), "tags",
            "drover:provisioner", "process\n; rm -rf /");
        ck_assert_ptr_null(drv_client_call(e2e_client, "TagResource", req,
                                           &err, e, sizeof(e)));
        ck_assert_msg(strstr(e, "tags.drover:provisioner"), "%s", e);
        json_decref(req);
        json_decref(ce);
        ce = describe(CE);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
                             ce, "tags"), "drover:provisioner")),
                         "process");
        json_decref(ce);
    }
    /* an instance type no worker size is, and an environment with no
     * worker configuration: INVALID, saying which */
    json_decref(e2e_call("CreateComputeEnvironment",
                         "{\"computeEnvironmentName\":\"m-types\",\"type\":"
                         "\"MANAGED\",\"tags\":{\"drover:provisioner\":"
                         "\"process\"},\"computeResources\":{\"type\":"
                         "\"EC2\",\"maxvCpus\":4,\"instanceRole\":\"r\","
                         "\"subnets\":[],\"instanceTypes\":[\"m5.huge\"]}}"));
    json_decref(e2e_call("CreateComputeEnvironment",
                         "{\"computeEnvironmentName\":\"m-noconf\",\"type\":"
                         "\"MANAGED\",\"tags\":{\"drover:provisioner\":"
                         "\"process\"},\"computeResources\":{\"type\":"
                         "\"EC2\",\"minvCpus\":1,\"maxvCpus\":4,"
                         "\"instanceRole\":\"r\",\"subnets\":[]}}"));
    static const char *const names[] = {"m-types", "m-noconf"};
    static const char *const says[] = {"m5.huge", "no worker configuration"};
    for (int i = 0; i < 2; i++) {
        json_t *ce = NULL;
        for (int t = 0; t < 40; t++) {
            json_decref(ce);
            ce = describe(names[i]);
            if (!strcmp(json_string_value(json_object_get(ce, "status")),
                        "INVALID")) {
                break;
            }
            usleep(250 * 1000);
        }
        ck_assert_str_eq(json_string_value(json_object_get(ce, "status")),
                         "INVALID");
        const char *why = json_string_value(json_object_get(ce,
                                                            "statusReason"));
        ck_assert_msg(why && strstr(why, says[i]), "%s: %s", names[i], why);
        json_decref(ce);
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM provisioned_workers WHERE "
                 "compute_environment = '%s'",
                 names[i]);
        ck_assert_int_eq(pg_int(sql), 0);
        json_decref(e2e_call("UpdateComputeEnvironment",
                             "{\"computeEnvironment\":\"%s\",\"state\":"
                             "\"DISABLED\"}", names[i]));
        json_decref(e2e_call("DeleteComputeEnvironment",
                             "{\"computeEnvironment\":\"%s\"}", names[i]));
    }
}
END_TEST

/* What the fake Kubernetes API (tests/e2e/fake_kube.py) was asked,
 * (owned), through its /_log. */
static json_t *kube_log(void)
{
    char cmd[256], buf[1 << 20];
    snprintf(cmd, sizeof(cmd), "curl -s http://127.0.0.1:%s/_log",
             getenv("DROVER_FAKE_KUBE_PORT") ? getenv("DROVER_FAKE_KUBE_PORT")
                                              : "29443");
    FILE *p = popen(cmd, "r");
    ck_assert(p);
    size_t n = fread(buf, 1, sizeof(buf) - 1, p);
    buf[n] = '\0';
    pclose(p);
    json_t *j = json_loads(buf, 0, NULL);
    ck_assert_msg(json_is_array(j), "fake API log: %.200s", buf);
    return j;
}

#define KUBE_SCALE                                                           \
    "/apis/apps/v1/namespaces/drover-e2e/deployments/drover-worker-kube/"  \
    "scale"

/* The last replicas the provisioner set on the Deployment (-1: none). */
static int kube_replicas(json_t *log)
{
    int last = -1;
    size_t i;
    json_t *r;
    json_array_foreach(log, i, r)
    {
        const char *path = json_string_value(json_object_get(r, "path"));
        if (!strcmp(json_string_value(json_object_get(r, "method")),
                    "PATCH") &&
            !strcmp(path, KUBE_SCALE)) {
            ck_assert_str_eq(json_string_value(json_object_get(r, "type")),
                             "application/merge-patch+json");
            last = (int)json_integer_value(json_object_get(
                json_object_get(json_object_get(r, "body"), "spec"),
                "replicas"));
        }
    }
    return last;
}

/* The environment "kube" (tests/e2e/run: the kubernetes provisioner,
 * maxvCpus 3, a Deployment of 1 replica whose pod's worker kube-pod-a is
 * started by hand): 3 jobs scale it to 3 through the scale subresource;
 * once they are done and the worker idle, its pod is marked to be deleted
 * first (pod-deletion-cost) and the Deployment scaled to 0. The fake API
 * runs no pods: the one worker runs all three jobs. */
START_TEST(test_e2e_managed_kubernetes_scales_a_deployment)
{
    e2e_register_full("e2e-kube", "{\"image\":\"none\",\"command\":[\"sh\","
                      "\"-c\",\"sleep 1\"],\"resourceRequirements\":[{"
                      "\"type\":\"VCPU\",\"value\":\"1\"},{\"type\":"
                      "\"MEMORY\",\"value\":\"64\"}]}",
                      NULL);
    char ids[3][128];
    for (int i = 0; i < 3; i++) {
        snprintf(ids[i], sizeof(ids[i]), "%s",
                 e2e_submit_to("kube", "kube", "e2e-kube", NULL));
    }
    int most = -1;
    int64_t until = drv_mono_ms() + 30000;
    while (most < 3 && drv_mono_ms() < until) {
        json_t *log = kube_log();
        int r = kube_replicas(log);
        most = r > most ? r : most;
        json_decref(log);
        usleep(200 * 1000);
    }
    ck_assert_int_eq(most, 3);
    json_t *ce = describe("kube");
    ck_assert_str_eq(json_string_value(json_object_get(ce, "status")),
                     "VALID");
    json_decref(ce);
    /* the one worker there is runs them all */
    for (int i = 0; i < 3; i++) {
        json_t *j = e2e_wait(ids[i], 120);
        ck_assert_str_eq(json_string_value(json_object_get(j, "status")),
                         "SUCCEEDED");
        json_decref(j);
    }
    int last = -1;
    until = drv_mono_ms() + 60000;
    while (last != 0 && drv_mono_ms() < until) {
        json_t *log = kube_log();
        last = kube_replicas(log);
        json_decref(log);
        usleep(250 * 1000);
    }
    ck_assert_int_eq(last, 0);
    /* before scaling down it marked the idle worker's pod to go first */
    json_t *log = kube_log();
    bool marked = false;
    size_t i;
    json_t *r;
    json_array_foreach(log, i, r)
    {
        const char *path = json_string_value(json_object_get(r, "path"));
        json_t *ann = json_object_get(json_object_get(json_object_get(
                                          r, "body"), "metadata"),
                                      "annotations");
        const char *cost = json_string_value(json_object_get(
            ann, "controller.kubernetes.io/pod-deletion-cost"));
        marked = marked ||
                 (!strcmp(path, "/api/v1/namespaces/drover-e2e/pods/"
                                "kube-pod-a") &&
                  cost && !strcmp(cost, "-1000"));
    }
    ck_assert_msg(marked, "no pod-deletion-cost on kube-pod-a");
    json_decref(log);
    ce = describe("kube");
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(ce, "computeResources"),
                         "desiredvCpus")),
                     0);
    json_decref(ce);
}
END_TEST

/* A worker that starts but never sends a heartbeat (its Kafka is not
 * there) is killed at the register deadline (8 s here) and counted, and
 * another is started after a pause; never two at once for minvCpus 1. */
START_TEST(test_e2e_managed_silent_worker_is_killed)
{
    /* the provisioned workers' configuration: the stack's, but a Kafka
     * that nothing serves */
    char path[4096], stack[2048];
    snprintf(stack, sizeof(stack), "%s", getenv("DROVER_CONFIG"));
    char *slash = strrchr(stack, '/');
    ck_assert(slash);
    *slash = '\0';
    snprintf(path, sizeof(path), "%s/conf/provision-m-silent.conf", stack);
    FILE *fp = fopen(path, "w");
    ck_assert(fp);
    fprintf(fp, "include = %s/drover.conf\nkafka.bootstrap.servers = "
                "127.0.0.1:1\nworker.runtime = process\n",
            stack);
    fclose(fp);
    json_decref(e2e_call("CreateComputeEnvironment",
                         "{\"computeEnvironmentName\":\"m-silent\",\"type\":"
                         "\"MANAGED\",\"tags\":{\"drover:provisioner\":"
                         "\"process\"},\"computeResources\":{\"type\":"
                         "\"EC2\",\"minvCpus\":1,\"maxvCpus\":1,"
                         "\"instanceRole\":\"r\",\"subnets\":[]}}"));
    long long most = 0;
    int64_t until = drv_mono_ms() + 60000;
    static char buf[1 << 17];
    const char *want = "drover_provisioner_failures_total{compute_environment="
                       "\"m-silent\",reason=\"register_timeout\"} ";
    bool counted = false;
    while (!counted && drv_mono_ms() < until) {
        long long p = pg_int("SELECT count(*) FROM provisioned_workers WHERE "
                             "compute_environment = 'm-silent' AND state <> "
                             "'STOPPING'");
        most = p > most ? p : most;
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "curl -s http://127.0.0.1:%s/metrics",
                 getenv("DROVER_METRICS_PORT"));
        FILE *pp = popen(cmd, "r");
        ck_assert(pp);
        size_t n = fread(buf, 1, sizeof(buf) - 1, pp);
        buf[n] = '\0';
        pclose(pp);
        counted = strstr(buf, want) != NULL;
        usleep(250 * 1000);
    }
    ck_assert_msg(counted, "no %s in /metrics", want);
    ck_assert_int_eq(most, 1);
    /* it never became a worker */
    ck_assert_int_eq(pg_int("SELECT count(*) FROM workers WHERE "
                            "compute_environment = 'm-silent'"),
                     0);
    json_decref(e2e_call("UpdateComputeEnvironment", "{\"computeEnvironment\":"
                         "\"m-silent\",\"state\":\"DISABLED\","
                         "\"computeResources\":{\"minvCpus\":0}}"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("managed");
    TCase *tc = tcase_create("managed");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 400);
    tcase_add_test(tc, test_e2e_managed_refusals);
    tcase_add_test(tc, test_e2e_managed_scales_from_zero_and_back);
    tcase_add_test(tc, test_e2e_managed_killed_worker_is_replaced);
    tcase_add_test(tc, test_e2e_managed_sizes_and_desired);
    tcase_add_test(tc, test_e2e_managed_kubernetes_scales_a_deployment);
    tcase_add_test(tc, test_e2e_managed_silent_worker_is_killed);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
