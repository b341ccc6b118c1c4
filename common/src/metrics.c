/* SPDX-License-Identifier: Apache-2.0 */
/* Metrics registry and the HTTP endpoints: see drover/metrics.h. */
#include "drover/metrics.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover/err.h"
#include "drover/kafka.h"
#include "drover/util.h"

struct drv_metrics {
    pthread_mutex_t lock;
    json_t *families; /* name -> {"type", "help", "samples": {labels: v}} */
};

drv_metrics_t *drv_metrics_new(void)
{
    drv_metrics_t *m = drv_calloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    m->families = json_object();
    return m;
}

void drv_metrics_destroy(drv_metrics_t *m)
{
    if (!m) {
        return;
    }
    json_decref(m->families);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void drv_metrics_declare(drv_metrics_t *m, const char *name, const char *type,
                         const char *help)
{
    pthread_mutex_lock(&m->lock);
    if (!json_object_get(m->families, name)) {
        json_object_set_new(m->families, name,
                            json_pack("{s:s,s:s,s:{}}", "type", type, "help",
                                      help, "samples"));
    }
    pthread_mutex_unlock(&m->lock);
}

void drv_metrics_declare_all(drv_metrics_t *m,
                             const drv_metric_family_t *families, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        drv_metrics_declare(m, families[i].name, families[i].type,
                            families[i].help);
    }
}

static void update(drv_metrics_t *m, const char *name, const char *labels,
                   double v, bool add)
{
    pthread_mutex_lock(&m->lock);
    json_t *f = json_object_get(m->families, name);
    if (f) {
        json_t *s = json_object_get(f, "samples");
        const char *key = labels ? labels : "";
        double old = json_number_value(json_object_get(s, key));
        json_object_set_new(s, key, json_real(add ? old + v : v));
    }
    pthread_mutex_unlock(&m->lock);
}

void drv_metrics_add(drv_metrics_t *m, const char *name, const char *labels,
                     double v)
{
    update(m, name, labels, v, true);
}

void drv_metrics_set(drv_metrics_t *m, const char *name, const char *labels,
                     double v)
{
    update(m, name, labels, v, false);
}

void drv_metrics_reset(drv_metrics_t *m, const char *name)
{
    pthread_mutex_lock(&m->lock);
    json_object_clear(json_object_get(json_object_get(m->families, name),
                                      "samples"));
    pthread_mutex_unlock(&m->lock);
}

char *drv_metrics_render(drv_metrics_t *m)
{
    size_t cap = 4096, len = 0;
    char *out = drv_malloc(cap);
    out[0] = '\0';
    pthread_mutex_lock(&m->lock);
    const char *name;
    json_t *f;
    json_object_foreach(m->families, name, f)
    {
        const char *key;
        json_t *v;
        char line[1024];
        int n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n",
                         name,
                         json_string_value(json_object_get(f, "help")), name,
                         json_string_value(json_object_get(f, "type")));
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 1) {
                json_object_foreach(json_object_get(f, "samples"), key, v)
                {
                    n = snprintf(line, sizeof(line), "%s%s%s%s %.17g\n", name,
                                 *key ? "{" : "", key, *key ? "}" : "",
                                 json_number_value(v));
                    if (n > 0 && len + (size_t)n + 1 > cap) {
                        cap = (len + (size_t)n + 1) * 2;
                        out = drv_realloc(out, cap);
                    }
                    if (n > 0 && (size_t)n < sizeof(line)) {
                        memcpy(out + len, line, (size_t)n + 1);
                        len += (size_t)n;
                    }
                }
            } else if (n > 0 && (size_t)n < sizeof(line)) {
                if (len + (size_t)n + 1 > cap) {
                    cap = (len + (size_t)n + 1) * 2;
                    out = drv_realloc(out, cap);
                }
                memcpy(out + len, line, (size_t)n + 1);
                len += (size_t)n;
            }
        }
    }
    pthread_mutex_unlock(&m->lock);
    return out;
}

/* ---- HTTP ---------------------------------------------------------------- */

struct drv_http {
    struct MHD_Daemon *d;
    drv_metrics_t *m;
    drv_health_fn *health;
    void *opaque;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code,
                             const char *type, char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)version, (void)upload, (void)upload_size, (void)state;
    drv_http_t *h = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
                     drv_strdup("only GET\n"));
    }
    if (!strcmp(url, "/metrics")) {
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4",
                     drv_metrics_render(h->m));
    }
    if (!strcmp(url, "/healthz")) {
        char text[512] = "ok";
        bool ok = h->health ? h->health(h->opaque, text, sizeof(text)) : true;
        size_t n = strlen(text);
        char *body = drv_malloc(n + 2);
        memcpy(body, text, n);
        body[n] = '\n';
        body[n + 1] = '\0';
        return reply(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                     "text/plain", body);
    }
    return reply(c, MHD_HTTP_NOT_FOUND, "text/plain",
                 drv_strdup("not found: try /metrics or /healthz\n"));
}

int drv_listen_addr(const char *key, const char *listen,
                    struct sockaddr_in *addr, char *errstr,
                    size_t errstr_size)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    int64_t port;
    if (!colon || (size_t)(colon - listen) >= sizeof(host) ||
        drv_parse_int64(colon + 1, 1, 65535, &port) != 0) {
        drv_errstr_set(errstr, errstr_size, "%s \"%s\": expected HOST:PORT",
                       key, listen);
        return -1;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - listen), listen);
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, *host ? host : "0.0.0.0", &addr->sin_addr) != 1) {
        drv_errstr_set(errstr, errstr_size,
                       "%s \"%s\": not an IPv4 address", key, listen);
        return -1;
    }
    return 0;
}

static void lag_sample(const char *topic, int32_t partition, int64_t lag,
                       void *opaque)
{
    char label[300];
    snprintf(label, sizeof(label), "topic=\"%s\",partition=\"%d\"", topic,
             partition);
    drv_metrics_set(opaque, "drover_kafka_consumer_lag", label, (double)lag);
}

void drv_metrics_kafka_lag(drv_metrics_t *m, drv_kcons_t *kc)
{
    drv_metrics_reset(m, "drover_kafka_consumer_lag");
    drv_kcons_lag(kc, lag_sample, m);
}

drv_http_t *drv_http_start(const char *listen, drv_metrics_t *m,
                           drv_health_fn *health, void *opaque, char *errstr,
                           size_t errstr_size)
{
    struct sockaddr_in addr;
    if (drv_listen_addr("metrics.listen", listen, &addr, errstr,
                        errstr_size) != 0) {
        return NULL;
    }
    drv_http_t *h = drv_calloc(1, sizeof(*h));
    h->m = m;
    h->health = health;
    h->opaque = opaque;
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD,
                            ntohs(addr.sin_port), NULL, NULL, handle, h,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                            MHD_OPTION_END);
    if (!h->d) {
        drv_errstr_set(errstr, errstr_size,
                       "cannot serve metrics on %s (address in use?)", listen);
        free(h);
        return NULL;
    }
    return h;
}

void drv_http_stop(drv_http_t *h)
{
    if (!h) {
        return;
    }
    MHD_stop_daemon(h->d);
    free(h);
}
