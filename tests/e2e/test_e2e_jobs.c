/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End-to-end: jobs travel producer -> Kafka -> dispatcher -> PostgreSQL ->
 * Kafka -> worker -> container (podman) -> status -> dispatcher, on the
 * real local stack that tests/e2e/run starts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover/avro_codec.h"
#include "drover/kafka.h"
#include "drover/pg.h"
#include "drover/util.h"
#include "e2e.h"
#include "check_main.h"

static const char *status_of(json_t *j)
{
    return json_string_value(json_object_get(j, "status"));
}

static json_int_t container_int(json_t *j, const char *k)
{
    return json_integer_value(json_object_get(json_object_get(j, "container"),
                                              k));
}

START_TEST(test_e2e_exit_zero_succeeds)
{
    e2e_register("e2e-ok", "[\"sh\",\"-c\",\"echo ok\"]", 32);
    json_t *j = e2e_wait(e2e_submit("ok", "e2e-ok", NULL), 120);
    ck_assert_str_eq(status_of(j), "SUCCEEDED");
    ck_assert_int_eq(container_int(j, "exitCode"), 0);
    ck_assert_int_eq(json_array_size(json_object_get(j, "attempts")), 1);
    ck_assert(json_integer_value(json_object_get(j, "startedAt")) >=
              json_integer_value(json_object_get(j, "createdAt")));
    json_decref(j);
}
END_TEST

START_TEST(test_e2e_exit_three_fails)
{
    e2e_register("e2e-exit3", "[\"sh\",\"-c\",\"exit 3\"]", 32);
    json_t *j = e2e_wait(e2e_submit("three", "e2e-exit3", NULL), 120);
    ck_assert_str_eq(status_of(j), "FAILED");
    ck_assert_int_eq(container_int(j, "exitCode"), 3);
    ck_assert_str_eq(json_string_value(json_object_get(j, "statusReason")),
                     "Essential container in task exited");
    json_decref(j);
}
END_TEST

START_TEST(test_e2e_memory_limit_kills)
{
    /* 16 MiB limit; the shell tries to hold 64 MiB */
    e2e_register("e2e-oom",
                 "[\"sh\",\"-c\",\"x=$(head -c 67108864 /dev/zero | tr "
                 "'\\\\0' a); echo ${#x}\"]",
                 16);
    json_t *j = e2e_wait(e2e_submit("oom", "e2e-oom", NULL), 120);
    ck_assert_str_eq(status_of(j), "FAILED");
    ck_assert_int_eq(container_int(j, "exitCode"), 137);
    const char *reason = json_string_value(
        json_object_get(json_object_get(j, "container"), "reason"));
    ck_assert_ptr_nonnull(reason);
    ck_assert_str_eq(reason,
                     "OutOfMemoryError: Container killed due to memory usage");
    json_decref(j);
}
END_TEST

/* The process runtime (queue "proc", served by a worker with
 * worker.runtime = process; tests/e2e/run starts it): the command runs on
 * the host with the job's environment, exit code and limits. */
START_TEST(test_e2e_process_runtime_runs_the_command)
{
    e2e_register("e2e-proc",
                 "[\"sh\",\"-c\",\"echo id=$AWS_BATCH_JOB_ID idx=$AWS_BATCH_"
                 "JOB_ARRAY_INDEX; pwd; exit 3\"]",
                 32);
    const char *id = e2e_submit_to("proc", "proc", "e2e-proc", NULL);
    char job_id[64];
    snprintf(job_id, sizeof(job_id), "%s", id);
    json_t *j = e2e_wait(job_id, 120);
    ck_assert_str_eq(status_of(j), "FAILED");
    ck_assert_int_eq(container_int(j, "exitCode"), 3);
    json_t *att = json_array_get(json_object_get(j, "attempts"), 0);
    const char *cid = json_string_value(
        json_object_get(json_object_get(att, "container"), "logStreamName"));
    /* the log stream as AWS Batch names it: definition, default, 32 hex
     * digits */
    ck_assert_ptr_nonnull(cid);
    ck_assert_msg(strncmp(cid, "e2e-proc/default/", 17) == 0 &&
                      strlen(cid) == 17 + 32 &&
                      strspn(cid + 17, "0123456789abcdef") == 32,
                  "logStreamName %s", cid);
    char *log = e2e_job_log(job_id, 1);
    ck_assert_ptr_nonnull(log);
    char want[128];
    snprintf(want, sizeof(want), "id=%s idx=", job_id);
    ck_assert_msg(strstr(log, want), "log: %s", log);
    ck_assert_msg(strstr(log, "/drover-"), "scratch directory: %s", log);
    free(log);
    json_decref(j);
}
END_TEST

START_TEST(test_e2e_process_runtime_memory_limit)
{
    e2e_register("e2e-proc-oom",
                 "[\"sh\",\"-c\",\"x=$(head -c 67108864 /dev/zero | tr "
                 "'\\\\0' a); echo ${#x}\"]",
                 16);
    json_t *j = e2e_wait(e2e_submit_to("proc", "proc-oom", "e2e-proc-oom",
                                       NULL),
                         120);
    ck_assert_str_eq(status_of(j), "FAILED");
    ck_assert_int_eq(container_int(j, "exitCode"), 137);
    const char *reason = json_string_value(
        json_object_get(json_object_get(j, "container"), "reason"));
    ck_assert_ptr_nonnull(reason);
    ck_assert_str_eq(reason,
                     "OutOfMemoryError: Container killed due to memory usage");
    json_decref(j);
}
END_TEST

/* Run `bytes` of memory through a process-runtime job of `memory_mib` that
 * prints its memory cgroup and that cgroup's limit first; its log in
 * *log (the caller frees it), its job as returned. */
static json_t *proc_cgroup_job(const char *name, int memory_mib, long bytes,
                               char **log)
{
    char script[1024];
    snprintf(script, sizeof(script),
             "c=$(grep :memory: /proc/self/cgroup || grep ^0:: "
             "/proc/self/cgroup); c=${c#*:*:}; "
             "f=/sys/fs/cgroup/memory$c/memory.limit_in_bytes; "
             "[ -e $f ] || f=/sys/fs/cgroup$c/memory.max; "
             "echo cg=$c limit=$(cat $f) end; "
             "x=$(head -c %ld /dev/zero | tr '\\0' a); echo ${#x}",
             bytes);
    json_t *cmd = json_pack("[s,s,s]", "sh", "-c", script);
    char *cmd_json = json_dumps(cmd, JSON_COMPACT);
    e2e_register(name, cmd_json, memory_mib);
    free(cmd_json);
    json_decref(cmd);
    char id[64];
    snprintf(id, sizeof(id), "%s", e2e_submit_to("proc", name, name, NULL));
    json_t *j = e2e_wait(id, 120);
    *log = e2e_job_log(id, 1);
    return j;
}

/* The field `key`=VALUE (up to the next space) of a log, in a static
 * buffer; "" when absent. */
static const char *log_field(const char *log, const char *key)
{
    static char v[2][512];
    static int next;
    char *out = v[next++ % 2];
    const char *at = strstr(log, key);
    out[0] = '\0';
    if (at) {
        at += strlen(key);
        size_t n = strcspn(at, " \n");
        snprintf(out, 512, "%.*s", (int)(n < 511 ? n : 511), at);
    }
    return out;
}

/* The process runtime keeps an attempt's cgroup for the next attempt: the
 * next job runs in it with its own limit, and its predecessor's OOM kill
 * is not counted against it. */
START_TEST(test_e2e_process_runtime_cgroup_kept_with_new_limits)
{
    char *log_a, *log_b, *log_c;
    json_t *a = proc_cgroup_job("e2e-proc-cg-a", 16, 67108864, &log_a);
    json_t *b = proc_cgroup_job("e2e-proc-cg-b", 128, 16777216, &log_b);
    json_t *c = proc_cgroup_job("e2e-proc-cg-c", 16, 67108864, &log_c);
    const char *oom = "OutOfMemoryError: Container killed due to memory usage";
    ck_assert_str_eq(status_of(a), "FAILED");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(a, "container"), "reason")),
                     oom);
    ck_assert_msg(!strcmp(status_of(b), "SUCCEEDED"), "b: %s", log_b);
    ck_assert_int_eq(container_int(b, "exitCode"), 0);
    ck_assert_msg(strstr(log_b, "16777216"), "b's output: %s", log_b);
    ck_assert_str_eq(status_of(c), "FAILED");
    ck_assert_int_eq(container_int(c, "exitCode"), 137);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(c, "container"), "reason")),
                     oom);
    /* the one cgroup, kept: a, then b, then c ran in it, each limited to
     * its own memory */
    char cg_a[512];
    snprintf(cg_a, sizeof(cg_a), "%s", log_field(log_a, "cg="));
    ck_assert_msg(strstr(cg_a, "/drover-"), "a's cgroup: %s", log_a);
    ck_assert_str_eq(log_field(log_b, "cg="), cg_a);
    ck_assert_str_eq(log_field(log_c, "cg="), cg_a);
    ck_assert_str_eq(log_field(log_a, "limit="), "16777216");
    ck_assert_str_eq(log_field(log_b, "limit="), "134217728");
    ck_assert_str_eq(log_field(log_c, "limit="), "16777216");
    free(log_a);
    free(log_b);
    free(log_c);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}
END_TEST

/* drv_client_submit_jobs: a batch may depend on its own members; one bad
 * request sends nothing. */
START_TEST(test_e2e_submit_jobs_batch)
{
    char e[DRV_ERRSTR_SIZE], a[37], b[37], c[37], bad[37];
    drv_err_t err;
    e2e_register("e2e-batch", "[\"sh\",\"-c\",\"echo ok\"]", 32);
    ck_assert_int_eq(drv_uuid4(a), 0);
    ck_assert_int_eq(drv_uuid4(b), 0);
    ck_assert_int_eq(drv_uuid4(c), 0);
    ck_assert_int_eq(drv_uuid4(bad), 0);
    json_t *reqs = json_pack(
        "[{s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s,s:[{s:s}]},{s:s,s:s,s:s,s:s}]",
        "jobId", a, "jobName", "batch-a", "jobQueue", "default",
        "jobDefinition", "e2e-batch", "jobId", b, "jobName", "batch-b",
        "jobQueue", "default", "jobDefinition", "e2e-batch", "dependsOn",
        "jobId", a, "jobId", c, "jobName", "batch-c", "jobQueue", "default",
        "jobDefinition", "e2e-batch");
    json_t *out = drv_client_submit_jobs(e2e_client, reqs, &err, e, sizeof(e));
    ck_assert_msg(out != NULL, "%s", e);
    ck_assert_int_eq(json_array_size(out), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(out, 1),
                                                       "jobId")),
                     b);
    json_decref(out);
    json_decref(reqs);
    json_t *ja = e2e_wait(a, 120), *jb = e2e_wait(b, 120), *jc = e2e_wait(c, 120);
    ck_assert_str_eq(status_of(ja), "SUCCEEDED");
    ck_assert_str_eq(status_of(jb), "SUCCEEDED");
    ck_assert_str_eq(status_of(jc), "SUCCEEDED");
    ck_assert(e2e_int(jb, "startedAt") >= e2e_int(ja, "stoppedAt"));
    json_decref(ja);
    json_decref(jb);
    json_decref(jc);

    /* the second request names no definition that exists: nothing is sent */
    reqs = json_pack("[{s:s,s:s,s:s,s:s},{s:s,s:s,s:s}]", "jobId", bad,
                     "jobName", "batch-ok", "jobQueue", "default",
                     "jobDefinition", "e2e-batch", "jobName", "batch-bad",
                     "jobQueue", "default", "jobDefinition", "no-such-def");
    out = drv_client_submit_jobs(e2e_client, reqs, &err, e, sizeof(e));
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(e, "request 1"), "%s", e);
    ck_assert(err == DRV_ERR_NOTFOUND || err == DRV_ERR_INVALID);
    json_decref(reqs);
    sleep(3);
    json_t *d = e2e_call("DescribeJobs", "{\"jobs\":[\"%s\"]}", bad);
    ck_assert_int_eq(json_array_size(json_object_get(d, "jobs")), 0);
    json_decref(d);
}
END_TEST

START_TEST(test_e2e_batch_variables_visible)
{
    /* the job checks its own environment and prints its id */
    e2e_register(
        "e2e-env",
        "[\"sh\",\"-c\",\"test -n \\\"$AWS_BATCH_JOB_ID\\\" && test "
        "\\\"$AWS_BATCH_JOB_ATTEMPT\\\" = 1 && test \\\"$AWS_BATCH_JQ_NAME\\\" "
        "= default && test \\\"$AWS_BATCH_CE_NAME\\\" = local && test "
        "\\\"$DROVER_JOB_ID\\\" = \\\"$AWS_BATCH_JOB_ID\\\" && echo "
        "id=$AWS_BATCH_JOB_ID\"]",
        32);
    const char *id = e2e_submit("env", "e2e-env", NULL);
    json_t *j = e2e_wait(id, 120);
    ck_assert_str_eq(status_of(j), "SUCCEEDED");
    char path[1024], want[128], e[DRV_ERRSTR_SIZE];
    snprintf(path, sizeof(path), "%s/joblogs/%s/1.log",
             getenv("DROVER_STACK_DIR"), id);
    char *out = drv_read_file(path, NULL, e, sizeof(e));
    ck_assert_msg(out != NULL, "%s", e);
    snprintf(want, sizeof(want), "id=%s", id);
    ck_assert_msg(strstr(out, want), "log was: %s", out);
    free(out);
    json_decref(j);
}
END_TEST

START_TEST(test_e2e_dependency_order_and_failure)
{
    e2e_register("e2e-sleep", "[\"sh\",\"-c\",\"sleep 2\"]", 32);
    e2e_register("e2e-fail", "[\"sh\",\"-c\",\"exit 1\"]", 32);
    const char *a = e2e_submit("dep-a", "e2e-sleep", NULL);
    char extra[200];
    snprintf(extra, sizeof(extra), "\"dependsOn\":[{\"jobId\":\"%s\"}]", a);
    const char *b = e2e_submit("dep-b", "e2e-sleep", extra);
    const char *fa = e2e_submit("dep-fa", "e2e-fail", NULL);
    snprintf(extra, sizeof(extra), "\"dependsOn\":[{\"jobId\":\"%s\"}]", fa);
    const char *fb = e2e_submit("dep-fb", "e2e-sleep", extra);

    json_t *ja = e2e_wait(a, 120), *jb = e2e_wait(b, 120);
    ck_assert_str_eq(status_of(ja), "SUCCEEDED");
    ck_assert_str_eq(status_of(jb), "SUCCEEDED");
    ck_assert_msg(json_integer_value(json_object_get(jb, "startedAt")) >=
                      json_integer_value(json_object_get(ja, "stoppedAt")),
                  "dependent started before its dependency stopped");

    json_t *jfa = e2e_wait(fa, 120), *jfb = e2e_wait(fb, 120);
    ck_assert_str_eq(status_of(jfa), "FAILED");
    ck_assert_str_eq(status_of(jfb), "FAILED");
    const char *why = json_string_value(json_object_get(jfb, "statusReason"));
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strstr(why, "Dependent Job failed") && strstr(why, fa),
                  "statusReason: %s", why);
    ck_assert_int_eq(json_array_size(json_object_get(jfb, "attempts")), 0);
    json_decref(ja);
    json_decref(jb);
    json_decref(jfa);
    json_decref(jfb);
}
END_TEST

/* Produce raw bytes to the queue's submit topic as a foreign client. */
static void produce_raw(const char *key, const void *buf, size_t len)
{
    char e[DRV_ERRSTR_SIZE];
    drv_kprod_t *kp = drv_kprod_new(e2e_conf, NULL, 0, e, sizeof(e));
    ck_assert_msg(kp != NULL, "%s", e);
    ck_assert_int_eq(drv_kprod_send(kp, "drover.submit.default", -1, key, buf,
                                    len, NULL, 0, e, sizeof(e)),
                     0);
    ck_assert_msg(drv_kprod_flush(kp, 30000, e, sizeof(e)) == 0, "%s", e);
    drv_kprod_destroy(kp);
}

START_TEST(test_e2e_malformed_message_to_dlq)
{
    char key[64], group[64], e[DRV_ERRSTR_SIZE];
    snprintf(key, sizeof(key), "garbage-%d-%lld", (int)getpid(),
             (long long)drv_now_ms());
    produce_raw(key, "this is not avro", 16);

    /* the dispatcher keeps going: a valid job after it still runs */
    e2e_register("e2e-after-dlq", "[\"true\"]", 32);
    json_t *j = e2e_wait(e2e_submit("after-dlq", "e2e-after-dlq", NULL), 120);
    ck_assert_str_eq(status_of(j), "SUCCEEDED");
    json_decref(j);

    snprintf(group, sizeof(group), "e2e-dlq-%d", (int)getpid());
    drv_conf_t *admin = e2e_role_conf("admin"); /* drover.dlq is the
                                                   dispatcher's */
    drv_kcons_t *kc = drv_kcons_new(admin, NULL, group, NULL, NULL, e,
                                    sizeof(e));
    drv_conf_destroy(admin);
    ck_assert_msg(kc != NULL, "%s", e);
    const char *topics[] = {"drover.dlq"};
    ck_assert_int_eq(drv_kcons_subscribe(kc, topics, 1, e, sizeof(e)), 0);
    bool found = false;
    for (int64_t end = drv_mono_ms() + 60000; !found && drv_mono_ms() < end;) {
        drv_kmsg_t *m = drv_kcons_poll(kc, 500);
        if (m && drv_kmsg_key(m) && !strcmp(drv_kmsg_key(m), key)) {
            const char *why = drv_kmsg_header(m, "drover.error");
            ck_assert_ptr_nonnull(why);
            ck_assert_msg(strstr(why, "not an Avro single-object message"),
                          "reason: %s", why);
            ck_assert_str_eq(drv_kmsg_header(m, "drover.source.topic"),
                             "drover.submit.default");
            size_t len;
            const void *v = drv_kmsg_value(m, &len);
            ck_assert_int_eq(len, 16);
            ck_assert(memcmp(v, "this is not avro", 16) == 0);
            found = true;
        }
        drv_kmsg_destroy(m);
    }
    drv_kcons_destroy(kc);
    ck_assert_msg(found, "the malformed message never reached drover.dlq");
}
END_TEST

/* Every transition after submission is published, in order, keyed by job. */
START_TEST(test_e2e_events_for_every_transition)
{
    char group[64], e[DRV_ERRSTR_SIZE];
    e2e_register("e2e-ev", "[\"true\"]", 32);
    const char *id = e2e_submit("events", "e2e-ev", NULL);
    json_decref(e2e_wait(id, 120));

    drv_codec_t *codec = drv_codec_new(e, sizeof(e));
    ck_assert_msg(codec != NULL, "%s", e);
    snprintf(group, sizeof(group), "drover-watch-e2e-%d", (int)getpid());
    drv_kcons_t *kc = drv_kcons_new(e2e_conf, NULL, group, NULL, NULL, e,
                                    sizeof(e));
    const char *topics[] = {"drover.events"};
    ck_assert_int_eq(drv_kcons_subscribe(kc, topics, 1, e, sizeof(e)), 0);
    char seen[256] = "";
    for (int64_t end = drv_mono_ms() + 60000;
         !strstr(seen, "SUCCEEDED") && drv_mono_ms() < end;) {
        drv_kmsg_t *m = drv_kcons_poll(kc, 500);
        if (m && drv_kmsg_key(m) && !strcmp(drv_kmsg_key(m), id)) {
            size_t len;
            const void *v = drv_kmsg_value(m, &len);
            const char *type;
            json_t *ev = NULL;
            ck_assert_int_eq(drv_codec_decode(codec, v, len, &type, &ev, e,
                                              sizeof(e)),
                             DRV_OK);
            ck_assert_str_eq(type, "JobStateChange");
            ck_assert_str_eq(json_string_value(json_object_get(ev, "jobQueue")),
                             "arn:aws:batch:local:000000000000:job-queue/"
                             "default");
            size_t n = strlen(seen);
            snprintf(seen + n, sizeof(seen) - n, "%s%s", n ? " " : "",
                     json_string_value(json_object_get(ev, "status")));
            json_decref(ev);
        }
        drv_kmsg_destroy(m);
    }
    drv_kcons_destroy(kc);
    drv_codec_destroy(codec);
    ck_assert_str_eq(seen, "RUNNABLE STARTING RUNNING SUCCEEDED");
}
END_TEST

/* Issue 14, read-your-writes: with no dispatcher running, submissions
 * (dependent ones and N_TO_N arrays too) are accepted, DescribeJobs and
 * ListJobs show them SUBMITTED at once, and they run in order once a
 * dispatcher is back; an id nobody submitted is refused at once. */
START_TEST(test_e2e_submissions_without_a_dispatcher)
{
    char cmd[2048], a[40], b[40], c[40], d[40], e[DRV_ERRSTR_SIZE];
    e2e_register("e2e-ryw", "[\"sh\",\"-c\",\"echo ryw\"]", 32);
    snprintf(cmd, sizeof(cmd),
             "pid=$(cat %s/run/dispatcher.pid) && kill $pid && "
             "while kill -0 $pid 2>/dev/null; do sleep 0.1; done",
             getenv("DROVER_STACK_DIR"));
    ck_assert_int_eq(system(cmd), 0);
    snprintf(a, sizeof(a), "%s", e2e_submit("ryw-a", "e2e-ryw", NULL));
    char extra[256];
    snprintf(extra, sizeof(extra), "\"dependsOn\":[{\"jobId\":\"%s\"}]", a);
    snprintf(b, sizeof(b), "%s", e2e_submit("ryw-b", "e2e-ryw", extra));
    snprintf(c, sizeof(c), "%s",
             e2e_submit("ryw-c", "e2e-ryw", "\"arrayProperties\":{\"size\":2}"));
    snprintf(extra, sizeof(extra),
             "\"arrayProperties\":{\"size\":2},\"dependsOn\":[{\"jobId\":"
             "\"%s\",\"type\":\"N_TO_N\"}]",
             c);
    snprintf(d, sizeof(d), "%s", e2e_submit("ryw-d", "e2e-ryw", extra));
    json_t *r = e2e_call("DescribeJobs", "{\"jobs\":[\"%s\",\"%s\",\"%s\","
                                         "\"%s\"]}",
                         a, b, c, d);
    json_t *jobs = json_object_get(r, "jobs");
    ck_assert_int_eq(json_array_size(jobs), 4);
    const char *names[] = {"ryw-a", "ryw-b", "ryw-c", "ryw-d"};
    for (size_t i = 0; i < 4; i++) {
        json_t *j = json_array_get(jobs, i);
        ck_assert_str_eq(status_of(j), "SUBMITTED");
        ck_assert_str_eq(json_string_value(json_object_get(j, "jobName")),
                         names[i]);
        ck_assert(strstr(json_string_value(json_object_get(j, "jobDefinition")),
                         ":job-definition/e2e-ryw:"));
    }
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(json_array_get(jobs, 2),
                                         "arrayProperties"),
                         "size")),
                     2);
    json_decref(r);
    r = e2e_call("ListJobs", "{\"jobQueue\":\"default\",\"jobStatus\":"
                             "\"SUBMITTED\"}");
    int listed = 0;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(r, "jobSummaryList"), i, it)
    {
        const char *id = json_string_value(json_object_get(it, "jobId"));
        listed += !strcmp(id, a) + !strcmp(id, b) + !strcmp(id, c) +
                  !strcmp(id, d);
    }
    ck_assert_int_eq(listed, 4);
    json_decref(r);
    /* an id nobody submitted: refused without waiting for it */
    drv_err_t err;
    int64_t t0 = drv_mono_ms();
    json_t *req = json_pack("{s:s,s:s,s:s,s:[{s:s}]}", "jobName", "ryw-x",
                            "jobQueue", "default", "jobDefinition", "e2e-ryw",
                            "dependsOn", "jobId", "no-such-job-anywhere");
    ck_assert_ptr_null(drv_client_call(e2e_client, "SubmitJob", req, &err, e,
                                       sizeof(e)));
    json_decref(req);
    ck_assert_msg(strstr(e, "no-such-job-anywhere"), "%s", e);
    /* no waiting for it to appear (the former wait was 5 s): not a speed
     * goal, so the bound is loose */
    ck_assert_int_lt(drv_mono_ms() - t0, 4000);

    snprintf(cmd, sizeof(cmd), "%s/deploy/local/up --no-example >/dev/null 2>&1",
             getenv("DROVER_SOURCE_DIR"));
    ck_assert_int_eq(system(cmd), 0);
    json_t *ja = e2e_wait(a, 120), *jb = e2e_wait(b, 120);
    json_t *jd = e2e_wait(d, 120);
    ck_assert_str_eq(status_of(ja), "SUCCEEDED");
    ck_assert_str_eq(status_of(jb), "SUCCEEDED");
    ck_assert_str_eq(status_of(jd), "SUCCEEDED");
    ck_assert(e2e_int(jb, "startedAt") >= e2e_int(ja, "stoppedAt"));
    for (int k = 0; k < 2; k++) {
        char ci[64], di[64];
        snprintf(ci, sizeof(ci), "%s:%d", c, k);
        snprintf(di, sizeof(di), "%s:%d", d, k);
        json_t *jc = e2e_wait(ci, 60), *jdi = e2e_wait(di, 60);
        ck_assert(e2e_int(jdi, "startedAt") >= e2e_int(jc, "stoppedAt"));
        json_decref(jc);
        json_decref(jdi);
    }
    json_decref(ja);
    json_decref(jb);
    json_decref(jd);
}
END_TEST

/* Issue 14: jobs referenced by name as well as by id: a dependsOn entry
 * (jobId holding a name, Drover's jobName, the CLI's jobName=NAME),
 * CancelJob and the CLI's wait; the newest job of the name in the queue,
 * shown by its id; an unknown or ambiguous name is a clear error. */
START_TEST(test_e2e_jobs_referenced_by_name)
{
    char a_name[64], extra[256], e[DRV_ERRSTR_SIZE], args[512], old[40];
    snprintf(a_name, sizeof(a_name), "named-%d-%lld", (int)getpid(),
             (long long)drv_now_ms());
    e2e_register("e2e-named", "[\"sh\",\"-c\",\"sleep 1\"]", 32);
    snprintf(old, sizeof(old), "%s", e2e_submit(a_name, "e2e-named", NULL));
    const char *a = e2e_submit(a_name, "e2e-named", NULL); /* the newest */
    char a_id[40];
    snprintf(a_id, sizeof(a_id), "%s", a);
    snprintf(extra, sizeof(extra), "\"dependsOn\":[{\"jobId\":\"%s\"}]",
             a_name);
    const char *b = e2e_submit("named-b", "e2e-named", extra);
    json_t *r = e2e_call("DescribeJobs", "{\"jobs\":[\"%s\"]}", b);
    json_t *dep = json_array_get(
        json_object_get(json_array_get(json_object_get(r, "jobs"), 0),
                        "dependsOn"),
        0);
    ck_assert_str_eq(json_string_value(json_object_get(dep, "jobId")), a_id);
    json_decref(r);
    /* the CLI's shorthand */
    snprintf(args, sizeof(args),
             "submit-job --job-name named-c --job-queue default "
             "--job-definition e2e-named --depends-on jobName=%s",
             a_name);
    ck_assert_msg(e2e_cli(args, e, sizeof(e)) == 0, "%s", e);
    /* wait by name: the newest of that name */
    snprintf(args, sizeof(args), "wait --job-id %s --quiet --timeout 120",
             a_name);
    ck_assert_msg(e2e_cli(args, e, sizeof(e)) == 0, "%s", e);
    json_t *ja = e2e_wait(a_id, 10), *jb = e2e_wait(b, 120);
    ck_assert_str_eq(status_of(ja), "SUCCEEDED");
    ck_assert(e2e_int(jb, "startedAt") >= e2e_int(ja, "stoppedAt"));
    json_decref(ja);
    json_decref(jb);
    /* cancel by name, and terminate by name */
    char w_name[80], l_name[80], l_id[40];
    snprintf(w_name, sizeof(w_name), "%s-w", a_name);
    snprintf(l_name, sizeof(l_name), "%s-l", a_name);
    e2e_register("e2e-named-long", "[\"sleep\",\"60\"]", 32);
    snprintf(l_id, sizeof(l_id), "%s",
             e2e_submit(l_name, "e2e-named-long", NULL));
    snprintf(extra, sizeof(extra),
             "\"dependsOn\":[{\"jobId\":\"%s\"}]", l_name);
    const char *w = e2e_submit(w_name, "e2e-named", extra);
    char w_id[40];
    snprintf(w_id, sizeof(w_id), "%s", w);
    json_decref(e2e_call("CancelJob", "{\"jobId\":\"%s\",\"reason\":"
                                      "\"by name\"}",
                         w_name));
    json_t *jw = e2e_wait(w_id, 120);
    ck_assert_str_eq(status_of(jw), "FAILED");
    ck_assert_str_eq(json_string_value(json_object_get(jw, "statusReason")),
                     "by name");
    json_decref(jw);
    json_decref(e2e_call("TerminateJob", "{\"jobId\":\"%s\",\"reason\":"
                                         "\"long enough\"}",
                         l_name));
    jw = e2e_wait(l_id, 120);
    ck_assert_str_eq(status_of(jw), "FAILED");
    ck_assert(json_is_true(json_object_get(jw, "isTerminated")));
    json_decref(jw);
    /* unknown, and used in two queues */
    drv_err_t err;
    json_t *req = json_pack("{s:s,s:s,s:s,s:[{s:s}]}", "jobName", "x",
                            "jobQueue", "default", "jobDefinition",
                            "e2e-named", "dependsOn", "jobName",
                            "no-such-name-at-all");
    ck_assert_ptr_null(drv_client_call(e2e_client, "SubmitJob", req, &err, e,
                                       sizeof(e)));
    json_decref(req);
    ck_assert_msg(strstr(e, "no-such-name-at-all does not exist"), "%s", e);
    json_decref(e2e_call("CreateJobQueue",
                         "{\"jobQueueName\":\"named-q-%d\",\"priority\":1,"
                         "\"computeEnvironmentOrder\":[{\"order\":1,"
                         "\"computeEnvironment\":\"local\"}]}",
                         (int)getpid()));
    char q2[64];
    snprintf(q2, sizeof(q2), "named-q-%d", (int)getpid());
    e2e_submit_to(q2, a_name, "e2e-named", NULL);
    req = json_pack("{s:s,s:s}", "jobId", a_name, "reason", "which?");
    ck_assert_ptr_null(drv_client_call(e2e_client, "TerminateJob", req, &err,
                                       e, sizeof(e)));
    json_decref(req);
    ck_assert_msg(strstr(e, "more than one job queue"), "%s", e);
}
END_TEST

/* What a dispatcher committed but never published (it died in between) is
 * published by the next one; `up` restarts a dispatcher that died. */
START_TEST(test_e2e_outbox_survives_a_killed_dispatcher)
{
    char key[64], e[DRV_ERRSTR_SIZE], cmd[2048], group[64];
    snprintf(key, sizeof(key), "outbox-%d-%lld", (int)getpid(),
             (long long)drv_now_ms());
    drv_pg_t *pg = drv_pg_connect(drv_conf_get(e2e_conf, "pg.conninfo"), NULL,
                                  e, sizeof(e));
    ck_assert_msg(pg != NULL, "%s", e);
    const char *p[] = {key};
    ck_assert_msg(drv_pg_exec(pg,
                              "INSERT INTO outbox (topic, key, payload, "
                              "headers) VALUES ('drover.dlq', $1, "
                              "'committed, never sent', '{\"drover.error\": "
                              "\"outbox test\"}')",
                              1, p, e, sizeof(e)) == 0,
                  "%s", e);
    snprintf(cmd, sizeof(cmd),
             "kill -9 $(cat %s/run/dispatcher.pid) && %s/deploy/local/up "
             "--no-example >/dev/null 2>&1",
             getenv("DROVER_STACK_DIR"), getenv("DROVER_SOURCE_DIR"));
    ck_assert_int_eq(system(cmd), 0);

    snprintf(group, sizeof(group), "e2e-outbox-%d", (int)getpid());
    drv_conf_t *admin = e2e_role_conf("admin"); /* drover.dlq is the
                                                   dispatcher's */
    drv_kcons_t *kc = drv_kcons_new(admin, NULL, group, NULL, NULL, e,
                                    sizeof(e));
    drv_conf_destroy(admin);
    const char *topics[] = {"drover.dlq"};
    ck_assert_int_eq(drv_kcons_subscribe(kc, topics, 1, e, sizeof(e)), 0);
    bool found = false;
    for (int64_t end = drv_mono_ms() + 60000; !found && drv_mono_ms() < end;) {
        drv_kmsg_t *m = drv_kcons_poll(kc, 500);
        if (m && drv_kmsg_key(m) && !strcmp(drv_kmsg_key(m), key)) {
            ck_assert_str_eq(drv_kmsg_header(m, "drover.error"), "outbox test");
            found = true;
        }
        drv_kmsg_destroy(m);
    }
    drv_kcons_destroy(kc);
    ck_assert_msg(found, "the outbox message was never published");
    int64_t left = -1;
    for (int i = 0; i < 100 && left != 0; i++) {
        drv_pg_res_t *r = drv_pg_query(
            pg, "SELECT count(*) FROM outbox WHERE key = $1", 1, p, e,
            sizeof(e));
        left = r ? drv_pg_res_int(r, 0, 0, -1) : -1;
        drv_pg_res_free(r);
        usleep(100 * 1000);
    }
    ck_assert_int_eq(left, 0);
    drv_pg_destroy(pg);

    /* and the restarted dispatcher carries on */
    e2e_register("e2e-after-kill", "[\"true\"]", 32);
    json_t *j = e2e_wait(e2e_submit("after-kill", "e2e-after-kill", NULL), 120);
    ck_assert_str_eq(status_of(j), "SUCCEEDED");
    json_decref(j);
}
END_TEST

START_TEST(test_e2e_cli_rejects_unknown_queue_and_definition)
{
    char err[2048];
    int rc = e2e_cli("submit-job --job-name x --job-queue no-such-queue "
                     "--job-definition e2e-ok",
                     err, sizeof(err));
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(err, "JobQueue no-such-queue does not exist"), "%s",
                  err);
    rc = e2e_cli("submit-job --job-name x --job-queue default "
                 "--job-definition no-such-def",
                 err, sizeof(err));
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(err, "JobDefinition name no-such-def does not exist "
                              "or is not in ACTIVE status"),
                  "%s", err);
    rc = e2e_cli("submit-job --job-name 'bad name' --job-queue default "
                 "--job-definition e2e-ok",
                 err, sizeof(err));
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(err, "Job name should match valid pattern"), "%s",
                  err);
}
END_TEST

/* Encode a JobStatus from a worker that never ran the attempt. */
static void *impostor_report(drv_codec_t *codec, const char *job_id,
                             const char *status, size_t *len)
{
    char e[DRV_ERRSTR_SIZE];
    void *buf = NULL;
    json_t *m = json_pack("{s:s,s:i,s:s,s:s,s:n,s:n,s:n,s:n,s:n,s:I,s:I}",
                          "jobId", job_id, "attempt", 1, "status", status,
                          "worker", "e2e-impostor", "containerId",
                          "exitCode", "reason", "statusReason",
                          "logStreamName", "timestamp",
                          (json_int_t)drv_now_ms(), "workerStartedAt",
                          (json_int_t)1);
    if (!strcmp(status, "SUCCEEDED")) {
        json_object_set_new(m, "exitCode", json_integer(0));
    }
    ck_assert_msg(drv_codec_encode(codec, "JobStatus", m, &buf, len, e,
                                   sizeof(e)) == 0,
                  "%s", e);
    json_decref(m);
    return buf;
}

/* How many lines of the dispatcher's log have both strings. */
static int log_lines_with(const char *a, const char *b)
{
    char path[1024], line[8192];
    snprintf(path, sizeof(path), "%s/logs/dispatcher.log",
             getenv("DROVER_STACK_DIR"));
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof(line), f)) {
        n += strstr(line, a) && strstr(line, b);
    }
    if (f) {
        fclose(f);
    }
    return n;
}

/* An attempt belongs to the worker that claimed it first: reports about it
 * from any other worker (RUNNING, then SUCCEEDED, arriving together) change
 * nothing, and that worker is told to stop its duplicate run. */
START_TEST(test_e2e_reports_from_a_non_owner_are_refused)
{
    char e[DRV_ERRSTR_SIZE], id[64], group[64], topic[300], owner[256];
    e2e_register("e2e-claimed", "[\"sleep\",\"60\"]", 32);
    snprintf(id, sizeof(id), "%s", e2e_submit("claimed", "e2e-claimed", NULL));
    json_decref(e2e_wait_status(id, "RUNNING", 120));
    drv_pg_t *pg = drv_pg_connect(drv_conf_get(e2e_conf, "pg.conninfo"), NULL,
                                  e, sizeof(e));
    ck_assert_msg(pg != NULL, "%s", e);
    const char *p[] = {id};
    drv_pg_res_t *r = drv_pg_query(
        pg, "SELECT a.worker, j.compute_environment FROM attempts a JOIN jobs "
            "j USING (job_id) WHERE job_id = $1 AND attempt = 1",
        1, p, e, sizeof(e));
    ck_assert_msg(r && drv_pg_res_rows(r) == 1, "%s", r ? "no attempt" : e);
    snprintf(owner, sizeof(owner), "%s", drv_pg_res_get(r, 0, 0));
    snprintf(topic, sizeof(topic), "drover.control.%s",
             drv_pg_res_get(r, 0, 1));
    drv_pg_res_free(r);
    ck_assert_str_ne(owner, "e2e-impostor");

    drv_codec_t *codec = drv_codec_new(e, sizeof(e));
    ck_assert_msg(codec != NULL, "%s", e);
    /* a worker of the job's compute environment, signing as itself */
    drv_conf_t *admin = e2e_role_conf("admin");
    drv_kprod_t *kp = drv_kprod_new(admin, NULL, 0, e, sizeof(e));
    ck_assert_msg(kp != NULL, "%s", e);
    const char *sts[] = {"RUNNING", "SUCCEEDED"};
    for (int i = 0; i < 2; i++) {
        size_t len;
        char origin[DRV_ORIGIN_NAME_SIZE], sig[DRV_ORIGIN_SIG_HEX_SIZE];
        drv_kheader_t h[2];
        void *buf = impostor_report(codec, id, sts[i], &len);
        e2e_sign(topic + strlen("drover.control."), "e2e-impostor", buf, len,
                 origin, sig, h);
        ck_assert_int_eq(drv_kprod_send(kp, "drover.status", -1, id, buf, len,
                                        h, 2, e, sizeof(e)),
                         0);
        free(buf);
    }
    ck_assert_msg(drv_kprod_flush(kp, 30000, e, sizeof(e)) == 0, "%s", e);
    drv_kprod_destroy(kp);

    /* both were looked at: the dispatcher logs each duplicate */
    int seen = 0;
    for (int64_t end = drv_mono_ms() + 60000;
         (seen = log_lines_with("job.duplicate_run", id)) < 2 &&
         drv_mono_ms() < end;) {
        usleep(200 * 1000);
    }
    ck_assert_msg(seen == 2, "%d duplicate reports logged, not 2", seen);
    json_t *j = e2e_call("DescribeJobs", "{\"jobs\":[\"%s\"]}", id);
    ck_assert_str_eq(status_of(json_array_get(json_object_get(j, "jobs"), 0)),
                     "RUNNING");
    json_decref(j);
    r = drv_pg_query(pg, "SELECT worker FROM attempts WHERE job_id = $1", 1,
                     p, e, sizeof(e));
    ck_assert_msg(r && drv_pg_res_rows(r) == 1, "%s", r ? "attempts" : e);
    ck_assert_str_eq(drv_pg_res_get(r, 0, 0), owner);
    drv_pg_res_free(r);
    drv_pg_destroy(pg);

    /* the impostor (and only it) is told to stop */
    snprintf(group, sizeof(group), "e2e-ctl-%d", (int)getpid());
    drv_kcons_t *kc = drv_kcons_new(admin, NULL, group, NULL, NULL, e,
                                    sizeof(e));
    ck_assert_msg(kc != NULL, "%s", e);
    const char *topics[] = {topic};
    ck_assert_int_eq(drv_kcons_subscribe(kc, topics, 1, e, sizeof(e)), 0);
    bool told = false;
    for (int64_t end = drv_mono_ms() + 60000; !told && drv_mono_ms() < end;) {
        drv_kmsg_t *m = drv_kcons_poll(kc, 500);
        size_t len;
        const void *v = m ? drv_kmsg_value(m, &len) : NULL;
        const char *type;
        json_t *stop = NULL;
        if (v && drv_kmsg_key(m) && !strcmp(drv_kmsg_key(m), id) &&
            drv_codec_decode(codec, v, len, &type, &stop, e, sizeof(e)) ==
                DRV_OK) {
            const char *w = json_string_value(json_object_get(stop,
                                                              "worker"));
            ck_assert_msg(w && !strcmp(w, "e2e-impostor"),
                          "a stop for %s", w ? w : "every worker");
            ck_assert_str_eq(json_string_value(json_object_get(stop,
                                                               "reason")),
                             "Duplicate run of an attempt claimed by another "
                             "worker");
            told = true;
        }
        json_decref(stop);
        drv_kmsg_destroy(m);
    }
    drv_kcons_destroy(kc);
    drv_conf_destroy(admin);
    drv_codec_destroy(codec);
    ck_assert_msg(told, "no StopAttempt for the impostor");
    json_decref(e2e_call("TerminateJob", "{\"jobId\":\"%s\",\"reason\":\"done"
                                         "\"}",
                         id));
    j = e2e_wait(id, 120);
    ck_assert_str_eq(status_of(j), "FAILED");
    json_decref(j);
}
END_TEST

/* A producer that skips the client's checks: the dispatcher refuses a
 * submission (it records it FAILED with the reason) and the valid one
 * sent right behind it, in the same batch, still runs. */
START_TEST(test_e2e_dispatcher_refuses_a_bad_submission)
{
    char e[DRV_ERRSTR_SIZE], bad[64], good[80];
    e2e_register("e2e-after-refused", "[\"true\"]", 32);
    snprintf(bad, sizeof(bad), "refused-%d-%lld", (int)getpid(),
             (long long)drv_now_ms());
    snprintf(good, sizeof(good), "after-%s", bad);
    drv_codec_t *codec = drv_codec_new(e, sizeof(e));
    ck_assert_msg(codec != NULL, "%s", e);
    const char *ids[] = {bad, good};
    const char *defs[] = {"no-such-definition", "e2e-after-refused"};
    for (int i = 0; i < 2; i++) {
        json_t *m = json_pack("{s:{s:{s:s,s:s,s:s,s:s,s:I}}}", "request",
                              "SubmitJob", "jobId", ids[i], "jobName", "raw",
                              "jobQueue", "default", "jobDefinition", defs[i],
                              "submittedAt", (json_int_t)drv_now_ms());
        void *buf = NULL;
        size_t len;
        ck_assert_msg(drv_codec_encode(codec, "JobRequest", m, &buf, &len, e,
                                       sizeof(e)) == 0,
                      "%s", e);
        produce_raw(ids[i], buf, len);
        free(buf);
        json_decref(m);
    }
    drv_codec_destroy(codec);
    json_t *j = e2e_wait(bad, 120);
    ck_assert_str_eq(status_of(j), "FAILED");
    const char *why = json_string_value(json_object_get(j, "statusReason"));
    ck_assert_msg(why && strstr(why, "JobDefinition name no-such-definition "
                                     "does not exist"),
                  "statusReason: %s", why ? why : "(none)");
    ck_assert_int_eq(json_array_size(json_object_get(j, "attempts")), 0);
    json_decref(j);
    j = e2e_wait(good, 120);
    ck_assert_str_eq(status_of(j), "SUCCEEDED");
    json_decref(j);
}
END_TEST

/* drv_pg_pipeline, which the dispatcher applies status reports with,
 * against the stack's PostgreSQL: answers in order, each statement seeing
 * the ones before, and a failure reported once with nothing half-read. */
START_TEST(test_e2e_pg_pipeline)
{
    char e[DRV_ERRSTR_SIZE];
    drv_pg_t *pg = drv_pg_connect(drv_conf_get(e2e_conf, "pg.conninfo"), NULL,
                                  e, sizeof(e));
    ck_assert_msg(pg != NULL, "%s", e);
    ck_assert_int_eq(drv_pg_begin(pg, e, sizeof(e)), 0);
    ck_assert_int_eq(drv_pg_exec(pg, "CREATE TEMP TABLE pipe (n int)", 0,
                                 NULL, e, sizeof(e)),
                     0);
    const char *one[] = {"1"}, *two[] = {"2"};
    drv_pg_stmt_t st[DRV_PG_PIPELINE_MAX + 1];
    drv_pg_res_t *res[DRV_PG_PIPELINE_MAX + 1];
    st[0] = (drv_pg_stmt_t){"INSERT INTO pipe VALUES ($1::int)", 1, one};
    st[1] = (drv_pg_stmt_t){"INSERT INTO pipe VALUES ($1::int)", 1, two};
    st[2] = (drv_pg_stmt_t){"SELECT sum(n), count(*) FROM pipe", 0, NULL};
    for (int i = 3; i < DRV_PG_PIPELINE_MAX; i++) { /* a full pipeline */
        st[i] = (drv_pg_stmt_t){"SELECT n FROM pipe WHERE n = $1::int", 1,
                                i % 2 ? one : two};
    }
    ck_assert_msg(drv_pg_pipeline(pg, DRV_PG_PIPELINE_MAX, st, res, e,
                                  sizeof(e)) == 0,
                  "%s", e);
    ck_assert_int_eq(drv_pg_res_affected(res[0]), 1);
    ck_assert_str_eq(drv_pg_res_get(res[2], 0, 0), "3");
    ck_assert_str_eq(drv_pg_res_get(res[2], 0, 1), "2");
    for (int i = 3; i < DRV_PG_PIPELINE_MAX; i++) {
        ck_assert_str_eq(drv_pg_res_get(res[i], 0, 0), i % 2 ? "1" : "2");
    }
    for (int i = 0; i < DRV_PG_PIPELINE_MAX; i++) {
        drv_pg_res_free(res[i]);
    }
    /* the second of three fails: its error, and no results at all */
    st[1] = (drv_pg_stmt_t){"SELECT 1 / ($1::int - 1)", 1, one};
    ck_assert_int_eq(drv_pg_pipeline(pg, 3, st, res, e, sizeof(e)), -1);
    ck_assert_msg(strstr(e, "division by zero"), "%s", e);
    ck_assert_str_eq(drv_pg_last_sqlstate(pg), "22012");
    ck_assert(res[0] == NULL && res[1] == NULL && res[2] == NULL);
    drv_pg_rollback(pg);
    /* the connection is usable after it, and the rollback undid it all */
    drv_pg_res_t *r = drv_pg_query(pg, "SELECT to_regclass('pipe') IS NULL",
                                   0, NULL, e, sizeof(e));
    ck_assert_msg(r != NULL, "%s", e);
    ck_assert_str_eq(drv_pg_res_get(r, 0, 0), "t");
    drv_pg_res_free(r);
    /* sizes it does not take */
    ck_assert_int_eq(drv_pg_pipeline(pg, 0, st, res, e, sizeof(e)), -1);
    ck_assert_int_eq(drv_pg_pipeline(pg, DRV_PG_PIPELINE_MAX + 1, st, res, e,
                                     sizeof(e)),
                     -1);
    ck_assert_msg(strstr(e, "a pipeline of 65 statements"), "%s", e);
    drv_pg_destroy(pg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("e2e_jobs");
    TCase *tc = tcase_create("jobs");
    tcase_add_checked_fixture(tc, e2e_setup, e2e_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_e2e_exit_zero_succeeds);
    tcase_add_test(tc, test_e2e_exit_three_fails);
    tcase_add_test(tc, test_e2e_memory_limit_kills);
    tcase_add_test(tc, test_e2e_batch_variables_visible);
    tcase_add_test(tc, test_e2e_submit_jobs_batch);
    tcase_add_test(tc, test_e2e_process_runtime_runs_the_command);
    tcase_add_test(tc, test_e2e_process_runtime_memory_limit);
    tcase_add_test(tc, test_e2e_process_runtime_cgroup_kept_with_new_limits);
    tcase_add_test(tc, test_e2e_dependency_order_and_failure);
    tcase_add_test(tc, test_e2e_malformed_message_to_dlq);
    tcase_add_test(tc, test_e2e_events_for_every_transition);
    tcase_add_test(tc, test_e2e_outbox_survives_a_killed_dispatcher);
    tcase_add_test(tc, test_e2e_submissions_without_a_dispatcher);
    tcase_add_test(tc, test_e2e_jobs_referenced_by_name);
    tcase_add_test(tc, test_e2e_cli_rejects_unknown_queue_and_definition);
    tcase_add_test(tc, test_e2e_pg_pipeline);
    tcase_add_test(tc, test_e2e_dispatcher_refuses_a_bad_submission);
    tcase_add_test(tc, test_e2e_reports_from_a_non_owner_are_refused);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
