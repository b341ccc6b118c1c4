/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The part of the CloudWatch Logs API that AWS Batch users call, over the
 * output the workers keep: GetLogEvents, FilterLogEvents and
 * DescribeLogStreams, in log group /aws/batch/job.
 *
 * A stream is an attempt: the dispatcher names it when it releases the
 * attempt (<definition name>/default/<32 hex digits>, attempts.log_stream)
 * and it exists once the attempt is RUNNING, as on AWS. Its events are the
 * lines of worker.log.dir/<job id>/<attempt>.log (the directory the
 * workers share), each timed by <attempt>.times (worker/runtime.h); an
 * empty line is no event, a line longer than an event may be is several.
 * Output is read as it is written: a running attempt's stream grows.
 *
 * Tokens are positions in the stream's event list: "f/N" and "b/N" for
 * GetLogEvents (forward from event N, backward to it; at the end the
 * token given comes back, which is how the SDKs know to stop), and one
 * drv_token for FilterLogEvents and DescribeLogStreams.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_int.h"
#include "drover/token.h"
#include "drover/util.h"

#define LOG_GROUP "/aws/batch/job"
/* CloudWatch's own bounds: an event's message (256 KiB less its 26 bytes
 * of overhead), a reply of events (1 MiB, 10,000 of them) */
#define EVENT_MAX (256 * 1024 - 26)
#define REPLY_BYTES_MAX (1024 * 1024)
#define EVENTS_LIMIT 10000
#define STREAMS_LIMIT 50
/* streams one FilterLogEvents reads (each up to 1 MiB of output and its
 * times): more is refused, so that no request holds more than a bounded
 * amount of memory */
#define FILTER_STREAMS_MAX 10

/* ---- an attempt's events ------------------------------------------------ */

static int cmp_stamp(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

drv__log_event_t *drv__log_events(const char *text, size_t len,
                                  const char *times, int64_t fallback_ms,
                                  size_t *n_out)
{
    /* the stamps: pairs (offset, ms), in offset order */
    size_t ns = 0, cap = 0;
    int64_t *st = NULL;
    for (const char *p = times; p && *p;) {
        char *end;
        errno = 0;
        long long off = strtoll(p, &end, 10);
        bool ok = end != p && *end == ' ' && errno == 0;
        const char *q = end + (ok ? 1 : 0);
        long long ms = ok ? strtoll(q, &end, 10) : 0;
        ok = ok && end != q && (*end == '\n' || *end == '\0') && off >= 0 &&
             (size_t)off < len && ms >= 0;
        if (ok) {
            if (ns == cap) {
                cap = cap ? cap * 2 : 64;
                st = drv_realloc(st, cap * 2 * sizeof(*st));
            }
            st[2 * ns] = off;
            st[2 * ns + 1] = ms;
            ns++;
        }
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : NULL;
    }
    if (ns > 1) {
        qsort(st, ns, 2 * sizeof(*st), cmp_stamp);
    }
    drv__log_event_t *ev = NULL;
    size_t n = 0, ecap = 0, s = 0;
    int64_t ms = fallback_ms;
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(text + p, '\n', len - p);
        size_t end = nl ? (size_t)(nl - text) : len;
        while (s < ns && (size_t)st[2 * s] <= p) { /* the line's stamp */
            ms = st[2 * s + 1];
            s++;
        }
        for (size_t at = p; at < end; at += EVENT_MAX) {
            if (n == ecap) {
                ecap = ecap ? ecap * 2 : 256;
                ev = drv_realloc(ev, ecap * sizeof(*ev));
            }
            ev[n++] = (drv__log_event_t){
                .ms = ms,
                .off = at,
                .len = end - at < EVENT_MAX ? end - at : EVENT_MAX};
        }
        p = end + 1;
    }
    free(st);
    *n_out = n;
    return ev;
}

/* An attempt's kept output and its stamps. */
typedef struct stream {
    char name[300];
    char job_id[160];
    int attempt;
    int64_t started_ms, stopped_ms; /* stopped: 0 while it runs */
    char *text;
    size_t len;
    drv__log_event_t *ev;
    size_t n;
} stream_t;

static void stream_clear(stream_t *s)
{
    free(s->text);
    free(s->ev);
    s->text = NULL;
    s->ev = NULL;
    s->n = 0;
}

/* File `name` of the job's directory beneath the log directory, opened
 * through no symlink; -1 when absent. */
static int open_kept(const char *dir, const char *job_id, const char *name)
{
    if (!dir || !*dir || !drv_job_id_valid(job_id, true)) {
        return -1;
    }
    int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int j = d >= 0 ? openat(d, job_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                           O_CLOEXEC)
                   : -1;
    int fd = j >= 0 ? openat(j, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (j >= 0) {
        close(j);
    }
    if (d >= 0) {
        close(d);
    }
    return fd;
}

char *drv__log_read_kept(const char *dir, const char *job_id, const char *name,
                       size_t *len)
{
    *len = 0;
    int fd = open_kept(dir, job_id, name);
    char *buf = NULL;
    struct stat sb;
    /* the worker bounds the log at 1 MiB and its marker; anything larger
     * is not a log it wrote */
    if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
        sb.st_size <= 4 * 1024 * 1024) {
        buf = drv_malloc((size_t)sb.st_size + 1);
        ssize_t got = pread(fd, buf, (size_t)sb.st_size, 0);
        *len = got > 0 ? (size_t)got : 0;
        buf[*len] = '\0';
    }
    if (fd >= 0) {
        close(fd);
    }
    return buf;
}

/* The first and last stamp of the attempt's times file, reading only its
 * ends; false when it has none. */
static bool times_bounds(drv_client_t *client, const stream_t *s,
                         int64_t *first, int64_t *last)
{
    const char *dir = drv_conf_get(client->conf, "worker.log.dir");
    char name[32], buf[64];
    snprintf(name, sizeof(name), "%d.times", s->attempt);
    int fd = open_kept(dir, s->job_id, name);
    bool ok = false;
    struct stat sb;
    long long off = 0, ms = 0;
    if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
        sb.st_size > 0) {
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        ok = n > 0 && sscanf(buf, "%lld %lld", &off, &ms) == 2;
        *first = ms;
        /* the last line: the one before the final newline */
        off_t at = sb.st_size > (off_t)sizeof(buf) - 1
                       ? sb.st_size - (off_t)sizeof(buf) + 1
                       : 0;
        n = ok ? pread(fd, buf, sizeof(buf) - 1, at) : -1;
        buf[n > 0 ? n : 0] = '\0';
        char *end = n > 0 ? buf + n - 1 : buf;
        while (end > buf && *end == '\n') {
            *end-- = '\0';
        }
        char *nl = strrchr(buf, '\n');
        ok = ok && sscanf(nl ? nl + 1 : buf, "%lld %lld", &off, &ms) == 2;
        *last = ms;
    }
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

static void stream_load(drv_client_t *client, stream_t *s)
{
    const char *dir = drv_conf_get(client->conf, "worker.log.dir");
    char name[32];
    size_t tlen;
    snprintf(name, sizeof(name), "%d.log", s->attempt);
    s->text = drv__log_read_kept(dir, s->job_id, name, &s->len);
    snprintf(name, sizeof(name), "%d.times", s->attempt);
    char *times = drv__log_read_kept(dir, s->job_id, name, &tlen);
    s->ev = drv__log_events(s->text ? s->text : "", s->len, times,
                            s->started_ms, &s->n);
    free(times);
}

/* An event as the model has it (OutputLogEvent; FilteredLogEvent with
 * the stream's name and an id), its message valid UTF-8. */
static json_t *event_json(const stream_t *s, size_t k, bool filtered)
{
    const drv__log_event_t *e = &s->ev[k];
    size_t cap = 3 * e->len + 4;
    char *msg = drv_malloc(cap);
    drv_utf8_copy(msg, cap, s->text + e->off, e->len);
    json_t *o = json_pack("{s:I,s:s,s:I}", "timestamp", (json_int_t)e->ms,
                          "message", msg, "ingestionTime",
                          (json_int_t)e->ms);
    free(msg);
    if (filtered) {
        const char *id = strrchr(s->name, '/');
        char eid[96];
        snprintf(eid, sizeof(eid), "%.64s-%zu", id ? id + 1 : s->name, k);
        json_object_set_new(o, "logStreamName", json_string(s->name));
        json_object_set_new(o, "eventId", json_string(eid));
    }
    return o;
}

/* ---- requests ------------------------------------------------------------ */

/* The request's log group (logGroupName, or logGroupIdentifier: the name
 * or its ARN) must be /aws/batch/job. 0, or -1 with *err and errstr. */
static int check_group(drv_client_t *client, json_t *req, drv_err_t *err,
                       char *errstr, size_t errstr_size)
{
    const char *name = json_string_value(json_object_get(req,
                                                         "logGroupName"));
    const char *ident = json_string_value(json_object_get(
        req, "logGroupIdentifier"));
    char arn[512];
    snprintf(arn, sizeof(arn), "arn:aws:logs:%s:%s:log-group:" LOG_GROUP,
             client->region, client->account);
    if (name && ident) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "LogGroupName and LogGroupIdentifier are mutually "
                       "exclusive parameters.");
        return -1;
    }
    const char *g = name ? name : ident;
    if (!g) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "Either LogGroupName or LogGroupIdentifier must be "
                       "provided.");
        return -1;
    }
    if (strcmp(g, LOG_GROUP) && (name || strcmp(g, arn))) {
        *err = DRV_ERR_NOTFOUND;
        drv_errstr_set(errstr, errstr_size,
                       "The specified log group does not exist. Drover "
                       "keeps job output in " LOG_GROUP " only.");
        return -1;
    }
    return 0;
}

#define STREAM_COLS "log_stream, job_id, attempt, started_at, stopped_at"

static void stream_of(const drv_pg_res_t *r, int row, stream_t *s)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", drv_pg_res_get(r, row, 0));
    snprintf(s->job_id, sizeof(s->job_id), "%s", drv_pg_res_get(r, row, 1));
    s->attempt = (int)drv_pg_res_int(r, row, 2, 0);
    s->started_ms = drv_pg_res_int(r, row, 3, 0);
    s->stopped_ms = drv_pg_res_int(r, row, 4, 0);
}

/* The stream named `name` (one RUNNING or done): 0, or -1 with *err. */
static int find_stream(drv_client_t *client, drv_pg_t *pg, const char *name,
                       stream_t *s, drv_err_t *err, char *errstr,
                       size_t errstr_size)
{
    const char *p[] = {name};
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "SELECT " STREAM_COLS " FROM attempts WHERE (log_stream COLLATE "
        "\"C\") = $1 AND started_at IS NOT NULL LIMIT 1",
        1, p, errstr, errstr_size);
    if (!r) {
        *err = drv_pg_last_err(pg);
        return -1;
    }
    int rows = drv_pg_res_rows(r);
    if (rows == 1) {
        stream_of(r, 0, s);
    }
    drv_pg_res_free(r);
    if (rows != 1) {
        *err = DRV_ERR_NOTFOUND;
        drv_errstr_set(errstr, errstr_size,
                       "The specified log stream does not exist.");
        return -1;
    }
    stream_load(client, s);
    return 0;
}

/* The events of s in [startTime, endTime) (either absent: unbounded). */
static void time_window(json_t *req, stream_t *s)
{
    json_t *from = json_object_get(req, "startTime");
    json_t *to = json_object_get(req, "endTime");
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        int64_t t = s->ev[i].ms;
        if ((!from || t >= json_integer_value(from)) &&
            (!to || t < json_integer_value(to))) {
            s->ev[k++] = s->ev[i];
        }
    }
    s->n = k;
}

/* A GetLogEvents token: its direction and position; -1 if malformed. */
static int parse_token(const char *tok, char *dir, size_t *pos, size_t n)
{
    char *end;
    if (!tok || (tok[0] != 'f' && tok[0] != 'b') || tok[1] != '/' ||
        tok[2] < '0' || tok[2] > '9') {
        return -1;
    }
    errno = 0;
    unsigned long long v = strtoull(tok + 2, &end, 10);
    if (*end || errno || v > n) {
        return -1;
    }
    *dir = tok[0];
    *pos = (size_t)v;
    return 0;
}

static int events_limit(json_t *req, drv_err_t *err, char *errstr,
                        size_t errstr_size)
{
    json_t *l = json_object_get(req, "limit");
    if (!l) {
        return EVENTS_LIMIT;
    }
    /* the model bounds it (1..10000); checked again for other callers */
    if (!json_is_integer(l) || json_integer_value(l) < 1 ||
        json_integer_value(l) > EVENTS_LIMIT) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size, "limit must be from 1 to %d",
                       EVENTS_LIMIT);
        return -1;
    }
    return (int)json_integer_value(l);
}

/* What GetLogEvents and FilterLogEvents check first: a database, the
 * limit (into *limit), the log group, no unmask. The database, or NULL
 * with *err and errstr. */
static drv_pg_t *events_request(drv_client_t *client, json_t *req,
                                int *limit, drv_err_t *err, char *errstr,
                                size_t errstr_size)
{
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg || (*limit = events_limit(req, err, errstr, errstr_size)) < 0 ||
        check_group(client, req, err, errstr, errstr_size) != 0) {
        return NULL;
    }
    if (json_is_true(json_object_get(req, "unmask"))) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "unmask is not supported by Drover: it keeps no data "
                       "protection policies");
        return NULL;
    }
    return pg;
}

json_t *drv__op_get_log_events(drv_client_t *client, json_t *req,
                               drv_err_t *err, char *errstr,
                               size_t errstr_size)
{
    json_t *resp = NULL;
    stream_t s = {0};
    int limit = 0;
    drv_pg_t *pg = events_request(client, req, &limit, err, errstr,
                                  errstr_size);
    if (!pg) {
        goto out;
    }
    const char *name = json_string_value(json_object_get(req,
                                                         "logStreamName"));
    if (find_stream(client, pg, name, &s, err, errstr, errstr_size) != 0) {
        goto out;
    }
    time_window(req, &s);
    const char *tok = json_string_value(json_object_get(req, "nextToken"));
    bool head = json_is_true(json_object_get(req, "startFromHead"));
    char dir = head ? 'f' : 'b';
    size_t pos = head ? 0 : s.n;
    if (tok && parse_token(tok, &dir, &pos, s.n) != 0) {
        FAIL(DRV_ERR_INVALID, "The specified nextToken is invalid.");
    }
    /* [from, to): forward from pos, or backward to it, within the limit
     * and the reply's bytes */
    size_t from = pos, to = pos, bytes = 0;
    if (dir == 'f') {
        while (to < s.n && to - from < (size_t)limit &&
               bytes + s.ev[to].len + 26 <= REPLY_BYTES_MAX) {
            bytes += s.ev[to++].len + 26;
        }
    } else {
        while (from > 0 && to - from < (size_t)limit &&
               bytes + s.ev[from - 1].len + 26 <= REPLY_BYTES_MAX) {
            bytes += s.ev[--from].len + 26;
        }
    }
    json_t *events = json_array();
    for (size_t k = from; k < to; k++) {
        json_array_append_new(events, event_json(&s, k, false));
    }
    char fwd[32], back[32];
    snprintf(fwd, sizeof(fwd), "f/%zu", to);
    snprintf(back, sizeof(back), "b/%zu", from);
    resp = json_pack("{s:o,s:s,s:s}", "events", events, "nextForwardToken",
                     fwd, "nextBackwardToken", back);
out:
    stream_clear(&s);
    return resp;
}

/* ---- FilterLogEvents ----------------------------------------------------- */

/* A filter pattern of terms: every plain or "quoted" term must appear, no
 * -term may, and at least one ?term when there are any (CloudWatch's
 * syntax for unstructured events). */
typedef struct pattern {
    char **term;
    char *kind; /* '+' must, '-' must not, '?' any of */
    size_t n;
} pattern_t;

static void pattern_free(pattern_t *pt)
{
    for (size_t i = 0; i < pt->n; i++) {
        free(pt->term[i]);
    }
    free(pt->term);
    free(pt->kind);
}

static int pattern_parse(const char *s, pattern_t *pt, char *errstr,
                         size_t errstr_size)
{
    memset(pt, 0, sizeof(*pt));
    while (s && *s) {
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        if (!*s) {
            break;
        }
        if (*s == '{' || *s == '[') {
            drv_errstr_set(errstr, errstr_size,
                           "filterPattern: JSON and space-delimited patterns "
                           "are not supported by Drover; use terms, "
                           "\"quoted phrases\", -term and ?term");
            return -1;
        }
        char kind = '+';
        if ((*s == '-' || *s == '?') && s[1] && s[1] != ' ') {
            kind = *s++;
        }
        const char *start = s, *end;
        if (*s == '"') {
            start = ++s;
            end = strchr(s, '"');
            if (!end) {
                drv_errstr_set(errstr, errstr_size,
                               "filterPattern: a quoted term is not closed");
                return -1;
            }
            s = end + 1;
        } else {
            end = s + strcspn(s, " \t");
            s = end;
        }
        if (end > start) {
            pt->term = drv_realloc(pt->term, (pt->n + 1) * sizeof(*pt->term));
            pt->kind = drv_realloc(pt->kind, pt->n + 1);
            size_t tl = (size_t)(end - start);
            pt->term[pt->n] = drv_malloc(tl + 1);
            memcpy(pt->term[pt->n], start, tl);
            pt->term[pt->n][tl] = '\0';
            pt->kind[pt->n++] = kind;
        }
    }
    return 0;
}

static bool pattern_match(const pattern_t *pt, const char *msg, size_t len)
{
    bool any = false, want_any = false;
    for (size_t i = 0; i < pt->n; i++) {
        bool in = memmem(msg, len, pt->term[i], strlen(pt->term[i])) != NULL;
        if ((pt->kind[i] == '+' && !in) || (pt->kind[i] == '-' && in)) {
            return false;
        }
        if (pt->kind[i] == '?') {
            want_any = true;
            any |= in;
        }
    }
    return !want_any || any;
}

/* LIKE's pattern for names starting with `prefix` (its own % _ and \
 * standing for themselves); NULL for NULL. Owned by the caller. */
static char *like_prefix(const char *prefix)
{
    if (!prefix) {
        return NULL;
    }
    size_t pl = strlen(prefix), k = 0;
    char *like = drv_malloc(2 * pl + 2);
    for (size_t i = 0; i < pl; i++) {
        if (prefix[i] == '%' || prefix[i] == '_' || prefix[i] == '\\') {
            like[k++] = '\\';
        }
        like[k++] = prefix[i];
    }
    like[k++] = '%';
    like[k] = '\0';
    return like;
}

/* The streams a FilterLogEvents names (logStreamNames) or whose names
 * start with logStreamNamePrefix, up to FILTER_STREAMS_MAX. */
static stream_t *filter_streams(drv_client_t *client, drv_pg_t *pg,
                                json_t *req, size_t *n, drv_err_t *err,
                                char *errstr, size_t errstr_size)
{
    json_t *names = json_object_get(req, "logStreamNames");
    const char *prefix = json_string_value(json_object_get(
        req, "logStreamNamePrefix"));
    *n = 0;
    if (names && prefix) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "logStreamNames and logStreamNamePrefix are mutually "
                       "exclusive");
        return NULL;
    }
    if (!names && !prefix) {
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "Drover's FilterLogEvents searches the streams of "
                       "logStreamNames or logStreamNamePrefix, not a whole "
                       "log group");
        return NULL;
    }
    char *list = names ? json_dumps(names, JSON_COMPACT) : NULL;
    char *like = like_prefix(prefix);
    const char *p[] = {list, like};
    drv_pg_res_t *r = drv_pg_query(
        pg,
        "SELECT " STREAM_COLS " FROM attempts WHERE started_at IS NOT NULL "
        "AND log_stream IS NOT NULL AND CASE WHEN $1::jsonb IS NOT NULL THEN "
        "(log_stream COLLATE \"C\") IN (SELECT jsonb_array_elements_text("
        "$1::jsonb)) ELSE (log_stream COLLATE \"C\") LIKE $2 END ORDER BY "
        "(log_stream COLLATE \"C\") LIMIT 11", /* FILTER_STREAMS_MAX + 1 */
        2, p, errstr, errstr_size);
    free(list);
    free(like);
    if (!r) {
        *err = drv_pg_last_err(pg);
        return NULL;
    }
    if (drv_pg_res_rows(r) > FILTER_STREAMS_MAX) {
        drv_pg_res_free(r);
        *err = DRV_ERR_INVALID;
        drv_errstr_set(errstr, errstr_size,
                       "Drover's FilterLogEvents searches at most %d streams "
                       "at a time: name them in logStreamNames or narrow "
                       "logStreamNamePrefix",
                       FILTER_STREAMS_MAX);
        return NULL;
    }
    *n = (size_t)drv_pg_res_rows(r);
    stream_t *s = drv_calloc(*n ? *n : 1, sizeof(*s));
    for (size_t i = 0; i < *n; i++) {
        stream_of(r, (int)i, &s[i]);
        stream_load(client, &s[i]);
        time_window(req, &s[i]);
    }
    drv_pg_res_free(r);
    return s;
}

/* A matched event: its stream and place there. */
typedef struct hit {
    size_t stream, k;
    int64_t ms;
} hit_t;

static int cmp_hit(const void *a, const void *b)
{
    const hit_t *x = a, *y = b;
    if (x->ms != y->ms) {
        return x->ms < y->ms ? -1 : 1;
    }
    if (x->stream != y->stream) {
        return x->stream < y->stream ? -1 : 1;
    }
    return (x->k > y->k) - (x->k < y->k);
}

json_t *drv__op_filter_log_events(drv_client_t *client, json_t *req,
                                  drv_err_t *err, char *errstr,
                                  size_t errstr_size)
{
    json_t *resp = NULL;
    stream_t *s = NULL;
    size_t ns = 0;
    hit_t *hits = NULL;
    pattern_t pt = {0};
    int limit = 0;
    drv_pg_t *pg = events_request(client, req, &limit, err, errstr,
                                  errstr_size);
    if (!pg) {
        goto out;
    }
    json_t *head = json_object_get(req, "startFromHead");
    if (head && !json_is_true(head)) {
        FAIL(DRV_ERR_INVALID, "startFromHead false is not supported by "
                              "Drover: FilterLogEvents gives the oldest "
                              "events first");
    }
    if (pattern_parse(json_string_value(json_object_get(req,
                                                        "filterPattern")),
                      &pt, errstr, errstr_size) != 0) {
        *err = DRV_ERR_INVALID;
        goto out;
    }
    size_t start = 0;
    const char *tok = json_string_value(json_object_get(req, "nextToken"));
    char key[32];
    if (tok && (drv_token_decode(tok, key, sizeof(key)) != 0 ||
                sscanf(key, "e:%zu", &start) != 1)) {
        FAIL(DRV_ERR_INVALID, "The specified nextToken is invalid.");
    }
    if (!(s = filter_streams(client, pg, req, &ns, err, errstr,
                             errstr_size))) {
        goto out;
    }
    size_t nh = 0, cap = 0;
    for (size_t i = 0; i < ns; i++) {
        for (size_t k = 0; k < s[i].n; k++) {
            const drv__log_event_t *e = &s[i].ev[k];
            if (!pattern_match(&pt, s[i].text + e->off, e->len)) {
                continue;
            }
            if (nh == cap) {
                cap = cap ? cap * 2 : 256;
                hits = drv_realloc(hits, cap * sizeof(*hits));
            }
            hits[nh++] = (hit_t){i, k, e->ms};
        }
    }
    if (nh > 1) {
        qsort(hits, nh, sizeof(*hits), cmp_hit);
    }
    json_t *events = json_array();
    size_t k = start, bytes = 0;
    while (k < nh && k - start < (size_t)limit &&
           bytes + s[hits[k].stream].ev[hits[k].k].len + 26 <=
               REPLY_BYTES_MAX) {
        bytes += s[hits[k].stream].ev[hits[k].k].len + 26;
        json_array_append_new(events,
                              event_json(&s[hits[k].stream], hits[k].k, true));
        k++;
    }
    resp = json_pack("{s:o}", "events", events);
    if (k < nh) {
        snprintf(key, sizeof(key), "e:%zu", k);
        char *next = drv_token_encode(key);
        json_object_set_new(resp, "nextToken", json_string(next));
        free(next);
    }
out:
    for (size_t i = 0; i < ns; i++) {
        stream_clear(&s[i]);
    }
    free(s);
    free(hits);
    pattern_free(&pt);
    return resp;
}

/* ---- DescribeLogStreams -------------------------------------------------- */

json_t *drv__op_describe_log_streams(drv_client_t *client, json_t *req,
                                     drv_err_t *err, char *errstr,
                                     size_t errstr_size)
{
    json_t *resp = NULL;
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg || check_group(client, req, err, errstr, errstr_size) != 0) {
        goto out;
    }
    const char *prefix = json_string_value(json_object_get(
        req, "logStreamNamePrefix"));
    const char *order = json_string_value(json_object_get(req, "orderBy"));
    bool by_time = order && !strcmp(order, "LastEventTime");
    bool desc = json_is_true(json_object_get(req, "descending"));
    if (by_time && prefix) {
        FAIL(DRV_ERR_INVALID, "Cannot order by LastEventTime with a "
                              "logStreamNamePrefix.");
    }
    json_t *l = json_object_get(req, "limit");
    int limit = l ? (int)json_integer_value(l) : STREAMS_LIMIT;
    if (limit < 1 || limit > STREAMS_LIMIT) {
        FAIL(DRV_ERR_INVALID, "limit must be from 1 to %d", STREAMS_LIMIT);
    }
    size_t offset = 0;
    const char *tok = json_string_value(json_object_get(req, "nextToken"));
    char key[32];
    if (tok && (drv_token_decode(tok, key, sizeof(key)) != 0 ||
                sscanf(key, "o:%zu", &offset) != 1)) {
        FAIL(DRV_ERR_INVALID, "The specified nextToken is invalid.");
    }
    char *like = like_prefix(prefix);
    char lim[16], off[24];
    snprintf(lim, sizeof(lim), "%d", limit + 1);
    snprintf(off, sizeof(off), "%zu", offset);
    const char *p[] = {like, lim, off};
    /* by name in byte order (the index's), or by the last event's time as
     * the attempt's end (or start while it runs) gives it */
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "SELECT " STREAM_COLS " FROM attempts WHERE started_at IS NOT "
             "NULL AND log_stream IS NOT NULL AND ($1::text IS NULL OR "
             "(log_stream COLLATE \"C\") LIKE $1) ORDER BY %s %s, "
             "(log_stream COLLATE \"C\") %s LIMIT $2::int OFFSET $3::bigint",
             by_time ? "COALESCE(stopped_at, started_at)"
                     : "(log_stream COLLATE \"C\")",
             desc ? "DESC" : "ASC", desc ? "DESC" : "ASC");
    drv_pg_res_t *r = drv_pg_query(pg, sql, 3, p, errstr, errstr_size);
    free(like);
    if (!r) {
        *err = drv_pg_last_err(pg);
        goto out;
    }
    int rows = drv_pg_res_rows(r);
    json_t *streams = json_array();
    for (int i = 0; i < rows && i < limit; i++) {
        stream_t s;
        stream_of(r, i, &s);
        int64_t first = 0, last = 0;
        bool timed = times_bounds(client, &s, &first, &last);
        char arn[700];
        snprintf(arn, sizeof(arn),
                 "arn:aws:logs:%s:%s:log-group:" LOG_GROUP ":log-stream:%s",
                 client->region, client->account, s.name);
        json_t *o = json_pack("{s:s,s:I,s:s}", "logStreamName", s.name,
                              "creationTime", (json_int_t)s.started_ms, "arn",
                              arn);
        if (timed) { /* the stamps' ends (read, not the whole output) */
            json_object_set_new(o, "firstEventTimestamp",
                                json_integer(first));
            json_object_set_new(o, "lastEventTimestamp", json_integer(last));
            json_object_set_new(o, "lastIngestionTime", json_integer(last));
        }
        json_array_append_new(streams, o);
    }
    drv_pg_res_free(r);
    resp = json_pack("{s:o}", "logStreams", streams);
    if (rows > limit) {
        snprintf(key, sizeof(key), "o:%zu", offset + (size_t)limit);
        char *next = drv_token_encode(key);
        json_object_set_new(resp, "nextToken", json_string(next));
        free(next);
    }
out:
    return resp;
}
