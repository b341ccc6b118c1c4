/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS Signature Version 4 verification (the request side of what the AWS
 * SDKs and CLI sign): canonical request, string to sign, signing key,
 * HMAC-SHA256 with libcrypto.
 */
#ifndef DRV_SIGV4_H
#define DRV_SIGV4_H

#include <stddef.h>
#include <stdint.h>

typedef struct drv_sigv4_req {
    const char *method;
    const char *raw_path;  /* as sent, still percent-encoded */
    const char *raw_query; /* as sent, without '?' ("" if none) */
    const char *authorization;
    const char *amz_date; /* X-Amz-Date */
    const char *content_sha256; /* X-Amz-Content-Sha256 or NULL */
    const void *body;
    size_t body_len;
    /* header value by lowercase name (NULL if absent) */
    const char *(*header)(void *opaque, const char *name);
    void *opaque;
} drv_sigv4_req_t;

/* The secret for an access key id, or NULL if unknown. */
typedef const char *(drv_sigv4_secret_fn)(void *opaque, const char *key_id);

/*
 * Verify a signed request for `service` at time `now` (epoch seconds), as
 * AWS checks it: host among SignedHeaders; X-Amz-Date exactly
 * YYYYMMDDTHHMMSSZ, within 15 minutes of now, its day the credential
 * scope's; the payload hash always the SHA-256 of the body (no
 * UNSIGNED-PAYLOAD), X-Amz-Content-Sha256 when sent the same.
 * Returns 0, or -1 with `code` set to AWS's error code
 * (MissingAuthenticationTokenException, IncompleteSignatureException,
 * InvalidSignatureException, UnrecognizedClientException) and errstr to
 * its message, which may quote the X-Amz-Date as sent (any bytes).
 */
int drv_sigv4_verify(const drv_sigv4_req_t *req, const char *service,
                     int64_t now, drv_sigv4_secret_fn *secret, void *opaque,
                     const char **code, char *errstr, size_t errstr_size);

/* Hex SHA-256 of a buffer into out[65]. */
void drv_sha256_hex(const void *buf, size_t len, char out[65]);

#endif
