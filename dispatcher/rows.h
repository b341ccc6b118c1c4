/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parameters of a set-wise statement: its rows as one JSON array ($1,
 * read through drover_rows, migration 017) and the time it applies them
 * ($2). The statements that take them: submit.c's INSERT and report.c's
 * routine reports.
 */
#ifndef DRV_DISP_ROWS_H
#define DRV_DISP_ROWS_H

#include "dispatcher_int.h"

typedef struct drv__rows {
    char *json;
    char now[24];
    const char *p[2];
} drv__rows_t;

/* Statement `sql` with the JSON array `rows` (taken over) and now, its
 * parameters in *r (free them with drv__rows_clear). */
drv_pg_stmt_t drv__rows_stmt(drv__rows_t *r, const char *sql, json_t *rows);
void drv__rows_clear(drv__rows_t *r);

/* A JSON string, or null for NULL (a row's nullable column). */
json_t *drv__rows_str(const char *s);

#endif
