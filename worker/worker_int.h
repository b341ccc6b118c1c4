/* SPDX-License-Identifier: Apache-2.0 */
/* Worker internals shared by worker.c (loop) and attempt.c (one attempt). */
#ifndef DRV_WORKER_INT_H
#define DRV_WORKER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "drover/avro_codec.h"
#include "drover/kafka.h"
#include "drover/metrics.h"
#include "worker.h"

typedef struct drv__attempt {
    struct drv_wrk *wrk;
    json_t *run;  /* the RunJob (owned) */
    char job_id[160];
    int attempt;
    double vcpus;
    int64_t memory_mib;
    char cid[80];        /* container id once created (under wrk->lock) */
    bool stop_requested; /* TerminateJob arrived (under wrk->lock) */
    bool handed_back;    /* drain timed out: report it lost, not failed */
    struct drv__attempt *next;
    struct drv__attempt *next_claim; /* wrk->claims (main thread) */
} drv__attempt_t;

struct drv_wrk {
    const drv_conf_t *conf;
    drv_log_t *log;
    char id[256];
    const char *ce;
    drv_codec_t *codec;
    drv_kprod_t *kprod;
    drv_kcons_t *kcons;
    drv_kcons_t *kctl; /* drover.control.<ce>, a group of its own */
    json_t *stopped;   /* "job#attempt" -> reason: stops for attempts not
                          (yet) running here, checked on admission */
    json_t *seen;      /* "job#attempt" admitted here (bounded): a RunJob
                          delivered again is not run twice */
    drv_metrics_t *metrics;
    drv_http_t *http;             /* /metrics and /healthz, if configured */
    volatile int64_t loop_ok_ms;  /* the main loop's last turn */
    double vcpus_total;
    int64_t memory_total;
    int64_t started_at;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t cond;
    double vcpus_free;
    int64_t memory_free;
    drv__attempt_t *running;
    int running_cnt;
    unsigned long ended; /* attempts ended so far (wakes a held RunJob) */
    drv__attempt_t *claims; /* admitted, claim not yet made durable */
};

/* Report a status for an attempt (any thread). */
void drv__wrk_report(struct drv_wrk *wrk, const char *job_id, int attempt,
                     const char *status, json_t *extra);

/* Stop an attempt's container (SIGTERM, SIGKILL after the grace period)
 * from a thread of its own. @locks wrk->lock held by the caller. */
void drv__wrk_stop_container(struct drv_wrk *wrk, drv__attempt_t *a);

/* The job's environment plus AWS_BATCH_* (and DROVER_*) variables, as
 * "NAME=value" strings. */
json_t *drv__attempt_env(drv__attempt_t *a);

/* Append the job's secrets (from worker.secrets.dir) to env; -1 with the
 * AWS reason in e when one cannot be read. */
int drv__attempt_secrets(drv__attempt_t *a, json_t *env, char *e,
                         size_t esize);

/* The process runtime (process.c): runs the command, fills the outcome. */
void drv__run_process(drv__attempt_t *a, json_t *out);

/* Kill what attempts of an earlier process of this worker left running. */
void drv__process_reap(struct drv_wrk *wrk);

/* The attempt thread's body: runs the container, reports, frees capacity. */
void *drv__attempt_main(void *arg);

#endif
