/* SPDX-License-Identifier: Apache-2.0 */
/* Consumed batches (intake.h). */
#include "intake.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "capacity.h"
#include "deps.h"
#include "drover/util.h"
#include "outbox.h"
#include "schedule.h"
#include "submit.h"
#include "transition.h"

static const char *str(json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

static int64_t num(json_t *o, const char *name)
{
    return (int64_t)json_integer_value(json_object_get(o, name));
}

/* A JobStatus; NULL, or why it is unusable. */
static const char *decode_report(json_t *o, drv__report_t *rep)
{
    json_t *ec = json_object_get(o, "exitCode");
    *rep = (drv__report_t){.job_id = str(o, "jobId"),
                           .attempt = (int)num(o, "attempt"),
                           .worker = str(o, "worker"),
                           .worker_started_at = num(o, "workerStartedAt"),
                           .timestamp = num(o, "timestamp"),
                           .has_exit_code = json_is_integer(ec),
                           .exit_code = (int)json_integer_value(ec),
                           .reason = str(o, "reason"),
                           .status_reason = str(o, "statusReason"),
                           .container_id = str(o, "containerId"),
                           .log_stream = str(o, "logStreamName")};
    const char *st = str(o, "status");
    if (!rep->job_id || !rep->worker || !st ||
        drv_job_status_parse(st, &rep->status) != 0) {
        return "a JobStatus needs jobId, worker and a status";
    }
    if (rep->status != DRV_JOB_STARTING && rep->status != DRV_JOB_RUNNING &&
        rep->status != DRV_JOB_SUCCEEDED && rep->status != DRV_JOB_FAILED) {
        return "a worker reports STARTING, RUNNING, SUCCEEDED or FAILED";
    }
    return NULL;
}

static const char *decode_heartbeat(json_t *o, drv__heartbeat_t *hb)
{
    *hb = (drv__heartbeat_t){
        .worker = str(o, "worker"),
        .compute_environment = str(o, "computeEnvironment"),
        .vcpus_total = json_number_value(json_object_get(o, "vcpusTotal")),
        .vcpus_free = json_number_value(json_object_get(o, "vcpusFree")),
        .memory_total_mib = num(o, "memoryTotalMiB"),
        .memory_free_mib = num(o, "memoryFreeMiB"),
        .started_at = num(o, "startedAt"),
        .timestamp = num(o, "timestamp"),
        .draining = json_is_true(json_object_get(o, "draining"))};
    return hb->worker && hb->compute_environment
               ? NULL
               : "a WorkerHeartbeat needs worker and computeEnvironment";
}

/* A JobRequest on a submit topic; NULL, or why it is unusable. */
static const char *decode_request(json_t *o, const char *source,
                                  drv__msg_t *m)
{
    json_t *req = json_object_get(o, "request"), *v;
    if (strncmp(source, DRV_TOPIC_SUBMIT_PREFIX,
                strlen(DRV_TOPIC_SUBMIT_PREFIX)) != 0) {
        return "a JobRequest belongs on a submit topic";
    }
    if ((v = json_object_get(req, "SubmitJob"))) {
        m->kind = DRV__MSG_SUBMIT;
        m->submit = v;
        return NULL;
    }
    bool terminate = (v = json_object_get(req, "TerminateJob")) != NULL;
    if (terminate || (v = json_object_get(req, "CancelJob"))) {
        m->kind = DRV__MSG_STOP;
        m->stop = (drv__stop_req_t){.job_id = str(v, "jobId"),
                                    .reason = str(v, "reason"),
                                    .terminate = terminate};
        return m->stop.job_id ? NULL : "a cancel or terminate needs jobId";
    }
    return "a JobRequest with no request";
}

int drv__intake_decode(drv_disp_t *disp, const drv__origin_t *from,
                       drv__msg_t *m)
{
    char why[DRV_ERRSTR_SIZE];
    const char *type = NULL, *bad = NULL;
    memset(m, 0, sizeof(*m));
    m->from = *from;
    if (drv_codec_decode(disp->codec, from->raw, from->raw_len, &type,
                         &m->obj, why, sizeof(why)) != DRV_OK) {
        bad = why;
    } else if (!strcmp(type, "JobRequest")) {
        bad = decode_request(m->obj, from->source, m);
    } else if (!strcmp(type, "JobStatus") &&
               !strcmp(from->source, DRV_TOPIC_STATUS)) {
        m->kind = DRV__MSG_REPORT;
        bad = decode_report(m->obj, &m->report);
    } else if (!strcmp(type, "WorkerHeartbeat") &&
               !strcmp(from->source, DRV_TOPIC_STATUS)) {
        m->kind = DRV__MSG_HEARTBEAT;
        bad = decode_heartbeat(m->obj, &m->heartbeat);
    } else {
        snprintf(why, sizeof(why), "a %s message does not belong on %s",
                 type, from->source);
        bad = why;
    }
    if (bad) {
        drv__outbox_dlq(disp, from->source, from->key, from->raw,
                        from->raw_len, bad);
        drv__intake_msg_clear(m);
        return -1;
    }
    return 0;
}

void drv__intake_msg_clear(drv__msg_t *m)
{
    json_decref(m->obj);
    m->obj = NULL;
}

/* ---- runs ----------------------------------------------------------- */

/* One message of a run and its statement. */
typedef struct run_item {
    const drv__msg_t *msg;
    drv_pg_stmt_t st;
    drv__report_params_t rp;
    drv__submission_t sub;
} run_item_t;

static bool pipelined(const drv__msg_t *m)
{
    return m->kind == DRV__MSG_SUBMIT ||
           (m->kind == DRV__MSG_REPORT && drv__report_is_routine(&m->report));
}

/*
 * Send the run's statements in one round trip, then act on their results
 * in order; each result says what its statement found when its turn came.
 * A job id submitted again needs more statements: after the run, in
 * order, then what the run's changes set off (drv__deps_drain).
 */
static int run_flush(drv_disp_t *disp, run_item_t *it, size_t n,
                     char *errstr, size_t errstr_size)
{
    drv_pg_stmt_t st[DRV_PG_PIPELINE_MAX];
    drv_pg_res_t *res[DRV_PG_PIPELINE_MAX];
    bool again[DRV_PG_PIPELINE_MAX];
    for (size_t i = 0; i < n; i++) {
        st[i] = it[i].st;
    }
    if (n > 0 &&
        drv_pg_pipeline(disp->pg, (int)n, st, res, errstr, errstr_size) != 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const drv__msg_t *m = it[i].msg;
        again[i] = m->kind == DRV__MSG_SUBMIT &&
                   drv__submit_recorded(disp, res[i]) == 1;
        if (m->kind == DRV__MSG_REPORT) {
            drv__report_done(disp, &m->report, res[i]);
        }
        drv_pg_res_free(res[i]);
    }
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++) {
        if (again[i]) {
            ret = drv__submit_again(disp, &it[i].sub, &it[i].msg->from,
                                    errstr, errstr_size);
        }
    }
    return ret == 0 ? drv__deps_drain(disp, errstr, errstr_size) : -1;
}

static void run_clear(run_item_t *it, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (it[i].msg->kind == DRV__MSG_SUBMIT) {
            drv__submit_clear(&it[i].sub);
        }
    }
}

/* A submission that needs more than its INSERT, on its own. */
static int submit_alone(drv_disp_t *disp, drv__submission_t *s,
                        const drv__origin_t *from, char *errstr,
                        size_t errstr_size)
{
    int ret = drv__submit_apply(disp, s, from, errstr, errstr_size);
    return ret == 0 ? drv__deps_drain(disp, errstr, errstr_size) : -1;
}

/* Add message m to the run (flushing it when full, or first when m must
 * go on its own). */
static int run_add(drv_disp_t *disp, run_item_t *it, size_t *k,
                   const drv__msg_t *m, char *errstr, size_t errstr_size)
{
    run_item_t *item = &it[*k];
    item->msg = m;
    if (m->kind == DRV__MSG_REPORT) {
        item->st = drv__report_stmt(&item->rp, &m->report);
    } else if (drv__submit_prepare(disp, m->submit, m->from.source,
                                   &item->sub) < 0) {
        drv_errstr_set(errstr, errstr_size, "%s", item->sub.reason);
        drv__submit_clear(&item->sub);
        return -1;
    } else if (drv__submit_is_simple(&item->sub)) {
        item->st = drv__submit_stmt(&item->sub);
    } else { /* an array, or waits for jobs: on its own, after the run */
        int ret = run_flush(disp, it, *k, errstr, errstr_size);
        run_clear(it, *k); /* item is it[*k]: not cleared */
        *k = 0;
        if (ret == 0) {
            ret = submit_alone(disp, &item->sub, &m->from, errstr,
                               errstr_size);
        }
        drv__submit_clear(&item->sub);
        return ret;
    }
    if (++*k < DRV_PG_PIPELINE_MAX) {
        return 0;
    }
    int ret = run_flush(disp, it, *k, errstr, errstr_size);
    run_clear(it, *k);
    *k = 0;
    return ret;
}

/* ---- one message at a time ---------------------------------------- */

static int apply_one(drv_disp_t *disp, const drv__msg_t *m, char *errstr,
                     size_t errstr_size)
{
    int ret = 0;
    switch (m->kind) {
    case DRV__MSG_STOP:
        ret = drv__control_apply(disp, &m->stop, errstr, errstr_size);
        break;
    case DRV__MSG_REPORT: /* FAILED: the retry strategy decides */
        ret = drv__report_failed(disp, &m->report, errstr, errstr_size);
        break;
    case DRV__MSG_HEARTBEAT:
        ret = drv__fleet_heartbeat(disp, &m->heartbeat, errstr, errstr_size);
        break;
    case DRV__MSG_SUBMIT: /* always in a run */
        break;
    }
    return ret == 0 ? drv__deps_drain(disp, errstr, errstr_size) : -1;
}

int drv__intake_apply(drv_disp_t *disp, const drv__msg_t *msgs, size_t n,
                      char *errstr, size_t errstr_size)
{
    run_item_t *it = drv_calloc(DRV_PG_PIPELINE_MAX, sizeof(*it));
    size_t k = 0;
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++) {
        if (pipelined(&msgs[i])) {
            ret = run_add(disp, it, &k, &msgs[i], errstr, errstr_size);
            continue;
        }
        ret = run_flush(disp, it, k, errstr, errstr_size);
        run_clear(it, k);
        k = 0;
        if (ret == 0) {
            ret = apply_one(disp, &msgs[i], errstr, errstr_size);
        }
    }
    if (ret == 0 && k > 0) {
        ret = run_flush(disp, it, k, errstr, errstr_size);
    }
    run_clear(it, k);
    free(it);
    if (ret != 0) {
        drv__followups_discard(disp); /* rolled back: nothing changed */
    }
    return ret;
}

/* ---- the batch's transaction --------------------------------------- */

static int store_offsets(drv_disp_t *disp, drv_kmsg_t **msgs, size_t n,
                         char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < n; i++) {
        /* only the last message of each partition in the batch matters */
        bool last = true;
        for (size_t j = i + 1; j < n && last; j++) {
            last = !(drv_kmsg_partition(msgs[j]) ==
                         drv_kmsg_partition(msgs[i]) &&
                     !strcmp(drv_kmsg_topic(msgs[j]), drv_kmsg_topic(msgs[i])));
        }
        if (!last) {
            continue;
        }
        char part[16], off[24];
        snprintf(part, sizeof(part), "%d", drv_kmsg_partition(msgs[i]));
        snprintf(off, sizeof(off), "%" PRId64, drv_kmsg_offset(msgs[i]) + 1);
        const char *p[] = {DRV_DISP_GROUP, drv_kmsg_topic(msgs[i]), part, off};
        if (drv_pg_exec(disp->pg,
                        "INSERT INTO kafka_offsets VALUES ($1, $2, $3::int, "
                        "$4::bigint) ON CONFLICT (consumer_group, topic, "
                        "partition) DO UPDATE SET next_offset = "
                        "GREATEST(kafka_offsets.next_offset, $4::bigint)",
                        4, p, errstr, errstr_size) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Decode the batch: the usable messages, in order, into out. */
static size_t decode_all(drv_disp_t *disp, drv_kmsg_t **msgs, size_t n,
                         drv__msg_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const void *val = drv_kmsg_value(msgs[i], &len);
        drv__origin_t from = {.source = drv_kmsg_topic(msgs[i]),
                              .key = drv_kmsg_key(msgs[i]),
                              .raw = val ? val : "",
                              .raw_len = val ? len : 0};
        if (drv__intake_decode(disp, &from, &out[k]) == 0) {
            k++;
        }
    }
    return k;
}

int drv__intake_batch(drv_disp_t *disp, drv_kmsg_t **msgs, size_t n,
                      char *errstr, size_t errstr_size)
{
    if (drv_pg_begin(disp->pg, errstr, errstr_size) != 0) {
        return -1;
    }
    drv_submission_cache_clear(disp->cache);
    drv__msg_t *decoded = drv_calloc(n ? n : 1, sizeof(*decoded));
    size_t k = decode_all(disp, msgs, n, decoded);
    int ret = drv__intake_apply(disp, decoded, k, errstr, errstr_size);
    for (size_t i = 0; i < k; i++) {
        drv__intake_msg_clear(&decoded[i]);
    }
    free(decoded);
    /* what the batch made runnable is released in the same transaction */
    if (ret != 0 || store_offsets(disp, msgs, n, errstr, errstr_size) != 0 ||
        drv__schedule_pass(disp, errstr, errstr_size) != 0 ||
        drv__outbox_persist(disp, errstr, errstr_size) != 0 ||
        drv_pg_commit(disp->pg, errstr, errstr_size) != 0) {
        drv_pg_rollback(disp->pg);
        drv__capacity_end(disp, false);
        drv__outbox_clear(disp);
        return -1;
    }
    drv__capacity_end(disp, true);
    return 0;
}
