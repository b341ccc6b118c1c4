/* SPDX-License-Identifier: Apache-2.0 */
/* Capacity held by released jobs, per compute environment (capacity.h).
 * Environments are few: a linear search over a small array. */
#include "capacity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover/util.h"

#define USAGE_RELOAD_MS 60000

static drv__usage_t *find(drv_disp_t *disp, const char *ce, bool create)
{
    for (size_t i = 0; i < disp->usage_cnt; i++) {
        if (!strcmp(disp->usage[i].ce, ce)) {
            return &disp->usage[i];
        }
    }
    if (!create) {
        return NULL;
    }
    disp->usage = drv_realloc(disp->usage,
                              (disp->usage_cnt + 1) * sizeof(*disp->usage));
    drv__usage_t *u = &disp->usage[disp->usage_cnt++];
    memset(u, 0, sizeof(*u));
    snprintf(u->ce, sizeof(u->ce), "%s", ce);
    return u;
}

void drv__capacity_add(drv_disp_t *disp, const char *ce, double vcpus,
                       double mib, int sign)
{
    drv__usage_t *u = find(disp, ce, true);
    u->delta_v += sign * vcpus;
    u->delta_m += sign * mib;
}

void drv__capacity_end(drv_disp_t *disp, bool committed)
{
    if (!committed) { /* what the database holds now is read again */
        disp->usage_loaded = false;
    }
    for (size_t i = 0; i < disp->usage_cnt; i++) {
        drv__usage_t *u = &disp->usage[i];
        if (committed) {
            u->held_v += u->delta_v;
            u->held_m += u->delta_m;
        }
        u->delta_v = u->delta_m = 0;
    }
}

void drv__capacity_reset(drv_disp_t *disp)
{
    disp->usage_loaded = false;
}

void drv__capacity_free(drv_disp_t *disp)
{
    free(disp->usage);
    disp->usage = NULL;
    disp->usage_cnt = 0;
}

/* Columns of LOAD_SQL. */
enum { LC_CE, LC_VCPUS, LC_MIB };

/* Sum what released jobs hold, inside the open transaction (its own
 * changes so far included): the figure the deltas then move. */
static int load(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT compute_environment, sum(vcpus), sum(memory_mib) FROM jobs "
        "WHERE released AND compute_environment IS NOT NULL GROUP BY 1",
        0, NULL, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    disp->usage_cnt = 0;
    for (int i = 0; i < drv_pg_res_rows(r); i++) {
        drv__usage_t *u = find(disp, drv_pg_res_get(r, i, LC_CE), true);
        u->held_v = strtod(drv_pg_res_get(r, i, LC_VCPUS), NULL);
        u->held_m = strtod(drv_pg_res_get(r, i, LC_MIB), NULL);
    }
    drv_pg_res_free(r);
    disp->usage_loaded = true;
    disp->usage_loaded_at = drv_mono_ms();
    return 0;
}

int drv__capacity_held(drv_disp_t *disp, const char *ce, double *vcpus,
                       double *mib, char *errstr, size_t errstr_size)
{
    if ((!disp->usage_loaded ||
         drv_mono_ms() - disp->usage_loaded_at > USAGE_RELOAD_MS) &&
        load(disp, errstr, errstr_size) != 0) {
        return -1;
    }
    const drv__usage_t *u = find(disp, ce, false);
    *vcpus = u ? u->held_v + u->delta_v : 0;
    *mib = u ? u->held_m + u->delta_m : 0;
    return 0;
}
