/* SPDX-License-Identifier: Apache-2.0 */
/* Paging tokens: see drover/token.h. */
#include "drover/token.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "drover/util.h"

#define PREFIX "drv1:"
#define TOKEN_MAX 1024 /* bytes of token accepted */

char *drv_token_encode(const char *key)
{
    size_t n = strlen(PREFIX) + strlen(key);
    unsigned char *raw = drv_malloc(n + 1);
    memcpy(raw, PREFIX, strlen(PREFIX));
    memcpy(raw + strlen(PREFIX), key, strlen(key));
    char *out = drv_malloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, raw, (int)n);
    free(raw);
    return out;
}

int drv_token_decode(const char *token, char *key, size_t key_size)
{
    size_t n = strlen(token);
    if (n == 0 || n > TOKEN_MAX || n % 4 != 0) {
        return -1;
    }
    unsigned char raw[TOKEN_MAX];
    int len = EVP_DecodeBlock(raw, (const unsigned char *)token, (int)n);
    if (len < 0) {
        return -1;
    }
    /* EVP_DecodeBlock counts the padding's zero bytes in */
    for (size_t pad = n; pad > 0 && token[pad - 1] == '='; pad--) {
        len--;
    }
    size_t plen = strlen(PREFIX);
    if ((size_t)len < plen || memcmp(raw, PREFIX, plen) != 0 ||
        (size_t)len - plen >= key_size ||
        memchr(raw + plen, '\0', (size_t)len - plen)) {
        return -1;
    }
    memcpy(key, raw + plen, (size_t)len - plen);
    key[(size_t)len - plen] = '\0';
    return 0;
}
