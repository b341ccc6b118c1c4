/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End-to-end: what operators and status consumers use. `drover wait`,
 * `drover logs`, `drover watch`, and the daemons' /metrics and /healthz,
 * against the stack tests/e2e/run starts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"
#include "check_main.h"

/* Run the drover CLI; stdout into out, stderr into err; exit status. */
static int cli(const char *args, char *out, size_t out_size, char *err,
               size_t err_size)
{
    char cmd[4096], epath[] = "/tmp/drv-e2e-err-XXXXXX";
    int fd = mkstemp(epath);
    close(fd);
    snprintf(cmd, sizeof(cmd), "%s/build/bin/drover %s 2>%s",
             getenv("DROVER_SOURCE_DIR"), args, epath);
    FILE *p = popen(cmd, "r");
    ck_assert(p);
    size_t n = fread(out, 1, out_size - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    FILE *fp = fopen(epath, "r");
    n = fp ? fread(err, 1, err_size - 1, fp) : 0;
    err[n] = '\0';
    if (fp) {
        fclose(fp);
    }
    unlink(epath);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char out[65536], err[4096];

/* The CLI's exit status must be `want`; what it printed when it is not. */
#define CLI_RC(args, want)                                                   \
    do {                                                                     \
        int rc_ = cli((args), out, sizeof(out), err, sizeof(err));           \
        ck_assert_msg(rc_ == (want), "drover %s: exit %d, not %d\nout: "     \
                      "%s\nerr: %s", (args), rc_, (want), out, err);         \
    } while (0)

START_TEST(test_e2e_wait_exit_status_and_progress)
{
    char args[256], id[40];
    e2e_register("e2e-wait-ok", "[\"sh\",\"-c\",\"sleep 1\"]", 32);
    e2e_register("e2e-wait-bad", "[\"sh\",\"-c\",\"exit 4\"]", 32);
    snprintf(id, sizeof(id), "%s", e2e_submit("wait-ok", "e2e-wait-ok", NULL));
    snprintf(args, sizeof(args), "wait --job-id %s --timeout 120", id);
    CLI_RC(args, 0);
    ck_assert_msg(strstr(out, "SUCCEEDED\n"), "out: %s", out);
    snprintf(id, sizeof(id), "%s", e2e_submit("wait-bad", "e2e-wait-bad", NULL));
    snprintf(args, sizeof(args), "wait --job-id %s --timeout 120", id);
    CLI_RC(args, 1);
    ck_assert_msg(strstr(err, "FAILED: Essential container in task exited"),
                  "err: %s", err);
    /* an array: progress lines count the children */
    snprintf(id, sizeof(id), "%s",
             e2e_submit("wait-array", "e2e-wait-ok",
                        "\"arrayProperties\":{\"size\":3}"));
    snprintf(args, sizeof(args), "wait --job-id %s --timeout 120", id);
    CLI_RC(args, 0);
    ck_assert_msg(strstr(out, "SUCCEEDED: 3 of 3 children done (3 succeeded, "
                              "0 failed), 0 running\n"),
                  "out: %s", out);
    /* a job that does not exist (asked for until the timeout, as one just
     * submitted may not be recorded yet), and a timeout */
    CLI_RC("wait --job-id no-such-job --timeout 2", 1);
    ck_assert_msg(strstr(err, "does not exist"), "err: %s", err);
    e2e_register("e2e-wait-long", "[\"sleep\",\"30\"]", 32);
    snprintf(id, sizeof(id), "%s",
             e2e_submit("wait-long", "e2e-wait-long", NULL));
    snprintf(args, sizeof(args), "wait --job-id %s --timeout 1 --quiet", id);
    CLI_RC(args, 3);
    ck_assert_msg(strstr(err, "not finished after 1 s"), "err: %s", err);
    json_decref(e2e_call("TerminateJob", "{\"jobId\":\"%s\",\"reason\":\"done"
                                         "\"}",
                         id));
}
END_TEST

START_TEST(test_e2e_logs_of_finished_and_running_jobs)
{
    char args[256], id[40];
    e2e_register("e2e-logs",
                 "[\"sh\",\"-c\",\"echo line-one; echo line-two >&2\"]", 32);
    snprintf(id, sizeof(id), "%s", e2e_submit("logs", "e2e-logs", NULL));
    json_decref(e2e_wait(id, 120));
    snprintf(args, sizeof(args), "logs --job-id %s", id);
    CLI_RC(args, 0);
    ck_assert_msg(strstr(out, "line-one\n") && strstr(out, "line-two\n"),
                  "out: %s", out);
    snprintf(args, sizeof(args), "logs --job-id %s --attempt 2", id);
    CLI_RC(args, 1);
    ck_assert_msg(strstr(err, "no output kept for attempt 2"), "err: %s", err);
    /* --follow: from before the job starts to its end */
    e2e_register("e2e-logs-slow",
                 "[\"sh\",\"-c\",\"for i in 1 2 3; do echo tick-$i; sleep 1; "
                 "done\"]",
                 32);
    snprintf(id, sizeof(id), "%s",
             e2e_submit("logs-slow", "e2e-logs-slow", NULL));
    snprintf(args, sizeof(args), "logs --job-id %s --follow", id);
    CLI_RC(args, 0);
    ck_assert_msg(strstr(out, "tick-1\n") && strstr(out, "tick-3\n"),
                  "out: %s err: %s", out, err);
}
END_TEST

START_TEST(test_e2e_watch_streams_events)
{
    char args[256], id[40];
    e2e_register("e2e-watch", "[\"true\"]", 32);
    snprintf(id, sizeof(id), "%s", e2e_submit("watch", "e2e-watch", NULL));
    json_decref(e2e_wait(id, 120));
    /* from the beginning, filtered to this job; `timeout` ends it */
    snprintf(args, sizeof(args),
             "watch --job-id %s --from-beginning & sleep 12; kill $!", id);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "sh -c '%s/build/bin/drover %s'",
             getenv("DROVER_SOURCE_DIR"), args);
    FILE *p = popen(cmd, "r");
    ck_assert(p);
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    int lines = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *ev = json_loads(line, 0, NULL);
        ck_assert_msg(ev, "not JSON: %s", line);
        ck_assert_str_eq(json_string_value(json_object_get(ev, "jobId")), id);
        lines++;
        if (!strcmp(json_string_value(json_object_get(ev, "status")),
                    "SUCCEEDED")) {
            ck_assert_int_ge(lines, 4); /* RUNNABLE STARTING RUNNING .. */
        }
        json_decref(ev);
    }
    ck_assert_int_ge(lines, 4);
    CLI_RC("watch --jobid x", 2);
    ck_assert_msg(strstr(err, "unknown or incomplete argument"), "%s", err);
}
END_TEST

/* The contract without Drover's C code: Python's confluent-kafka and avro
 * (Debian packages) read drover.events with the schema files. */
START_TEST(test_e2e_python_consumer_reads_events)
{
    char cmd[2048], id[40];
    e2e_register("e2e-py", "[\"true\"]", 32);
    snprintf(id, sizeof(id), "%s", e2e_submit("py", "e2e-py", NULL));
    json_decref(e2e_wait(id, 120));
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 %s/examples/python/status_consumer.py "
             "--config %s/conf/observer.conf --job-id %s --from-beginning "
             "--max-seconds 15",
             getenv("DROVER_SOURCE_DIR"), getenv("DROVER_STACK_DIR"), id);
    FILE *p = popen(cmd, "r");
    ck_assert(p);
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    char want[128];
    snprintf(want, sizeof(want), "%s RUNNABLE", id);
    ck_assert_msg(strstr(out, want), "out: %s", out);
    snprintf(want, sizeof(want), "%s SUCCEEDED Essential container in task "
                                 "exited",
             id);
    ck_assert_msg(strstr(out, want), "out: %s", out);
}
END_TEST

static void scrape(int port, const char *path, char *buf, size_t size,
                   int *code)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "curl -s -o /dev/stdout -w '\\n%%{http_code}' "
             "http://127.0.0.1:%d%s",
             port, path);
    FILE *p = popen(cmd, "r");
    ck_assert(p);
    size_t n = fread(buf, 1, size - 1, p);
    buf[n] = '\0';
    pclose(p);
    char *last = strrchr(buf, '\n');
    ck_assert(last);
    *code = atoi(last + 1);
    *last = '\0';
}

START_TEST(test_e2e_metrics_and_health)
{
    const char *base = getenv("DROVER_METRICS_PORT");
    ck_assert_msg(base, "DROVER_METRICS_PORT is not set: run tests/e2e/run");
    int port = atoi(base), code;
    e2e_register("e2e-metrics", "[\"true\"]", 32);
    json_decref(e2e_wait(e2e_submit("metrics", "e2e-metrics", NULL), 120));
    sleep(6); /* job gauges are refreshed every 5 s */
    scrape(port, "/healthz", out, sizeof(out), &code);
    ck_assert_int_eq(code, 200);
    ck_assert_str_eq(out, "ok: active\n");
    scrape(port, "/metrics", out, sizeof(out), &code);
    ck_assert_int_eq(code, 200);
    ck_assert_msg(strstr(out, "drover_jobs{queue=\"default\",status="
                              "\"SUCCEEDED\"} "),
                  "%s", out);
    ck_assert_msg(strstr(out, "drover_dispatcher_active 1\n"), "%s", out);
    ck_assert_msg(strstr(out, "drover_transitions_total{status=\"SUCCEEDED\"}"),
                  "%s", out);
    ck_assert_msg(strstr(out, "drover_release_latency_seconds_count "), "%s",
                  out);
    ck_assert_msg(strstr(out, "drover_kafka_consumer_lag{topic=\"drover.status"
                              "\""),
                  "%s", out);
    /* the workers: one of the two ran it */
    int started = 0;
    for (int w = 0; w < 2; w++) {
        scrape(port + 10 + w, "/metrics", out, sizeof(out), &code);
        ck_assert_int_eq(code, 200);
        ck_assert_msg(strstr(out, "drover_worker_free_vcpus "), "%s", out);
        started += strstr(out, "drover_container_start_seconds_count ") != NULL;
        scrape(port + 10 + w, "/healthz", err, sizeof(err), &code);
        ck_assert_int_eq(code, 200);
    }
    ck_assert_int_ge(started, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("ops");
    tcase_add_checked_fixture(tc, e2e_setup, e2e_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_e2e_wait_exit_status_and_progress);
    tcase_add_test(tc, test_e2e_logs_of_finished_and_running_jobs);
    tcase_add_test(tc, test_e2e_watch_streams_events);
    tcase_add_test(tc, test_e2e_metrics_and_health);
    tcase_add_test(tc, test_e2e_python_consumer_reads_events);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
