/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Integration tests of the dispatcher's handlers against a scratch
 * PostgreSQL database (DROVER_TEST_PG, a libpq connection string; the
 * suite's runner starts a private cluster): messages are encoded as a
 * producer or worker would, decoded and applied through intake.c inside a
 * transaction with a scheduling pass, as the loop does, with no Kafka.
 * Each test asserts the rows and the messages the dispatcher would
 * publish (its outbox queue).
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capacity.h"
#include "control.h"
#include "deps.h"
#include "check_main.h"
#include "drover/origin.h"
#include "drover/util.h"
#include "intake.h"
#include "loop.h"
#include "outbox.h"
#include "schedule.h"

#define CE "ce"
#define QUEUE "q"
#define WORKER "w1"
#define WORKER_START 1000

static drv_conf_t *conf;
static drv_log_t *log_;
static drv_disp_t *disp;
static json_t *sent; /* what the dispatcher published so far, decoded:
                        [{"topic", "key", "type", "msg"}] */
/* When origins are checked: the master secret, and who signs what
 * apply_raw sends to drover.status (sign_worker NULL: nobody) */
static drv_origin_key_t master;
static const char *sign_ce, *sign_worker;
static bool sign_badly; /* sign with a key that is not the worker's */

/* ---- the database --------------------------------------------------- */

static void sql(const char *text)
{
    char e[DRV_ERRSTR_SIZE];
    ck_assert_msg(drv_pg_exec(disp->pg, text, 0, NULL, e, sizeof(e)) == 0,
                  "%s: %s", text, e);
}

/* The first column of the first row of a query with one parameter, or
 * "(none)" (the caller frees). */
static char *value(const char *query, const char *param)
{
    char e[DRV_ERRSTR_SIZE];
    const char *p[] = {param};
    drv_pg_res_t *r = drv_pg_query(disp->pg, query, param ? 1 : 0,
                                   param ? p : NULL, e, sizeof(e));
    ck_assert_msg(r != NULL, "%s: %s", query, e);
    const char *v = drv_pg_res_rows(r) ? drv_pg_res_get(r, 0, 0) : "(none)";
    char *out = drv_strdup(v ? v : "(null)");
    drv_pg_res_free(r);
    return out;
}

static void assert_value(const char *query, const char *param,
                         const char *want)
{
    char *got = value(query, param);
    ck_assert_msg(!strcmp(got, want), "%s [%s]: %s, expected %s", query,
                  param ? param : "", got, want);
    free(got);
}

static void assert_status(const char *job_id, const char *want)
{
    assert_value("SELECT status FROM jobs WHERE job_id = $1", job_id, want);
}

static void assert_reason_has(const char *job_id, const char *want)
{
    char *why = value("SELECT status_reason FROM jobs WHERE job_id = $1",
                      job_id);
    ck_assert_msg(why && strstr(why, want), "%s: %s, not %s", job_id,
                  why ? why : "no reason", want);
    free(why);
}

static void assert_reason(const char *job_id, const char *want)
{
    assert_value("SELECT status_reason FROM jobs WHERE job_id = $1", job_id,
                 want);
}

/* ---- messages in ---------------------------------------------------- */

/* Decode and apply message bytes, their batch's scheduling pass and
 * commit, as intake_batch does; record what would be published. */
static int apply_raw_result(const char *topic, const char *key,
                            const void *buf, size_t len, char *why,
                            size_t why_size);

static void apply_raw(const char *topic, const char *key, const void *buf,
                      size_t len)
{
    char e[DRV_ERRSTR_SIZE];
    ck_assert_msg(apply_raw_result(topic, key, buf, len, e, sizeof(e)) == 0,
                  "apply: %s", e);
}

/* What the dispatcher published since the last call, decoded into
 * `sent`; its outbox emptied. */
static void collect_sent(void)
{
    char e[DRV_ERRSTR_SIZE];
    for (size_t i = 0; i < disp->out_cnt; i++) {
        const drv__out_t *o = &disp->out[i];
        const char *type = "(undecodable)";
        json_t *msg = NULL;
        if (drv_codec_decode(disp->codec, o->buf, o->len, &type, &msg, e,
                             sizeof(e)) != DRV_OK) {
            type = "(undecodable)";
        }
        json_array_append_new(sent, json_pack("{s:s,s:s?,s:s,s:o?,s:s?,s:i}",
                                              "topic", o->topic, "key",
                                              o->key, "type", type, "msg",
                                              msg, "dlq", o->dlq_reason,
                                              "partition", o->partition));
    }
    drv__outbox_clear(disp);
}

/* Between hold() and hold_apply(), messages are decoded and kept, then
 * applied together as one consumed batch (one drv__intake_apply, as
 * intake_batch does): set-wise runs of several messages. */
#define HELD_MAX 32
typedef struct held {
    drv__msg_t m;
    char *topic, *key;
    void *buf;
} held_t;
static held_t held[HELD_MAX];
static size_t nheld;
static bool holding;

static void hold(void)
{
    holding = true;
    nheld = 0;
}

static void hold_apply(void)
{
    char e[DRV_ERRSTR_SIZE];
    drv__msg_t msgs[HELD_MAX];
    holding = false;
    for (size_t i = 0; i < nheld; i++) {
        msgs[i] = held[i].m;
    }
    ck_assert(drv_pg_begin(disp->pg, e, sizeof(e)) == 0);
    drv_submission_cache_clear(disp->cache);
    ck_assert_msg(drv__intake_apply(disp, msgs, nheld, e, sizeof(e)) == 0,
                  "%s", e);
    ck_assert_msg(drv__schedule_pass(disp, e, sizeof(e)) == 0, "%s", e);
    ck_assert_msg(drv__outbox_persist(disp, e, sizeof(e)) == 0, "%s", e);
    ck_assert(drv_pg_commit(disp->pg, e, sizeof(e)) == 0);
    drv__capacity_end(disp, true);
    collect_sent();
    for (size_t i = 0; i < nheld; i++) {
        drv__intake_msg_clear(&held[i].m);
        free(held[i].topic);
        free(held[i].key);
        free(held[i].buf);
    }
    nheld = 0;
}

/* As apply_raw; 0, or -1 when applying the decoded message failed (the
 * transaction is rolled back, why says what PostgreSQL said). */
static int apply_raw_result(const char *topic, const char *key,
                            const void *buf, size_t len, char *why,
                            size_t why_size)
{
    char e[DRV_ERRSTR_SIZE], origin[DRV_ORIGIN_NAME_SIZE];
    char sig[DRV_ORIGIN_SIG_HEX_SIZE];
    drv__origin_t from = {.source = topic, .key = key, .raw = buf,
                          .raw_len = len};
    if (sign_worker && !strcmp(topic, DRV_TOPIC_STATUS)) {
        drv_origin_key_t k;
        drv_origin_derive(&master, sign_ce, sign_worker, &k);
        k.k[0] ^= sign_badly;
        ck_assert(drv_origin_name(sign_ce, sign_worker, origin,
                                  sizeof(origin)));
        drv_origin_sign(&k, origin, buf, len, sig);
        from.signer = origin;
        from.sig = sig;
    }
    if (holding) { /* kept for hold_apply, with copies of what it points to */
        ck_assert(!sign_worker && nheld < HELD_MAX);
        held_t *h = &held[nheld];
        h->topic = drv_strdup(topic);
        h->key = key ? drv_strdup(key) : NULL;
        h->buf = drv_malloc(len ? len : 1);
        memcpy(h->buf, buf, len);
        drv__origin_t kept = {.source = h->topic, .key = h->key,
                              .raw = h->buf, .raw_len = len};
        if (drv__intake_decode(disp, &kept, &h->m) == 0) {
            nheld++;
        } else {
            free(h->topic);
            free(h->key);
            free(h->buf);
        }
        return 0;
    }
    ck_assert(drv_pg_begin(disp->pg, e, sizeof(e)) == 0);
    drv_submission_cache_clear(disp->cache);
    drv__msg_t m;
    if (drv__intake_decode(disp, &from, &m) == 0) {
        int rc = drv__intake_apply(disp, &m, 1, why, why_size);
        drv__intake_msg_clear(&m);
        if (rc != 0) {
            drv_pg_rollback(disp->pg);
            drv__capacity_end(disp, false);
            drv__outbox_clear(disp);
            return -1;
        }
    }
    ck_assert_msg(drv__schedule_pass(disp, e, sizeof(e)) == 0, "%s", e);
    ck_assert_msg(drv__outbox_persist(disp, e, sizeof(e)) == 0, "%s", e);
    ck_assert(drv_pg_commit(disp->pg, e, sizeof(e)) == 0);
    drv__capacity_end(disp, true);
    collect_sent();
    return 0;
}

/* Encode obj (taken over) as `schema`, as a producer would. */
static void *encode(const char *schema, json_t *obj, size_t *len)
{
    char e[DRV_ERRSTR_SIZE];
    void *buf;
    ck_assert_msg(drv_codec_encode(disp->codec, schema, obj, &buf, len, e,
                                   sizeof(e)) == 0,
                  "encode %s: %s", schema, e);
    json_decref(obj);
    return buf;
}

static void apply(const char *schema, const char *topic, const char *key,
                  json_t *obj)
{
    size_t len;
    void *buf = encode(schema, obj, &len);
    apply_raw(topic, key, buf, len);
    free(buf);
}

/* A SubmitJob of definition "d" on queue q; `extra` (taken over, or
 * NULL) adds or replaces fields. */
static void submit(const char *job_id, json_t *extra)
{
    json_t *sj = json_pack("{s:s,s:s,s:s,s:s,s:I}", "jobId", job_id,
                           "jobName", "t", "jobQueue", QUEUE,
                           "jobDefinition", "d", "submittedAt",
                           (json_int_t)drv_now_ms());
    if (extra) {
        json_object_update(sj, extra);
        json_decref(extra);
    }
    apply("JobRequest", DRV_TOPIC_SUBMIT_PREFIX QUEUE, job_id,
          json_pack("{s:{s:o}}", "request", "SubmitJob", sj));
}

static void stop(const char *job_id, bool terminate, const char *reason)
{
    apply("JobRequest", DRV_TOPIC_SUBMIT_PREFIX QUEUE, job_id,
          json_pack("{s:{s:{s:s,s:s,s:I}}}", "request",
                    terminate ? "TerminateJob" : "CancelJob", "jobId", job_id,
                    "reason", reason, "requestedAt",
                    (json_int_t)drv_now_ms()));
}

/* A worker's report; exit_code < 0: none. */
static void report_from(const char *worker, int64_t started,
                        const char *job_id, int attempt, const char *status,
                        int exit_code, const char *status_reason)
{
    json_t *m = json_pack("{s:s,s:i,s:s,s:s,s:I,s:I}", "jobId", job_id,
                          "attempt", attempt, "status", status, "worker",
                          worker, "timestamp", (json_int_t)drv_now_ms(),
                          "workerStartedAt", (json_int_t)started);
    if (exit_code >= 0) {
        json_object_set_new(m, "exitCode", json_integer(exit_code));
    }
    if (status_reason) {
        json_object_set_new(m, "statusReason", json_string(status_reason));
    }
    apply("JobStatus", DRV_TOPIC_STATUS, job_id, m);
}

static void report(const char *job_id, int attempt, const char *status,
                   int exit_code)
{
    report_from(WORKER, WORKER_START, job_id, attempt, status, exit_code,
                status[0] == 'F' ? DRV_REASON_EXITED : NULL);
}

/* STARTING, RUNNING, then the outcome of exit_code (0: SUCCEEDED). */
static void run_attempt(const char *job_id, int attempt, int exit_code)
{
    report(job_id, attempt, "STARTING", -1);
    report(job_id, attempt, "RUNNING", -1);
    report(job_id, attempt, exit_code == 0 ? "SUCCEEDED" : "FAILED",
           exit_code);
}

static void heartbeat(const char *worker, int64_t started)
{
    apply("WorkerHeartbeat", DRV_TOPIC_STATUS, worker,
          json_pack("{s:s,s:s,s:f,s:f,s:I,s:I,s:[],s:[],s:I,s:I,s:b}",
                    "worker", worker, "computeEnvironment", CE, "vcpusTotal",
                    4.0, "vcpusFree", 4.0, "memoryTotalMiB", (json_int_t)4096,
                    "memoryFreeMiB", (json_int_t)4096, "running",
                    "partitions", "startedAt", (json_int_t)started,
                    "timestamp", (json_int_t)drv_now_ms(), "draining", 0));
}

/* ---- messages out --------------------------------------------------- */

/* How many messages of `type` for job `key` (NULL: any) were published
 * with field `field` (NULL: any) equal to `want`. */
static int count_sent(const char *type, const char *key, const char *field,
                      const char *want)
{
    int n = 0;
    size_t i;
    json_t *s;
    json_array_foreach(sent, i, s)
    {
        json_t *msg = json_object_get(s, "msg");
        const char *k = json_string_value(json_object_get(s, "key"));
        const char *v = field ? json_string_value(json_object_get(msg, field))
                              : NULL;
        if (!strcmp(json_string_value(json_object_get(s, "type")), type) &&
            (!key || (k && !strcmp(k, key))) &&
            (!field || (v && !strcmp(v, want)))) {
            n++;
        }
    }
    return n;
}

/* The attempt number of the last RunJob for job_id, or 0. */
static int last_run(const char *job_id)
{
    int attempt = 0;
    size_t i;
    json_t *s;
    json_array_foreach(sent, i, s)
    {
        json_t *msg = json_object_get(s, "msg");
        if (!strcmp(json_string_value(json_object_get(s, "type")), "RunJob") &&
            !strcmp(json_string_value(json_object_get(msg, "jobId")),
                    job_id)) {
            attempt = (int)json_integer_value(json_object_get(msg, "attempt"));
        }
    }
    return attempt;
}

/* Job `job_id` ran once on WORKER and succeeded, with one event for each
 * of STARTING, RUNNING and SUCCEEDED. */
static void assert_succeeded_once(const char *job_id)
{
    assert_status(job_id, "SUCCEEDED");
    assert_value("SELECT exit_code FROM jobs WHERE job_id = $1", job_id, "0");
    assert_value("SELECT worker FROM attempts WHERE job_id = $1", job_id,
                 WORKER);
    const char *steps[] = {"STARTING", "RUNNING", "SUCCEEDED"};
    for (size_t i = 0; i < DRV_ARRAY_SIZE(steps); i++) {
        ck_assert_msg(count_sent("JobStateChange", job_id, "status",
                                 steps[i]) == 1,
                      "%s: one %s event", job_id, steps[i]);
    }
}

/* ---- fixture -------------------------------------------------------- */

static void setup(void)
{
    char e[DRV_ERRSTR_SIZE];
    const char *pg = getenv("DROVER_TEST_PG");
    ck_assert_msg(pg && *pg, "DROVER_TEST_PG (a libpq connection string "
                             "to a scratch database) is not set: run "
                             "tests/integration/run");
    conf = drv_conf_new();
    drv_conf_set(conf, "pg.conninfo", pg, NULL, 0);
    drv_conf_set(conf, "job.timeout.min.seconds", "1", NULL, 0);
    drv_conf_set(conf, "log.level", "error", NULL, 0);
    log_ = drv_log_from_conf("dispatcher-test", conf);
    disp = drv__disp_new_offline(conf, log_, e, sizeof(e));
    ck_assert_msg(disp != NULL, "%s", e);
    sent = json_array();
    sign_worker = NULL;
    sign_badly = false;
    sql("TRUNCATE jobs, attempts, job_dependencies, workers, outbox, "
        "job_queue_compute_environments, job_queues, compute_environments, "
        "job_definitions, job_receipts, scheduling_policies, share_usage, "
        "consumable_resources, consumable_updates CASCADE");
    sql("INSERT INTO compute_environments (name, max_vcpus, spec, "
        "created_at) VALUES ('" CE "', 2, '{}', 0)");
    sql("INSERT INTO job_queues (name, priority, spec, created_at) VALUES "
        "('" QUEUE "', 1, '{}', 0)");
    sql("INSERT INTO job_queue_compute_environments VALUES ('" QUEUE
        "', 1, '" CE "')");
    sql("INSERT INTO job_definitions (name, revision, spec, created_at) "
        "VALUES ('d', 1, '{\"jobDefinitionName\": \"d\", \"type\": "
        "\"container\", \"containerProperties\": {\"image\": \"busybox\", "
        "\"command\": [\"true\"], \"resourceRequirements\": [{\"type\": "
        "\"VCPU\", \"value\": \"1\"}, {\"type\": \"MEMORY\", \"value\": "
        "\"128\"}]}}', 0)");
}

static void teardown(void)
{
    drv_disp_destroy(disp);
    drv_log_destroy(log_);
    drv_conf_destroy(conf);
    json_decref(sent);
    disp = NULL;
}

/* ---- submissions ---------------------------------------------------- */

START_TEST(test_dispatcher_submission_released_with_events)
{
    submit("a", NULL);
    assert_status("a", "RUNNABLE");
    assert_value("SELECT released::text FROM jobs WHERE job_id = $1", "a",
                 "true");
    ck_assert_int_eq(last_run("a"), 1);
    ck_assert_int_eq(count_sent("RunJob", "a", "computeEnvironment", CE), 1);
    ck_assert_int_eq(count_sent("JobStateChange", "a", "status", "RUNNABLE"),
                     1);
    assert_value("SELECT count(*) FROM attempts WHERE job_id = $1", "a",
                 "1");
}
END_TEST

START_TEST(test_dispatcher_refused_submission_fails_with_reason)
{
    submit("bad", json_pack("{s:s}", "jobDefinition", "nope"));
    assert_status("bad", "FAILED");
    assert_reason("bad", "JobDefinition name nope does not exist or is not "
                         "in ACTIVE status");
    ck_assert_int_eq(count_sent("JobStateChange", "bad", "status", "FAILED"),
                     1);
    ck_assert_int_eq(count_sent("RunJob", NULL, NULL, NULL), 0);
}
END_TEST

/* A definition `name` whose container has `volumes` (JSON text). */
static void define_with_volumes(const char *name, const char *volumes)
{
    char q[1024];
    snprintf(q, sizeof(q),
             "INSERT INTO job_definitions (name, revision, spec, created_at) "
             "VALUES ('%s', 1, '{\"type\": \"container\", "
             "\"containerProperties\": {\"image\": \"busybox\", "
             "\"vcpus\": 1, \"memory\": 64, \"volumes\": %s, "
             "\"mountPoints\": [{\"sourceVolume\": \"v1\", "
             "\"containerPath\": \"/scratch\"}]}}', 0)",
             name, volumes);
    sql(q);
}

/* The policy that counts is the one of the environment a job is released
 * to: a host path allowed when the job was submitted is refused once the
 * environment's policy no longer allows it, and the job fails with the
 * reason instead of running. */
START_TEST(test_dispatcher_release_checks_the_chosen_environment)
{
    sql("UPDATE compute_environments SET state = 'DISABLED', spec = "
        "'{\"containerPolicy\": {\"allowedHostPaths\": [\"/data\"]}}'");
    define_with_volumes("data", "[{\"name\": \"v1\", \"host\": "
                                "{\"sourcePath\": \"/data/x\"}}]");
    submit("d", json_pack("{s:s}", "jobDefinition", "data"));
    submit("plain", NULL);
    assert_status("d", "RUNNABLE");
    ck_assert_int_eq(last_run("d"), 0);
    sql("UPDATE compute_environments SET state = 'ENABLED', spec = "
        "'{\"containerPolicy\": {}}'");
    heartbeat(WORKER, WORKER_START); /* a batch, and its scheduling pass */
    assert_status("d", "FAILED");
    assert_reason("d", DRV_REASON_START_FAILED ": host path /data/x is not "
                       "allowed by compute environment " CE
                       " (containerPolicy.allowedHostPaths)");
    ck_assert_int_eq(last_run("d"), 0);
    ck_assert_int_eq(last_run("plain"), 1); /* the rest is released */
}
END_TEST

START_TEST(test_dispatcher_host_paths_checked_against_policy)
{
    /* an anonymous volume (no host) passes a policy of allowed host paths
     * (it crashed the check); a host path outside them is refused */
    sql("UPDATE compute_environments SET spec = '{\"containerPolicy\": "
        "{\"allowedHostPaths\": [\"/data\"]}}'");
    define_with_volumes("anon", "[{\"name\": \"v1\"}]");
    define_with_volumes("etc", "[{\"name\": \"v1\", \"host\": "
                               "{\"sourcePath\": \"/etc\"}}]");
    define_with_volumes("data", "[{\"name\": \"v1\", \"host\": "
                                "{\"sourcePath\": \"/data/x\"}}]");
    submit("a", json_pack("{s:s}", "jobDefinition", "anon"));
    submit("e", json_pack("{s:s}", "jobDefinition", "etc"));
    submit("d", json_pack("{s:s}", "jobDefinition", "data"));
    assert_status("a", "RUNNABLE");
    assert_status("d", "RUNNABLE");
    assert_status("e", "FAILED");
    assert_reason("e", "host path /etc is not allowed by compute environment "
                       CE " (containerPolicy.allowedHostPaths)");
}
END_TEST

START_TEST(test_dispatcher_poison_strings_parked)
{
    /* a tag value with a NUL byte or invalid UTF-8, as a raw producer can
     * write them, is parked with its reason; the next job runs */
    static const char *const poison[] = {"a\0b", "\xff\xfe\xfd"};
    for (int i = 0; i < 2; i++) {
        size_t len;
        unsigned char *buf = encode(
            "JobRequest",
            json_pack("{s:{s:{s:s,s:s,s:s,s:s,s:I,s:{s:s}}}}", "request",
                      "SubmitJob", "jobId", "p", "jobName", "t", "jobQueue",
                      QUEUE, "jobDefinition", "d", "submittedAt",
                      (json_int_t)1, "tags", "k", "VVV"),
            &len);
        for (size_t k = 0; k + 3 <= len; k++) {
            if (!memcmp(buf + k, "VVV", 3)) {
                memcpy(buf + k, poison[i], 3);
            }
        }
        apply_raw(DRV_TOPIC_SUBMIT_PREFIX QUEUE, "p", buf, len);
        free(buf);
        json_t *last = json_array_get(sent, json_array_size(sent) - 1);
        ck_assert_str_eq(json_string_value(json_object_get(last, "topic")),
                         DRV_TOPIC_DLQ);
        ck_assert_msg(strstr(json_string_value(json_object_get(last, "dlq")),
                             i ? "field tags is not valid UTF-8"
                               : "field tags holds a NUL byte"),
                      "%s",
                      json_string_value(json_object_get(last, "dlq")));
    }
    /* an id that is a path is parked too, not recorded under it */
    submit("../../etc/x", NULL);
    json_t *last = json_array_get(sent, json_array_size(sent) - 1);
    ck_assert_str_eq(json_string_value(json_object_get(last, "topic")),
                     DRV_TOPIC_DLQ);
    assert_value("SELECT count(*) FROM jobs", NULL, "0");
    submit("a", NULL);
    assert_status("a", "RUNNABLE");
}
END_TEST

START_TEST(test_dispatcher_same_id_again)
{
    json_t *tags = json_pack("{s:{s:s}}", "tags", "k", "v");
    submit("a", json_incref(tags));
    submit("a", json_incref(tags)); /* a client's retry: nothing new */
    ck_assert_int_eq(count_sent("RunJob", "a", NULL, NULL), 1);
    ck_assert_int_eq(count_sent("(undecodable)", NULL, NULL, NULL), 0);
    submit("a", json_pack("{s:s}", "jobName", "other")); /* a different one */
    json_decref(tags);
    size_t i;
    json_t *s;
    int dlq = 0;
    json_array_foreach(sent, i, s)
    {
        dlq += !strcmp(json_string_value(json_object_get(s, "topic")),
                       DRV_TOPIC_DLQ);
    }
    ck_assert_int_eq(dlq, 1);
    assert_value("SELECT job_name FROM jobs WHERE job_id = $1", "a", "t");
}
END_TEST

START_TEST(test_dispatcher_misplaced_message_parked)
{
    /* a JobStatus on a submit topic changes nothing and is parked */
    submit("a", NULL);
    apply("JobStatus", DRV_TOPIC_SUBMIT_PREFIX QUEUE, "a",
          json_pack("{s:s,s:i,s:s,s:s,s:I,s:I}", "jobId", "a", "attempt", 1,
                    "status", "SUCCEEDED", "worker", WORKER, "timestamp",
                    (json_int_t)1, "workerStartedAt", (json_int_t)1));
    assert_status("a", "RUNNABLE");
    json_t *last = json_array_get(sent, json_array_size(sent) - 1);
    ck_assert_str_eq(json_string_value(json_object_get(last, "topic")),
                     DRV_TOPIC_DLQ);
    ck_assert_str_eq(json_string_value(json_object_get(last, "dlq")),
                     "a JobStatus message does not belong on "
                     "drover.submit.q");
}
END_TEST

/* ---- reports, claims, capacity ------------------------------------- */

START_TEST(test_dispatcher_lifecycle_gives_capacity_back)
{
    /* 2 vCPUs: the third 1-vCPU job waits until one finishes */
    submit("a", NULL);
    submit("b", NULL);
    submit("c", NULL);
    ck_assert_int_eq(last_run("c"), 0);
    run_attempt("a", 1, 0);
    assert_succeeded_once("a");
    ck_assert_int_eq(last_run("c"), 1);
}
END_TEST

START_TEST(test_dispatcher_claims_fence_other_workers)
{
    submit("a", NULL);
    report("a", 1, "STARTING", -1); /* w1 claims the attempt */
    /* another worker, and w1 restarted (a new process), report it too */
    report_from("w2", WORKER_START, "a", 1, "RUNNING", -1, NULL);
    report_from(WORKER, WORKER_START + 1, "a", 1, "SUCCEEDED", 0, NULL);
    assert_status("a", "STARTING");
    ck_assert_int_eq(count_sent("StopAttempt", "a", "worker", "w2"), 1);
    /* a report for an attempt that is not current changes nothing */
    report("a", 2, "SUCCEEDED", 0);
    assert_status("a", "STARTING");
    report("a", 1, "SUCCEEDED", 0);
    assert_status("a", "SUCCEEDED");
}
END_TEST

START_TEST(test_dispatcher_one_batch_applied_set_wise)
{
    /* one batch of submissions, a job id used twice: the first counts */
    hold();
    submit("a", NULL);
    submit("b", NULL);
    submit("a", json_pack("{s:s}", "jobName", "other"));
    hold_apply();
    assert_value("SELECT job_name FROM jobs WHERE job_id = $1", "a", "t");
    assert_value("SELECT count(*) FROM jobs WHERE job_id IN ('a', $1)", "b",
                 "2");
    ck_assert_int_eq(last_run("a"), 1);
    ck_assert_int_eq(last_run("b"), 1);
    ck_assert_int_eq(count_sent("JobStateChange", "a", "status", "RUNNABLE"),
                     1);
    /* one batch of reports: a's three in order, b claimed by w2 and then
     * reported by another worker, which is told to stop */
    hold();
    report("a", 1, "STARTING", -1);
    report_from("w2", WORKER_START, "b", 1, "STARTING", -1, NULL);
    report("a", 1, "RUNNING", -1);
    report("b", 1, "RUNNING", -1);
    report("a", 1, "SUCCEEDED", 0);
    report("a", 1, "SUCCEEDED", 0); /* a redelivery: nothing more */
    hold_apply();
    assert_succeeded_once("a");
    assert_status("b", "STARTING");
    assert_value("SELECT worker FROM attempts WHERE job_id = $1", "b", "w2");
    ck_assert_int_eq(count_sent("StopAttempt", "b", "worker", WORKER), 1);
    /* a gave its vCPU back: a third job is released at once */
    submit("c", NULL);
    ck_assert_int_eq(last_run("c"), 1);
}
END_TEST

/* With dispatcher.worker.key.master set, a worker's record counts only
 * when it is signed with the key of the worker and compute environment it
 * speaks for. */
/* The last message published went to drover.dlq with a reason holding
 * `want`. */
static void assert_last_dlq(const char *want)
{
    json_t *last = json_array_get(sent, json_array_size(sent) - 1);
    ck_assert_str_eq(json_string_value(json_object_get(last, "topic")),
                     DRV_TOPIC_DLQ);
    const char *why = json_string_value(json_object_get(last, "dlq"));
    ck_assert_msg(why && strstr(why, want), "%s", why ? why : "(no reason)");
}

START_TEST(test_dispatcher_reports_need_their_workers_signature)
{
    char e[DRV_ERRSTR_SIZE];
    ck_assert(drv_origin_key_parse("00112233445566778899aabbccddeeff"
                                   "00112233445566778899aabbccddeeff",
                                   "test", &master, e, sizeof(e)) == 0);
    disp->master = master;
    disp->check_origins = true;
    submit("a", NULL);
    size_t before = json_array_size(sent);
    report("a", 1, "STARTING", -1); /* unsigned */
    assert_status("a", "RUNNABLE");
    ck_assert_int_eq(json_array_size(sent), before + 1);
    assert_last_dlq("unsigned");
    /* signed by w2, naming w1 */
    sign_ce = CE;
    sign_worker = "w2";
    report("a", 1, "STARTING", -1);
    assert_status("a", "RUNNABLE");
    assert_last_dlq("speaks for another");
    /* a heartbeat signed by w2 that names w1 would fail w1's attempts */
    heartbeat(WORKER, WORKER_START);
    assert_last_dlq("speaks for another");
    /* w1's name, a forged key */
    sign_worker = WORKER;
    sign_badly = true;
    report("a", 1, "STARTING", -1);
    assert_status("a", "RUNNABLE");
    assert_last_dlq("signature is not that of worker w1");
    sign_badly = false;
    /* w1 of another compute environment cannot claim this one's job */
    sign_ce = "elsewhere";
    report("a", 1, "STARTING", -1);
    assert_status("a", "RUNNABLE");
    assert_value("SELECT count(*) FROM attempts WHERE job_id = $1 AND "
                 "worker IS NOT NULL",
                 "a", "0");
    /* the worker itself */
    sign_ce = CE;
    run_attempt("a", 1, 0);
    assert_status("a", "SUCCEEDED");
    before = json_array_size(sent);
    heartbeat(WORKER, WORKER_START);
    for (size_t i = before; i < json_array_size(sent); i++) {
        ck_assert_ptr_null(json_object_get(json_array_get(sent, i), "dlq"));
    }
    assert_value("SELECT count(*) FROM workers WHERE worker_id = $1", WORKER,
                 "1");
    sign_worker = NULL;
}
END_TEST

/* ---- hostile records ------------------------------------------------ */

/* A bounded random-record generator: decodable records whose every field
 * is chosen to hurt (huge, empty, not UTF-8, NUL, paths, extreme numbers,
 * ids that collide), driven through decoding and the apply path against
 * the scratch database. Every record must apply or be parked at decoding;
 * none may make PostgreSQL refuse the batch (which in production would be
 * isolated and parked, but is a missing check at the edge). Deterministic:
 * the seed is fixed; DROVER_HOSTILE_RECORDS sets how many (default 600). */
static unsigned hostile_seed;

static unsigned hrand(void)
{
    hostile_seed = hostile_seed * 1103515245u + 12345u;
    return (hostile_seed >> 8) & 0xffffff;
}

static json_t *hstr(void)
{
    static char big[70000];
    if (!big[0]) {
        memset(big, 'x', sizeof(big) - 1);
    }
    switch (hrand() % 12) {
    case 0: return json_string("");
    case 1: return json_stringn(big, 1 + hrand() % 2000);
    case 2: return json_stringn(big, 60000 + hrand() % 9000);
    case 3: return json_stringn_nocheck("a\0b", 3);
    case 4: return json_stringn_nocheck("\xff\xfe", 2);
    case 5: return json_string("../../etc/shadow");
    case 6: return json_string("\xc3\xa9\xc3\xa9\xe2\x82\xac");
    case 7: return json_string("Ref::x");
    case 8: return json_string("1e309");
    case 9: return json_string("'; DROP TABLE jobs; --");
    default: return json_string("a");
    }
}

static json_t *hid(void)
{
    static const char *const ids[] = {"a", "b", "c", "a:1", "b:0", "q:99999",
                                      "", "../x", "d"};
    if (hrand() % 10 == 0) {
        return hstr();
    }
    return json_string(ids[hrand() % (sizeof(ids) / sizeof(ids[0]))]);
}

static json_int_t hint(void)
{
    static const json_int_t v[] = {0, 1, -1, 2, 3, 137, INT32_MAX, INT32_MIN,
                                   INT64_MAX, INT64_MIN, 10000, 10001};
    return v[hrand() % (sizeof(v) / sizeof(v[0]))];
}

static json_t *hpick(const char *const *v, size_t n)
{
    return hrand() % 5 == 0 ? hstr() : json_string(v[hrand() % n]);
}

static json_t *hostile_record(const char **schema, const char **topic)
{
    static const char *const statuses[] = {"STARTING", "RUNNING",
                                           "SUCCEEDED", "FAILED"};
    static const char *const workers[] = {WORKER, "w2"};
    static const char *const queues[] = {QUEUE};
    static const char *const defs[] = {"d", "d:1", "d:2"};
    static const char *const types[] = {"N_TO_N", "SEQUENTIAL"};
    unsigned kind = hrand() % 4;
    if (kind == 0) {
        json_t *sj = json_pack("{s:o,s:o,s:o,s:o,s:I}", "jobId", hid(),
                               "jobName", hstr(), "jobQueue",
                               hpick(queues, 1), "jobDefinition",
                               hpick(defs, 3), "submittedAt",
                               (json_int_t)hint());
        if (hrand() % 3 == 0) {
            json_object_set_new(sj, "arrayProperties",
                                json_pack("{s:I}", "size",
                                          (json_int_t)(hrand() % 3 ? 2
                                                                   : hint())));
        }
        if (hrand() % 3 == 0) {
            json_object_set_new(sj, "dependsOn",
                                json_pack("[{s:o,s:o}]", "jobId", hid(),
                                          "type", hpick(types, 2)));
        }
        if (hrand() % 2 == 0) {
            json_t *k = hstr();
            json_t *params = json_object();
            json_object_setn_new_nocheck(params, json_string_value(k),
                                         json_string_length(k), hstr());
            json_decref(k);
            json_object_set_new(sj, "parameters", params);
        }
        if (hrand() % 3 == 0) {
            json_object_set_new(sj, "tags", json_pack("{s:o}", "k", hstr()));
        }
        *schema = "JobRequest";
        *topic = DRV_TOPIC_SUBMIT_PREFIX QUEUE;
        return json_pack("{s:{s:o}}", "request", "SubmitJob", sj);
    }
    if (kind == 1) {
        *schema = "JobRequest";
        *topic = DRV_TOPIC_SUBMIT_PREFIX QUEUE;
        return json_pack("{s:{s:{s:o,s:o,s:I}}}", "request",
                         hrand() % 2 ? "CancelJob" : "TerminateJob", "jobId",
                         hid(), "reason", hstr(), "requestedAt",
                         (json_int_t)hint());
    }
    if (kind == 2) {
        json_t *m = json_pack("{s:o,s:I,s:o,s:o,s:I,s:I}", "jobId", hid(),
                              "attempt", (json_int_t)(hrand() % 3 ? 1 : hint()),
                              "status", hpick(statuses, 4), "worker",
                              hpick(workers, 2), "timestamp",
                              (json_int_t)hint(), "workerStartedAt",
                              (json_int_t)(hrand() % 3 ? WORKER_START
                                                       : hint()));
        if (hrand() % 2) {
            json_object_set_new(m, "exitCode", json_integer(hint()));
        }
        if (hrand() % 2) {
            json_object_set_new(m, "reason", hstr());
        }
        if (hrand() % 2) {
            json_object_set_new(m, "statusReason", hstr());
        }
        if (hrand() % 3 == 0) {
            json_object_set_new(m, "containerId", hstr());
            json_object_set_new(m, "logStreamName", hstr());
        }
        *schema = "JobStatus";
        *topic = DRV_TOPIC_STATUS;
        return m;
    }
    *schema = "WorkerHeartbeat";
    *topic = DRV_TOPIC_STATUS;
    static const double dv[] = {0, 1, -1, 1e308, -1e308, 0.5, 4};
    return json_pack("{s:o,s:o,s:f,s:f,s:I,s:I,s:[{s:o,s:I}],s:[I],s:I,s:I,"
                     "s:b}",
                     "worker", hpick(workers, 2), "computeEnvironment",
                     hrand() % 4 ? json_string(CE) : hstr(), "vcpusTotal",
                     dv[hrand() % 7], "vcpusFree", dv[hrand() % 7],
                     "memoryTotalMiB", (json_int_t)hint(), "memoryFreeMiB",
                     (json_int_t)hint(), "running", "jobId", hid(), "attempt",
                     (json_int_t)hint(), "partitions", (json_int_t)hint(),
                     "startedAt", (json_int_t)hint(), "timestamp",
                     (json_int_t)hint(), "draining", (int)(hrand() % 2));
}

/* The next hostile record encoded as a producer would send it, and its
 * topic; NULL when no producer could (its schema refuses it). */
static void *hostile_encoded(const char **topic, size_t *len)
{
    const char *schema;
    json_t *rec = hostile_record(&schema, topic);
    char e[DRV_ERRSTR_SIZE];
    void *buf = NULL;
    *len = 0;
    if (rec && drv_codec_encode(disp->codec, schema, rec, &buf, len, e,
                                sizeof(e)) != 0) {
        buf = NULL;
    }
    json_decref(rec);
    return buf;
}

START_TEST(test_dispatcher_hostile_records_never_fail_a_batch)
{
    const char *n_env = getenv("DROVER_HOSTILE_RECORDS");
    int n = n_env ? atoi(n_env) : 600;
    int applied = 0, unencodable = 0;
    hostile_seed = 20261206u;
    for (int i = 0; i < n; i++) {
        const char *topic;
        size_t len;
        void *buf = hostile_encoded(&topic, &len);
        if (!buf) {
            unencodable++; /* a producer could not send it either */
            continue;
        }
        char why[DRV_ERRSTR_SIZE];
        int rc = apply_raw_result(topic, "k", buf, len, why, sizeof(why));
        free(buf);
        ck_assert_msg(rc == 0, "hostile record %d (on %s) failed its "
                               "batch: %s",
                      i, topic, why);
        applied++;
    }
    ck_assert_int_gt(applied, n / 2);
    /* the same records again, 20 to a consumed batch: set-wise runs of
     * them (and of job ids used before) never fail a batch either */
    hostile_seed = 20261206u;
    hold();
    for (int i = 0; i < n; i++) {
        const char *topic;
        size_t len;
        void *buf = hostile_encoded(&topic, &len);
        if (buf) {
            apply_raw(topic, "k", buf, len);
        }
        free(buf);
        if (nheld == 20 || i == n - 1) {
            hold_apply(); /* asserts the batch applied */
            hold();
        }
    }
    holding = false;
    /* the dispatcher is whole: a job submitted after it all is recorded
     * (the workers the records announced, of any size, gone silent) */
    sql("UPDATE compute_environments SET max_vcpus = 1000");
    sql("UPDATE workers SET lost = true");
    submit("after-hostile", NULL);
    assert_status("after-hostile", "RUNNABLE");
    ck_assert_int_eq(last_run("after-hostile"), 1);
    printf("hostile records: %d applied or parked, %d not encodable\n",
           applied, unencodable);
}
END_TEST

/* A parked record's key and reason are a sender's bytes: not UTF-8, a
 * NUL, a name that no worker has. Its outbox row is still written (the
 * row is JSON), with both made valid UTF-8. */
START_TEST(test_dispatcher_parked_sender_bytes_are_kept_safe)
{
    char e[DRV_ERRSTR_SIZE];
    ck_assert(drv_origin_key_parse("00112233445566778899aabbccddeeff"
                                   "00112233445566778899aabbccddeeff",
                                   "test", &master, e, sizeof(e)) == 0);
    disp->master = master;
    disp->check_origins = true;
    apply_raw(DRV_TOPIC_SUBMIT_PREFIX QUEUE, "\xff\xfe-key", "not avro", 8);
    /* a forged origin naming a worker that is not UTF-8 */
    size_t len;
    void *buf = encode(
        "WorkerHeartbeat",
        json_pack("{s:s,s:s,s:f,s:f,s:I,s:I,s:[],s:[],s:I,s:I,s:b}", "worker",
                  WORKER, "computeEnvironment", CE, "vcpusTotal", 4.0,
                  "vcpusFree", 4.0, "memoryTotalMiB", (json_int_t)4096,
                  "memoryFreeMiB", (json_int_t)4096, "running", "partitions",
                  "startedAt", (json_int_t)1, "timestamp", (json_int_t)1,
                  "draining", 0),
        &len);
    drv__origin_t from = {.source = DRV_TOPIC_STATUS, .key = WORKER,
                          .raw = buf, .raw_len = len,
                          .signer = CE "/\xff\xfe", .sig = "00"};
    drv__msg_t m;
    ck_assert(drv_pg_begin(disp->pg, e, sizeof(e)) == 0);
    ck_assert_int_eq(drv__intake_decode(disp, &from, &m), -1);
    ck_assert_msg(drv__outbox_persist(disp, e, sizeof(e)) == 0, "%s", e);
    ck_assert(drv_pg_commit(disp->pg, e, sizeof(e)) == 0);
    free(buf);
    ck_assert_int_eq(disp->out_cnt, 1);
    ck_assert_ptr_nonnull(strstr(disp->out[0].dlq_reason, "\xef\xbf\xbd"));
    drv__outbox_clear(disp);
    assert_value("SELECT count(*) FROM outbox WHERE topic = 'drover.dlq' AND "
                 "headers->>'drover.error' IS NOT NULL",
                 NULL, "2");
}
END_TEST

/* ---- retries ---------------------------------------------------------- */

static const struct retry_case {
    int exit_code;
    const char *status_reason;
    const char *after; /* the job's status after attempt 1 fails */
} retry_cases[] = {
    {1, DRV_REASON_EXITED, "RUNNABLE"}, /* no rule matches: retry */
    {3, DRV_REASON_EXITED, "FAILED"},   /* onExitCode 3: EXIT */
    {137, DRV_REASON_TIMEOUT, "FAILED"}, /* a timeout is never retried */
};

START_TEST(test_dispatcher_retry_strategy_decides)
{
    const struct retry_case *rc = &retry_cases[_i];
    submit("a", json_pack("{s:{s:i,s:[{s:s,s:s}]}}", "retryStrategy",
                          "attempts", 3, "evaluateOnExit", "onExitCode", "3",
                          "action", "EXIT"));
    report("a", 1, "STARTING", -1);
    report_from(WORKER, WORKER_START, "a", 1, "FAILED", rc->exit_code,
                rc->status_reason);
    if (!strcmp(rc->after, "RUNNABLE")) { /* retried: released again */
        ck_assert_int_eq(last_run("a"), 2);
        run_attempt("a", 2, 0);
        assert_status("a", "SUCCEEDED");
    } else {
        assert_status("a", rc->after);
        assert_reason("a", rc->status_reason);
        ck_assert_int_eq(last_run("a"), 1);
    }
}
END_TEST

START_TEST(test_dispatcher_attempts_run_out)
{
    submit("a", json_pack("{s:{s:i}}", "retryStrategy", "attempts", 2));
    run_attempt("a", 1, 1);
    run_attempt("a", 2, 1);
    assert_status("a", "FAILED");
    assert_value("SELECT attempts FROM jobs WHERE job_id = $1", "a", "2");
    assert_value("SELECT count(*) FROM attempts WHERE job_id = $1", "a",
                 "2");
}
END_TEST

/* The ghost sweep (drv__deps_sweep) and what it sets off, committed, as
 * the dispatcher's pass runs it. */
static void sweep_ghosts(void)
{
    char e[DRV_ERRSTR_SIZE];
    ck_assert(drv_pg_begin(disp->pg, e, sizeof(e)) == 0);
    ck_assert_msg(drv__deps_sweep(disp, e, sizeof(e)) == 0 &&
                      drv__deps_drain(disp, e, sizeof(e)) == 0,
                  "%s", e);
    ck_assert(drv_pg_commit(disp->pg, e, sizeof(e)) == 0);
    drv__outbox_clear(disp);
}

/* ---- dependencies ----------------------------------------------------- */

START_TEST(test_dispatcher_dependency_succeeds_then_runs)
{
    submit("a", NULL);
    submit("b", json_pack("{s:[{s:s}]}", "dependsOn", "jobId", "a"));
    assert_status("b", "PENDING");
    run_attempt("a", 1, 0);
    assert_status("b", "RUNNABLE");
    ck_assert_int_eq(last_run("b"), 1);
}
END_TEST

START_TEST(test_dispatcher_dependency_failure_cascades)
{
    submit("a", NULL);
    submit("b", json_pack("{s:[{s:s}]}", "dependsOn", "jobId", "a"));
    submit("c", json_pack("{s:[{s:s}]}", "dependsOn", "jobId", "b"));
    run_attempt("a", 1, 2);
    assert_status("b", "FAILED");
    assert_reason("b", DRV_REASON_DEPENDENCY ": a");
    assert_status("c", "FAILED");
    assert_reason("c", DRV_REASON_DEPENDENCY ": b");
}
END_TEST

START_TEST(test_dispatcher_dependency_never_submitted)
{
    /* b waits for a job that never comes and has no receipt: once it is
     * older than dispatcher.dependency.grace.ms and every submission is
     * consumed (no consumer here: nothing is in flight) the sweep fails
     * it, and what waits for b */
    submit("b", json_pack("{s:[{s:s}]}", "dependsOn", "jobId", "ghost"));
    submit("c", json_pack("{s:[{s:s}]}", "dependsOn", "jobId", "b"));
    sql("UPDATE jobs SET updated_at = updated_at - 3600000 WHERE job_id = 'b'");
    sweep_ghosts();
    assert_status("b", "FAILED");
    assert_reason("b", DRV_REASON_DEPENDENCY ": dependency ghost does not "
                       "exist");
    assert_status("c", "FAILED");
    assert_reason("c", DRV_REASON_DEPENDENCY ": b");
}
END_TEST

/* A dependency a client submitted (its receipt, migrations/008) is in
 * Kafka: the job waits for it, however long, and is never failed for it;
 * the dispatcher drops the receipt as it records the job, which keeps its
 * arrival order. */
START_TEST(test_dispatcher_dependency_with_receipt_waits)
{
    sql("INSERT INTO job_receipts (job_id, job_name, queue, definition, "
        "submitted_at, request, seq) VALUES ('a', 'a', '" QUEUE "', 'd:1', 1, "
        "'{}', 7)");
    submit("b", json_pack("{s:[{s:s}]}", "dependsOn", "jobId", "a"));
    sql("UPDATE jobs SET updated_at = updated_at - 3600000 WHERE job_id = "
        "'b'");
    sweep_ghosts();
    assert_status("b", "SUBMITTED");
    submit("a", NULL);
    assert_status("b", "PENDING");
    assert_value("SELECT count(*)::text FROM job_receipts WHERE job_id = $1",
                 "a", "0");
    assert_value("SELECT seq::text FROM jobs WHERE job_id = $1", "a", "7");
    assert_value("SELECT created_at::text FROM jobs WHERE job_id = $1", "a",
                 "1");
}
END_TEST

/* A job a client was told it submitted (its receipt) still runs when its
 * queue was DISABLED before the dispatcher read it, as AWS runs what a
 * disabled queue holds; one nobody was told of is refused. */
START_TEST(test_dispatcher_disabled_queue_keeps_accepted_jobs)
{
    sql("INSERT INTO job_receipts (job_id, job_name, queue, definition, "
        "submitted_at, request) VALUES ('told', 'told', '" QUEUE "', 'd:1', "
        "1, '{}')");
    sql("UPDATE job_queues SET state = 'DISABLED'");
    submit("told", NULL);
    assert_status("told", "RUNNABLE");
    submit("untold", NULL);
    assert_status("untold", "FAILED");
    assert_reason_has("untold", "is not in ENABLED state");
    /* accepted, and the queue deleted before the dispatcher read it: it
     * ends as the queue's other jobs do */
    sql("INSERT INTO job_receipts (job_id, job_name, queue, definition, "
        "submitted_at, request) VALUES ('doomed', 'doomed', '" QUEUE "', "
        "'d:1', 1, '{}')");
    sql("UPDATE job_queues SET status = 'DELETING'");
    submit("doomed", NULL);
    assert_status("doomed", "FAILED");
    assert_reason("doomed", "The job queue was deleted");
}
END_TEST

START_TEST(test_dispatcher_dependency_submitted_later)
{
    /* b names a job the dispatcher has not seen yet: it waits for it */
    submit("b", json_pack("{s:[{s:s}]}", "dependsOn", "jobId", "a"));
    assert_status("b", "SUBMITTED");
    submit("a", NULL);
    assert_status("b", "PENDING");
    run_attempt("a", 1, 0);
    assert_status("b", "RUNNABLE");
}
END_TEST

/* ---- arrays ------------------------------------------------------------ */

START_TEST(test_dispatcher_array_children_and_parent)
{
    sql("UPDATE compute_environments SET max_vcpus = 8");
    submit("p", json_pack("{s:{s:i}}", "arrayProperties", "size", 3));
    assert_status("p", "PENDING");
    assert_status("p:0", "RUNNABLE");
    assert_status("p:2", "RUNNABLE");
    run_attempt("p:0", 1, 0);
    run_attempt("p:1", 1, 0);
    assert_status("p", "PENDING");
    run_attempt("p:2", 1, 1);
    assert_status("p", "FAILED");
    assert_reason("p", "1 of 3 child jobs failed");
}
END_TEST

START_TEST(test_dispatcher_sequential_array_in_order)
{
    sql("UPDATE compute_environments SET max_vcpus = 8");
    submit("s", json_pack("{s:{s:i},s:[{s:s}]}", "arrayProperties", "size", 3,
                          "dependsOn", "type", "SEQUENTIAL"));
    assert_status("s:0", "RUNNABLE");
    assert_status("s:1", "PENDING");
    run_attempt("s:0", 1, 0);
    assert_status("s:1", "RUNNABLE");
    assert_status("s:2", "PENDING");
    run_attempt("s:1", 1, 4);
    assert_status("s:2", "FAILED");
    assert_reason("s:2", DRV_REASON_DEPENDENCY ": s:1");
    assert_status("s", "FAILED");
}
END_TEST

START_TEST(test_dispatcher_n_to_n_pairs_children)
{
    sql("UPDATE compute_environments SET max_vcpus = 8");
    submit("x", json_pack("{s:{s:i}}", "arrayProperties", "size", 2));
    submit("y", json_pack("{s:{s:i},s:[{s:s,s:s}]}", "arrayProperties", "size",
                          2, "dependsOn", "jobId", "x", "type", "N_TO_N"));
    assert_status("y:0", "PENDING");
    run_attempt("x:1", 1, 0);
    assert_status("y:1", "RUNNABLE");
    assert_status("y:0", "PENDING");
    run_attempt("x:0", 1, 5);
    assert_status("y:0", "FAILED");
    assert_reason("y:0", DRV_REASON_DEPENDENCY ": x:0");
}
END_TEST

START_TEST(test_dispatcher_n_to_n_needs_same_size)
{
    submit("x", json_pack("{s:{s:i}}", "arrayProperties", "size", 2));
    submit("y", json_pack("{s:{s:i},s:[{s:s,s:s}]}", "arrayProperties", "size",
                          3, "dependsOn", "jobId", "x", "type", "N_TO_N"));
    assert_status("y", "FAILED");
    assert_reason("y", "N_TO_N dependency x must be an array job of the "
                       "same size (3)");
}
END_TEST

/* An N_TO_N dependency recorded after its dependent (another partition's
 * record, consumed later): the dependent waits for it, then pairs its
 * children; one of another size fails it then; one never submitted fails
 * it as any missing dependency does. */
START_TEST(test_dispatcher_n_to_n_dependency_recorded_later)
{
    sql("UPDATE compute_environments SET max_vcpus = 8");
    submit("y", json_pack("{s:{s:i},s:[{s:s,s:s}]}", "arrayProperties", "size",
                          2, "dependsOn", "jobId", "x", "type", "N_TO_N"));
    submit("z", json_pack("{s:{s:i},s:[{s:s,s:s}]}", "arrayProperties", "size",
                          3, "dependsOn", "jobId", "w", "type", "N_TO_N"));
    assert_status("y", "SUBMITTED");
    assert_status("z", "SUBMITTED");
    submit("x", json_pack("{s:{s:i}}", "arrayProperties", "size", 2));
    assert_status("y", "PENDING");
    assert_status("y:0", "PENDING");
    assert_status("y:1", "PENDING");
    run_attempt("x:1", 1, 0);
    assert_status("y:1", "RUNNABLE");
    assert_status("y:0", "PENDING");
    run_attempt("x:0", 1, 0);
    assert_status("y:0", "RUNNABLE");
    submit("w", json_pack("{s:{s:i}}", "arrayProperties", "size", 2));
    assert_status("z", "FAILED");
    assert_reason("z", "N_TO_N dependency w must be an array job of the "
                       "same size (3)");
    assert_value("SELECT count(*) FROM jobs WHERE array_parent = $1", "z",
                 "3");
    assert_value("SELECT count(*) FROM jobs WHERE array_parent = $1 AND "
                 "status <> 'FAILED'",
                 "z", "0");
    /* an N_TO_N dependency recorded FAILED with no children (refused):
     * the dependent fails, it does not wait for children that never come */
    submit("v", json_pack("{s:{s:i},s:[{s:s,s:s}]}", "arrayProperties", "size",
                          2, "dependsOn", "jobId", "bad", "type", "N_TO_N"));
    assert_status("v", "SUBMITTED");
    submit("bad", json_pack("{s:s,s:{s:i}}", "jobDefinition", "nope",
                            "arrayProperties", "size", 2));
    assert_status("bad", "FAILED");
    assert_status("v", "FAILED");
    assert_reason("v", DRV_REASON_DEPENDENCY ": bad");
    /* one never submitted: the ghost sweep fails it, as any dependency */
    submit("g", json_pack("{s:{s:i},s:[{s:s,s:s}]}", "arrayProperties", "size",
                          2, "dependsOn", "jobId", "ghost", "type", "N_TO_N"));
    sql("UPDATE jobs SET updated_at = updated_at - 3600000 WHERE job_id = 'g'");
    sweep_ghosts();
    assert_status("g", "FAILED");
    assert_reason("g", DRV_REASON_DEPENDENCY ": dependency ghost does not "
                       "exist");
    assert_value("SELECT count(*) FROM jobs WHERE array_parent = $1 AND "
                 "status <> 'FAILED'",
                 "g", "0");
}
END_TEST

/* ---- cancel, terminate ------------------------------------------------- */

START_TEST(test_dispatcher_cancel_waiting_job)
{
    submit("a", NULL);
    submit("b", json_pack("{s:[{s:s}]}", "dependsOn", "jobId", "a"));
    stop("b", false, "not needed");
    assert_status("b", "FAILED");
    assert_reason("b", "not needed");
    assert_value("SELECT is_cancelled::text FROM jobs WHERE job_id = $1", "b",
                 "true");
    /* cancel does not stop a running job (AWS: terminate does) */
    report("a", 1, "STARTING", -1);
    stop("a", false, "too late");
    assert_status("a", "STARTING");
    ck_assert_int_eq(count_sent("StopAttempt", "a", NULL, NULL), 0);
}
END_TEST

START_TEST(test_dispatcher_terminate_running_job)
{
    submit("a", json_pack("{s:{s:i}}", "retryStrategy", "attempts", 3));
    report("a", 1, "STARTING", -1);
    report("a", 1, "RUNNING", -1);
    stop("a", true, "stop it");
    ck_assert_int_eq(count_sent("StopAttempt", "a", "reason", "stop it"), 1);
    assert_status("a", "RUNNING");
    report("a", 1, "FAILED", 143); /* the worker's outcome: never retried */
    assert_status("a", "FAILED");
    assert_reason("a", "stop it");
    assert_value("SELECT is_terminated::text FROM jobs WHERE job_id = $1",
                 "a", "true");
    ck_assert_int_eq(last_run("a"), 1);
}
END_TEST

/* Job a RUNNING on its worker, b waiting for it. */
static void running_with_dependent(void)
{
    submit("a", NULL);
    submit("b", json_pack("{s:[{s:s}]}", "dependsOn", "jobId", "a"));
    report("a", 1, "STARTING", -1);
    report("a", 1, "RUNNING", -1);
}

/* Issue 14: a container that ignores SIGTERM and exits 0 inside the stop
 * grace was terminated all the same: FAILED with the caller's reason, and
 * its dependents fail (AWS never lets a terminated job succeed). */
START_TEST(test_dispatcher_terminated_job_never_succeeds)
{
    running_with_dependent();
    stop("a", true, "stop it");
    report("a", 1, "SUCCEEDED", 0);
    assert_status("a", "FAILED");
    assert_reason("a", "stop it");
    assert_value("SELECT exit_code::text FROM jobs WHERE job_id = $1", "a",
                 "0");
    assert_status("b", "FAILED");
    assert_reason("b", DRV_REASON_DEPENDENCY ": a");
}
END_TEST

/* One of the loop's sweeps, in a transaction as the loop runs it. */
static void sweep_with(int (*fn)(drv_disp_t *, char *, size_t))
{
    char e[DRV_ERRSTR_SIZE];
    ck_assert(drv_pg_begin(disp->pg, e, sizeof(e)) == 0);
    ck_assert_msg(fn(disp, e, sizeof(e)) == 0 &&
                      drv__deps_drain(disp, e, sizeof(e)) == 0,
                  "%s", e);
    ck_assert_msg(drv__outbox_persist(disp, e, sizeof(e)) == 0, "%s", e);
    ck_assert(drv_pg_commit(disp->pg, e, sizeof(e)) == 0);
    collect_sent();
}

/* Issue 14: a queue's jobStateTimeLimitActions cancel a job RUNNABLE for
 * too long with the action's reason; a malformed action stored before
 * they were checked is skipped, never an error that stops the sweeps. */
START_TEST(test_dispatcher_time_limit_actions_cancel)
{
    sql("UPDATE job_queues SET spec = '{\"jobStateTimeLimitActions\": "
        "[\"junk\", {\"reason\": 1, \"maxTimeSeconds\": \"x\", \"action\": "
        "\"CANCEL\", \"state\": \"RUNNABLE\"}, {\"reason\": "
        "\"MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE\", \"state\": "
        "\"RUNNABLE\", \"maxTimeSeconds\": 600, \"action\": \"CANCEL\"}]}'");
    /* 8 vCPUs on an environment of 2: it never fits, and says so */
    submit("a", json_pack("{s:{s:[{s:s,s:s}]}}", "containerOverrides",
                          "resourceRequirements", "type", "VCPU", "value",
                          "8"));
    assert_status("a", "RUNNABLE");
    char *why = value("SELECT status_reason FROM jobs WHERE job_id = $1", "a");
    ck_assert_msg(strstr(why, "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_"
                              "RESOURCE"),
                  "%s", why);
    free(why);
    sweep_with(drv__control_time_limits);
    assert_status("a", "RUNNABLE"); /* not for long enough yet */
    sql("UPDATE jobs SET blocked_since = blocked_since - 601000 WHERE "
        "job_id = 'a'");
    sweep_with(drv__control_time_limits);
    assert_status("a", "FAILED");
    assert_value("SELECT is_cancelled::text FROM jobs WHERE job_id = $1", "a",
                 "true");
    why = value("SELECT status_reason FROM jobs WHERE job_id = $1", "a");
    ck_assert_msg(strstr(why, "jobStateTimeLimitActions"), "%s", why);
    free(why);
}
END_TEST

/* Issue 15: every RUNNABLE job the scheduler looks at says why it waits,
 * with AWS's codes where AWS has one, and the reason follows the cause. */
START_TEST(test_dispatcher_runnable_jobs_say_why)
{
    /* each case at the head of the queue, then out of the way: with no
     * room anywhere a pass looks at each queue's head only */
    const char *gone = "UPDATE jobs SET status = 'FAILED' WHERE job_id = ";
    char q[128];
    /* over the environment's maximum (2 vCPUs) */
    submit("big", json_pack("{s:{s:[{s:s,s:s}]}}", "containerOverrides",
                            "resourceRequirements", "type", "VCPU", "value",
                            "4"));
    assert_reason_has("big", "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_"
                             "RESOURCE");
    snprintf(q, sizeof(q), "%s'big'", gone);
    sql(q);
    /* full: two 1-vCPU jobs take the budget, the third waits for room */
    submit("a", NULL);
    submit("b", NULL);
    submit("c", NULL);
    assert_status("c", "RUNNABLE");
    assert_reason_has("c", "DROVER:WAITING_FOR_ROOM");
    snprintf(q, sizeof(q), "%s'c'", gone);
    sql(q);
    /* no budget and no live worker: its capacity is its workers' */
    sql("UPDATE compute_environments SET max_vcpus = NULL");
    submit("d", NULL);
    assert_reason_has("d", "DROVER:NO_WORKERS");
    snprintf(q, sizeof(q), "%s'd'", gone);
    sql(q);
    /* a worker too small for the job: 1 vCPU offered, 1.5 asked */
    sql("INSERT INTO workers (worker_id, compute_environment, vcpus_total, "
        "vcpus_free, memory_total_mib, memory_free_mib, started_at, "
        "last_heartbeat, seen_at) VALUES ('small', '" CE "', 1, 1, 4096, "
        "4096, 1, 1, 1)");
    submit("e", json_pack("{s:{s:[{s:s,s:s}]}}", "containerOverrides",
                          "resourceRequirements", "type", "VCPU", "value",
                          "1.5"));
    assert_reason_has("e", "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT");
    snprintf(q, sizeof(q), "%s'e'", gone);
    sql(q);
    /* DISABLED: no false misconfiguration */
    sql("UPDATE compute_environments SET state = 'DISABLED'");
    submit("f", NULL);
    assert_reason_has("f", "DROVER:COMPUTE_ENVIRONMENT_DISABLED");
}
END_TEST

/* DeleteJobQueue: the queue is DELETING; its waiting jobs fail, running
 * ones are stopped, and the queue goes once none is left unfinished. */
START_TEST(test_dispatcher_deleted_queue_terminates_its_jobs)
{
    running_with_dependent();
    sql("UPDATE job_queues SET state = 'DISABLED', status = 'DELETING'");
    sweep_with(drv__control_deleted_queues);
    assert_status("b", "FAILED");
    assert_reason("b", "The job queue was deleted");
    assert_status("a", "RUNNING");
    ck_assert_int_eq(count_sent("StopAttempt", "a", "reason",
                                "The job queue was deleted"),
                     1);
    assert_value("SELECT count(*)::text FROM job_queues WHERE name = $1",
                 QUEUE, "1");
    sweep_with(drv__control_deleted_queues); /* asked once only */
    ck_assert_int_eq(count_sent("StopAttempt", "a", "reason",
                                "The job queue was deleted"),
                     1);
    report("a", 1, "FAILED", 143);
    assert_status("a", "FAILED");
    sweep_with(drv__control_deleted_queues);
    assert_value("SELECT count(*)::text FROM job_queues WHERE name = $1",
                 QUEUE, "0");
}
END_TEST

START_TEST(test_dispatcher_cancel_array_children)
{
    submit("a", NULL);
    submit("p", json_pack("{s:{s:i},s:[{s:s}]}", "arrayProperties", "size", 2,
                          "dependsOn", "jobId", "a"));
    json_array_clear(sent);
    stop("p", false, "no");
    assert_status("p", "FAILED");
    assert_status("p:0", "FAILED");
    assert_status("p:1", "FAILED");
    assert_reason("p:1", "no");
    assert_value("SELECT is_cancelled::text FROM jobs WHERE job_id = $1",
                 "p:0", "true");
    ck_assert_int_eq(count_sent("JobStateChange", "p:0", "status", "FAILED"),
                     1);
    ck_assert_int_eq(count_sent("JobStateChange", "p", "status", "FAILED"),
                     1);
}
END_TEST

/* The position in `sent` of job_id's JobStateChange to `status`, or -1. */
static int sent_at(const char *job_id, const char *status)
{
    size_t i;
    json_t *s;
    json_array_foreach(sent, i, s)
    {
        json_t *msg = json_object_get(s, "msg");
        const char *k = json_string_value(json_object_get(s, "key"));
        const char *st = json_string_value(json_object_get(msg, "status"));
        if (!strcmp(json_string_value(json_object_get(s, "type")),
                    "JobStateChange") &&
            k && !strcmp(k, job_id) && st && !strcmp(st, status)) {
            return (int)i;
        }
    }
    return -1;
}

/* job_id's JobStateChange to `status` (borrowed from `sent`). */
static json_t *event_to(const char *job_id, const char *status)
{
    int at = sent_at(job_id, status);
    ck_assert_msg(at >= 0, "no %s event for %s", status, job_id);
    return json_object_get(json_array_get(sent, (size_t)at), "msg");
}

/* Field `field` of an event: its string, or "null" (absent or null). */
static const char *event_str(json_t *ev, const char *field)
{
    json_t *v = json_object_get(ev, field);
    static char buf[64];
    if (json_is_string(v)) {
        return json_string_value(v);
    }
    if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return "null";
}

START_TEST(test_dispatcher_reports_fold_into_one_change)
{
    submit("f", NULL);
    submit("g", NULL);
    ck_assert_int_eq(last_run("f"), 1);
    ck_assert_int_eq(last_run("g"), 1);
    /* every row change of jobs, counted by a trigger of the test's */
    sql("CREATE TABLE IF NOT EXISTS test_job_changes (job_id text)");
    sql("TRUNCATE test_job_changes");
    sql("CREATE OR REPLACE FUNCTION test_job_change() RETURNS trigger "
        "LANGUAGE plpgsql AS $$BEGIN INSERT INTO test_job_changes VALUES "
        "(NEW.job_id); RETURN NEW; END$$");
    sql("DROP TRIGGER IF EXISTS test_job_change ON jobs");
    sql("CREATE TRIGGER test_job_change AFTER UPDATE ON jobs FOR EACH ROW "
        "EXECUTE FUNCTION test_job_change()");
    /* one batch: f's three reports and g's first two, interleaved */
    hold();
    report("f", 1, "STARTING", -1);
    report("g", 1, "STARTING", -1);
    report("f", 1, "RUNNING", -1);
    report("g", 1, "RUNNING", -1);
    report("f", 1, "SUCCEEDED", 0);
    hold_apply();
    char *f_changes = value("SELECT count(*) FROM test_job_changes WHERE "
                            "job_id = $1",
                            "f");
    char *g_changes = value("SELECT count(*) FROM test_job_changes WHERE "
                            "job_id = $1",
                            "g");
    sql("DROP TRIGGER test_job_change ON jobs");
    ck_assert_str_eq(f_changes, "1"); /* not one per report */
    ck_assert_str_eq(g_changes, "1");
    free(f_changes);
    free(g_changes);
    assert_status("f", "SUCCEEDED");
    assert_status("g", "RUNNING");
    assert_value("SELECT exit_code FROM jobs WHERE job_id = $1", "f", "0");
    assert_value("SELECT (started_at IS NOT NULL AND stopped_at IS NOT "
                 "NULL)::text || worker FROM attempts WHERE job_id = $1",
                 "f", "true" WORKER);
    assert_value("SELECT (started_at IS NOT NULL AND stopped_at IS NULL)::"
                 "text FROM jobs WHERE job_id = $1",
                 "g", "true");
    /* every status still has its event, in order, each showing the job
     * as it was then */
    int s = sent_at("f", "STARTING"), r = sent_at("f", "RUNNING"),
        d = sent_at("f", "SUCCEEDED");
    ck_assert(s >= 0 && s < r && r < d);
    /* RUNNABLE (its release), then one per report */
    ck_assert_int_eq(count_sent("JobStateChange", "f", NULL, NULL), 4);
    json_t *ev = event_to("f", "STARTING");
    ck_assert_str_eq(event_str(ev, "previousStatus"), "RUNNABLE");
    ck_assert_str_eq(event_str(ev, "startedAt"), "null");
    ck_assert_str_eq(event_str(ev, "stoppedAt"), "null");
    ck_assert_str_eq(event_str(ev, "exitCode"), "null");
    ev = event_to("f", "RUNNING");
    ck_assert_str_eq(event_str(ev, "previousStatus"), "STARTING");
    char started[64];
    snprintf(started, sizeof(started), "%s", event_str(ev, "startedAt"));
    ck_assert_str_ne(started, "null");
    ck_assert_str_eq(event_str(ev, "stoppedAt"), "null");
    ck_assert_str_eq(event_str(ev, "exitCode"), "null");
    ev = event_to("f", "SUCCEEDED");
    ck_assert_str_eq(event_str(ev, "previousStatus"), "RUNNING");
    ck_assert_str_eq(event_str(ev, "startedAt"), started);
    ck_assert_str_ne(event_str(ev, "stoppedAt"), "null");
    ck_assert_str_eq(event_str(ev, "exitCode"), "0");
    ck_assert_str_eq(event_str(event_to("g", "STARTING"), "previousStatus"),
                     "RUNNABLE");
    ck_assert_str_eq(event_str(event_to("g", "RUNNING"), "previousStatus"),
                     "STARTING");
    ck_assert_int_eq(count_sent("JobStateChange", "g", NULL, NULL), 3);
    /* then: f's SUCCEEDED again changes nothing; g's ends it */
    hold();
    report("f", 1, "SUCCEEDED", 0);
    report("g", 1, "SUCCEEDED", 0);
    hold_apply();
    ck_assert_int_eq(count_sent("JobStateChange", "f", NULL, NULL), 4);
    assert_status("g", "SUCCEEDED");
    ck_assert_str_eq(event_str(event_to("g", "SUCCEEDED"), "previousStatus"),
                     "RUNNING");
    /* a batch with another process's report between a job's own: no
     * fold, the claim fenced as one at a time */
    submit("h", NULL);
    hold();
    report("h", 1, "STARTING", -1);
    report_from("w2", WORKER_START, "h", 1, "RUNNING", -1, NULL);
    report("h", 1, "RUNNING", -1);
    hold_apply();
    assert_status("h", "RUNNING");
    assert_value("SELECT worker FROM attempts WHERE job_id = $1", "h",
                 WORKER);
    ck_assert_int_eq(count_sent("StopAttempt", "h", "worker", "w2"), 1);
    ck_assert_str_eq(event_str(event_to("h", "RUNNING"), "previousStatus"),
                     "STARTING");
    /* the other process's reports of h folded: each refused as on its
     * own (a stop for its STARTING and one for its RUNNING), h as it was */
    hold();
    report_from("w2", WORKER_START, "h", 1, "STARTING", -1, NULL);
    report_from("w2", WORKER_START, "h", 1, "RUNNING", -1, NULL);
    hold_apply();
    ck_assert_int_eq(count_sent("StopAttempt", "h", "worker", "w2"), 3);
    assert_status("h", "RUNNING");
    assert_value("SELECT worker FROM attempts WHERE job_id = $1", "h",
                 WORKER);
}
END_TEST

/* A batch's FAILED reports are fenced and recorded by one statement and
 * move their jobs by one more, each as the retry strategy decides; a
 * report of a job after its FAILED in the same batch comes after it (and
 * is fenced). */
START_TEST(test_dispatcher_failed_reports_set_wise)
{
    sql("UPDATE compute_environments SET max_vcpus = 8");
    submit("r", json_pack("{s:{s:i}}", "retryStrategy", "attempts", 2));
    submit("s", NULL);
    submit("t", NULL);
    submit("ds", json_pack("{s:[{s:s}]}", "dependsOn", "jobId", "s"));
    submit("u", NULL);
    report("u", 1, "STARTING", -1); /* u is WORKER's */
    ck_assert_int_eq(last_run("r"), 1);
    ck_assert_int_eq(last_run("t"), 1);
    /* the jobs each UPDATE statement of jobs changed, by a trigger of the
     * test's */
    sql("CREATE TABLE IF NOT EXISTS test_job_stmts (seq serial, ids text)");
    sql("TRUNCATE test_job_stmts");
    sql("CREATE OR REPLACE FUNCTION test_job_stmt() RETURNS trigger "
        "LANGUAGE plpgsql AS $$BEGIN INSERT INTO test_job_stmts (ids) SELECT "
        "string_agg(job_id, ',' ORDER BY job_id) FROM n; RETURN NULL; END$$");
    sql("DROP TRIGGER IF EXISTS test_job_stmt ON jobs");
    sql("CREATE TRIGGER test_job_stmt AFTER UPDATE ON jobs REFERENCING NEW "
        "TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION test_job_stmt()");
    json_array_clear(sent);
    hold();
    report("r", 1, "STARTING", -1);
    report("r", 1, "RUNNING", -1);
    report("r", 1, "FAILED", 1);
    report("s", 1, "FAILED", 2);
    report_from("w2", WORKER_START, "u", 1, "FAILED", 9, NULL);
    report("t", 1, "FAILED", 3);
    report("t", 1, "RUNNING", -1); /* after its FAILED: fenced */
    hold_apply();
    char *moved = value("SELECT count(*) FROM test_job_stmts WHERE ids = $1",
                        "r,s,t");
    char *stmts = value("SELECT count(*) FROM test_job_stmts WHERE ids "
                        "LIKE $1",
                        "%t%");
    sql("DROP TRIGGER test_job_stmt ON jobs");
    ck_assert_str_eq(moved, "1"); /* one statement for the three */
    ck_assert_str_eq(stmts, "1"); /* t's RUNNING changed nothing */
    free(moved);
    free(stmts);
    /* r retried: its attempt recorded, the job RUNNABLE for a second */
    assert_value("SELECT exit_code::text || ' ' || (stopped_at IS NOT NULL)"
                 "::text FROM attempts WHERE job_id = $1 AND attempt = 1",
                 "r", "1 true");
    ck_assert_int_eq(last_run("r"), 2);
    ck_assert_str_eq(event_str(event_to("r", "RUNNABLE"), "previousStatus"),
                     "RUNNING");
    /* s and t failed with their exit codes; s's dependent with it */
    assert_status("s", "FAILED");
    assert_value("SELECT exit_code FROM jobs WHERE job_id = $1", "s", "2");
    assert_status("t", "FAILED");
    assert_value("SELECT exit_code FROM jobs WHERE job_id = $1", "t", "3");
    ck_assert_str_eq(event_str(event_to("t", "FAILED"), "exitCode"), "3");
    ck_assert_int_eq(count_sent("JobStateChange", "t", NULL, NULL), 1);
    ck_assert_int_eq(count_sent("StopAttempt", "t", NULL, NULL), 1);
    assert_status("ds", "FAILED");
    assert_reason("ds", DRV_REASON_DEPENDENCY ": s");
    /* u's FAILED came from a process that does not own it: refused */
    assert_status("u", "STARTING");
    assert_value("SELECT worker || ' ' || (exit_code IS NULL)::text FROM "
                 "attempts WHERE job_id = $1",
                 "u", WORKER " true");
}
END_TEST

/* Each attempt's log stream is named by the dispatcher as AWS names it
 * (<definition>/default/<32 hex>), one per attempt; what a worker reports
 * as logStreamName does not change it. */
START_TEST(test_dispatcher_names_log_streams)
{
    submit("l", json_pack("{s:{s:i}}", "retryStrategy", "attempts", 2));
    ck_assert_int_eq(last_run("l"), 1);
    /* md5("l/1"), md5sum's */
    const char *first = "d/default/806216ea99bbe28910c966fe2f6a68b9";
    assert_value("SELECT log_stream FROM attempts WHERE job_id = $1", "l",
                 first);
    json_t *m = json_pack("{s:s,s:i,s:s,s:s,s:I,s:I,s:s}", "jobId", "l",
                          "attempt", 1, "status", "RUNNING", "worker", WORKER,
                          "timestamp", (json_int_t)drv_now_ms(),
                          "workerStartedAt", (json_int_t)WORKER_START,
                          "logStreamName", "d/default/someone-elses");
    apply("JobStatus", DRV_TOPIC_STATUS, "l", m);
    assert_status("l", "RUNNING");
    assert_value("SELECT log_stream FROM attempts WHERE job_id = $1", "l",
                 first);
    report("l", 1, "FAILED", 1);
    ck_assert_int_eq(last_run("l"), 2);
    assert_value("SELECT log_stream FROM attempts WHERE job_id = $1 AND "
                 "attempt = 2", /* md5("l/2") */
                 "l", "d/default/029f822fcdbf3808658159e94bd0157c");
}
END_TEST

/* An array whose dependency fails fails with every waiting child, in one
 * statement (drv__transition_fail_listed) and one count on the parent;
 * each child fails once, in index order, and what waits for a child (a
 * plain dependent, an N_TO_N array) follows. */
START_TEST(test_dispatcher_failed_array_cascades_set_wise)
{
    submit("a", json_pack("{s:[{s:s}]}", "dependsOn", "jobId", "never"));
    submit("p", json_pack("{s:{s:i},s:[{s:s}]}", "arrayProperties", "size", 6,
                          "dependsOn", "jobId", "a"));
    submit("d", json_pack("{s:[{s:s}]}", "dependsOn", "jobId", "p:4"));
    submit("y", json_pack("{s:{s:i},s:[{s:s,s:s}]}", "arrayProperties", "size",
                          6, "dependsOn", "jobId", "p", "type", "N_TO_N"));
    sql("UPDATE jobs SET status = 'SUCCEEDED' WHERE job_id = 'p:2'");
    json_array_clear(sent);
    stop("a", false, "gone");
    assert_status("p", "FAILED");
    assert_reason("p", DRV_REASON_DEPENDENCY ": a");
    int prev = sent_at("p", "FAILED");
    ck_assert_int_ge(prev, 0);
    for (int i = 0; i < 6; i++) {
        char child[16];
        snprintf(child, sizeof(child), "p:%d", i);
        if (i == 2) { /* finished already: left as it was */
            assert_status(child, "SUCCEEDED");
            ck_assert_int_eq(count_sent("JobStateChange", child, NULL, NULL),
                             0);
            continue;
        }
        assert_status(child, "FAILED");
        assert_reason(child, DRV_REASON_DEPENDENCY ": a");
        ck_assert_int_eq(count_sent("JobStateChange", child, NULL, NULL), 1);
        int at = sent_at(child, "FAILED");
        ck_assert_int_gt(at, prev); /* after the parent, in index order */
        prev = at;
    }
    assert_value("SELECT children_failed || '/' || children_succeeded FROM "
                 "jobs WHERE job_id = $1",
                 "p", "5/0");
    assert_status("d", "FAILED");
    assert_reason("d", DRV_REASON_DEPENDENCY ": p:4");
    assert_status("y:4", "FAILED");
    assert_reason("y:4", DRV_REASON_DEPENDENCY ": p:4");
    assert_status("y:2", "PENDING"); /* p:2 succeeded */
}
END_TEST

/* ---- workers and leases ------------------------------------------------ */

START_TEST(test_dispatcher_restarted_worker_loses_attempts)
{
    submit("a", json_pack("{s:{s:i}}", "retryStrategy", "attempts", 2));
    heartbeat(WORKER, WORKER_START);
    report("a", 1, "STARTING", -1);
    report("a", 1, "RUNNING", -1);
    heartbeat(WORKER, WORKER_START + 5000); /* the same id, a new process */
    char reason[200];
    snprintf(reason, sizeof(reason), DRV_REASON_HOST_LOST_FMT, WORKER);
    assert_value("SELECT status_reason FROM attempts WHERE job_id = $1 AND "
                 "attempt = 1",
                 "a", reason);
    ck_assert_int_eq(count_sent("StopAttempt", "a", "worker", WORKER), 1);
    ck_assert_int_eq(last_run("a"), 2); /* retried */
    assert_status("a", "RUNNABLE");
}
END_TEST

/* A run request left in the outbox whose attempt has finished since is
 * dropped on recovery, never sent again (sent, a short job ran a second
 * time after its dependents had started: the fault suite); a current
 * one stays to be sent. */
START_TEST(test_dispatcher_outbox_drops_stale_run_requests)
{
    char e[DRV_ERRSTR_SIZE];
    submit("done", NULL);
    submit("live", NULL);
    ck_assert_int_eq(last_run("done"), 1);
    ck_assert_int_eq(last_run("live"), 1);
    run_attempt("done", 1, 0);
    assert_status("done", "SUCCEEDED");
    /* both RunJobs, as a dispatcher that lost PostgreSQL left them */
    sql("TRUNCATE outbox");
    ck_assert(drv_pg_begin(disp->pg, e, sizeof(e)) == 0);
    const char *ids[] = {"done", "live"};
    for (int i = 0; i < 2; i++) {
        json_t *run = json_pack(
            "{s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:[],s:[],s:f,s:I,s:I}", "jobId",
            ids[i], "attempt", 1, "jobName", ids[i], "jobQueue", QUEUE,
            "computeEnvironment", CE, "jobDefinition", "d:1", "image",
            "busybox", "command", "environment", "vcpus", 1.0, "memoryMiB",
            (json_int_t)128, "releasedAt", (json_int_t)1);
        ck_assert_msg(drv__outbox_emit_json(disp, "RunJob",
                                            DRV_TOPIC_RUN_PREFIX CE, ids[i],
                                            run, e, sizeof(e)) == 0,
                      "%s", e);
        json_decref(run);
    }
    ck_assert_msg(drv__outbox_persist(disp, e, sizeof(e)) == 0, "%s", e);
    ck_assert(drv_pg_commit(disp->pg, e, sizeof(e)) == 0);
    drv__outbox_clear(disp);
    ck_assert_msg(drv__outbox_recover(disp, e, sizeof(e)) == 0, "%s", e);
    assert_value("SELECT string_agg(key, ',' ORDER BY key) FROM outbox "
                 "WHERE $1 = $1",
                 "x", "live");
}
END_TEST

START_TEST(test_dispatcher_outbox_payload_round_trip)
{
    /* what persist writes, recovery reads back byte for byte (libpq's
     * bytea codec, not a hand-written one) */
    char e[DRV_ERRSTR_SIZE];
    unsigned char bytes[256];
    for (int i = 0; i < 256; i++) {
        bytes[i] = (unsigned char)i;
    }
    void *copy = drv_malloc(sizeof(bytes));
    memcpy(copy, bytes, sizeof(bytes));
    drv__outbox_emit(disp, "t", "k", copy, sizeof(bytes));
    ck_assert(drv_pg_begin(disp->pg, e, sizeof(e)) == 0);
    ck_assert_msg(drv__outbox_persist(disp, e, sizeof(e)) == 0, "%s", e);
    ck_assert(drv_pg_commit(disp->pg, e, sizeof(e)) == 0);
    drv__outbox_clear(disp);
    drv_pg_res_t *r = drv_pg_query(disp->pg,
                                   "SELECT payload FROM outbox WHERE key = "
                                   "'k'",
                                   0, NULL, e, sizeof(e));
    ck_assert(r && drv_pg_res_rows(r) == 1);
    size_t len;
    unsigned char *back = drv_pg_res_bytea(r, 0, 0, &len);
    ck_assert_uint_eq(len, sizeof(bytes));
    ck_assert(memcmp(back, bytes, len) == 0);
    free(back);
    drv_pg_res_free(r);
}
END_TEST

/* ---- fair share (issue 15) ------------------------------------------ */

/* Make QUEUE a fair-share queue under `policy` (fairsharePolicy JSON),
 * with CE's budget `vcpus`, DISABLED until fair_share_open. */
static void fair_share_queue(const char *policy, int vcpus)
{
    char q[1024];
    snprintf(q, sizeof(q),
             "INSERT INTO scheduling_policies (name, spec, created_at) VALUES "
             "('fp', '{\"fairsharePolicy\": %s}', 0)",
             policy);
    sql(q);
    sql("UPDATE job_queues SET scheduling_policy = 'fp'");
    snprintf(q, sizeof(q),
             "UPDATE compute_environments SET state = 'DISABLED', max_vcpus "
             "= %d",
             vcpus);
    sql(q);
}

static void fair_share_open(void)
{
    sql("UPDATE compute_environments SET state = 'ENABLED'");
    sweep_with(drv__schedule_pass);
}

static void submit_share(const char *job_id, const char *share, int prio)
{
    json_t *x = json_pack("{s:s}", "shareIdentifier", share);
    if (prio >= 0) {
        json_object_set_new(x, "schedulingPriorityOverride",
                            json_integer(prio));
    }
    submit(job_id, x);
}

/* How many of a share's jobs the dispatcher has released, as text. */
static void assert_released(const char *share, const char *want)
{
    assert_value("SELECT count(*) FROM jobs WHERE share_identifier = $1 AND "
                 "released",
                 share, want);
}

/* The share with the lowest (usage + held) x weightFactor goes next:
 * equal usage, weights 0.5 and 1.0 give A two of three slots; with usage
 * on record the lighter-weighted share still wins the slot that frees;
 * within a share schedulingPriorityOverride orders. */
START_TEST(test_dispatcher_fair_share_interleaves_by_weight)
{
    fair_share_queue("{\"shareDistribution\": [{\"shareIdentifier\": \"A\", "
                     "\"weightFactor\": 0.5}, {\"shareIdentifier\": \"B*\", "
                     "\"weightFactor\": 1.0}]}",
                     3);
    char id[16];
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof(id), "a%d", i);
        submit_share(id, "A", -1);
        snprintf(id, sizeof(id), "b%d", i);
        submit_share(id, "Bx", -1);
    }
    submit_share("a-urgent", "A", 9);
    assert_status("a0", "RUNNABLE");
    fair_share_open();
    assert_released("A", "2");
    assert_released("Bx", "1");
    assert_value("SELECT released::text FROM jobs WHERE job_id = $1",
                 "a-urgent", "true");
    /* a slot frees in B; with equal decayed usage on record A (2 held x
     * 0.5 = 1 + 50) is below B (0 held + 100): A takes it */
    sql("INSERT INTO share_usage VALUES ('" QUEUE "', 'A', 100, "
        "(extract(epoch FROM now()) * 1000)::bigint), ('" QUEUE "', 'Bx', "
        "100, (extract(epoch FROM now()) * 1000)::bigint)");
    run_attempt("b0", 1, 0);
    assert_released("A", "3");
    assert_released("Bx", "0");
    /* the share and the effective priority are on the job */
    assert_value("SELECT scheduling_priority || '/' || share_identifier FROM "
                 "jobs WHERE job_id = $1",
                 "a-urgent", "9/A");
}
END_TEST

/* computeReservation 50: a share already holding capacity leaves
 * (0.5)^active of the environment free; a share holding nothing gets the
 * reserved room at once. */
START_TEST(test_dispatcher_fair_share_reserves_for_new_shares)
{
    fair_share_queue("{\"computeReservation\": 50}", 4);
    char id[16];
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof(id), "a%d", i);
        submit_share(id, "A", -1);
    }
    fair_share_open();
    /* first job free; the second leaves 2 of 4 (50% for one active) */
    assert_released("A", "2");
    assert_reason_has("a2", "DROVER:FAIR_SHARE_RESERVATION");
    submit_share("b0", "B", -1);
    submit_share("b1", "B", -1);
    assert_released("B", "1"); /* at once, into the reserved room */
    assert_released("A", "2"); /* 25% of 4 kept for a third share */
    submit_share("c0", "C", -1);
    assert_released("C", "1");
}
END_TEST

/* jobStateTimeLimitActions on a fair-share queue act on the head of each
 * share: B's head never fits and is cancelled although A's jobs came
 * first and have the higher priority. */
START_TEST(test_dispatcher_fair_share_time_limits_per_share)
{
    fair_share_queue("{}", 2);
    sql("UPDATE job_queues SET spec = '{\"jobStateTimeLimitActions\": "
        "[{\"reason\": \"MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE\", "
        "\"state\": \"RUNNABLE\", \"maxTimeSeconds\": 600, \"action\": "
        "\"CANCEL\"}]}'");
    submit_share("a0", "A", 9);
    submit_share("a1", "A", 9);
    submit_share("a2", "A", 9);
    submit("big", json_pack("{s:s,s:{s:[{s:s,s:s}]}}", "shareIdentifier", "B",
                            "containerOverrides", "resourceRequirements",
                            "type", "VCPU", "value", "8"));
    fair_share_open();
    assert_reason_has("big", "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_"
                             "RESOURCE");
    sql("UPDATE jobs SET blocked_since = blocked_since - 601000 WHERE "
        "job_id = 'big'");
    sweep_with(drv__control_time_limits);
    assert_status("big", "FAILED");
    assert_status("a2", "RUNNABLE");
}
END_TEST

/* A fair-share queue needs a share on every job and at most 500 shares
 * with unfinished jobs; a job of a share already active is taken. */
START_TEST(test_dispatcher_fair_share_submission_rules)
{
    fair_share_queue("{}", 4);
    sql("UPDATE compute_environments SET state = 'ENABLED'");
    submit("none", NULL);
    assert_status("none", "FAILED");
    assert_reason_has("none", "shareIdentifier is required");
    /* any Kafka producer may send one: checked again here, never echoed */
    char big[400];
    memset(big, 'a', 300);
    big[300] = '\0';
    submit_share("long", big, -1);
    assert_status("long", "FAILED");
    assert_reason("long", "shareIdentifier must be 1 to 255 letters and "
                          "digits, optionally followed by *");
    submit_share("odd", "a'; DROP TABLE jobs; --", -1);
    assert_status("odd", "FAILED");
    assert_reason_has("odd", "shareIdentifier must be");
    sql("INSERT INTO jobs (job_id, job_name, queue, status, created_at, "
        "updated_at, request, share_identifier) SELECT 'x' || i, 'x', '" QUEUE
        "', 'PENDING', 0, 0, '{}', 's' || i FROM generate_series(1, 500) i");
    submit_share("late", "new", -1);
    assert_status("late", "FAILED");
    assert_reason_has("late", "already has 500 active share identifiers");
    submit_share("known", "s7", -1);
    assert_status("known", "RUNNABLE");
}
END_TEST

/* ---- consumable resources (issue 15) ------------------------------- */

/* Definition "dl" needs `qty` of resource `res`; the environment has room
 * for 8 one-vCPU jobs, so only the resource limits what runs. */
static void consumable_setup(const char *res, const char *type, int total,
                             int qty)
{
    char q[1024];
    snprintf(q, sizeof(q),
             "INSERT INTO consumable_resources (name, resource_type, "
             "total_quantity, created_at) VALUES ('%s', '%s', %d, 0)",
             res, type, total);
    sql(q);
    snprintf(q, sizeof(q),
             "INSERT INTO job_definitions (name, revision, spec, created_at) "
             "VALUES ('dl', 1, '{\"jobDefinitionName\": \"dl\", \"type\": "
             "\"container\", \"consumableResourceProperties\": "
             "{\"consumableResourceList\": [{\"consumableResource\": "
             "\"arn:aws:batch:us-east-1:000000000000:consumable-resource/%s\", "
             "\"quantity\": %d}]}, \"containerProperties\": {\"image\": "
             "\"busybox\", \"command\": [\"true\"], \"resourceRequirements\": "
             "[{\"type\": \"VCPU\", \"value\": \"1\"}, {\"type\": \"MEMORY\", "
             "\"value\": \"128\"}]}}', 0)",
             res, qty);
    sql(q);
    sql("UPDATE compute_environments SET max_vcpus = 8");
}

static json_t *licensed(void)
{
    return json_pack("{s:s}", "jobDefinition", "dl");
}

/* A REPLENISHABLE resource of 2 and six jobs needing 1 each: two run, the
 * others wait saying for what, and each that ends lets the next start; a
 * job needing nothing is not held up behind them. */
START_TEST(test_dispatcher_consumables_bound_what_runs)
{
    consumable_setup("lic", "REPLENISHABLE", 2, 1);
    char id[8];
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof(id), "l%d", i);
        submit(id, licensed());
    }
    submit("plain", NULL);
    assert_value("SELECT count(*) FROM jobs WHERE released AND consumables "
                 "IS NOT NULL",
                 NULL, "2");
    assert_value("SELECT released::text FROM jobs WHERE job_id = $1", "plain",
                 "true");
    assert_reason("l2", "DROVER:WAITING_FOR_CONSUMABLE_RESOURCE - consumable "
                        "resource lic has less than the 1 it needs "
                        "available; it runs when enough is");
    /* the name, never the ARN the definition gave, is what the job needs */
    assert_value("SELECT consumables::text FROM jobs WHERE job_id = $1", "l0",
                 "[{\"quantity\": 1, \"consumableResource\": \"lic\"}]");
    run_attempt("l0", 1, 0);
    assert_status("l0", "SUCCEEDED");
    assert_value("SELECT count(*) FROM jobs WHERE released AND consumables "
                 "IS NOT NULL",
                 NULL, "2");
    assert_value("SELECT released::text FROM jobs WHERE job_id = $1", "l2",
                 "true");
    assert_value("SELECT total_quantity::text FROM consumable_resources", NULL,
                 "2");
}
END_TEST

/* NON_REPLENISHABLE: what a job takes comes off the total as it starts and
 * never comes back; an override changes the quantity; adding to the total
 * lets the waiting job start. */
START_TEST(test_dispatcher_consumables_non_replenishable)
{
    consumable_setup("tok", "NON_REPLENISHABLE", 3, 1);
    submit("n0", json_pack("{s:s,s:{s:[{s:s,s:i}]}}", "jobDefinition", "dl",
                           "consumableResourcePropertiesOverride",
                           "consumableResourceList", "consumableResource",
                           "tok", "quantity", 2));
    submit("n1", json_pack("{s:s,s:{s:[{s:s,s:i}]}}", "jobDefinition", "dl",
                           "consumableResourcePropertiesOverride",
                           "consumableResourceList", "consumableResource",
                           "tok", "quantity", 2));
    assert_value("SELECT released::text FROM jobs WHERE job_id = $1", "n0",
                 "true");
    assert_value("SELECT total_quantity::text FROM consumable_resources", NULL,
                 "1");
    assert_reason_has("n1", "consumable resource tok has less than the 2");
    run_attempt("n0", 1, 0);
    assert_value("SELECT total_quantity::text FROM consumable_resources", NULL,
                 "1");
    assert_value("SELECT released::text FROM jobs WHERE job_id = $1", "n1",
                 "false");
    sql("UPDATE consumable_resources SET total_quantity = total_quantity + 1");
    sweep_with(drv__schedule_pass);
    assert_value("SELECT released::text FROM jobs WHERE job_id = $1", "n1",
                 "true");
    assert_value("SELECT total_quantity::text FROM consumable_resources", NULL,
                 "0");
}
END_TEST

/* Submissions from any Kafka producer are checked here too: a resource
 * that does not exist, an override of one the definition does not need,
 * a malformed list; array children need what their parent needs; a
 * resource deleted after a job was accepted leaves it waiting, saying
 * so. */
START_TEST(test_dispatcher_consumables_submission_rules)
{
    consumable_setup("lic", "REPLENISHABLE", 2, 1);
    sql("INSERT INTO job_definitions (name, revision, spec, created_at) "
        "VALUES ('dx', 1, '{\"jobDefinitionName\": \"dx\", \"type\": "
        "\"container\", \"consumableResourceProperties\": "
        "{\"consumableResourceList\": [{\"consumableResource\": \"nope\", "
        "\"quantity\": 1}]}, \"containerProperties\": {\"image\": "
        "\"busybox\", \"vcpus\": 1, \"memory\": 128}}', 0)");
    submit("missing", json_pack("{s:s}", "jobDefinition", "dx"));
    assert_status("missing", "FAILED");
    assert_reason("missing", "consumable resource nope does not exist");
    submit("other", json_pack("{s:s,s:{s:[{s:s,s:i}]}}", "jobDefinition", "dl",
                              "consumableResourcePropertiesOverride",
                              "consumableResourceList", "consumableResource",
                              "gpu-hours", "quantity", 1));
    assert_status("other", "FAILED");
    assert_reason_has("other", "does not need consumable resource gpu-hours");
    submit("zero", json_pack("{s:s,s:{s:[{s:s,s:i}]}}", "jobDefinition", "dl",
                             "consumableResourcePropertiesOverride",
                             "consumableResourceList", "consumableResource",
                             "lic", "quantity", 0));
    assert_status("zero", "FAILED");
    assert_reason("zero", "consumableResourcePropertiesOverride."
                          "consumableResourceList[0].quantity must be an "
                          "integer from 1 to 9007199254740991");
    submit("arr", json_pack("{s:s,s:{s:i}}", "jobDefinition", "dl",
                            "arrayProperties", "size", 4));
    assert_value("SELECT count(*) FROM jobs WHERE array_parent = 'arr' AND "
                 "released",
                 NULL, "2");
    sql("DELETE FROM consumable_resources");
    submit("late", licensed());
    assert_status("late", "FAILED");
    assert_reason("late", "consumable resource lic does not exist");
    /* the array's children accepted before the delete wait for it */
    assert_value("SELECT status_reason FROM jobs WHERE job_id = 'arr:3'",
                 NULL, "MISCONFIGURATION:CONSUMABLE_RESOURCE - consumable "
                       "resource lic does not exist");
}
END_TEST

/* ---- GPUs (issue 15) ------------------------------------------------ */

/* A worker of CE with `vcpus`, `gpus` and run-topic partitions `parts`
 * (taken; NULL: none listed). */
static void sized_worker(const char *worker, double vcpus, int gpus,
                         json_t *parts)
{
    apply("WorkerHeartbeat", DRV_TOPIC_STATUS, worker,
          json_pack("{s:s,s:s,s:f,s:f,s:I,s:I,s:[],s:o,s:I,s:I,s:b,s:i,s:i}",
                    "worker", worker, "computeEnvironment", CE, "vcpusTotal",
                    vcpus, "vcpusFree", vcpus, "memoryTotalMiB",
                    (json_int_t)8192, "memoryFreeMiB", (json_int_t)8192,
                    "running", "partitions", parts ? parts : json_array(),
                    "startedAt", (json_int_t)1, "timestamp",
                    (json_int_t)drv_now_ms(), "draining", 0, "gpusTotal", gpus,
                    "gpusFree", gpus));
}

/* What the last RunJob sent for job_id said: its gpus, or (partition)
 * the partition it went to (-1: by key); -2: none sent. */
static int last_run_value(const char *job_id, bool partition)
{
    int v = -2;
    size_t i;
    json_t *s;
    json_array_foreach(sent, i, s)
    {
        const char *k = json_string_value(json_object_get(s, "key"));
        if (!strcmp(json_string_value(json_object_get(s, "type")), "RunJob") &&
            k && !strcmp(k, job_id)) {
            v = (int)json_integer_value(
                partition ? json_object_get(s, "partition")
                          : json_object_get(json_object_get(s, "msg"),
                                            "gpus"));
        }
    }
    return v;
}

static json_t *gpus_of(const char *n)
{
    return json_pack("{s:{s:[{s:s,s:s}]}}", "containerOverrides",
                     "resourceRequirements", "type", "GPU", "value", n);
}

/* GPUs come from the workers' heartbeats: two 1-GPU jobs are released
 * onto an environment whose worker has two, the third waits for room; a
 * job needing more than any worker has says so; each RunJob carries its
 * count; a finished job gives its GPU back. */
START_TEST(test_dispatcher_gpus_bound_what_is_released)
{
    sql("UPDATE compute_environments SET max_vcpus = 8");
    sized_worker("w-gpu", 8, 2, NULL);
    submit("g0", gpus_of("1"));
    submit("g1", gpus_of("1"));
    submit("g2", gpus_of("1"));
    submit("g-big", gpus_of("3"));
    submit("plain", NULL);
    assert_value("SELECT string_agg(job_id, ',' ORDER BY job_id) FROM jobs "
                 "WHERE released",
                 NULL, "g0,g1,plain");
    assert_reason_has("g2", "DROVER:WAITING_FOR_ROOM");
    assert_reason("g-big", "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The "
                           "job requires more vCPU, memory or GPUs than any "
                           "worker of its compute environments offers.");
    ck_assert_int_eq(last_run_value("g0", false), 1);
    ck_assert_int_eq(last_run_value("plain", false), 0);
    run_attempt("g0", 1, 0);
    assert_value("SELECT released::text FROM jobs WHERE job_id = $1", "g2",
                 "true");
    /* no worker with GPUs: a GPU job cannot use the environment's budget */
    sql("DELETE FROM workers");
    submit("g3", gpus_of("1"));
    assert_reason_has("g3", "DROVER:NO_WORKERS");
}
END_TEST

/* ---- per-worker placement (issue 15) -------------------------------- */

static json_t *vcpus_of(const char *n)
{
    return json_pack("{s:{s:[{s:s,s:s}]}}", "containerOverrides",
                     "resourceRequirements", "type", "VCPU", "value", n);
}

/* Two workers of different sizes: a large job goes to the one it fits,
 * to a partition that worker consumes; small ones go where they fill a
 * worker best (the smaller one, while it has room), then to the rest of
 * the larger. What a worker claims is held by it, whichever worker it was
 * sent to. A job the environment has room for in sum, but no one worker,
 * waits. */
START_TEST(test_dispatcher_places_on_a_worker_with_room)
{
    sql("UPDATE compute_environments SET max_vcpus = NULL, state = "
        "'DISABLED'");
    sized_worker("w-small", 2, 0, json_pack("[i,i]", 0, 1));
    sized_worker("w-large", 8, 0, json_pack("[i,i]", 2, 3));
    submit("large", vcpus_of("5"));
    char id[8];
    for (int i = 0; i < 7; i++) {
        snprintf(id, sizeof(id), "s%d", i);
        submit(id, vcpus_of("1"));
    }
    sql("UPDATE compute_environments SET state = 'ENABLED'");
    sweep_with(drv__schedule_pass);
    assert_value("SELECT placed_worker FROM jobs WHERE job_id = $1", "large",
                 "w-large");
    int lp = last_run_value("large", true);
    ck_assert_msg(lp == 2 || lp == 3, "the large job went to partition %d",
                  lp);
    assert_value("SELECT string_agg(job_id || '@' || placed_worker, ',' "
                 "ORDER BY job_id) FROM jobs WHERE released AND job_id LIKE "
                 "'s%'",
                 NULL, "s0@w-small,s1@w-small,s2@w-large,s3@w-large,"
                       "s4@w-large");
    int sp = last_run_value("s0", true);
    ck_assert_msg(sp == 0 || sp == 1, "s0 went to partition %d", sp);
    sweep_with(drv__schedule_pass); /* no room left: the heads say why */
    assert_reason_has("s5", "DROVER:WAITING_FOR_ROOM");
    /* w-small claims s4, sent to w-large: w-small holds it now. Then each
     * has one vCPU free (w-large: 8 - 5 - 2), and each takes one more */
    report_from("w-small", 1, "s4", 1, "STARTING", -1, NULL);
    run_attempt("s0", 1, 0);
    run_attempt("s1", 1, 0);
    assert_value("SELECT string_agg(job_id || '@' || placed_worker, ',' "
                 "ORDER BY job_id) FROM jobs WHERE job_id IN ('s5', 's6') "
                 "AND released",
                 NULL, "s5@w-large,s6@w-small");
    /* one vCPU free on each: two in sum, none for a 2-vCPU job */
    run_attempt("s5", 1, 0);
    run_attempt("s6", 1, 0);
    submit("two", vcpus_of("2"));
    assert_value("SELECT released::text FROM jobs WHERE job_id = $1", "two",
                 "false");
    assert_reason_has("two", "DROVER:WAITING_FOR_ROOM");
    /* a worker whose heartbeat lists no partitions is no one's target:
     * with none listed, jobs go by their key, as before */
    sql("UPDATE workers SET partitions = '{}'");
    sweep_with(drv__schedule_pass);
    ck_assert_int_eq(last_run_value("two", true), -1);
}
END_TEST

static Suite *dispatcher_suite(void)
{
    Suite *s = suite_create("dispatcher");
    struct {
        const char *name;
        const TTest *tests[8];
    } groups[] = {
        {"submissions",
         {test_dispatcher_submission_released_with_events,
          test_dispatcher_refused_submission_fails_with_reason,
          test_dispatcher_same_id_again,
          test_dispatcher_misplaced_message_parked,
          test_dispatcher_host_paths_checked_against_policy,
          test_dispatcher_release_checks_the_chosen_environment,
          test_dispatcher_poison_strings_parked}},
        {"reports",
         {test_dispatcher_lifecycle_gives_capacity_back,
          test_dispatcher_claims_fence_other_workers,
          test_dispatcher_one_batch_applied_set_wise,
          test_dispatcher_reports_fold_into_one_change,
          test_dispatcher_failed_reports_set_wise,
          test_dispatcher_names_log_streams,
          test_dispatcher_reports_need_their_workers_signature,
          test_dispatcher_attempts_run_out}},
        {"dependencies",
         {test_dispatcher_dependency_succeeds_then_runs,
          test_dispatcher_dependency_failure_cascades,
          test_dispatcher_dependency_submitted_later,
          test_dispatcher_dependency_with_receipt_waits,
          test_dispatcher_disabled_queue_keeps_accepted_jobs,
          test_dispatcher_dependency_never_submitted}},
        {"arrays",
         {test_dispatcher_array_children_and_parent,
          test_dispatcher_sequential_array_in_order,
          test_dispatcher_n_to_n_pairs_children,
          test_dispatcher_n_to_n_needs_same_size,
          test_dispatcher_n_to_n_dependency_recorded_later,
          test_dispatcher_failed_array_cascades_set_wise}},
        {"control",
         {test_dispatcher_cancel_waiting_job,
          test_dispatcher_terminate_running_job,
          test_dispatcher_terminated_job_never_succeeds,
          test_dispatcher_cancel_array_children,
          test_dispatcher_time_limit_actions_cancel,
          test_dispatcher_deleted_queue_terminates_its_jobs,
          test_dispatcher_runnable_jobs_say_why}},
        {"fair share",
         {test_dispatcher_fair_share_interleaves_by_weight,
          test_dispatcher_fair_share_reserves_for_new_shares,
          test_dispatcher_fair_share_time_limits_per_share,
          test_dispatcher_fair_share_submission_rules}},
        {"gpus", {test_dispatcher_gpus_bound_what_is_released}},
        {"placement", {test_dispatcher_places_on_a_worker_with_room}},
        {"consumable resources",
         {test_dispatcher_consumables_bound_what_runs,
          test_dispatcher_consumables_non_replenishable,
          test_dispatcher_consumables_submission_rules}},
        {"hostile",
         {test_dispatcher_hostile_records_never_fail_a_batch,
          test_dispatcher_parked_sender_bytes_are_kept_safe}},
        {"fleet",
         {test_dispatcher_restarted_worker_loses_attempts,
          test_dispatcher_outbox_payload_round_trip,
          test_dispatcher_outbox_drops_stale_run_requests}},
    };
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        TCase *tc = tcase_create(groups[g].name);
        tcase_add_checked_fixture(tc, setup, teardown);
        for (size_t i = 0; i < 8 && groups[g].tests[i]; i++) {
            tcase_add_test(tc, groups[g].tests[i]);
        }
        suite_add_tcase(s, tc);
    }
    TCase *tc = tcase_create("retries");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_dispatcher_retry_strategy_decides, 0,
                        (int)(sizeof(retry_cases) / sizeof(retry_cases[0])));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return drv_test_run(dispatcher_suite());
}
