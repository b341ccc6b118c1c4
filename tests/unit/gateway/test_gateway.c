/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's request handling without a socket (drv_gw_handle): every
 * reply is JSON in valid UTF-8, whatever the request echoes, and an
 * unserializable reply is a fixed 500, not a crash. */
#define _GNU_SOURCE /* strcasecmp */
#include <check.h>
#include <string.h>
#include <strings.h>

#include "check_main.h"
#include "drover/err.h"
#include "drover/util.h"
#include "gateway.h"

typedef struct hdrs {
    const char *names[8], *values[8];
} hdrs_t;

static const char *hdr(void *opaque, const char *name)
{
    const hdrs_t *h = opaque;
    for (int i = 0; i < 8 && h->names[i]; i++) {
        if (!strcasecmp(h->names[i], name)) {
            return h->values[i];
        }
    }
    return NULL;
}

/* The operation call: refuses with a message from the input's "say", or
 * answers what "reply" names. */
static json_t *stub(void *opaque, const char *op, json_t *input,
                    drv_err_t *err, char *errstr, size_t errstr_size)
{
    (void)opaque, (void)op;
    const char *reply = json_string_value(json_object_get(input, "reply"));
    if (reply && !strcmp(reply, "unserializable")) {
        return json_pack("{s:o}", "x", json_string_nocheck("\xff\xfe"));
    }
    const char *say = json_string_value(json_object_get(input, "say"));
    *err = DRV_ERR_INVALID;
    drv_errstr_set(errstr, errstr_size, "environment variable %s is reserved",
                   say ? say : "X");
    return NULL;
}

static drv_conf_t *conf; /* the gateway's, until done() */

static drv_gw_t *gw_with(bool auth)
{
    char e[DRV_ERRSTR_SIZE];
    conf = drv_conf_new();
    drv_conf_set(conf, "gateway.auth", auth ? "true" : "false", e, sizeof(e));
    drv_conf_set(conf, "gateway.access.keys", "local:localsecret", e,
                 sizeof(e));
    drv_gw_t *gw = drv_gw_new(conf, NULL, stub, NULL, e, sizeof(e));
    ck_assert_msg(gw != NULL, "%s", e);
    return gw;
}

static void done(drv_gw_t *gw)
{
    drv_gw_stop(gw);
    drv_conf_destroy(conf);
    conf = NULL;
}

/* The reply parses as JSON (so it is valid UTF-8) with this __type. */
static json_t *parsed(const drv_gw_reply_t *reply, unsigned status,
                      const char *type)
{
    ck_assert_uint_eq(reply->status, status);
    json_t *j = json_loadb(reply->body, reply->len, 0, NULL);
    ck_assert_msg(j != NULL, "not JSON: %.*s", (int)reply->len, reply->body);
    if (type) {
        ck_assert_str_eq(json_string_value(json_object_get(j, "__type")),
                         type);
        ck_assert_str_eq(reply->error_type, type);
    }
    return j;
}

/* the address console_call's requests come from (NULL: unknown) */
static const char *call_peer;

/* One console request: method, path, body, Cookie and X-CSRF-Token
 * (NULL: none). */
static void console_call(drv_gw_t *gw, const char *method, const char *path,
                         const char *body, const char *cookie,
                         const char *csrf, drv_gw_reply_t *reply)
{
    hdrs_t h = {{NULL}, {NULL}};
    int k = 0;
    if (cookie) {
        h.names[k] = "Cookie";
        h.values[k++] = cookie;
    }
    if (csrf) {
        h.names[k] = "X-CSRF-Token";
        h.values[k++] = csrf;
    }
    drv_gw_request_t rq = {.method = method,
                           .path = path,
                           .query = "",
                           .header = hdr,
                           .opaque = &h,
                           .body = body,
                           .body_len = body ? strlen(body) : 0,
                           .peer = call_peer};
    drv_gw_handle(gw, &rq, 1767225600, reply);
}

/* The console: its page without a session, a login only with a key pair
 * of gateway.access.keys, the session's cookie (HttpOnly, SameSite=Strict,
 * expiring), operations only with the session and its CSRF token, and a
 * logout that ends the session. */
START_TEST(test_gateway_console_sessions)
{
    drv_gw_t *gw = gw_with(true);
    drv_gw_reply_t r;
    console_call(gw, "GET", "/console/", NULL, NULL, NULL, &r);
    ck_assert_uint_eq(r.status, 200);
    ck_assert(r.console && strstr(r.content_type, "text/html"));
    ck_assert_ptr_nonnull(strstr(r.body, "/console/console.js"));
    drv_gw_reply_cleanup(&r);
    console_call(gw, "GET", "/console/../etc/passwd", NULL, NULL, NULL, &r);
    ck_assert_uint_eq(r.status, 404);
    drv_gw_reply_cleanup(&r);
    console_call(gw, "POST", "/console/api/DescribeJobQueues", "{}", NULL,
                 NULL, &r);
    json_decref(parsed(&r, 401, "UnrecognizedClientException"));
    drv_gw_reply_cleanup(&r);
    console_call(gw, "POST", "/console/login",
                 "{\"accessKeyId\":\"local\",\"secretAccessKey\":\"nope\"}",
                 NULL, NULL, &r);
    json_decref(parsed(&r, 401, "UnrecognizedClientException"));
    ck_assert_ptr_null(r.set_cookie);
    drv_gw_reply_cleanup(&r);
    /* hostile logins: a NUL after the key id or the secret, no JSON,
     * invalid UTF-8: refused, no session */
    const char *bad[] = {
        "{\"accessKeyId\":\"local\\u0000x\",\"secretAccessKey\":"
        "\"localsecret\"}",
        "{\"accessKeyId\":\"local\",\"secretAccessKey\":"
        "\"localsecret\\u0000\"}",
        "not json", "{\"accessKeyId\":\"\xff\xfe\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        console_call(gw, "POST", "/console/login", bad[i], NULL, NULL, &r);
        json_decref(parsed(&r, 401, "UnrecognizedClientException"));
        ck_assert_ptr_null(r.set_cookie);
        drv_gw_reply_cleanup(&r);
    }
    console_call(gw, "POST", "/console/login",
                 "{\"accessKeyId\":\"local\",\"secretAccessKey\":"
                 "\"localsecret\"}",
                 NULL, NULL, &r);
    json_t *j = parsed(&r, 200, NULL);
    char csrf[80], cookie[200];
    snprintf(csrf, sizeof(csrf), "%s",
             json_string_value(json_object_get(j, "csrfToken")));
    json_decref(j);
    ck_assert_uint_eq(strlen(csrf), 64);
    ck_assert_ptr_nonnull(r.set_cookie);
    ck_assert(strstr(r.set_cookie, "HttpOnly") &&
              strstr(r.set_cookie, "SameSite=Strict") &&
              strstr(r.set_cookie, "Max-Age=28800") &&
              strstr(r.set_cookie, "Path=/console"));
    snprintf(cookie, sizeof(cookie), "other=1; %.*s", 79, r.set_cookie);
    drv_gw_reply_cleanup(&r);
    /* the session without its CSRF token, with another, with its own */
    console_call(gw, "POST", "/console/api/DescribeJobQueues",
                 "{\"say\":\"Q\"}", cookie, NULL, &r);
    json_decref(parsed(&r, 403, "AccessDeniedException"));
    drv_gw_reply_cleanup(&r);
    char wrong[80];
    snprintf(wrong, sizeof(wrong), "%s", csrf);
    wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
    console_call(gw, "POST", "/console/api/DescribeJobQueues",
                 "{\"say\":\"Q\"}", cookie, wrong, &r);
    json_decref(parsed(&r, 403, "AccessDeniedException"));
    drv_gw_reply_cleanup(&r);
    console_call(gw, "POST", "/console/api/DescribeJobQueues",
                 "{\"say\":\"Q\"}", cookie, csrf, &r);
    j = parsed(&r, 400, "ClientException"); /* the stub's refusal: called */
    ck_assert_str_eq(json_string_value(json_object_get(j, "message")),
                     "environment variable Q is reserved");
    json_decref(j);
    drv_gw_reply_cleanup(&r);
    console_call(gw, "POST", "/console/api/NoSuchOperation", "{}", cookie,
                 csrf, &r);
    ck_assert_uint_eq(r.status, 404);
    drv_gw_reply_cleanup(&r);
    { /* from another origin, even with the session and its token */
        hdrs_t h = {{"Cookie", "X-CSRF-Token", "Origin", "Host"},
                    {cookie, csrf, "http://evil.example", "127.0.0.1:9080"}};
        drv_gw_request_t rq = {.method = "POST",
                               .path = "/console/api/DescribeJobQueues",
                               .query = "",
                               .header = hdr,
                               .opaque = &h,
                               .body = "{}",
                               .body_len = 2};
        drv_gw_handle(gw, &rq, 1767225600, &r);
        json_decref(parsed(&r, 403, "AccessDeniedException"));
        drv_gw_reply_cleanup(&r);
        h.values[2] = "http://127.0.0.1:9080"; /* its own: called */
        drv_gw_handle(gw, &rq, 1767225600, &r);
        json_decref(parsed(&r, 400, "ClientException"));
        drv_gw_reply_cleanup(&r);
    }
    console_call(gw, "GET", "/console/session", NULL, cookie, NULL, &r);
    j = parsed(&r, 200, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(j, "csrfToken")),
                     csrf);
    json_decref(j);
    drv_gw_reply_cleanup(&r);
    console_call(gw, "POST", "/console/logout", "{}", cookie, csrf, &r);
    ck_assert_uint_eq(r.status, 200);
    ck_assert(strstr(r.set_cookie, "Max-Age=0"));
    drv_gw_reply_cleanup(&r);
    console_call(gw, "POST", "/console/api/DescribeJobQueues", "{}", cookie,
                 csrf, &r);
    json_decref(parsed(&r, 401, "UnrecognizedClientException"));
    drv_gw_reply_cleanup(&r);
    done(gw);
}
END_TEST

/* Ten refused logins from one address make it wait (the right key pair
 * too), with a clear 429; another address still logs in. */
START_TEST(test_gateway_console_login_throttled)
{
    drv_gw_t *gw = gw_with(true);
    drv_gw_reply_t r;
    const char *good = "{\"accessKeyId\":\"local\",\"secretAccessKey\":"
                       "\"localsecret\"}";
    call_peer = "192.0.2.1";
    for (int i = 0; i < 10; i++) {
        console_call(gw, "POST", "/console/login",
                     "{\"accessKeyId\":\"local\",\"secretAccessKey\":"
                     "\"guess\"}",
                     NULL, NULL, &r);
        json_decref(parsed(&r, 401, "UnrecognizedClientException"));
        drv_gw_reply_cleanup(&r);
    }
    console_call(gw, "POST", "/console/login", good, NULL, NULL, &r);
    json_t *j = parsed(&r, 429, "TooManyRequestsException");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(
                                     j, "message")),
                                 "try again in 300 s"));
    json_decref(j);
    ck_assert_ptr_null(r.set_cookie);
    drv_gw_reply_cleanup(&r);
    call_peer = "2001:db8::2";
    console_call(gw, "POST", "/console/login", good, NULL, NULL, &r);
    json_decref(parsed(&r, 200, NULL));
    ck_assert_ptr_nonnull(r.set_cookie);
    drv_gw_reply_cleanup(&r);
    call_peer = NULL;
    done(gw);
}
END_TEST

START_TEST(test_gateway_non_utf8_date_refused)
{
    drv_gw_t *gw = gw_with(true);
    hdrs_t h = {{"Authorization", "X-Amz-Date", "Host"},
                {"AWS4-HMAC-SHA256 Credential=local/20260101/local/batch/"
                 "aws4_request, SignedHeaders=host;x-amz-date, Signature="
                 "00",
                 "\xff\xfe", "localhost"}};
    drv_gw_request_t rq = {.method = "POST",
                           .path = "/v1/describejobs",
                           .query = "",
                           .header = hdr,
                           .opaque = &h,
                           .body = "{}",
                           .body_len = 2};
    drv_gw_reply_t reply;
    drv_gw_handle(gw, &rq, 1767225600, &reply);
    json_t *j = parsed(&reply, 403, "IncompleteSignatureException");
    ck_assert_msg(strstr(json_string_value(json_object_get(j, "message")),
                         "ISO-8601"),
                  "%s", reply.body);
    json_decref(j);
    drv_gw_reply_cleanup(&reply);
    done(gw);
}
END_TEST

START_TEST(test_gateway_message_cut_in_a_character)
{
    drv_gw_t *gw = gw_with(false);
    hdrs_t h = {{NULL}, {NULL}};
    /* AWS_BATCH + 260 x U+00E9: the 512-byte error buffer ends inside an
     * é */
    char body[1024];
    size_t n = (size_t)snprintf(body, sizeof(body), "{\"say\":\"AWS_BATCH");
    for (int i = 0; i < 260; i++) {
        body[n++] = '\xc3';
        body[n++] = '\xa9';
    }
    n += (size_t)snprintf(body + n, sizeof(body) - n, "\"}");
    drv_gw_request_t rq = {.method = "POST",
                           .path = "/v1/submitjob",
                           .query = "",
                           .header = hdr,
                           .opaque = &h,
                           .body = body,
                           .body_len = n};
    drv_gw_reply_t reply;
    drv_gw_handle(gw, &rq, 0, &reply);
    json_t *j = parsed(&reply, 400, "ClientException");
    ck_assert(drv_str_has_prefix(
        json_string_value(json_object_get(j, "message")),
        "environment variable AWS_BATCH\xc3\xa9"));
    json_decref(j);
    drv_gw_reply_cleanup(&reply);
    done(gw);
}
END_TEST

START_TEST(test_gateway_unserializable_reply_is_500)
{
    drv_gw_t *gw = gw_with(false);
    hdrs_t h = {{NULL}, {NULL}};
    const char *body = "{\"reply\":\"unserializable\"}";
    drv_gw_request_t rq = {.method = "POST",
                           .path = "/v1/listjobs",
                           .query = "",
                           .header = hdr,
                           .opaque = &h,
                           .body = body,
                           .body_len = strlen(body)};
    drv_gw_reply_t reply;
    drv_gw_handle(gw, &rq, 0, &reply);
    json_decref(parsed(&reply, 500, "ServerException"));
    drv_gw_reply_cleanup(&reply);
    done(gw);
}
END_TEST

START_TEST(test_gateway_bad_input_refused)
{
    drv_gw_t *gw = gw_with(false);
    hdrs_t h = {{NULL}, {NULL}};
    static const struct {
        const char *method, *path, *query, *body;
        unsigned status;
    } cases[] = {
        {"POST", "/v1/submitjob", "", "{\"a\":\"\xff\"}", 400},
        {"POST", "/v1/submitjob", "", "[1]", 400},
        {"GET", "/v1/nothing", "", "", 404},
        {"GET", "/v1/tags/arn%FF", "", "", 400},
        {"DELETE", "/v1/tags/arn", "tagKeys=%FF", "", 400},
        {"DELETE", "/v1/tags/arn", "tagKeys=a&tagKeys=b", "", 400},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        drv_gw_request_t rq = {.method = cases[i].method,
                               .path = cases[i].path,
                               .query = cases[i].query,
                               .header = hdr,
                               .opaque = &h,
                               .body = cases[i].body,
                               .body_len = strlen(cases[i].body)};
        drv_gw_reply_t reply;
        drv_gw_handle(gw, &rq, 0, &reply);
        json_decref(parsed(&reply, cases[i].status, "ClientException"));
        drv_gw_reply_cleanup(&reply);
    }
    done(gw);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gateway");
    TCase *tc = tcase_create("replies");
    tcase_add_test(tc, test_gateway_non_utf8_date_refused);
    tcase_add_test(tc, test_gateway_console_sessions);
    tcase_add_test(tc, test_gateway_console_login_throttled);
    tcase_add_test(tc, test_gateway_message_cut_in_a_character);
    tcase_add_test(tc, test_gateway_unserializable_reply_is_500);
    tcase_add_test(tc, test_gateway_bad_input_refused);
    suite_add_tcase(s, tc);
    return drv_test_run(s);
}
