/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: a whole HTTP request as drover-gateway handles it
 * (drv_gw_handle), no socket and no database. The input is
 *
 *   METHOD PATH[?QUERY]\n
 *   Name: value\n ...      headers, up to an empty line
 *   \n
 *   body                   the rest, any bytes
 *
 * Each request goes through two gateways: one with SigV4 on and the fixed
 * key local:localsecret at the fixed time 2026-01-01T00:00:00Z (the seeds
 * are signed for it), and one with auth off, so that mutated bodies still
 * reach routing. The operation call is a stub: it runs drv_client_call's
 * own checks (depth) with an operation no table has, so nothing connects,
 * then answers by echoing the input or refusing with a message quoting
 * it. Every reply must be JSON in valid UTF-8 with a status and, if an
 * error, an error type. FUZZ_GATEWAY_PRINT=1 prints each reply (to check
 * what a seed reaches: the signed seeds must pass SigV4).
 */
#define _GNU_SOURCE /* memmem, strcasecmp */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drover/err.h"
#include "drover/producer.h"
#include "gateway.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW 1767225600 /* 2026-01-01T00:00:00Z */
#define MAX_HEADERS 32

typedef struct headers {
    char *names[MAX_HEADERS], *values[MAX_HEADERS];
    int n;
} headers_t;

static const char *header(void *opaque, const char *name)
{
    const headers_t *h = opaque;
    for (int i = 0; i < h->n; i++) {
        if (!strcasecmp(h->names[i], name)) {
            return h->values[i];
        }
    }
    return NULL;
}

static drv_client_t *client; /* never connects: see stub */

static json_t *stub(void *opaque, const char *op, json_t *input,
                    drv_err_t *err, char *errstr, size_t errstr_size)
{
    (void)opaque;
    json_t *none = drv_client_call(client, "FuzzNoOperation", input, err,
                                   errstr, errstr_size);
    if (none || !strstr(errstr, "unknown operation")) {
        return none; /* refused by the client's checks (depth) */
    }
    if (!strncmp(op, "Describe", 8) || !strncmp(op, "List", 4)) {
        return json_pack("{s:s,s:O}", "operation", op, "input", input);
    }
    /* a message quoting the input, cut by the 512-byte buffer */
    const char *k;
    json_t *v;
    const char *quote = "";
    json_object_foreach(input, k, v)
    {
        if (json_is_string(v)) {
            quote = json_string_value(v);
            break;
        }
    }
    *err = op[0] == 'C' ? DRV_ERR_TRANSIENT : DRV_ERR_INVALID;
    drv_errstr_set(errstr, errstr_size, "%s refused: %s", op, quote);
    return NULL;
}

static drv_gw_t *gateway(drv_conf_t *conf, const char *auth)
{
    char e[DRV_ERRSTR_SIZE];
    drv_conf_set(conf, "gateway.auth", auth, e, sizeof(e));
    drv_conf_set(conf, "gateway.access.keys", "local:localsecret", e,
                 sizeof(e));
    drv_gw_t *gw = drv_gw_new(conf, NULL, stub, NULL, e, sizeof(e));
    if (!gw) {
        abort();
    }
    return gw;
}

/* A copy of [p, p + n) as a C string (NULs inside cut it short, as in a
 * header libmicrohttpd hands over). */
static char *cstr(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static void check_reply(const drv_gw_reply_t *reply)
{
    if (getenv("FUZZ_GATEWAY_PRINT")) { /* to see what a seed reaches */
        fprintf(stderr, "%u %.*s\n", reply->status, (int)reply->len,
                reply->body);
    }
    if (reply->console && reply->status == 200 && reply->content_type &&
        !strncmp(reply->content_type, "text/", 5)) {
        return; /* one of the console's embedded pages */
    }
    json_t *j = json_loadb(reply->body, reply->len, 0, NULL);
    if (!j || reply->status < 200 || reply->status > 599 ||
        (reply->status >= 400 &&
         (!reply->error_type ||
          !json_string_value(json_object_get(j, "message"))))) {
        abort(); /* not JSON, not UTF-8, or an error without its shape */
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static drv_conf_t *conf_on, *conf_off;
    static drv_gw_t *gw_on, *gw_off;
    if (!gw_on) {
        conf_on = drv_conf_new();
        conf_off = drv_conf_new();
        gw_on = gateway(conf_on, "true");
        gw_off = gateway(conf_off, "false");
        client = drv_client_new(conf_off, NULL);
    }
    const uint8_t *end = data + size, *p = data;
    const uint8_t *nl = memchr(p, '\n', size);
    if (!nl) {
        return 0;
    }
    char *line = cstr(p, (size_t)(nl - p));
    p = nl + 1;
    char *sp = strchr(line, ' ');
    char *path = sp ? sp + 1 : line + strlen(line);
    if (sp) {
        *sp = '\0';
    }
    char *q = strchr(path, '?');
    if (q) {
        *q++ = '\0';
    }
    headers_t h = {.n = 0};
    while (p < end && *p != '\n' && h.n < MAX_HEADERS) {
        nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *le = nl ? nl : end;
        const uint8_t *colon = memchr(p, ':', (size_t)(le - p));
        if (colon) {
            const uint8_t *v = colon + 1;
            while (v < le && *v == ' ') {
                v++;
            }
            h.names[h.n] = cstr(p, (size_t)(colon - p));
            h.values[h.n] = cstr(v, (size_t)(le - v));
            h.n++;
        }
        p = nl ? nl + 1 : end;
    }
    if (p < end && *p == '\n') {
        p++;
    }
    char *body = cstr(p, (size_t)(end - p));
    drv_gw_request_t rq = {.method = line,
                           .path = path,
                           .query = q ? q : "",
                           .header = header,
                           .opaque = &h,
                           .body = body,
                           .body_len = (size_t)(end - p),
                           .body_too_big = false};
    drv_gw_reply_t reply;
    drv_gw_handle(gw_on, &rq, FUZZ_NOW, &reply);
    check_reply(&reply);
    drv_gw_reply_cleanup(&reply);
    drv_gw_handle(gw_off, &rq, FUZZ_NOW, &reply);
    check_reply(&reply);
    drv_gw_reply_cleanup(&reply);
    free(body);
    for (int i = 0; i < h.n; i++) {
        free(h.names[i]);
        free(h.values[i]);
    }
    free(line);
    return 0;
}
