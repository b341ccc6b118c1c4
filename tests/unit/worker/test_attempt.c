/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the worker's attempt lifecycle (worker/attempt.c and its
 * admission, worker/admit.c) over a fake runtime and a fake reporter:
 * nothing running is needed (no Kafka, no container engine). Also the
 * hollow runtime through the same lifecycle.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drover/job.h"
#include "drover/util.h"
#include "check_main.h"
#include "worker_int.h"

#define VCPUS 4.0
#define MEMORY 8192
#define WAIT_S 10 /* no case should come near this */

/* ---- The fake runtime ---------------------------------------------------- */

typedef enum when {
    NEVER,
    WHILE_PREPARING, /* a StopAttempt while the runtime prepares */
    WHILE_STARTING,  /* ... while it starts */
} when_t;

static struct fake {
    /* what it does */
    bool prepare_fails, start_fails, blocks, oom;
    drv__rt_wait_t first_wait;
    int exit_code; /* of the first wait that says EXITED */
    when_t stop_arrives;
    /* what it saw */
    int prepares, starts, waits, stops, ooms, collects, cleanups;
    int64_t timeouts_ms[4];
    bool oom_stopped; /* the `stopped` oom_killed was given */
    bool in_wait, stop_seen;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} fake;

static drv_wrk_t *wrk;
static drv_conf_t *conf;
static json_t *reports; /* what the fake reporter was given, in order */
static pthread_mutex_t reports_mu = PTHREAD_MUTEX_INITIALIZER;

/* A StopAttempt for the attempt, as control.c would deliver it. */
static void request_stop(const drv__rt_attempt_t *ra)
{
    pthread_mutex_lock(&wrk->lock);
    drv__attempt_t *a = drv__attempt_find(wrk, ra->job->id, ra->job->attempt);
    ck_assert_ptr_nonnull(a);
    drv__attempt_stop(a);
    pthread_mutex_unlock(&wrk->lock);
}

static int fake_prepare(drv__rt_attempt_t *ra, char *errstr, size_t size)
{
    fake.prepares++;
    if (fake.stop_arrives == WHILE_PREPARING) {
        request_stop(ra);
    }
    if (fake.prepare_fails) {
        drv_errstr_set(errstr, size, DRV_REASON_SECRETS ": secret s: gone");
        return -1;
    }
    return 0;
}

static int fake_start(drv__rt_attempt_t *ra, char *errstr, size_t size)
{
    fake.starts++;
    if (fake.stop_arrives == WHILE_STARTING) {
        request_stop(ra);
    }
    if (fake.start_fails) {
        drv_errstr_set(errstr, size, "CannotStartContainerError: no engine");
        return -1;
    }
    snprintf(ra->cid, sizeof(ra->cid), "fake-%d", ra->job->attempt);
    snprintf(ra->log_stream, sizeof(ra->log_stream), "%s", ra->cid);
    return 0;
}

/* The first wait says `first_wait` (or blocks until stopped); the next one
 * is the exit after a stop: 143. */
static drv__rt_wait_t fake_wait(drv__rt_attempt_t *ra, int64_t timeout_ms,
                                int *exit_code, char *errstr, size_t size)
{
    (void)ra;
    int n = fake.waits++;
    fake.timeouts_ms[n < 4 ? n : 3] = timeout_ms;
    if (n > 0) {
        *exit_code = 143;
        return DRV__RT_EXITED;
    }
    if (fake.blocks) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += WAIT_S;
        pthread_mutex_lock(&fake.mu);
        fake.in_wait = true;
        pthread_cond_broadcast(&fake.cv);
        while (!fake.stop_seen &&
               pthread_cond_timedwait(&fake.cv, &fake.mu, &ts) == 0) {
        }
        pthread_mutex_unlock(&fake.mu);
        *exit_code = 143;
        return DRV__RT_EXITED;
    }
    if (fake.first_wait == DRV__RT_ERROR) {
        drv_errstr_set(errstr, size, "engine gone");
    }
    *exit_code = fake.exit_code;
    return fake.first_wait;
}

static void fake_stop(drv__rt_attempt_t *ra)
{
    ck_assert(atomic_load(&ra->stop));
    pthread_mutex_lock(&fake.mu);
    fake.stops++;
    fake.stop_seen = true;
    pthread_cond_broadcast(&fake.cv);
    pthread_mutex_unlock(&fake.mu);
}

static bool fake_oom_killed(drv__rt_attempt_t *ra, int exit_code,
                            bool stopped)
{
    (void)ra;
    (void)exit_code;
    fake.ooms++;
    fake.oom_stopped = stopped;
    return fake.oom;
}

static void fake_collect(drv__rt_attempt_t *ra)
{
    (void)ra;
    fake.collects++;
}

static void fake_cleanup(drv__rt_attempt_t *ra)
{
    (void)ra;
    fake.cleanups++;
}

static const drv__rt_ops_t fake_ops = {
    .name = "fake",
    .times_start = true,
    .mounts = true,
    .prepare = fake_prepare,
    .start = fake_start,
    .wait = fake_wait,
    .stop = fake_stop,
    .oom_killed = fake_oom_killed,
    .collect = fake_collect,
    .cleanup = fake_cleanup,
};

static void fake_report(drv_wrk_t *w, const char *job_id, int attempt,
                        const char *status, json_t *extra)
{
    (void)w;
    json_t *r = extra ? extra : json_object();
    json_object_set_new(r, "jobId", json_string(job_id));
    json_object_set_new(r, "attempt", json_integer(attempt));
    json_object_set_new(r, "status", json_string(status));
    pthread_mutex_lock(&reports_mu);
    json_array_append_new(reports, r);
    pthread_mutex_unlock(&reports_mu);
}

static int failing_thread_create(pthread_t *t, const pthread_attr_t *attr,
                                 void *(*fn)(void *), void *arg)
{
    (void)t, (void)attr, (void)fn, (void)arg;
    return EAGAIN;
}

/* ---- Fixture and helpers ------------------------------------------------- */

static void setup(void)
{
    char e[DRV_ERRSTR_SIZE];
    memset(&fake, 0, sizeof(fake));
    pthread_mutex_init(&fake.mu, NULL);
    pthread_cond_init(&fake.cv, NULL);
    conf = drv_conf_new();
    ck_assert_int_eq(drv_conf_set(conf, "worker.vcpus", "4", e, sizeof(e)),
                     DRV_CONF_OK);
    ck_assert_int_eq(drv_conf_set(conf, "worker.memory.mib", "8192", e,
                                  sizeof(e)),
                     DRV_CONF_OK);
    ck_assert_int_eq(drv_conf_set(conf, "worker.stop.grace.seconds", "2", e,
                                  sizeof(e)),
                     DRV_CONF_OK);
    ck_assert_int_eq(drv_conf_set(conf, "worker.id", "w1", e, sizeof(e)),
                     DRV_CONF_OK);
    wrk = drv__wrk_alloc(conf, NULL, e, sizeof(e));
    ck_assert_msg(wrk != NULL, "%s", e);
    wrk->rt = &fake_ops;
    wrk->report = fake_report;
    reports = json_array();
}

static void teardown(void)
{
    drv_wrk_destroy(wrk);
    wrk = NULL;
    drv_conf_destroy(conf);
    json_decref(reports);
    pthread_mutex_destroy(&fake.mu);
    pthread_cond_destroy(&fake.cv);
}

static json_t *run_job(const char *id, int attempt, json_t *timeout)
{
    return json_pack("{s:s,s:i,s:s,s:s,s:f,s:I,s:o,s:[s,s]}", "jobId", id,
                     "attempt", attempt, "jobQueue", "q1", "image", "busybox",
                     "vcpus", 1.5, "memoryMiB", (json_int_t)1024,
                     "timeoutSeconds", timeout ? timeout : json_null(),
                     "command", "sh", "true");
}

/* Admit a RunJob and take it off the claims, as the claim would. */
static drv__attempt_t *admit(json_t *run)
{
    ck_assert(drv__admit(wrk, run));
    pthread_mutex_lock(&wrk->lock);
    drv__attempt_t *a = wrk->claims;
    ck_assert_ptr_nonnull(a);
    wrk->claims = a->next_claim;
    pthread_mutex_unlock(&wrk->lock);
    return a;
}

/* Wait for every attempt to end; then its capacity must all be back. */
static void wait_idle(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += WAIT_S;
    pthread_mutex_lock(&wrk->lock);
    while (wrk->running_cnt > 0 &&
           pthread_cond_timedwait(&wrk->cond, &wrk->lock, &ts) == 0) {
    }
    ck_assert_int_eq(wrk->running_cnt, 0);
    ck_assert_ptr_null(wrk->running);
    ck_assert(wrk->vcpus_free == VCPUS);
    ck_assert_int_eq(wrk->memory_free, MEMORY);
    pthread_mutex_unlock(&wrk->lock);
}

/* Wait until the fake's first wait blocks (the attempt is RUNNING). */
static void wait_running(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += WAIT_S;
    pthread_mutex_lock(&fake.mu);
    while (!fake.in_wait &&
           pthread_cond_timedwait(&fake.cv, &fake.mu, &ts) == 0) {
    }
    ck_assert(fake.in_wait);
    pthread_mutex_unlock(&fake.mu);
}

static json_t *report_at(size_t i)
{
    return json_array_get(reports, i);
}

static const char *str_of(json_t *r, const char *key)
{
    return json_string_value(json_object_get(r, key));
}

/* The last report: the outcome. */
static json_t *outcome(void)
{
    ck_assert_int_ge(json_array_size(reports), 1);
    return report_at(json_array_size(reports) - 1);
}

static void run_attempt(const char *id, json_t *timeout)
{
    json_t *run = run_job(id, 1, timeout);
    drv__attempt_start(admit(run));
    wait_idle();
}

/* ---- The lifecycle, case by case ----------------------------------------- */

static const struct outcome_case {
    const char *name;
    bool prepare_fails, start_fails, oom;
    drv__rt_wait_t first_wait;
    int exit_code;
    int timeout_s; /* 0: none */
    /* expected */
    bool running; /* RUNNING reported */
    const char *status, *status_reason, *reason; /* reason NULL: none */
    int exit; /* -1: no exitCode */
    int starts, stops;
} cases[] = {
    {"success", false, false, false, DRV__RT_EXITED, 0, 0, true, "SUCCEEDED",
     DRV_REASON_EXITED, NULL, 0, 1, 0},
    {"non-zero exit", false, false, false, DRV__RT_EXITED, 3, 0, true,
     "FAILED", DRV_REASON_EXITED, NULL, 3, 1, 0},
    {"prepare failure", true, false, false, DRV__RT_EXITED, 0, 0, false,
     "FAILED", DRV_REASON_START_FAILED, DRV_REASON_SECRETS ": secret s: gone",
     -1, 0, 0},
    {"start failure", false, true, false, DRV__RT_EXITED, 0, 0, false,
     "FAILED", DRV_REASON_START_FAILED, "CannotStartContainerError: no engine",
     -1, 1, 0},
    {"timeout", false, false, false, DRV__RT_TIMEOUT, 0, 5, true, "FAILED",
     DRV_REASON_TIMEOUT, NULL, 143, 1, 1},
    {"out of memory", false, false, true, DRV__RT_EXITED, 137, 0, true,
     "FAILED", DRV_REASON_EXITED, DRV_REASON_OOM, 137, 1, 0},
    {"oom on exit 0", false, false, true, DRV__RT_EXITED, 0, 0, true,
     "FAILED", DRV_REASON_EXITED, DRV_REASON_OOM, 0, 1, 0},
    {"state unknown", false, false, false, DRV__RT_ERROR, 0, 0, true,
     "FAILED", "Container state unknown", "DockerTimeoutError: engine gone",
     -1, 1, 0},
};

static void check_case(const struct outcome_case *c)
{
    size_t n = json_array_size(reports);
    ck_assert_msg(n == (c->running ? 2u : 1u), "%s: %zu reports", c->name, n);
    if (c->running) {
        json_t *r = report_at(0);
        ck_assert_str_eq(str_of(r, "status"), "RUNNING");
        ck_assert_str_eq(str_of(r, "containerId"), "fake-1");
        ck_assert_str_eq(str_of(r, "logStreamName"), "fake-1");
    }
    json_t *o = outcome();
    ck_assert_msg(!strcmp(str_of(o, "status"), c->status), "%s: %s", c->name,
                  str_of(o, "status"));
    ck_assert_str_eq(str_of(o, "statusReason"), c->status_reason);
    if (c->reason) {
        ck_assert_str_eq(str_of(o, "reason"), c->reason);
    } else {
        ck_assert_msg(!json_object_get(o, "reason"), "%s", c->name);
    }
    json_t *code = json_object_get(o, "exitCode");
    if (c->exit < 0) {
        ck_assert_msg(!code, "%s", c->name);
    } else {
        ck_assert_int_eq(json_integer_value(code), c->exit);
    }
    ck_assert_int_eq(fake.prepares, 1);
    ck_assert_int_eq(fake.starts, c->starts);
    ck_assert_int_eq(fake.stops, c->stops);
    ck_assert_int_eq(fake.cleanups, 1); /* whatever happened */
}

START_TEST(test_attempt_outcomes)
{
    const struct outcome_case *c = &cases[_i];
    fake.prepare_fails = c->prepare_fails;
    fake.start_fails = c->start_fails;
    fake.oom = c->oom;
    fake.first_wait = c->first_wait;
    fake.exit_code = c->exit_code;
    run_attempt("job-a", c->timeout_s ? json_integer(c->timeout_s) : NULL);
    check_case(c);
}
END_TEST

/* issue 13: the worker's own policy, before anything is made. A privileged
 * job on a host that does not allow it (whatever its compute environment
 * said at submission), and a host path under no allowed root, fail the
 * attempt; the runtime is never asked to prepare (no container). */
START_TEST(test_attempt_policy_refusal_makes_nothing)
{
    const char *want[] = {
        "CannotStartContainerError: privileged containers are not allowed "
        "on this host (worker.allow.privileged)",
        "CannotStartContainerError: host path /etc "
        "(containerProperties.volumes[0].host.sourcePath) is not under "
        "worker.allowed.host.paths",
    };
    for (int i = 0; i < 2; i++) {
        json_t *run = run_job(i ? "job-vol" : "job-priv", 1, NULL);
        if (i) {
            json_object_set_new(run, "volumes",
                                json_pack("[{s:s,s:{s:s}}]", "name", "h",
                                          "host", "sourcePath", "/etc"));
        } else {
            json_object_set_new(run, "privileged", json_true());
        }
        drv__attempt_start(admit(run));
        wait_idle();
        json_t *o = outcome();
        ck_assert_str_eq(str_of(o, "status"), "FAILED");
        ck_assert_str_eq(str_of(o, "statusReason"), DRV_REASON_START_FAILED);
        ck_assert_str_eq(str_of(o, "reason"), want[i]);
        ck_assert_ptr_null(json_object_get(o, "containerId"));
    }
    ck_assert_uint_eq(json_array_size(reports), 2); /* no RUNNING */
    ck_assert_int_eq(fake.prepares, 0);
    ck_assert_int_eq(fake.starts, 0);
    ck_assert_int_eq(fake.cleanups, 0);
}
END_TEST

START_TEST(test_attempt_timeout_stops_then_waits_out_the_grace)
{
    fake.first_wait = DRV__RT_TIMEOUT;
    run_attempt("job-t", json_integer(7));
    ck_assert_int_eq(fake.waits, 2);
    ck_assert_int_eq(fake.timeouts_ms[0], 7000);
    ck_assert_int_eq(fake.timeouts_ms[1], (2 + 30) * 1000);
    ck_assert(fake.oom_stopped); /* a SIGKILL then may be ours */
    ck_assert_int_eq(fake.collects, 1);
}
END_TEST

START_TEST(test_attempt_no_timeout_waits_without_limit)
{
    run_attempt("job-n", NULL);
    ck_assert_int_eq(fake.waits, 1);
    ck_assert_int_le(fake.timeouts_ms[0], 0);
    ck_assert(!fake.oom_stopped);
}
END_TEST

START_TEST(test_attempt_success_counts_metrics)
{
    run_attempt("job-m", NULL);
    char *text = drv_metrics_render(wrk->metrics);
    ck_assert_msg(strstr(text, "drover_container_start_seconds_count 1\n"),
                  "%s", text);
    ck_assert_msg(strstr(text, "drover_attempts_total{status=\"SUCCEEDED\"} 1"),
                  "%s", text);
    free(text);
}
END_TEST

/* ---- Stops ----------------------------------------------------------------- */

START_TEST(test_attempt_stop_before_start_never_starts)
{
    fake.stop_arrives = WHILE_PREPARING;
    run_attempt("job-s", NULL);
    ck_assert_int_eq(fake.starts, 0);
    ck_assert_int_eq(fake.stops, 0);
    ck_assert_int_eq(fake.cleanups, 1);
    ck_assert_int_eq(json_array_size(reports), 1);
    json_t *o = outcome();
    ck_assert_str_eq(str_of(o, "status"), "FAILED");
    ck_assert_str_eq(str_of(o, "statusReason"),
                     "Terminated before the container started");
    ck_assert_ptr_null(json_object_get(o, "exitCode"));
}
END_TEST

START_TEST(test_attempt_stop_before_admission_is_remembered)
{
    drv_strset_add(wrk->stopped, "job-r#1");
    json_t *run = run_job("job-r", 1, NULL);
    ck_assert(drv__admit(wrk, run)); /* and freed */
    ck_assert_ptr_null(wrk->claims);
    ck_assert_int_eq(wrk->running_cnt, 0);
    ck_assert_int_eq(drv_strset_size(wrk->stopped), 0);
    ck_assert_int_eq(json_array_size(reports), 1);
    ck_assert_str_eq(str_of(outcome(), "status"), "FAILED");
    ck_assert_str_eq(str_of(outcome(), "statusReason"),
                     "Terminated before the container started");
    ck_assert_int_eq(fake.prepares, 0);
}
END_TEST

START_TEST(test_attempt_stop_while_running_calls_runtime_stop)
{
    fake.blocks = true;
    json_t *run = run_job("job-w", 1, NULL);
    drv__attempt_start(admit(run));
    wait_running();
    pthread_mutex_lock(&wrk->lock); /* the capacity is held meanwhile */
    ck_assert(wrk->vcpus_free == VCPUS - 1.5);
    ck_assert_int_eq(wrk->memory_free, MEMORY - 1024);
    ck_assert_int_eq(wrk->running_cnt, 1);
    pthread_mutex_unlock(&wrk->lock);
    drv__rt_attempt_t ra = {.job = &(drv__job_t){.id = "job-w", .attempt = 1}};
    request_stop(&ra);
    request_stop(&ra); /* a second request changes nothing */
    wait_idle();
    ck_assert_int_eq(fake.stops, 1);
    ck_assert(fake.oom_stopped);
    json_t *o = outcome();
    ck_assert_str_eq(str_of(o, "status"), "FAILED");
    ck_assert_str_eq(str_of(o, "statusReason"), DRV_REASON_EXITED);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "exitCode")), 143);
}
END_TEST

/* A stop that comes while the runtime starts the work is passed on once
 * it has started, not lost. */
START_TEST(test_attempt_stop_while_starting_is_passed_on)
{
    fake.stop_arrives = WHILE_STARTING;
    fake.blocks = true;
    run_attempt("job-p", NULL);
    ck_assert_int_eq(fake.starts, 1);
    ck_assert_int_eq(fake.stops, 1);
    ck_assert_int_eq(json_array_size(reports), 2);
    ck_assert_str_eq(str_of(report_at(0), "status"), "RUNNING");
    ck_assert_int_eq(json_integer_value(json_object_get(outcome(),
                                                        "exitCode")),
                     143);
}
END_TEST

START_TEST(test_attempt_drain_hand_back_reports_host_lost)
{
    char want[256];
    fake.blocks = true;
    json_t *run = run_job("job-d", 1, NULL);
    drv__attempt_start(admit(run));
    wait_running();
    pthread_mutex_lock(&wrk->lock);
    ck_assert_int_eq(drv__attempt_hand_back_all(wrk), 1);
    pthread_mutex_unlock(&wrk->lock);
    wait_idle();
    ck_assert_int_eq(fake.stops, 1);
    json_t *o = outcome();
    snprintf(want, sizeof(want), DRV_REASON_HOST_LOST_FMT, "w1");
    ck_assert_str_eq(str_of(o, "status"), "FAILED");
    ck_assert_str_eq(str_of(o, "statusReason"), want);
    ck_assert_ptr_null(json_object_get(o, "exitCode"));
    ck_assert_ptr_null(json_object_get(o, "reason"));
}
END_TEST

/* ---- Admission and threads ------------------------------------------------ */

START_TEST(test_attempt_thread_failure_gives_capacity_back)
{
    wrk->thread_create = failing_thread_create;
    json_t *run = run_job("job-f", 1, NULL);
    drv__attempt_start(admit(run));
    wait_idle();
    ck_assert_int_eq(fake.prepares, 0);
    ck_assert_int_eq(fake.cleanups, 0);
    ck_assert_int_eq(json_array_size(reports), 1);
    json_t *o = outcome();
    ck_assert_str_eq(str_of(o, "status"), "FAILED");
    ck_assert_str_eq(str_of(o, "statusReason"), DRV_REASON_START_FAILED);
    ck_assert_msg(strstr(str_of(o, "reason"), "no thread for the attempt"),
                  "%s", str_of(o, "reason"));
}
END_TEST

START_TEST(test_attempt_delivered_twice_runs_once)
{
    drv__attempt_t *a = admit(run_job("job-2", 1, NULL));
    /* taken: nothing more to do (and the copy is freed) */
    ck_assert(drv__admit(wrk, run_job("job-2", 1, NULL)));
    ck_assert_ptr_null(wrk->claims);
    ck_assert_int_eq(wrk->running_cnt, 1);
    drv__attempt_start(a);
    wait_idle();
    ck_assert(drv__admit(wrk, run_job("job-2", 1, NULL))); /* even now */
    ck_assert_ptr_null(wrk->claims);
    ck_assert_int_eq(fake.prepares, 1);
}
END_TEST

START_TEST(test_attempt_admits_within_capacity)
{
    fake.blocks = true;
    json_t *big = json_pack("{s:s,s:i,s:s,s:s,s:f,s:I}", "jobId", "big",
                            "attempt", 1, "jobQueue", "q1", "image",
                            "busybox", "vcpus", 8.0, "memoryMiB",
                            (json_int_t)1);
    json_t *run = run_job("job-c", 1, NULL);
    drv__attempt_t *a = admit(big); /* an idle worker takes any size */
    drv__attempt_start(a);
    wait_running();
    ck_assert(!drv__admit(wrk, run)); /* no room while it runs: ours */
    drv__rt_attempt_t ra = {.job = &(drv__job_t){.id = "big", .attempt = 1}};
    request_stop(&ra);
    wait_idle();
    fake.blocks = false;
    fake.waits = 0;
    drv__attempt_start(admit(run));
    wait_idle();
}
END_TEST

/* Issue 15: each attempt gets its own GPUs of the worker's inventory, the
 * lowest free first; one that needs more than are free waits, one that
 * needs more than the worker has fails at once; they come back when the
 * attempts end. The ids reach the attempt's environment. */
START_TEST(test_attempt_gpus_never_shared)
{
    char e[DRV_ERRSTR_SIZE];
    wrk->rt = &drv__rt_hollow;
    ck_assert_int_eq(drv_conf_set(conf, "worker.gpus", "GPU-a, GPU-b,GPU-c",
                                  e, sizeof(e)),
                     DRV_CONF_OK);
    ck_assert_int_eq(drv__gpus_load(wrk, e, sizeof(e)), 0);
    ck_assert_int_eq(wrk->gpus_total, 3);
    json_t *two = run_job("g2", 1, NULL), *one = run_job("g1", 1, NULL);
    json_t *more = run_job("g1b", 1, NULL), *four = run_job("g4", 1, NULL);
    json_object_set_new(two, "gpus", json_integer(2));
    json_object_set_new(one, "gpus", json_integer(1));
    json_object_set_new(more, "gpus", json_integer(1));
    json_object_set_new(four, "gpus", json_integer(4));
    drv__attempt_t *a2 = admit(two), *a1 = admit(one);
    ck_assert_str_eq(a2->job.gpu_devices, "GPU-a,GPU-b");
    ck_assert_str_eq(a1->job.gpu_devices, "GPU-c");
    ck_assert(!drv__admit(wrk, more)); /* none free: it waits */
    ck_assert(drv__admit(wrk, four));  /* never here: failed at once */
    ck_assert_str_eq(str_of(outcome(), "status"), "FAILED");
    ck_assert_str_eq(str_of(outcome(), "reason"),
                     "CannotStartContainerError: the job needs 4 GPUs and "
                     "this worker has 3");
    json_t *env = drv__rt_env(&a1->ra);
    char *text = json_dumps(env, 0);
    ck_assert_msg(strstr(text, "\"NVIDIA_VISIBLE_DEVICES=GPU-c\""), "%s",
                  text);
    free(text);
    json_decref(env);
    drv__attempt_start(a2);
    drv__attempt_start(a1);
    wait_idle();
    ck_assert(wrk->gpus_busy == 0);
    drv__attempt_start(admit(more)); /* the lowest free again */
    wait_idle();
    /* a bad inventory stops the worker, naming the key */
    ck_assert_int_eq(drv_conf_set(conf, "worker.gpus", "0,0", e, sizeof(e)),
                     DRV_CONF_OK);
    ck_assert_int_eq(drv__gpus_load(wrk, e, sizeof(e)), -1);
    ck_assert_msg(strstr(e, "worker.gpus: GPU 0 is listed twice"), "%s", e);
    ck_assert_int_eq(drv_conf_set(conf, "worker.gpus", "0;rm -rf", e,
                                  sizeof(e)),
                     DRV_CONF_OK);
    ck_assert_int_eq(drv__gpus_load(wrk, e, sizeof(e)), -1);
    ck_assert_msg(strstr(e, "is not a GPU id"), "%s", e);
}
END_TEST

/* What `nvidia-smi -L` prints: UUIDs where given, else indexes. */
START_TEST(test_attempt_gpus_from_nvidia_smi)
{
    char ids[DRV_GPUS_MAX][DRV_GPU_ID_MAX + 1], e[DRV_ERRSTR_SIZE];
    int n = drv__gpus_parse_smi(
        "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5f1a2b3c-0000-1111)\n"
        "  MIG 1g.5gb Device 0: (UUID: MIG-9c8d)\n"
        "GPU 1: Tesla T4\n"
        "No devices were found\n",
        ids, e, sizeof(e));
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(ids[0], "GPU-5f1a2b3c-0000-1111");
    ck_assert_str_eq(ids[1], "MIG-9c8d");
    ck_assert_str_eq(ids[2], "1");
    ck_assert_int_eq(drv__gpus_parse_smi("", ids, e, sizeof(e)), 0);
}
END_TEST

/* ---- The hollow runtime ----------------------------------------------------- */

START_TEST(test_attempt_hollow_does_the_protocol_only)
{
    wrk->rt = &drv__rt_hollow;
    run_attempt("job-h", NULL);
    ck_assert_int_eq(json_array_size(reports), 2);
    json_t *r = report_at(0);
    ck_assert_str_eq(str_of(r, "status"), "RUNNING");
    ck_assert_str_eq(str_of(r, "containerId"), "hollow");
    ck_assert_ptr_null(json_object_get(r, "logStreamName"));
    ck_assert_str_eq(str_of(outcome(), "status"), "SUCCEEDED");
    char *text = drv_metrics_render(wrk->metrics);
    ck_assert_msg(!strstr(text, "\ndrover_container_start_seconds_count "),
                  "%s", text);
    free(text);
}
END_TEST

START_TEST(test_attempt_unknown_runtime_is_refused)
{
    char e[DRV_ERRSTR_SIZE];
    drv_conf_t *c = drv_conf_dup(conf);
    ck_assert_int_eq(drv_conf_set(c, "worker.runtime", "vm", e, sizeof(e)),
                     DRV_CONF_OK);
    ck_assert_ptr_null(drv__wrk_alloc(c, NULL, e, sizeof(e)));
    ck_assert_str_eq(e, "worker.runtime \"vm\": expected container, process "
                        "or hollow");
    drv_conf_destroy(c);
}
END_TEST

/* worker.scratch.dir must name an existing directory by an absolute path;
 * a refusal names the key. */
START_TEST(test_attempt_bad_scratch_dir_is_refused)
{
    char e[DRV_ERRSTR_SIZE];
    const char *bad[] = {"tmp", "/nonexistent/drover-scratch", "/dev/null"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        drv_conf_t *c = drv_conf_dup(conf);
        ck_assert_int_eq(drv_conf_set(c, "worker.scratch.dir", bad[i], e,
                                      sizeof(e)),
                         DRV_CONF_OK);
        ck_assert_ptr_null(drv__wrk_alloc(c, NULL, e, sizeof(e)));
        ck_assert_msg(!strncmp(e, "worker.scratch.dir \"", 20) &&
                          strstr(e, bad[i]),
                      "%s", e);
        drv_conf_destroy(c);
    }
    drv_conf_t *c = drv_conf_dup(conf);
    ck_assert_int_eq(drv_conf_set(c, "worker.scratch.dir", "/tmp", e,
                                  sizeof(e)),
                     DRV_CONF_OK);
    drv_wrk_t *w = drv__wrk_alloc(c, NULL, e, sizeof(e));
    ck_assert_msg(w != NULL, "%s", e);
    drv_wrk_destroy(w);
    drv_conf_destroy(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("attempt");
    TCase *tc = tcase_create("lifecycle");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_attempt_outcomes, 0,
                        (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, test_attempt_timeout_stops_then_waits_out_the_grace);
    tcase_add_test(tc, test_attempt_no_timeout_waits_without_limit);
    tcase_add_test(tc, test_attempt_success_counts_metrics);
    tcase_add_test(tc, test_attempt_hollow_does_the_protocol_only);
    tcase_add_test(tc, test_attempt_policy_refusal_makes_nothing);
    suite_add_tcase(s, tc);

    tc = tcase_create("stops");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_attempt_stop_before_start_never_starts);
    tcase_add_test(tc, test_attempt_stop_before_admission_is_remembered);
    tcase_add_test(tc, test_attempt_stop_while_running_calls_runtime_stop);
    tcase_add_test(tc, test_attempt_stop_while_starting_is_passed_on);
    tcase_add_test(tc, test_attempt_drain_hand_back_reports_host_lost);
    suite_add_tcase(s, tc);

    tc = tcase_create("admission");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_attempt_thread_failure_gives_capacity_back);
    tcase_add_test(tc, test_attempt_delivered_twice_runs_once);
    tcase_add_test(tc, test_attempt_admits_within_capacity);
    tcase_add_test(tc, test_attempt_unknown_runtime_is_refused);
    tcase_add_test(tc, test_attempt_bad_scratch_dir_is_refused);
    tcase_add_test(tc, test_attempt_gpus_never_shared);
    tcase_add_test(tc, test_attempt_gpus_from_nvidia_smi);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
