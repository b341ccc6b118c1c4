/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `kubernetes` provisioner (provision.h): the workers of a MANAGED
 * environment are the pods of one Deployment (provisioner.kubernetes.
 * deployment, {ce}: the environment's name; deploy/k8s/drover.yaml's
 * drover-worker), scaled through the Kubernetes API's scale subresource.
 * Kubernetes starts, restarts and replaces the pods itself; a pod's
 * worker id is its name. To remove workers it lowers the replicas by no
 * more than the pods that are not workers yet (pending: Kubernetes
 * deletes those first) and the idle workers, after marking each of those
 * with controller.kubernetes.io/pod-deletion-cost -1000, so the
 * ReplicaSet deletes them and not a pod with a job. The API is reached
 * with the pod's service account token (re-read each call: it rotates)
 * and CA, or a plain http:// address (tests).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover/err.h"
#include "drover/util.h"
#include "provision.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define REPLY_MAX (1024 * 1024)

typedef struct buf {
    char *data;
    size_t len;
} buf_t;

static size_t on_data(char *p, size_t size, size_t n, void *opaque)
{
    buf_t *b = opaque;
    size_t add = size * n;
    if (b->len + add > REPLY_MAX) {
        return 0;
    }
    b->data = drv_realloc(b->data, b->len + add + 1);
    memcpy(b->data + b->len, p, add);
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

static const char *conf_or(const drv__prov_ctx_t *ctx, const char *key,
                           const char *dflt)
{
    const char *v = drv_conf_get(ctx->conf, key);
    return v && *v ? v : dflt;
}

/* The first line of a small file (a token, a namespace); false if none. */
static bool read_line(const char *path, char *out, size_t size)
{
    FILE *fp = fopen(path, "re");
    if (!fp) {
        return false;
    }
    bool ok = fgets(out, (int)size, fp) != NULL;
    fclose(fp);
    out[strcspn(out, "\r\n")] = '\0';
    return ok && *out;
}

/* One call: method, path below the API's address, a JSON body (merge
 * patch) or NULL. The reply's JSON in *out (NULL unless 2xx). */
static int call(drv__prov_ctx_t *ctx, const char *method, const char *path,
                json_t *body, json_t **out, char *errstr, size_t errstr_size)
{
    char url[2048], token[8192], auth[8300];
    *out = NULL;
    snprintf(url, sizeof(url), "%s%s",
             conf_or(ctx, "provisioner.kubernetes.api",
                     "https://kubernetes.default.svc"),
             path);
    CURL *c = curl_easy_init();
    if (!c) {
        drv_errstr_set(errstr, errstr_size, "no curl handle");
        return -1;
    }
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Accept: application/json");
    if (read_line(conf_or(ctx, "provisioner.kubernetes.token.file",
                          SA_DIR "/token"),
                  token, sizeof(token))) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (text) {
        h = curl_slist_append(h, "Content-Type: application/merge-patch+json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    }
    const char *ca = conf_or(ctx, "provisioner.kubernetes.ca.file",
                             SA_DIR "/ca.crt");
    buf_t b = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    if (access(ca, R_OK) == 0) {
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    }
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    free(text);
    int ret = 0;
    if (rc != CURLE_OK) {
        drv_errstr_set(errstr, errstr_size, "%s %s: %s", method, url,
                       curl_easy_strerror(rc));
        ret = -1;
    } else if (status < 200 || status > 299) {
        json_t *j = b.data ? json_loads(b.data, 0, NULL) : NULL;
        const char *m = json_string_value(json_object_get(j, "message"));
        drv_errstr_set(errstr, errstr_size, "%s %s: HTTP %ld: %.300s", method,
                       url, status, m ? m : "no details");
        json_decref(j);
        ret = -1;
    } else {
        *out = b.data ? json_loads(b.data, 0, NULL) : json_object();
    }
    free(b.data);
    return ret;
}

/* The namespace: provisioner.kubernetes.namespace, else the pod's own. */
static void namespace_of(const drv__prov_ctx_t *ctx, char *out, size_t size)
{
    const char *ns = drv_conf_get(ctx->conf, "provisioner.kubernetes.namespace");
    if (ns && *ns) {
        snprintf(out, size, "%s", ns);
    } else if (!read_line(SA_DIR "/namespace", out, size)) {
        snprintf(out, size, "default");
    }
}

/* The path of environment ce's Deployment's scale subresource. */
static void scale_path(const drv__prov_ctx_t *ctx, const char *ce,
                       char *ns, size_t ns_size, char *path, size_t size)
{
    char dep[512];
    namespace_of(ctx, ns, ns_size);
    const char *t = conf_or(ctx, "provisioner.kubernetes.deployment",
                            "drover-worker");
    const char *at = strstr(t, "{ce}");
    if (at) {
        snprintf(dep, sizeof(dep), "%.*s%s%s", (int)(at - t), t, ce, at + 4);
    } else {
        snprintf(dep, sizeof(dep), "%s", t);
    }
    snprintf(path, size, "/apis/apps/v1/namespaces/%s/deployments/%s/scale",
             ns, dep);
}

static int k_replicas(drv__prov_ctx_t *ctx, const char *ce, int *cur,
                      char *errstr, size_t errstr_size)
{
    char ns[256], path[1200];
    scale_path(ctx, ce, ns, sizeof(ns), path, sizeof(path));
    json_t *s;
    if (call(ctx, "GET", path, NULL, &s, errstr, errstr_size) != 0) {
        return -1;
    }
    *cur = (int)json_integer_value(json_object_get(json_object_get(s, "spec"),
                                                   "replicas"));
    json_decref(s);
    return 0;
}

/* A pod's name as Kubernetes allows it (a DNS-1123 subdomain): a worker
 * id that is not one (it comes from heartbeats) never reaches a URL. */
static bool pod_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.') ||
            (c == '.' && s[i + 1] == '.')) {
            return false;
        }
    }
    return true;
}

static int k_scale(drv__prov_ctx_t *ctx, const char *ce, int next,
                   const char *const *idle, int nidle, char *errstr,
                   size_t errstr_size)
{
    char ns[256], path[1200];
    scale_path(ctx, ce, ns, sizeof(ns), path, sizeof(path));
    /* the idle ones first in the ReplicaSet's eyes */
    for (int i = 0; i < nidle; i++) {
        char pp[1200];
        if (!pod_name_ok(idle[i])) {
            next++; /* not a pod of it: marked nothing, so one fewer goes */
            continue;
        }
        snprintf(pp, sizeof(pp), "/api/v1/namespaces/%s/pods/%s", ns,
                 idle[i]);
        json_t *patch = json_pack(
            "{s:{s:{s:s}}}", "metadata", "annotations",
            "controller.kubernetes.io/pod-deletion-cost", "-1000");
        json_t *r;
        int rc = call(ctx, "PATCH", pp, patch, &r, errstr, errstr_size);
        json_decref(patch);
        json_decref(r);
        if (rc != 0) {
            return -1;
        }
    }
    json_t *patch = json_pack("{s:{s:i}}", "spec", "replicas", next);
    json_t *r;
    int rc = call(ctx, "PATCH", path, patch, &r, errstr, errstr_size);
    json_decref(patch);
    json_decref(r);
    return rc;
}

const drv__prov_ops_t drv__prov_kubernetes = {"kubernetes", "", NULL,
                                              NULL, NULL, k_replicas,
                                              k_scale};
