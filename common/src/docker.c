/* SPDX-License-Identifier: Apache-2.0 */
/* Docker Engine API client over a unix socket: see drover/docker.h. */
#include "drover/docker.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "drover/util.h"

struct drv_docker {
    CURL *curl;
    char *socket_path;
    char *api_version;
    bool no_libpod; /* the engine has no Podman endpoints (Docker) */
};

typedef struct buf {
    char *data;
    size_t len, cap, max;
    int truncated;
} buf_t;

int drv_docker_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void drv_docker_global_cleanup(void)
{
    curl_global_cleanup();
}

drv_docker_t *drv_docker_new(const char *socket_path, const char *api_version)
{
    drv_docker_t *dk = drv_calloc(1, sizeof(*dk));
    dk->curl = curl_easy_init();
    if (!dk->curl) {
        free(dk);
        return NULL;
    }
    dk->socket_path = drv_strdup(socket_path);
    dk->api_version = drv_strdup(api_version);
    return dk;
}

void drv_docker_destroy(drv_docker_t *dk)
{
    if (!dk) {
        return;
    }
    curl_easy_cleanup(dk->curl);
    free(dk->socket_path);
    free(dk->api_version);
    free(dk);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *opaque)
{
    buf_t *b = opaque;
    size_t n = size * nmemb;
    size_t keep = n;
    if (b->max && b->len + keep > b->max) {
        keep = b->max > b->len ? b->max - b->len : 0;
        b->truncated = 1;
    }
    if (b->len + keep + 1 > b->cap) {
        b->cap = (b->len + keep + 1) * 2;
        char *nd = realloc(b->data, b->cap);
        if (!nd) {
            return 0;
        }
        b->data = nd;
    }
    memcpy(b->data + b->len, ptr, keep);
    b->len += keep;
    b->data[b->len] = '\0';
    return n;
}

/* One request; returns the HTTP status, or -1 with errstr on transport
 * failure. The body (if any) is left in *resp (owned by the caller). */
static long request(drv_docker_t *dk, const char *method, const char *path,
                    json_t *body, int64_t timeout_ms, buf_t *resp,
                    char *errstr, size_t errstr_size)
{
    char url[2048], cerr[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    snprintf(url, sizeof(url), "http://localhost/%s%s", dk->api_version, path);
    curl_easy_reset(dk->curl);
    curl_easy_setopt(dk->curl, CURLOPT_UNIX_SOCKET_PATH, dk->socket_path);
    curl_easy_setopt(dk->curl, CURLOPT_URL, url);
    curl_easy_setopt(dk->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(dk->curl, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(dk->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(dk->curl, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(dk->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(dk->curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    if (timeout_ms > 0) {
        curl_easy_setopt(dk->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    }
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    curl_easy_setopt(dk->curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(dk->curl, CURLOPT_POSTFIELDS, payload ? payload : "");
    if (!strcmp(method, "GET") || !strcmp(method, "DELETE")) {
        curl_easy_setopt(dk->curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(dk->curl, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(dk->curl);
    long status = -1;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(dk->curl, CURLINFO_RESPONSE_CODE, &status);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        status = 0; /* callers that wait treat 0 as "timed out" */
    } else {
        drv_errstr_set(errstr, errstr_size,
                       "container engine at \"%s\": %s", dk->socket_path,
                       cerr[0] ? cerr : curl_easy_strerror(rc));
    }
    curl_slist_free_all(hdrs);
    free(payload);
    return status;
}

/* The engine's {"message": ...} or the raw body, as an error. */
static void api_error(const char *what, long status, const buf_t *b,
                      char *errstr, size_t errstr_size)
{
    json_t *j = b->data ? json_loads(b->data, 0, NULL) : NULL;
    const char *m = json_string_value(json_object_get(j, "message"));
    drv_errstr_set(errstr, errstr_size, "%s: HTTP %ld: %s", what, status,
                   m ? m : (b->data ? b->data : "no details"));
    json_decref(j);
}

static int simple(drv_docker_t *dk, const char *method, const char *path,
                  const char *what, long ok2, char *errstr, size_t errstr_size)
{
    buf_t b = {0};
    long st = request(dk, method, path, NULL, 0, &b, errstr, errstr_size);
    int ret = 0;
    if (st < 0) {
        ret = -1;
    } else if (st >= 300 && st != ok2) {
        api_error(what, st, &b, errstr, errstr_size);
        ret = -1;
    }
    free(b.data);
    return ret;
}

int drv_docker_ping(drv_docker_t *dk, char *errstr, size_t errstr_size)
{
    return simple(dk, "GET", "/_ping", "ping", 0, errstr, errstr_size);
}

drv_err_t drv_docker_create(drv_docker_t *dk, const char *name, json_t *spec,
                            char *id_out, size_t id_size, char *errstr,
                            size_t errstr_size)
{
    char path[512];
    buf_t b = {0};
    snprintf(path, sizeof(path), "/containers/create?name=%s", name);
    long st = request(dk, "POST", path, spec, 60000, &b, errstr, errstr_size);
    drv_err_t ret = DRV_OK;
    if (st < 0) {
        ret = DRV_ERR_TRANSIENT;
    } else if (st != 201) {
        api_error("create container", st, &b, errstr, errstr_size);
        ret = st == 404   ? DRV_ERR_NOTFOUND
              : st == 409 ? DRV_ERR_EXISTS
                          : DRV_ERR_INVALID;
    } else {
        json_t *j = json_loads(b.data ? b.data : "", 0, NULL);
        snprintf(id_out, id_size, "%s",
                 json_string_value(json_object_get(j, "Id"))
                     ? json_string_value(json_object_get(j, "Id"))
                     : "");
        json_decref(j);
    }
    free(b.data);
    return ret;
}

int drv_docker_pull(drv_docker_t *dk, const char *image, char *errstr,
                    size_t errstr_size)
{
    char *esc = curl_easy_escape(dk->curl, image, 0);
    char path[1024];
    snprintf(path, sizeof(path), "/images/create?fromImage=%s", esc);
    curl_free(esc);
    buf_t b = {0};
    long st = request(dk, "POST", path, NULL, 600000, &b, errstr,
                      errstr_size);
    int ret = 0;
    /* the engine streams progress; a failure shows as an "error" member */
    if (st < 0 || st >= 300 || (b.data && strstr(b.data, "\"error\""))) {
        if (st >= 0) {
            api_error("pull image", st, &b, errstr, errstr_size);
        }
        ret = -1;
    }
    free(b.data);
    return ret;
}

int drv_docker_start(drv_docker_t *dk, const char *id, char *errstr,
                     size_t errstr_size)
{
    char path[256];
    snprintf(path, sizeof(path), "/containers/%s/start", id);
    return simple(dk, "POST", path, "start container", 304, errstr,
                  errstr_size);
}

/*
 * Podman's Docker-compatible wait notices an exit late (a container
 * running `true` was seen to end 420 ms after its start returned, against
 * 170 ms with its own wait): its own endpoint, which takes a polling
 * interval, is tried first. An engine without it (Docker) answers 404
 * and is not asked again through this handle.
 */
static int wait_libpod(drv_docker_t *dk, const char *id, int64_t timeout_ms,
                       int *exit_code, char *errstr, size_t errstr_size)
{
    char path[300];
    buf_t b = {0};
    snprintf(path, sizeof(path),
             "/libpod/containers/%s/wait?condition=exited&condition=stopped"
             "&interval=50ms",
             id);
    long st = request(dk, "POST", path, NULL, timeout_ms, &b, errstr,
                      errstr_size);
    int ret = 2; /* not answered: the compatible wait */
    if (st == 0) {
        ret = 1;
    } else if (st == 200 && b.data) {
        char *end;
        long v = strtol(b.data, &end, 10);
        if (end != b.data) {
            *exit_code = (int)v;
            ret = 0;
        }
    } else if (st == 404 && !(b.data && strstr(b.data, "no such container"))) {
        dk->no_libpod = true;
    } else if (st < 0) {
        ret = -1;
    }
    free(b.data);
    return ret;
}

int drv_docker_wait(drv_docker_t *dk, const char *id, int64_t timeout_ms,
                    int *exit_code, char *errstr, size_t errstr_size)
{
    if (!dk->no_libpod) {
        int r = wait_libpod(dk, id, timeout_ms, exit_code, errstr,
                            errstr_size);
        if (r != 2) {
            return r;
        }
    }
    char path[256];
    buf_t b = {0};
    snprintf(path, sizeof(path), "/containers/%s/wait", id);
    long st = request(dk, "POST", path, NULL, timeout_ms, &b, errstr,
                      errstr_size);
    int ret = -1;
    if (st == 0) {
        ret = 1;
    } else if (st == 200) {
        json_t *j = json_loads(b.data ? b.data : "", 0, NULL);
        *exit_code = (int)json_integer_value(json_object_get(j, "StatusCode"));
        json_decref(j);
        ret = 0;
    } else if (st > 0) {
        api_error("wait for container", st, &b, errstr, errstr_size);
    }
    free(b.data);
    return ret;
}

int drv_docker_stop(drv_docker_t *dk, const char *id, int grace_s,
                    char *errstr, size_t errstr_size)
{
    char path[256];
    snprintf(path, sizeof(path), "/containers/%s/stop?t=%d", id, grace_s);
    return simple(dk, "POST", path, "stop container", 304, errstr,
                  errstr_size);
}

int drv_docker_kill(drv_docker_t *dk, const char *id, const char *signal,
                    char *errstr, size_t errstr_size)
{
    char path[256];
    snprintf(path, sizeof(path), "/containers/%s/kill?signal=%s", id, signal);
    /* 409: not running */
    return simple(dk, "POST", path, "kill container", 409, errstr,
                  errstr_size);
}

json_t *drv_docker_inspect(drv_docker_t *dk, const char *id, char *errstr,
                           size_t errstr_size)
{
    char path[256];
    buf_t b = {0};
    snprintf(path, sizeof(path), "/containers/%s/json", id);
    long st = request(dk, "GET", path, NULL, 30000, &b, errstr, errstr_size);
    json_t *j = NULL;
    if (st == 200) {
        j = json_loads(b.data ? b.data : "", 0, NULL);
    } else if (st > 0) {
        api_error("inspect container", st, &b, errstr, errstr_size);
    }
    free(b.data);
    return j;
}

/* Docker multiplexes stdout/stderr in frames: 1 byte stream, 3 padding,
 * 4 bytes big-endian length. Keep the payloads in order. */
static size_t demux(char *data, size_t len)
{
    size_t in = 0, out = 0;
    while (in + 8 <= len && (data[in] == 0 || data[in] == 1 || data[in] == 2)) {
        const unsigned char *h = (const unsigned char *)data + in;
        size_t n = ((size_t)h[4] << 24) | ((size_t)h[5] << 16) |
                   ((size_t)h[6] << 8) | h[7];
        in += 8;
        if (n > len - in) {
            n = len - in;
        }
        memmove(data + out, data + in, n);
        out += n;
        in += n;
    }
    if (in < len && out == 0 && in == 0) {
        return len; /* not multiplexed (a TTY container): keep as is */
    }
    return out;
}

char *drv_docker_logs(drv_docker_t *dk, const char *id, size_t max,
                      bool timestamps, size_t *len_out, int *truncated,
                      char *errstr, size_t errstr_size)
{
    char path[256];
    buf_t b = {.max = max + 8 * 1024};
    snprintf(path, sizeof(path), "/containers/%s/logs?stdout=1&stderr=1%s",
             id, timestamps ? "&timestamps=1" : "");
    long st = request(dk, "GET", path, NULL, 60000, &b, errstr, errstr_size);
    if (st != 200) {
        if (st > 0) {
            api_error("container logs", st, &b, errstr, errstr_size);
        }
        free(b.data);
        return NULL;
    }
    size_t n = b.data ? demux(b.data, b.len) : 0;
    *truncated = b.truncated || n > max;
    *len_out = n > max ? max : n;
    if (!b.data) {
        b.data = drv_strdup("");
    }
    b.data[*len_out] = '\0';
    return b.data;
}

json_t *drv_docker_list(drv_docker_t *dk, const char *label, char *errstr,
                        size_t errstr_size)
{
    json_t *f = json_pack("{s:[s]}", "label", label);
    char *fs = json_dumps(f, JSON_COMPACT);
    json_decref(f);
    char *esc = curl_easy_escape(dk->curl, fs, 0);
    free(fs);
    char path[1024];
    snprintf(path, sizeof(path), "/containers/json?all=1&filters=%s", esc);
    curl_free(esc);
    buf_t b = {0};
    long st = request(dk, "GET", path, NULL, 60000, &b, errstr, errstr_size);
    json_t *list = NULL;
    if (st == 200) {
        list = json_loads(b.data ? b.data : "", 0, NULL);
        if (!json_is_array(list)) {
            json_decref(list);
            list = NULL;
            drv_errstr_set(errstr, errstr_size,
                           "list containers: the engine's answer is not a "
                           "JSON array");
        }
    } else if (st > 0) {
        api_error("list containers", st, &b, errstr, errstr_size);
    }
    free(b.data);
    return list;
}

/* Streaming demux of the engine's log frames (8-byte header: stream,
 * 0, 0, 0, big-endian length) straight to a FILE. */
typedef struct follow {
    FILE *out;
    volatile sig_atomic_t *stop;
    unsigned char hdr[8];
    size_t hdr_len;
    size_t left; /* payload bytes left in the current frame */
    int raw;     /* a TTY container: no frames */
} follow_t;

static size_t on_follow(char *ptr, size_t size, size_t nmemb, void *opaque)
{
    follow_t *f = opaque;
    size_t n = size * nmemb, i = 0;
    while (i < n) {
        if (f->raw) {
            fwrite(ptr + i, 1, n - i, f->out);
            break;
        }
        if (f->left == 0) {
            f->hdr[f->hdr_len++] = (unsigned char)ptr[i++];
            if (f->hdr_len == 1 && f->hdr[0] > 2) {
                f->raw = 1; /* not a frame header: plain output */
                fwrite(f->hdr, 1, 1, f->out);
                f->hdr_len = 0;
            } else if (f->hdr_len == 8) {
                f->left = (size_t)f->hdr[4] << 24 | (size_t)f->hdr[5] << 16 |
                          (size_t)f->hdr[6] << 8 | f->hdr[7];
                f->hdr_len = 0;
            }
            continue;
        }
        size_t take = n - i < f->left ? n - i : f->left;
        fwrite(ptr + i, 1, take, f->out);
        i += take;
        f->left -= take;
    }
    fflush(f->out);
    return n;
}

static int on_follow_progress(void *opaque, curl_off_t a, curl_off_t b,
                              curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    follow_t *f = opaque;
    return *f->stop ? 1 : 0;
}

int drv_docker_follow_logs(drv_docker_t *dk, const char *id, FILE *out,
                           volatile sig_atomic_t *stop, char *errstr,
                           size_t errstr_size)
{
    char url[1024], cerr[CURL_ERROR_SIZE] = "";
    follow_t f = {.out = out, .stop = stop};
    snprintf(url, sizeof(url),
             "http://localhost/%s/containers/%s/logs?follow=1&stdout=1&"
             "stderr=1",
             dk->api_version, id);
    curl_easy_reset(dk->curl);
    curl_easy_setopt(dk->curl, CURLOPT_UNIX_SOCKET_PATH, dk->socket_path);
    curl_easy_setopt(dk->curl, CURLOPT_URL, url);
    curl_easy_setopt(dk->curl, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(dk->curl, CURLOPT_WRITEFUNCTION, on_follow);
    curl_easy_setopt(dk->curl, CURLOPT_WRITEDATA, &f);
    curl_easy_setopt(dk->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(dk->curl, CURLOPT_XFERINFOFUNCTION, on_follow_progress);
    curl_easy_setopt(dk->curl, CURLOPT_XFERINFODATA, &f);
    curl_easy_setopt(dk->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(dk->curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    CURLcode rc = curl_easy_perform(dk->curl);
    long status = 0;
    curl_easy_getinfo(dk->curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        return 0; /* the caller asked to stop */
    }
    if (rc != CURLE_OK || status != 200) {
        drv_errstr_set(errstr, errstr_size, "container logs: %s",
                       rc != CURLE_OK ? (cerr[0] ? cerr
                                                 : curl_easy_strerror(rc))
                                      : "the engine refused");
        return -1;
    }
    return 0;
}

int drv_docker_remove(drv_docker_t *dk, const char *id, char *errstr,
                      size_t errstr_size)
{
    char path[256];
    snprintf(path, sizeof(path), "/containers/%s?force=1", id);
    return simple(dk, "DELETE", path, "remove container", 404, errstr,
                  errstr_size);
}
