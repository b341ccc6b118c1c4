/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus metrics and the /healthz and /metrics endpoints
 * (libmicrohttpd). A registry holds counter and gauge families with
 * labelled samples; any thread may update it; the HTTP thread renders it in
 * the text exposition format.
 */
#ifndef DRV_METRICS_H
#define DRV_METRICS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct drv_metrics drv_metrics_t;
typedef struct drv_http drv_http_t;

drv_metrics_t *drv_metrics_new(void);
void drv_metrics_destroy(drv_metrics_t *m);

/* Declare a family: type "counter" or "gauge". */
void drv_metrics_declare(drv_metrics_t *m, const char *name, const char *type,
                         const char *help);

/* One metric family of a program's table: drv_metrics_declare_all. */
typedef struct drv_metric_family {
    const char *name, *type, *help;
} drv_metric_family_t;

/** @brief drv_metrics_declare for each of the n families of a table. */
void drv_metrics_declare_all(drv_metrics_t *m,
                             const drv_metric_family_t *families, size_t n);
/* Add to a sample (labels: Prometheus label text without braces, e.g.
 * `queue="default"`, or NULL). */
void drv_metrics_add(drv_metrics_t *m, const char *name, const char *labels,
                     double v);
/* Set a sample. */
void drv_metrics_set(drv_metrics_t *m, const char *name, const char *labels,
                     double v);
/* Drop every sample of a family (before setting a fresh set of gauges). */
void drv_metrics_reset(drv_metrics_t *m, const char *name);
/* drover_kafka_consumer_lag{topic,partition} from a consumer's
 * assignment (declare the family first). */
struct drv_kcons;
void drv_metrics_kafka_lag(drv_metrics_t *m, struct drv_kcons *kc);

/* Parse "HOST:PORT" (IPv4; empty host: any) for setting `key`. */
struct sockaddr_in;
int drv_listen_addr(const char *key, const char *listen,
                    struct sockaddr_in *addr, char *errstr,
                    size_t errstr_size);

/* The exposition text (caller frees). */
char *drv_metrics_render(drv_metrics_t *m);

/* /healthz answers 200 with the text when it returns true, else 503. */
typedef bool(drv_health_fn)(void *opaque, char *text, size_t size);

/* Serve /metrics and /healthz on `listen` ("host:port"). NULL with errstr
 * if the address cannot be used. */
drv_http_t *drv_http_start(const char *listen, drv_metrics_t *m,
                           drv_health_fn *health, void *opaque, char *errstr,
                           size_t errstr_size);
void drv_http_stop(drv_http_t *h);

#endif
