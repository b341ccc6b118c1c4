/* SPDX-License-Identifier: Apache-2.0 */
/* The web console's pages, login and sessions (console.h). */
#include "console.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover/limits.h"
#include "drover/producer.h"
#include "drover/schemas.h"
#include "drover/util.h"

/* gateway/console/, embedded by the build (cmake/Embed.cmake) */
extern const drv_schema_file_t drv_console_files[];

#define SESSIONS_MAX 1024
#define SESSION_TTL_MS (8LL * 3600 * 1000) /* from the login */
#define SESSION_IDLE_MS (3600LL * 1000)    /* from the last request */
#define TOKEN_HEX 64                       /* 32 random bytes */
#define COOKIE "drover_session"
/* logins refused from one address: after LOGIN_FAILS_MAX within
 * LOGIN_WINDOW_MS of its first, every login from it is refused until the
 * window ends (a right key pair too: guessing stops, not just failing) */
#define LOGIN_FAILS_MAX DRV_LOGIN_FAILS_MAX
#define LOGIN_WINDOW_MS (DRV_LOGIN_WINDOW_S * 1000LL)
#define LOGIN_PEERS 256

typedef struct session {
    char id[TOKEN_HEX + 1], csrf[TOKEN_HEX + 1];
    char key_id[129];
    int64_t expires_ms, idle_ms;
} session_t;

typedef struct peer {
    char addr[48]; /* "" for requests of no known address */
    int fails;
    int64_t since_ms; /* the window's first refusal; 0: slot free */
} peer_t;

struct drv_console {
    json_t *keys;
    drv_log_t *log;
    pthread_mutex_t lock;
    session_t s[SESSIONS_MAX]; /* id[0] == '\0': free */
    peer_t peers[LOGIN_PEERS];
};

drv_console_t *drv_console_new(json_t *keys, drv_log_t *log)
{
    drv_console_t *c = drv_calloc(1, sizeof(*c));
    c->keys = keys;
    c->log = log;
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void drv_console_destroy(drv_console_t *c)
{
    if (!c) {
        return;
    }
    OPENSSL_cleanse(c->s, sizeof(c->s));
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* ---- replies ------------------------------------------------------------- */

static void reply_text(drv_gw_reply_t *reply, unsigned status,
                       const char *type, const char *text)
{
    reply->status = status;
    reply->body = drv_strdup(text);
    reply->len = strlen(text);
    reply->content_type = type;
    reply->console = true;
}

static void reply_body(drv_gw_reply_t *reply, unsigned status, json_t *body)
{
    drv_gw_reply_json(reply, status, body, NULL);
    reply->console = true;
}

static void reply_error(drv_gw_reply_t *reply, unsigned status,
                        const char *type, const char *message)
{
    drv_gw_reply_error(reply, status, type, message);
    reply->console = true;
}

/* ---- sessions ------------------------------------------------------------ */

static int random_hex(char out[TOKEN_HEX + 1])
{
    unsigned char b[TOKEN_HEX / 2];
    if (RAND_bytes(b, sizeof(b)) != 1) {
        return -1;
    }
    for (size_t i = 0; i < sizeof(b); i++) {
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    }
    OPENSSL_cleanse(b, sizeof(b));
    return 0;
}

/* The session cookie's value in the Cookie header (TOKEN_HEX hex digits),
 * into id; false when there is none. */
static bool cookie_id(const drv_gw_request_t *rq, char id[TOKEN_HEX + 1])
{
    const char *h = rq->header(rq->opaque, "Cookie");
    for (const char *p = h; p && *p;) {
        while (*p == ' ' || *p == ';') {
            p++;
        }
        size_t n = strcspn(p, ";");
        if (n == strlen(COOKIE "=") + TOKEN_HEX &&
            !strncmp(p, COOKIE "=", strlen(COOKIE "="))) {
            memcpy(id, p + strlen(COOKIE "="), TOKEN_HEX);
            id[TOKEN_HEX] = '\0';
            return strspn(id, "0123456789abcdef") == TOKEN_HEX;
        }
        p += n;
    }
    return false;
}

/* The live session the request's cookie names (under lock), or NULL;
 * an expired one is ended. */
static session_t *find(drv_console_t *c, const drv_gw_request_t *rq,
                       int64_t now)
{
    char id[TOKEN_HEX + 1];
    if (!cookie_id(rq, id)) {
        return NULL;
    }
    for (size_t i = 0; i < SESSIONS_MAX; i++) {
        session_t *s = &c->s[i];
        if (s->id[0] && CRYPTO_memcmp(s->id, id, TOKEN_HEX) == 0) {
            if (now >= s->expires_ms || now >= s->idle_ms) {
                OPENSSL_cleanse(s, sizeof(*s));
                return NULL;
            }
            s->idle_ms = now + SESSION_IDLE_MS;
            return s;
        }
    }
    return NULL;
}

static void set_cookie(drv_gw_reply_t *reply, const char *id, int64_t max_s)
{
    char v[256];
    snprintf(v, sizeof(v),
             COOKIE "=%s; Path=/console; HttpOnly; SameSite=Strict; "
                    "Max-Age=%lld",
             id, (long long)max_s);
    free(reply->set_cookie);
    reply->set_cookie = drv_strdup(v);
}

/* ---- login throttling ------------------------------------------------ */

/* The address's slot (under lock), its window restarted when over; a new
 * one takes a free slot, else the one whose window began first. */
static peer_t *peer_of(drv_console_t *c, const char *addr, int64_t now)
{
    peer_t *oldest = &c->peers[0];
    addr = addr ? addr : "";
    for (size_t i = 0; i < LOGIN_PEERS; i++) {
        peer_t *p = &c->peers[i];
        if (p->since_ms && !strcmp(p->addr, addr)) {
            if (now >= p->since_ms + LOGIN_WINDOW_MS) {
                p->fails = 0;
                p->since_ms = now;
            }
            return p;
        }
        if (p->since_ms < oldest->since_ms) {
            oldest = p;
        }
    }
    *oldest = (peer_t){.since_ms = now};
    snprintf(oldest->addr, sizeof(oldest->addr), "%s", addr);
    return oldest;
}

/* Seconds until the address may try again (0: it may now). */
static int64_t login_wait_s(drv_console_t *c, const char *addr, int64_t now)
{
    pthread_mutex_lock(&c->lock);
    peer_t *p = peer_of(c, addr, now);
    int64_t wait = p->fails >= LOGIN_FAILS_MAX
                       ? (p->since_ms + LOGIN_WINDOW_MS - now + 999) / 1000
                       : 0;
    pthread_mutex_unlock(&c->lock);
    return wait;
}

static void login_counted(drv_console_t *c, const char *addr, bool ok,
                          int64_t now)
{
    pthread_mutex_lock(&c->lock);
    peer_t *p = peer_of(c, addr, now);
    if (ok) {
        memset(p, 0, sizeof(*p));
    } else {
        p->fails++;
    }
    pthread_mutex_unlock(&c->lock);
}

/* POST /console/login {accessKeyId, secretAccessKey}: a key pair of
 * gateway.access.keys makes a session; an address refused
 * LOGIN_FAILS_MAX times is made to wait. */
static void login(drv_console_t *c, const drv_gw_request_t *rq, int64_t now,
                  drv_gw_reply_t *reply)
{
    int64_t wait = login_wait_s(c, rq->peer, now);
    if (wait > 0) {
        char m[160];
        snprintf(m, sizeof(m),
                 "Too many refused logins from this address: try again in "
                 "%lld s",
                 (long long)wait);
        reply_error(reply, 429, "TooManyRequestsException", m);
        return;
    }
    json_t *in = rq->body ? json_loadb(rq->body, rq->body_len, 0, NULL)
                          : NULL;
    const char *key = json_string_value(json_object_get(in, "accessKeyId"));
    const char *secret = json_string_value(json_object_get(in,
                                                           "secretAccessKey"));
    const char *want = key ? json_string_value(json_object_get(c->keys, key))
                           : NULL;
    /* a NUL inside either would cut it short: never a match */
    bool whole = key && secret &&
                 json_string_length(json_object_get(in, "accessKeyId")) ==
                     strlen(key) &&
                 json_string_length(json_object_get(
                     in, "secretAccessKey")) == strlen(secret);
    bool ok = whole && want && strlen(want) == strlen(secret) &&
              CRYPTO_memcmp(want, secret, strlen(want)) == 0 &&
              strlen(key) < sizeof(((session_t *)0)->key_id);
    login_counted(c, rq->peer, ok, now);
    if (!ok) {
        char shown[64];
        drv_utf8_copy(shown, sizeof(shown), key ? key : "",
                      key ? strlen(key) : 0);
        json_t *f = json_pack("{s:s,s:s}", "access_key", shown, "peer",
                              rq->peer ? rq->peer : "");
        drv_log(c->log, DRV_LOG_WARN, "gateway.console_login_refused", f,
                "console login refused");
        json_decref(f);
        json_decref(in);
        reply_error(reply, 401, "UnrecognizedClientException",
                    "The access key pair is not one of this gateway's "
                    "(gateway.access.keys)");
        return;
    }
    session_t s = {.expires_ms = now + SESSION_TTL_MS,
                   .idle_ms = now + SESSION_IDLE_MS};
    snprintf(s.key_id, sizeof(s.key_id), "%s", key);
    json_decref(in);
    if (random_hex(s.id) != 0 || random_hex(s.csrf) != 0) {
        reply_error(reply, 500, "ServerException", "no randomness");
        return;
    }
    pthread_mutex_lock(&c->lock);
    size_t slot = 0; /* a free one, an expired one, else the oldest */
    for (size_t i = 0; i < SESSIONS_MAX; i++) {
        session_t *x = &c->s[i];
        if (!x->id[0] || now >= x->expires_ms || now >= x->idle_ms) {
            slot = i;
            break;
        }
        if (x->expires_ms < c->s[slot].expires_ms) {
            slot = i;
        }
    }
    c->s[slot] = s;
    pthread_mutex_unlock(&c->lock);
    reply_body(reply, 200,
               json_pack("{s:s,s:s}", "csrfToken", s.csrf, "accessKeyId",
                         s.key_id));
    set_cookie(reply, s.id, SESSION_TTL_MS / 1000);
    OPENSSL_cleanse(&s, sizeof(s));
}

/* ---- pages --------------------------------------------------------------- */

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    return !dot                  ? "application/octet-stream"
           : !strcmp(dot, ".html") ? "text/html; charset=utf-8"
           : !strcmp(dot, ".js")   ? "text/javascript; charset=utf-8"
           : !strcmp(dot, ".css")  ? "text/css; charset=utf-8"
           : !strcmp(dot, ".svg")  ? "image/svg+xml"
                                   : "application/octet-stream";
}

static void page(const char *name, drv_gw_reply_t *reply)
{
    for (const drv_schema_file_t *f = drv_console_files; f->path; f++) {
        if (!strcmp(f->path, name)) {
            reply_text(reply, 200, type_of(name), f->text);
            return;
        }
    }
    reply_error(reply, 404, "ResourceNotFoundException",
                "no such page of the console");
}

/* ---- the API, with a session --------------------------------------------- */

static void api(drv_console_t *c, const drv_gw_request_t *rq, int64_t now,
                const char *op, drv_gw_call_fn *call, void *opaque,
                drv_gw_reply_t *reply)
{
    pthread_mutex_lock(&c->lock);
    session_t *s = find(c, rq, now);
    const char *csrf = rq->header(rq->opaque, "X-CSRF-Token");
    bool ok = s && csrf && strlen(csrf) == TOKEN_HEX &&
              CRYPTO_memcmp(s->csrf, csrf, TOKEN_HEX) == 0;
    pthread_mutex_unlock(&c->lock);
    if (!s) {
        reply_error(reply, 401, "UnrecognizedClientException",
                    "no session: log in at /console/");
        return;
    }
    if (!ok) {
        reply_error(reply, 403, "AccessDeniedException",
                    "the request does not carry the session's CSRF token "
                    "(X-CSRF-Token)");
        return;
    }
    if (!drv_client_serves(op)) {
        reply_error(reply, 404, "ClientException", "no such operation");
        return;
    }
    json_t *in = rq->body && rq->body_len
                     ? json_loadb(rq->body, rq->body_len, 0, NULL)
                     : json_object();
    if (!json_is_object(in)) {
        json_decref(in);
        reply_error(reply, 400, "ClientException",
                    "the request body must be a JSON object");
        return;
    }
    char e[DRV_ERRSTR_SIZE] = "";
    drv_err_t err = DRV_ERR_FATAL;
    json_t *out = call(opaque, op, in, &err, e, sizeof(e));
    json_decref(in);
    if (out) {
        reply_body(reply, 200, out);
        return;
    }
    bool client_fault = err == DRV_ERR_INVALID || err == DRV_ERR_NOTFOUND ||
                        err == DRV_ERR_EXISTS;
    reply_error(reply, client_fault ? 400 : 500,
                err == DRV_ERR_NOTFOUND ? "ResourceNotFoundException"
                : client_fault          ? "ClientException"
                                        : "ServerException",
                e);
}

/* A POST's Origin, when the browser sends one, must be this gateway's
 * (SameSite=Strict already keeps the cookie from other sites; this also
 * refuses a login posted from one). */
static bool same_origin(const drv_gw_request_t *rq)
{
    const char *origin = rq->header(rq->opaque, "Origin");
    const char *host = rq->header(rq->opaque, "Host");
    if (!origin) {
        return true;
    }
    const char *rest = drv_str_has_prefix(origin, "http://")    ? origin + 7
                       : drv_str_has_prefix(origin, "https://") ? origin + 8
                                                                : NULL;
    return rest && host && !strcmp(rest, host);
}

bool drv_console_handle(drv_console_t *c, const drv_gw_request_t *rq,
                        int64_t now_ms, drv_gw_call_fn *call, void *opaque,
                        drv_gw_reply_t *reply)
{
    const char *p = rq->path;
    if (strcmp(p, "/console") && !drv_str_has_prefix(p, "/console/")) {
        return false;
    }
    bool get = !strcmp(rq->method, "GET"), post = !strcmp(rq->method,
                                                           "POST");
    const char *rest = p[8] ? p + 9 : "";
    if (rq->body_too_big) {
        reply_error(reply, 413, "ClientException",
                    "the request body exceeds 1 MiB");
    } else if (post && !same_origin(rq)) {
        reply_error(reply, 403, "AccessDeniedException",
                    "a console request from another origin");
    } else if (get && !*rest) {
        page("index.html", reply);
    } else if (post && !strcmp(rest, "login")) {
        login(c, rq, now_ms, reply);
    } else if (get && !strcmp(rest, "session")) {
        pthread_mutex_lock(&c->lock);
        session_t *s = find(c, rq, now_ms);
        json_t *body = s ? json_pack("{s:s,s:s}", "csrfToken", s->csrf,
                                     "accessKeyId", s->key_id)
                         : NULL;
        pthread_mutex_unlock(&c->lock);
        /* none: an empty object (the page then shows its login) */
        reply_body(reply, 200, body ? body : json_object());
    } else if (post && !strcmp(rest, "logout")) {
        pthread_mutex_lock(&c->lock);
        session_t *s = find(c, rq, now_ms);
        const char *csrf = rq->header(rq->opaque, "X-CSRF-Token");
        bool ok = s && csrf && strlen(csrf) == TOKEN_HEX &&
                  CRYPTO_memcmp(s->csrf, csrf, TOKEN_HEX) == 0;
        if (ok) {
            OPENSSL_cleanse(s, sizeof(*s));
        }
        pthread_mutex_unlock(&c->lock);
        if (ok) {
            reply_body(reply, 200, json_object());
            set_cookie(reply, "", 0);
        } else {
            reply_error(reply, 403, "AccessDeniedException",
                        "no session, or not its CSRF token");
        }
    } else if (post && drv_str_has_prefix(rest, "api/") && rest[4]) {
        api(c, rq, now_ms, rest + 4, call, opaque, reply);
    } else if (get && strspn(rest, "abcdefghijklmnopqrstuvwxyz0123456789._-") ==
                          strlen(rest) &&
               rest[0] != '.') {
        page(rest, reply);
    } else {
        reply_error(reply, 404, "ResourceNotFoundException",
                    "no such page of the console");
    }
    return true;
}
