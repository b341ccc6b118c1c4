/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Worker internals. Files form layers, each calling only those below it:
 *
 *   main.c      argv -> conf -> drv_wrk_new/run/destroy
 *   loop.c      the handle, the main loop, heartbeat, drain, the real
 *               reporter, the table of runtimes
 *   admit.c     RunJob -> drv__job_t, admission within capacity, claims
 *   control.c   StopAttempt
 *   attempt.c   the attempt lifecycle, runtime-neutral: thread, phases,
 *               report, timeout, stop, capacity
 *   runtime.h   the runtime interface (runtime_*.c, runtime.c below it)
 *
 * Locks: wrk->lock guards what is marked so below; nothing else is
 * shared. Fields marked "fixed" are set by drv_wrk_new (or before the
 * first attempt starts) and only read afterwards, from any thread.
 */
#ifndef DRV_WORKER_INT_H
#define DRV_WORKER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "drover/avro_codec.h"
#include "drover/kafka.h"
#include "drover/metrics.h"
#include "drover/origin.h"
#include "drover/strset.h"
#include "runtime.h"
#include "worker.h"

/* A stop for an attempt that had not started yet (at admission, or
 * before its runtime started it). */
#define DRV__REASON_TERMINATED_EARLY "Terminated before the container started"

/* Where an attempt's thread is; a stop request acts on it (attempt.c). */
typedef enum drv__phase {
    DRV__PHASE_PREPARING, /* admitted, being prepared: a stop only marks */
    DRV__PHASE_STARTING,  /* its runtime is starting it: likewise */
    DRV__PHASE_RUNNING,   /* started: a stop calls the runtime's stop */
    DRV__PHASE_ENDING,    /* exited or failed: a stop changes nothing */
} drv__phase_t;

typedef struct drv__attempt {
    struct drv_wrk *wrk;
    json_t *run;      /* the RunJob (owned; fixed) */
    drv__job_t job;   /* its fields (fixed) */
    drv__rt_attempt_t ra; /* the runtime's view (the attempt thread) */
    /* under wrk->lock: */
    drv__phase_t phase;
    bool stop_requested; /* a StopAttempt or the drain asked */
    bool handed_back;    /* drain timed out: report it lost, not failed */
    bool has_stopper;    /* `stopper` runs the runtime's stop; joined */
    pthread_t stopper;
    struct drv__attempt *next;       /* wrk->running */
    struct drv__attempt *next_claim; /* wrk->claims */
} drv__attempt_t;

/* Send an attempt's status (STARTING, RUNNING, SUCCEEDED, FAILED) with
 * the JobStatus fields in `extra` (nullable; takes ownership). The real
 * one encodes a JobStatus and produces it to drover.status; tests put a
 * fake here. @thread any @locks none */
typedef void drv__report_fn(struct drv_wrk *wrk, const char *job_id,
                            int attempt, const char *status, json_t *extra);

/* pthread_create, or a test's stand-in that fails. */
typedef int drv__thread_fn(pthread_t *t, const pthread_attr_t *attr,
                           void *(*fn)(void *), void *arg);

struct drv_wrk {
    /* fixed */
    const drv_conf_t *conf;
    drv_log_t *log;
    char id[256];
    const char *ce;
    const drv__rt_ops_t *rt; /* worker.runtime */
    drv__rt_host_t rt_host;  /* what runtimes see of the worker */
    drv__report_fn *report;
    drv__thread_fn *thread_create;
    double vcpus_total;
    int64_t memory_total;
    int gpus_total;                                /* worker.gpus */
    char gpu_ids[DRV_GPUS_MAX][DRV_GPU_ID_MAX + 1]; /* their device ids */
    int64_t started_at;
    drv_metrics_t *metrics; /* thread-safe itself */
    drv_codec_t *codec;     /* thread-safe itself */
    drv_kprod_t *kprod;     /* thread-safe itself */
    bool signs;             /* worker.key is set: records are signed */
    drv_origin_key_t key;   /* worker.key */
    char origin[DRV_ORIGIN_NAME_SIZE]; /* "<ce>/<id>" */
    /* main thread only */
    drv_kcons_t *kcons;
    drv_kcons_t *kctl; /* drover.control.<ce>, a group of its own */
    drv_http_t *http;  /* /metrics and /healthz, if configured */
    /* the main loop's last turn: written by main, read by the HTTP thread */
    _Atomic int64_t loop_ok_ms;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* an attempt ended (with `lock`) */
    /* under lock: */
    drv_strset_t *stopped; /* "job#attempt": stops heard for attempts not
                              (yet) running here, checked on admission */
    drv_strset_t *seen;    /* "job#attempt" admitted here (bounded): a
                              RunJob delivered again is not run twice */
    double vcpus_free;
    int64_t memory_free;
    uint64_t gpus_busy;      /* bit i: gpu_ids[i] is an attempt's */
    drv__attempt_t *running; /* admitted and not ended */
    int running_cnt;
    unsigned long ended;    /* attempts ended so far (wakes a held RunJob) */
    drv__attempt_t *claims; /* admitted, claim not yet made durable */
};

/* ---- loop.c ---- */

/* The handle without its network side (no Kafka, no HTTP): what the
 * lifecycle needs, for drv_wrk_new and for tests. NULL with errstr for an
 * unknown worker.runtime. drv_wrk_destroy frees it. @thread main */
drv_wrk_t *drv__wrk_alloc(const drv_conf_t *conf, drv_log_t *log,
                          char *errstr, size_t errstr_size);

/* ---- admit.c (main thread) ---- */

/* Decode a RunJob; NULL (logged, sent to the DLQ) if it is unusable. */
json_t *drv__admit_decode(drv_wrk_t *wrk, drv_kmsg_t *msg);

/* Take the attempt if it fits (an idle worker takes any size): it joins
 * wrk->claims. A RunJob seen before, or stopped before it came, is done
 * with at once. Returns true when `run` is done with: taken over (the
 * attempt owns it, so no reference is shared across threads) or freed;
 * false when there is no room yet, and `run` is still the caller's.
 * @locks none */
bool drv__admit(drv_wrk_t *wrk, json_t *run);

/* Claim the admitted attempts and start them; `msgs` are committed and
 * destroyed. @locks none */
void drv__admit_claim(drv_wrk_t *wrk, drv_kmsg_t **msgs, size_t n,
                      volatile sig_atomic_t *stop);

/* ---- gpus.c ---- */

/* worker.gpus ("a,b": device ids; "none"; "": what nvidia-smi -L lists)
 * into wrk->gpu_ids and gpus_total. -1 with errstr for a bad list.
 * @thread main, before the first attempt */
int drv__gpus_load(drv_wrk_t *wrk, char *errstr, size_t errstr_size);
/* The ids of a comma-separated list, or of `nvidia-smi -L` output (UUIDs,
 * else indexes), into ids; their count, or -1 with errstr (a bad id, a
 * duplicate, more than DRV_GPUS_MAX). For tests too. */
int drv__gpus_parse_list(const char *list, char ids[][DRV_GPU_ID_MAX + 1],
                         char *errstr, size_t errstr_size);
int drv__gpus_parse_smi(const char *text, char ids[][DRV_GPU_ID_MAX + 1],
                        char *errstr, size_t errstr_size);
/* How many are free; give job->gpus of them to the job (job->gpu_mask,
 * gpu_devices), the lowest first; take them back. @locks wrk->lock held */
int drv__gpus_free(const drv_wrk_t *wrk);
void drv__gpus_take(drv_wrk_t *wrk, drv__job_t *job);
void drv__gpus_give(drv_wrk_t *wrk, const drv__job_t *job);

/* ---- control.c (main thread) ---- */

void drv__control_handle(drv_wrk_t *wrk, drv_kmsg_t *msg);

/* ---- attempt.c ---- */

/* A new attempt of `run` (takes ownership), holding its capacity, on
 * wrk->running. @locks wrk->lock held */
drv__attempt_t *drv__attempt_new(drv_wrk_t *wrk, json_t *run,
                                 const drv__job_t *job);

/* Run the attempt in a thread of its own, which reports its outcome, gives
 * its capacity back and frees it. If no thread can be made, all of that
 * happens here, with a start failure. @thread main @locks none */
void drv__attempt_start(drv__attempt_t *a);

/* The running attempt, or NULL. @locks wrk->lock held */
drv__attempt_t *drv__attempt_find(drv_wrk_t *wrk, const char *job_id,
                                  int attempt);

/* Ask an attempt to stop: before its runtime started it, it ends with
 * DRV__REASON_TERMINATED_EARLY; once running, its runtime's stop runs (in
 * a thread of its own). Idempotent. @locks wrk->lock held */
void drv__attempt_stop(drv__attempt_t *a);

/* Drain timeout: stop every running attempt and report it lost to this
 * host (retried elsewhere). Returns how many. @locks wrk->lock held */
int drv__attempt_hand_back_all(drv_wrk_t *wrk);

#endif
