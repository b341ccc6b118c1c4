/* SPDX-License-Identifier: Apache-2.0 */
/*
 * drover-bench gateway N: N concurrent AWS API clients against
 * drover-gateway ($DROVER_GATEWAY_URL, else gateway.listen), each a thread
 * with its own kept-alive connection, signing every request with SigV4 as
 * the SDKs do (libcurl's own signing, CURLOPT_AWS_SIGV4) with the key in
 * $DROVER_GATEWAY_KEY (KEY:SECRET), else the first of gateway.access.keys.
 *
 *   1. SubmitJob from N clients for a fixed time (to a queue whose
 *      environment no worker serves: the jobs stay queued)
 *   2. DescribeJobs of those jobs from N clients
 *   3. DescribeJobQueues latency on one client while N - 2 others submit
 *      and one asks for the slowest call there is (ListJobs of 1000)
 *
 * One JSON line: rates per second and p50/p99 latencies in ms.
 */
#include "bench.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover/util.h"

enum mode { SUBMIT, DESCRIBE, QUEUES, SLOW };

typedef struct client {
    const char *url, *userpwd, *queue;
    enum mode mode;
    int64_t end_ms;
    json_t *ids; /* SUBMIT: ids made; DESCRIBE: ids to ask for (shared) */
    size_t n, errors, cap;
    double *lat_ms;
    char first_error[256];
} client_t;

typedef struct body {
    char *s;
    size_t len;
} body_t;

static size_t gather(char *p, size_t size, size_t n, void *opaque)
{
    body_t *b = opaque;
    if (b->len + size * n > 1 << 20) {
        return 0;
    }
    b->s = drv_realloc(b->s, b->len + size * n + 1);
    memcpy(b->s + b->len, p, size * n);
    b->len += size * n;
    b->s[b->len] = '\0';
    return size * n;
}

/* One signed POST; the reply's JSON (new ref) or NULL, latency in *ms. */
static json_t *post(CURL *c, const client_t *cl, const char *path,
                    const char *json, double *ms, char *why, size_t why_size)
{
    char url[512];
    body_t b = {0};
    snprintf(url, sizeof(url), "%s%s", cl->url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, gather);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    int64_t t0 = drv_mono_ms();
    CURLcode rc = curl_easy_perform(c);
    *ms = (double)(drv_mono_ms() - t0);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    json_t *r = NULL;
    if (rc != CURLE_OK) {
        snprintf(why, why_size, "%s", curl_easy_strerror(rc));
    } else if (status != 200) {
        snprintf(why, why_size, "HTTP %ld: %.200s", status, b.s ? b.s : "");
    } else {
        r = json_loadb(b.s ? b.s : "", b.len, 0, NULL);
    }
    free(b.s);
    return r;
}

static void *run(void *arg)
{
    client_t *cl = arg;
    CURL *c = curl_easy_init();
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:batch");
    curl_easy_setopt(c, CURLOPT_USERPWD, cl->userpwd);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    char req[1024], why[256];
    size_t k = 0;
    while (drv_mono_ms() < cl->end_ms) {
        const char *path = "/v1/describejobqueues";
        switch (cl->mode) {
        case SUBMIT:
            path = "/v1/submitjob";
            snprintf(req, sizeof(req),
                     "{\"jobName\":\"gw\",\"jobQueue\":\"%s\","
                     "\"jobDefinition\":\"bench\"}",
                     cl->queue);
            break;
        case DESCRIBE:
            path = "/v1/describejobs";
            snprintf(req, sizeof(req), "{\"jobs\":[\"%s\"]}",
                     json_string_value(json_array_get(
                         cl->ids, k++ % json_array_size(cl->ids))));
            break;
        case QUEUES:
            snprintf(req, sizeof(req), "{}");
            break;
        case SLOW:
            path = "/v1/listjobs";
            snprintf(req, sizeof(req),
                     "{\"jobQueue\":\"%s\",\"jobStatus\":\"RUNNABLE\","
                     "\"maxResults\":1000}",
                     cl->queue);
            break;
        }
        double ms;
        json_t *r = post(c, cl, path, req, &ms, why, sizeof(why));
        if (!r) {
            if (!cl->errors++) {
                snprintf(cl->first_error, sizeof(cl->first_error), "%s", why);
            }
            continue;
        }
        if (cl->mode == SUBMIT) {
            json_array_append(cl->ids, json_object_get(r, "jobId"));
        }
        json_decref(r);
        if (cl->n == cl->cap) {
            cl->cap = cl->cap ? cl->cap * 2 : 1024;
            cl->lat_ms = drv_realloc(cl->lat_ms, cl->cap * sizeof(double));
        }
        cl->lat_ms[cl->n++] = ms;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* What a phase's clients of one mode did: count, rate, p50, p99. */
typedef struct figures {
    size_t n, errors;
    double per_s, p50, p99;
    char first_error[256];
} figures_t;

static figures_t tally(client_t *cls, int n, enum mode mode, double seconds)
{
    figures_t f = {0};
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (cls[i].mode == mode) {
            total += cls[i].n;
        }
    }
    double *all = drv_calloc(total + 1, sizeof(double));
    for (int i = 0; i < n; i++) {
        if (cls[i].mode != mode) {
            continue;
        }
        memcpy(all + f.n, cls[i].lat_ms, cls[i].n * sizeof(double));
        f.n += cls[i].n;
        if (cls[i].errors && !f.errors) {
            snprintf(f.first_error, sizeof(f.first_error), "%s",
                     cls[i].first_error);
        }
        f.errors += cls[i].errors;
    }
    qsort(all, f.n, sizeof(double), cmp_d);
    f.per_s = (double)f.n / seconds;
    f.p50 = f.n ? all[f.n / 2] : -1;
    f.p99 = f.n ? all[(size_t)((double)(f.n - 1) * 0.99)] : -1;
    free(all);
    return f;
}

/* Run n clients (modes[i]) for `seconds`; the clients are left for
 * tally. */
static client_t *phase(const char *url, const char *userpwd,
                       const char *queue, int n, const enum mode *modes,
                       json_t *ids, int seconds)
{
    client_t *cls = drv_calloc((size_t)n, sizeof(*cls));
    pthread_t *th = drv_calloc((size_t)n, sizeof(*th));
    int64_t end = drv_mono_ms() + (int64_t)seconds * 1000;
    for (int i = 0; i < n; i++) {
        cls[i] = (client_t){.url = url, .userpwd = userpwd, .queue = queue,
                            .mode = modes[i], .end_ms = end,
                            .ids = modes[i] == SUBMIT ? json_array()
                                                      : json_incref(ids)};
        if (pthread_create(&th[i], NULL, run, &cls[i]) != 0) {
            fprintf(stderr, "drover-bench: cannot start a client thread\n");
            exit(1);
        }
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
    }
    free(th);
    return cls;
}

static void phase_free(client_t *cls, int n, json_t *keep)
{
    for (int i = 0; i < n; i++) {
        if (keep && cls[i].mode == SUBMIT) {
            json_array_extend(keep, cls[i].ids);
        }
        json_decref(cls[i].ids);
        free(cls[i].lat_ms);
    }
    free(cls);
}

int drv_bench_gateway(const drv_conf_t *conf, const char *queue, int n,
                      int seconds)
{
    char url[300], userpwd[512];
    const char *env_url = getenv("DROVER_GATEWAY_URL");
    const char *keys = getenv("DROVER_GATEWAY_KEY");
    if (!keys) {
        keys = drv_conf_get(conf, "gateway.access.keys");
    }
    if (env_url) {
        snprintf(url, sizeof(url), "%s", env_url);
    } else {
        snprintf(url, sizeof(url), "http://%s",
                 drv_conf_get(conf, "gateway.listen"));
    }
    snprintf(userpwd, sizeof(userpwd), "%.*s", (int)strcspn(keys, ", "), keys);
    if (!strchr(userpwd, ':')) {
        fprintf(stderr, "drover-bench: no access key: set DROVER_GATEWAY_KEY "
                        "(KEY:SECRET) or gateway.access.keys\n");
        return 1;
    }
    if (n < 3) {
        n = 3; /* phase 3 needs a prober, a slow call and a submitter */
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    enum mode *modes = drv_calloc((size_t)n, sizeof(*modes));
    json_t *ids = json_array();

    for (int i = 0; i < n; i++) {
        modes[i] = SUBMIT;
    }
    client_t *cls = phase(url, userpwd, queue, n, modes, NULL, seconds);
    figures_t sub = tally(cls, n, SUBMIT, seconds);
    phase_free(cls, n, ids);

    for (int i = 0; i < n; i++) {
        modes[i] = DESCRIBE;
    }
    figures_t desc = {0};
    if (json_array_size(ids) > 0) {
        cls = phase(url, userpwd, queue, n, modes, ids, seconds);
        desc = tally(cls, n, DESCRIBE, seconds);
        phase_free(cls, n, NULL);
    }

    for (int i = 0; i < n; i++) {
        modes[i] = i == 0 ? QUEUES : i == 1 ? SLOW : SUBMIT;
    }
    cls = phase(url, userpwd, queue, n, modes, NULL, seconds);
    figures_t q = tally(cls, n, QUEUES, seconds);
    figures_t slow = tally(cls, n, SLOW, seconds);
    figures_t sub2 = tally(cls, n, SUBMIT, seconds);
    phase_free(cls, n, NULL);

    json_t *out = json_pack(
        "{s:s,s:i,s:i,s:f,s:f,s:f,s:I,s:f,s:f,s:f,s:I,s:f,s:f,s:f,s:f}",
        "scenario", "gateway", "connections", n, "seconds", seconds,
        "submit_per_s", sub.per_s, "submit_p50_ms", sub.p50, "submit_p99_ms",
        sub.p99, "submit_errors", (json_int_t)sub.errors, "describe_per_s",
        desc.per_s, "describe_p50_ms", desc.p50, "describe_p99_ms", desc.p99,
        "describe_errors", (json_int_t)desc.errors,
        "queues_under_load_p50_ms", q.p50, "queues_under_load_p99_ms", q.p99,
        "slow_listjobs_p50_ms", slow.p50, "submit_beside_per_s", sub2.per_s);
    if (sub.errors || desc.errors) {
        json_object_set_new(out, "first_error",
                            json_string(sub.errors ? sub.first_error
                                                   : desc.first_error));
    }
    char *line = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(4));
    puts(line ? line : "{}");
    free(line);
    json_decref(out);
    json_decref(ids);
    free(modes);
    curl_global_cleanup();
    return sub.errors || desc.errors ? 1 : 0;
}
