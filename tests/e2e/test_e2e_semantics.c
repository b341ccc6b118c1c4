/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End-to-end: the AWS Batch job semantics on the real stack: arrays,
 * SEQUENTIAL and N_TO_N, dependency cascades, parameters and overrides,
 * retries and evaluateOnExit, timeouts, cancel and terminate, queue state
 * and priority.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drover/pg.h"
#include "drover/util.h"
#include "e2e.h"
#include "check_main.h"

#define IMAGE "\"image\":\"localhost/drover/busybox:latest\""
#define SMALL "\"vcpus\":1,\"memory\":32"

static const char *status_of(json_t *j)
{
    return json_string_value(json_object_get(j, "status"));
}

static const char *reason_of(json_t *j)
{
    const char *r = json_string_value(json_object_get(j, "statusReason"));
    return r ? r : "";
}

static char *child(const char *parent, int i)
{
    static char buf[8][80];
    static int n;
    char *b = buf[n++ % 8];
    snprintf(b, 80, "%s:%d", parent, i);
    return b;
}

static void expect_cli_error(const char *args, const char *want)
{
    char err[2048];
    int rc = e2e_cli(args, err, sizeof(err));
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(err, want), "stderr: %s (want %s)", err, want);
}

START_TEST(test_e2e_array_sequential_in_order)
{
    e2e_register_full("e2e-idx",
                      "{" IMAGE ",\"command\":[\"sh\",\"-c\",\"echo "
                      "i=$AWS_BATCH_JOB_ARRAY_INDEX n=$AWS_BATCH_JOB_ARRAY_SIZE "
                      "d=$DROVER_JOB_ARRAY_INDEX\"]," SMALL "}",
                      NULL);
    const char *p = e2e_submit("seq", "e2e-idx",
                               "\"arrayProperties\":{\"size\":4},"
                               "\"dependsOn\":[{\"type\":\"SEQUENTIAL\"}]");
    json_t *pj = e2e_wait(p, 180);
    ck_assert_str_eq(status_of(pj), "SUCCEEDED");
    json_t *ap = json_object_get(pj, "arrayProperties");
    ck_assert_int_eq(json_integer_value(json_object_get(ap, "size")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(ap, "statusSummary"), "SUCCEEDED")),
                     4);
    ck_assert_int_eq(json_array_size(json_object_get(pj, "attempts")), 0);
    json_int_t prev_stop = 0;
    for (int i = 0; i < 4; i++) {
        json_t *c = e2e_wait(child(p, i), 10);
        ck_assert_str_eq(status_of(c), "SUCCEEDED");
        ck_assert_int_eq(json_integer_value(json_object_get(
                             json_object_get(c, "arrayProperties"), "index")),
                         i);
        ck_assert_msg(e2e_int(c, "startedAt") >= prev_stop,
                      "child %d started before child %d stopped", i, i - 1);
        prev_stop = e2e_int(c, "stoppedAt");
        char want[64], *log = e2e_job_log(child(p, i), 1);
        snprintf(want, sizeof(want), "i=%d n=4 d=%d", i, i);
        ck_assert_msg(strstr(log, want), "child %d printed %s", i, log);
        free(log);
        json_decref(c);
    }
    ck_assert(e2e_int(pj, "stoppedAt") >= prev_stop);
    json_decref(pj);
}
END_TEST

START_TEST(test_e2e_array_sequential_failure_stops_the_rest)
{
    e2e_register_full("e2e-fail1",
                      "{" IMAGE ",\"command\":[\"sh\",\"-c\",\"test "
                      "$AWS_BATCH_JOB_ARRAY_INDEX -ne 1\"]," SMALL "}",
                      NULL);
    const char *p = e2e_submit("seqfail", "e2e-fail1",
                               "\"arrayProperties\":{\"size\":3},"
                               "\"dependsOn\":[{\"type\":\"SEQUENTIAL\"}]");
    json_t *pj = e2e_wait(p, 120);
    ck_assert_str_eq(status_of(pj), "FAILED");
    json_t *c0 = e2e_wait(child(p, 0), 5), *c1 = e2e_wait(child(p, 1), 5);
    json_t *c2 = e2e_wait(child(p, 2), 5);
    ck_assert_str_eq(status_of(c0), "SUCCEEDED");
    ck_assert_str_eq(status_of(c1), "FAILED");
    ck_assert_str_eq(status_of(c2), "FAILED");
    ck_assert_msg(strstr(reason_of(c2), "Dependent Job failed") &&
                      strstr(reason_of(c2), child(p, 1)),
                  "%s", reason_of(c2));
    ck_assert_int_eq(json_array_size(json_object_get(c2, "attempts")), 0);
    json_decref(pj);
    json_decref(c0);
    json_decref(c1);
    json_decref(c2);
}
END_TEST

START_TEST(test_e2e_array_n_to_n_and_parent_dependency)
{
    e2e_register_full("e2e-nap",
                      "{" IMAGE ",\"command\":[\"sleep\",\"1\"]," SMALL "}",
                      NULL);
    const char *a = e2e_submit("n2n-a", "e2e-nap",
                               "\"arrayProperties\":{\"size\":3}");
    char extra[300];
    snprintf(extra, sizeof(extra),
             "\"arrayProperties\":{\"size\":3},\"dependsOn\":[{\"jobId\":"
             "\"%s\",\"type\":\"N_TO_N\"}]",
             a);
    const char *b = e2e_submit("n2n-b", "e2e-nap", extra);
    snprintf(extra, sizeof(extra), "\"dependsOn\":[{\"jobId\":\"%s\"}]", b);
    const char *after = e2e_submit("after-array", "e2e-nap", extra);
    json_t *jafter = e2e_wait(after, 180);
    ck_assert_str_eq(status_of(jafter), "SUCCEEDED");
    json_int_t last_stop = 0;
    for (int i = 0; i < 3; i++) {
        json_t *ca = e2e_wait(child(a, i), 5), *cb = e2e_wait(child(b, i), 5);
        ck_assert_msg(e2e_int(cb, "startedAt") >= e2e_int(ca, "stoppedAt"),
                      "%s started before %s stopped", child(b, i),
                      child(a, i));
        if (e2e_int(cb, "stoppedAt") > last_stop) {
            last_stop = e2e_int(cb, "stoppedAt");
        }
        json_decref(ca);
        json_decref(cb);
    }
    ck_assert_msg(e2e_int(jafter, "startedAt") >= last_stop,
                  "a job depending on an array started before all children "
                  "stopped");
    json_decref(jafter);

    char args[300];
    snprintf(args, sizeof(args),
             "submit-job --job-name x --job-queue default --job-definition "
             "e2e-nap --array-properties size=2 --depends-on "
             "jobId=%s,type=N_TO_N",
             a);
    expect_cli_error(args, "must be an array job of the same size");
}
END_TEST

START_TEST(test_e2e_array_size_limits)
{
    expect_cli_error("submit-job --job-name x --job-queue default "
                     "--job-definition e2e-nap --array-properties size=1",
                     "arrayProperties.size must be from 2 to 10000");
    expect_cli_error("submit-job --job-name x --job-queue default "
                     "--job-definition e2e-nap --array-properties size=10001",
                     "arrayProperties.size must be from 2 to 10000");
}
END_TEST

START_TEST(test_e2e_cascade_through_depth)
{
    e2e_register_full("e2e-no",
                      "{" IMAGE ",\"command\":[\"false\"]," SMALL "}", NULL);
    e2e_register_full("e2e-yes",
                      "{" IMAGE ",\"command\":[\"true\"]," SMALL "}", NULL);
    const char *a = e2e_submit("chain-a", "e2e-no", NULL);
    char extra[200];
    snprintf(extra, sizeof(extra), "\"dependsOn\":[{\"jobId\":\"%s\"}]", a);
    const char *b = e2e_submit("chain-b", "e2e-yes", extra);
    snprintf(extra, sizeof(extra), "\"dependsOn\":[{\"jobId\":\"%s\"}]", b);
    const char *c = e2e_submit("chain-c", "e2e-yes", extra);
    json_t *jb = e2e_wait(b, 120), *jc = e2e_wait(c, 120);
    ck_assert_str_eq(status_of(jb), "FAILED");
    ck_assert_msg(strstr(reason_of(jb), a), "%s", reason_of(jb));
    ck_assert_str_eq(status_of(jc), "FAILED");
    ck_assert_msg(strstr(reason_of(jc), "Dependent Job failed") &&
                      strstr(reason_of(jc), b),
                  "%s", reason_of(jc));
    json_decref(jb);
    json_decref(jc);
    expect_cli_error("submit-job --job-name x --job-queue default "
                     "--job-definition e2e-yes --depends-on jobId=no-such-job",
                     "dependency job no-such-job does not exist");
}
END_TEST

START_TEST(test_e2e_parameters_overrides_and_refusals)
{
    e2e_register_full("e2e-param",
                      "{" IMAGE ",\"command\":[\"sh\",\"-c\",\"echo "
                      "Ref::greeting $EXTRA $BASE\"],\"environment\":[{"
                      "\"name\":\"BASE\",\"value\":\"def\"}]," SMALL "}",
                      "\"parameters\":{\"greeting\":\"hello\"}");
    const char *a = e2e_submit(
        "param", "e2e-param",
        "\"parameters\":{\"greeting\":\"howdy\"},\"containerOverrides\":{"
        "\"environment\":[{\"name\":\"EXTRA\",\"value\":\"x1\"},{\"name\":"
        "\"BASE\",\"value\":\"over\"}],\"memory\":48}");
    json_t *j = e2e_wait(a, 120);
    ck_assert_str_eq(status_of(j), "SUCCEEDED");
    char *log = e2e_job_log(a, 1);
    ck_assert_msg(strstr(log, "howdy x1 over"), "%s", log);
    free(log);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(j, "container"), "memory")),
                     48);
    json_decref(j);

    e2e_register_full("e2e-noparam",
                      "{" IMAGE ",\"command\":[\"echo\",\"Ref::missing\"]," SMALL
                      "}",
                      NULL);
    expect_cli_error("submit-job --job-name x --job-queue default "
                     "--job-definition e2e-noparam",
                     "Unable to substitute value. No parameter found for "
                     "reference missing");
    expect_cli_error("submit-job --job-name x --job-queue default "
                     "--job-definition e2e-param --container-overrides "
                     "'{\"environment\":[{\"name\":\"AWS_BATCH_X\",\"value\":"
                     "\"1\"}]}'",
                     "AWS_BATCH_X is reserved");
    /* a deregistered revision refuses submissions */
    json_t *r = e2e_call("RegisterJobDefinition",
                         "{\"jobDefinitionName\":\"e2e-gone\",\"type\":"
                         "\"container\",\"containerProperties\":{" IMAGE
                         "," SMALL "}}");
    char ref[200], args[300];
    snprintf(ref, sizeof(ref), "e2e-gone:%d",
             (int)json_integer_value(json_object_get(r, "revision")));
    json_decref(r);
    json_decref(e2e_call("DeregisterJobDefinition", "{\"jobDefinition\":\"%s\"}",
                         ref));
    snprintf(args, sizeof(args),
             "submit-job --job-name x --job-queue default --job-definition %s",
             ref);
    expect_cli_error(args, "does not exist or is not in ACTIVE status");
}
END_TEST

START_TEST(test_e2e_retry_strategy)
{
    /* fails on attempts 1 and 2, succeeds on 3 */
    e2e_register_full("e2e-flaky",
                      "{" IMAGE ",\"command\":[\"sh\",\"-c\",\"test "
                      "$AWS_BATCH_JOB_ATTEMPT -ge 3\"]," SMALL "}",
                      "\"retryStrategy\":{\"attempts\":3}");
    json_t *j = e2e_wait(e2e_submit("flaky", "e2e-flaky", NULL), 180);
    ck_assert_str_eq(status_of(j), "SUCCEEDED");
    json_t *att = json_object_get(j, "attempts");
    ck_assert_int_eq(json_array_size(att), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(json_array_get(att, 0), "container"),
                         "exitCode")),
                     1);
    json_decref(j);

    /* evaluateOnExit: exit 3 means EXIT; the first matching rule wins */
    e2e_register_full("e2e-exit3r",
                      "{" IMAGE ",\"command\":[\"sh\",\"-c\",\"exit 3\"]," SMALL
                      "}",
                      NULL);
    j = e2e_wait(e2e_submit("noretry", "e2e-exit3r",
                            "\"retryStrategy\":{\"attempts\":3,"
                            "\"evaluateOnExit\":[{\"onExitCode\":\"3\","
                            "\"action\":\"exit\"},{\"onExitCode\":\"*\","
                            "\"action\":\"RETRY\"}]}"),
                 120);
    ck_assert_str_eq(status_of(j), "FAILED");
    ck_assert_int_eq(json_array_size(json_object_get(j, "attempts")), 1);
    json_decref(j);
}
END_TEST

START_TEST(test_e2e_timeout_fails_without_retry)
{
    e2e_register_full("e2e-slow",
                      "{" IMAGE ",\"command\":[\"sleep\",\"60\"]," SMALL "}",
                      NULL);
    json_t *j = e2e_wait(e2e_submit("slow", "e2e-slow",
                                    "\"timeout\":{\"attemptDurationSeconds\":2},"
                                    "\"retryStrategy\":{\"attempts\":3}"),
                         120);
    ck_assert_str_eq(status_of(j), "FAILED");
    ck_assert_str_eq(reason_of(j), "Job attempt duration exceeded timeout");
    ck_assert_int_eq(json_array_size(json_object_get(j, "attempts")), 1);
    ck_assert_msg(e2e_int(j, "stoppedAt") - e2e_int(j, "startedAt") < 30000,
                  "the timeout did not stop the container promptly");
    json_decref(j);
}
END_TEST

START_TEST(test_e2e_cancel_and_terminate)
{
    e2e_register_full("e2e-sleep30",
                      "{" IMAGE ",\"command\":[\"sleep\",\"30\"]," SMALL "}",
                      NULL);
    const char *running = e2e_submit("to-terminate", "e2e-sleep30",
                                     "\"retryStrategy\":{\"attempts\":2}");
    char extra[200];
    snprintf(extra, sizeof(extra), "\"dependsOn\":[{\"jobId\":\"%s\"}]",
             running);
    const char *waiting = e2e_submit("to-cancel", "e2e-sleep30", extra);
    json_decref(e2e_wait_status(running, "RUNNING", 60));

    /* cancel leaves a RUNNING job alone (AWS), but fails a PENDING one */
    json_decref(e2e_call("CancelJob", "{\"jobId\":\"%s\",\"reason\":\"no\"}",
                         running));
    json_decref(e2e_call("CancelJob",
                         "{\"jobId\":\"%s\",\"reason\":\"not needed\"}",
                         waiting));
    json_t *jw = e2e_wait(waiting, 30);
    ck_assert_str_eq(status_of(jw), "FAILED");
    ck_assert_str_eq(reason_of(jw), "not needed");
    ck_assert(json_is_true(json_object_get(jw, "isCancelled")));
    json_t *still = e2e_wait_status(running, "RUNNING", 5);
    ck_assert_str_eq(status_of(still), "RUNNING");
    json_decref(still);

    json_decref(e2e_call("TerminateJob",
                         "{\"jobId\":\"%s\",\"reason\":\"operator stop\"}",
                         running));
    json_t *jr = e2e_wait(running, 30);
    ck_assert_str_eq(status_of(jr), "FAILED");
    ck_assert_str_eq(reason_of(jr), "operator stop");
    ck_assert(json_is_true(json_object_get(jr, "isTerminated")));
    ck_assert_int_eq(json_array_size(json_object_get(jr, "attempts")), 1);
    json_decref(jw);
    json_decref(jr);

    /* terminate on an array parent reaches every child */
    const char *p = e2e_submit("arr-term", "e2e-sleep30",
                               "\"arrayProperties\":{\"size\":3}");
    json_decref(e2e_wait_status(child(p, 0), "RUNNING", 60));
    json_decref(e2e_call("TerminateJob",
                         "{\"jobId\":\"%s\",\"reason\":\"all of it\"}", p));
    json_t *pj = e2e_wait(p, 60);
    ck_assert_str_eq(status_of(pj), "FAILED");
    ck_assert_str_eq(reason_of(pj), "all of it");
    for (int i = 0; i < 3; i++) {
        json_t *c = e2e_wait(child(p, i), 30);
        ck_assert_str_eq(status_of(c), "FAILED");
        ck_assert(json_is_true(json_object_get(c, "isTerminated")));
        json_decref(c);
    }
    json_decref(pj);

    /* one child: it fails alone, its siblings finish, the parent fails */
    e2e_register_full("e2e-sleep3",
                      "{" IMAGE ",\"command\":[\"sleep\",\"3\"]," SMALL "}",
                      NULL);
    p = e2e_submit("arr-one", "e2e-sleep3", "\"arrayProperties\":{\"size\":2}");
    json_decref(e2e_call("TerminateJob",
                         "{\"jobId\":\"%s\",\"reason\":\"just one\"}",
                         child(p, 1)));
    json_t *c0 = e2e_wait(child(p, 0), 60), *c1 = e2e_wait(child(p, 1), 60);
    pj = e2e_wait(p, 60);
    ck_assert_str_eq(status_of(c0), "SUCCEEDED");
    ck_assert_str_eq(status_of(c1), "FAILED");
    ck_assert_str_eq(reason_of(c1), "just one");
    ck_assert_str_eq(status_of(pj), "FAILED");
    ck_assert_str_eq(reason_of(pj), "1 of 2 child jobs failed");
    json_decref(c0);
    json_decref(c1);
    json_decref(pj);
}
END_TEST

START_TEST(test_e2e_queue_state_and_priority)
{
    drv_err_t err;
    char e[DRV_ERRSTR_SIZE];
    json_t *req = json_pack("{s:s,s:i,s:[{s:i,s:s}]}", "jobQueueName",
                            "e2e-high", "priority", 10,
                            "computeEnvironmentOrder", "order", 1,
                            "computeEnvironment", "local");
    json_decref(drv_client_call(e2e_client, "CreateJobQueue", req, &err, e,
                                sizeof(e)));
    json_decref(req);
    /* one vCPU each: the local environment (2 vCPUs) runs two at a time */
    e2e_register_full("e2e-cpu1",
                      "{" IMAGE ",\"command\":[\"sleep\",\"3\"],\"vcpus\":1,"
                      "\"memory\":32}",
                      NULL);
    const char *low[4];
    for (int i = 0; i < 4; i++) {
        low[i] = e2e_submit("low", "e2e-cpu1", NULL);
    }
    json_decref(e2e_wait_status(low[0], "RUNNING", 60));
    const char *high = e2e_submit_to("e2e-high", "high", "e2e-cpu1", NULL);
    json_t *jh = e2e_wait(high, 120), *jl = e2e_wait(low[3], 120);
    ck_assert_msg(e2e_int(jh, "startedAt") < e2e_int(jl, "startedAt"),
                  "the high-priority job did not overtake the backlog");
    json_decref(jh);
    json_decref(jl);

    /* list-jobs: no status means RUNNING only; a filter means every
     * status, newest first; JOB_DEFINITION matches any revision */
    json_t *l = e2e_call("ListJobs", "{\"jobQueue\":\"default\","
                                     "\"filters\":[{\"name\":\"JOB_DEFINITION\","
                                     "\"values\":[\"e2e-cpu*\"]}]}");
    json_t *list = json_object_get(l, "jobSummaryList");
    ck_assert_int_ge(json_array_size(list), 4);
    for (size_t i = 1; i < json_array_size(list); i++) {
        ck_assert(e2e_int(json_array_get(list, i - 1), "createdAt") >=
                  e2e_int(json_array_get(list, i), "createdAt"));
    }
    json_decref(l);
    l = e2e_call("ListJobs", "{\"jobQueue\":\"default\",\"filters\":[{"
                             "\"name\":\"JOB_NAME\",\"values\":[\"LOW\"]}],"
                             "\"maxResults\":2}");
    ck_assert_int_eq(json_array_size(json_object_get(l, "jobSummaryList")), 2);
    ck_assert_ptr_nonnull(json_object_get(l, "nextToken"));
    json_decref(l);
    l = e2e_call("ListJobs", "{\"jobQueue\":\"default\"}");
    size_t k;
    json_t *x;
    json_array_foreach(json_object_get(l, "jobSummaryList"), k, x)
    {
        ck_assert_str_eq(status_of(x), "RUNNING");
    }
    json_decref(l);

    /* a DISABLED queue refuses new jobs */
    json_decref(e2e_call("UpdateJobQueue",
                         "{\"jobQueue\":\"e2e-high\",\"state\":\"DISABLED\"}"));
    expect_cli_error("submit-job --job-name x --job-queue e2e-high "
                     "--job-definition e2e-cpu1",
                     "JobQueue e2e-high is not in ENABLED state");
}
END_TEST

START_TEST(test_e2e_container_properties)
{
    char props[2048], path[1024], e[DRV_ERRSTR_SIZE];
    const char *stack = getenv("DROVER_STACK_DIR");
    snprintf(props, sizeof(props),
             "{" IMAGE ",\"command\":[\"sh\",\"-c\",\"echo uid=$(id -u) "
             "nofile=$(ulimit -n) > /data/e2e-props.txt; grep -E ' /scratch "
             "| /dev/shm ' /proc/mounts >> /data/e2e-props.txt; touch /x || "
             "echo ro >> /data/e2e-props.txt\"]," SMALL ",\"user\":\"1000\","
             "\"readonlyRootFilesystem\":true,\"ulimits\":[{\"name\":"
             "\"nofile\",\"softLimit\":512,\"hardLimit\":1024}],"
             "\"linuxParameters\":{\"sharedMemorySize\":32,\"tmpfs\":[{"
             "\"containerPath\":\"/scratch\",\"size\":16}]},\"volumes\":[{"
             "\"name\":\"d\",\"host\":{\"sourcePath\":\"%s/shared\"}}],"
             "\"mountPoints\":[{\"sourceVolume\":\"d\",\"containerPath\":"
             "\"/data\"}]}",
             stack);
    e2e_register_full("e2e-props", props, NULL);
    json_t *j = e2e_wait(e2e_submit("props", "e2e-props", NULL), 120);
    ck_assert_str_eq(status_of(j), "SUCCEEDED");
    json_decref(j);
    snprintf(path, sizeof(path), "%s/shared/e2e-props.txt", stack);
    char *out = drv_read_file(path, NULL, e, sizeof(e));
    ck_assert_msg(out != NULL, "%s", e);
    ck_assert_msg(strstr(out, "uid=1000 nofile=512"), "%s", out);
    ck_assert_msg(strstr(out, "/scratch tmpfs") && strstr(out, "size=16384k"),
                  "%s", out);
    ck_assert_msg(strstr(out, "/dev/shm") && strstr(out, "size=32768k"), "%s",
                  out);
    ck_assert_msg(strstr(out, "ro"), "root file system was writable: %s", out);
    free(out);

    /* a host path outside the environment's allowedHostPaths, and a
     * privileged container, are refused at submission */
    e2e_register_full("e2e-etc",
                      "{" IMAGE ",\"command\":[\"true\"]," SMALL
                      ",\"volumes\":[{\"name\":\"etc\",\"host\":{"
                      "\"sourcePath\":\"/etc\"}}],\"mountPoints\":[{"
                      "\"sourceVolume\":\"etc\",\"containerPath\":\"/h\"}]}",
                      NULL);
    expect_cli_error("submit-job --job-name x --job-queue default "
                     "--job-definition e2e-etc",
                     "host path /etc is not allowed by compute environment "
                     "local");
    e2e_register_full("e2e-priv",
                      "{" IMAGE ",\"command\":[\"true\"]," SMALL
                      ",\"privileged\":true}",
                      NULL);
    expect_cli_error("submit-job --job-name x --job-queue default "
                     "--job-definition e2e-priv",
                     "privileged containers are not allowed by compute "
                     "environment local");
}
END_TEST

/* 10,000 SEQUENTIAL children: no dependency row per child, and a failure
 * upstream still reaches every one of them. */
START_TEST(test_e2e_large_sequential_array)
{
    char e[DRV_ERRSTR_SIZE], extra[300], like[100];
    e2e_register_full("e2e-hold",
                      "{" IMAGE ",\"command\":[\"sleep\",\"30\"]," SMALL "}",
                      NULL);
    const char *hold = e2e_submit("hold", "e2e-hold", NULL);
    snprintf(extra, sizeof(extra),
             "\"arrayProperties\":{\"size\":10000},\"dependsOn\":[{"
             "\"type\":\"SEQUENTIAL\"},{\"jobId\":\"%s\"}]",
             hold);
    const char *big = e2e_submit("big", "e2e-hold", extra);
    json_decref(e2e_wait_status(big, "PENDING", 60));

    drv_pg_t *pg = drv_pg_connect(drv_conf_get(e2e_conf, "pg.conninfo"), NULL,
                                  e, sizeof(e));
    ck_assert_msg(pg != NULL, "%s", e);
    snprintf(like, sizeof(like), "%s%%", big);
    const char *p[] = {like, big};
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "SELECT (SELECT count(*) FROM job_dependencies WHERE job_id LIKE $1), "
        "(SELECT count(*) FROM jobs WHERE array_parent = $2 AND status = "
        "'PENDING')",
        2, p, e, sizeof(e));
    ck_assert_msg(r != NULL, "%s", e);
    ck_assert_int_eq(drv_pg_res_int(r, 0, 0, -1), 1); /* the explicit one */
    ck_assert_int_eq(drv_pg_res_int(r, 0, 1, -1), 10000);
    drv_pg_res_free(r);
    drv_pg_destroy(pg);

    /* the dependency fails: the parent and all 10,000 children fail */
    json_decref(e2e_call("TerminateJob",
                         "{\"jobId\":\"%s\",\"reason\":\"stop\"}", hold));
    json_t *pj = e2e_wait(big, 240);
    ck_assert_str_eq(status_of(pj), "FAILED");
    ck_assert_msg(strstr(reason_of(pj), hold), "%s", reason_of(pj));
    json_decref(pj);
    json_t *list = e2e_call("ListJobs",
                            "{\"arrayJobId\":\"%s\",\"jobStatus\":"
                            "\"FAILED\",\"maxResults\":1000}",
                            big);
    ck_assert_int_eq(json_array_size(json_object_get(list, "jobSummaryList")),
                     1000);
    ck_assert_ptr_nonnull(json_object_get(list, "nextToken"));
    json_decref(list);
    json_t *last = e2e_wait(child(big, 9999), 60);
    ck_assert_str_eq(status_of(last), "FAILED");
    json_decref(last);
}
END_TEST

static pid_t extra_worker;

/* A worker for compute environment e2e-b, started by the test itself. */
static void start_extra_worker(void)
{
    e2e_setup();
    drv_err_t err;
    char e[DRV_ERRSTR_SIZE], bin[1024];
    json_t *req = json_pack("{s:s,s:s,s:i}", "computeEnvironmentName",
                            "e2e-b", "type", "UNMANAGED", "unmanagedvCpus", 2);
    json_decref(drv_client_call(e2e_client, "CreateComputeEnvironment", req,
                                &err, e, sizeof(e)));
    json_decref(req);
    snprintf(bin, sizeof(bin), "%s/build/bin/drover-worker",
             getenv("DROVER_SOURCE_DIR"));
    /* its own credentials and signing key, as an operator would add it */
    char cmd[1200], wconf[1024] = "";
    snprintf(cmd, sizeof(cmd), "%s/deploy/local/worker-conf e2e-b e2e-b-worker",
             getenv("DROVER_SOURCE_DIR"));
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(wconf, sizeof(wconf), p));
    ck_assert_int_eq(pclose(p), 0);
    wconf[strcspn(wconf, "\n")] = '\0';
    extra_worker = fork();
    if (extra_worker == 0) {
        execl(bin, bin, "--config", wconf, "--set", "log.level=warn",
              (char *)NULL);
        _exit(127);
    }
    ck_assert_int_gt(extra_worker, 0);
}

static void stop_extra_worker(void)
{
    if (extra_worker > 0) {
        kill(extra_worker, SIGTERM);
        waitpid(extra_worker, NULL, 0);
    }
    e2e_teardown();
}

/* A queue tries its compute environments in order: when the first has no
 * room, a job goes to the second at once instead of waiting. */
START_TEST(test_e2e_queue_spills_to_next_environment)
{
    drv_err_t err;
    char e[DRV_ERRSTR_SIZE];
    json_t *req = json_pack("{s:s,s:i,s:[{s:i,s:s},{s:i,s:s}]}",
                            "jobQueueName", "e2e-spill", "priority", 1,
                            "computeEnvironmentOrder", "order", 1,
                            "computeEnvironment", "local", "order", 2,
                            "computeEnvironment", "e2e-b");
    json_t *r = drv_client_call(e2e_client, "CreateJobQueue", req, &err, e,
                                sizeof(e));
    ck_assert_msg(r != NULL, "%s", e);
    json_decref(r);
    json_decref(req);
    e2e_register_full("e2e-cpu1b",
                      "{" IMAGE ",\"command\":[\"sleep\",\"4\"],\"vcpus\":1,"
                      "\"memory\":32}",
                      NULL);
    const char *ids[3];
    for (int i = 0; i < 3; i++) {
        ids[i] = e2e_submit_to("e2e-spill", "spill", "e2e-cpu1b", NULL);
    }
    int on_b = 0;
    json_int_t first_stop = INT64_MAX, last_start = 0;
    for (int i = 0; i < 3; i++) {
        json_t *j = e2e_wait(ids[i], 120);
        ck_assert_str_eq(status_of(j), "SUCCEEDED");
        const char *w = json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(j, "attempts"), 0),
                            "container"),
            "containerInstanceArn"));
        on_b += w && !strcmp(w, "e2e-b-worker");
        first_stop = e2e_int(j, "stoppedAt") < first_stop
                         ? e2e_int(j, "stoppedAt")
                         : first_stop;
        last_start = e2e_int(j, "startedAt") > last_start
                         ? e2e_int(j, "startedAt")
                         : last_start;
        json_decref(j);
    }
    ck_assert_msg(on_b >= 1, "no job went to the second environment");
    ck_assert_msg(last_start < first_stop,
                  "a job waited for room although the next environment had "
                  "some");
}
END_TEST

/* Issue 14: a queue's jobStateTimeLimitActions are enforced (a job
 * RUNNABLE for over maxTimeSeconds with the action's reason is
 * cancelled), and validated as AWS does; a job on a DISABLED environment
 * is not told it is misconfigured. */
START_TEST(test_e2e_queue_time_limit_actions)
{
    char q[64], dq[64], dce[64], e[DRV_ERRSTR_SIZE];
    snprintf(q, sizeof(q), "tl-q-%d", (int)getpid());
    snprintf(dq, sizeof(dq), "tl-dq-%d", (int)getpid());
    snprintf(dce, sizeof(dce), "tl-ce-%d", (int)getpid());
    json_decref(e2e_call(
        "CreateJobQueue",
        "{\"jobQueueName\":\"%s\",\"priority\":1,\"computeEnvironmentOrder\":"
        "[{\"order\":1,\"computeEnvironment\":\"local\"}],"
        "\"jobStateTimeLimitActions\":[{\"reason\":\"MISCONFIGURATION:"
        "COMPUTE_ENVIRONMENT_MAX_RESOURCE\",\"state\":\"RUNNABLE\","
        "\"maxTimeSeconds\":1,"
        "\"action\":\"CANCEL\"}]}",
        q));
    /* more vCPUs than environment local will ever have */
    e2e_register_full("e2e-too-big",
                      "{\"image\":\"localhost/drover/busybox:latest\","
                      "\"command\":[\"true\"],\"resourceRequirements\":[{"
                      "\"type\":\"VCPU\",\"value\":\"4000\"},{\"type\":"
                      "\"MEMORY\",\"value\":\"32\"}]}",
                      NULL);
    const char *id = e2e_submit_to(q, "too-big", "e2e-too-big", NULL);
    json_t *j = e2e_wait(id, 60);
    ck_assert_str_eq(status_of(j), "FAILED");
    ck_assert_msg(strstr(reason_of(j), "jobStateTimeLimitActions") &&
                      strstr(reason_of(j), "COMPUTE_ENVIRONMENT_MAX_RESOURCE"),
                  "%s", reason_of(j));
    ck_assert(json_is_true(json_object_get(j, "isCancelled")));
    json_decref(j);
    /* refused as AWS refuses them */
    const char *bad[] = {
        "{\"reason\":\"SOMETHING\",\"state\":\"RUNNABLE\",\"maxTimeSeconds\":"
        "600,\"action\":\"CANCEL\"}",
        "{\"reason\":\"CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY\",\"state\":"
        "\"RUNNABLE\",\"maxTimeSeconds\":600,\"action\":\"TERMINATE\"}",
        "{\"reason\":\"CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY\",\"state\":"
        "\"RUNNABLE\",\"maxTimeSeconds\":90000,\"action\":\"CANCEL\"}"};
    const char *why[] = {"reason must be one of", "TERMINATE", "maxTimeSeconds"};
    for (size_t i = 0; i < 3; i++) {
        char text[1024];
        snprintf(text, sizeof(text),
                 "{\"jobQueue\":\"%s\",\"jobStateTimeLimitActions\":[%s]}", q,
                 bad[i]);
        json_t *req = json_loads(text, 0, NULL);
        drv_err_t err;
        ck_assert_ptr_null(drv_client_call(e2e_client, "UpdateJobQueue", req,
                                           &err, e, sizeof(e)));
        ck_assert_msg(strstr(e, why[i]), "%s", e);
        json_decref(req);
    }
    /* a DISABLED environment: the job waits, with no false reason */
    json_decref(e2e_call("CreateComputeEnvironment",
                         "{\"computeEnvironmentName\":\"%s\",\"type\":"
                         "\"UNMANAGED\",\"state\":\"DISABLED\","
                         "\"unmanagedvCpus\":4}",
                         dce));
    json_decref(e2e_call(
        "CreateJobQueue",
        "{\"jobQueueName\":\"%s\",\"priority\":1,\"computeEnvironmentOrder\":"
        "[{\"order\":1,\"computeEnvironment\":\"%s\"}]}",
        dq, dce));
    e2e_register("e2e-parked", "[\"true\"]", 32);
    id = e2e_submit_to(dq, "parked", "e2e-parked", NULL);
    j = e2e_wait_status(id, "RUNNABLE", 60);
    json_decref(j);
    sleep(3); /* a few scheduling passes */
    j = e2e_wait_status(id, "RUNNABLE", 10);
    ck_assert_msg(strstr(reason_of(j), "DROVER:COMPUTE_ENVIRONMENT_DISABLED"),
                  "%s", reason_of(j));
    json_decref(j);
    json_decref(e2e_call("TerminateJob", "{\"jobId\":\"%s\",\"reason\":"
                                         "\"done\"}",
                         id));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("e2e_semantics");
    TCase *tc = tcase_create("semantics");
    tcase_add_checked_fixture(tc, e2e_setup, e2e_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_e2e_array_sequential_in_order);
    tcase_add_test(tc, test_e2e_array_sequential_failure_stops_the_rest);
    tcase_add_test(tc, test_e2e_array_n_to_n_and_parent_dependency);
    tcase_add_test(tc, test_e2e_array_size_limits);
    tcase_add_test(tc, test_e2e_cascade_through_depth);
    tcase_add_test(tc, test_e2e_parameters_overrides_and_refusals);
    tcase_add_test(tc, test_e2e_retry_strategy);
    tcase_add_test(tc, test_e2e_timeout_fails_without_retry);
    tcase_add_test(tc, test_e2e_cancel_and_terminate);
    tcase_add_test(tc, test_e2e_queue_state_and_priority);
    tcase_add_test(tc, test_e2e_container_properties);
    tcase_add_test(tc, test_e2e_large_sequential_array);
    tcase_add_test(tc, test_e2e_queue_time_limit_actions);
    suite_add_tcase(s, tc);
    tc = tcase_create("environments");
    tcase_add_checked_fixture(tc, start_extra_worker, stop_extra_worker);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_e2e_queue_spills_to_next_environment);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
