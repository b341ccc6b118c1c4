/* SPDX-License-Identifier: Apache-2.0 */
/* libpq wrapper and migrations: see drover/pg.h. */
#include "drover/pg.h"

#include <libpq-fe.h>
#include <string.h>

#include "drover/schemas.h"
#include "drover/util.h"

/* Statements kept prepared per session; SQL built per call beyond that
 * many distinct texts runs unprepared. */
#define DRV_PG_STMT_MAX 512

struct drv_pg {
    PGconn *conn;
    drv_log_t *log;
    char *conninfo;
    drv_err_t last_err;
    char sqlstate[6];
    unsigned session; /* connections opened so far */
    /* statements prepared on this session, by SQL text: the same text is
     * parsed and planned once per session, not once per call */
    struct drv_pg_prep {
        char *sql;
        uint64_t hash;
    } stmts[DRV_PG_STMT_MAX];
    int nstmts;
    int64_t replan_at; /* drv_mono_ms() when cached plans are dropped */
};

/* Cached plans are dropped this often (between transactions): a generic
 * plan made while a table was tiny (a seq scan of attempts on a new
 * installation) otherwise stays in use as the table grows until something
 * invalidates it - 0.8 ms instead of 0.07 ms per status report after
 * 10,000 jobs. Re-planning a session's statements costs about 1 ms. */
#define REPLAN_MS 5000

struct drv_pg_res {
    PGresult *res;
};

/* libpq messages end in a newline; ours do not. */
static void set_pq_error(char *errstr, size_t size, const char *prefix,
                         const char *msg)
{
    char buf[DRV_ERRSTR_SIZE];
    snprintf(buf, sizeof(buf), "%s", msg ? msg : "unknown error");
    for (char *c = buf; *c; c++) { /* one line: fold libpq's newlines */
        if (*c == '\n' || *c == '\t') {
            *c = ' ';
        }
    }
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == ' ') {
        buf[--n] = '\0';
    }
    drv_errstr_set(errstr, size, "%s%s", prefix, buf);
}

static void notice_cb(void *arg, const char *message)
{
    drv_pg_t *pg = arg;
    char buf[DRV_ERRSTR_SIZE];
    set_pq_error(buf, sizeof(buf), "", message);
    drv_log(pg->log, DRV_LOG_DEBUG, "pg.notice", NULL, "%s", buf);
}

static void stmts_forget(drv_pg_t *pg)
{
    for (int i = 0; i < pg->nstmts; i++) {
        free(pg->stmts[i].sql);
    }
    pg->nstmts = 0;
}

static int do_connect(drv_pg_t *pg, char *errstr, size_t errstr_size)
{
    if (pg->conn) {
        PQfinish(pg->conn);
    }
    stmts_forget(pg); /* prepared statements die with their session */
    pg->conn = PQconnectdb(pg->conninfo);
    pg->session++;
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        char why[DRV_ERRSTR_SIZE];
        set_pq_error(why, sizeof(why), "", PQerrorMessage(pg->conn));
        drv_errstr_set(errstr, errstr_size,
                       "could not connect to PostgreSQL (pg.conninfo; is "
                       "deploy/local/up running?): %s",
                       why);
        pg->last_err = DRV_ERR_TRANSIENT;
        return -1;
    }
    PQsetNoticeProcessor(pg->conn, notice_cb, pg);
    /* Drover's statements are short and many: JIT compilation (when a
     * plan's estimate passes jit_above_cost, e.g. from a small table
     * without statistics yet) cost 10 ms on a 0.7 ms scheduling query */
    PGresult *res = PQexec(pg->conn, "SET jit = off");
    PQclear(res);
    return 0;
}

drv_pg_t *drv_pg_connect(const char *conninfo, drv_log_t *log, char *errstr,
                         size_t errstr_size)
{
    drv_pg_t *pg = drv_calloc(1, sizeof(*pg));
    pg->log = log;
    pg->conninfo = drv_strdup(conninfo);
    if (do_connect(pg, errstr, errstr_size) != 0) {
        drv_pg_destroy(pg);
        return NULL;
    }
    return pg;
}

void drv_pg_destroy(drv_pg_t *pg)
{
    if (!pg) {
        return;
    }
    if (pg->conn) {
        PQfinish(pg->conn);
    }
    stmts_forget(pg);
    free(pg->conninfo);
    free(pg);
}

unsigned drv_pg_session(const drv_pg_t *pg)
{
    return pg->session;
}

int drv_pg_ensure(drv_pg_t *pg, char *errstr, size_t errstr_size)
{
    if (PQstatus(pg->conn) == CONNECTION_OK) {
        return 0;
    }
    drv_log(pg->log, DRV_LOG_WARN, "pg.reconnect", NULL,
            "connection to PostgreSQL lost, reconnecting");
    return do_connect(pg, errstr, errstr_size);
}

static void classify(drv_pg_t *pg, PGresult *res)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", st ? st : "");
    if (PQstatus(pg->conn) != CONNECTION_OK || !st ||
        drv_str_has_prefix(st, "08") || !strcmp(st, "40001") ||
        !strcmp(st, "40P01") || drv_str_has_prefix(st, "57P")) {
        pg->last_err = DRV_ERR_TRANSIENT;
    } else if (drv_str_has_prefix(st, "23")) {
        pg->last_err = DRV_ERR_INVALID;
    } else {
        pg->last_err = DRV_ERR_FATAL;
    }
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

/*
 * The name of `sql` prepared on this session, preparing it on first use;
 * NULL to run it unprepared (the cache is full, or it has no parameters:
 * BEGIN, COMMIT and the like gain nothing). Returns the prepare's failed
 * result in *failed, which is then the query's result.
 */
static const char *prepared(drv_pg_t *pg, const char *sql, int nparams,
                            char name[32], PGresult **failed)
{
    *failed = NULL;
    if (nparams == 0) {
        return NULL;
    }
    uint64_t h = fnv1a(sql);
    for (int i = 0; i < pg->nstmts; i++) {
        if (pg->stmts[i].hash == h && !strcmp(pg->stmts[i].sql, sql)) {
            snprintf(name, 32, "drv_%d", i);
            return name;
        }
    }
    if (pg->nstmts == DRV_PG_STMT_MAX) {
        return NULL;
    }
    snprintf(name, 32, "drv_%d", pg->nstmts);
    PGresult *res = PQprepare(pg->conn, name, sql, nparams, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        *failed = res;
        return NULL;
    }
    PQclear(res);
    pg->stmts[pg->nstmts].sql = drv_strdup(sql);
    pg->stmts[pg->nstmts].hash = h;
    pg->nstmts++;
    return name;
}

drv_pg_res_t *drv_pg_query(drv_pg_t *pg, const char *sql, int nparams,
                           const char *const *params, char *errstr,
                           size_t errstr_size)
{
    char name[32];
    PGresult *res;
    if (pg->nstmts > 0 && drv_mono_ms() >= pg->replan_at &&
        PQtransactionStatus(pg->conn) == PQTRANS_IDLE) {
        PQclear(PQexec(pg->conn, "DISCARD PLANS"));
        pg->replan_at = drv_mono_ms() + REPLAN_MS;
    }
    const char *stmt = prepared(pg, sql, nparams, name, &res);
    if (stmt) {
        res = PQexecPrepared(pg->conn, stmt, nparams, params, NULL, NULL, 0);
    } else if (!res) {
        res = PQexecParams(pg->conn, sql, nparams, NULL, params, NULL, NULL,
                           0);
    }
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        classify(pg, res);
        set_pq_error(errstr, errstr_size, "",
                     res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn));
        PQclear(res);
        return NULL;
    }
    pg->last_err = DRV_OK;
    drv_pg_res_t *r = drv_malloc(sizeof(*r));
    r->res = res;
    return r;
}

/* A failed pipeline: the first error is the one to report, the rest say
 * only that they were skipped. */
static int pipeline_fail(drv_pg_t *pg, int n, drv_pg_res_t **res,
                         PGresult *bad, char *errstr, size_t errstr_size)
{
    classify(pg, bad);
    set_pq_error(errstr, errstr_size, "",
                 bad ? PQresultErrorMessage(bad) : PQerrorMessage(pg->conn));
    PQclear(bad);
    for (int i = 0; i < n; i++) {
        drv_pg_res_free(res[i]);
        res[i] = NULL;
    }
    return -1;
}

int drv_pg_pipeline(drv_pg_t *pg, int n, const drv_pg_stmt_t *stmts,
                    drv_pg_res_t **res, char *errstr, size_t errstr_size)
{
    char names[DRV_PG_PIPELINE_MAX][32];
    const char *stmt[DRV_PG_PIPELINE_MAX];
    PGresult *bad = NULL;
    if (n <= 0 || n > DRV_PG_PIPELINE_MAX) {
        drv_errstr_set(errstr, errstr_size, "a pipeline of %d statements "
                       "(1 to %d)", n, DRV_PG_PIPELINE_MAX);
        pg->last_err = DRV_ERR_FATAL;
        return -1;
    }
    memset(res, 0, (size_t)n * sizeof(*res));
    /* prepared before the pipeline: PQprepare waits for its answer */
    for (int i = 0; i < n; i++) {
        stmt[i] = prepared(pg, stmts[i].sql, stmts[i].nparams, names[i],
                           &bad);
        if (bad) {
            return pipeline_fail(pg, n, res, bad, errstr, errstr_size);
        }
    }
    if (!PQenterPipelineMode(pg->conn)) {
        return pipeline_fail(pg, n, res, NULL, errstr, errstr_size);
    }
    int sent = 0;
    for (; sent < n; sent++) {
        const drv_pg_stmt_t *s = &stmts[sent];
        int ok = stmt[sent] ? PQsendQueryPrepared(pg->conn, stmt[sent],
                                                  s->nparams, s->params, NULL,
                                                  NULL, 0)
                            : PQsendQueryParams(pg->conn, s->sql, s->nparams,
                                                NULL, s->params, NULL, NULL,
                                                0);
        if (!ok) {
            break;
        }
    }
    if (sent < n || !PQpipelineSync(pg->conn)) {
        /* the connection is broken: nothing more can be read from it */
        int r = pipeline_fail(pg, n, res, NULL, errstr, errstr_size);
        PQexitPipelineMode(pg->conn);
        return r;
    }
    /* each statement's result, then a NULL; then the sync point's */
    for (int i = 0; i < n; i++) {
        PGresult *r = PQgetResult(pg->conn);
        ExecStatusType st = PQresultStatus(r);
        if (!bad && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) {
            res[i] = drv_malloc(sizeof(**res));
            res[i]->res = r;
        } else if (!bad && r) {
            bad = r; /* the first failure; those after it were skipped */
        } else {
            PQclear(r);
        }
        if (r) {
            PQclear(PQgetResult(pg->conn));
        }
    }
    for (;;) {
        PGresult *r = PQgetResult(pg->conn);
        if (!r) {
            break; /* the connection is gone */
        }
        ExecStatusType st = PQresultStatus(r);
        PQclear(r);
        if (st == PGRES_PIPELINE_SYNC) {
            break;
        }
    }
    PQexitPipelineMode(pg->conn);
    if (bad || PQstatus(pg->conn) != CONNECTION_OK) {
        return pipeline_fail(pg, n, res, bad, errstr, errstr_size);
    }
    pg->last_err = DRV_OK;
    return 0;
}

int drv_pg_exec(drv_pg_t *pg, const char *sql, int nparams,
                const char *const *params, char *errstr, size_t errstr_size)
{
    drv_pg_res_t *r = drv_pg_query(pg, sql, nparams, params, errstr,
                                   errstr_size);
    drv_pg_res_free(r);
    return r ? 0 : -1;
}

drv_err_t drv_pg_last_err(const drv_pg_t *pg)
{
    return pg->last_err;
}

const char *drv_pg_last_sqlstate(const drv_pg_t *pg)
{
    return pg->sqlstate;
}

int drv_pg_begin(drv_pg_t *pg, char *errstr, size_t errstr_size)
{
    return drv_pg_exec(pg, "BEGIN", 0, NULL, errstr, errstr_size);
}

int drv_pg_commit(drv_pg_t *pg, char *errstr, size_t errstr_size)
{
    return drv_pg_exec(pg, "COMMIT", 0, NULL, errstr, errstr_size);
}

void drv_pg_rollback(drv_pg_t *pg)
{
    char e[DRV_ERRSTR_SIZE];
    if (drv_pg_exec(pg, "ROLLBACK", 0, NULL, e, sizeof(e)) != 0) {
        drv_log(pg->log, DRV_LOG_WARN, "pg.rollback_failed", NULL,
                "could not roll back: %s", e);
    }
}

int drv_pg_res_rows(const drv_pg_res_t *res)
{
    return PQntuples(res->res);
}

int drv_pg_res_cols(const drv_pg_res_t *res)
{
    return PQnfields(res->res);
}

int64_t drv_pg_res_affected(const drv_pg_res_t *res)
{
    int64_t n = 0;
    drv_parse_int64(PQcmdTuples(res->res), 0, INT64_MAX, &n);
    return n;
}

const char *drv_pg_res_get(const drv_pg_res_t *res, int row, int col)
{
    if (PQgetisnull(res->res, row, col)) {
        return NULL;
    }
    return PQgetvalue(res->res, row, col);
}

int64_t drv_pg_res_int(const drv_pg_res_t *res, int row, int col,
                       int64_t dflt)
{
    const char *s = drv_pg_res_get(res, row, col);
    int64_t v;
    if (!s || drv_parse_int64(s, INT64_MIN, INT64_MAX, &v) != 0) {
        return dflt;
    }
    return v;
}

json_t *drv_pg_text_json_int(const char *s)
{
    int64_t v = 0;
    if (!s) {
        return json_null();
    }
    if (drv_parse_int64(s, INT64_MIN, INT64_MAX, &v) != 0) {
        v = 0;
    }
    return json_integer((json_int_t)v);
}

json_t *drv_pg_text_json_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *drv_pg_res_json_int(const drv_pg_res_t *res, int row, int col)
{
    return drv_pg_text_json_int(drv_pg_res_get(res, row, col));
}

json_t *drv_pg_res_json_str(const drv_pg_res_t *res, int row, int col)
{
    return drv_pg_text_json_str(drv_pg_res_get(res, row, col));
}

json_t *drv_pg_res_json(const drv_pg_res_t *res, int row, int col)
{
    const char *s = drv_pg_res_get(res, row, col);
    return s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
}

unsigned char *drv_pg_res_bytea(const drv_pg_res_t *res, int row, int col,
                                size_t *len)
{
    const char *s = drv_pg_res_get(res, row, col);
    *len = 0;
    if (!s) {
        return NULL;
    }
    size_t n;
    unsigned char *pq = PQunescapeBytea((const unsigned char *)s, &n);
    if (!pq) {
        return NULL;
    }
    unsigned char *out = drv_malloc(n ? n : 1);
    memcpy(out, pq, n);
    PQfreemem(pq);
    *len = n;
    return out;
}

char *drv_pg_bytea_text(drv_pg_t *pg, const void *buf, size_t len)
{
    size_t n;
    unsigned char *pq = PQescapeByteaConn(pg->conn, buf, len, &n);
    if (!pq) {
        return NULL;
    }
    char *out = drv_strdup((const char *)pq);
    PQfreemem(pq);
    return out;
}

void drv_pg_res_free(drv_pg_res_t *res)
{
    if (!res) {
        return;
    }
    PQclear(res->res);
    free(res);
}

/* Migration files are NNN_name.sql; NNN is the version. */
static int apply_one(drv_pg_t *pg, const drv_schema_file_t *f, int version,
                     char *errstr, size_t errstr_size)
{
    char ver[16], e[DRV_ERRSTR_SIZE];
    snprintf(ver, sizeof(ver), "%d", version);
    const char *p[] = {ver};
    if (drv_pg_begin(pg, e, sizeof(e)) != 0) {
        goto fail;
    }
    PGresult *res = PQexec(pg->conn, f->text); /* several statements */
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        set_pq_error(e, sizeof(e), "", PQresultErrorMessage(res));
        PQclear(res);
        drv_pg_rollback(pg);
        goto fail;
    }
    PQclear(res);
    if (drv_pg_exec(pg,
                    "INSERT INTO schema_migrations (version, applied_at) "
                    "VALUES ($1, (extract(epoch from now()) * 1000)::bigint)",
                    1, p, e, sizeof(e)) != 0 ||
        drv_pg_commit(pg, e, sizeof(e)) != 0) {
        drv_pg_rollback(pg);
        goto fail;
    }
    drv_log(pg->log, DRV_LOG_INFO, "pg.migrated", NULL,
            "applied migration %s", f->path);
    return 0;
fail:
    drv_errstr_set(errstr, errstr_size, "migration %s failed: %s", f->path, e);
    return -1;
}

int drv_pg_migrate(drv_pg_t *pg, char *errstr, size_t errstr_size)
{
    int applied = 0;
    if (drv_pg_exec(pg,
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    "version integer PRIMARY KEY, applied_at bigint NOT NULL)",
                    0, NULL, errstr, errstr_size) != 0 ||
        drv_pg_exec(pg, "SELECT pg_advisory_lock(74201)", 0, NULL, errstr,
                    errstr_size) != 0) {
        return -1;
    }
    for (const drv_schema_file_t *f = drv_migration_files; f->path; f++) {
        int64_t version;
        char num[16];
        snprintf(num, sizeof(num), "%.*s", (int)strspn(f->path, "0123456789"),
                 f->path);
        if (drv_parse_int64(num, 1, 1000000, &version) != 0) {
            drv_errstr_set(errstr, errstr_size,
                           "migration %s is not named NNN_name.sql", f->path);
            applied = -1;
            break;
        }
        const char *p[] = {num};
        drv_pg_res_t *r = drv_pg_query(
            pg, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, p,
            errstr, errstr_size);
        if (!r) {
            applied = -1;
            break;
        }
        int done = drv_pg_res_rows(r) > 0;
        drv_pg_res_free(r);
        if (!done) {
            if (apply_one(pg, f, (int)version, errstr, errstr_size) != 0) {
                applied = -1;
                break;
            }
            applied++;
        }
    }
    char e[DRV_ERRSTR_SIZE];
    drv_pg_exec(pg, "SELECT pg_advisory_unlock(74201)", 0, NULL, e, sizeof(e));
    return applied;
}
