/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A budget and a leak net for Avro C while it reads untrusted bytes.
 *
 * Avro C 1.11 allocates what a message declares before reading it: a
 * string or array length of 2^40 asks for that much memory, and when the
 * read then fails on truncated input the buffer is never freed. A consumer
 * fed hostile messages would leak or exhaust memory. So Avro C's allocator
 * is ours: between drv__avro_guard_begin() and _end() on a thread, every
 * allocation counts against a budget (a refused one makes the read fail
 * cleanly) and is remembered until freed; what is still allocated when the
 * decode is over (its values already released) is what Avro C leaked, and
 * is freed. Outside a guarded decode the allocator is plain realloc/free.
 */
#include "avro_guard.h"

#include <avro.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "drover/util.h"

typedef struct guard {
    int active;
    size_t budget, used;
    void **slots; /* open addressing; NULL empty, TOMB deleted */
    size_t cap, count, tombs;
} guard_t;

static _Thread_local guard_t tl_guard;
static char tomb_mark;
#define TOMB ((void *)&tomb_mark)

static size_t slot_of(const guard_t *g, const void *p)
{
    uintptr_t h = (uintptr_t)p;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)h & (g->cap - 1);
}

static void set_add(guard_t *g, void *p);

static void grow(guard_t *g)
{
    void **old = g->slots;
    size_t old_cap = g->cap;
    g->cap = old_cap ? old_cap * 2 : 256;
    g->slots = drv_calloc(g->cap, sizeof(*g->slots));
    g->count = g->tombs = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i] && old[i] != TOMB) {
            set_add(g, old[i]);
        }
    }
    free(old);
}

static void set_add(guard_t *g, void *p)
{
    if ((g->count + g->tombs + 1) * 2 > g->cap) {
        grow(g);
    }
    size_t i = slot_of(g, p);
    while (g->slots[i] && g->slots[i] != TOMB) {
        i = (i + 1) & (g->cap - 1);
    }
    if (g->slots[i] == TOMB) {
        g->tombs--;
    }
    g->slots[i] = p;
    g->count++;
}

/* Returns 1 if p was tracked (and is no longer). */
static int set_remove(guard_t *g, void *p)
{
    if (!g->cap) {
        return 0;
    }
    size_t i = slot_of(g, p);
    while (g->slots[i]) {
        if (g->slots[i] == p) {
            g->slots[i] = TOMB;
            g->count--;
            g->tombs++;
            return 1;
        }
        i = (i + 1) & (g->cap - 1);
    }
    return 0;
}

static void *guard_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    guard_t *g = &tl_guard;
    if (nsize == 0) {
        if (g->active && ptr) {
            set_remove(g, ptr);
        }
        free(ptr);
        return NULL;
    }
    if (!g->active) {
        return realloc(ptr, nsize);
    }
    size_t more = nsize > osize ? nsize - osize : 0;
    if (nsize > g->budget || g->used + more > g->budget) {
        return NULL; /* Avro C reports ENOMEM: the read fails cleanly */
    }
    /* only what this decode allocated is tracked: a buffer from before it
     * that grows here stays the owner's */
    int tracked = !ptr || set_remove(g, ptr);
    void *n = realloc(ptr, nsize);
    if (!n) {
        if (ptr && tracked) {
            set_add(g, ptr);
        }
        return NULL;
    }
    if (tracked) {
        set_add(g, n);
    }
    g->used += more;
    return n;
}

static pthread_once_t installed = PTHREAD_ONCE_INIT;

static void install(void)
{
    avro_set_allocator(guard_alloc, NULL);
}

void drv__avro_guard_install(void)
{
    pthread_once(&installed, install);
}

void drv__avro_guard_begin(size_t budget)
{
    guard_t *g = &tl_guard;
    g->active = 1;
    g->budget = budget;
    g->used = 0;
}

size_t drv__avro_guard_end(void)
{
    guard_t *g = &tl_guard;
    size_t leaked = 0;
    for (size_t i = 0; i < g->cap; i++) {
        if (g->slots[i] && g->slots[i] != TOMB) {
            free(g->slots[i]);
            leaked++;
        }
    }
    free(g->slots);
    g->slots = NULL;
    g->cap = g->count = g->tombs = 0;
    g->active = 0;
    return leaked;
}
