/* SPDX-License-Identifier: Apache-2.0 */
/* Signed worker records: see drover/origin.h. */
#include "drover/origin.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "drover/err.h"

#define NAME_MAX_BYTES 255

int drv_origin_key_parse(const char *hex, const char *what,
                         drv_origin_key_t *key, char *errstr,
                         size_t errstr_size)
{
    size_t len = 0;
    if (!hex || strlen(hex) != 2 * DRV_ORIGIN_KEY_SIZE ||
        OPENSSL_hexstr2buf_ex(key->k, sizeof(key->k), &len, hex, '\0') != 1 ||
        len != DRV_ORIGIN_KEY_SIZE) {
        drv_errstr_set(errstr, errstr_size, "%s: expected %d hex digits",
                       what, 2 * DRV_ORIGIN_KEY_SIZE);
        return -1;
    }
    return 0;
}

void drv_origin_key_hex(const drv_origin_key_t *key, char *out)
{
    size_t n = 0;
    OPENSSL_buf2hexstr_ex(out, DRV_ORIGIN_SIG_HEX_SIZE, &n, key->k,
                          sizeof(key->k), '\0');
}

/* The HMAC implementation, fetched once: a fetch walks the provider
 * tables, and the dispatcher verifies every report (two MACs each). An
 * EVP_MAC is safe to share between threads. */
static EVP_MAC *hmac_impl;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_fetch(void)
{
    hmac_impl = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* HMAC-SHA256(key, parts[0] "\n" parts[1] "\n" ... value) */
static void mac(const unsigned char *key, size_t klen,
                const char *const *parts, size_t nparts, const void *value,
                size_t len, unsigned char out[DRV_ORIGIN_KEY_SIZE])
{
    size_t outl = 0;
    pthread_once(&hmac_once, hmac_fetch);
    EVP_MAC_CTX *c = hmac_impl ? EVP_MAC_CTX_new(hmac_impl) : NULL;
    char digest[] = "SHA256";
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                       digest, 0),
                      OSSL_PARAM_construct_end()};
    bool ok = c && EVP_MAC_init(c, key, klen, p) == 1;
    for (size_t i = 0; ok && i < nparts; i++) {
        ok = EVP_MAC_update(c, (const unsigned char *)parts[i],
                            strlen(parts[i])) == 1 &&
             EVP_MAC_update(c, (const unsigned char *)"\n", 1) == 1;
    }
    ok = ok && EVP_MAC_update(c, value, len) == 1 &&
         EVP_MAC_final(c, out, &outl, DRV_ORIGIN_KEY_SIZE) == 1 &&
         outl == DRV_ORIGIN_KEY_SIZE;
    if (!ok) { /* only if libcrypto cannot do HMAC-SHA256 at all */
        OPENSSL_cleanse(out, DRV_ORIGIN_KEY_SIZE);
        out[0] = 1; /* never equal to a real MAC by construction of use */
    }
    EVP_MAC_CTX_free(c);
}

void drv_origin_derive(const drv_origin_key_t *master, const char *ce,
                       const char *worker, drv_origin_key_t *out)
{
    const char *parts[] = {"drover-worker-key", ce};
    mac(master->k, sizeof(master->k), parts, 2, worker, strlen(worker),
        out->k);
}

bool drv_origin_name(const char *ce, const char *worker, char *out,
                     size_t size)
{
    int n = snprintf(out, size, "%s/%s", ce, worker);
    return n > 0 && (size_t)n < size && strlen(ce) <= NAME_MAX_BYTES &&
           strlen(worker) <= NAME_MAX_BYTES;
}

void drv_origin_sign(const drv_origin_key_t *key, const char *origin,
                     const void *value, size_t len, char *sig_hex)
{
    unsigned char sig[DRV_ORIGIN_KEY_SIZE];
    const char *parts[] = {origin};
    mac(key->k, sizeof(key->k), parts, 1, value, len, sig);
    size_t n = 0;
    OPENSSL_buf2hexstr_ex(sig_hex, DRV_ORIGIN_SIG_HEX_SIZE, &n, sig,
                          sizeof(sig), '\0');
}

bool drv_origin_verify(const drv_origin_key_t *master, const char *origin,
                       const char *sig_hex, const void *value, size_t len,
                       char *ce, size_t ce_size, char *worker,
                       size_t worker_size, char *errstr, size_t errstr_size)
{
    if (!origin || !sig_hex) {
        drv_errstr_set(errstr, errstr_size,
                       "unsigned: no " DRV_ORIGIN_HEADER " or "
                       DRV_ORIGIN_SIG_HEADER " header");
        return false;
    }
    const char *slash = strchr(origin, '/');
    size_t cl = slash ? (size_t)(slash - origin) : 0;
    if (!slash || cl == 0 || cl > NAME_MAX_BYTES || cl >= ce_size ||
        !slash[1] || strlen(slash + 1) > NAME_MAX_BYTES ||
        strlen(slash + 1) >= worker_size || strchr(slash + 1, '/')) {
        drv_errstr_set(errstr, errstr_size,
                       DRV_ORIGIN_HEADER " is not <compute environment>/"
                       "<worker id>");
        return false;
    }
    memcpy(ce, origin, cl);
    ce[cl] = '\0';
    snprintf(worker, worker_size, "%s", slash + 1);
    drv_origin_key_t key;
    unsigned char want[DRV_ORIGIN_KEY_SIZE], got[DRV_ORIGIN_KEY_SIZE];
    size_t gl = 0;
    drv_origin_derive(master, ce, worker, &key);
    const char *parts[] = {origin};
    mac(key.k, sizeof(key.k), parts, 1, value, len, want);
    OPENSSL_cleanse(&key, sizeof(key));
    if (strlen(sig_hex) != 2 * DRV_ORIGIN_KEY_SIZE ||
        OPENSSL_hexstr2buf_ex(got, sizeof(got), &gl, sig_hex, '\0') != 1 ||
        gl != sizeof(got) || CRYPTO_memcmp(got, want, sizeof(got)) != 0) {
        drv_errstr_set(errstr, errstr_size,
                       "the signature is not that of worker %s of compute "
                       "environment %s",
                       worker, ce);
        return false;
    }
    return true;
}
