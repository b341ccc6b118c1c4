/* SPDX-License-Identifier: Apache-2.0 */
/* Capacity held by released jobs, per compute environment and per worker
 * (capacity.h). Environments are few, and so are a pass's workers: a
 * linear search over a small array each. */
#include "capacity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover/util.h"

#define USAGE_RELOAD_MS 60000

/* One set of figures: per environment, or per worker. */
typedef struct set {
    drv__usage_t **v;
    size_t *cnt;
} set_t;

static set_t ces(drv_disp_t *disp)
{
    return (set_t){&disp->usage, &disp->usage_cnt};
}

static set_t workers(drv_disp_t *disp)
{
    return (set_t){&disp->wusage, &disp->wusage_cnt};
}

static drv__usage_t *find(set_t s, const char *name, bool create)
{
    for (size_t i = 0; i < *s.cnt; i++) {
        if (!strcmp((*s.v)[i].ce, name)) {
            return &(*s.v)[i];
        }
    }
    if (!create) {
        return NULL;
    }
    *s.v = drv_realloc(*s.v, (*s.cnt + 1) * sizeof(**s.v));
    drv__usage_t *u = &(*s.v)[(*s.cnt)++];
    memset(u, 0, sizeof(*u));
    snprintf(u->ce, sizeof(u->ce), "%s", name);
    return u;
}

static void add(set_t s, const char *name, double vcpus, double mib,
                double gpus, int sign)
{
    drv__usage_t *u = find(s, name, true);
    u->delta_v += sign * vcpus;
    u->delta_m += sign * mib;
    u->delta_g += sign * gpus;
}

void drv__capacity_add(drv_disp_t *disp, const char *ce, double vcpus,
                       double mib, int sign)
{
    add(ces(disp), ce, vcpus, mib, 0, sign);
}

void drv__capacity_worker_add(drv_disp_t *disp, const char *worker,
                              double vcpus, double mib, double gpus, int sign)
{
    if (worker) {
        add(workers(disp), worker, vcpus, mib, gpus, sign);
    }
}

static void end(set_t s, bool committed)
{
    for (size_t i = 0; i < *s.cnt; i++) {
        drv__usage_t *u = &(*s.v)[i];
        if (committed) {
            u->held_v += u->delta_v;
            u->held_m += u->delta_m;
            u->held_g += u->delta_g;
        }
        u->delta_v = u->delta_m = u->delta_g = 0;
    }
}

void drv__capacity_end(drv_disp_t *disp, bool committed)
{
    if (!committed) { /* what the database holds now is read again */
        disp->usage_loaded = false;
    }
    end(ces(disp), committed);
    end(workers(disp), committed);
}

void drv__capacity_reset(drv_disp_t *disp)
{
    disp->usage_loaded = false;
}

void drv__capacity_free(drv_disp_t *disp)
{
    free(disp->usage);
    free(disp->wusage);
    disp->usage = disp->wusage = NULL;
    disp->usage_cnt = disp->wusage_cnt = 0;
}

/* Columns of the loads. */
enum { LC_NAME, LC_VCPUS, LC_MIB, LC_GPUS };

/* Sum what released jobs hold into set s, inside the open transaction
 * (its own changes so far included): the figures the deltas then move. */
static int load_set(drv_disp_t *disp, set_t s, const char *sql, char *errstr,
                    size_t errstr_size)
{
    drv_pg_res_t *r = drv_pg_query(disp->pg, sql, 0, NULL, errstr,
                                   errstr_size);
    if (!r) {
        return -1;
    }
    *s.cnt = 0;
    for (int i = 0; i < drv_pg_res_rows(r); i++) {
        drv__usage_t *u = find(s, drv_pg_res_get(r, i, LC_NAME), true);
        u->held_v = strtod(drv_pg_res_get(r, i, LC_VCPUS), NULL);
        u->held_m = strtod(drv_pg_res_get(r, i, LC_MIB), NULL);
        u->held_g = strtod(drv_pg_res_get(r, i, LC_GPUS), NULL);
    }
    drv_pg_res_free(r);
    return 0;
}

static int load(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    if (load_set(disp, ces(disp),
                 "SELECT compute_environment, sum(vcpus), sum(memory_mib), "
                 "sum(gpus) FROM jobs WHERE released AND compute_environment "
                 "IS NOT NULL GROUP BY 1",
                 errstr, errstr_size) != 0 ||
        load_set(disp, workers(disp),
                 "SELECT placed_worker, sum(vcpus), sum(memory_mib), "
                 "sum(gpus) FROM jobs WHERE released AND placed_worker IS NOT "
                 "NULL GROUP BY 1",
                 errstr, errstr_size) != 0) {
        return -1;
    }
    disp->usage_loaded = true;
    disp->usage_loaded_at = drv_mono_ms();
    return 0;
}

/* Read the figures again when due (leading anew, a rollback, a minute). */
static int fresh(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    return (!disp->usage_loaded ||
            drv_mono_ms() - disp->usage_loaded_at > USAGE_RELOAD_MS)
               ? load(disp, errstr, errstr_size)
               : 0;
}

int drv__capacity_held(drv_disp_t *disp, const char *ce, double *vcpus,
                       double *mib, char *errstr, size_t errstr_size)
{
    if (fresh(disp, errstr, errstr_size) != 0) {
        return -1;
    }
    const drv__usage_t *u = find(ces(disp), ce, false);
    *vcpus = u ? u->held_v + u->delta_v : 0;
    *mib = u ? u->held_m + u->delta_m : 0;
    return 0;
}

int drv__capacity_worker_held(drv_disp_t *disp, const char *worker,
                              double *vcpus, double *mib, double *gpus,
                              char *errstr, size_t errstr_size)
{
    if (fresh(disp, errstr, errstr_size) != 0) {
        return -1;
    }
    const drv__usage_t *u = find(workers(disp), worker, false);
    *vcpus = u ? u->held_v + u->delta_v : 0;
    *mib = u ? u->held_m + u->delta_m : 0;
    *gpus = u ? u->held_g + u->delta_g : 0;
    return 0;
}
