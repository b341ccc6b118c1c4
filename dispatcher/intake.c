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

/* Whether a message of type t may come on topic `source`: requests on
 * submit topics, workers' reports and heartbeats on drover.status. */
static bool belongs(drv_msg_type_t t, const char *source)
{
    switch (t) {
    case DRV_MSG_SUBMIT_JOB:
    case DRV_MSG_CANCEL_JOB:
    case DRV_MSG_TERMINATE_JOB:
        return !strncmp(source, DRV_TOPIC_SUBMIT_PREFIX,
                        strlen(DRV_TOPIC_SUBMIT_PREFIX));
    case DRV_MSG_JOB_STATUS:
    case DRV_MSG_HEARTBEAT:
        return !strcmp(source, DRV_TOPIC_STATUS);
    default:
        return false;
    }
}

/* A worker's record speaks only for the worker that signed it: the
 * signature is the one of the origin it names, the record names that
 * worker, and a heartbeat its compute environment (a report's compute
 * environment is checked against the job's by the report statements). */
static bool from_signer(drv_disp_t *disp, const drv__origin_t *from,
                        drv__msg_t *m, char *why, size_t why_size)
{
    char worker[256], e[DRV_ERRSTR_SIZE];
    if (!drv_origin_verify(&disp->master, from->signer, from->sig, from->raw,
                           from->raw_len, m->origin_ce,
                           sizeof(m->origin_ce), worker, sizeof(worker), e,
                           sizeof(e))) {
        drv_errstr_set(why, why_size, "refused %s: %s",
                       drv_msg_type_name(m->msg.type), e);
        return false;
    }
    bool hb = m->msg.type == DRV_MSG_HEARTBEAT;
    const char *named = hb ? m->msg.u.heartbeat.worker : m->msg.u.status.worker;
    if (strcmp(named, worker) != 0 ||
        (hb && strcmp(m->msg.u.heartbeat.compute_environment,
                      m->origin_ce) != 0)) {
        drv_errstr_set(why, why_size,
                       "refused %s: signed by worker %s of compute "
                       "environment %s, it speaks for another",
                       drv_msg_type_name(m->msg.type), worker, m->origin_ce);
        return false;
    }
    if (!hb) {
        m->msg.u.status.origin_ce = m->origin_ce;
    }
    return true;
}

int drv__intake_decode(drv_disp_t *disp, const drv__origin_t *from,
                       drv__msg_t *m)
{
    char why[DRV_ERRSTR_SIZE];
    m->from = *from;
    if (drv_msg_decode(disp->codec, from->raw, from->raw_len, &m->msg, why,
                       sizeof(why)) == DRV_OK &&
        belongs(m->msg.type, from->source)) {
        bool worker_record = m->msg.type == DRV_MSG_JOB_STATUS ||
                             m->msg.type == DRV_MSG_HEARTBEAT;
        if (!disp->check_origins || !worker_record ||
            from_signer(disp, from, m, why, sizeof(why))) {
            return 0;
        }
        drv_msg_clear(&m->msg);
    } else if (m->msg.obj) {
        snprintf(why, sizeof(why), "a %s message does not belong on %s",
                 drv_msg_type_name(m->msg.type), from->source);
        drv_msg_clear(&m->msg);
    }
    drv__outbox_dlq(disp, from->source, from->key, from->raw, from->raw_len,
                    why);
    return -1;
}

void drv__intake_msg_clear(drv__msg_t *m)
{
    drv_msg_clear(&m->msg);
}

/* ---- runs ----------------------------------------------------------- */

/*
 * Consecutive simple submissions and reports form a run, applied
 * set-wise: one INSERT for its submissions and one statement per round of
 * its routine reports. A job's reports from one worker process fold into
 * one row change in round 0 (drv__report_folds); otherwise its k-th
 * report goes in round k (a job's reports apply in their order; different
 * jobs' do not depend on each other, nor on the run's submissions, whose
 * jobs no worker has yet). The statements go in one round trip. The
 * run's FAILED reports come after all of them, two statements for all
 * (drv__reports_failed): a FAILED report ends its attempt, so a report of
 * the same job after it ends the run first, and it goes in the next.
 */
#define RUN_MAX 1024

/* One message of a run. */
typedef struct run_item {
    const drv__msg_t *msg;
    drv__submission_t sub; /* a submission's, prepared */
} run_item_t;

static bool pipelined(const drv__msg_t *m)
{
    return m->msg.type == DRV_MSG_SUBMIT_JOB ||
           m->msg.type == DRV_MSG_JOB_STATUS;
}

static bool is_failed(const run_item_t *it)
{
    return it->msg->msg.type == DRV_MSG_JOB_STATUS &&
           !drv__report_is_routine(&it->msg->msg.u.status);
}

/* A report's job id and place in the run, to group a job's reports. */
typedef struct rep_at {
    const drv__report_t *rep;
    size_t at;
} rep_at_t;

static int rep_at_cmp(const void *a, const void *b)
{
    const rep_at_t *x = a, *y = b;
    int c = strcmp(x->rep->job_id, y->rep->job_id);
    return c ? c : x->at < y->at ? -1 : x->at > y->at;
}

/* A fold, its round and the place of its first report. */
typedef struct fold_at {
    drv__report_fold_t f;
    size_t at, round;
} fold_at_t;

static int fold_round_cmp(const void *a, const void *b)
{
    const fold_at_t *x = a, *y = b;
    return x->round != y->round ? (x->round < y->round ? -1 : 1)
           : x->at < y->at      ? -1
                                : x->at > y->at;
}

/* The run's statements: [0] its submissions (if any), then one per round
 * of its reports. */
typedef struct run_stmts {
    const drv__submission_t **subs;
    const drv__origin_t **sub_from; /* where each came from */
    size_t nsubs;
    drv__report_fold_t *folds; /* by round, each round's in place order */
    size_t *round_at;          /* where round k starts in folds (k+1 ends) */
    size_t nrounds;
    drv__rows_t *rows; /* each statement's parameters */
    drv_pg_stmt_t *st;
    size_t nst;
} run_stmts_t;

/* The reports ra[0..m-1] of one job, in order, into folds at fa: one if
 * each folds onto the one before, else one each. How many rounds they
 * take. */
static size_t job_folds(const rep_at_t *ra, size_t m, fold_at_t *fa,
                        size_t *nf)
{
    bool chain = m <= 3; /* STARTING, RUNNING, SUCCEEDED at most */
    for (size_t t = 1; chain && t < m; t++) {
        chain = drv__report_folds(ra[t - 1].rep, ra[t].rep);
    }
    if (chain) {
        fold_at_t *x = &fa[(*nf)++];
        *x = (fold_at_t){.f = {.last = ra[m - 1].rep, .nvia = m - 1},
                         .at = ra[0].at};
        for (size_t t = 0; t + 1 < m; t++) {
            x->f.via[t] = ra[t].rep;
        }
        return 1;
    }
    for (size_t t = 0; t < m; t++) {
        fa[(*nf)++] =
            (fold_at_t){.f = {.last = ra[t].rep}, .at = ra[t].at, .round = t};
    }
    return m;
}

/* The run's reports into x->folds by round, then place. */
static void rounds_of(run_stmts_t *x, const run_item_t *it, size_t n)
{
    rep_at_t *ra = drv_calloc(n ? n : 1, sizeof(*ra));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (it[i].msg->msg.type == DRV_MSG_JOB_STATUS && !is_failed(&it[i])) {
            ra[k++] = (rep_at_t){&it[i].msg->msg.u.status, i};
        }
    }
    qsort(ra, k, sizeof(*ra), rep_at_cmp);
    fold_at_t *fa = drv_calloc(k ? k : 1, sizeof(*fa));
    size_t nf = 0;
    x->nrounds = 0;
    for (size_t i = 0, j; i < k; i = j) {
        for (j = i + 1; j < k && !strcmp(ra[j].rep->job_id, ra[i].rep->job_id);
             j++) {
        }
        size_t r = job_folds(ra + i, j - i, fa, &nf);
        x->nrounds = r > x->nrounds ? r : x->nrounds;
    }
    free(ra);
    qsort(fa, nf, sizeof(*fa), fold_round_cmp);
    x->folds = drv_calloc(nf ? nf : 1, sizeof(*x->folds));
    x->round_at = drv_calloc(x->nrounds + 1, sizeof(*x->round_at));
    for (size_t i = 0; i < nf; i++) {
        x->folds[i] = fa[i].f;
        x->round_at[fa[i].round + 1] = i + 1;
    }
    free(fa);
}

static void stmts_build(run_stmts_t *x, const run_item_t *it, size_t n)
{
    memset(x, 0, sizeof(*x));
    x->subs = drv_calloc(n ? n : 1, sizeof(*x->subs));
    x->sub_from = drv_calloc(n ? n : 1, sizeof(*x->sub_from));
    for (size_t i = 0; i < n; i++) {
        if (it[i].msg->msg.type == DRV_MSG_SUBMIT_JOB) {
            x->sub_from[x->nsubs] = &it[i].msg->from;
            x->subs[x->nsubs++] = &it[i].sub;
        }
    }
    rounds_of(x, it, n);
    x->rows = drv_calloc(x->nrounds + 1, sizeof(*x->rows));
    x->st = drv_calloc(x->nrounds + 1, sizeof(*x->st));
    if (x->nsubs > 0) {
        x->st[x->nst] = drv__submits_stmt(&x->rows[x->nst], x->subs,
                                          x->nsubs);
        x->nst++;
    }
    for (size_t k = 0; k < x->nrounds; k++, x->nst++) {
        size_t from = x->round_at[k];
        x->st[x->nst] = drv__reports_stmt(&x->rows[x->nst], x->folds + from,
                                          x->round_at[k + 1] - from);
    }
}

static void stmts_free(run_stmts_t *x)
{
    for (size_t i = 0; i < x->nst; i++) {
        drv__rows_clear(&x->rows[i]);
    }
    free(x->subs);
    free(x->sub_from);
    free(x->folds);
    free(x->round_at);
    free(x->rows);
    free(x->st);
}

/* Act on result `res` of statement `s` of the run (taken: which
 * submissions found their job id taken). */
static void stmt_done(drv_disp_t *disp, const run_stmts_t *x, size_t s,
                      const drv_pg_res_t *res, bool *taken)
{
    if (x->nsubs > 0 && s == 0) {
        drv__submits_recorded(disp, x->subs, x->nsubs, res, taken);
        return;
    }
    size_t k = s - (x->nsubs > 0);
    size_t from = x->round_at[k], cnt = x->round_at[k + 1] - from;
    for (size_t i = 0; i < cnt && (int)i < drv_pg_res_rows(res); i++) {
        drv__report_done(disp, &x->folds[from + i], res, (int)i);
    }
}

/*
 * Send the run's statements in one round trip (a run of more rounds than
 * a pipeline takes: several), then act on their results in order. A job
 * id submitted again needs more statements: after the run, in order, then
 * what the run's changes set off (drv__deps_drain).
 */
static int run_flush(drv_disp_t *disp, run_item_t *it, size_t n,
                     char *errstr, size_t errstr_size)
{
    if (n == 0) {
        return 0;
    }
    run_stmts_t x;
    stmts_build(&x, it, n);
    bool *taken = drv_calloc(x.nsubs ? x.nsubs : 1, sizeof(*taken));
    int ret = 0;
    for (size_t s0 = 0; s0 < x.nst && ret == 0; s0 += DRV_PG_PIPELINE_MAX) {
        drv_pg_res_t *res[DRV_PG_PIPELINE_MAX];
        size_t cnt = x.nst - s0 < DRV_PG_PIPELINE_MAX ? x.nst - s0
                                                     : DRV_PG_PIPELINE_MAX;
        if (drv_pg_pipeline(disp->pg, (int)cnt, x.st + s0, res, errstr,
                            errstr_size) != 0) {
            ret = -1;
            break;
        }
        for (size_t i = 0; i < cnt; i++) {
            stmt_done(disp, &x, s0 + i, res[i], taken);
            drv_pg_res_free(res[i]);
        }
    }
    for (size_t i = 0; i < x.nsubs && ret == 0; i++) {
        if (taken[i]) {
            ret = drv__submit_again(disp, x.subs[i], x.sub_from[i], errstr,
                                    errstr_size);
        }
    }
    free(taken);
    stmts_free(&x);
    const drv__report_t **failed = drv_calloc(n, sizeof(*failed));
    size_t nf = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_failed(&it[i])) {
            failed[nf++] = &it[i].msg->msg.u.status;
        }
    }
    if (ret == 0) {
        ret = drv__reports_failed(disp, failed, nf, errstr, errstr_size);
    }
    free(failed);
    return ret == 0 ? drv__deps_drain(disp, errstr, errstr_size) : -1;
}

/* Whether message m is a report of a job whose FAILED is in the run. */
static bool after_failed(const run_item_t *it, size_t n, const drv__msg_t *m)
{
    if (m->msg.type != DRV_MSG_JOB_STATUS) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (is_failed(&it[i]) &&
            !strcmp(it[i].msg->msg.u.status.job_id, m->msg.u.status.job_id)) {
            return true;
        }
    }
    return false;
}

static void run_clear(run_item_t *it, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (it[i].msg->msg.type == DRV_MSG_SUBMIT_JOB) {
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
    if (after_failed(it, *k, m)) {
        int ret = run_flush(disp, it, *k, errstr, errstr_size);
        run_clear(it, *k);
        *k = 0;
        if (ret != 0) {
            return ret;
        }
    }
    run_item_t *item = &it[*k];
    item->msg = m;
    if (m->msg.type == DRV_MSG_SUBMIT_JOB) {
        if (drv__submit_prepare(disp, m->msg.u.submit, m->from.source,
                                &item->sub) < 0) {
            drv_errstr_set(errstr, errstr_size, "%s", item->sub.reason);
            drv__submit_clear(&item->sub);
            return -1;
        }
        if (!drv__submit_is_simple(&item->sub)) {
            /* an array, or waits for jobs: on its own, after the run */
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
    }
    if (++*k < RUN_MAX) {
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
    const drv_msg_t *msg = &m->msg;
    int ret = 0;
    switch (msg->type) {
    case DRV_MSG_CANCEL_JOB:
    case DRV_MSG_TERMINATE_JOB:
        ret = drv__control_apply(disp, &msg->u.stop,
                                 msg->type == DRV_MSG_TERMINATE_JOB, errstr,
                                 errstr_size);
        break;
    case DRV_MSG_HEARTBEAT:
        ret = drv__fleet_heartbeat(disp, &msg->u.heartbeat, errstr,
                                   errstr_size);
        break;
    default: /* submissions go in runs; nothing else is routed here */
        break;
    }
    return ret == 0 ? drv__deps_drain(disp, errstr, errstr_size) : -1;
}

int drv__intake_apply(drv_disp_t *disp, const drv__msg_t *msgs, size_t n,
                      char *errstr, size_t errstr_size)
{
    run_item_t *it = drv_calloc(RUN_MAX, sizeof(*it));
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
                              .signer = drv_kmsg_header(msgs[i],
                                                        DRV_ORIGIN_HEADER),
                              .sig = drv_kmsg_header(msgs[i],
                                                     DRV_ORIGIN_SIG_HEADER),
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

/* A submission that cannot be recorded is still a job the submitter was
 * told about: a FAILED row saying why, without the request. */
#define PARKED_SUBMISSION_SQL                                                  \
    "WITH gone AS (DELETE FROM job_receipts WHERE job_id = $1 RETURNING "    \
    "seq) INSERT INTO jobs (job_id, job_name, queue, status, status_reason, " \
    "created_at, updated_at, stopped_at, request, seq) VALUES ($1, $2, $3, "  \
    "'FAILED', $4, $5::bigint, $5::bigint, $5::bigint, '{}', COALESCE(("     \
    "SELECT seq FROM gone), nextval('jobs_seq_seq'))) ON CONFLICT "           \
    "(job_id) DO NOTHING RETURNING " DRV__TRANSITION_RETURNING(               \
        "'SUBMITTED'", "false", "NULL::json")

static int park_once(drv_disp_t *disp, drv_kmsg_t *msg, const char *why,
                     bool record_job, char *errstr, size_t errstr_size)
{
    size_t len;
    const void *val = drv_kmsg_value(msg, &len);
    drv__origin_t from = {.source = drv_kmsg_topic(msg),
                          .key = drv_kmsg_key(msg),
                          .raw = val ? val : "",
                          .raw_len = val ? len : 0};
    char reason[DRV_ERRSTR_SIZE + 64];
    snprintf(reason, sizeof(reason), "could not be applied: %s", why);
    if (drv_pg_begin(disp->pg, errstr, errstr_size) != 0) {
        return -1;
    }
    drv__outbox_dlq(disp, from.source, from.key, from.raw, from.raw_len,
                    reason);
    drv_msg_t m;
    char e[DRV_ERRSTR_SIZE];
    int ret = 0;
    if (record_job &&
        drv_msg_decode(disp->codec, from.raw, from.raw_len, &m, e,
                       sizeof(e)) == DRV_OK) {
        if (m.type == DRV_MSG_SUBMIT_JOB) {
            json_t *sj = m.u.submit;
            const char *id = json_string_value(json_object_get(sj, "jobId"));
            const char *name = json_string_value(json_object_get(sj, "jobName"));
            const char *queue =
                json_string_value(json_object_get(sj, "jobQueue"));
            char now[24], sr[DRV_REASON_MAX + 1];
            snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
            char text[DRV_ERRSTR_SIZE + 64];
            int tl = snprintf(text, sizeof(text),
                              "The submission could not be recorded: %s", why);
            drv_utf8_copy(sr, sizeof(sr), text,
                          tl < 0 ? 0
                                 : (size_t)tl < sizeof(text) ? (size_t)tl
                                                             : sizeof(text) - 1);
            const char *p[] = {id, name ? name : "", queue ? queue : "", sr,
                               now};
            drv_pg_res_t *r = id ? drv_pg_query(disp->pg,
                                                PARKED_SUBMISSION_SQL, 5, p,
                                                errstr, errstr_size)
                                 : NULL;
            if (id && !r) {
                ret = -1;
            } else if (r) {
                if (drv_pg_res_rows(r) == 1) {
                    drv__transition_done(disp, r, 0, 0);
                }
                drv_pg_res_free(r);
            }
        }
        drv_msg_clear(&m);
    }
    if (ret != 0 || store_offsets(disp, &msg, 1, errstr, errstr_size) != 0 ||
        drv__outbox_persist(disp, errstr, errstr_size) != 0 ||
        drv_pg_commit(disp->pg, errstr, errstr_size) != 0) {
        drv_pg_rollback(disp->pg);
        drv__outbox_clear(disp);
        drv__capacity_end(disp, false);
        return -1;
    }
    drv__capacity_end(disp, true);
    return 0;
}

int drv__intake_park(drv_disp_t *disp, drv_kmsg_t *msg, const char *why,
                     char *errstr, size_t errstr_size)
{
    if (park_once(disp, msg, why, true, errstr, errstr_size) == 0) {
        return 0;
    }
    if (drv_pg_last_err(disp->pg) == DRV_ERR_TRANSIENT) {
        return -1;
    }
    return park_once(disp, msg, why, false, errstr, errstr_size);
}
