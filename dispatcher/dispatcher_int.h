/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dispatcher's handle, shared by its files. Each file has a header of
 * its own (its contract); a file includes only the headers of the layers
 * below it, so calls between files form no cycle (tests/build/
 * check-layers verifies it):
 *
 *   loop       leadership, the main loop, /metrics and /healthz
 *   intake     a consumed batch: decode, route, runs of statements, the
 *              transaction with its offsets
 *   submit  report  control  fleet      the handlers, one per message kind
 *   retry      what a failed attempt means (retry strategy)
 *   deps       dependencies and what follows a job's change (drain)
 *   arrays     array children: spawn, release, count, fail
 *   schedule   releasing RUNNABLE jobs (beside the handlers)
 *   transition the one place a job's status changes, with its side effects
 *   capacity   what released jobs hold, per compute environment
 *   outbox     messages to publish once the transaction commits
 *
 * Everything runs on the main thread inside a transaction the loop or
 * intake opened, except what the fields below say otherwise.
 */
#ifndef DRV_DISPATCHER_INT_H
#define DRV_DISPATCHER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dispatcher.h"
#include "drover/avro_codec.h"
#include "drover/job.h"
#include "drover/kafka.h"
#include "drover/metrics.h"
#include "drover/origin.h"
#include "drover/pg.h"
#include "drover/submission.h"

#define DRV_DISP_GROUP "drover-dispatcher"
#define DRV__TERMINAL "('SUCCEEDED','FAILED')"

/* A message to publish once the transaction that produced it commits. */
typedef struct drv__out {
    char *topic;
    char *key;
    int32_t partition; /* -1: by key */
    void *buf;
    size_t len;
    char *dlq_reason; /* for drover.dlq: headers */
    char *dlq_source;
} drv__out_t;

/* Where a consumed message came from: its topic and key, and its bytes
 * for drover.dlq (borrowed from the Kafka message). */
typedef struct drv__origin {
    const char *source, *key;
    const void *raw;
    size_t raw_len;
    const char *signer, *sig; /* drover.origin, drover.sig (nullable) */
} drv__origin_t;

/* A list of job ids (owned strings). */
typedef struct drv__ids {
    char **v;
    size_t n;
} drv__ids_t;

/* A job whose change needs more work once its statement has been read
 * (queued by transition.c, worked off in order by drv__deps_drain): one
 * that became terminal (its dependents, its array parent or children),
 * or one whose recording others waited for (they are evaluated). */
typedef struct drv__followup {
    char *job_id;
    bool finished;  /* became SUCCEEDED or FAILED */
    bool succeeded;
    char *parent;   /* its array parent, or NULL */
    int index;      /* its array index (with parent) */
    bool is_array;  /* an array parent itself */
    drv__ids_t wake; /* jobs to evaluate: they wait for this one */
} drv__followup_t;

/* vCPUs, MiB and GPUs held by released jobs on one compute environment
 * (or one worker): `held` as last committed, `delta` what the open
 * transaction changed. */
typedef struct drv__usage {
    char ce[256]; /* or the worker's id */
    double held_v, held_m, held_g, delta_v, delta_m, delta_g;
} drv__usage_t;

struct drv_disp {
    const drv_conf_t *conf;
    drv_log_t *log;
    drv_pg_t *pg;         /* NULL-free once built; the leader lock's session */
    drv_codec_t *codec;
    drv_kprod_t *kprod;   /* NULL in tests (drv__disp_new_offline) */
    drv_kcons_t *kcons;
    drv_job_limits_t limits;
    bool check_origins;      /* dispatcher.worker.key.master is set */
    drv_origin_key_t master; /* from which each worker's key derives */
    const char *region, *account;
    /* outbox.c */
    drv__out_t *out;
    size_t out_cnt, out_cap;
    int64_t *out_ids; /* their outbox ids once persisted (out_cnt) */
    int64_t *unconfirmed; /* outbox ids delivered, rows not yet deleted */
    size_t unconfirmed_cnt, unconfirmed_cap;
    /* transition.c -> deps.c */
    drv__followup_t *fu;
    size_t fu_cnt, fu_cap;
    drv_submission_cache_t *cache; /* lookups made in the open transaction */
    /* capacity.c */
    drv__usage_t *usage;
    size_t usage_cnt;
    drv__usage_t *wusage; /* the same per worker (placed_worker) */
    size_t wusage_cnt;
    bool usage_loaded;
    int64_t usage_loaded_at;
    int64_t shares_accrued_at; /* share_usage last brought up to date */
    /* loop.c */
    int64_t dep_grace_ms; /* dispatcher.dependency.grace.ms */
    int64_t receipts_swept_ms; /* deps.c: the last sweep of stale receipts */
    int64_t active_since; /* when this dispatcher took the leader lock */
    int64_t caught_up_at; /* when it last had nothing more to read: every
                             heartbeat sent a moment before is applied */
    unsigned lead_session; /* the PostgreSQL session holding that lock */
    drv_metrics_t *metrics; /* thread-safe (its own lock) */
    drv_http_t *http;       /* /metrics and /healthz, if metrics.listen */
    atomic_bool leading;    /* read by the HTTP and gauges threads */
    pthread_t gauges;       /* counts jobs for /metrics */
    bool gauges_started;
    atomic_bool gauges_stop;
    struct drv__prov *prov; /* provision.h: a thread of its own */
    _Atomic int64_t db_ok_ms; /* last successful database round trip
                                 (read by the HTTP thread) */
};

#endif
