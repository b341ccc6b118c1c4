/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dispatcher's loop: consume a batch, apply it and its offsets in one
 * transaction, schedule, then publish what the transaction produced. Kafka
 * offsets live in PostgreSQL (kafka_offsets); on assignment the consumer
 * starts each partition where the last committed transaction left it, so
 * every message's effect is applied exactly once.
 */
#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <unistd.h>

#include "dispatcher_int.h"
#include "drover/util.h"

#define TOPIC_SYNC_MS 10000
#define SWEEP_MS 2000
/* pg_try_advisory_lock key held by the active dispatcher ("drover") */
#define LEADER_LOCK_KEY "110386672592242"
#define STANDBY_POLL_MS 1000
#define METRICS_MS 5000

static int64_t offset_cb(const char *topic, int32_t partition, void *opaque)
{
    drv_disp_t *disp = opaque;
    char part[16], e[DRV_ERRSTR_SIZE];
    snprintf(part, sizeof(part), "%d", partition);
    const char *p[] = {DRV_DISP_GROUP, topic, part};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT next_offset FROM kafka_offsets WHERE consumer_group = $1 "
        "AND topic = $2 AND partition = $3::int",
        3, p, e, sizeof(e));
    int64_t off = -2; /* RD_KAFKA_OFFSET_BEGINNING: a new partition */
    if (!r) {
        drv_log(disp->log, DRV_LOG_ERROR, "dispatcher.offset_lookup", NULL,
                "could not read stored offset of %s [%d]: %s", topic,
                partition, e);
    } else if (drv_pg_res_rows(r) == 1) {
        off = drv_pg_res_int(r, 0, 0, -2);
    }
    drv_pg_res_free(r);
    return off;
}

void drv__disp_emit(drv_disp_t *disp, const char *topic, const char *key,
                    void *buf, size_t len)
{
    if (disp->out_cnt == disp->out_cap) {
        disp->out_cap = disp->out_cap ? disp->out_cap * 2 : 64;
        drv__out_t *n = realloc(disp->out, disp->out_cap * sizeof(*n));
        if (!n) {
            abort();
        }
        disp->out = n;
    }
    drv__out_t *o = &disp->out[disp->out_cnt++];
    memset(o, 0, sizeof(*o));
    o->topic = drv_strdup(topic);
    o->key = key ? drv_strdup(key) : NULL;
    o->buf = buf;
    o->len = len;
}

void drv__disp_dlq(drv_disp_t *disp, const char *source, const char *key,
                   const void *value, size_t len, const char *reason)
{
    void *copy = drv_malloc(len);
    memcpy(copy, value, len);
    drv__disp_emit(disp, DRV_TOPIC_DLQ, key, copy, len);
    drv__out_t *o = &disp->out[disp->out_cnt - 1];
    o->dlq_reason = drv_strdup(reason);
    o->dlq_source = drv_strdup(source);
    json_t *f = json_pack("{s:s,s:s?}", "topic", source, "job_id", key);
    drv_log(disp->log, DRV_LOG_WARN, "dispatcher.dlq", f,
            "message sent to " DRV_TOPIC_DLQ ": %s", reason);
    json_decref(f);
}

static void out_clear(drv_disp_t *disp)
{
    json_decref(disp->out_ids);
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

/* Write the transaction's messages to the outbox (inside it). */
static int out_persist(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    if (disp->out_cnt == 0) {
        return 0;
    }
    json_t *rows = json_array();
    for (size_t i = 0; i < disp->out_cnt; i++) {
        drv__out_t *o = &disp->out[i];
        static const char digits[] = "0123456789abcdef";
        char *hex = drv_malloc(o->len * 2 + 1);
        for (size_t k = 0; k < o->len; k++) {
            unsigned char b = ((unsigned char *)o->buf)[k];
            hex[2 * k] = digits[b >> 4];
            hex[2 * k + 1] = digits[b & 15];
        }
        hex[2 * o->len] = '\0';
        json_t *h = o->dlq_reason ? json_pack("{s:s,s:s}", "drover.error",
                                              o->dlq_reason,
                                              "drover.source.topic",
                                              o->dlq_source)
                                  : json_null();
        json_array_append_new(rows, json_pack("{s:s,s:s?,s:s,s:o}", "t",
                                              o->topic, "k", o->key, "p", hex,
                                              "h", h));
        free(hex);
    }
    char *text = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    const char *p[] = {text};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "INSERT INTO outbox (topic, key, payload, headers) SELECT x->>'t', "
        "x->>'k', decode(x->>'p', 'hex'), x->'h' FROM jsonb_array_elements("
        "$1::jsonb) WITH ORDINALITY AS a(x, n) ORDER BY n RETURNING id",
        1, p, errstr, errstr_size);
    free(text);
    if (!r) {
        return -1;
    }
    disp->out_ids = json_array();
    for (int i = 0; i < drv_pg_res_rows(r); i++) {
        json_array_append_new(disp->out_ids,
                              json_integer(drv_pg_res_int(r, i, 0, 0)));
    }
    drv_pg_res_free(r);
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The ids of a JSON array as ranges: two PostgreSQL array literals of
 * their first and last ids ("{1,7}" and "{4,9}" for 1-4 and 7-9). */
static void id_ranges(json_t *ids, char **lo_out, char **hi_out)
{
    size_t n = json_array_size(ids);
    int64_t *v = drv_malloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        v[i] = json_integer_value(json_array_get(ids, i));
    }
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
    free(v);
    *lo_out = lo;
    *hi_out = hi;
}

/* Delete the outbox rows of messages Kafka acknowledged (their delivery
 * reports came back with their ids); with `wait`, first wait (bounded) for
 * what is still in flight. Never blocks the loop otherwise. */
static void out_confirm(drv_disp_t *disp, bool wait)
{
    char e[DRV_ERRSTR_SIZE];
    if (wait) {
        drv_kprod_flush(disp->kprod, 5000, e, sizeof(e));
    } else {
        drv_kprod_poll(disp->kprod);
    }
    int64_t *ids;
    size_t n = drv_kprod_take_delivered(disp->kprod, &ids);
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(disp->unconfirmed, json_integer(ids[i]));
    }
    free(ids);
    if (json_array_size(disp->unconfirmed) == 0) {
        return;
    }
    char *lo, *hi;
    id_ranges(disp->unconfirmed, &lo, &hi);
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
        json_array_clear(disp->unconfirmed); /* else: again next time */
        for (int i = 0; i < 4; i++) {
            drv_pg_res_free(res[i]);
        }
    } else {
        drv_pg_rollback(disp->pg);
    }
    free(lo);
    free(hi);
}

/* On start: publish what a previous dispatcher committed but may not have
 * delivered. */
static int out_recover(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT id, topic, key, encode(payload, 'hex'), headers->>"
        "'drover.error', headers->>'drover.source.topic' FROM outbox "
        "ORDER BY id",
        0, NULL, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    for (int i = 0; i < drv_pg_res_rows(r); i++) {
        const char *hex = drv_pg_res_get(r, i, 3);
        size_t len = strlen(hex) / 2;
        unsigned char *buf = drv_malloc(len + 1);
        for (size_t k = 0; k < len; k++) {
            unsigned int byte;
            sscanf(hex + 2 * k, "%2x", &byte);
            buf[k] = (unsigned char)byte;
        }
        drv_kheader_t h[] = {{"drover.error", drv_pg_res_get(r, i, 4)},
                             {"drover.source.topic", drv_pg_res_get(r, i, 5)}};
        /* not sent (refused locally): stays for the next start */
        (void)drv_kprod_send_tracked(disp->kprod, drv_pg_res_get(r, i, 1), -1,
                                     drv_pg_res_get(r, i, 2), buf, len, h,
                                     h[0].value ? 2 : 0,
                                     drv_pg_res_int(r, i, 0, 0), errstr,
                                     errstr_size);
        free(buf);
    }
    if (drv_pg_res_rows(r) > 0) {
        drv_log(disp->log, DRV_LOG_INFO, "dispatcher.outbox_recovered", NULL,
                "re-published %d message(s) left in the outbox",
                drv_pg_res_rows(r));
    }
    drv_pg_res_free(r);
    out_confirm(disp, true);
    return 0;
}

/* Publish everything the committed transaction produced. */
static void out_publish(drv_disp_t *disp)
{
    char e[DRV_ERRSTR_SIZE];
    bool big = disp->out_cnt > 1000;
    for (size_t i = 0; i < disp->out_cnt; i++) {
        drv__out_t *o = &disp->out[i];
        drv_kheader_t h[] = {{"drover.error", o->dlq_reason},
                             {"drover.source.topic", o->dlq_source}};
        json_int_t id = json_integer_value(json_array_get(disp->out_ids, i));
        if (drv_kprod_send_tracked(disp->kprod, o->topic, -1, o->key, o->buf,
                                   o->len, h, o->dlq_reason ? 2 : 0, id, e,
                                   sizeof(e)) != 0) {
            /* refused locally: its outbox row stays for the next start */
            drv_log(disp->log, DRV_LOG_ERROR, "kafka.produce_failed", NULL,
                    "%s (kept in the outbox)", e);
        }
    }
    json_decref(disp->out_ids);
    disp->out_ids = NULL;
    out_clear(disp);
    drv_kprod_poll(disp->kprod);
#ifdef __GLIBC__
    if (big) { /* a 10,000-child array's events: give the memory back */
        malloc_trim(0);
    }
#endif
}

static void *gauges_main(void *arg);

static bool health(void *opaque, char *text, size_t size)
{
    drv_disp_t *disp = opaque;
    int64_t age = drv_now_ms() - disp->db_ok_ms;
    if (age > 30000) {
        snprintf(text, size, "unhealthy: no database round trip for %lld s",
                 (long long)(age / 1000));
        return false;
    }
    snprintf(text, size, "ok: %s", disp->leading ? "active" : "standby");
    return true;
}

static void declare_metrics(drv_metrics_t *m)
{
    drv_metrics_declare(m, "drover_dispatcher_active", "gauge",
                        "1 while this dispatcher holds the leader lock");
    drv_metrics_declare(m, "drover_jobs", "gauge",
                        "jobs by queue and status (refreshed every 5 s)");
    drv_metrics_declare(m, "drover_transitions_total", "counter",
                        "job state transitions made, by new status");
    drv_metrics_declare(m, "drover_messages_applied_total", "counter",
                        "Kafka messages applied (in committed batches)");
    drv_metrics_declare(m, "drover_release_latency_seconds_sum", "counter",
                        "time from RUNNABLE to the run request, summed");
    drv_metrics_declare(m, "drover_release_latency_seconds_count", "counter",
                        "run requests released");
    drv_metrics_declare(m, "drover_kafka_consumer_lag", "gauge",
                        "messages not yet consumed, by topic and partition");
}

drv_disp_t *drv_disp_new(const drv_conf_t *conf, drv_log_t *log, char *errstr,
                         size_t errstr_size)
{
    char e[DRV_ERRSTR_SIZE];
    drv_disp_t *disp = drv_calloc(1, sizeof(*disp));
    disp->conf = conf;
    disp->log = log;
    disp->region = drv_conf_get(conf, "aws.region");
    disp->account = drv_conf_get(conf, "aws.account");
    disp->limits.timeout_min_seconds =
        (int)drv_conf_get_int(conf, "job.timeout.min.seconds");
    disp->dep_grace_ms = drv_conf_get_int(conf,
                                          "dispatcher.dependency.grace.ms");
    disp->done = json_array();
    disp->batch_cache = json_object();
    disp->usage = json_object();
    disp->usage_delta = json_object();
    disp->unconfirmed = json_array();
    if (!(disp->pg = drv_pg_connect(drv_conf_get(conf, "pg.conninfo"), log, e,
                                    sizeof(e)))) {
        drv_errstr_set(errstr, errstr_size, "%s", e);
        goto fail;
    }
    if (drv_conf_get_bool(conf, "dispatcher.migrate") &&
        drv_pg_migrate(disp->pg, errstr, errstr_size) < 0) {
        goto fail;
    }
    if (!(disp->codec = drv_codec_from_conf(conf, errstr, errstr_size)) ||
        !(disp->kprod = drv_kprod_new(conf, log, DRV_KPROD_DURABLE, errstr,
                                      errstr_size))) {
        goto fail;
    }
    disp->metrics = drv_metrics_new();
    declare_metrics(disp->metrics);
    disp->db_ok_ms = drv_now_ms();
    const char *listen = drv_conf_get(conf, "metrics.listen");
    if (listen && *listen &&
        !(disp->http = drv_http_start(listen, disp->metrics, health, disp,
                                      errstr, errstr_size))) {
        goto fail;
    }
    if (disp->http) {
        disp->gauges_started = pthread_create(&disp->gauges, NULL,
                                              gauges_main, disp) == 0;
    }
    return disp;
fail:
    drv_disp_destroy(disp);
    return NULL;
}

void drv_disp_destroy(drv_disp_t *disp)
{
    if (!disp) {
        return;
    }
    if (disp->gauges_started) {
        disp->gauges_stop = true;
        pthread_join(disp->gauges, NULL);
    }
    drv_http_stop(disp->http);
    drv_kcons_destroy(disp->kcons);
    drv_kprod_destroy(disp->kprod);
    drv_codec_destroy(disp->codec);
    drv_pg_destroy(disp->pg);
    drv_metrics_destroy(disp->metrics);
    out_clear(disp);
    free(disp->out);
    json_decref(disp->done);
    json_decref(disp->batch_cache);
    json_decref(disp->usage);
    json_decref(disp->usage_delta);
    json_decref(disp->unconfirmed);
    free(disp);
}

/* Create topics for queues and compute environments that lack them. All
 * are asked for each time (existing ones are no-ops): a broker that lost
 * its data gets them back. */
static void sync_topics(drv_disp_t *disp)
{
    char e[DRV_ERRSTR_SIZE];
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT '" DRV_TOPIC_SUBMIT_PREFIX "' || name FROM job_queues UNION "
        "ALL SELECT '" DRV_TOPIC_RUN_PREFIX "' || name FROM "
        "compute_environments UNION ALL SELECT '" DRV_TOPIC_CONTROL_PREFIX
        "' || name FROM compute_environments UNION ALL SELECT "
        "unnest(ARRAY['" DRV_TOPIC_STATUS
        "', '" DRV_TOPIC_EVENTS "', '" DRV_TOPIC_DLQ "'])",
        0, NULL, e, sizeof(e));
    if (!r) {
        drv_log(disp->log, DRV_LOG_WARN, "dispatcher.topic_sync", NULL,
                "could not list queues: %s", e);
        return;
    }
    const char **names = drv_calloc((size_t)drv_pg_res_rows(r) + 1,
                                    sizeof(*names));
    size_t n = 0;
    for (int i = 0; i < drv_pg_res_rows(r); i++) {
        const char *t = drv_pg_res_get(r, i, 0);
        names[n++] = t;
    }
    if (n > 0 &&
        drv_kafka_create_topics(disp->conf, names, n,
                                (int)drv_conf_get_int(disp->conf,
                                                      "topic.partitions"),
                                e, sizeof(e)) != 0) {
        drv_log(disp->log, DRV_LOG_WARN, "dispatcher.topic_sync", NULL, "%s",
                e);
    }
    free(names);
    drv_pg_res_free(r);
}

/* drv__apply_run, then let go of the run's messages. */
static int apply_run(drv_disp_t *disp, drv__msg_t *run, size_t *k,
                     char *errstr, size_t errstr_size)
{
    int ret = *k ? drv__apply_run(disp, run, *k, errstr, errstr_size) : 0;
    while (*k > 0) {
        json_decref(run[--*k].obj);
    }
    return ret;
}

/* Apply the consumed messages inside the open transaction, in order: a
 * run of consecutive submissions and routine reports (STARTING, RUNNING,
 * SUCCEEDED: most of the traffic) goes to PostgreSQL 64 statements per
 * round trip, anything else one message at a time. */
static int apply_msgs(drv_disp_t *disp, drv_kmsg_t **msgs, size_t n,
                      char *errstr, size_t errstr_size)
{
    drv__msg_t *run = drv_calloc(n ? n : 1, sizeof(*run));
    size_t k = 0;
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++) {
        size_t len;
        const void *val = drv_kmsg_value(msgs[i], &len);
        drv__msg_t m = {.source = drv_kmsg_topic(msgs[i]),
                        .key = drv_kmsg_key(msgs[i]),
                        .raw = val ? val : "",
                        .raw_len = val ? len : 0};
        char why[DRV_ERRSTR_SIZE];
        if (drv_codec_decode(disp->codec, m.raw, m.raw_len, &m.type, &m.obj,
                             why, sizeof(why)) != DRV_OK) {
            drv__disp_dlq(disp, m.source, m.key, m.raw, m.raw_len, why);
            continue; /* nothing recorded: the run may go on past it */
        }
        if (drv__pipelined(m.type, m.obj)) {
            run[k++] = m;
            continue;
        }
        ret = apply_run(disp, run, &k, errstr, errstr_size);
        if (ret == 0) {
            ret = drv__state_apply(disp, m.type, m.obj, m.source, m.key,
                                   m.raw, m.raw_len, errstr, errstr_size);
        }
        json_decref(m.obj);
    }
    if (ret == 0) {
        ret = apply_run(disp, run, &k, errstr, errstr_size);
    }
    while (k > 0) {
        json_decref(run[--k].obj);
    }
    free(run);
    if (ret != 0) {
        json_array_clear(disp->done); /* rolled back: nothing finished */
    }
    return ret;
}

static int store_offsets(drv_disp_t *disp, drv_kmsg_t **msgs, size_t n,
                         char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < n; i++) {
        /* only the last message of each partition in the batch matters */
        int last = 1;
        for (size_t j = i + 1; j < n && last; j++) {
            last = !(drv_kmsg_partition(msgs[j]) == drv_kmsg_partition(msgs[i]) &&
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

/* One transaction: every message of the batch, its offsets and the
 * scheduling pass that follows from them. */
static int apply_batch(drv_disp_t *disp, drv_kmsg_t **msgs, size_t n,
                       char *errstr, size_t errstr_size)
{
    if (drv_pg_begin(disp->pg, errstr, errstr_size) != 0) {
        return -1;
    }
    json_object_clear(disp->batch_cache);
    if (apply_msgs(disp, msgs, n, errstr, errstr_size) != 0) {
        goto fail;
    }
    /* what the batch made runnable is released in the same transaction */
    if (store_offsets(disp, msgs, n, errstr, errstr_size) != 0 ||
        drv__state_schedule(disp, errstr, errstr_size) != 0 ||
        out_persist(disp, errstr, errstr_size) != 0 ||
        drv_pg_commit(disp->pg, errstr, errstr_size) != 0) {
        goto fail;
    }
    drv__usage_end(disp, true);
    return 0;
fail:
    drv_pg_rollback(disp->pg);
    drv__usage_end(disp, false);
    out_clear(disp);
    return -1;
}

static int in_tx(drv_disp_t *disp,
                 int (*fn)(drv_disp_t *, char *, size_t), char *errstr,
                 size_t errstr_size)
{
    if (drv_pg_begin(disp->pg, errstr, errstr_size) != 0) {
        return -1;
    }
    if (fn(disp, errstr, errstr_size) != 0 ||
        out_persist(disp, errstr, errstr_size) != 0 ||
        drv_pg_commit(disp->pg, errstr, errstr_size) != 0) {
        drv_pg_rollback(disp->pg);
        drv__usage_end(disp, false);
        out_clear(disp);
        return -1;
    }
    drv__usage_end(disp, true);
    return 0;
}

/* Database trouble: wait, reconnect, and let the caller retry. A new
 * session no longer holds the leader lock: the caller must step down. */
static void recover(drv_disp_t *disp, const char *what, const char *err,
                    volatile sig_atomic_t *stop)
{
    char e[DRV_ERRSTR_SIZE];
    drv_log(disp->log, DRV_LOG_ERROR, "dispatcher.db_error", NULL,
            "%s failed, retrying: %s", what, err);
    for (int i = 0; i < 10 && !*stop; i++) {
        usleep(100 * 1000);
    }
    if (drv_pg_ensure(disp->pg, e, sizeof(e)) != 0) {
        drv_log(disp->log, DRV_LOG_WARN, "pg.reconnect_failed", NULL, "%s", e);
    }
}

static bool leading(drv_disp_t *disp)
{
    return drv_pg_session(disp->pg) == disp->lead_session;
}

/*
 * Wait until this dispatcher is the active one: it holds a session-level
 * advisory lock on the connection that does all of its work, so a
 * dispatcher whose session ended cannot commit anything, and a standby
 * takes over as soon as PostgreSQL ends the old session. Returns 0 once
 * leading, 1 if asked to stop first.
 */
static int take_lead(drv_disp_t *disp, volatile sig_atomic_t *stop)
{
    bool told = false;
    while (!*stop) {
        char e[DRV_ERRSTR_SIZE];
        bool got = false;
        if (drv_pg_ensure(disp->pg, e, sizeof(e)) == 0) {
            const char *p[] = {LEADER_LOCK_KEY};
            drv_pg_res_t *r = drv_pg_query(
                disp->pg, "SELECT pg_try_advisory_lock($1::bigint)", 1, p, e,
                sizeof(e));
            got = r && drv_pg_res_rows(r) == 1 &&
                  drv_pg_res_get(r, 0, 0)[0] == 't';
            if (r) {
                disp->db_ok_ms = drv_now_ms(); /* the database answered */
            }
            if (!r) {
                drv_log(disp->log, DRV_LOG_WARN, "dispatcher.lock_failed",
                        NULL, "%s", e);
            }
            drv_pg_res_free(r);
        } else if (!told) {
            drv_log(disp->log, DRV_LOG_WARN, "pg.reconnect_failed", NULL,
                    "%s", e);
        }
        if (got) {
            disp->lead_session = drv_pg_session(disp->pg);
            disp->active_since = drv_now_ms();
            drv_log(disp->log, DRV_LOG_INFO, "dispatcher.active", NULL,
                    "this dispatcher is the active one");
            return 0;
        }
        if (!told) {
            drv_log(disp->log, DRV_LOG_INFO, "dispatcher.standby", NULL,
                    "another dispatcher is active; standing by");
            told = true;
        }
        for (int i = 0; i < STANDBY_POLL_MS / 100 && !*stop; i++) {
            usleep(100 * 1000);
        }
    }
    return 1;
}

/* Consumer lag for /metrics (from librdkafka's cached figures). */
static void refresh_metrics(drv_disp_t *disp)
{
    drv_metrics_kafka_lag(disp->metrics, disp->kcons);
}

/*
 * Jobs by queue and status for /metrics, counted every METRICS_MS on a
 * connection of its own while this dispatcher leads: the count scans the
 * jobs table, which must not hold up the loop that moves jobs.
 */
static void *gauges_main(void *arg)
{
    drv_disp_t *disp = arg;
    drv_pg_t *pg = NULL;
    char e[DRV_ERRSTR_SIZE];
    while (!disp->gauges_stop) {
        for (int i = 0; i < METRICS_MS / 100 && !disp->gauges_stop; i++) {
            usleep(100 * 1000);
        }
        if (disp->gauges_stop || !disp->leading) {
            continue;
        }
        if (!pg) {
            pg = drv_pg_connect(drv_conf_get(disp->conf, "pg.conninfo"),
                                disp->log, e, sizeof(e));
        } else if (drv_pg_ensure(pg, e, sizeof(e)) != 0) {
            continue;
        }
        drv_pg_res_t *r = pg ? drv_pg_query(pg,
                                            "SELECT queue, status, count(*) "
                                            "FROM jobs GROUP BY 1, 2",
                                            0, NULL, e, sizeof(e))
                             : NULL;
        if (!r) {
            continue;
        }
        drv_metrics_reset(disp->metrics, "drover_jobs");
        for (int i = 0; i < drv_pg_res_rows(r); i++) {
            char label[400];
            snprintf(label, sizeof(label), "queue=\"%s\",status=\"%s\"",
                     drv_pg_res_get(r, i, 0), drv_pg_res_get(r, i, 1));
            drv_metrics_set(disp->metrics, "drover_jobs", label,
                            (double)drv_pg_res_int(r, i, 2, 0));
        }
        drv_pg_res_free(r);
    }
    drv_pg_destroy(pg);
    return NULL;
}

/* Lead until stopped or the leader lock is lost. */
static int lead(drv_disp_t *disp, volatile sig_atomic_t *stop, char *errstr,
                size_t errstr_size)
{
    static const char *const topics[] = {"^drover\\.submit\\..+",
                                         DRV_TOPIC_STATUS};
    size_t batch_max = (size_t)drv_conf_get_int(disp->conf,
                                                "dispatcher.batch.size");
    int poll_ms = (int)drv_conf_get_int(disp->conf, "dispatcher.poll.ms");
    char e[DRV_ERRSTR_SIZE];
    sync_topics(disp);
    if (out_recover(disp, errstr, errstr_size) != 0 ||
        !(disp->kcons = drv_kcons_new(disp->conf, disp->log, DRV_DISP_GROUP,
                                      offset_cb, disp, errstr,
                                      errstr_size)) ||
        drv_kcons_subscribe(disp->kcons, topics, 2, errstr, errstr_size) != 0) {
        return -1;
    }
    drv_kmsg_t **msgs = drv_calloc(batch_max, sizeof(*msgs));
    size_t n = 0;
    int64_t next_sync = drv_mono_ms() + TOPIC_SYNC_MS, next_sweep = 0;
    int64_t next_metrics = 0;
    disp->usage_loaded = false; /* another dispatcher may have led */
    disp->leading = true;
    drv_metrics_set(disp->metrics, "drover_dispatcher_active", NULL, 1);
    while (!*stop && leading(disp)) {
        while (n < batch_max) {
            drv_kmsg_t *m = drv_kcons_poll(disp->kcons, n ? 0 : poll_ms);
            if (!m) {
                disp->caught_up_at = drv_now_ms();
                break;
            }
            msgs[n++] = m;
        }
        if (n > 0 && apply_batch(disp, msgs, n, e, sizeof(e)) != 0) {
            recover(disp, "applying a batch", e, stop);
            continue; /* the same batch again, if still leading */
        }
        out_publish(disp);
        if (n > 0) {
            drv_metrics_add(disp->metrics, "drover_messages_applied_total",
                            NULL, (double)n);
        }
        for (size_t i = 0; i < n; i++) {
            drv_kmsg_destroy(msgs[i]);
        }
        if (n == 0) { /* room freed by nothing consumed: capacity or
                         queue changes made through the client */
            if (in_tx(disp, drv__state_schedule, e, sizeof(e)) != 0) {
                recover(disp, "scheduling", e, stop);
                continue;
            }
            out_publish(disp);
        }
        n = 0;
        disp->db_ok_ms = drv_now_ms();
        int64_t now = drv_mono_ms();
        if (now >= next_metrics) {
            refresh_metrics(disp);
            next_metrics = now + METRICS_MS;
        }
        if (now >= next_sweep) {
            if (in_tx(disp, drv__state_sweep, e, sizeof(e)) != 0) {
                recover(disp, "sweeping", e, stop);
                continue;
            }
            out_publish(disp);
            next_sweep = now + SWEEP_MS;
        }
        if (now >= next_sync) {
            sync_topics(disp);
            next_sync = now + TOPIC_SYNC_MS;
        }
        out_confirm(disp, false);
    }
    for (size_t i = 0; i < n; i++) {
        drv_kmsg_destroy(msgs[i]);
    }
    free(msgs);
    out_confirm(disp, true);
    /* leave the group: the next leader's consumer seeks to the offsets
     * stored with the last committed batch */
    drv_kcons_destroy(disp->kcons);
    disp->kcons = NULL;
    disp->leading = false;
    drv_metrics_set(disp->metrics, "drover_dispatcher_active", NULL, 0);
    if (!*stop) {
        drv_log(disp->log, DRV_LOG_WARN, "dispatcher.lead_lost", NULL,
                "the PostgreSQL session holding the leader lock ended; "
                "standing by again");
    }
    return 0;
}

int drv_disp_run(drv_disp_t *disp, volatile sig_atomic_t *stop, char *errstr,
                 size_t errstr_size)
{
    drv_log(disp->log, DRV_LOG_INFO, "dispatcher.started", NULL,
            "dispatcher running");
    while (!*stop) {
        if (take_lead(disp, stop) != 0) {
            break;
        }
        if (lead(disp, stop, errstr, errstr_size) != 0) {
            return -1;
        }
    }
    drv_log(disp->log, DRV_LOG_INFO, "dispatcher.stopped", NULL,
            "dispatcher stopped");
    return 0;
}
