/* SPDX-License-Identifier: Apache-2.0 */
/* Set-wise statements' parameters (rows.h). */
#include "rows.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "drover/util.h"

drv_pg_stmt_t drv__rows_stmt(drv__rows_t *r, const char *sql, json_t *rows)
{
    r->json = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    snprintf(r->now, sizeof(r->now), "%" PRId64, drv_now_ms());
    r->p[0] = r->json;
    r->p[1] = r->now;
    return (drv_pg_stmt_t){sql, 2, r->p};
}

void drv__rows_clear(drv__rows_t *r)
{
    free(r->json);
    r->json = NULL;
}

json_t *drv__rows_str(const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    return v ? v : json_null();
}
