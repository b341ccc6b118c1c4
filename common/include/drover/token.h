/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Paging tokens (AWS's nextToken): opaque to clients, a keyset position
 * inside (the last key a page returned), so pages do not shift when rows
 * are inserted or deleted between calls, as an OFFSET's did. The token is
 * base64 (OpenSSL's codec) of a versioned prefix and the key.
 * Thread-safe; no state.
 */
#ifndef DRV_TOKEN_H
#define DRV_TOKEN_H

#include <stddef.h>

/* The token for `key`: owned by the caller (free). */
char *drv_token_encode(const char *key);

/* The key inside `token` into key[key_size]: 0, or -1 when the token is not
 * one drv_token_encode made (or its key does not fit). */
int drv_token_decode(const char *token, char *key, size_t key_size);

#endif
