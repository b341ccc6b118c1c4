/* SPDX-License-Identifier: Apache-2.0 */
/*
 * drover-gateway: AWS Batch's REST-JSON API over HTTP (libmicrohttpd), so
 * boto3 and the aws CLI drive Drover. Every operation goes through the
 * producer library (drv_client_call): the same validation, no second path
 * to the job state. Requests are verified with SigV4 against the access
 * keys in gateway.access.keys unless gateway.auth is false.
 *
 * The request handling is drv_gw_handle, which needs no socket: the HTTP
 * side (drv_gw_start) only gathers a request, bounded in connections, time
 * and memory, and sends back what drv_gw_handle answers. Tests and the
 * fuzz target call drv_gw_handle directly with their own operation call.
 *
 * Thread safety: drv_gw_handle runs on several threads at once (one per
 * connection); the default call takes a client from the gateway's pool
 * (gateway.clients, each its own PostgreSQL session and Kafka producer),
 * so requests run side by side and none waits on another's call.
 */
#ifndef DRV_GATEWAY_H
#define DRV_GATEWAY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drover/conf.h"
#include "drover/err.h"
#include "drover/log.h"

typedef struct drv_gw drv_gw_t;

/** One HTTP request, as sent (all borrowed for the call). */
typedef struct drv_gw_request {
    const char *method;
    const char *path;  /* still percent-encoded */
    const char *query; /* without '?', still percent-encoded ("" if none) */
    /* a header's value by name, case-insensitive (NULL if absent) */
    const char *(*header)(void *opaque, const char *name);
    void *opaque;
    const char *body; /* NUL-terminated after body_len bytes, or NULL */
    size_t body_len;
    bool body_too_big; /* the body was over the limit and not kept */
    const char *peer;  /* the client's address, or NULL if unknown */
} drv_gw_request_t;

/** What to answer: a status and a JSON body (always valid UTF-8). */
typedef struct drv_gw_reply {
    unsigned status;
    char *body;             /* owned: release with drv_gw_reply_cleanup */
    size_t len;
    const char *error_type; /* static: x-amzn-ErrorType, or NULL */
    const char *content_type; /* static; NULL: application/json */
    char *set_cookie;         /* owned; NULL: none (the console's) */
    bool console; /* the console's: its security headers (CSP ...) */
} drv_gw_reply_t;

/** An operation call: drv_client_call's contract. */
typedef json_t *(drv_gw_call_fn)(void *opaque, const char *operation,
                                 json_t *input, drv_err_t *err, char *errstr,
                                 size_t errstr_size);

/**
 * @brief A gateway that does not listen: keys and auth from conf.
 * @param call NULL: drv_client_call on the gateway's own client, under its
 *        lock; else this function with `opaque` (tests, fuzzing).
 * @returns the gateway (owned: drv_gw_stop) or NULL with errstr set.
 * @remark conf and log are borrowed until drv_gw_stop.
 */
drv_gw_t *drv_gw_new(const drv_conf_t *conf, drv_log_t *log,
                     drv_gw_call_fn *call, void *opaque, char *errstr,
                     size_t errstr_size);

/**
 * @brief Answer one request at time `now` (epoch seconds): route, SigV4,
 *        the operation call, AWS's error shapes.
 * @param reply filled in; release with drv_gw_reply_cleanup.
 */
void drv_gw_handle(drv_gw_t *gw, const drv_gw_request_t *rq, int64_t now,
                   drv_gw_reply_t *reply);

void drv_gw_reply_cleanup(drv_gw_reply_t *reply);

/* The reply for a JSON body (taken); one that cannot be serialized is a
 * fixed 500. @internal (console.c) */
void drv_gw_reply_json(drv_gw_reply_t *reply, unsigned status, json_t *body,
                       const char *error_type);
/* AWS's error shape, its message made valid UTF-8. @internal */
void drv_gw_reply_error(drv_gw_reply_t *reply, unsigned status,
                        const char *type, const char *message);

/** @brief drv_gw_new with the client library, then serve gateway.listen. */
drv_gw_t *drv_gw_start(const drv_conf_t *conf, drv_log_t *log, char *errstr,
                       size_t errstr_size);

/** @brief Stop serving (if started) and destroy; accepts NULL. */
void drv_gw_stop(drv_gw_t *gw);

#endif
