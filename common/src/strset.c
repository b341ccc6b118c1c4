/* SPDX-License-Identifier: Apache-2.0 */
/* A bounded set of strings (strset.h). */
#include "drover/strset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drover/util.h"

#define BUCKETS 4096 /* a power of two */

typedef struct node {
    struct node *next;
    char s[]; /* the string */
} node_t;

struct drv_strset {
    node_t *bucket[BUCKETS];
    size_t size;
};

static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return (size_t)(h & (BUCKETS - 1));
}

drv_strset_t *drv_strset_new(void)
{
    return drv_calloc(1, sizeof(drv_strset_t));
}

void drv_strset_clear(drv_strset_t *set)
{
    for (size_t i = 0; i < BUCKETS; i++) {
        for (node_t *n = set->bucket[i], *next; n; n = next) {
            next = n->next;
            free(n);
        }
        set->bucket[i] = NULL;
    }
    set->size = 0;
}

void drv_strset_destroy(drv_strset_t *set)
{
    if (set) {
        drv_strset_clear(set);
        free(set);
    }
}

bool drv_strset_has(const drv_strset_t *set, const char *s)
{
    for (const node_t *n = set->bucket[hash(s)]; n; n = n->next) {
        if (!strcmp(n->s, s)) {
            return true;
        }
    }
    return false;
}

bool drv_strset_add(drv_strset_t *set, const char *s)
{
    if (drv_strset_has(set, s)) {
        return false;
    }
    size_t len = strlen(s);
    node_t *n = drv_malloc(sizeof(*n) + len + 1);
    memcpy(n->s, s, len + 1);
    size_t h = hash(s);
    n->next = set->bucket[h];
    set->bucket[h] = n;
    set->size++;
    return true;
}

bool drv_strset_del(drv_strset_t *set, const char *s)
{
    for (node_t **p = &set->bucket[hash(s)]; *p; p = &(*p)->next) {
        if (!strcmp((*p)->s, s)) {
            node_t *n = *p;
            *p = n->next;
            free(n);
            set->size--;
            return true;
        }
    }
    return false;
}

size_t drv_strset_size(const drv_strset_t *set)
{
    return set->size;
}
