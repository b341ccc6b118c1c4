/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kafka for Drover: an idempotent producer, a consumer in a group, and
 * topic creation. The only module that includes <librdkafka/rdkafka.h>.
 * Configuration comes from drv_conf_t: kafka.* keys go to librdkafka.
 *
 * Ownership: handles are owned (destroy them); messages returned by
 * drv_kcons_poll are owned by the caller (drv_kmsg_destroy).
 * Thread safety: producer calls are safe from any thread; a consumer is
 * @thread main only, as librdkafka requires of its poll calls.
 */
#ifndef DRV_KAFKA_H
#define DRV_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drover/conf.h"
#include "drover/err.h"
#include "drover/log.h"

#define DRV_TOPIC_STATUS "drover.status"
#define DRV_TOPIC_EVENTS "drover.events"
#define DRV_TOPIC_DLQ "drover.dlq"
#define DRV_TOPIC_SUBMIT_PREFIX "drover.submit."
#define DRV_TOPIC_RUN_PREFIX "drover.run."
#define DRV_TOPIC_CONTROL_PREFIX "drover.control."

/* ---- producer ---------------------------------------------------------- */

typedef struct drv_kprod drv_kprod_t;

/** drv_kprod_new flag: a message is retried until delivered
 * (message.timeout.ms=0), so a broker outage delays but never drops a
 * status or run request (daemons); without it, interactive callers get an
 * error after 20 s. */
#define DRV_KPROD_DURABLE 1u
/** drv_kprod_new flag: send at once (linger.ms=0) instead of waiting 2 ms
 * to fill a batch: for a worker, whose few messages are each a hand-off
 * someone waits for (about 1.5 ms less per dependency link). */
#define DRV_KPROD_PROMPT 2u

/**
 * @brief An idempotent producer (acks=all).
 * @param flags DRV_KPROD_* ORed; kafka.* keys in conf override what they
 *        set.
 */
drv_kprod_t *drv_kprod_new(const drv_conf_t *conf, drv_log_t *log,
                           unsigned flags, char *errstr, size_t errstr_size);
/** @brief Flushes (up to 10 s), then destroys. NULL is accepted. */
void drv_kprod_destroy(drv_kprod_t *kp);

/** A header to attach to a message (name and value copied). */
typedef struct drv_kheader {
    const char *name;
    const char *value;
} drv_kheader_t;

/**
 * @brief Queue a message (copied). partition -1 lets the key decide.
 * @returns 0, or -1 when the local queue refuses it (errstr set).
 */
int drv_kprod_send(drv_kprod_t *kp, const char *topic, int32_t partition,
                   const char *key, const void *value, size_t len,
                   const drv_kheader_t *headers, size_t header_cnt,
                   char *errstr, size_t errstr_size);

/**
 * @brief drv_kprod_send for a message whose delivery the caller tracks:
 * once Kafka acknowledges it, `id` (> 0) is handed out by
 * drv_kprod_take_delivered (after a poll or flush served its report).
 */
int drv_kprod_send_tracked(drv_kprod_t *kp, const char *topic,
                           int32_t partition, const char *key,
                           const void *value, size_t len,
                           const drv_kheader_t *headers, size_t header_cnt,
                           int64_t id, char *errstr, size_t errstr_size);

/**
 * @brief The ids of tracked messages acknowledged since the last call.
 * @returns how many; *ids (free() it) holds them, NULL when none.
 */
size_t drv_kprod_take_delivered(drv_kprod_t *kp, int64_t **ids);

/**
 * @brief Wait until every queued message is delivered or failed.
 * @returns 0 when all were delivered since the last flush, -1 with the
 *          first delivery error otherwise.
 */
int drv_kprod_flush(drv_kprod_t *kp, int timeout_ms, char *errstr,
                    size_t errstr_size);

/** @brief Serve delivery reports without blocking. */
void drv_kprod_poll(drv_kprod_t *kp);

/* ---- consumer ---------------------------------------------------------- */

typedef struct drv_kcons drv_kcons_t;
typedef struct drv_kmsg drv_kmsg_t;

/**
 * Called on partition assignment; returns the offset to start each
 * partition at (or -1000 for the committed offset, -2 for the beginning).
 */
typedef int64_t(drv_kcons_offset_cb)(const char *topic, int32_t partition,
                                     void *opaque);

/**
 * @brief A consumer in `group`. With offset_cb, offsets are managed by the
 * caller (auto commit off, assignment positions from the callback); without
 * it, offsets stored with drv_kcons_store are committed automatically.
 */
drv_kcons_t *drv_kcons_new(const drv_conf_t *conf, drv_log_t *log,
                           const char *group, drv_kcons_offset_cb *offset_cb,
                           void *opaque, char *errstr, size_t errstr_size);
void drv_kcons_destroy(drv_kcons_t *kc);

/** @brief Subscribe to topics ("^regex" entries are patterns). */
int drv_kcons_subscribe(drv_kcons_t *kc, const char *const *topics, size_t n,
                        char *errstr, size_t errstr_size);

/**
 * @brief Wait up to timeout_ms for one message.
 * @returns an owned message, or NULL on timeout (transient consumer errors
 *          are logged, not returned).
 */
drv_kmsg_t *drv_kcons_poll(drv_kcons_t *kc, int timeout_ms);

/** @brief Mark msg as processed (committed by auto commit). */
void drv_kcons_store(drv_kcons_t *kc, const drv_kmsg_t *msg);

/** @brief Stop or restart fetching on every assigned partition. */
void drv_kcons_pause(drv_kcons_t *kc, int pause);

/** @brief Fetch msg again later: its partition's position goes back to it
 *         (a message polled while the consumer means to take none). */
void drv_kcons_rewind(drv_kcons_t *kc, const drv_kmsg_t *msg);

/* Consumer lag of every assigned partition (high watermark minus the
 * position, from librdkafka's cached figures; never blocks). */
typedef void(drv_kcons_lag_cb)(const char *topic, int32_t partition,
                               int64_t lag, void *opaque);
void drv_kcons_lag(drv_kcons_t *kc, drv_kcons_lag_cb *cb, void *opaque);

/*
 * Whether this consumer has consumed everything appended, before the
 * call, to every assigned partition of the topics starting with `prefix`,
 * and holds at least one partition of each of `topics` (a topic created a
 * moment ago may not be assigned yet). Asks the brokers for the high
 * watermarks (blocks up to timeout_ms per partition). 1 yes, 0 no, -1 on
 * error (errstr set).
 */
int drv_kcons_caught_up(drv_kcons_t *kc, const char *prefix,
                        const char *const *topics, size_t ntopics,
                        int timeout_ms, char *errstr, size_t errstr_size);

/* Commit the stored offsets now and wait for the broker's answer. */
int drv_kcons_commit(drv_kcons_t *kc, char *errstr, size_t errstr_size);

/** @brief Partitions currently assigned (up to max); returns the count. */
size_t drv_kcons_assignment(drv_kcons_t *kc, int32_t *parts, size_t max);

/** @brief A header's (last) value as a NUL-terminated copy owned by msg,
 * valid until the message is destroyed, or NULL. */
const char *drv_kmsg_header(drv_kmsg_t *msg, const char *name);

void drv_kmsg_destroy(drv_kmsg_t *msg);
const char *drv_kmsg_topic(const drv_kmsg_t *msg);
int32_t drv_kmsg_partition(const drv_kmsg_t *msg);
int64_t drv_kmsg_offset(const drv_kmsg_t *msg);
const void *drv_kmsg_value(const drv_kmsg_t *msg, size_t *len);
/** @brief The key as a NUL-terminated copy (owned by msg), or NULL. */
const char *drv_kmsg_key(drv_kmsg_t *msg);

/* ---- admin ------------------------------------------------------------- */

/**
 * @brief Create topics that do not exist yet (existing ones are fine),
 * with topic.partitions and topic.replication from conf.
 */
int drv_kafka_create_topics(const drv_conf_t *conf, const char *const *names,
                            size_t n, int partitions, char *errstr,
                            size_t errstr_size);

#endif
