/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's HTTP side: routing, SigV4, AWS error shapes. */
#define _GNU_SOURCE
#include "gateway.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drover/metrics.h"
#include "drover/producer.h"
#include "drover/util.h"
#include "sigv4.h"

#define BODY_MAX (1024 * 1024)

struct drv_gw {
    const drv_conf_t *conf;
    drv_log_t *log;
    struct MHD_Daemon *d;
    pthread_mutex_t lock; /* one client (one PostgreSQL session) at a time */
    drv_client_t *client;
    bool auth;
    json_t *keys; /* access key id -> secret */
};

typedef struct request {
    char *body;
    size_t len;
    bool too_big;
} request_t;

/* The operation for a path, as the botocore model has it. */
static const struct route {
    const char *method, *path, *op;
} routes[] = {
    {"POST", "/v1/submitjob", "SubmitJob"},
    {"POST", "/v1/describejobs", "DescribeJobs"},
    {"POST", "/v1/listjobs", "ListJobs"},
    {"POST", "/v1/canceljob", "CancelJob"},
    {"POST", "/v1/terminatejob", "TerminateJob"},
    {"POST", "/v1/registerjobdefinition", "RegisterJobDefinition"},
    {"POST", "/v1/describejobdefinitions", "DescribeJobDefinitions"},
    {"POST", "/v1/deregisterjobdefinition", "DeregisterJobDefinition"},
    {"POST", "/v1/createjobqueue", "CreateJobQueue"},
    {"POST", "/v1/updatejobqueue", "UpdateJobQueue"},
    {"POST", "/v1/describejobqueues", "DescribeJobQueues"},
    {"POST", "/v1/deletejobqueue", "DeleteJobQueue"},
    {"POST", "/v1/createcomputeenvironment", "CreateComputeEnvironment"},
    {"POST", "/v1/describecomputeenvironments", "DescribeComputeEnvironments"},
    {"POST", "/v1/updatecomputeenvironment", "UpdateComputeEnvironment"},
    {"POST", "/v1/deletecomputeenvironment", "DeleteComputeEnvironment"},
};

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status,
                                 json_t *body, const char *error_type)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(text), text, MHD_RESPMEM_MUST_FREE);
    char rid[40];
    drv_uuid4(rid);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "x-amzn-RequestId", rid);
    if (error_type) {
        MHD_add_response_header(r, "x-amzn-ErrorType", error_type);
    }
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status,
                                  const char *type, const char *message)
{
    return send_json(c, status,
                     json_pack("{s:s,s:s}", "__type", type, "message",
                               message),
                     type);
}

/* Percent-decode a path segment. */
static char *decode(const char *s)
{
    size_t n = strlen(s), k = 0;
    char *out = drv_malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char h[3] = {s[i + 1], s[i + 2], 0};
            out[k++] = (char)strtol(h, NULL, 16);
            i += 2;
        } else {
            out[k++] = s[i];
        }
    }
    out[k] = '\0';
    return out;
}

typedef struct hdr_ctx {
    struct MHD_Connection *c;
} hdr_ctx_t;

static const char *header(void *opaque, const char *name)
{
    hdr_ctx_t *h = opaque;
    return MHD_lookup_connection_value(h->c, MHD_HEADER_KIND, name);
}

static const char *secret_of(void *opaque, const char *key_id)
{
    drv_gw_t *gw = opaque;
    return json_string_value(json_object_get(gw->keys, key_id));
}

/* The raw query string, rebuilt from MHD's (not unescaped) arguments. */
typedef struct qbuf {
    char s[4096];
    size_t len;
} qbuf_t;

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind,
                               const char *key, const char *value)
{
    (void)kind;
    qbuf_t *q = cls;
    int n = snprintf(q->s + q->len, sizeof(q->s) - q->len, "%s%s%s%s",
                     q->len ? "&" : "", key, value ? "=" : "",
                     value ? value : "");
    if (n > 0 && q->len + (size_t)n < sizeof(q->s)) {
        q->len += (size_t)n;
    }
    return MHD_YES;
}

/* The request as AWS's operation and its JSON input; NULL op = no route. */
static const char *route(const char *method, const char *path,
                         struct MHD_Connection *c, const request_t *rq,
                         json_t **input, char *why, size_t why_size)
{
    *input = NULL;
    for (size_t i = 0; i < DRV_ARRAY_SIZE(routes); i++) {
        if (!strcmp(routes[i].method, method) &&
            !strcmp(routes[i].path, path)) {
            json_error_t je;
            *input = rq->len ? json_loadb(rq->body, rq->len, 0, &je)
                             : json_object();
            if (!json_is_object(*input)) {
                snprintf(why, why_size, "the request body is not a JSON "
                                        "object");
                json_decref(*input);
                *input = NULL;
            }
            return routes[i].op;
        }
    }
    if (drv_str_has_prefix(path, "/v1/tags/") && path[9]) {
        char *arn = decode(path + 9);
        const char *op = NULL;
        if (!strcmp(method, "GET")) {
            op = "ListTagsForResource";
            *input = json_pack("{s:s}", "resourceArn", arn);
        } else if (!strcmp(method, "POST")) {
            op = "TagResource";
            *input = rq->len ? json_loadb(rq->body, rq->len, 0, NULL) : NULL;
            if (json_is_object(*input)) {
                json_object_set_new(*input, "resourceArn", json_string(arn));
            } else {
                json_decref(*input);
                *input = NULL;
                snprintf(why, why_size, "the request body is not a JSON "
                                        "object");
            }
        } else if (!strcmp(method, "DELETE")) {
            op = "UntagResource";
            json_t *keys = json_array();
            /* tagKeys=a&tagKeys=b (values are still escaped) */
            qbuf_t q = {.len = 0};
            MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &q);
            char *save = NULL;
            for (char *t = strtok_r(q.s, "&", &save); t;
                 t = strtok_r(NULL, "&", &save)) {
                if (drv_str_has_prefix(t, "tagKeys=")) {
                    char *k = decode(t + 8);
                    json_array_append_new(keys, json_string(k));
                    free(k);
                }
            }
            *input = json_pack("{s:s,s:o}", "resourceArn", arn, "tagKeys",
                               keys);
        }
        free(arn);
        return op;
    }
    return NULL;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    (void)version;
    drv_gw_t *gw = cls;
    request_t *rq = *state;
    if (!rq) {
        *state = drv_calloc(1, sizeof(request_t));
        return MHD_YES;
    }
    if (*upload_size) {
        if (rq->len + *upload_size > BODY_MAX) {
            rq->too_big = true;
        } else {
            rq->body = drv_realloc(rq->body, rq->len + *upload_size + 1);
            memcpy(rq->body + rq->len, upload, *upload_size);
            rq->len += *upload_size;
            rq->body[rq->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->too_big) {
        return send_error(c, 413, "ClientException",
                          "the request body exceeds 1 MiB");
    }
    /* the path as sent (MHD was told not to unescape) */
    if (gw->auth) {
        qbuf_t q = {.len = 0};
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &q);
        hdr_ctx_t hc = {c};
        drv_sigv4_req_t sr = {
            .method = method,
            .raw_path = url,
            .raw_query = q.s,
            .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                         "Authorization"),
            .amz_date = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                    "X-Amz-Date"),
            .content_sha256 = MHD_lookup_connection_value(
                c, MHD_HEADER_KIND, "X-Amz-Content-Sha256"),
            .body = rq->body,
            .body_len = rq->len,
            .header = header,
            .opaque = &hc};
        const char *code = NULL;
        char why[DRV_ERRSTR_SIZE];
        if (drv_sigv4_verify(&sr, "batch", (int64_t)time(NULL), secret_of, gw,
                             &code, why, sizeof(why)) != 0) {
            drv_log(gw->log, DRV_LOG_WARN, "gateway.denied", NULL,
                    "%s %s: %s: %s", method, url, code, why);
            return send_error(c, 403, code, why);
        }
    }
    json_t *input = NULL;
    char why[256] = "";
    const char *op = route(method, url, c, rq, &input, why, sizeof(why));
    if (!op) {
        return send_error(c, 404, "ClientException",
                          "no such AWS Batch operation");
    }
    if (!input) {
        return send_error(c, 400, "ClientException", why);
    }
    char e[DRV_ERRSTR_SIZE];
    drv_err_t err;
    pthread_mutex_lock(&gw->lock);
    json_t *out = drv_client_call(gw->client, op, input, &err, e, sizeof(e));
    pthread_mutex_unlock(&gw->lock);
    json_decref(input);
    if (out) {
        return send_json(c, 200, out, NULL);
    }
    bool client_fault = err == DRV_ERR_INVALID || err == DRV_ERR_NOTFOUND;
    drv_log(gw->log, client_fault ? DRV_LOG_INFO : DRV_LOG_ERROR,
            "gateway.refused", NULL, "%s: %s", op, e);
    return send_error(c, client_fault ? 400 : 500,
                      client_fault ? "ClientException" : "ServerException", e);
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    request_t *rq = *state;
    if (rq) {
        free(rq->body);
        free(rq);
    }
    *state = NULL;
}

/* Keep the path and arguments as sent: SigV4 signs the encoded form. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    return strlen(s);
}

drv_gw_t *drv_gw_start(const drv_conf_t *conf, drv_log_t *log, char *errstr,
                       size_t errstr_size)
{
    const char *listen = drv_conf_get(conf, "gateway.listen");
    struct sockaddr_in addr;
    if (drv_listen_addr("gateway.listen", listen, &addr, errstr,
                        errstr_size) != 0) {
        return NULL;
    }
    drv_gw_t *gw = drv_calloc(1, sizeof(*gw));
    gw->conf = conf;
    gw->log = log;
    gw->auth = drv_conf_get_bool(conf, "gateway.auth");
    gw->keys = json_object();
    pthread_mutex_init(&gw->lock, NULL);
    char keys[4096];
    snprintf(keys, sizeof(keys), "%s",
             drv_conf_get(conf, "gateway.access.keys"));
    for (char *s2, *kv = strtok_r(keys, ", ", &s2); kv;
         kv = strtok_r(NULL, ", ", &s2)) {
        char *c2 = strchr(kv, ':');
        if (!c2 || c2 == kv || !c2[1]) {
            drv_errstr_set(errstr, errstr_size,
                           "gateway.access.keys: expected KEY:SECRET pairs");
            drv_gw_stop(gw);
            return NULL;
        }
        *c2 = '\0';
        json_object_set_new(gw->keys, kv, json_string(c2 + 1));
    }
    if (gw->auth && json_object_size(gw->keys) == 0) {
        drv_errstr_set(errstr, errstr_size,
                       "gateway.auth is on but gateway.access.keys is empty");
        drv_gw_stop(gw);
        return NULL;
    }
    gw->client = drv_client_new(conf, log);
    gw->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
        ntohs(addr.sin_port), NULL, NULL, handle, gw, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, completed, gw,
        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
    if (!gw->d) {
        drv_errstr_set(errstr, errstr_size,
                       "cannot listen on %s (address in use?)", listen);
        drv_gw_stop(gw);
        return NULL;
    }
    return gw;
}

void drv_gw_stop(drv_gw_t *gw)
{
    if (!gw) {
        return;
    }
    if (gw->d) {
        MHD_stop_daemon(gw->d);
    }
    drv_client_destroy(gw->client);
    json_decref(gw->keys);
    pthread_mutex_destroy(&gw->lock);
    free(gw);
}
