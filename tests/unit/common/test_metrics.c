/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for drover/metrics.h: the registry's exposition text and the
 * /metrics and /healthz endpoints, scraped over HTTP with libcurl. */
#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover/err.h"
#include "drover/metrics.h"
#include "check_main.h"

typedef struct body {
    char data[8192];
    size_t len;
} body_t;

static size_t on_data(char *p, size_t size, size_t n, void *opaque)
{
    body_t *b = opaque;
    size_t k = size * n;
    if (b->len + k >= sizeof(b->data)) {
        k = sizeof(b->data) - b->len - 1;
    }
    memcpy(b->data + b->len, p, k);
    b->len += k;
    b->data[b->len] = '\0';
    return size * n;
}

static long get(const char *url, body_t *b)
{
    CURL *c = curl_easy_init();
    memset(b, 0, sizeof(*b));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    long code = -1;
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    }
    curl_easy_cleanup(c);
    return code;
}

static bool healthy;

static bool health(void *opaque, char *text, size_t size)
{
    (void)opaque;
    snprintf(text, size, healthy ? "ok: active" : "unhealthy: test");
    return healthy;
}

START_TEST(test_metrics_render)
{
    drv_metrics_t *m = drv_metrics_new();
    drv_metrics_declare(m, "drover_jobs", "gauge", "jobs by state");
    drv_metrics_declare(m, "drover_transitions_total", "counter", "moves");
    drv_metrics_set(m, "drover_jobs", "queue=\"q\",status=\"RUNNABLE\"", 3);
    drv_metrics_add(m, "drover_transitions_total", NULL, 2);
    drv_metrics_add(m, "drover_transitions_total", NULL, 5);
    drv_metrics_add(m, "undeclared", NULL, 1); /* ignored */
    char *t = drv_metrics_render(m);
    ck_assert_msg(strstr(t, "# TYPE drover_jobs gauge\n"), "%s", t);
    ck_assert_msg(strstr(t, "drover_jobs{queue=\"q\",status=\"RUNNABLE\"} 3\n"),
                  "%s", t);
    ck_assert_msg(strstr(t, "drover_transitions_total 7\n"), "%s", t);
    ck_assert_ptr_null(strstr(t, "undeclared"));
    free(t);
    drv_metrics_reset(m, "drover_jobs");
    t = drv_metrics_render(m);
    ck_assert_ptr_null(strstr(t, "drover_jobs{"));
    ck_assert_msg(strstr(t, "# HELP drover_jobs jobs by state"), "%s", t);
    free(t);
    drv_metrics_destroy(m);
}
END_TEST

START_TEST(test_metrics_http)
{
    char e[DRV_ERRSTR_SIZE], listen[64], url[128];
    drv_metrics_t *m = drv_metrics_new();
    drv_metrics_declare(m, "drover_worker_free_vcpus", "gauge", "free");
    drv_metrics_set(m, "drover_worker_free_vcpus", NULL, 1.5);
    drv_http_t *h = NULL;
    int port = 0;
    for (int i = 0; i < 20 && !h; i++) { /* find a free port */
        port = 20000 + (getpid() * 7 + i * 131) % 30000;
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
        h = drv_http_start(listen, m, health, NULL, e, sizeof(e));
    }
    ck_assert_msg(h, "%s", e);
    body_t b;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    ck_assert_int_eq(get(url, &b), 200);
    ck_assert_msg(strstr(b.data, "drover_worker_free_vcpus 1.5\n"), "%s",
                  b.data);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", port);
    healthy = true;
    ck_assert_int_eq(get(url, &b), 200);
    ck_assert_str_eq(b.data, "ok: active\n");
    healthy = false;
    ck_assert_int_eq(get(url, &b), 503);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/nope", port);
    ck_assert_int_eq(get(url, &b), 404);
    /* the same address twice: a clear error */
    ck_assert_ptr_null(drv_http_start(listen, m, health, NULL, e, sizeof(e)));
    ck_assert_msg(strstr(e, "cannot serve metrics"), "%s", e);
    drv_http_stop(h);
    drv_metrics_destroy(m);
}
END_TEST

START_TEST(test_metrics_bad_listen)
{
    char e[DRV_ERRSTR_SIZE];
    drv_metrics_t *m = drv_metrics_new();
    ck_assert_ptr_null(drv_http_start("nonsense", m, NULL, NULL, e, sizeof(e)));
    ck_assert_msg(strstr(e, "HOST:PORT"), "%s", e);
    ck_assert_ptr_null(drv_http_start("localhost:80", m, NULL, NULL, e,
                                      sizeof(e)));
    ck_assert_msg(strstr(e, "IPv4"), "%s", e);
    drv_metrics_destroy(m);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, test_metrics_render);
    tcase_add_test(tc, test_metrics_http);
    tcase_add_test(tc, test_metrics_bad_listen);
    suite_add_tcase(s, tc);
    int rc = drv_test_run(s);
    curl_global_cleanup();
    return rc;
}
