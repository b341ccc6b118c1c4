/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small helpers used everywhere: clocks, ids, string and number parsing.
 * Thread safety: all functions are safe from any thread.
 */
#ifndef DRV_UTIL_H
#define DRV_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/** Free a pointer and set it to NULL (curl's safefree). */
#define DRV_FREE(p)                                                            \
    do {                                                                       \
        free(p);                                                               \
        (p) = NULL;                                                            \
    } while (0)

#define DRV_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/** @brief Wall-clock time in epoch milliseconds. */
int64_t drv_now_ms(void);

/** @brief Monotonic time in milliseconds, for intervals and deadlines. */
int64_t drv_mono_ms(void);

/** @brief In a child between fork (or clone) and exec: every signal the
 * parent handles back to its default action, so no parent handler runs
 * in the child. Async-signal-safe (sigaction and memset only). */
void drv_child_default_signals(void);

/**
 * @brief Write a random RFC 4122 version-4 UUID (36 chars + NUL) to out.
 * @returns 0, or -1 when no randomness is available.
 */
int drv_uuid4(char out[37]);

/**
 * @brief Parse a whole decimal integer within [min, max].
 * @returns 0 on success, -1 when s is not an integer or is out of range.
 */
int drv_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/** @brief Parse a decimal number (e.g. "0.5") within [min, max]. */
int drv_parse_double(const char *s, double min, double max, double *out);

/** @brief strdup that aborts the program on out-of-memory. */
char *drv_strdup(const char *s);

/** @brief malloc/calloc that abort on out-of-memory (never return NULL). */
void *drv_malloc(size_t size);
void *drv_realloc(void *ptr, size_t size);
void *drv_calloc(size_t n, size_t size);

/** @brief true when s starts with prefix. */
bool drv_str_has_prefix(const char *s, const char *prefix);

/**
 * @brief Read a whole file into a NUL-terminated, malloc'd buffer.
 * @returns the buffer (owned by the caller) or NULL with errstr set.
 */
char *drv_read_file(const char *path, size_t *len_out, char *errstr,
                    size_t errstr_size);

/**
 * @brief Is `path` a clean absolute path: it starts with '/', is shorter
 *        than 4096 bytes and has no ".", ".." or empty component ("/" alone
 *        is clean; "/a/", "/a//b", "/a/." and "/a/.." are not)?
 * @remark Lexical only: a clean path may still pass through a symlink.
 */
bool drv_path_is_clean(const char *path);

/**
 * @brief Is `path` at or below `root`, on a component boundary ("/data/x"
 *        is under "/data" and "/", "/database" is not)? Both should be
 *        clean (drv_path_is_clean); trailing slashes of `root` are ignored.
 * @remark Lexical only.
 */
bool drv_path_under(const char *path, const char *root);

/**
 * @brief Copy bytes as valid UTF-8: each byte that does not begin a
 *        complete, shortest-form sequence (and each NUL) becomes U+FFFD, and
 *        the copy is cut at a character boundary to fit dst_size - 1 bytes.
 * @param dst written, always NUL-terminated when dst_size > 0
 * @param src may hold any bytes; src_len of them are read
 * @returns the length written (without the NUL)
 * @remark The one UTF-8 check for text going out (JSON replies, log lines):
 *         jansson refuses invalid UTF-8 and a cut in the middle of a
 *         character, so anything echoed passes through here first.
 */
size_t drv_utf8_copy(char *dst, size_t dst_size, const char *src,
                     size_t src_len);

/** @brief The host name, or "localhost" when it cannot be read. */
void drv_hostname(char *out, size_t size);

#endif
