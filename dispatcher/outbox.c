/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The transactional outbox (outbox.h). Payloads go to PostgreSQL as bytea
 * in its text form (libpq encodes and decodes it); delivery reports carry
 * each row's id back, and rows are deleted by ranges of ids.
 */
#include "outbox.h"

#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover/messages.h"
#include "drover/util.h"

void drv__outbox_emit(drv_disp_t *disp, const char *topic, const char *key,
                      void *buf, size_t len)
{
    if (disp->out_cnt == disp->out_cap) {
        disp->out_cap = disp->out_cap ? disp->out_cap * 2 : 64;
        disp->out = drv_realloc(disp->out, disp->out_cap * sizeof(*disp->out));
    }
    drv__out_t *o = &disp->out[disp->out_cnt++];
    memset(o, 0, sizeof(*o));
    o->topic = drv_strdup(topic);
    o->key = key ? drv_strdup(key) : NULL;
    o->partition = -1;
    o->buf = buf;
    o->len = len;
}

int drv__outbox_emit_json(drv_disp_t *disp, const char *schema,
                          const char *topic, const char *key, json_t *obj,
                          char *errstr, size_t errstr_size)
{
    return drv__outbox_emit_json_to(disp, schema, topic, -1, key, obj, errstr,
                                    errstr_size);
}

int drv__outbox_emit_json_to(drv_disp_t *disp, const char *schema,
                             const char *topic, int32_t partition,
                             const char *key, json_t *obj, char *errstr,
                             size_t errstr_size)
{
    void *buf;
    size_t len;
    if (drv_codec_encode(disp->codec, schema, obj, &buf, &len, errstr,
                         errstr_size) != 0) {
        json_t *f = json_pack("{s:s?}", "job_id", key);
        drv_log(disp->log, DRV_LOG_ERROR, "dispatcher.encode_failed", f,
                "could not encode %s for %s: %s", schema, topic, errstr);
        json_decref(f);
        return -1;
    }
    drv__outbox_emit(disp, topic, key, buf, len);
    disp->out[disp->out_cnt - 1].partition = partition;
    return 0;
}

void drv__outbox_dlq(drv_disp_t *disp, const char *source, const char *key,
                     const void *value, size_t len, const char *reason)
{
    /* the key and the reason (which may quote the record) are a sender's
     * bytes: kept as valid UTF-8, bounded, since the outbox row is JSON */
    char k[DRV_JOB_ID_MAX * 2 + 1], why[DRV_REASON_MAX + 1];
    if (key) {
        drv_utf8_copy(k, sizeof(k), key, strlen(key));
    }
    drv_utf8_copy(why, sizeof(why), reason, strlen(reason));
    void *copy = drv_malloc(len ? len : 1);
    memcpy(copy, value, len);
    drv__outbox_emit(disp, DRV_TOPIC_DLQ, key ? k : NULL, copy, len);
    drv__out_t *o = &disp->out[disp->out_cnt - 1];
    o->dlq_reason = drv_strdup(why);
    o->dlq_source = drv_strdup(source);
    json_t *f = json_pack("{s:s,s:s?}", "topic", source, "job_id",
                          key ? k : NULL);
    drv_log(disp->log, DRV_LOG_WARN, "dispatcher.dlq", f,
            "message sent to " DRV_TOPIC_DLQ ": %s", why);
    json_decref(f);
}

void drv__outbox_clear(drv_disp_t *disp)
{
    free(disp->out_ids);
    disp->out_ids = NULL;
    for (size_t i = 0; i < disp->out_cnt; i++) {
        drv__out_t *o = &disp->out[i];
        free(o->topic);
        free(o->key);
        free(o->buf);
        free(o->dlq_reason);
        free(o->dlq_source);
    }
    disp->out_cnt = 0;
}

void drv__outbox_free(drv_disp_t *disp)
{
    drv__outbox_clear(disp);
    free(disp->out);
    disp->out = NULL;
    disp->out_cap = 0;
    free(disp->unconfirmed);
    disp->unconfirmed = NULL;
    disp->unconfirmed_cnt = disp->unconfirmed_cap = 0;
}

/* One queued message as a JSON row for the INSERT (the payload as
 * bytea's text form, libpq's encoding). */
static json_t *out_row(drv_disp_t *disp, const drv__out_t *o)
{
    char *payload = drv_pg_bytea_text(disp->pg, o->buf, o->len);
    json_t *h = o->dlq_reason ? json_pack("{s:s,s:s}", "drover.error",
                                          o->dlq_reason, "drover.source.topic",
                                          o->dlq_source)
                              : json_null();
    json_t *row = json_pack("{s:s,s:s?,s:s,s:o}", "t", o->topic, "k", o->key,
                            "p", payload ? payload : "", "h", h);
    if (o->partition >= 0) {
        json_object_set_new(row, "n", json_integer(o->partition));
    }
    free(payload);
    return row;
}

int drv__outbox_persist(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    if (disp->out_cnt == 0) {
        return 0;
    }
    json_t *rows = json_array();
    for (size_t i = 0; i < disp->out_cnt; i++) {
        json_array_append_new(rows, out_row(disp, &disp->out[i]));
    }
    char *text = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    const char *p[] = {text};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "INSERT INTO outbox (topic, key, payload, headers, partition) "
        "SELECT x->>'t', x->>'k', (x->>'p')::bytea, x->'h', (x->>'n')::int "
        "FROM jsonb_array_elements("
        "$1::jsonb) WITH ORDINALITY AS a(x, n) ORDER BY n RETURNING id",
        1, p, errstr, errstr_size);
    free(text);
    if (!r) {
        return -1;
    }
    free(disp->out_ids);
    disp->out_ids = drv_calloc(disp->out_cnt, sizeof(*disp->out_ids));
    for (int i = 0; i < drv_pg_res_rows(r) && (size_t)i < disp->out_cnt;
         i++) {
        disp->out_ids[i] = drv_pg_res_int(r, i, 0, 0);
    }
    drv_pg_res_free(r);
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The ids as ranges: two PostgreSQL array literals of their first and
 * last ids ("{1,7}" and "{4,9}" for 1-4 and 7-9). Sorts v. */
static void id_ranges(int64_t *v, size_t n, char **lo_out, char **hi_out)
{
    qsort(v, n, sizeof(*v), cmp_id);
    size_t cap = n * 21 + 3;
    char *lo = drv_malloc(cap), *hi = drv_malloc(cap);
    size_t lo_len = 0, hi_len = 0;
    lo[lo_len++] = '{';
    hi[hi_len++] = '{';
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && v[j + 1] <= v[j] + 1) {
            j++;
        }
        lo_len += (size_t)snprintf(lo + lo_len, cap - lo_len, "%s%" PRId64,
                                   lo_len > 1 ? "," : "", v[i]);
        hi_len += (size_t)snprintf(hi + hi_len, cap - hi_len, "%s%" PRId64,
                                   hi_len > 1 ? "," : "", v[j]);
        i = j + 1;
    }
    snprintf(lo + lo_len, cap - lo_len, "}");
    snprintf(hi + hi_len, cap - hi_len, "}");
    *lo_out = lo;
    *hi_out = hi;
}

static void take_delivered(drv_disp_t *disp)
{
    int64_t *ids;
    size_t n = drv_kprod_take_delivered(disp->kprod, &ids);
    if (disp->unconfirmed_cnt + n > disp->unconfirmed_cap) {
        disp->unconfirmed_cap = (disp->unconfirmed_cnt + n) * 2;
        disp->unconfirmed = drv_realloc(disp->unconfirmed,
                                        disp->unconfirmed_cap *
                                            sizeof(*disp->unconfirmed));
    }
    if (n > 0) {
        memcpy(disp->unconfirmed + disp->unconfirmed_cnt, ids,
               n * sizeof(*ids));
    }
    disp->unconfirmed_cnt += n;
    free(ids);
}

void drv__outbox_confirm(drv_disp_t *disp, bool wait)
{
    char e[DRV_ERRSTR_SIZE];
    if (!disp->kprod) {
        return;
    }
    if (wait) {
        drv_kprod_flush(disp->kprod, 5000, e, sizeof(e));
    } else {
        drv_kprod_poll(disp->kprod);
    }
    take_delivered(disp);
    if (disp->unconfirmed_cnt == 0) {
        return;
    }
    char *lo, *hi;
    id_ranges(disp->unconfirmed, disp->unconfirmed_cnt, &lo, &hi);
    const char *p[] = {lo, hi};
    /* The outbox is mostly empty when autovacuum looks, so PostgreSQL may
     * take a table of 100,000 rows for one of none and scan all of it once
     * per id (12 s per DELETE: a fan-out of 10,000 jobs slowed from 8 to
     * 40 s). By ranges of ids, through the primary key whatever the
     * estimates say: one round trip. */
    drv_pg_stmt_t st[] = {
        {"BEGIN", 0, NULL},
        {"SET LOCAL enable_seqscan = off", 0, NULL},
        {"DELETE FROM outbox o USING unnest($1::bigint[], $2::bigint[]) "
         "r(lo, hi) WHERE o.id BETWEEN r.lo AND r.hi",
         2, p},
        {"COMMIT", 0, NULL}};
    drv_pg_res_t *res[4];
    if (drv_pg_pipeline(disp->pg, 4, st, res, e, sizeof(e)) == 0) {
        disp->unconfirmed_cnt = 0; /* else: again next time */
        for (int i = 0; i < 4; i++) {
            drv_pg_res_free(res[i]);
        }
    } else {
        drv_pg_rollback(disp->pg);
    }
    free(lo);
    free(hi);
}

/* Columns of the recovery SELECT. */
enum { RC_ID, RC_TOPIC, RC_KEY, RC_PAYLOAD, RC_ERROR, RC_SOURCE,
       RC_PARTITION };

/*
 * Whether a run request left in the outbox is stale: its attempt is no
 * longer the job's current released one (the job finished, or moved on to
 * another attempt, while the row waited: its dispatcher lost PostgreSQL
 * between publishing and deleting it). Sent again, a worker would claim
 * it, be fenced and told to stop, but a short job would run once more
 * before the stop arrived (the fault suite saw a job's dependency run a
 * second time after its dependent had started).
 */
static bool stale_run(drv_disp_t *disp, const char *topic, const void *buf,
                      size_t len)
{
    if (!drv_str_has_prefix(topic, DRV_TOPIC_RUN_PREFIX)) {
        return false;
    }
    drv_msg_t m;
    char e[DRV_ERRSTR_SIZE], att[16];
    if (drv_msg_decode(disp->codec, buf, len, &m, e, sizeof(e)) != DRV_OK) {
        return false; /* sent as it is: the worker parks what it cannot read */
    }
    bool stale = false;
    if (m.type == DRV_MSG_RUN_JOB) {
        snprintf(att, sizeof(att), "%d", m.u.run.attempt);
        const char *p[] = {m.u.run.job_id, att};
        drv_pg_res_t *r = drv_pg_query(
            disp->pg,
            "SELECT 1 FROM jobs WHERE job_id = $1 AND attempts = $2::int AND "
            "released AND status NOT IN " DRV__TERMINAL,
            2, p, e, sizeof(e));
        stale = r && drv_pg_res_rows(r) == 0;
        drv_pg_res_free(r);
        if (stale) {
            json_t *f = drv_log_job(m.u.run.job_id);
            drv_log(disp->log, DRV_LOG_INFO, "dispatcher.outbox_stale", f,
                    "dropped the run request of attempt %d left in the "
                    "outbox: no longer the job's current attempt",
                    m.u.run.attempt);
            json_decref(f);
        }
    }
    drv_msg_clear(&m);
    return stale;
}

int drv__outbox_recover(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    /* the payload comes back as bytea's hex text, "\x0a1b..." */
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT id, topic, key, payload, headers->>'drover.error', "
        "headers->>'drover.source.topic', COALESCE(partition, -1) FROM "
        "outbox ORDER BY id",
        0, NULL, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    for (int i = 0; i < drv_pg_res_rows(r); i++) {
        size_t len;
        unsigned char *buf = drv_pg_res_bytea(r, i, RC_PAYLOAD, &len);
        if (stale_run(disp, drv_pg_res_get(r, i, RC_TOPIC), buf ? buf : NULL,
                      buf ? len : 0)) {
            const char *p[] = {drv_pg_res_get(r, i, RC_ID)};
            if (drv_pg_exec(disp->pg,
                            "DELETE FROM outbox WHERE id = $1::bigint", 1, p,
                            errstr, errstr_size) != 0) {
                free(buf);
                drv_pg_res_free(r);
                return -1;
            }
            free(buf);
            continue;
        }
        drv_kheader_t h[] = {{"drover.error", drv_pg_res_get(r, i, RC_ERROR)},
                             {"drover.source.topic",
                              drv_pg_res_get(r, i, RC_SOURCE)}};
        if (!disp->kprod) {
            free(buf);
            continue; /* offline (the integration suite): stays */
        }
        /* not sent (refused locally): stays for the next start */
        (void)drv_kprod_send_tracked(
            disp->kprod, drv_pg_res_get(r, i, RC_TOPIC),
            (int32_t)drv_pg_res_int(r, i, RC_PARTITION, -1),
            drv_pg_res_get(r, i, RC_KEY), buf ? (void *)buf : "",
            buf ? len : 0, h, h[0].value ? 2 : 0,
            drv_pg_res_int(r, i, RC_ID, 0), errstr, errstr_size);
        free(buf);
    }
    if (drv_pg_res_rows(r) > 0) {
        drv_log(disp->log, DRV_LOG_INFO, "dispatcher.outbox_recovered", NULL,
                "re-published %d message(s) left in the outbox",
                drv_pg_res_rows(r));
    }
    drv_pg_res_free(r);
    drv__outbox_confirm(disp, true);
    return 0;
}

void drv__outbox_publish(drv_disp_t *disp)
{
    char e[DRV_ERRSTR_SIZE];
    bool big = disp->out_cnt > 1000;
    for (size_t i = 0; disp->kprod && i < disp->out_cnt; i++) {
        drv__out_t *o = &disp->out[i];
        drv_kheader_t h[] = {{"drover.error", o->dlq_reason},
                             {"drover.source.topic", o->dlq_source}};
        int64_t id = disp->out_ids ? disp->out_ids[i] : 0;
        if (drv_kprod_send_tracked(disp->kprod, o->topic, o->partition,
                                   o->key, o->buf,
                                   o->len, h, o->dlq_reason ? 2 : 0, id, e,
                                   sizeof(e)) != 0) {
            /* refused locally: its outbox row stays for the next start */
            drv_log(disp->log, DRV_LOG_ERROR, "kafka.produce_failed", NULL,
                    "%s (kept in the outbox)", e);
        }
    }
    drv__outbox_clear(disp);
    if (disp->kprod) {
        drv_kprod_poll(disp->kprod);
    }
#ifdef __GLIBC__
    if (big) { /* a 10,000-child array's events: give the memory back */
        malloc_trim(0);
    }
#endif
}
