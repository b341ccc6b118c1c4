/* SPDX-License-Identifier: Apache-2.0 */
/* Dispatcher internals shared by dispatcher.c (loop, Kafka, offsets) and
 * state.c (the job state machine and the scheduler). @thread main only. */
#ifndef DRV_DISPATCHER_INT_H
#define DRV_DISPATCHER_INT_H

#include "dispatcher.h"
#include "drover/avro_codec.h"
#include "drover/job.h"
#include "drover/kafka.h"
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
};

/* Queue a message for after commit (buf is taken over). */
void drv__disp_emit(drv_disp_t *disp, const char *topic, const char *key,
                    void *buf, size_t len);
/* Queue the original bytes of an unusable message for drover.dlq. */
void drv__disp_dlq(drv_disp_t *disp, const char *source, const char *key,
                   const void *value, size_t len, const char *reason);

/* Apply one decoded message inside the open transaction. Returns 0, or -1
 * on a database error (the batch is rolled back and retried). */
int drv__state_apply(drv_disp_t *disp, const char *type, json_t *msg,
                     const char *source, const char *key, const void *raw,
                     size_t raw_len, char *errstr, size_t errstr_size);

/* Release runnable jobs within capacity (own transaction). */
int drv__state_schedule(drv_disp_t *disp, char *errstr, size_t errstr_size);

/* Fail SUBMITTED jobs whose dependencies never appeared (own transaction). */
int drv__state_sweep(drv_disp_t *disp, char *errstr, size_t errstr_size);

#endif
