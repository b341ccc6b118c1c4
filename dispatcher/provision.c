/* SPDX-License-Identifier: Apache-2.0 */
/* The provisioner (provision.h): desired capacity, then workers. */
#include "provision.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drover/limits.h"
#include "drover/pg.h"
#include "drover/util.h"

/* pg_try_advisory_lock key of the acting provisioner ("drover" + 1) */
#define PROVISION_LOCK_KEY "110386672592243"
/* RUNNABLE jobs read per queue a round: past them, the environments they
 * would go to are at their maximum already in any backlog worth the
 * name */
#define CANDIDATES_PER_QUEUE 2000
#define RELEASED_MAX 20000
#define BACKOFF_MAX_MS 60000
#define KILL_AFTER_DRAIN_MS 30000

/* ---- sizes and plans ------------------------------------------------ */

int drv__sizes_parse(const char *spec, drv__size_t *sizes, size_t *n,
                     char *errstr, size_t errstr_size)
{
    *n = 0;
    const char *s = spec;
    while (s && *s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char item[256];
        if (len >= sizeof(item) || *n == DRV_SIZES_MAX) {
            drv_errstr_set(errstr, errstr_size,
                           "provisioner.sizes: at most %d entries of at most "
                           "255 characters",
                           DRV_SIZES_MAX);
            return -1;
        }
        memcpy(item, s, len);
        item[len] = '\0';
        s = end ? end + 1 : NULL;
        char *eq = strchr(item, '=');
        drv__size_t *z = &sizes[*n];
        memset(z, 0, sizeof(*z));
        char *p = eq ? eq + 1 : NULL, *q = NULL;
        size_t nl = eq ? (size_t)(eq - item) : 0;
        double v = p ? strtod(p, &q) : 0;
        long long m = q && *q == '/' ? strtoll(q + 1, &q, 10) : 0;
        long long g = q && *q == '/' ? strtoll(q + 1, &q, 10) : 0;
        bool name_ok = nl > 0 && nl <= DRV_SIZE_NAME_MAX;
        for (size_t i = 0; name_ok && i < nl; i++) {
            char c = item[i];
            name_ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                      c == '_';
        }
        if (!name_ok || !q || *q || !(v > 0) || v > DRV_VCPUS_MAX || m < 4 ||
            m > DRV_MEMORY_MIB_MAX || g < 0 || g > DRV_GPUS_MAX) {
            drv_errstr_set(errstr, errstr_size,
                           "provisioner.sizes: \"%s\" is not NAME=VCPUS/"
                           "MEMORY_MIB[/GPUS] (a name of letters, digits, "
                           ". - _; 0 < VCPUS <= %d, 4 <= MEMORY_MIB, GPUS "
                           "0..%d)",
                           item, DRV_VCPUS_MAX, DRV_GPUS_MAX);
            return -1;
        }
        for (size_t i = 0; i < *n; i++) {
            if (strlen(sizes[i].name) == nl &&
                !strncmp(sizes[i].name, item, nl)) {
                drv_errstr_set(errstr, errstr_size,
                               "provisioner.sizes: %.*s is given twice",
                               (int)nl, item);
                return -1;
            }
        }
        memcpy(z->name, item, nl);
        z->vcpus = v;
        z->mib = m;
        z->gpus = (int)g;
        (*n)++;
    }
    if (*n == 0) {
        drv_errstr_set(errstr, errstr_size,
                       "provisioner.sizes: at least one size is needed");
        return -1;
    }
    return 0;
}

static bool fits(const drv__size_t *z, double v, double m, int g)
{
    return v <= z->vcpus + 1e-9 && m <= (double)z->mib && g <= z->gpus;
}

static bool plan_open(drv__plan_t *p, size_t size)
{
    if (p->nbins >= p->max_workers ||
        p->vcpus + p->sizes[size].vcpus > p->max_v + 1e-9) {
        return false;
    }
    if (p->nbins == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 8;
        p->bins = drv_realloc(p->bins, p->cap * sizeof(*p->bins));
    }
    p->bins[p->nbins++] = (drv__bin_t){size, p->sizes[size].vcpus,
                                       (double)p->sizes[size].mib,
                                       p->sizes[size].gpus};
    p->vcpus += p->sizes[size].vcpus;
    return true;
}

int drv__plan_add(drv__plan_t *p, double v, double m, int g)
{
    bool any = false;
    for (size_t i = 0; i < p->nsizes; i++) {
        any = any || fits(&p->sizes[i], v, m, g);
    }
    if (!any) {
        return -1;
    }
    for (size_t i = 0; i < p->nbins; i++) {
        drv__bin_t *b = &p->bins[i];
        if (v <= b->free_v + 1e-9 && m <= b->free_m && g <= b->free_g) {
            b->free_v -= v;
            b->free_m -= m;
            b->free_g -= g;
            return 1;
        }
    }
    /* a new worker: the smallest (sizes are in ascending order) that
     * holds the job and keeps the plan within its maximum */
    for (size_t i = 0; i < p->nsizes; i++) {
        if (fits(&p->sizes[i], v, m, g) && plan_open(p, i)) {
            drv__bin_t *b = &p->bins[p->nbins - 1];
            b->free_v -= v;
            b->free_m -= m;
            b->free_g -= g;
            return 1;
        }
    }
    return 0;
}

void drv__plan_floor(drv__plan_t *p, double min_v, size_t size)
{
    while (p->vcpus < min_v - 1e-9 && plan_open(p, size)) {
    }
}

void drv__plan_counts(const drv__plan_t *p, int *counts)
{
    memset(counts, 0, p->nsizes * sizeof(*counts));
    for (size_t i = 0; i < p->nbins; i++) {
        counts[p->bins[i].size]++;
    }
}

void drv__plan_free(drv__plan_t *p)
{
    free(p->bins);
    p->bins = NULL;
    p->nbins = p->cap = 0;
    p->vcpus = 0;
}

/* ---- the provisioner ------------------------------------------------ */

/* A compute environment's failures in a row, and when it may start
 * workers again. */
typedef struct backoff {
    char ce[DRV_NAME_MAX + 1];
    int fails;
    int64_t until;
} backoff_t;

typedef struct idle {
    char id[256], ce[DRV_NAME_MAX + 1];
    int64_t since; /* 0: busy */
    unsigned seen; /* the round it was last seen in */
} idle_t;

struct drv__prov {
    const drv_conf_t *conf;
    drv_log_t *log;
    drv_metrics_t *metrics;
    const drv_origin_key_t *master;
    drv__size_t sizes[DRV_SIZES_MAX];
    size_t nsizes, dflt;
    drv_pg_t *pg;
    unsigned lock_session; /* the session holding the lock (0: none) */
    char host[256];
    const char *dir, *template, *prefix;
    int64_t idle_ms, register_ms, drain_s;
    size_t max_workers; /* per environment: its run topic's partitions */
    backoff_t *backoff;
    size_t nbackoff;
    drv__prov_ctx_t ctx; /* what the operations are given */
    idle_t *idle;        /* scaled environments' workers (scale_to_plan) */
    size_t nidle;
    unsigned round;
    pthread_t thread;
    bool started;
    atomic_bool stop;
};

/* A MANAGED compute environment, for one round. */
typedef struct ce {
    char name[DRV_NAME_MAX + 1];
    bool enabled;
    double min_v, max_v, floor_v;
    drv__size_t sizes[DRV_SIZES_MAX]; /* ascending */
    size_t nsizes, floor_size;
    const drv__prov_ops_t *ops; /* NULL: external */
    char prov_name[32];
    char error[DRV_ERRSTR_SIZE];
    drv__plan_t plan;
} ce_t;

static const drv__prov_ops_t *ops_named(const char *name)
{
    static const drv__prov_ops_t *const all[] = {
        &drv__prov_process, &drv__prov_container, &drv__prov_kubernetes};
    for (size_t i = 0; i < DRV_ARRAY_SIZE(all); i++) {
        if (!strcmp(name, all[i]->name)) {
            return all[i];
        }
    }
    return NULL;
}

drv__prov_t *drv__prov_new(const drv_conf_t *conf, drv_log_t *log,
                           drv_metrics_t *metrics,
                           const drv_origin_key_t *master, char *errstr,
                           size_t errstr_size)
{
    drv__prov_t *prov = drv_calloc(1, sizeof(*prov));
    prov->conf = conf;
    prov->log = log;
    prov->metrics = metrics;
    prov->master = master;
    prov->dir = drv_conf_get(conf, "provisioner.dir");
    prov->ctx = (drv__prov_ctx_t){conf, prov->dir, NULL};
    prov->template = drv_conf_get(conf, "provisioner.worker.config");
    prov->prefix = drv_conf_get(conf, "provisioner.worker.id.prefix");
    prov->idle_ms = drv_conf_get_int(conf, "provisioner.idle.seconds") * 1000;
    prov->register_ms =
        drv_conf_get_int(conf, "provisioner.register.seconds") * 1000;
    prov->drain_s = drv_conf_get_int(conf, "provisioner.drain.seconds");
    prov->max_workers = (size_t)drv_conf_get_int(conf, "topic.partitions");
    const char *dflt = drv_conf_get(conf, "provisioner.size.default");
    const char *pdef = drv_conf_get(conf, "provisioner.default");
    if (gethostname(prov->host, sizeof(prov->host) - 1) != 0) {
        snprintf(prov->host, sizeof(prov->host), "localhost");
    }
    if (drv__sizes_parse(drv_conf_get(conf, "provisioner.sizes"), prov->sizes,
                         &prov->nsizes, errstr, errstr_size) != 0) {
        goto fail;
    }
    prov->dflt = prov->nsizes;
    for (size_t i = 0; i < prov->nsizes; i++) {
        if (!strcmp(prov->sizes[i].name, dflt)) {
            prov->dflt = i;
        }
    }
    if (prov->dflt == prov->nsizes) {
        drv_errstr_set(errstr, errstr_size,
                       "provisioner.size.default: %s is not one of "
                       "provisioner.sizes",
                       dflt);
        goto fail;
    }
    if (strcmp(pdef, "external") && !ops_named(pdef)) {
        drv_errstr_set(errstr, errstr_size,
                       "provisioner.default: %s is not a provisioner of "
                       "this build (process, container, kubernetes, external)",
                       pdef);
        goto fail;
    }
    if (*prov->dir && prov->dir[0] != '/') {
        drv_errstr_set(errstr, errstr_size,
                       "provisioner.dir must be an absolute path");
        goto fail;
    }
    if (*prov->dir && mkdir(prov->dir, 0700) != 0 && errno != EEXIST) {
        drv_errstr_set(errstr, errstr_size, "provisioner.dir: cannot make "
                       "%s: %s", prov->dir, strerror(errno));
        goto fail;
    }
    bool prefix_ok = strlen(prov->prefix) <= 64;
    for (const char *c = prov->prefix; prefix_ok && *c; c++) {
        prefix_ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                    (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' ||
                    *c == '_';
    }
    if (!prefix_ok) {
        drv_errstr_set(errstr, errstr_size,
                       "provisioner.worker.id.prefix: at most 64 letters, "
                       "digits, ., - and _");
        goto fail;
    }
    return prov;
fail:
    free(prov);
    return NULL;
}

static void *prov_main(void *arg);

int drv__prov_start(drv__prov_t *prov, char *errstr, size_t errstr_size)
{
    int err = pthread_create(&prov->thread, NULL, prov_main, prov);
    if (err != 0) {
        drv_errstr_set(errstr, errstr_size,
                       "could not start the provisioner: %s", strerror(err));
        return -1;
    }
    prov->started = true;
    return 0;
}

void drv__prov_destroy(drv__prov_t *prov)
{
    if (!prov) {
        return;
    }
    if (prov->started) {
        prov->stop = true;
        pthread_join(prov->thread, NULL);
    }
    drv__prov_container_free(&prov->ctx);
    drv_pg_destroy(prov->pg);
    free(prov->backoff);
    free(prov->idle);
    free(prov);
}

static backoff_t *backoff_of(drv__prov_t *prov, const char *ce)
{
    for (size_t i = 0; i < prov->nbackoff; i++) {
        if (!strcmp(prov->backoff[i].ce, ce)) {
            return &prov->backoff[i];
        }
    }
    prov->backoff = drv_realloc(prov->backoff,
                                (prov->nbackoff + 1) * sizeof(*prov->backoff));
    backoff_t *b = &prov->backoff[prov->nbackoff++];
    memset(b, 0, sizeof(*b));
    snprintf(b->ce, sizeof(b->ce), "%s", ce);
    return b;
}

/* A worker of `ce` failed (reason: the metric's label, why: the log's). */
static void failed(drv__prov_t *prov, const char *ce, const char *worker,
                   const char *reason, const char *why)
{
    backoff_t *b = backoff_of(prov, ce);
    b->fails++;
    int64_t wait = 1000LL << (b->fails < 7 ? b->fails : 7);
    b->until = drv_mono_ms() + (wait < BACKOFF_MAX_MS ? wait : BACKOFF_MAX_MS);
    char label[400];
    snprintf(label, sizeof(label), "compute_environment=\"%s\",reason=\"%s\"",
             ce, reason);
    drv_metrics_add(prov->metrics, "drover_provisioner_failures_total", label,
                    1);
    json_t *f = json_pack("{s:s,s:s,s:s}", "compute_environment", ce,
                          "worker", worker, "reason", reason);
    drv_log(prov->log, DRV_LOG_WARN, "provisioner.worker_failed", f, "%s",
            why);
    json_decref(f);
}

/* The sizes instanceTypes name (none, or "optimal": the default size),
 * ascending by vCPUs then memory; false with ce->error when one is not in
 * provisioner.sizes. */
static bool resolve_sizes(drv__prov_t *prov, ce_t *ce, json_t *types)
{
    bool want[DRV_SIZES_MAX] = {false};
    size_t i;
    json_t *t;
    if (json_array_size(types) == 0) {
        want[prov->dflt] = true;
    }
    json_array_foreach(types, i, t)
    {
        const char *name = json_string_value(t);
        size_t k = prov->nsizes;
        if (name && !strcmp(name, "optimal")) {
            k = prov->dflt;
        }
        for (size_t j = 0; name && k == prov->nsizes && j < prov->nsizes;
             j++) {
            if (!strcmp(prov->sizes[j].name, name)) {
                k = j;
            }
        }
        if (k == prov->nsizes) {
            snprintf(ce->error, sizeof(ce->error),
                     "CLIENT_ERROR - computeResources.instanceTypes: %.128s "
                     "is not a worker size of this Drover (provisioner."
                     "sizes)",
                     name ? name : "?");
            return false;
        }
        want[k] = true;
    }
    ce->nsizes = 0;
    for (size_t k = 0; k < prov->nsizes; k++) {
        if (want[k]) {
            ce->sizes[ce->nsizes++] = prov->sizes[k];
        }
    }
    for (size_t a = 1; a < ce->nsizes; a++) { /* insertion sort: few */
        drv__size_t z = ce->sizes[a];
        size_t b = a;
        while (b > 0 && (ce->sizes[b - 1].vcpus > z.vcpus ||
                         (ce->sizes[b - 1].vcpus == z.vcpus &&
                          ce->sizes[b - 1].mib > z.mib))) {
            ce->sizes[b] = ce->sizes[b - 1];
            b--;
        }
        ce->sizes[b] = z;
    }
    ce->floor_size = 0;
    for (size_t k = 0; k < ce->nsizes; k++) {
        if (!strcmp(ce->sizes[k].name, prov->sizes[prov->dflt].name)) {
            ce->floor_size = k;
        }
    }
    return true;
}

/* provisioner.worker.config for environment `ce` ({ce} replaced). */
static void template_path(const drv__prov_t *prov, const char *ce,
                          char *out, size_t size)
{
    const char *at = strstr(prov->template, "{ce}");
    if (at) {
        snprintf(out, size, "%.*s%s%s", (int)(at - prov->template),
                 prov->template, ce, at + 4);
    } else {
        snprintf(out, size, "%s", prov->template);
    }
}

/* Columns of the environments' SELECT. */
enum { CE_NAME, CE_STATE, CE_MIN, CE_MAX, CE_FLOOR, CE_FLOOR_AT, CE_TYPES,
       CE_PROV };

/* The MANAGED environments, with their sizes and provisioner. NULL on a
 * database error. */
static ce_t *load_ces(drv__prov_t *prov, size_t *n, char *errstr,
                      size_t errstr_size)
{
    drv_pg_res_t *r = drv_pg_query(
        prov->pg,
        "SELECT c.name, c.state, c.min_vcpus, COALESCE(c.max_vcpus, 0), "
        "c.desired_floor, c.desired_floor_at, c.spec->'computeResources'->"
        "'instanceTypes', CASE WHEN t.arn IS NOT NULL THEN t.value ELSE "
        "c.spec->'tags'->>'" DRV_PROVISIONER_TAG "' END FROM "
        "compute_environments c LEFT JOIN resource_tags t ON t.arn = "
        "'compute-environment/' || c.name AND t.key = '" DRV_PROVISIONER_TAG
        "' WHERE c.type = 'MANAGED' ORDER BY c.name COLLATE \"C\"",
        0, NULL, errstr, errstr_size);
    if (!r) {
        return NULL;
    }
    *n = (size_t)drv_pg_res_rows(r);
    ce_t *ces = drv_calloc(*n + 1, sizeof(*ces));
    int64_t now = drv_now_ms();
    for (size_t i = 0; i < *n; i++) {
        ce_t *ce = &ces[i];
        int row = (int)i;
        snprintf(ce->name, sizeof(ce->name), "%s",
                 drv_pg_res_get(r, row, CE_NAME));
        ce->enabled = !strcmp(drv_pg_res_get(r, row, CE_STATE), "ENABLED");
        ce->min_v = strtod(drv_pg_res_get(r, row, CE_MIN), NULL);
        ce->max_v = strtod(drv_pg_res_get(r, row, CE_MAX), NULL);
        const char *fl = drv_pg_res_get(r, row, CE_FLOOR);
        int64_t fl_at = drv_pg_res_int(r, row, CE_FLOOR_AT, 0);
        /* a desiredvCpus set through the API holds for one idle period */
        ce->floor_v = fl && now - fl_at < prov->idle_ms ? strtod(fl, NULL)
                                                        : 0;
        const char *pn = drv_pg_res_get(r, row, CE_PROV);
        if (!pn) {
            pn = drv_conf_get(prov->conf, "provisioner.default");
        }
        snprintf(ce->prov_name, sizeof(ce->prov_name), "%s", pn);
        ce->ops = ops_named(pn);
        json_t *types = drv_pg_res_json(r, row, CE_TYPES);
        bool ok = resolve_sizes(prov, ce, types);
        json_decref(types);
        if (ok && !ce->ops && strcmp(pn, "external")) {
            snprintf(ce->error, sizeof(ce->error),
                     "CLIENT_ERROR - provisioner %s is not available in this "
                     "Drover (" DRV_PROVISIONER_TAG ": process, container or "
                     "external)",
                     pn);
        } else if (ok && ce->ops && ce->ops->replicas && ce->nsizes != 1) {
            snprintf(ce->error, sizeof(ce->error),
                     "CLIENT_ERROR - the %s provisioner scales one set of "
                     "workers of one size: give one of instanceTypes",
                     pn);
        } else if (ok && ce->ops && ce->ops->replicas) {
            /* its platform keeps the workers: no files */
        } else if (ok && ce->ops && (!*prov->dir || !*prov->template)) {
            snprintf(ce->error, sizeof(ce->error),
                     "CLIENT_ERROR - the %s provisioner needs provisioner.dir "
                     "and provisioner.worker.config in the dispatcher's "
                     "configuration",
                     pn);
        } else if (ok && ce->ops) {
            char base[PATH_MAX];
            template_path(prov, ce->name, base, sizeof(base));
            if (access(base, R_OK) != 0) {
                snprintf(ce->error, sizeof(ce->error),
                         "CLIENT_ERROR - no worker configuration %.200s for "
                         "this compute environment (provisioner.worker."
                         "config)",
                         base);
            }
        }
        ce->plan = (drv__plan_t){.sizes = ce->sizes,
                                 .nsizes = ce->nsizes,
                                 .max_v = ce->max_v,
                                 .max_workers = prov->max_workers};
    }
    drv_pg_res_free(r);
    return ces;
}

static ce_t *find_ce(ce_t *ces, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(ces[i].name, name)) {
            return &ces[i];
        }
    }
    return NULL;
}

/* Pack the jobs each environment holds (released) and those its queues
 * would send it (RUNNABLE: to the first MANAGED environment of its queue
 * with a size and room for it), then the floors. */
static int plan_all(drv__prov_t *prov, ce_t *ces, size_t n, char *errstr,
                    size_t errstr_size)
{
    char lim[16], per[16];
    snprintf(lim, sizeof(lim), "%d", RELEASED_MAX);
    snprintf(per, sizeof(per), "%d", CANDIDATES_PER_QUEUE);
    const char *p1[] = {lim};
    drv_pg_res_t *r = drv_pg_query(
        prov->pg,
        "SELECT j.compute_environment, j.vcpus, j.memory_mib, j.gpus FROM "
        "jobs j JOIN compute_environments c ON c.name = "
        "j.compute_environment AND c.type = 'MANAGED' WHERE j.released "
        "ORDER BY j.vcpus DESC, j.memory_mib DESC LIMIT $1::int",
        1, p1, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    for (int i = 0; i < drv_pg_res_rows(r); i++) {
        ce_t *ce = find_ce(ces, n, drv_pg_res_get(r, i, 0));
        if (ce && !*ce->error) {
            drv__plan_add(&ce->plan, strtod(drv_pg_res_get(r, i, 1), NULL),
                          strtod(drv_pg_res_get(r, i, 2), NULL),
                          (int)drv_pg_res_int(r, i, 3, 0));
        }
    }
    drv_pg_res_free(r);
    const char *p2[] = {per};
    r = drv_pg_query(
        prov->pg,
        "SELECT q.ces, j.vcpus, j.memory_mib, j.gpus FROM (SELECT name, "
        "priority, (SELECT json_agg(compute_environment ORDER BY ord) FROM "
        "job_queue_compute_environments WHERE queue = name) AS ces FROM "
        "job_queues WHERE EXISTS (SELECT 1 FROM "
        "job_queue_compute_environments x JOIN compute_environments c ON "
        "c.name = x.compute_environment WHERE x.queue = name AND c.type = "
        "'MANAGED')) q CROSS JOIN LATERAL (SELECT vcpus, memory_mib, gpus, "
        "scheduling_priority, seq FROM jobs WHERE queue = q.name AND status = "
        "'RUNNABLE' AND NOT released ORDER BY scheduling_priority DESC, seq "
        "LIMIT $1::int) j ORDER BY q.priority DESC, j.scheduling_priority "
        "DESC, j.seq",
        1, p2, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    for (int i = 0; i < drv_pg_res_rows(r); i++) {
        json_t *order = drv_pg_res_json(r, i, 0);
        double v = strtod(drv_pg_res_get(r, i, 1), NULL);
        double m = strtod(drv_pg_res_get(r, i, 2), NULL);
        int g = (int)drv_pg_res_int(r, i, 3, 0);
        size_t k;
        json_t *name;
        json_array_foreach(order, k, name)
        {
            ce_t *ce = find_ce(ces, n, json_string_value(name));
            if (ce && ce->enabled && !*ce->error &&
                drv__plan_add(&ce->plan, v, m, g) == 1) {
                break;
            }
        }
        json_decref(order);
    }
    drv_pg_res_free(r);
    for (size_t i = 0; i < n; i++) {
        if (!*ces[i].error) {
            drv__plan_floor(&ces[i].plan,
                            ces[i].min_v > ces[i].floor_v ? ces[i].min_v
                                                          : ces[i].floor_v,
                            ces[i].floor_size);
        }
    }
    return 0;
}

/* Write what each environment's desired capacity, sizes and error are
 * now (where they changed), and the gauge. */
static int record_desired(drv__prov_t *prov, ce_t *ces, size_t n,
                          char *errstr, size_t errstr_size)
{
    drv_metrics_reset(prov->metrics, "drover_ce_desired_vcpus");
    for (size_t i = 0; i < n; i++) {
        ce_t *ce = &ces[i];
        json_t *sizes = json_array();
        for (size_t k = 0; k < ce->nsizes; k++) {
            json_array_append_new(
                sizes, json_pack("{s:s,s:f,s:I,s:i}", "name",
                                 ce->sizes[k].name, "vcpus",
                                 ce->sizes[k].vcpus, "memoryMiB",
                                 (json_int_t)ce->sizes[k].mib, "gpus",
                                 ce->sizes[k].gpus));
        }
        char *st = json_dumps(sizes, JSON_COMPACT);
        json_decref(sizes);
        char dv[32];
        snprintf(dv, sizeof(dv), "%g", ce->plan.vcpus);
        const char *p[] = {ce->name, dv, *ce->error ? NULL : st,
                           *ce->error ? ce->error : NULL};
        int rc = drv_pg_exec(
            prov->pg,
            "UPDATE compute_environments SET desired_vcpus = $2::float8, "
            "worker_sizes = $3::jsonb, provision_error = $4 WHERE name = $1 "
            "AND (desired_vcpus IS DISTINCT FROM $2::float8 OR worker_sizes "
            "IS DISTINCT FROM $3::jsonb OR provision_error IS DISTINCT FROM "
            "$4)",
            4, p, errstr, errstr_size);
        free(st);
        if (rc != 0) {
            return -1;
        }
        char label[300];
        snprintf(label, sizeof(label), "compute_environment=\"%s\"",
                 ce->name);
        drv_metrics_set(prov->metrics, "drover_ce_desired_vcpus", label,
                        ce->plan.vcpus);
    }
    return 0;
}

/* Columns of the provisioned workers' SELECT. */
enum { PW_ID, PW_CE, PW_PROV, PW_SIZE, PW_HANDLE, PW_STATE, PW_STARTED,
       PW_IDLE, PW_STOP_BY, PW_SEEN, PW_LOST, PW_BUSY, PW_HOST, PW_V, PW_M,
       PW_G };

/* A provisioned worker's row and what the round makes of it. */
typedef struct pw {
    const char *id, *ce, *prov, *size, *handle, *state, *host;
    int64_t started, idle_since, stop_by;
    bool heard, lost, busy;
    drv__size_t z;
} pw_t;

static int set_state(drv__prov_t *prov, const char *id, const char *state,
                     int64_t stop_by, char *errstr, size_t errstr_size)
{
    char sb[24], now[24];
    snprintf(sb, sizeof(sb), "%" PRId64, stop_by);
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    const char *p[] = {id, state, stop_by ? sb : NULL, now};
    return drv_pg_exec(prov->pg,
                       "UPDATE provisioned_workers SET state = $2, stop_by = "
                       "$3::bigint, registered_at = CASE WHEN $2 = 'RUNNING' "
                       "THEN $4::bigint ELSE registered_at END, idle_since = "
                       "CASE WHEN $2 = 'RUNNING' AND idle_since IS NOT NULL "
                       "THEN $4::bigint ELSE idle_since END WHERE "
                       "worker_id = $1",
                       4, p, errstr, errstr_size);
}

static int forget(drv__prov_t *prov, const pw_t *w, bool lose, char *errstr,
                  size_t errstr_size)
{
    const char *p[] = {w->id};
    char path[PATH_MAX];
    static const char *const ext[] = {"conf", "pid"};
    for (size_t i = 0; i < DRV_ARRAY_SIZE(ext); i++) {
        snprintf(path, sizeof(path), "%s/%s.%s", prov->dir, w->id, ext[i]);
        unlink(path);
    }
    /* a worker seen gone before its lease ran out: its attempts are lost
     * at the dispatcher's next sweep, not a lease later; one that drained
     * and exited is forgotten (its ids are not reused) */
    if (drv_pg_exec(prov->pg,
                    lose ? "UPDATE workers SET seen_at = 0 WHERE worker_id "
                           "= $1 AND NOT lost"
                         : "DELETE FROM workers w WHERE worker_id = $1 AND "
                           "NOT EXISTS (SELECT 1 FROM jobs WHERE released "
                           "AND placed_worker = $1) AND NOT EXISTS (SELECT "
                           "1 FROM attempts WHERE worker = $1 AND "
                           "stopped_at IS NULL)",
                    1, p, errstr, errstr_size) != 0) {
        return -1;
    }
    return drv_pg_exec(prov->pg,
                       "DELETE FROM provisioned_workers WHERE worker_id = $1",
                       1, p, errstr, errstr_size);
}

/* Stop (drain) an idle worker: marked draining first, so no scheduling
 * pass places a job on it, and only if it still holds none. 1 stopped, 0
 * it is busy after all, -1 error. */
static int drain_idle(drv__prov_t *prov, const drv__prov_ops_t *ops,
                      const pw_t *w, char *errstr, size_t errstr_size)
{
    const char *p[] = {w->id};
    if (drv_pg_begin(prov->pg, errstr, errstr_size) != 0) {
        return -1;
    }
    drv_pg_res_t *r = drv_pg_query(
        prov->pg,
        "WITH d AS (UPDATE workers SET draining = true WHERE worker_id = $1) "
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE released AND placed_worker "
        "= $1)",
        1, p, errstr, errstr_size);
    bool busy = r && drv_pg_res_get(r, 0, 0)[0] == 't';
    drv_pg_res_free(r);
    if (!r || busy) {
        drv_pg_rollback(prov->pg);
        return r ? 0 : -1;
    }
    if (set_state(prov, w->id, "STOPPING",
                  drv_now_ms() + prov->drain_s * 1000 + KILL_AFTER_DRAIN_MS,
                  errstr, errstr_size) != 0 ||
        drv_pg_commit(prov->pg, errstr, errstr_size) != 0) {
        drv_pg_rollback(prov->pg);
        return -1;
    }
    drv__pworker_t pw = {w->id, w->ce, w->handle, &w->z};
    ops->stop(&prov->ctx, &pw, false);
    json_t *f = json_pack("{s:s,s:s}", "compute_environment", w->ce, "worker",
                          w->id);
    drv_log(prov->log, DRV_LOG_INFO, "provisioner.worker_stopping", f,
            "idle and not needed: told to drain and exit");
    json_decref(f);
    return 1;
}

/* The configuration file of a new worker (0600): the environment's
 * worker configuration, then its identity, key and size. */
static int write_conf(drv__prov_t *prov, const char *id, const ce_t *ce,
                      const drv__size_t *z, char *path, size_t path_size,
                      char *errstr, size_t errstr_size)
{
    char base[PATH_MAX];
    template_path(prov, ce->name, base, sizeof(base));
    if (access(base, R_OK) != 0) {
        drv_errstr_set(errstr, errstr_size,
                       "no worker configuration %s for compute environment "
                       "%s (provisioner.worker.config)",
                       base, ce->name);
        return -1;
    }
    snprintf(path, path_size, "%s/%s.conf", prov->dir, id);
    mode_t old = umask(077);
    FILE *fp = fopen(path, "w");
    umask(old);
    if (!fp) {
        drv_errstr_set(errstr, errstr_size, "cannot write %s: %s", path,
                       strerror(errno));
        return -1;
    }
    char key[DRV_ORIGIN_SIG_HEX_SIZE] = "";
    if (prov->master) {
        drv_origin_key_t k;
        drv_origin_derive(prov->master, ce->name, id, &k);
        drv_origin_key_hex(&k, key);
    }
    fprintf(fp,
            "# written by the %s provisioner of drover-dispatcher\n"
            "include = %s\nworker.id = %s\nworker.compute.environment = %s\n"
            "worker.vcpus = %g\nworker.memory.mib = %" PRId64 "\n"
            "worker.drain.timeout.seconds = %" PRId64 "\n%s%s%s%s%s",
            ce->prov_name, base, id, ce->name, z->vcpus, z->mib,
            prov->drain_s, z->gpus ? "" : "worker.gpus = none\n",
            *key ? "worker.key = " : "", key, *key ? "\n" : "",
            ce->ops->conf_lines);
    if (fclose(fp) != 0) {
        drv_errstr_set(errstr, errstr_size, "cannot write %s", path);
        return -1;
    }
    return 0;
}

/* Start one worker of size z for ce: its row first (a provisioner that
 * restarts finds it), then its files, then the worker. */
static int start_one(drv__prov_t *prov, const ce_t *ce, const drv__size_t *z,
                     char *errstr, size_t errstr_size)
{
    drv_pg_res_t *r = drv_pg_query(prov->pg,
                                   "SELECT nextval('provisioned_worker_seq')",
                                   0, NULL, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    char id[DRV_NAME_MAX + 100], v[32], m[24], g[16], now[24];
    snprintf(id, sizeof(id), "%s%s-%s", prov->prefix, ce->name,
             drv_pg_res_get(r, 0, 0));
    drv_pg_res_free(r);
    snprintf(v, sizeof(v), "%g", z->vcpus);
    snprintf(m, sizeof(m), "%" PRId64, z->mib);
    snprintf(g, sizeof(g), "%d", z->gpus);
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    const char *p[] = {id, ce->name, ce->prov_name, z->name, v, m, g,
                       prov->host, now};
    if (drv_pg_exec(prov->pg,
                    "INSERT INTO provisioned_workers (worker_id, "
                    "compute_environment, provisioner, size, vcpus, "
                    "memory_mib, gpus, host, started_at, idle_since) VALUES "
                    "($1, $2, $3, $4, $5::float8, $6::bigint, $7::int, $8, "
                    "$9::bigint, $9::bigint)",
                    9, p, errstr, errstr_size) != 0) {
        return -1;
    }
    char conf[PATH_MAX], handle[128] = "", e[DRV_ERRSTR_SIZE];
    drv__pworker_t w = {id, ce->name, NULL, z};
    pw_t row = {.id = id, .ce = ce->name};
    if (write_conf(prov, id, ce, z, conf, sizeof(conf), e, sizeof(e)) != 0 ||
        ce->ops->start(&prov->ctx, &w, conf, handle, sizeof(handle), e,
                       sizeof(e)) != 0) {
        failed(prov, ce->name, id, "start_failed", e);
        return forget(prov, &row, false, errstr, errstr_size);
    }
    const char *ph[] = {id, handle};
    if (drv_pg_exec(prov->pg,
                    "UPDATE provisioned_workers SET handle = $2 WHERE "
                    "worker_id = $1",
                    2, ph, errstr, errstr_size) != 0) {
        return -1;
    }
    json_t *f = json_pack("{s:s,s:s,s:s,s:s}", "compute_environment",
                          ce->name, "worker", id, "size", z->name, "handle",
                          handle);
    drv_log(prov->log, DRV_LOG_INFO, "provisioner.worker_started", f,
            "started a %s worker (%g vCPUs, %" PRId64 " MiB)", z->name,
            z->vcpus, z->mib);
    json_decref(f);
    char label[300];
    snprintf(label, sizeof(label), "compute_environment=\"%s\"", ce->name);
    drv_metrics_add(prov->metrics, "drover_provisioner_starts_total", label,
                    1);
    return 0;
}

/* What one provisioned worker's row says now: gone, never heard from,
 * lost, past its kill time, idle. Returns -1 on error, 1 when the row
 * counts toward its environment's workers, 0 when not. */
static int check_worker(drv__prov_t *prov, pw_t *w, char *errstr,
                        size_t errstr_size)
{
    const drv__prov_ops_t *ops = ops_named(w->prov);
    int64_t now = drv_now_ms();
    if (!ops || strcmp(w->host, prov->host)) {
        return 1; /* another host's: its provisioner manages it */
    }
    drv__pworker_t pw = {w->id, w->ce, w->handle, &w->z};
    char why[256] = "";
    bool stopping = !strcmp(w->state, "STOPPING");
    if (!w->handle || ops->alive(&prov->ctx, &pw, why, sizeof(why)) == 0) {
        if (stopping) {
            json_t *f = json_pack("{s:s,s:s}", "compute_environment", w->ce,
                                  "worker", w->id);
            drv_log(prov->log, DRV_LOG_INFO, "provisioner.worker_removed", f,
                    "gone (%s)", why);
            json_decref(f);
        } else {
            char msg[400];
            snprintf(msg, sizeof(msg), "ended unasked (%s): replaced", why);
            failed(prov, w->ce, w->id, "exited", msg);
        }
        return forget(prov, w, !stopping, errstr, errstr_size) != 0 ? -1 : 0;
    }
    if (stopping) {
        if (now >= w->stop_by) {
            ops->stop(&prov->ctx, &pw, true);
        }
        return 0;
    }
    bool starting = !strcmp(w->state, "STARTING");
    if (starting && w->heard) {
        backoff_of(prov, w->ce)->fails = 0;
        json_t *f = json_pack("{s:s,s:s,s:I}", "compute_environment", w->ce,
                              "worker", w->id, "ms",
                              (json_int_t)(now - w->started));
        drv_log(prov->log, DRV_LOG_INFO, "provisioner.worker_ready", f,
                "heartbeat received %" PRId64 " ms after start",
                now - w->started);
        json_decref(f);
        return set_state(prov, w->id, "RUNNING", 0, errstr, errstr_size) != 0
                   ? -1
                   : 1;
    }
    const char *reason = NULL;
    char msg[200];
    if (starting && now - w->started > prov->register_ms) {
        reason = "register_timeout";
        snprintf(msg, sizeof(msg), "no heartbeat %" PRId64 " s after start: "
                 "killed", prov->register_ms / 1000);
    } else if (!starting && w->lost) {
        reason = "lost";
        snprintf(msg, sizeof(msg), "its heartbeats stopped: killed");
    }
    if (reason) {
        failed(prov, w->ce, w->id, reason, msg);
        ops->stop(&prov->ctx, &pw, true);
        return set_state(prov, w->id, "STOPPING", now, errstr,
                         errstr_size) != 0
                   ? -1
                   : 0;
    }
    /* idle since: kept while it holds no released job */
    const char *p[] = {w->id};
    if (w->busy != (w->idle_since == 0) &&
        drv_pg_exec(prov->pg,
                    w->busy ? "UPDATE provisioned_workers SET idle_since = "
                              "NULL WHERE worker_id = $1"
                            : "UPDATE provisioned_workers SET idle_since = "
                              "(extract(epoch FROM clock_timestamp()) * "
                              "1000)::bigint WHERE worker_id = $1",
                    1, p, errstr, errstr_size) != 0) {
        return -1;
    }
    if (!w->busy && w->idle_since == 0) {
        w->idle_since = now;
    }
    return 1;
}

static size_t size_index(const ce_t *ce, const char *name)
{
    for (size_t k = 0; k < ce->nsizes; k++) {
        if (!strcmp(ce->sizes[k].name, name)) {
            return k;
        }
    }
    return ce->nsizes;
}

/* Workers of one environment to match its plan: start the missing ones
 * (unless it is backing off after failures), drain the idle ones it no
 * longer needs. rows: its workers that count (n). */
static int match_plan(drv__prov_t *prov, const ce_t *ce, pw_t **rows,
                      size_t n, char *errstr, size_t errstr_size)
{
    int want[DRV_SIZES_MAX], have[DRV_SIZES_MAX] = {0};
    drv__plan_counts(&ce->plan, want);
    for (size_t i = 0; i < n; i++) {
        size_t k = size_index(ce, rows[i]->size);
        if (k < ce->nsizes) {
            have[k]++;
        }
    }
    int64_t now = drv_now_ms();
    char label[300];
    snprintf(label, sizeof(label), "compute_environment=\"%s\"", ce->name);
    drv_metrics_set(prov->metrics, "drover_provisioner_workers", label,
                    (double)n);
    backoff_t *b = backoff_of(prov, ce->name);
    for (size_t k = 0; k < ce->nsizes; k++) {
        for (int s = have[k]; s < want[k] && drv_mono_ms() >= b->until; s++) {
            if (start_one(prov, ce, &ce->sizes[k], errstr, errstr_size) != 0) {
                return -1;
            }
        }
    }
    /* not needed: a size it no longer has, or more than the plan wants,
     * idle for the idle period; the longest idle first */
    for (size_t i = 0; i < n; i++) {
        pw_t *w = rows[i];
        size_t k = size_index(ce, w->size);
        bool extra = k == ce->nsizes || have[k] > want[k];
        if (!extra || w->busy || strcmp(w->state, "RUNNING") ||
            !ops_named(w->prov) || strcmp(w->host, prov->host) ||
            now - w->idle_since < prov->idle_ms) {
            continue;
        }
        int rc = drain_idle(prov, ops_named(w->prov), w, errstr, errstr_size);
        if (rc < 0) {
            return -1;
        }
        if (rc == 1 && k < ce->nsizes) {
            have[k]--;
        }
    }
    return 0;
}

/* When a worker of a scaled environment was last seen holding a job (or
 * first seen holding none): kept in memory, so a provisioner that starts
 * anew counts idleness anew. */
static int64_t *idle_since(drv__prov_t *prov, const char *ce,
                           const char *id, bool busy)
{
    for (size_t i = 0; i < prov->nidle; i++) {
        if (!strcmp(prov->idle[i].id, id)) {
            prov->idle[i].seen = prov->round;
            if (busy) {
                prov->idle[i].since = 0;
            } else if (!prov->idle[i].since) {
                prov->idle[i].since = drv_now_ms();
            }
            return &prov->idle[i].since;
        }
    }
    prov->idle = drv_realloc(prov->idle, (prov->nidle + 1) *
                                             sizeof(*prov->idle));
    idle_t *t = &prov->idle[prov->nidle++];
    snprintf(t->id, sizeof(t->id), "%s", id);
    snprintf(t->ce, sizeof(t->ce), "%s", ce);
    t->seen = prov->round;
    t->since = busy ? 0 : drv_now_ms();
    return &t->since;
}

/*
 * An environment whose platform keeps its workers (ops->scale): its live
 * workers (a Kubernetes pod's name is its worker id), those idle for the
 * idle period marked draining while a scale-down may take them (a
 * worker's next heartbeat clears the mark if it stays), then the scale.
 */
static int scale_to_plan(drv__prov_t *prov, const ce_t *ce, char *errstr,
                         size_t errstr_size)
{
    const char *p[] = {ce->name};
    drv_pg_res_t *r = drv_pg_query(
        prov->pg,
        "SELECT w.worker_id, EXISTS (SELECT 1 FROM jobs j WHERE j.released "
        "AND j.placed_worker = w.worker_id) FROM workers w WHERE "
        "w.compute_environment = $1 AND NOT w.lost ORDER BY w.worker_id",
        1, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int n = drv_pg_res_rows(r), nidle = 0, want = (int)ce->plan.nbins;
    int cur = 0, ret = ce->ops->replicas(&prov->ctx, ce->name, &cur, errstr,
                                         errstr_size);
    const char **idle = drv_calloc((size_t)n + 1, sizeof(*idle));
    int64_t now = drv_now_ms();
    /* fewer: by no more than the pods that are not workers yet and the
     * workers idle for the idle period, each of those marked draining
     * (only if it still holds no job) */
    int pending = cur > n ? cur - n : 0;
    for (int i = 0; ret == 0 && i < n; i++) {
        const char *id = drv_pg_res_get(r, i, 0);
        int64_t since = *idle_since(prov, ce->name, id,
                                    drv_pg_res_get(r, i, 1)[0] == 't');
        if (since && now - since >= prov->idle_ms &&
            pending + nidle < cur - want) {
            const char *q[] = {id};
            drv_pg_res_t *d = drv_pg_query(
                prov->pg,
                "UPDATE workers SET draining = true WHERE worker_id = $1 AND "
                "NOT EXISTS (SELECT 1 FROM jobs WHERE released AND "
                "placed_worker = $1) RETURNING 1",
                1, q, errstr, errstr_size);
            if (!d) {
                ret = -1;
                break;
            }
            if (drv_pg_res_rows(d) == 1) {
                idle[nidle++] = id;
            }
            drv_pg_res_free(d);
        }
    }
    /* forget the workers gone since the last round */
    for (size_t i = 0; ret == 0 && i < prov->nidle;) {
        if (prov->idle[i].seen != prov->round &&
            !strncmp(prov->idle[i].ce, ce->name, sizeof(prov->idle[i].ce))) {
            prov->idle[i] = prov->idle[--prov->nidle];
        } else {
            i++;
        }
    }
    int next = want > cur ? want
               : want < cur && pending + nidle < cur - want
                   ? cur - pending - nidle
                   : want;
    if (ret == 0 && next != cur) {
        ret = ce->ops->scale(&prov->ctx, ce->name, next, idle, nidle, errstr,
                             errstr_size);
        json_t *f = json_pack("{s:s,s:i,s:i,s:i}", "compute_environment",
                              ce->name, "from", cur, "to", next, "idle",
                              nidle);
        drv_log(prov->log, ret == 0 ? DRV_LOG_INFO : DRV_LOG_WARN,
                "provisioner.scaled", f, "%s %d -> %d workers",
                ret == 0 ? "scaled" : "could not scale", cur, next);
        json_decref(f);
        cur = ret == 0 ? next : cur;
    }
    if (ret == 0) {
        char label[300];
        snprintf(label, sizeof(label), "compute_environment=\"%s\"",
                 ce->name);
        drv_metrics_set(prov->metrics, "drover_provisioner_workers", label,
                        (double)cur);
    }
    free(idle);
    drv_pg_res_free(r);
    return ret;
}

/* Every provisioned worker: checked, then each environment's matched to
 * its plan. A worker whose environment is gone, no longer MANAGED, or
 * has another provisioner now is drained once idle. */
static int reconcile(drv__prov_t *prov, ce_t *ces, size_t n, char *errstr,
                     size_t errstr_size)
{
    drv_pg_res_t *r = drv_pg_query(
        prov->pg,
        "SELECT p.worker_id, p.compute_environment, p.provisioner, p.size, "
        "p.handle, p.state, p.started_at, COALESCE(p.idle_since, 0), "
        "COALESCE(p.stop_by, 0), w.seen_at >= p.started_at AND NOT w.lost, "
        "COALESCE(w.lost, false), EXISTS (SELECT 1 FROM jobs j WHERE "
        "j.released AND j.placed_worker = p.worker_id), p.host, p.vcpus, "
        "p.memory_mib, p.gpus FROM provisioned_workers p LEFT JOIN workers w "
        "ON w.worker_id = p.worker_id ORDER BY p.compute_environment COLLATE "
        "\"C\", "
        "COALESCE(p.idle_since, 9e18), p.worker_id",
        0, NULL, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    size_t nr = (size_t)drv_pg_res_rows(r);
    pw_t *all = drv_calloc(nr + 1, sizeof(*all));
    pw_t **counted = drv_calloc(nr + 1, sizeof(*counted));
    int ret = 0;
    for (size_t i = 0; i < nr; i++) {
        int row = (int)i;
        pw_t *w = &all[i];
        w->id = drv_pg_res_get(r, row, PW_ID);
        w->ce = drv_pg_res_get(r, row, PW_CE);
        w->prov = drv_pg_res_get(r, row, PW_PROV);
        w->size = drv_pg_res_get(r, row, PW_SIZE);
        w->handle = drv_pg_res_get(r, row, PW_HANDLE);
        w->state = drv_pg_res_get(r, row, PW_STATE);
        w->host = drv_pg_res_get(r, row, PW_HOST);
        w->started = drv_pg_res_int(r, row, PW_STARTED, 0);
        w->idle_since = drv_pg_res_int(r, row, PW_IDLE, 0);
        w->stop_by = drv_pg_res_int(r, row, PW_STOP_BY, 0);
        const char *heard = drv_pg_res_get(r, row, PW_SEEN);
        w->heard = heard && heard[0] == 't';
        w->lost = drv_pg_res_get(r, row, PW_LOST)[0] == 't';
        w->busy = drv_pg_res_get(r, row, PW_BUSY)[0] == 't';
        snprintf(w->z.name, sizeof(w->z.name), "%s", w->size);
        w->z.vcpus = strtod(drv_pg_res_get(r, row, PW_V), NULL);
        w->z.mib = drv_pg_res_int(r, row, PW_M, 0);
        w->z.gpus = (int)drv_pg_res_int(r, row, PW_G, 0);
    }
    size_t i = 0;
    for (size_t c = 0; ret == 0 && c < n; c++) {
        ce_t *ce = &ces[c];
        size_t nc = 0;
        /* rows come by environment name, as ces do */
        for (; ret == 0 && i < nr && strcmp(all[i].ce, ce->name) <= 0; i++) {
            pw_t *w = &all[i];
            bool ours = !strcmp(w->ce, ce->name) &&
                        !strcmp(w->prov, ce->prov_name) && !*ce->error;
            int rc = check_worker(prov, w, errstr, errstr_size);
            if (rc < 0) {
                ret = -1;
            } else if (rc == 1 && ours) {
                counted[nc++] = w;
            } else if (rc == 1 && !w->busy && !strcmp(w->state, "RUNNING") &&
                       ops_named(w->prov) && !strcmp(w->host, prov->host)) {
                ret = drain_idle(prov, ops_named(w->prov), w, errstr,
                                 errstr_size) < 0
                          ? -1
                          : 0;
            }
        }
        if (ret == 0 && ce->ops && ce->ops->replicas && !*ce->error) {
            ret = scale_to_plan(prov, ce, errstr, errstr_size);
        } else if (ret == 0 && ce->ops && !*ce->error) {
            ret = match_plan(prov, ce, counted, nc, errstr, errstr_size);
        }
    }
    for (; ret == 0 && i < nr; i++) { /* environments past the last */
        pw_t *w = &all[i];
        int rc = check_worker(prov, w, errstr, errstr_size);
        if (rc < 0) {
            ret = -1;
        } else if (rc == 1 && !w->busy && !strcmp(w->state, "RUNNING") &&
                   ops_named(w->prov) && !strcmp(w->host, prov->host)) {
            ret = drain_idle(prov, ops_named(w->prov), w, errstr,
                             errstr_size) < 0
                      ? -1
                      : 0;
        }
    }
    free(counted);
    free(all);
    drv_pg_res_free(r);
    return ret;
}

/* Hold the provisioner's lock on its own session: 1 held, 0 another
 * provisioner holds it, -1 no database. */
static int hold_lock(drv__prov_t *prov, char *errstr, size_t errstr_size)
{
    if (!prov->pg) {
        prov->pg = drv_pg_connect(drv_conf_get(prov->conf, "pg.conninfo"),
                                  prov->log, errstr, errstr_size);
        if (!prov->pg) {
            return -1;
        }
    } else if (drv_pg_ensure(prov->pg, errstr, errstr_size) != 0) {
        return -1;
    }
    if (prov->lock_session == drv_pg_session(prov->pg)) {
        return 1;
    }
    const char *p[] = {PROVISION_LOCK_KEY};
    drv_pg_res_t *r = drv_pg_query(prov->pg,
                                   "SELECT pg_try_advisory_lock($1::bigint)",
                                   1, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    bool got = drv_pg_res_get(r, 0, 0)[0] == 't';
    drv_pg_res_free(r);
    if (got) {
        prov->lock_session = drv_pg_session(prov->pg);
        drv_log(prov->log, DRV_LOG_INFO, "provisioner.active", NULL,
                "this dispatcher's provisioner is the one acting");
    }
    return got ? 1 : 0;
}

int drv__prov_round(drv__prov_t *prov, char *errstr, size_t errstr_size)
{
    int held = hold_lock(prov, errstr, errstr_size);
    if (held <= 0) {
        return held;
    }
    size_t n = 0;
    prov->round++;
    ce_t *ces = load_ces(prov, &n, errstr, errstr_size);
    if (!ces) {
        return -1;
    }
    int ret = plan_all(prov, ces, n, errstr, errstr_size);
    if (ret == 0) {
        ret = record_desired(prov, ces, n, errstr, errstr_size);
    }
    if (ret == 0) {
        ret = reconcile(prov, ces, n, errstr, errstr_size);
    }
    for (size_t i = 0; i < n; i++) {
        drv__plan_free(&ces[i].plan);
    }
    free(ces);
    return ret;
}

static void *prov_main(void *arg)
{
    drv__prov_t *prov = arg;
    int64_t interval = drv_conf_get_int(prov->conf, "provisioner.interval.ms");
    bool told = false;
    while (!prov->stop) {
        char e[DRV_ERRSTR_SIZE];
        int rc = drv__prov_round(prov, e, sizeof(e));
        if (rc < 0 && !told) {
            drv_log(prov->log, DRV_LOG_WARN, "provisioner.round_failed", NULL,
                    "%s", e);
        }
        told = rc < 0;
        for (int64_t t = 0; t < interval && !prov->stop; t += 100) {
            usleep(100 * 1000);
        }
    }
    return NULL;
}
