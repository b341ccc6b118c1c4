/* SPDX-License-Identifier: Apache-2.0 */
/* SigV4 verification: see sigv4.h. */
#define _GNU_SOURCE /* timegm, strcasestr */
#include "sigv4.h"

#include <ctype.h>
#include <stdbool.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drover/err.h"
#include "drover/util.h"

#define MAX_SKEW_S (15 * 60)

void drv_sha256_hex(const void *buf, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(buf, len, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}

static void hmac(const void *key, size_t klen, const char *msg,
                 unsigned char out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg,
         strlen(msg), out, &n);
}

/* A growable string. */
typedef struct sb {
    char *s;
    size_t len, cap;
} sb_t;

static void sb_add(sb_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = drv_realloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_str(sb_t *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* RFC 3986 encoding as SigV4 wants it (unreserved kept). */
static void uri_encode(sb_t *b, const char *s, size_t n, int keep_slash)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
            (keep_slash && c == '/')) {
            sb_add(b, (const char *)&c, 1);
        } else {
            char h[4];
            snprintf(h, sizeof(h), "%%%02X", c);
            sb_add(b, h, 3);
        }
    }
}

/* Percent-decode into a new string. */
static char *uri_decode(const char *s, size_t n)
{
    char *out = drv_malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n + 0 && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char h[3] = {s[i + 1], s[i + 2], 0};
            out[k++] = (char)strtol(h, NULL, 16);
            i += 2;
        } else if (s[i] == '+') {
            out[k++] = ' ';
        } else {
            out[k++] = s[i];
        }
    }
    out[k] = '\0';
    return out;
}

typedef struct qp {
    char *k, *v;
} qp_t;

static int cmp_qp(const void *a, const void *b)
{
    const qp_t *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

/* Canonical query string: decoded, re-encoded, sorted. */
static void canonical_query(sb_t *b, const char *q)
{
    qp_t *ps = NULL;
    size_t n = 0;
    const char *p = q;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            sb_t k = {0}, v = {0};
            char *dk = uri_decode(p, eq ? (size_t)(eq - p) : len);
            char *dv = eq ? uri_decode(eq + 1, len - (size_t)(eq - p) - 1)
                          : drv_strdup("");
            uri_encode(&k, dk, strlen(dk), 0);
            uri_encode(&v, dv, strlen(dv), 0);
            free(dk);
            free(dv);
            ps = drv_realloc(ps, (n + 1) * sizeof(*ps));
            ps[n].k = k.s ? k.s : drv_strdup("");
            ps[n].v = v.s ? v.s : drv_strdup("");
            n++;
        }
        p = amp ? amp + 1 : NULL;
    }
    if (n > 1) {
        qsort(ps, n, sizeof(*ps), cmp_qp);
    }
    for (size_t i = 0; i < n; i++) {
        if (i) {
            sb_str(b, "&");
        }
        sb_str(b, ps[i].k);
        sb_str(b, "=");
        sb_str(b, ps[i].v);
        free(ps[i].k);
        free(ps[i].v);
    }
    free(ps);
}

/* Find `name=` inside the Authorization header; copy its value. */
static int auth_field(const char *auth, const char *name, char *out,
                      size_t size)
{
    const char *p = strstr(auth, name);
    if (!p) {
        return -1;
    }
    p += strlen(name);
    size_t n = strcspn(p, ", ");
    if (n == 0 || n >= size) {
        return -1;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* Whether SignedHeaders (a;b;c) names host. */
static bool signs_host(const char *signed_hdrs)
{
    for (const char *p = signed_hdrs; p && *p;) {
        size_t n = strcspn(p, ";");
        if (n == 4 && !strncmp(p, "host", 4)) {
            return true;
        }
        p = p[n] ? p + n + 1 : NULL;
    }
    return false;
}

/* X-Amz-Date, whole: exactly YYYYMMDDTHHMMSSZ and a real UTC time. */
static int parse_amz_date(const char *s, int64_t *out)
{
    static const char shape[] = "ddddddddTddddddZ";
    if (!s || strlen(s) != sizeof(shape) - 1) {
        return -1;
    }
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i]) {
            return -1;
        }
    }
    struct tm tm = {0}, back;
    const char *end = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
    if (!end || *end) {
        return -1;
    }
    time_t t = timegm(&tm);
    char again[20];
    /* a 30 February or a 25th hour comes back as another date */
    if (!gmtime_r(&t, &back) ||
        strftime(again, sizeof(again), "%Y%m%dT%H%M%SZ", &back) == 0 ||
        strcmp(again, s) != 0) {
        return -1;
    }
    *out = (int64_t)t;
    return 0;
}

int drv_sigv4_verify(const drv_sigv4_req_t *req, const char *service,
                     int64_t now, drv_sigv4_secret_fn *secret_fn,
                     void *opaque, const char **code, char *errstr,
                     size_t errstr_size)
{
    const char *auth = req->authorization;
    char cred[512], signed_hdrs[1024], sig[128];
    if (!auth || !*auth) {
        *code = "MissingAuthenticationTokenException";
        drv_errstr_set(errstr, errstr_size,
                       "Missing Authentication Token: requests must be "
                       "signed with AWS Signature Version 4");
        return -1;
    }
    if (!drv_str_has_prefix(auth, "AWS4-HMAC-SHA256 ") ||
        auth_field(auth, "Credential=", cred, sizeof(cred)) ||
        auth_field(auth, "SignedHeaders=", signed_hdrs, sizeof(signed_hdrs)) ||
        auth_field(auth, "Signature=", sig, sizeof(sig)) || !req->amz_date) {
        *code = "IncompleteSignatureException";
        drv_errstr_set(errstr, errstr_size,
                       "Authorization header requires AWS4-HMAC-SHA256 with "
                       "Credential, SignedHeaders, Signature, and an "
                       "X-Amz-Date header");
        return -1;
    }
    /* Credential=KEY/DATE/REGION/SERVICE/aws4_request */
    char *parts[5] = {0}, *save = NULL;
    int np = 0;
    for (char *t = strtok_r(cred, "/", &save); t && np < 5;
         t = strtok_r(NULL, "/", &save)) {
        parts[np++] = t;
    }
    if (np != 5 || strcmp(parts[4], "aws4_request") != 0) {
        *code = "IncompleteSignatureException";
        drv_errstr_set(errstr, errstr_size, "malformed Credential scope");
        return -1;
    }
    if (!signs_host(signed_hdrs)) {
        *code = "IncompleteSignatureException";
        drv_errstr_set(errstr, errstr_size,
                       "'Host' or ':authority' must be a 'SignedHeader' in "
                       "the AWS Authorization.");
        return -1;
    }
    int64_t t;
    if (parse_amz_date(req->amz_date, &t) != 0) {
        *code = "IncompleteSignatureException";
        drv_errstr_set(errstr, errstr_size,
                       "Date must be in ISO-8601 'basic format'. Got "
                       "'%.32s'. See http://en.wikipedia.org/wiki/ISO_8601",
                       req->amz_date);
        return -1;
    }
    if (strlen(parts[1]) != 8 || strncmp(req->amz_date, parts[1], 8) != 0) {
        *code = "InvalidSignatureException";
        drv_errstr_set(errstr, errstr_size,
                       "Date in Credential scope does not match YYYYMMDD "
                       "from ISO-8601 version of date from HTTP: '%.32s' != "
                       "'%.8s', from '%s'.",
                       parts[1], req->amz_date, req->amz_date);
        return -1;
    }
    if (strcmp(parts[3], service) != 0) {
        *code = "InvalidSignatureException";
        drv_errstr_set(errstr, errstr_size,
                       "Credential should be scoped to correct service: "
                       "'%s'",
                       service);
        return -1;
    }
    const char *secret = secret_fn(opaque, parts[0]);
    if (!secret) {
        *code = "UnrecognizedClientException";
        drv_errstr_set(errstr, errstr_size,
                       "The security token included in the request is "
                       "invalid.");
        return -1;
    }
    if (t < now - MAX_SKEW_S || t > now + MAX_SKEW_S) {
        *code = "InvalidSignatureException";
        drv_errstr_set(errstr, errstr_size,
                       "Signature expired: %s is more than 15 minutes from "
                       "the server's time",
                       req->amz_date);
        return -1;
    }
    /* the payload is signed: its hash is the body's SHA-256, whatever
     * X-Amz-Content-Sha256 says (UNSIGNED-PAYLOAD is S3's, not this
     * service's), and that header, when sent, must say the same */
    char payload[65];
    drv_sha256_hex(req->body ? req->body : "", req->body_len, payload);
    if (req->content_sha256 && strcmp(payload, req->content_sha256) != 0) {
        *code = "InvalidSignatureException";
        drv_errstr_set(errstr, errstr_size,
                       !strcmp(req->content_sha256, "UNSIGNED-PAYLOAD")
                           ? "UNSIGNED-PAYLOAD is not accepted by this "
                             "service: sign the SHA-256 of the body"
                           : "X-Amz-Content-Sha256 does not match the "
                             "SHA-256 of the body");
        return -1;
    }
    /* the canonical request */
    sb_t cr = {0};
    sb_str(&cr, req->method);
    sb_str(&cr, "\n");
    uri_encode(&cr, req->raw_path, strlen(req->raw_path), 1);
    sb_str(&cr, "\n");
    canonical_query(&cr, req->raw_query);
    sb_str(&cr, "\n");
    char hdrs[1024];
    snprintf(hdrs, sizeof(hdrs), "%s", signed_hdrs);
    for (char *s2, *h = strtok_r(hdrs, ";", &s2); h;
         h = strtok_r(NULL, ";", &s2)) {
        const char *v = req->header(req->opaque, h);
        sb_str(&cr, h);
        sb_str(&cr, ":");
        if (v) { /* trimmed, inner runs of spaces as one */
            while (*v == ' ') {
                v++;
            }
            size_t n = strlen(v);
            while (n > 0 && v[n - 1] == ' ') {
                n--;
            }
            for (size_t i = 0; i < n; i++) {
                if (v[i] == ' ' && i > 0 && v[i - 1] == ' ') {
                    continue;
                }
                sb_add(&cr, v + i, 1);
            }
        }
        sb_str(&cr, "\n");
    }
    sb_str(&cr, "\n");
    sb_str(&cr, signed_hdrs);
    sb_str(&cr, "\n");
    sb_str(&cr, payload);
    char crhash[65];
    drv_sha256_hex(cr.s, cr.len, crhash);
    free(cr.s);
    char sts[1024];
    snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
             req->amz_date, parts[1], parts[2], parts[3], crhash);
    /* the signing key */
    char k0[600];
    unsigned char k1[32], k2[32], k3[32], k4[32], mac[32];
    snprintf(k0, sizeof(k0), "AWS4%s", secret);
    hmac(k0, strlen(k0), parts[1], k1);
    hmac(k1, 32, parts[2], k2);
    hmac(k2, 32, parts[3], k3);
    hmac(k3, 32, "aws4_request", k4);
    hmac(k4, 32, sts, mac);
    OPENSSL_cleanse(k0, sizeof(k0));
    char hex[65];
    for (int i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    }
    if (strlen(sig) != 64 || CRYPTO_memcmp(hex, sig, 64) != 0) {
        *code = "InvalidSignatureException";
        drv_errstr_set(errstr, errstr_size,
                       "The request signature we calculated does not match "
                       "the signature you provided. Check your AWS Secret "
                       "Access Key and signing method.");
        return -1;
    }
    return 0;
}
