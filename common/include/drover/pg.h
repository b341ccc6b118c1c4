/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PostgreSQL for Drover: one connection, parameterised queries with text
 * parameters and results, transactions, and the schema migrations. The only
 * module that includes <libpq-fe.h>.
 *
 * Ownership: handles and results are owned by the caller; strings read
 * from a result are borrowed until drv_pg_res_free. Thread safety: a
 * connection belongs to one thread at a time.
 */
#ifndef DRV_PG_H
#define DRV_PG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "drover/err.h"
#include "drover/log.h"

typedef struct drv_pg drv_pg_t;
typedef struct drv_pg_res drv_pg_res_t;

/** @brief Connect; NULL with errstr on failure (password never shown). */
drv_pg_t *drv_pg_connect(const char *conninfo, drv_log_t *log, char *errstr,
                         size_t errstr_size);
void drv_pg_destroy(drv_pg_t *pg);

/** @brief Reconnect when the connection broke; 0 when usable. */
int drv_pg_ensure(drv_pg_t *pg, char *errstr, size_t errstr_size);

/* How many times the session was (re)opened: session state such as an
 * advisory lock belongs to one value of it. */
unsigned drv_pg_session(const drv_pg_t *pg);

/**
 * @brief Run one statement with text parameters ($1..$n; NULL = SQL NULL).
 * A statement with parameters is prepared on the session the first time
 * its text is seen and executed by name afterwards (the first 512
 * distinct texts per session), so a hot statement is parsed once.
 * @returns a result (also for commands), or NULL with errstr set.
 */
drv_pg_res_t *drv_pg_query(drv_pg_t *pg, const char *sql, int nparams,
                           const char *const *params, char *errstr,
                           size_t errstr_size);

/** @brief drv_pg_query, discarding the result; returns 0 or -1. */
int drv_pg_exec(drv_pg_t *pg, const char *sql, int nparams,
                const char *const *params, char *errstr, size_t errstr_size);

/** @brief One statement of a pipeline: as drv_pg_query's arguments. */
typedef struct drv_pg_stmt {
    const char *sql;
    int nparams;
    const char *const *params;
} drv_pg_stmt_t;

/* Most statements one drv_pg_pipeline call sends: their answers must fit
 * in the socket's buffers while none is read (a few hundred bytes each). */
#define DRV_PG_PIPELINE_MAX 64

/**
 * @brief Run n (<= DRV_PG_PIPELINE_MAX) statements in one round trip
 * (libpq's pipeline mode): all are sent, then their results read in order,
 * into res[0..n-1]. They run one after another as if sent one at a time,
 * so a statement sees what the earlier ones did; inside a transaction the
 * batch changes nothing until COMMIT, as usual.
 * @returns 0, or -1 with errstr (the first failure) and every res[i] NULL:
 * a failed statement skips the rest, and inside a transaction the caller
 * must roll back.
 */
int drv_pg_pipeline(drv_pg_t *pg, int n, const drv_pg_stmt_t *stmts,
                    drv_pg_res_t **res, char *errstr, size_t errstr_size);

/** @brief Class of the last failure: TRANSIENT (connection, serialization,
 * deadlock), INVALID (constraint), FATAL (anything else). */
drv_err_t drv_pg_last_err(const drv_pg_t *pg);

/** @brief SQLSTATE of the last failure ("23505"...), "" if none. */
const char *drv_pg_last_sqlstate(const drv_pg_t *pg);

int drv_pg_begin(drv_pg_t *pg, char *errstr, size_t errstr_size);
int drv_pg_commit(drv_pg_t *pg, char *errstr, size_t errstr_size);
/** @brief Roll back; errors are logged, never returned. */
void drv_pg_rollback(drv_pg_t *pg);

int drv_pg_res_rows(const drv_pg_res_t *res);
int drv_pg_res_cols(const drv_pg_res_t *res);
/** @brief Rows changed by a command (UPDATE/INSERT/DELETE). */
int64_t drv_pg_res_affected(const drv_pg_res_t *res);
/** @brief A value as text, or NULL for SQL NULL. */
const char *drv_pg_res_get(const drv_pg_res_t *res, int row, int col);
/** @brief A value as an integer, dflt for NULL. */
int64_t drv_pg_res_int(const drv_pg_res_t *res, int row, int col,
                       int64_t dflt);
/** @brief A value as a JSON integer, or JSON null for SQL NULL (new ref). */
json_t *drv_pg_res_json_int(const drv_pg_res_t *res, int row, int col);
/** @brief A value as a JSON string, or JSON null for SQL NULL (new ref). */
json_t *drv_pg_res_json_str(const drv_pg_res_t *res, int row, int col);
/** @brief A value's text (NULL for SQL NULL, as drv_pg_res_get gives it)
 * as a JSON integer or null (0 if it is no integer; new ref). */
json_t *drv_pg_text_json_int(const char *s);
/** @brief A value's text (NULL for SQL NULL) as a JSON string or null. */
json_t *drv_pg_text_json_str(const char *s);

/** @brief A json/jsonb column parsed (new reference), NULL for SQL NULL. */
json_t *drv_pg_res_json(const drv_pg_res_t *res, int row, int col);
void drv_pg_res_free(drv_pg_res_t *res);

/** @brief A bytea column's bytes (libpq's decoding), malloc'd, owned by
 * the caller; NULL for SQL NULL. */
unsigned char *drv_pg_res_bytea(const drv_pg_res_t *res, int row, int col,
                                size_t *len);
/** @brief Bytes as bytea's text input ("\x..." by libpq's encoding), to
 * pass as a parameter cast to bytea; malloc'd, NULL on failure. */
char *drv_pg_bytea_text(drv_pg_t *pg, const void *buf, size_t len);

/**
 * @brief Apply the embedded migrations not yet applied, each in its own
 * transaction, under an advisory lock (safe with several dispatchers).
 * @returns the number applied, or -1 with errstr.
 */
int drv_pg_migrate(drv_pg_t *pg, char *errstr, size_t errstr_size);

#endif
