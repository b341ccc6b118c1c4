/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's request handling (routing, SigV4, AWS error shapes) and its
 * HTTP side: see gateway.h. */
#define _GNU_SOURCE
#include "gateway.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drover/aws_model.h"
#include "drover/limits.h"
#include "drover/metrics.h"
#include "drover/producer.h"
#include "console.h"
#include "drover/util.h"
#include "sigv4.h"

#define BODY_MAX DRV_HTTP_BODY_MAX

/* What is answered when a reply cannot be serialized (out of memory). */
#define FALLBACK_BODY                                                          \
    "{\"__type\":\"ServerException\",\"message\":\"the reply could not be "   \
    "serialized\"}"

struct drv_gw {
    const drv_conf_t *conf;
    drv_log_t *log;
    struct MHD_Daemon *d;
    /* the clients requests share, each one PostgreSQL session and one
     * Kafka producer, used by one request at a time: made on demand up to
     * max_clients, idle ones kept (under lock) */
    pthread_mutex_t lock;
    pthread_cond_t freed;
    drv_client_t **idle;
    size_t nidle, nclients, max_clients;
    drv_gw_call_fn *call;
    void *call_opaque;
    bool auth;
    json_t *keys; /* access key id -> secret */
    drv_console_t *console;
    int64_t body_timeout_ms;
    /* requests whose headers are still coming (under plock): the
     * watchdog shuts down a connection past its header deadline */
    int64_t header_timeout_ms;
    pthread_mutex_t plock;
    struct pending {
        struct MHD_Connection *c;
        int fd;
        int64_t deadline_ms; /* 0: its headers are in */
    } *pend;
    size_t npend, cap;
    pthread_t watchdog;
    bool watching;
    _Atomic bool stopping;
};

/* The reply for a JSON body (taken); a body that cannot be serialized
 * becomes a fixed 500, never a NULL text. */
void drv_gw_reply_json(drv_gw_reply_t *reply, unsigned status, json_t *body,
                       const char *error_type)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        status = 500;
        error_type = "ServerException";
        text = drv_strdup(FALLBACK_BODY);
    }
    reply->status = status;
    reply->body = text;
    reply->len = strlen(text);
    reply->error_type = error_type;
}

/* AWS's error shape. The message may echo what the client sent, or have
 * been cut by a fixed buffer inside a character: it is made valid UTF-8
 * here, the one place a message becomes JSON. */
void drv_gw_reply_error(drv_gw_reply_t *reply, unsigned status,
                        const char *type, const char *message)
{
    char clean[2 * DRV_ERRSTR_SIZE];
    drv_utf8_copy(clean, sizeof(clean), message, strlen(message));
    drv_gw_reply_json(reply, status,
               json_pack("{s:s,s:s}", "__type", type, "message", clean), type);
}

void drv_gw_reply_cleanup(drv_gw_reply_t *reply)
{
    DRV_FREE(reply->body);
    DRV_FREE(reply->set_cookie);
    reply->len = 0;
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

static const char *secret_of(void *opaque, const char *key_id)
{
    drv_gw_t *gw = opaque;
    return json_string_value(json_object_get(gw->keys, key_id));
}

/* The body as a JSON object, or NULL with why set. */
static json_t *body_object(const drv_gw_request_t *rq, bool empty_ok,
                           char *why, size_t why_size)
{
    json_t *in = NULL;
    if (rq->body_len) {
        in = json_loadb(rq->body, rq->body_len, 0, NULL);
    } else if (empty_ok) {
        in = json_object();
    }
    if (!json_is_object(in)) {
        json_decref(in);
        drv_errstr_set(why, why_size, "the request body is not a JSON "
                                      "object (UTF-8, no NUL)");
        return NULL;
    }
    return in;
}

/* tagKeys=a&tagKeys=b from the query (values still escaped). */
static json_t *tag_keys(const char *query)
{
    json_t *keys = json_array();
    char *q = drv_strdup(query ? query : ""), *save = NULL;
    for (char *t = strtok_r(q, "&", &save); t; t = strtok_r(NULL, "&", &save)) {
        if (drv_str_has_prefix(t, "tagKeys=")) {
            char *k = decode(t + 8);
            json_t *j = json_string(k);
            free(k);
            if (!j) {
                json_decref(keys);
                keys = NULL;
                break;
            }
            json_array_append_new(keys, j);
        }
    }
    free(q);
    return keys;
}

/* The tagging operations on /v1/tags/{resourceArn}. */
static const char *route_tags(const drv_gw_request_t *rq, json_t **input,
                              char *why, size_t why_size)
{
    char *arn_s = decode(rq->path + 9);
    json_t *arn = json_string(arn_s);
    const char *op = NULL;
    free(arn_s);
    if (!strcmp(rq->method, "GET")) {
        op = "ListTagsForResource";
        *input = json_object();
    } else if (!strcmp(rq->method, "POST")) {
        op = "TagResource";
        *input = body_object(rq, false, why, why_size);
    } else if (!strcmp(rq->method, "DELETE")) {
        op = "UntagResource";
        json_t *keys = tag_keys(rq->query);
        *input = keys ? json_pack("{s:o}", "tagKeys", keys) : NULL;
        if (!keys) {
            drv_errstr_set(why, why_size, "tagKeys are not valid UTF-8");
        }
    }
    if (*input && !arn) {
        drv_errstr_set(why, why_size, "the resource ARN in the path is not "
                                      "valid UTF-8");
        json_decref(*input);
        *input = NULL;
    } else if (*input) {
        json_object_set(*input, "resourceArn", arn);
    }
    json_decref(arn);
    return op;
}

/* The request as AWS's operation and its JSON input, routed by the
 * model's HTTP bindings (every operation of the API, so one Drover does
 * not serve is refused by name, not 404); NULL op = no route; a NULL input
 * with an op: why says what is wrong with it. */
static const char *route(const drv_gw_request_t *rq, json_t **input,
                         char *why, size_t why_size)
{
    *input = NULL;
    const char *target = rq->header(rq->opaque, "X-Amz-Target");
    if (target) { /* a JSON protocol service (Logs): POST / and its target */
        for (size_t i = 0; i < drv_model_nops; i++) {
            const drv_model_op_t *op = &drv_model_ops[i];
            if (op->target && !strcmp(op->target, target) &&
                !strcmp(rq->method, "POST") && !strcmp(rq->path, "/")) {
                *input = body_object(rq, false, why, why_size);
                return op->name;
            }
        }
        return NULL;
    }
    for (size_t i = 0; i < drv_model_nops; i++) {
        const drv_model_op_t *op = &drv_model_ops[i];
        if (op->target || strcmp(op->method, rq->method)) {
            continue;
        }
        if (!strcmp(op->uri, rq->path)) {
            *input = body_object(rq, true, why, why_size);
            return op->name;
        }
    }
    if (drv_str_has_prefix(rq->path, "/v1/tags/") && rq->path[9]) {
        return route_tags(rq, input, why, why_size);
    }
    return NULL;
}

/* A JSON protocol request (the Logs API): it names its operation in
 * X-Amz-Target and is answered with that protocol's content type and
 * error names. */
static bool json_protocol(const drv_gw_request_t *rq)
{
    return rq->header(rq->opaque, "X-Amz-Target") != NULL;
}

/* The SigV4 service a request is signed for, from the model: that of the
 * operations whose X-Amz-Target has the request's prefix (before the
 * '.'; an operation Drover does not serve is still signed for its
 * service), else the REST API's. */
static const char *service_of(const drv_gw_request_t *rq)
{
    const char *target = rq->header(rq->opaque, "X-Amz-Target");
    size_t n = target ? strcspn(target, ".") : 0;
    for (size_t i = 0; target && i < drv_model_nops; i++) {
        const char *t = drv_model_ops[i].target;
        if (t && !strncmp(t, target, n) && t[n] == '.') {
            return drv_model_ops[i].service;
        }
    }
    return "batch";
}

/* The SigV4 check: 0, or -1 with the reply filled in. */
static int authenticate(drv_gw_t *gw, const drv_gw_request_t *rq,
                        int64_t now, drv_gw_reply_t *reply)
{
    drv_sigv4_req_t sr = {
        .method = rq->method,
        .raw_path = rq->path,
        .raw_query = rq->query ? rq->query : "",
        .authorization = rq->header(rq->opaque, "Authorization"),
        .amz_date = rq->header(rq->opaque, "X-Amz-Date"),
        .content_sha256 = rq->header(rq->opaque, "X-Amz-Content-Sha256"),
        .body = rq->body,
        .body_len = rq->body_len,
        .header = rq->header,
        .opaque = rq->opaque};
    const char *code = NULL;
    char why[DRV_ERRSTR_SIZE];
    if (drv_sigv4_verify(&sr, service_of(rq), now,
                         secret_of, gw, &code, why, sizeof(why)) == 0) {
        return 0;
    }
    drv_log(gw->log, DRV_LOG_WARN, "gateway.denied", NULL, "%s %s: %s: %s",
            rq->method, rq->path, code, why);
    drv_gw_reply_error(reply, 403, code, why);
    return -1;
}

static void handle(drv_gw_t *gw, const drv_gw_request_t *rq, int64_t now,
                   drv_gw_reply_t *reply)
{
    if (rq->body_too_big) {
        drv_gw_reply_error(reply, 413, "ClientException",
                    "the request body exceeds 1 MiB");
        return;
    }
    if (gw->auth && authenticate(gw, rq, now, reply) != 0) {
        return;
    }
    json_t *input = NULL;
    char why[DRV_ERRSTR_SIZE] = "";
    bool logs = json_protocol(rq);
    const char *op = route(rq, &input, why, sizeof(why));
    if (!op && logs) {
        drv_gw_reply_error(reply, 400, "UnknownOperationException",
                    "Drover serves GetLogEvents, FilterLogEvents and "
                    "DescribeLogStreams of the CloudWatch Logs API");
        return;
    }
    if (!op) {
        drv_gw_reply_error(reply, 404, "ClientException",
                    "no such AWS Batch operation");
        return;
    }
    if (!input) {
        drv_gw_reply_error(reply, 400,
                    logs ? "InvalidParameterException" : "ClientException",
                    why);
        return;
    }
    char e[DRV_ERRSTR_SIZE] = "";
    drv_err_t err = DRV_ERR_FATAL;
    json_t *out = gw->call(gw->call_opaque, op, input, &err, e, sizeof(e));
    json_decref(input);
    if (out) {
        /* the reply against the model, strictly (required members and
         * enums too): a mismatch is a Drover bug, logged for the tests
         * (tests/e2e/run fails on any) and for operators */
        char bad[DRV_ERRSTR_SIZE];
        const drv_model_op_t *mop = drv_model_op(op);
        if (mop && drv_model_check_response(mop, out, bad, sizeof(bad)) != 0) {
            drv_log(gw->log, DRV_LOG_ERROR, "gateway.model_mismatch", NULL,
                    "%s: the reply does not match the AWS model: %s", op,
                    bad);
        }
        drv_gw_reply_json(reply, 200, out, NULL);
        return;
    }
    bool client_fault = err == DRV_ERR_INVALID || err == DRV_ERR_NOTFOUND ||
                        err == DRV_ERR_EXISTS;
    drv_log(gw->log, client_fault ? DRV_LOG_INFO : DRV_LOG_ERROR,
            "gateway.refused", NULL, "%s: %s", op, e);
    const char *type = client_fault ? "ClientException" : "ServerException";
    if (logs) { /* the Logs API's own names for the same faults */
        type = err == DRV_ERR_NOTFOUND ? "ResourceNotFoundException"
               : client_fault          ? "InvalidParameterException"
                                       : "ServiceUnavailableException";
    }
    drv_gw_reply_error(reply, client_fault ? 400 : 500, type, e);
}

void drv_gw_handle(drv_gw_t *gw, const drv_gw_request_t *rq, int64_t now,
                   drv_gw_reply_t *reply)
{
    memset(reply, 0, sizeof(*reply));
    if (drv_console_handle(gw->console, rq, now * 1000, gw->call,
                           gw->call_opaque, reply)) {
        return; /* its own login and sessions, not SigV4 */
    }
    handle(gw, rq, now, reply);
    if (json_protocol(rq)) {
        reply->content_type = "application/x-amz-json-1.1";
    }
}

/* The default operation call: the client library, on a client of the
 * pool (waiting for one while all are busy). */
static json_t *client_call(void *opaque, const char *operation, json_t *input,
                           drv_err_t *err, char *errstr, size_t errstr_size)
{
    drv_gw_t *gw = opaque;
    drv_client_t *client = NULL;
    pthread_mutex_lock(&gw->lock);
    while (gw->nidle == 0 && gw->nclients == gw->max_clients) {
        pthread_cond_wait(&gw->freed, &gw->lock);
    }
    if (gw->nidle > 0) {
        client = gw->idle[--gw->nidle];
    } else {
        gw->nclients++;
    }
    pthread_mutex_unlock(&gw->lock);
    if (!client) {
        client = drv_client_new(gw->conf, gw->log);
    }
    json_t *out = drv_client_call(client, operation, input, err, errstr,
                                  errstr_size);
    pthread_mutex_lock(&gw->lock);
    gw->idle[gw->nidle++] = client;
    pthread_cond_signal(&gw->freed);
    pthread_mutex_unlock(&gw->lock);
    return out;
}

static int parse_keys(drv_gw_t *gw, const char *keys_s, char *errstr,
                      size_t errstr_size)
{
    char *keys = drv_strdup(keys_s ? keys_s : ""), *s2 = NULL;
    int ret = -1;
    for (char *kv = strtok_r(keys, ", ", &s2); kv;
         kv = strtok_r(NULL, ", ", &s2)) {
        char *c2 = strchr(kv, ':');
        if (!c2 || c2 == kv || !c2[1]) {
            drv_errstr_set(errstr, errstr_size,
                           "gateway.access.keys: expected KEY:SECRET pairs");
            goto out;
        }
        *c2 = '\0';
        json_t *secret = json_string(c2 + 1);
        if (!secret || json_object_set_new(gw->keys, kv, secret) != 0) {
            drv_errstr_set(errstr, errstr_size,
                           "gateway.access.keys: keys must be UTF-8");
            goto out;
        }
    }
    ret = 0;
out:
    OPENSSL_cleanse(keys, strlen(keys_s ? keys_s : ""));
    free(keys);
    return ret;
}

drv_gw_t *drv_gw_new(const drv_conf_t *conf, drv_log_t *log,
                     drv_gw_call_fn *call, void *opaque, char *errstr,
                     size_t errstr_size)
{
    drv_gw_t *gw = drv_calloc(1, sizeof(*gw));
    gw->conf = conf;
    gw->log = log;
    gw->auth = drv_conf_get_bool(conf, "gateway.auth");
    gw->keys = json_object();
    gw->body_timeout_ms =
        drv_conf_get_int(conf, "gateway.body.timeout.seconds") * 1000;
    pthread_mutex_init(&gw->lock, NULL);
    pthread_cond_init(&gw->freed, NULL);
    pthread_mutex_init(&gw->plock, NULL);
    atomic_init(&gw->stopping, false);
    if (parse_keys(gw, drv_conf_get(conf, "gateway.access.keys"), errstr,
                   errstr_size) != 0) {
        goto fail;
    }
    if (gw->auth && json_object_size(gw->keys) == 0) {
        drv_errstr_set(errstr, errstr_size,
                       "gateway.auth is on but gateway.access.keys is empty");
        goto fail;
    }
    gw->console = drv_console_new(gw->keys, log);
    if (call) {
        gw->call = call;
        gw->call_opaque = opaque;
    } else {
        gw->max_clients = (size_t)drv_conf_get_int(conf, "gateway.clients");
        gw->idle = drv_calloc(gw->max_clients, sizeof(*gw->idle));
        gw->call = client_call;
        gw->call_opaque = gw;
    }
    return gw;
fail:
    drv_gw_stop(gw);
    return NULL;
}

/* ---- the HTTP side ------------------------------------------------------ */

/* A request being received on a connection. */
typedef struct upload {
    char *body;
    size_t len;
    bool too_big;
    int64_t started_ms; /* the first handler call: the body's deadline */
} upload_t;

static const char *mhd_header(void *opaque, const char *name)
{
    return MHD_lookup_connection_value(opaque, MHD_HEADER_KIND, name);
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
    } else {
        q->s[q->len] = '\0';
    }
    return MHD_YES;
}

static enum MHD_Result send_reply(struct MHD_Connection *c,
                                  drv_gw_reply_t *reply)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        reply->len, reply->body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        drv_gw_reply_cleanup(reply);
        return MHD_NO;
    }
    reply->body = NULL; /* the response owns it */
    char rid[40];
    drv_uuid4(rid);
    MHD_add_response_header(r, "Content-Type",
                            reply->content_type ? reply->content_type
                                                : "application/json");
    if (reply->set_cookie) {
        MHD_add_response_header(r, "Set-Cookie", reply->set_cookie);
    }
    if (reply->console) { /* its own scripts and styles only, no framing */
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'self'; script-src 'self'; "
                                "style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; frame-ancestors "
                                "'none'; base-uri 'none'; form-action "
                                "'self'");
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(r, "Cache-Control", "no-store");
    }
    MHD_add_response_header(r, "x-amzn-RequestId", rid);
    if (reply->error_type) {
        MHD_add_response_header(r, "x-amzn-ErrorType", reply->error_type);
    }
    enum MHD_Result ret = MHD_queue_response(c, reply->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Gather the body (bounded in size and time), then answer. */
/*
 * Header deadlines. libmicrohttpd's connection timeout counts idleness
 * only: a client sending one header byte every few seconds held a
 * connection for minutes. Each connection is listed from its start with a
 * deadline for its request line and headers, cleared when they are all in
 * and set again when a kept-alive connection's request completes; a
 * watchdog shuts down (shutdown(2): libmicrohttpd then closes and forgets
 * it) a connection past its deadline. A connection leaves the list when
 * libmicrohttpd reports it closed, before it closes its socket, so the
 * watchdog never touches a reused descriptor.
 */
static void header_deadline(drv_gw_t *gw, struct MHD_Connection *c,
                            int64_t deadline_ms)
{
    pthread_mutex_lock(&gw->plock);
    for (size_t i = 0; i < gw->npend; i++) {
        if (gw->pend[i].c == c) {
            gw->pend[i].deadline_ms = deadline_ms;
            break;
        }
    }
    pthread_mutex_unlock(&gw->plock);
}

static void on_connection(void *cls, struct MHD_Connection *c,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)socket_context;
    drv_gw_t *gw = cls;
    pthread_mutex_lock(&gw->plock);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (gw->npend == gw->cap) {
            gw->cap = gw->cap ? gw->cap * 2 : 64;
            gw->pend = drv_realloc(gw->pend, gw->cap * sizeof(*gw->pend));
        }
        gw->pend[gw->npend++] = (struct pending){
            .c = c,
            .fd = ci ? ci->connect_fd : -1,
            .deadline_ms = drv_mono_ms() + gw->header_timeout_ms};
    } else {
        for (size_t i = 0; i < gw->npend; i++) {
            if (gw->pend[i].c == c) {
                gw->pend[i] = gw->pend[--gw->npend];
                break;
            }
        }
    }
    pthread_mutex_unlock(&gw->plock);
}

static void *watchdog(void *arg)
{
    drv_gw_t *gw = arg;
    while (!atomic_load(&gw->stopping)) {
        usleep(250 * 1000);
        int64_t now = drv_mono_ms();
        int cut = 0;
        pthread_mutex_lock(&gw->plock);
        for (size_t i = 0; i < gw->npend; i++) {
            struct pending *p = &gw->pend[i];
            if (p->deadline_ms && now > p->deadline_ms && p->fd >= 0) {
                shutdown(p->fd, SHUT_RDWR);
                p->deadline_ms = 0;
                cut++;
            }
        }
        pthread_mutex_unlock(&gw->plock);
        if (cut) {
            drv_log(gw->log, DRV_LOG_WARN, "gateway.header_timeout", NULL,
                    "closed %d connection(s) whose headers took over %" PRId64
                    " s",
                    cut, gw->header_timeout_ms / 1000);
        }
    }
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *data_size, void **state)
{
    (void)version;
    drv_gw_t *gw = cls;
    upload_t *up = *state;
    if (!up) {
        up = drv_calloc(1, sizeof(*up));
        up->started_ms = drv_mono_ms();
        *state = up;
        header_deadline(gw, c, 0); /* the headers are in */
        return MHD_YES;
    }
    if (*data_size) {
        if (drv_mono_ms() - up->started_ms > gw->body_timeout_ms) {
            drv_log(gw->log, DRV_LOG_WARN, "gateway.body_timeout", NULL,
                    "%s %s: the request body took over %" PRId64
                    " s: connection closed",
                    method, url, gw->body_timeout_ms / 1000);
            return MHD_NO; /* a slow upload is cut, whatever its pace */
        }
        if (up->too_big || up->len + *data_size > BODY_MAX) {
            up->too_big = true;
            DRV_FREE(up->body);
            up->len = 0;
        } else {
            up->body = drv_realloc(up->body, up->len + *data_size + 1);
            memcpy(up->body + up->len, data, *data_size);
            up->len += *data_size;
            up->body[up->len] = '\0';
        }
        *data_size = 0;
        return MHD_YES;
    }
    qbuf_t q = {.len = 0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &q);
    char peer[INET6_ADDRSTRLEN] = "";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, peer,
                  sizeof(peer));
    } else if (sa && sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
                  peer, sizeof(peer));
    }
    drv_gw_request_t rq = {.method = method,
                           .path = url,
                           .query = q.s,
                           .header = mhd_header,
                           .opaque = c,
                           .body = up->body,
                           .body_len = up->len,
                           .body_too_big = up->too_big,
                           .peer = peer[0] ? peer : NULL};
    drv_gw_reply_t reply;
    drv_gw_handle(gw, &rq, (int64_t)time(NULL), &reply);
    return send_reply(c, &reply);
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    drv_gw_t *gw = cls;
    if (gw->header_timeout_ms > 0) { /* the next request on it, if any */
        header_deadline(gw, c, drv_mono_ms() + gw->header_timeout_ms);
    }
    upload_t *up = *state;
    if (up) {
        free(up->body);
        free(up);
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
    unsigned conns =
        (unsigned)drv_conf_get_int(conf, "gateway.connections.max");
    drv_gw_t *gw = drv_gw_new(conf, log, NULL, NULL, errstr, errstr_size);
    if (!gw) {
        return NULL;
    }
    gw->header_timeout_ms =
        drv_conf_get_int(conf, "gateway.header.timeout.seconds") * 1000;
    /* a thread per connection (libmicrohttpd's), so a slow request (a
     * client of the pool it waits for, the database, Kafka) never holds up
     * another connection's, as it did with a pool of event-loop threads;
     * every connection bounded in number, per address, idle time and
     * memory (the headers must fit in the connection's memory pool) */
    gw->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
            MHD_USE_AUTO,
        ntohs(addr.sin_port), NULL, NULL, on_request, gw, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, completed, gw,
        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
        MHD_OPTION_CONNECTION_LIMIT, conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)drv_conf_get_int(conf, "gateway.connections.per.address"),
        MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)drv_conf_get_int(conf, "gateway.idle.timeout.seconds"),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)drv_conf_get_int(conf, "gateway.connection.memory.bytes"),
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1024 * 1024),
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, gw, MHD_OPTION_END);
    if (!gw->d) {
        drv_errstr_set(errstr, errstr_size,
                       "cannot listen on %s (address in use?)", listen);
        drv_gw_stop(gw);
        return NULL;
    }
    if (pthread_create(&gw->watchdog, NULL, watchdog, gw) != 0) {
        drv_errstr_set(errstr, errstr_size,
                       "cannot start the gateway's header watchdog");
        drv_gw_stop(gw);
        return NULL;
    }
    gw->watching = true;
    return gw;
}

void drv_gw_stop(drv_gw_t *gw)
{
    if (!gw) {
        return;
    }
    if (gw->watching) {
        atomic_store(&gw->stopping, true);
        pthread_join(gw->watchdog, NULL);
    }
    if (gw->d) {
        MHD_stop_daemon(gw->d);
    }
    free(gw->pend);
    pthread_mutex_destroy(&gw->plock);
    for (size_t i = 0; i < gw->nidle; i++) { /* all are, once MHD stopped */
        drv_client_destroy(gw->idle[i]);
    }
    free(gw->idle);
    drv_console_destroy(gw->console);
    json_decref(gw->keys);
    pthread_cond_destroy(&gw->freed);
    pthread_mutex_destroy(&gw->lock);
    free(gw);
}
