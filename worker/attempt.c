/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The attempt lifecycle, written once over the runtime interface: from an
 * admitted attempt (STARTING already reported by the claim) through the
 * worker's policy (nothing is made for an attempt it refuses), its
 * runtime's prepare, start and wait, the RUNNING report and the start
 * metrics, the timeout (stop, then wait out the grace period), stop
 * requests, to the outcome with AWS's reasons, the runtime's cleanup and
 * the capacity given back - whatever happened on the way.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "drover/job.h"
#include "drover/util.h"
#include "worker_int.h"

/* What the final report says. */
typedef struct outcome {
    char status_reason[DRV_REASON_MAX]; /* "" for none */
    char reason[DRV_REASON_MAX];        /* "" for none */
    bool has_exit_code;
    int exit_code;
} outcome_t;

drv__attempt_t *drv__attempt_new(drv_wrk_t *wrk, json_t *run,
                                 const drv__job_t *job)
{
    drv__attempt_t *a = drv_calloc(1, sizeof(*a));
    a->wrk = wrk;
    a->run = run;
    a->job = *job;
    a->ra.host = &wrk->rt_host;
    a->ra.job = &a->job;
    a->ra.run = a->run;
    atomic_init(&a->ra.stop, false);
    a->phase = DRV__PHASE_PREPARING;
    wrk->vcpus_free -= job->vcpus;
    wrk->memory_free -= job->memory_mib;
    a->next = wrk->running;
    wrk->running = a;
    wrk->running_cnt++;
    return a;
}

static void start_failed(outcome_t *o, const char *reason)
{
    snprintf(o->status_reason, sizeof(o->status_reason), "%s",
             DRV_REASON_START_FAILED);
    snprintf(o->reason, sizeof(o->reason), "%s", reason);
}

/* Move to `phase`; false when a stop was asked for before. */
static bool enter(drv__attempt_t *a, drv__phase_t phase)
{
    pthread_mutex_lock(&a->wrk->lock);
    a->phase = phase;
    bool go_on = !a->stop_requested;
    pthread_mutex_unlock(&a->wrk->lock);
    return go_on;
}

/* The lifecycle's own stop (timeout, or a request during the start). */
static void stop_runtime(drv__attempt_t *a)
{
    atomic_store(&a->ra.stop, true);
    if (a->wrk->rt->stop) {
        a->wrk->rt->stop(&a->ra);
    }
}

/* The one "started" step: start metrics and the RUNNING report. */
static void started(drv__attempt_t *a, int64_t t0)
{
    drv_wrk_t *wrk = a->wrk;
    if (wrk->rt->times_start) {
        drv_metrics_add(wrk->metrics, "drover_container_start_seconds_sum",
                        NULL, (double)(drv_mono_ms() - t0) / 1000.0);
        drv_metrics_add(wrk->metrics, "drover_container_start_seconds_count",
                        NULL, 1);
    }
    json_t *extra = json_pack("{s:s}", "containerId", a->ra.cid);
    if (a->ra.log_stream[0]) {
        json_object_set_new(extra, "logStreamName",
                            json_string(a->ra.log_stream));
    }
    wrk->report(wrk, a->job.id, a->job.attempt, "RUNNING", extra);
}

/* Wait for the exit within the attempt's timeout; past it, stop the work
 * and give it the grace period (and 30 s more) to go. */
static void await(drv__attempt_t *a, outcome_t *o)
{
    const drv__rt_ops_t *rt = a->wrk->rt;
    char e[DRV_ERRSTR_SIZE] = "";
    int code = -1;
    bool timed_out = false;
    drv__rt_wait_t w = rt->wait(&a->ra, a->job.timeout_s * 1000, &code, e,
                                sizeof(e));
    if (w == DRV__RT_TIMEOUT) {
        timed_out = true;
        stop_runtime(a);
        int64_t grace_ms = ((int64_t)drv__rt_grace_s(&a->wrk->rt_host) + 30) *
                           1000;
        w = rt->wait(&a->ra, grace_ms, &code, e, sizeof(e));
    }
    pthread_mutex_lock(&a->wrk->lock);
    a->phase = DRV__PHASE_ENDING;
    bool stopped = a->stop_requested || timed_out;
    pthread_mutex_unlock(&a->wrk->lock);
    if (w != DRV__RT_EXITED) {
        snprintf(o->status_reason, sizeof(o->status_reason),
                 "Container state unknown");
        snprintf(o->reason, sizeof(o->reason), "DockerTimeoutError: %.200s",
                 e[0] ? e : "still running after it was stopped");
    } else {
        o->has_exit_code = true;
        o->exit_code = code;
        snprintf(o->status_reason, sizeof(o->status_reason), "%s",
                 timed_out ? DRV_REASON_TIMEOUT : DRV_REASON_EXITED);
        if (rt->oom_killed && rt->oom_killed(&a->ra, code, stopped)) {
            snprintf(o->reason, sizeof(o->reason), "%s", DRV_REASON_OOM);
        }
    }
    if (rt->collect) {
        rt->collect(&a->ra);
    }
}

/* The worker's policy, prepare, start, wait: the outcome in `o`. False
 * when the policy refused the attempt, so nothing was prepared. */
static bool run(drv__attempt_t *a, outcome_t *o)
{
    const drv__rt_ops_t *rt = a->wrk->rt;
    char e[DRV_ERRSTR_SIZE] = "";
    int64_t t0 = drv_mono_ms();
    a->ra.host_paths = drv__policy_check(&a->wrk->rt_host, a->run,
                                         rt->mounts, e, sizeof(e));
    if (!a->ra.host_paths) {
        json_t *f = drv_log_job(a->job.id);
        drv_log(a->wrk->log, DRV_LOG_WARN, "worker.policy_refused", f,
                "attempt %d refused: %s", a->job.attempt, e);
        json_decref(f);
        start_failed(o, e);
        return false;
    }
    if (rt->prepare && rt->prepare(&a->ra, e, sizeof(e)) != 0) {
        start_failed(o, e);
        return true;
    }
    if (!enter(a, DRV__PHASE_STARTING)) {
        snprintf(o->status_reason, sizeof(o->status_reason), "%s",
                 DRV__REASON_TERMINATED_EARLY);
        return true;
    }
    if (rt->start(&a->ra, e, sizeof(e)) != 0) {
        start_failed(o, e);
        return true;
    }
    /* a stop that came while it started is ours to pass on */
    bool stop_now = !enter(a, DRV__PHASE_RUNNING);
    started(a, t0);
    if (stop_now) {
        stop_runtime(a);
    }
    await(a, o);
    return true;
}

/* The outcome's report (takes the attempt out of reach of stops). */
static void finish(drv__attempt_t *a, outcome_t *o)
{
    drv_wrk_t *wrk = a->wrk;
    pthread_mutex_lock(&wrk->lock);
    a->phase = DRV__PHASE_ENDING;
    bool handed_back = a->handed_back;
    pthread_mutex_unlock(&wrk->lock);
    if (handed_back) { /* drained: lost to this host, retried elsewhere */
        memset(o, 0, sizeof(*o));
        snprintf(o->status_reason, sizeof(o->status_reason),
                 DRV_REASON_HOST_LOST_FMT, wrk->id);
    }
    const char *status = o->has_exit_code && o->exit_code == 0 &&
                                 !o->reason[0]
                             ? "SUCCEEDED"
                             : "FAILED";
    char label[64];
    snprintf(label, sizeof(label), "status=\"%s\"", status);
    drv_metrics_add(wrk->metrics, "drover_attempts_total", label, 1);
    json_t *f = drv_log_job(a->job.id);
    json_object_set_new(f, "status", json_string(status));
    drv_log(wrk->log, DRV_LOG_INFO, "worker.attempt_done", f,
            "attempt %d %s", a->job.attempt, status);
    json_decref(f);
    json_t *extra = json_object();
    if (a->ra.cid[0] && !handed_back) {
        json_object_set_new(extra, "containerId", json_string(a->ra.cid));
    }
    if (o->has_exit_code) {
        json_object_set_new(extra, "exitCode", json_integer(o->exit_code));
    }
    if (o->status_reason[0]) {
        json_object_set_new(extra, "statusReason",
                            json_string(o->status_reason));
    }
    if (o->reason[0]) {
        json_object_set_new(extra, "reason", json_string(o->reason));
    }
    wrk->report(wrk, a->job.id, a->job.attempt, status, extra);
}

/* After the report: the runtime's cleanup (once a stop in flight is
 * over), the capacity back, the attempt freed. */
static void end(drv__attempt_t *a, bool prepared)
{
    drv_wrk_t *wrk = a->wrk;
    pthread_mutex_lock(&wrk->lock);
    bool has_stopper = a->has_stopper; /* ENDING: no new one */
    pthread_mutex_unlock(&wrk->lock);
    if (has_stopper) {
        pthread_join(a->stopper, NULL);
    }
    if (prepared && wrk->rt->cleanup) {
        wrk->rt->cleanup(&a->ra);
    }
    pthread_mutex_lock(&wrk->lock);
    wrk->vcpus_free += a->job.vcpus;
    wrk->memory_free += a->job.memory_mib;
    drv__gpus_give(wrk, &a->job);
    for (drv__attempt_t **p = &wrk->running; *p; p = &(*p)->next) {
        if (*p == a) {
            *p = a->next;
            break;
        }
    }
    wrk->running_cnt--;
    wrk->ended++;
    pthread_cond_broadcast(&wrk->cond);
    pthread_mutex_unlock(&wrk->lock);
    json_decref(a->ra.host_paths);
    json_decref(a->run);
    free(a);
}

static void *attempt_main(void *arg)
{
    drv__attempt_t *a = arg;
    outcome_t o = {0};
    bool prepared = run(a, &o);
    finish(a, &o);
    end(a, prepared);
    return NULL;
}

void drv__attempt_start(drv__attempt_t *a)
{
    drv_wrk_t *wrk = a->wrk;
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int err = wrk->thread_create(&t, &attr, attempt_main, a);
    pthread_attr_destroy(&attr);
    if (err == 0) {
        return;
    }
    char e[DRV_ERRSTR_SIZE];
    json_t *f = drv_log_job(a->job.id);
    drv_log(wrk->log, DRV_LOG_ERROR, "worker.thread_failed", f,
            "could not start a thread for attempt %d: %s", a->job.attempt,
            strerror(err));
    json_decref(f);
    outcome_t o = {0};
    snprintf(e, sizeof(e),
             "CannotStartContainerError: no thread for the attempt: %s",
             strerror(err));
    start_failed(&o, e);
    finish(a, &o);
    end(a, false);
}

drv__attempt_t *drv__attempt_find(drv_wrk_t *wrk, const char *job_id,
                                  int attempt)
{
    drv__attempt_t *a = wrk->running;
    while (a && (strcmp(a->job.id, job_id) != 0 || a->job.attempt != attempt)) {
        a = a->next;
    }
    return a;
}

static void *stopper_main(void *arg)
{
    drv__attempt_t *a = arg; /* alive until the attempt joins us */
    a->wrk->rt->stop(&a->ra);
    return NULL;
}

void drv__attempt_stop(drv__attempt_t *a)
{
    drv_wrk_t *wrk = a->wrk;
    if (a->stop_requested) {
        return;
    }
    a->stop_requested = true;
    atomic_store(&a->ra.stop, true);
    /* before RUNNING the attempt's thread sees the flag itself */
    if (a->phase != DRV__PHASE_RUNNING || !wrk->rt->stop) {
        return;
    }
    int err = wrk->thread_create(&a->stopper, NULL, stopper_main, a);
    if (err != 0) {
        json_t *f = drv_log_job(a->job.id);
        drv_log(wrk->log, DRV_LOG_ERROR, "worker.stop_failed", f,
                "could not start a thread to stop attempt %d: %s",
                a->job.attempt, strerror(err));
        json_decref(f);
        return;
    }
    a->has_stopper = true;
}

int drv__attempt_hand_back_all(drv_wrk_t *wrk)
{
    int n = 0;
    for (drv__attempt_t *a = wrk->running; a; a = a->next) {
        a->handed_back = true;
        drv__attempt_stop(a);
        n++;
    }
    return n;
}
