/* SPDX-License-Identifier: Apache-2.0 */
/* librdkafka wrapper: see drover/kafka.h. */
#include "drover/kafka.h"

#include <librdkafka/rdkafka.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include "drover/util.h"

/* Both handles start with their logger: the librdkafka opaque is the
 * handle, and log_cb reads the logger through it. */
struct drv_kprod {
    drv_log_t *log;
    rd_kafka_t *rk;
    pthread_mutex_t lock;
    char first_err[DRV_ERRSTR_SIZE]; /* first delivery error since flush */
    int64_t *delivered; /* ids of tracked messages Kafka acknowledged */
    size_t ndelivered, delivered_cap;
};

struct drv_kcons {
    drv_log_t *log;
    rd_kafka_t *rk;
    drv_kcons_offset_cb *offset_cb;
    void *opaque;
};

struct drv_kmsg {
    rd_kafka_message_t *rkm;
    char *key;
    struct kmsg_header *headers; /* the values drv_kmsg_header returned */
};

/* A header value handed out, kept until the message is destroyed. */
struct kmsg_header {
    struct kmsg_header *next;
    char value[];
};

typedef struct {
    rd_kafka_conf_t *kconf;
    char *errstr;
    size_t errstr_size;
} setter_t;

static int set_one(const char *name, const char *value, void *opaque)
{
    setter_t *s = opaque;
    char e[256];
    if (rd_kafka_conf_set(s->kconf, name, value, e, sizeof(e)) !=
        RD_KAFKA_CONF_OK) {
        drv_errstr_set(s->errstr, s->errstr_size, "kafka.%s: %s", name, e);
        return -1;
    }
    return 0;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
    drv_log_t **logp = rd_kafka_opaque(rk);
    drv_log_t *log = logp ? *logp : NULL;
    drv_log_level_t l = level <= 3 ? DRV_LOG_ERROR
                        : level <= 5 ? DRV_LOG_WARN
                        : level == 6 ? DRV_LOG_INFO
                                     : DRV_LOG_DEBUG;
    json_t *f = json_pack("{s:s}", "facility", fac);
    drv_log(log, l, "kafka.log", f, "%s", buf);
    json_decref(f);
}

/* Drover's defaults, then the kafka.* keys of conf (which win). */
static rd_kafka_conf_t *make_conf(const drv_conf_t *conf,
                                  const char *const *defaults, char *errstr,
                                  size_t errstr_size)
{
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    setter_t s = {kconf, errstr, errstr_size};
    for (size_t i = 0; defaults[i]; i += 2) {
        if (set_one(defaults[i], defaults[i + 1], &s) != 0) {
            goto fail;
        }
    }
    if (drv_conf_foreach_kafka(conf, set_one, &s) != 0) {
        goto fail;
    }
    rd_kafka_conf_set_log_cb(kconf, log_cb);
    return kconf;
fail:
    rd_kafka_conf_destroy(kconf);
    return NULL;
}

/* ---- producer ---------------------------------------------------------- */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    drv_kprod_t *kp = opaque;
    if (!rkm->err) {
        int64_t id = (int64_t)(intptr_t)rkm->_private;
        if (id > 0) {
            pthread_mutex_lock(&kp->lock);
            if (kp->ndelivered == kp->delivered_cap) {
                kp->delivered_cap = kp->delivered_cap ? kp->delivered_cap * 2
                                                      : 256;
                kp->delivered = drv_realloc(
                    kp->delivered, kp->delivered_cap * sizeof(int64_t));
            }
            kp->delivered[kp->ndelivered++] = id;
            pthread_mutex_unlock(&kp->lock);
        }
        return;
    }
    pthread_mutex_lock(&kp->lock);
    if (!kp->first_err[0]) {
        snprintf(kp->first_err, sizeof(kp->first_err),
                 "could not deliver to \"%s\": %s",
                 rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
    }
    pthread_mutex_unlock(&kp->lock);
    json_t *f = json_pack("{s:s}", "topic", rd_kafka_topic_name(rkm->rkt));
    drv_log(kp->log, DRV_LOG_ERROR, "kafka.delivery_failed", f,
            "could not deliver message: %s", rd_kafka_err2str(rkm->err));
    json_decref(f);
}

drv_kprod_t *drv_kprod_new(const drv_conf_t *conf, drv_log_t *log,
                           unsigned flags, char *errstr, size_t errstr_size)
{
    /* One produce request in flight per broker: what is produced while
     * it is out goes in the next, one request for all of it. An idle
     * producer sends at once (linger aside), a busy one in batches as
     * large as its load (hollow independent 10000: 1,450 jobs/s instead
     * of 1,050, 1.29 ms of machine CPU per job instead of 1.8, chain and
     * single-job latency unchanged). */
    const char *defaults[] = {
        "enable.idempotence", "true", "linger.ms",
        flags & DRV_KPROD_PROMPT ? "0" : "2",
        "max.in.flight.requests.per.connection", "1", "message.timeout.ms",
        flags & DRV_KPROD_DURABLE ? "0" : "20000", NULL};
    char e[512];
    drv_kprod_t *kp = drv_calloc(1, sizeof(*kp));
    pthread_mutex_init(&kp->lock, NULL);
    kp->log = log;
    rd_kafka_conf_t *kconf = make_conf(conf, defaults, errstr,
                                       errstr_size);
    if (!kconf) {
        goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(kconf, dr_cb);
    rd_kafka_conf_set_opaque(kconf, kp);
    kp->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, e, sizeof(e));
    if (!kp->rk) {
        rd_kafka_conf_destroy(kconf);
        drv_errstr_set(errstr, errstr_size, "could not create producer: %s", e);
        goto fail;
    }
    return kp;
fail:
    drv_kprod_destroy(kp);
    return NULL;
}

void drv_kprod_destroy(drv_kprod_t *kp)
{
    if (!kp) {
        return;
    }
    if (kp->rk) {
        rd_kafka_flush(kp->rk, 10000);
        rd_kafka_destroy(kp->rk);
    }
    pthread_mutex_destroy(&kp->lock);
    free(kp->delivered);
    free(kp);
}

int drv_kprod_send(drv_kprod_t *kp, const char *topic, int32_t partition,
                   const char *key, const void *value, size_t len,
                   const drv_kheader_t *headers, size_t header_cnt,
                   char *errstr, size_t errstr_size)
{
    return drv_kprod_send_tracked(kp, topic, partition, key, value, len,
                                  headers, header_cnt, 0, errstr,
                                  errstr_size);
}

size_t drv_kprod_take_delivered(drv_kprod_t *kp, int64_t **ids)
{
    pthread_mutex_lock(&kp->lock);
    size_t n = kp->ndelivered;
    *ids = kp->delivered;
    kp->delivered = NULL;
    kp->ndelivered = kp->delivered_cap = 0;
    pthread_mutex_unlock(&kp->lock);
    return n;
}

int drv_kprod_send_tracked(drv_kprod_t *kp, const char *topic,
                           int32_t partition, const char *key,
                           const void *value, size_t len,
                           const drv_kheader_t *headers, size_t header_cnt,
                           int64_t id, char *errstr, size_t errstr_size)
{
    rd_kafka_headers_t *hdrs = NULL;
    if (header_cnt) {
        hdrs = rd_kafka_headers_new(header_cnt);
        for (size_t i = 0; i < header_cnt; i++) {
            rd_kafka_header_add(hdrs, headers[i].name, -1, headers[i].value,
                                -1);
        }
    }
    rd_kafka_vu_t vu[7];
    size_t n = 0;
    vu[n].vtype = RD_KAFKA_VTYPE_TOPIC;
    vu[n++].u.cstr = topic;
    vu[n].vtype = RD_KAFKA_VTYPE_PARTITION;
    vu[n++].u.i32 = partition < 0 ? RD_KAFKA_PARTITION_UA : partition;
    vu[n].vtype = RD_KAFKA_VTYPE_VALUE;
    vu[n].u.mem.ptr = (void *)(uintptr_t)value; /* copied: F_COPY */
    vu[n++].u.mem.size = len;
    vu[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vu[n++].u.i = RD_KAFKA_MSG_F_COPY;
    if (key) {
        vu[n].vtype = RD_KAFKA_VTYPE_KEY;
        vu[n].u.mem.ptr = (void *)(uintptr_t)key;
        vu[n++].u.mem.size = strlen(key);
    }
    if (hdrs) {
        vu[n].vtype = RD_KAFKA_VTYPE_HEADERS;
        vu[n++].u.headers = hdrs;
    }
    if (id > 0) { /* comes back in its delivery report */
        vu[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
        vu[n++].u.ptr = (void *)(intptr_t)id;
    }
    rd_kafka_resp_err_t err;
    for (;;) {
        rd_kafka_error_t *error = rd_kafka_produceva(kp->rk, vu, n);
        err = error ? rd_kafka_error_code(error) : RD_KAFKA_RESP_ERR_NO_ERROR;
        if (error) {
            rd_kafka_error_destroy(error);
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            break;
        }
        rd_kafka_poll(kp->rk, 100); /* local queue full: wait for room */
    }
    if (err) {
        if (hdrs) {
            rd_kafka_headers_destroy(hdrs);
        }
        drv_errstr_set(errstr, errstr_size, "could not produce to \"%s\": %s",
                       topic, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

int drv_kprod_flush(drv_kprod_t *kp, int timeout_ms, char *errstr,
                    size_t errstr_size)
{
    rd_kafka_resp_err_t err = rd_kafka_flush(kp->rk, timeout_ms);
    int ret = 0;
    pthread_mutex_lock(&kp->lock);
    if (kp->first_err[0]) {
        drv_errstr_set(errstr, errstr_size, "%s", kp->first_err);
        kp->first_err[0] = '\0';
        ret = -1;
    } else if (err) {
        drv_errstr_set(errstr, errstr_size,
                       "messages not delivered within %d ms: is Kafka at "
                       "the configured kafka.bootstrap.servers running?",
                       timeout_ms);
        ret = -1;
    }
    pthread_mutex_unlock(&kp->lock);
    return ret;
}

void drv_kprod_poll(drv_kprod_t *kp)
{
    rd_kafka_poll(kp->rk, 0);
}

/* ---- consumer ---------------------------------------------------------- */

#define CLOSE_TIMEOUT_MS 10000

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    drv_kcons_t *kc = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; kc->offset_cb && i < parts->cnt; i++) {
            int64_t off = kc->offset_cb(parts->elems[i].topic,
                                        parts->elems[i].partition, kc->opaque);
            parts->elems[i].offset = off == -1000 ? RD_KAFKA_OFFSET_STORED
                                                  : off;
        }
        json_t *f = json_pack("{s:i}", "partitions", parts->cnt);
        drv_log(kc->log, DRV_LOG_INFO, "kafka.assigned", f,
                "assigned %d partitions", parts->cnt);
        json_decref(f);
        rd_kafka_assign(rk, parts);
    } else {
        drv_log(kc->log, DRV_LOG_INFO, "kafka.revoked", NULL,
                "partitions revoked");
        rd_kafka_assign(rk, NULL);
    }
}

drv_kcons_t *drv_kcons_new(const drv_conf_t *conf, drv_log_t *log,
                           const char *group, drv_kcons_offset_cb *offset_cb,
                           void *opaque, char *errstr, size_t errstr_size)
{
    const char *defaults[] = {
        "group.id", group, "enable.auto.commit",
        offset_cb ? "false" : "true", "enable.auto.offset.store", "false",
        "auto.offset.reset", "earliest", "topic.metadata.refresh.interval.ms",
        "2000", "session.timeout.ms", "10000", "heartbeat.interval.ms", "1000",
        "fetch.wait.max.ms", "500",
        /* a backlog waits in Kafka: at most this much prefetched here */
        "queued.max.messages.kbytes", "16384", "queued.min.messages", "10000",
        NULL};
    char e[512];
    drv_kcons_t *kc = drv_calloc(1, sizeof(*kc));
    kc->log = log;
    kc->offset_cb = offset_cb;
    kc->opaque = opaque;
    rd_kafka_conf_t *kconf = make_conf(conf, defaults, errstr,
                                       errstr_size);
    if (!kconf) {
        goto fail;
    }
    rd_kafka_conf_set_rebalance_cb(kconf, rebalance_cb);
    rd_kafka_conf_set_opaque(kconf, kc);
    kc->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, e, sizeof(e));
    if (!kc->rk) {
        rd_kafka_conf_destroy(kconf);
        drv_errstr_set(errstr, errstr_size, "could not create consumer: %s", e);
        goto fail;
    }
    rd_kafka_poll_set_consumer(kc->rk);
    return kc;
fail:
    drv_kcons_destroy(kc);
    return NULL;
}

void drv_kcons_destroy(drv_kcons_t *kc)
{
    if (!kc) {
        return;
    }
    if (kc->rk) {
        /* leave the group, but not forever: with the broker gone a
         * blocking close never returns, and a process asked to stop (or a
         * dispatcher stepping down) must not hang on it */
        rd_kafka_queue_t *q = rd_kafka_queue_new(kc->rk);
        rd_kafka_error_t *err = rd_kafka_consumer_close_queue(kc->rk, q);
        int64_t deadline = drv_mono_ms() + CLOSE_TIMEOUT_MS;
        while (!err && !rd_kafka_consumer_closed(kc->rk) &&
               drv_mono_ms() < deadline) {
            /* serve the close: a revoke is answered by unassigning, any
             * fetched message is dropped (its offset was not stored) */
            rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
            if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
                rd_kafka_assign(kc->rk, NULL);
            }
            rd_kafka_event_destroy(ev);
        }
        bool closed = !err && rd_kafka_consumer_closed(kc->rk);
        if (err) {
            rd_kafka_error_destroy(err);
        }
        rd_kafka_queue_destroy(q);
        if (!closed) {
            drv_log(kc->log, DRV_LOG_WARN, "kafka.close_timeout", NULL,
                    "consumer did not leave its group within %d ms; the "
                    "group notices after session.timeout.ms",
                    CLOSE_TIMEOUT_MS);
        }
        rd_kafka_destroy_flags(kc->rk, closed
                                           ? 0
                                           : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    }
    free(kc);
}

int drv_kcons_subscribe(drv_kcons_t *kc, const char *const *topics, size_t n,
                        char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_topic_partition_list_add(l, topics[i], RD_KAFKA_PARTITION_UA);
    }
    rd_kafka_resp_err_t err = rd_kafka_subscribe(kc->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        drv_errstr_set(errstr, errstr_size, "could not subscribe: %s",
                       rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

drv_kmsg_t *drv_kcons_poll(drv_kcons_t *kc, int timeout_ms)
{
    rd_kafka_message_t *rkm = rd_kafka_consumer_poll(kc->rk, timeout_ms);
    if (!rkm) {
        return NULL;
    }
    if (rkm->err) {
        /* partition EOF and unknown topics while a pattern settles are
         * routine; anything else is worth a warning */
        if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
            rkm->err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            drv_log(kc->log, DRV_LOG_WARN, "kafka.consume_error", NULL,
                    "consumer error: %s", rd_kafka_message_errstr(rkm));
        }
        rd_kafka_message_destroy(rkm);
        return NULL;
    }
    drv_kmsg_t *msg = drv_calloc(1, sizeof(*msg));
    msg->rkm = rkm;
    return msg;
}

void drv_kcons_store(drv_kcons_t *kc, const drv_kmsg_t *msg)
{
    rd_kafka_offset_store(msg->rkm->rkt, msg->rkm->partition,
                          msg->rkm->offset);
    (void)kc;
}

void drv_kcons_rewind(drv_kcons_t *kc, const drv_kmsg_t *msg)
{
    rd_kafka_resp_err_t err = rd_kafka_seek(msg->rkm->rkt,
                                            msg->rkm->partition,
                                            msg->rkm->offset, 0);
    if (err) {
        drv_log(kc->log, DRV_LOG_WARN, "kafka.rewind_failed", NULL,
                "could not go back to offset %" PRId64 " of %s [%d]: %s",
                msg->rkm->offset, rd_kafka_topic_name(msg->rkm->rkt),
                (int)msg->rkm->partition, rd_kafka_err2str(err));
    }
}

void drv_kcons_lag(drv_kcons_t *kc, drv_kcons_lag_cb *cb, void *opaque)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (!kc || rd_kafka_assignment(kc->rk, &parts) || !parts) {
        return;
    }
    rd_kafka_position(kc->rk, parts);
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        int64_t lo, hi;
        /* cached from fetch responses: never blocks */
        if (rd_kafka_get_watermark_offsets(kc->rk, p->topic, p->partition, &lo,
                                           &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            hi < 0) {
            continue;
        }
        int64_t pos = p->offset >= 0 ? p->offset : lo;
        cb(p->topic, p->partition, hi > pos ? hi - pos : 0, opaque);
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

int drv_kcons_caught_up(drv_kcons_t *kc, const char *prefix,
                        const char *const *topics, size_t ntopics,
                        int timeout_ms, char *errstr, size_t errstr_size)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_resp_err_t err = rd_kafka_assignment(kc->rk, &parts);
    if (err || !parts) {
        drv_errstr_set(errstr, errstr_size, "no assignment: %s",
                       rd_kafka_err2str(err));
        return -1;
    }
    int ret = 1;
    for (size_t t = 0; ret == 1 && t < ntopics; t++) {
        bool held = false;
        for (int i = 0; i < parts->cnt && !held; i++) {
            held = !strcmp(parts->elems[i].topic, topics[t]);
        }
        ret = held;
    }
    rd_kafka_position(kc->rk, parts);
    for (int i = 0; ret == 1 && i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (strncmp(p->topic, prefix, strlen(prefix)) != 0) {
            continue;
        }
        int64_t lo, hi;
        err = rd_kafka_query_watermark_offsets(kc->rk, p->topic, p->partition,
                                               &lo, &hi, timeout_ms);
        if (err) {
            drv_errstr_set(errstr, errstr_size,
                           "watermarks of %s [%" PRId32 "]: %s", p->topic,
                           p->partition, rd_kafka_err2str(err));
            ret = -1;
            break;
        }
        /* nothing consumed since the assignment: the position is where it
         * started, the caller's stored offset (an idle partition after a
         * restart is caught up); else the beginning */
        int64_t pos = p->offset;
        if (pos < 0 && kc->offset_cb) {
            pos = kc->offset_cb(p->topic, p->partition, kc->opaque);
        }
        if (pos < 0) {
            pos = lo;
        }
        if (pos < hi) {
            ret = 0;
        }
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return ret;
}

int drv_kcons_commit(drv_kcons_t *kc, char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err = rd_kafka_commit(kc->rk, NULL, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        drv_errstr_set(errstr, errstr_size, "offset commit failed: %s",
                       rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

void drv_kcons_pause(drv_kcons_t *kc, int pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(kc->rk, &parts) || !parts) {
        return;
    }
    if (pause) {
        rd_kafka_pause_partitions(kc->rk, parts);
    } else {
        rd_kafka_resume_partitions(kc->rk, parts);
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

size_t drv_kcons_assignment(drv_kcons_t *kc, int32_t *out, size_t max)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    size_t n = 0;
    if (rd_kafka_assignment(kc->rk, &parts) || !parts) {
        return 0;
    }
    for (int i = 0; i < parts->cnt && n < max; i++) {
        out[n++] = parts->elems[i].partition;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return n;
}

void drv_kmsg_destroy(drv_kmsg_t *msg)
{
    if (!msg) {
        return;
    }
    rd_kafka_message_destroy(msg->rkm);
    free(msg->key);
    for (struct kmsg_header *h = msg->headers, *next; h; h = next) {
        next = h->next;
        free(h);
    }
    free(msg);
}

const char *drv_kmsg_header(drv_kmsg_t *msg, const char *name)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *val;
    size_t size;
    if (rd_kafka_message_headers(msg->rkm, &hdrs) ||
        rd_kafka_header_get_last(hdrs, name, &val, &size)) {
        return NULL;
    }
    struct kmsg_header *h = drv_malloc(sizeof(*h) + size + 1);
    memcpy(h->value, val, size);
    h->value[size] = '\0';
    h->next = msg->headers;
    msg->headers = h;
    return h->value;
}

const char *drv_kmsg_topic(const drv_kmsg_t *msg)
{
    return rd_kafka_topic_name(msg->rkm->rkt);
}

int32_t drv_kmsg_partition(const drv_kmsg_t *msg)
{
    return msg->rkm->partition;
}

int64_t drv_kmsg_offset(const drv_kmsg_t *msg)
{
    return msg->rkm->offset;
}

const void *drv_kmsg_value(const drv_kmsg_t *msg, size_t *len)
{
    *len = msg->rkm->len;
    return msg->rkm->payload;
}

const char *drv_kmsg_key(drv_kmsg_t *msg)
{
    if (!msg->key && msg->rkm->key) {
        msg->key = drv_malloc(msg->rkm->key_len + 1);
        memcpy(msg->key, msg->rkm->key, msg->rkm->key_len);
        msg->key[msg->rkm->key_len] = '\0';
    }
    return msg->key;
}

/* ---- admin ------------------------------------------------------------- */

int drv_kafka_create_topics(const drv_conf_t *conf, const char *const *names,
                            size_t n, int partitions, char *errstr,
                            size_t errstr_size)
{
    static const char *defaults[] = {NULL, NULL}; /* read in pairs */
    char e[512];
    int ret = -1;
    rd_kafka_t *rk = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_NewTopic_t **topics = drv_calloc(n, sizeof(*topics));
    rd_kafka_event_t *ev = NULL;
    rd_kafka_conf_t *kconf = make_conf(conf, defaults, errstr,
                                       errstr_size);
    if (!kconf) {
        goto out;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, e, sizeof(e));
    if (!rk) {
        rd_kafka_conf_destroy(kconf);
        drv_errstr_set(errstr, errstr_size, "kafka admin: %s", e);
        goto out;
    }
    int repl = (int)drv_conf_get_int(conf, "topic.replication");
    for (size_t i = 0; i < n; i++) {
        topics[i] = rd_kafka_NewTopic_new(names[i], partitions, repl, e,
                                          sizeof(e));
    }
    q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, topics, n, NULL, q);
    ev = rd_kafka_queue_poll(q, 30000);
    if (!ev || rd_kafka_event_error(ev)) {
        drv_errstr_set(errstr, errstr_size,
                       "could not create topics: %s (is Kafka at the "
                       "configured kafka.bootstrap.servers running?)",
                       ev ? rd_kafka_event_error_string(ev) : "timed out");
        goto out;
    }
    size_t cnt;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev),
                                            &cnt);
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[i]);
        if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            drv_errstr_set(errstr, errstr_size,
                           "could not create topic \"%s\": %s",
                           rd_kafka_topic_result_name(res[i]),
                           rd_kafka_topic_result_error_string(res[i]));
            goto out;
        }
    }
    ret = 0;
out:
    if (ev) {
        rd_kafka_event_destroy(ev);
    }
    for (size_t i = 0; i < n; i++) {
        if (topics[i]) {
            rd_kafka_NewTopic_destroy(topics[i]);
        }
    }
    free(topics);
    if (q) {
        rd_kafka_queue_destroy(q);
    }
    if (rk) {
        rd_kafka_destroy(rk);
    }
    return ret;
}
