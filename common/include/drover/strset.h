/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A set of strings with a bound: a hash table (chained, FNV-1a) that the
 * caller empties when it is full. For "seen before" questions: a worker's
 * admitted attempts and the stops it heard for attempts not yet there.
 *
 * Ownership: the set copies what it is given. Thread safety: none; the
 * caller's lock guards it.
 */
#ifndef DRV_STRSET_H
#define DRV_STRSET_H

#include <stdbool.h>
#include <stddef.h>

typedef struct drv_strset drv_strset_t;

drv_strset_t *drv_strset_new(void);
void drv_strset_destroy(drv_strset_t *set);
/** @brief Add s; returns false if it was there already. */
bool drv_strset_add(drv_strset_t *set, const char *s);
bool drv_strset_has(const drv_strset_t *set, const char *s);
/** @brief Remove s; returns whether it was there. */
bool drv_strset_del(drv_strset_t *set, const char *s);
size_t drv_strset_size(const drv_strset_t *set);
void drv_strset_clear(drv_strset_t *set);

#endif
