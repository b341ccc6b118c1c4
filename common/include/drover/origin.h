/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a worker's record comes from. Every worker holds a key of its own,
 * derived from the dispatcher's master secret and the worker's identity
 * (its compute environment and id):
 *
 *     key = HMAC-SHA256(master, "drover-worker-key\n" ce "\n" worker)
 *
 * The worker signs each report and heartbeat it produces with it: header
 * `drover.origin` = "<ce>/<worker>", header `drover.sig` = the hex
 * HMAC-SHA256(key, origin "\n" value). The dispatcher, which holds only the
 * master, derives the key of the origin a record names, checks the
 * signature, and then that the record speaks only for that worker. A
 * worker's key lets it sign as itself and nobody else, and the dispatcher
 * keeps no table of keys. (Kafka's ACLs bind the topics: a worker can
 * write drover.status but not read it, so it never sees, and cannot
 * replay, another worker's records.)
 *
 * Ownership: plain values, nothing allocated. Thread safety: reentrant.
 */
#ifndef DRV_ORIGIN_H
#define DRV_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

#define DRV_ORIGIN_KEY_SIZE 32
#define DRV_ORIGIN_SIG_HEX_SIZE (2 * 32 + 1)
#define DRV_ORIGIN_NAME_SIZE (255 + 1 + 255 + 1)
#define DRV_ORIGIN_HEADER "drover.origin"
#define DRV_ORIGIN_SIG_HEADER "drover.sig"

typedef struct drv_origin_key {
    unsigned char k[DRV_ORIGIN_KEY_SIZE];
} drv_origin_key_t;

/** @brief Read a key written as 64 hex digits. @returns 0, or -1 with
 * errstr naming `what` (the configuration key). */
int drv_origin_key_parse(const char *hex, const char *what,
                         drv_origin_key_t *key, char *errstr,
                         size_t errstr_size);

/** @brief The signing key of worker `worker` of compute environment `ce`. */
void drv_origin_derive(const drv_origin_key_t *master, const char *ce,
                       const char *worker, drv_origin_key_t *out);

/** @brief The key as 64 hex digits (out: DRV_ORIGIN_SIG_HEX_SIZE bytes). */
void drv_origin_key_hex(const drv_origin_key_t *key, char *out);

/** @brief "<ce>/<worker>" into out; false if it does not fit. */
bool drv_origin_name(const char *ce, const char *worker, char *out,
                     size_t size);

/** @brief The hex signature of a record produced by `origin`. */
void drv_origin_sign(const drv_origin_key_t *key, const char *origin,
                     const void *value, size_t len, char *sig_hex);

/**
 * @brief Check a record's origin and signature with the master secret.
 * On success ce and worker hold the origin's parts (each at most 255
 * bytes + NUL: ce_size and worker_size >= 256).
 * @returns true if the signature is the origin's; false, with errstr
 * saying why (no origin, malformed, bad signature).
 */
bool drv_origin_verify(const drv_origin_key_t *master, const char *origin,
                       const char *sig_hex, const void *value, size_t len,
                       char *ce, size_t ce_size, char *worker,
                       size_t worker_size, char *errstr, size_t errstr_size);

#endif
