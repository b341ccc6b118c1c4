/* SPDX-License-Identifier: Apache-2.0 */
/* Dispatcher internals shared by dispatcher.c (loop, Kafka, offsets) and
 * state.c (the job state machine and the scheduler). @thread main only. */
#ifndef DRV_DISPATCHER_INT_H
#define DRV_DISPATCHER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "dispatcher.h"
#include "drover/avro_codec.h"
#include "drover/job.h"
#include "drover/kafka.h"
#include "drover/metrics.h"
#include "drover/pg.h"

#define DRV_DISP_GROUP "drover-dispatcher"

/* A message to publish once the transaction that produced it commits. */
typedef struct drv__out {
    char *topic;
    char *key;
    void *buf;
    size_t len;
    char *dlq_reason; /* for drover.dlq: headers */
    char *dlq_source;
} drv__out_t;

struct drv_disp {
    const drv_conf_t *conf;
    drv_log_t *log;
    drv_pg_t *pg;
    drv_codec_t *codec;
    drv_kprod_t *kprod;
    drv_kcons_t *kcons;
    drv_job_limits_t limits;
    const char *region, *account;
    int64_t dep_grace_ms;
    drv__out_t *out;
    size_t out_cnt, out_cap;
    json_t *out_ids; /* their outbox ids once persisted */
    json_t *done; /* jobs that became terminal, awaiting drv__drain */
    json_t *batch_cache; /* catalog lookups made in the open transaction */
    /* vCPUs and MiB held by released jobs, per compute environment:
     * `usage` as last committed (loaded from the database when
     * usage_loaded is false), `usage_delta` what the open transaction
     * changed; see drv__usage_add */
    json_t *usage, *usage_delta;
    bool usage_loaded;
    int64_t usage_loaded_at;
    json_t *unconfirmed; /* outbox ids delivered, rows not yet deleted */
    int64_t active_since; /* when this dispatcher took the leader lock */
    int64_t caught_up_at; /* when it last had nothing more to read: every
                             heartbeat sent a moment before is applied */
    unsigned lead_session; /* the PostgreSQL session holding that lock */
    drv_metrics_t *metrics;
    drv_http_t *http;       /* /metrics and /healthz, if metrics.listen */
    atomic_bool leading;    /* read by the HTTP and gauges threads */
    pthread_t gauges;       /* counts jobs for /metrics (dispatcher.c) */
    bool gauges_started;
    atomic_bool gauges_stop;
    _Atomic int64_t db_ok_ms; /* last successful database round trip
                                 (read by the HTTP thread) */
};

/* Queue a message for after commit (buf is taken over). */
void drv__disp_emit(drv_disp_t *disp, const char *topic, const char *key,
                    void *buf, size_t len);
/* Queue the original bytes of an unusable message for drover.dlq. */
void drv__disp_dlq(drv_disp_t *disp, const char *source, const char *key,
                   const void *value, size_t len, const char *reason);

/* ---- the state machine (state.c) ---- */

/* What a transition records besides the status. */
typedef struct drv__change {
    const char *status_reason; /* nullable: keep the job's */
    int exit_code;             /* -1: keep */
    const char *reason;        /* container reason; nullable: keep */
    bool cancelled, terminated;
} drv__change_t;

/* Columns an event is built from (RETURNING and SELECT lists). */
#define DRV__EVENT_COLS                                                        \
    "jobs.job_id, jobs.job_name, jobs.queue, jobs.definition_name, "           \
    "jobs.definition_revision, jobs.status, jobs.status_reason, "              \
    "jobs.attempts, jobs.exit_code, jobs.reason, jobs.created_at, "            \
    "jobs.started_at, jobs.stopped_at, jobs.is_cancelled, "                    \
    "jobs.is_terminated, jobs.array_index, jobs.array_size, "                  \
    "jobs.request->'dependsOn', jobs.updated_at"
#define DRV__TERMINAL "('SUCCEEDED','FAILED')"
/* The jobs that wait for job `id` (an SQL expression) through an explicit
 * dependency, as a JSON array of ids in submission order, or NULL. */
#define DRV__WAITING_DEPENDENTS(id)                                            \
    "(SELECT json_agg(d.job_id ORDER BY w.seq) FROM job_dependencies d "      \
    "JOIN jobs w ON w.job_id = d.job_id WHERE d.depends_on = " id " AND "     \
    "d.type IS DISTINCT FROM 'N_TO_N' AND w.status IN "                       \
    "('SUBMITTED','PENDING'))"

/* Queue a JobStateChange for row `row` of r (DRV__EVENT_COLS first). */
void drv__emit_event(drv_disp_t *disp, const drv_pg_res_t *r, int row,
                     const char *prev);

/* Move a non-terminal job to `to` with its event; a job reaching SUCCEEDED
 * or FAILED is queued for drv__drain. Returns 1 if it changed, 0 if not,
 * -1 on a database error. */
int drv__set_status(drv_disp_t *disp, const char *job_id, const char *to,
                    const drv__change_t *c, char *errstr, size_t errstr_size);

/* Decide a SUBMITTED or PENDING job's fate from its dependencies. */
int drv__evaluate(drv_disp_t *disp, const char *job_id, char *errstr,
                  size_t errstr_size);
/* drv__evaluate for each id of a JSON array (NULL: none), in order. */
int drv__evaluate_all(drv_disp_t *disp, json_t *ids, char *errstr,
                      size_t errstr_size);

/* Everything that follows from jobs becoming terminal: dependents, array
 * parents' completion, SEQUENTIAL siblings, N_TO_N counterparts. */
int drv__drain(drv_disp_t *disp, char *errstr, size_t errstr_size);

/* Create the children <parent>:0..size-1 of an array job (born PENDING). */
int drv__array_spawn(drv_disp_t *disp, const char *parent, int size,
                     char *errstr, size_t errstr_size);

/* Record that the open transaction released (sign 1) or let go of (-1) a
 * job's vCPUs and memory on compute environment `ce`. */
void drv__usage_add(drv_disp_t *disp, const char *ce, double vcpus,
                    double mib, int sign);
/* The transaction committed (true) or rolled back (false). */
void drv__usage_end(drv_disp_t *disp, bool committed);

/* ---- messages (apply.c) and scheduling (schedule.c) ---- */

/* Apply one decoded message inside the open transaction. Returns 0, or -1
 * on a database error (the batch is rolled back and retried). */
int drv__state_apply(drv_disp_t *disp, const char *type, json_t *msg,
                     const char *source, const char *key, const void *raw,
                     size_t raw_len, char *errstr, size_t errstr_size);

/* A consumed message, decoded. */
typedef struct drv__msg {
    const char *type; /* the record's name: JobStatus, JobRequest, ... */
    json_t *obj;
    const char *source, *key; /* its topic and key */
    const void *raw;          /* its bytes, for the DLQ */
    size_t raw_len;
} drv__msg_t;

/* The messages that make most of the traffic, applied in runs: routine
 * reports (STARTING, RUNNING, SUCCEEDED) and submissions. */
bool drv__pipelined(const char *type, json_t *msg);
/* Apply n messages (drv__pipelined), in order, sending their statements
 * to PostgreSQL DRV_PG_PIPELINE_MAX at a time in one round trip rather
 * than one to three round trips each (a submission that is an array or
 * waits for jobs goes on its own), then what follows from them.
 * Returns 0, or -1 on a database error. */
int drv__apply_run(drv_disp_t *disp, const drv__msg_t *msgs, size_t n,
                   char *errstr, size_t errstr_size);

/* Ask workers to stop an attempt (`worker` NULL: whichever runs it). */
void drv__send_stop(drv_disp_t *disp, const char *job_id, int attempt,
                    const char *ce, const char *reason, const char *worker);

/* Fail the attempts of workers silent for longer than their lease. */
int drv__lose_silent_workers(drv_disp_t *disp, char *errstr,
                             size_t errstr_size);

/* Release runnable jobs within capacity (own transaction). */
int drv__state_schedule(drv_disp_t *disp, char *errstr, size_t errstr_size);

/* Fail SUBMITTED jobs whose dependencies never appeared (own transaction). */
int drv__state_sweep(drv_disp_t *disp, char *errstr, size_t errstr_size);

#endif
