/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A client of the Confluent Schema Registry REST API (also served by
 * Apicurio's ccompat API and Karapace): register a schema under a subject,
 * fetch a schema by id. Used by the codec for the Confluent wire format.
 */
#include "registry.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "drover/err.h"
#include "drover/util.h"

struct drv_registry {
    char *url;  /* without a trailing slash */
    char *auth; /* user:password for basic auth, or NULL */
};

drv_registry_t *drv_registry_new(const char *url, const char *auth)
{
    drv_registry_t *r = drv_calloc(1, sizeof(*r));
    r->url = drv_strdup(url);
    size_t n = strlen(r->url);
    while (n > 0 && r->url[n - 1] == '/') {
        r->url[--n] = '\0';
    }
    r->auth = auth && *auth ? drv_strdup(auth) : NULL;
    return r;
}

void drv_registry_destroy(drv_registry_t *r)
{
    if (!r) {
        return;
    }
    free(r->url);
    free(r->auth);
    free(r);
}

typedef struct body {
    char *data;
    size_t len;
} body_t;

static size_t on_data(char *p, size_t size, size_t n, void *opaque)
{
    body_t *b = opaque;
    size_t k = size * n;
    if (b->len + k > 1 << 20) {
        return 0; /* a schema answer is never this large */
    }
    b->data = drv_realloc(b->data, b->len + k + 1);
    memcpy(b->data + b->len, p, k);
    b->len += k;
    b->data[b->len] = '\0';
    return k;
}

/* One request; the answer's JSON, or NULL with errstr. */
static json_t *call(drv_registry_t *r, const char *path, json_t *body,
                    char *errstr, size_t errstr_size)
{
    char url[2048], cerr[CURL_ERROR_SIZE] = "";
    snprintf(url, sizeof(url), "%s%s", r->url, path);
    CURL *c = curl_easy_init();
    if (!c) {
        drv_errstr_set(errstr, errstr_size, "schema registry: no curl handle");
        return NULL;
    }
    body_t b = {0};
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct curl_slist *h = curl_slist_append(
        NULL, "Content-Type: application/vnd.schemaregistry.v1+json");
    h = curl_slist_append(h, "Accept: application/vnd.schemaregistry.v1+json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    if (payload) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
    }
    if (r->auth) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, r->auth);
    }
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    json_t *j = NULL;
    if (rc != CURLE_OK) {
        drv_errstr_set(errstr, errstr_size, "schema registry %s: %s", r->url,
                       cerr[0] ? cerr : curl_easy_strerror(rc));
    } else {
        j = json_loads(b.data ? b.data : "", 0, NULL);
        if (status != 200 || !json_is_object(j)) {
            const char *m = json_string_value(json_object_get(j, "message"));
            drv_errstr_set(errstr, errstr_size,
                           "schema registry %s%s: HTTP %ld: %s", r->url, path,
                           status, m ? m : "unexpected answer");
            json_decref(j);
            j = NULL;
        }
    }
    free(b.data);
    free(payload);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return j;
}

int64_t drv_registry_register(drv_registry_t *r, const char *subject,
                              const char *schema_json, char *errstr,
                              size_t errstr_size)
{
    CURL *c = curl_easy_init();
    char *esc = c ? curl_easy_escape(c, subject, 0) : NULL;
    char path[1024];
    snprintf(path, sizeof(path), "/subjects/%s/versions", esc ? esc : "");
    curl_free(esc);
    curl_easy_cleanup(c);
    json_t *body = json_pack("{s:s}", "schema", schema_json);
    json_t *j = call(r, path, body, errstr, errstr_size);
    json_decref(body);
    json_int_t id = json_integer_value(json_object_get(j, "id"));
    if (j && id <= 0) {
        drv_errstr_set(errstr, errstr_size,
                       "schema registry: no id for subject %s", subject);
    }
    json_decref(j);
    return j && id > 0 ? (int64_t)id : -1;
}

char *drv_registry_fetch(drv_registry_t *r, int64_t id, char *errstr,
                         size_t errstr_size)
{
    char path[64];
    snprintf(path, sizeof(path), "/schemas/ids/%lld", (long long)id);
    json_t *j = call(r, path, NULL, errstr, errstr_size);
    const char *s = json_string_value(json_object_get(j, "schema"));
    char *out = s ? drv_strdup(s) : NULL;
    if (j && !s) {
        drv_errstr_set(errstr, errstr_size,
                       "schema registry: schema %lld has no text",
                       (long long)id);
    }
    json_decref(j);
    return out;
}
