/* SPDX-License-Identifier: Apache-2.0 */
/* Scheduling passes (schedule.h). */
#include "schedule.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capacity.h"
#include "deps.h"
#include "drover/catalog.h"
#include "drover/fairshare.h"
#include "drover/util.h"
#include "outbox.h"
#include "transition.h"

/* Columns of RELEASE_SQL: the released job and what its RunJob says. */
enum {
    RL_JOB_ID,
    RL_CE,
    RL_ATTEMPT,
    RL_JOB_NAME,
    RL_QUEUE,
    RL_DEF_NAME,
    RL_DEF_REVISION,
    RL_RESOLVED,
    RL_ARRAY_INDEX,
    RL_ARRAY_SIZE,
    RL_RUNNABLE_SINCE,
    RL_ORDER,
    RL_VCPUS,
    RL_MEMORY,
    RL_CONSUMABLES,
    RL_HOLDER,
    RL_GPUS
};

static json_t *run_request(const drv_pg_res_t *r, int row)
{
    const char *job_id = drv_pg_res_get(r, row, RL_JOB_ID);
    const char *ce = drv_pg_res_get(r, row, RL_CE);
    json_t *resolved = drv_pg_res_json(r, row, RL_RESOLVED);
    json_t *c = json_object_get(resolved, "container");
    char def[300];
    snprintf(def, sizeof(def), "%s:%s", drv_pg_res_get(r, row, RL_DEF_NAME),
             drv_pg_res_get(r, row, RL_DEF_REVISION));
    json_t *to = json_object_get(json_object_get(resolved, "timeout"),
                                 "attemptDurationSeconds");
    json_t *run = json_pack(
        "{s:s,s:i,s:s,s:s,s:s,s:s,s:O,s:O,s:O,s:f,s:I,s:O?,s:o,s:o,s:I}",
        "jobId", job_id, "attempt", (int)drv_pg_res_int(r, row, RL_ATTEMPT, 1),
        "jobName", drv_pg_res_get(r, row, RL_JOB_NAME), "jobQueue",
        drv_pg_res_get(r, row, RL_QUEUE), "computeEnvironment", ce,
        "jobDefinition",
        def, "image", json_object_get(c, "image"), "command",
        json_object_get(c, "command"), "environment",
        json_object_get(c, "environment"), "vcpus",
        json_number_value(json_object_get(c, "vcpus")), "memoryMiB",
        json_integer_value(json_object_get(c, "memory")), "timeoutSeconds", to,
        "arrayIndex", drv_pg_res_json_int(r, row, RL_ARRAY_INDEX),
        "arraySize", drv_pg_res_json_int(r, row, RL_ARRAY_SIZE), "releasedAt",
        (json_int_t)drv_now_ms());
    json_t *gpus = json_object_get(c, "gpus");
    json_object_set_new(run, "gpus",
                        json_integer(json_is_integer(gpus)
                                         ? json_integer_value(gpus)
                                         : 0));
    static const char *props[] = {"volumes", "mountPoints",
                                  "readonlyRootFilesystem", "privileged",
                                  "user", "ulimits", "linuxParameters",
                                  "secrets", "tags"};
    for (size_t i = 0; i < DRV_ARRAY_SIZE(props); i++) {
        json_t *v = json_object_get(c, props[i]);
        if (v) {
            json_object_set(run, props[i], v);
        }
    }
    json_decref(resolved);
    return run;
}

/* The RunJob of released row `i` on its environment's run topic (to
 * `partition`, the one its worker consumes; -1: by its key); one that
 * cannot be encoded fails its job (never released with nothing sent). */
static int send_run(drv_disp_t *disp, const drv_pg_res_t *r, int i,
                    int32_t partition, char *errstr, size_t errstr_size)
{
    const char *job_id = drv_pg_res_get(r, i, RL_JOB_ID);
    const char *ce = drv_pg_res_get(r, i, RL_CE);
    drv__capacity_add(disp, ce, strtod(drv_pg_res_get(r, i, RL_VCPUS), NULL),
                      strtod(drv_pg_res_get(r, i, RL_MEMORY), NULL), 1);
    drv__capacity_worker_add(disp, drv_pg_res_get(r, i, RL_HOLDER),
                             strtod(drv_pg_res_get(r, i, RL_VCPUS), NULL),
                             strtod(drv_pg_res_get(r, i, RL_MEMORY), NULL),
                             strtod(drv_pg_res_get(r, i, RL_GPUS), NULL), 1);
    json_t *run = run_request(r, i);
    char topic[300], e[DRV_ERRSTR_SIZE];
    snprintf(topic, sizeof(topic), DRV_TOPIC_RUN_PREFIX "%s", ce);
    /* the policy of the environment it goes to now, which may not be the
     * one its queue had when it was submitted */
    drv_err_t pe = drv_catalog_check_policy_ce(disp->pg, ce, run, e,
                                               sizeof(e));
    if (pe != DRV_OK && pe != DRV_ERR_INVALID) {
        json_decref(run);
        drv_errstr_set(errstr, errstr_size, "%s", e);
        return -1;
    }
    int enc = pe == DRV_OK ? drv__outbox_emit_json_to(disp, "RunJob", topic,
                                                      partition, job_id, run,
                                                      e, sizeof(e))
                           : -1;
    json_decref(run);
    if (enc == 0) { /* RUNNABLE (its last update) -> released */
        int64_t since = drv_pg_res_int(r, i, RL_RUNNABLE_SINCE, 0);
        if (since > 0) {
            drv_metrics_add(disp->metrics,
                            "drover_release_latency_seconds_sum", NULL,
                            (double)(drv_now_ms() - since) / 1000.0);
            drv_metrics_add(disp->metrics,
                            "drover_release_latency_seconds_count", NULL, 1);
        }
        return 0;
    }
    char why[DRV_ERRSTR_SIZE + 64];
    snprintf(why, sizeof(why), DRV_REASON_START_FAILED ": %s", e);
    drv__change_t c = {.status_reason = why, .exit_code = -1};
    return drv__transition(disp, job_id, DRV_JOB_FAILED, &c, errstr,
                           errstr_size) < 0
               ? -1
               : drv__deps_drain(disp, errstr, errstr_size);
}

/*
 * Release the placed jobs (ids[i] to environment ces[i]) with one UPDATE
 * and one INSERT for the whole pass: a new attempt each, a RunJob each on
 * its environment's run topic; what NON_REPLENISHABLE consumable resources
 * they need comes off those resources' totals (AWS: used up as the job
 * starts). A job that stopped being RUNNABLE since the candidates were
 * read is skipped.
 */
static int release_all(drv_disp_t *disp, json_t *ids, json_t *ces,
                       json_t *targets, json_t *parts, char *errstr,
                       size_t errstr_size)
{
    if (json_array_size(ids) == 0) {
        return 0;
    }
    char now[24];
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    char *idt = json_dumps(ids, JSON_COMPACT);
    char *cet = json_dumps(ces, JSON_COMPACT);
    char *tgt = json_dumps(targets, JSON_COMPACT);
    const char *p[] = {idt, cet, now, tgt};
    /* the CTE's UPDATE joins by primary key; RETURNING sees the old row's
     * updated_at (when it became RUNNABLE) through the join */
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "WITH x AS (SELECT * FROM jsonb_array_elements_text($1::jsonb) WITH "
        "ORDINALITY AS a(id, n) JOIN jsonb_array_elements_text($2::jsonb) "
        "WITH ORDINALITY AS b(ce, m) ON a.n = b.m JOIN "
        "jsonb_array_elements_text($4::jsonb) WITH ORDINALITY AS c(w, k) ON "
        "a.n = c.k), "
        "u AS (UPDATE jobs SET attempts = jobs.attempts + 1, released = "
        "true, compute_environment = x.ce, placed_worker = x.w, updated_at = "
        "$3::bigint, "
        "status_reason = NULL, blocked_since = NULL FROM x, "
        "jobs o WHERE jobs.job_id = x.id AND o.job_id = x.id AND "
        "jobs.status = 'RUNNABLE' AND NOT jobs.released RETURNING "
        "jobs.job_id, jobs.compute_environment, jobs.attempts, "
        "jobs.job_name, jobs.queue, jobs.definition_name, "
        "jobs.definition_revision, COALESCE(jobs.resolved, (SELECT "
        "p.resolved FROM jobs p WHERE p.job_id = jobs.array_parent)), "
        "jobs.array_index, jobs.array_size, o.updated_at, x.n, "
        "jobs.vcpus, jobs.memory_mib, jobs.consumables, jobs.placed_worker, "
        "jobs.gpus), "
        /* the log stream as AWS names it: the definition's name (its
         * first 200 characters), default, and an id of 32 hex digits like
         * an ECS task's (migrations/018_log_streams.sql) */
        "a AS (INSERT INTO attempts (job_id, attempt, released_at, "
        "log_stream) SELECT job_id, attempts, $3::bigint, "
        "left(definition_name, 200) || '/default/' || md5(job_id || '/' || "
        "attempts) FROM u), q AS (UPDATE job_queues SET "
        "released_at = $3::bigint WHERE name IN (SELECT queue FROM u)), "
        /* a NON_REPLENISHABLE resource is used up as its job starts */
        "c AS (UPDATE consumable_resources r SET total_quantity = greatest("
        "r.total_quantity - t.q, 0) FROM (SELECT e->>'consumableResource' AS "
        "n, sum((e->>'quantity')::bigint) AS q FROM u, jsonb_array_elements("
        "u.consumables) e GROUP BY 1) t WHERE r.name = t.n AND "
        "r.resource_type = 'NON_REPLENISHABLE') "
        "SELECT * FROM u ORDER BY n",
        4, p, errstr, errstr_size);
    free(idt);
    free(cet);
    free(tgt);
    if (!r) {
        return -1;
    }
    int ret = 0;
    for (int i = 0; ret == 0 && i < drv_pg_res_rows(r); i++) {
        json_t *part = json_array_get(
            parts, (size_t)drv_pg_res_int(r, i, RL_ORDER, 1) - 1);
        ret = send_run(disp, r, i,
                       json_is_integer(part)
                           ? (int32_t)json_integer_value(part)
                           : -1,
                       errstr, errstr_size);
    }
    drv_pg_res_free(r);
    return ret;
}

/* A compute environment's budget for one scheduling pass, and what its
 * live workers offer. */
typedef struct ce_room {
    char name[256];
    double max_v, max_m, free_v, free_m;
    bool budgeted;        /* a budget was given, else its workers' offer */
    int workers;          /* live, not draining */
    double big_v, big_m;  /* the largest worker's vCPUs and MiB */
    int free_g, big_g;    /* GPUs: its workers' less what released jobs
                             hold; the most one worker has */
    int placeable;        /* of its workers, those that said which
                             partitions they consume */
    bool managed;         /* MANAGED: the provisioner brings workers */
    bool sized;           /* its worker sizes are known (provisioner) */
    double size_v, size_m; /* the most any of its sizes has */
    int size_g;
    double ce_max;        /* its maxvCpus */
} ce_room_t;

/* A live worker a pass may place jobs on: what it has less what its
 * released jobs hold (those it claimed and those sent to it and not yet
 * claimed), and the run topic's partitions it consumes. */
typedef struct wk_room {
    char id[DRV_WORKER_FIELD_MAX + 1];
    int room; /* its environment, in pass_t.rooms */
    double free_v, free_m;
    int free_g;
    json_t *parts; /* [int], owned */
    size_t next;   /* the partition the next job placed on it goes to */
} wk_room_t;

/* What one scheduling pass carries from queue to queue. */
typedef struct pass {
    ce_room_t *rooms;
    int nrooms;
    wk_room_t *workers; /* those with partitions, by environment */
    int nworkers;
    bool scan_only; /* no room anywhere: only say why the heads wait */
    json_t *ids, *ces, *waits;
    json_t *targets; /* per placed job: its worker (null: any) */
    json_t *parts;   /* per placed job: its partition (-1: by key) */
    json_t *stock; /* consumable resource -> quantity available (null: it
                      does not exist), read when a job first needs it */
} pass_t;

/* ENABLED environments with their free capacity (capacity.h): the budget
 * they were given, or (none given) what their live workers offer. NULL on
 * error. */
/* Columns of the environments' SELECT. */
enum { EN_NAME, EN_MAX_VCPUS, EN_MAX_MIB, EN_BUDGETED, EN_WORKERS, EN_BIG_V,
       EN_BIG_M, EN_FREE_G, EN_BIG_G, EN_MANAGED, EN_SIZE_V, EN_SIZE_M,
       EN_SIZE_G, EN_CE_MAX };

static ce_room_t *load_rooms(drv_disp_t *disp, int *n, char *errstr,
                             size_t errstr_size)
{
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        /* a MANAGED environment has what its live workers offer, within
         * maxvCpus; the provisioner brings the workers */
        "SELECT c.name, CASE WHEN c.type = 'MANAGED' THEN least(c.max_vcpus, "
        "COALESCE(w.v, 0)) ELSE COALESCE(c.max_vcpus, w.v, 0) END, CASE WHEN "
        "c.max_vcpus IS NULL OR c.type = 'MANAGED' THEN COALESCE(w.m, 0) "
        "ELSE COALESCE(c.max_memory_mib, 9e15) END, c.max_vcpus IS NOT NULL "
        "AND c.type <> 'MANAGED', w.n, "
        "COALESCE(w.bv, 0), COALESCE(w.bm, 0), COALESCE(w.g, 0) - "
        "COALESCE((SELECT sum(gpus) FROM jobs WHERE released AND gpus > 0 AND "
        "compute_environment = c.name), 0), COALESCE(w.bg, 0), c.type = "
        "'MANAGED', s.v, s.m, s.g, COALESCE(c.max_vcpus, 0) FROM "
        "compute_environments c LEFT JOIN LATERAL (SELECT sum(vcpus_total) "
        "v, sum(memory_total_mib) m, count(*) n, max(vcpus_total) bv, "
        "max(memory_total_mib) bm, sum(gpus_total) g, max(gpus_total) bg "
        "FROM workers WHERE compute_environment = c.name AND NOT lost AND NOT "
        "draining) w ON true LEFT JOIN LATERAL (SELECT max((z->>'vcpus')::"
        "float8) v, max((z->>'memoryMiB')::float8) m, max((z->>'gpus')::"
        "int) g FROM jsonb_array_elements(c.worker_sizes) z) s ON true "
        "WHERE c.state = 'ENABLED' ORDER BY c.name",
        0, NULL, errstr, errstr_size);
    if (!r) {
        return NULL;
    }
    *n = drv_pg_res_rows(r);
    ce_room_t *rooms = drv_calloc((size_t)*n + 1, sizeof(*rooms));
    for (int i = 0; i < *n; i++) {
        double held_v, held_m;
        const char *name = drv_pg_res_get(r, i, EN_NAME);
        if (drv__capacity_held(disp, name, &held_v, &held_m, errstr,
                               errstr_size) != 0) {
            free(rooms);
            rooms = NULL;
            break;
        }
        ce_room_t *room = &rooms[i];
        snprintf(room->name, sizeof(room->name), "%s", name);
        room->max_v = strtod(drv_pg_res_get(r, i, EN_MAX_VCPUS), NULL);
        room->max_m = strtod(drv_pg_res_get(r, i, EN_MAX_MIB), NULL);
        room->free_v = room->max_v - held_v;
        room->free_m = room->max_m - held_m;
        room->budgeted = drv_pg_res_get(r, i, EN_BUDGETED)[0] == 't';
        room->workers = (int)drv_pg_res_int(r, i, EN_WORKERS, 0);
        room->big_v = strtod(drv_pg_res_get(r, i, EN_BIG_V), NULL);
        room->big_m = strtod(drv_pg_res_get(r, i, EN_BIG_M), NULL);
        room->free_g = (int)drv_pg_res_int(r, i, EN_FREE_G, 0);
        room->big_g = (int)drv_pg_res_int(r, i, EN_BIG_G, 0);
        room->managed = drv_pg_res_get(r, i, EN_MANAGED)[0] == 't';
        room->sized = drv_pg_res_get(r, i, EN_SIZE_V) != NULL;
        room->ce_max = strtod(drv_pg_res_get(r, i, EN_CE_MAX), NULL);
        if (room->sized) {
            room->size_v = strtod(drv_pg_res_get(r, i, EN_SIZE_V), NULL);
            room->size_m = strtod(drv_pg_res_get(r, i, EN_SIZE_M), NULL);
            room->size_g = (int)drv_pg_res_int(r, i, EN_SIZE_G, 0);
        }
    }
    drv_pg_res_free(r);
    return rooms;
}

/* Columns of load_workers' SELECT. */
enum { WK_ID, WK_CE, WK_TOTAL_V, WK_TOTAL_M, WK_TOTAL_G, WK_PARTS };

static ce_room_t *find_room(ce_room_t *rooms, int n, const char *name);

static void free_workers(wk_room_t *wk, int n)
{
    for (int i = 0; i < n; i++) {
        json_decref(wk[i].parts);
    }
    free(wk);
}

/*
 * The live, not draining workers of ENABLED environments that said which
 * partitions of their run topic they consume, with their free room: what
 * each has less what the released jobs it holds ask for (placed_worker:
 * the one a job was sent to, then the one that claimed it), as
 * capacity.h keeps it: no scan of the jobs. NULL on error.
 */
static wk_room_t *load_workers(drv_disp_t *disp, ce_room_t *rooms,
                               int nrooms, int *n, char *errstr,
                               size_t errstr_size)
{
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT worker_id, compute_environment, vcpus_total, "
        "memory_total_mib, gpus_total, array_to_json(partitions) FROM "
        "workers WHERE NOT lost AND NOT draining AND cardinality(partitions) "
        "> 0 ORDER BY worker_id",
        0, NULL, errstr, errstr_size);
    if (!r) {
        return NULL;
    }
    wk_room_t *wk = drv_calloc((size_t)drv_pg_res_rows(r) + 1, sizeof(*wk));
    *n = 0;
    for (int i = 0; i < drv_pg_res_rows(r); i++) {
        ce_room_t *room = find_room(rooms, nrooms,
                                    drv_pg_res_get(r, i, WK_CE));
        if (!room) {
            continue; /* its environment is DISABLED */
        }
        double hv, hm, hg;
        if (drv__capacity_worker_held(disp, drv_pg_res_get(r, i, WK_ID), &hv,
                                      &hm, &hg, errstr, errstr_size) != 0) {
            free_workers(wk, *n);
            drv_pg_res_free(r);
            return NULL;
        }
        wk_room_t *w = &wk[(*n)++];
        snprintf(w->id, sizeof(w->id), "%s", drv_pg_res_get(r, i, WK_ID));
        w->room = (int)(room - rooms);
        w->free_v = strtod(drv_pg_res_get(r, i, WK_TOTAL_V), NULL) - hv;
        w->free_m = strtod(drv_pg_res_get(r, i, WK_TOTAL_M), NULL) - hm;
        w->free_g = (int)(drv_pg_res_int(r, i, WK_TOTAL_G, 0) - (int64_t)hg);
        w->parts = drv_pg_res_json(r, i, WK_PARTS);
        room->placeable++;
    }
    drv_pg_res_free(r);
    return wk;
}

/* The worker of environment `room` a job of v vCPUs, m MiB and g GPUs
 * goes to: of those with room for it, the one it fills best (least vCPU
 * left, then memory, then GPUs), so the bigger workers stay free for the
 * bigger jobs. -1 when none has room. */
static int pick_worker(const pass_t *ps, int room, double v, double m, int g)
{
    int best = -1;
    for (int i = 0; i < ps->nworkers; i++) {
        const wk_room_t *w = &ps->workers[i];
        if (w->room != room || v > w->free_v + 1e-9 || m > w->free_m ||
            g > w->free_g) {
            continue;
        }
        const wk_room_t *b = best >= 0 ? &ps->workers[best] : NULL;
        if (!b || w->free_v < b->free_v - 1e-9 ||
            (w->free_v <= b->free_v + 1e-9 &&
             (w->free_m < b->free_m ||
              (w->free_m == b->free_m && w->free_g < b->free_g)))) {
            best = i;
        }
    }
    return best;
}

static ce_room_t *find_room(ce_room_t *rooms, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        if (!strcmp(rooms[i].name, name)) {
            return &rooms[i];
        }
    }
    return NULL;
}

/*
 * Why a job that was not placed waits, with AWS's codes where AWS has one
 * and Drover's own where it has none, the most hopeful first: room may
 * free up; a worker may come; no worker is big enough; no environment's
 * maximum is; every environment is DISABLED. Waiting for room is a queue
 * working as it should, not AWS's CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY
 * (EC2 out of instances), so a time-limit action on that code never
 * cancels an ordinary backlog.
 */
#define WAIT_CAPACITY                                                          \
    "DROVER:WAITING_FOR_ROOM - its compute environments have no room for "    \
    "it now; it runs when room frees up"
#define WAIT_NO_WORKERS                                                        \
    "DROVER:NO_WORKERS - no live worker serves its compute environments"
#define WAIT_TOO_BIG                                                           \
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job requires more vCPU, " \
    "memory or GPUs than any worker of its compute environments offers."
#define WAIT_MAX_RESOURCE                                                      \
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - The job requires "   \
    "more vCPU or memory than its compute environments' maximum."
#define WAIT_RESERVED                                                          \
    "DROVER:FAIR_SHARE_RESERVATION - the room left is kept for shares that "  \
    "hold none (its scheduling policy's computeReservation)"
#define WAIT_CONSUMABLE                                                        \
    "DROVER:WAITING_FOR_CONSUMABLE_RESOURCE - consumable resource %s has "    \
    "less than the %lld it needs available; it runs when enough is"
#define WAIT_NO_CONSUMABLE                                                     \
    "MISCONFIGURATION:CONSUMABLE_RESOURCE - consumable resource %s does not " \
    "exist"
#define WAIT_PROVISIONING                                                      \
    "DROVER:PROVISIONING - its managed compute environment is starting a "    \
    "worker that can take it"
#define WAIT_DISABLED                                                          \
    "DROVER:COMPUTE_ENVIRONMENT_DISABLED - every compute environment of its " \
    "job queue is DISABLED"


/* What consumable resource `name` has available this pass (placements so
 * far taken off): a REPLENISHABLE one's total less what released jobs
 * hold, a NON_REPLENISHABLE one's total (what released jobs took is off
 * it already). *avail < 0: it does not exist. */
static int stock_of(drv_disp_t *disp, pass_t *ps, const char *name,
                    json_int_t *avail, char *errstr, size_t errstr_size)
{
    json_t *v = json_object_get(ps->stock, name);
    if (!v) {
        const char *p[] = {name};
        drv_pg_res_t *r = drv_pg_query(
            disp->pg,
            "SELECT c.total_quantity - CASE WHEN c.resource_type = "
            "'REPLENISHABLE' THEN COALESCE((SELECT sum((e->>'quantity')::"
            "bigint) FROM jobs j, jsonb_array_elements(j.consumables) e WHERE "
            "j.released AND j.consumables IS NOT NULL AND "
            "e->>'consumableResource' = c.name), 0) ELSE 0 END FROM "
            "consumable_resources c WHERE c.name = $1",
            1, p, errstr, errstr_size);
        if (!r) {
            return -1;
        }
        v = drv_pg_res_rows(r) ? json_integer((json_int_t)drv_pg_res_int(
                                     r, 0, 0, 0))
                               : json_null();
        drv_pg_res_free(r);
        json_object_set_new(ps->stock, name, v);
    }
    *avail = json_is_integer(v) ? json_integer_value(v) : -1;
    return 0;
}

/* Whether there is enough of every consumable resource a job needs
 * (`needs`: [{consumableResource, quantity}], NULL: none): 1, with each
 * taken off when `take`; 0 with why it waits in `why`; -1 on error. */
static int consumables_fit(drv_disp_t *disp, pass_t *ps, json_t *needs,
                           bool take, char *why, size_t why_size,
                           char *errstr, size_t errstr_size)
{
    size_t i;
    json_t *e;
    json_array_foreach(needs, i, e)
    {
        const char *name = json_string_value(json_object_get(
            e, "consumableResource"));
        json_int_t q = json_integer_value(json_object_get(e, "quantity"));
        json_int_t avail;
        if (!name) {
            continue; /* checked at submission */
        }
        if (stock_of(disp, ps, name, &avail, errstr, errstr_size) != 0) {
            return -1;
        }
        if (take) {
            json_object_set_new(ps->stock, name, json_integer(avail - q));
        } else if (avail < 0) {
            snprintf(why, why_size, WAIT_NO_CONSUMABLE, name);
            return 0;
        } else if (avail < q) {
            snprintf(why, why_size, WAIT_CONSUMABLE, name, (long long)q);
            return 0;
        }
    }
    return 1;
}

/*
 * Place one job: the first environment, in its queue's order, whose budget
 * has room now and one of whose workers could hold it, when there is
 * enough of every consumable resource it needs (`needs`); it is added to
 * ids/ces for release_all. Else why it waits is added to `waits` (job id
 * -> reason). `keep` is the fraction of an environment's vCPUs the job
 * must leave free (a fair-share reservation). 1 placed, 0 not, -1 error.
 */
static int place(drv_disp_t *disp, pass_t *ps, const char *job_id, double v,
                 double m, int g, json_t *needs, json_t *order, double keep,
                 char *errstr, size_t errstr_size)
{
    size_t i;
    json_t *ce;
    int enabled = 0, capacity = 0, reserved = 0, no_workers = 0, too_big = 0,
        provisioning = 0;
    char short_of[DRV_NAME_MAX + 200] = "";
    json_array_foreach(order, i, ce)
    {
        ce_room_t *room = find_room(ps->rooms, ps->nrooms,
                                    json_string_value(ce));
        if (!room) {
            continue; /* DISABLED: no new placements */
        }
        enabled++;
        bool over_workers = v > room->big_v || m > room->big_m ||
                            g > room->big_g;
        if (room->managed && v > room->ce_max + 1e-9) {
            continue; /* over its maxvCpus */
        }
        if (room->managed && room->sized &&
            (v > room->size_v + 1e-9 || m > room->size_m ||
             g > room->size_g)) {
            too_big++; /* no worker it can provision could take the job */
            continue;
        }
        if (room->managed && room->sized &&
            (room->workers == 0 || over_workers)) {
            provisioning++; /* a worker that can take it is to come */
            continue;
        }
        if ((!room->budgeted || g > 0) && room->workers == 0) {
            no_workers++; /* its capacity (GPUs: always) is its workers' */
            continue;
        }
        if (room->budgeted && (v > room->max_v || m > room->max_m)) {
            continue; /* over the budget it was given */
        }
        if (room->workers > 0 && over_workers) {
            too_big++; /* no worker of it could take the job */
            continue;
        }
        if (v <= room->free_v - keep * room->max_v + 1e-9 &&
            m <= room->free_m && g <= room->free_g) {
            /* a worker of it with room (where its workers say which
             * partitions they consume; else any, by the job's key) */
            int w = room->placeable ? pick_worker(ps, (int)(room - ps->rooms),
                                                  v, m, g)
                                    : -1;
            if (room->placeable && w < 0) {
                capacity++; /* room in all, but on no one worker */
                continue;
            }
            /* the resources it needs are the same whichever environment
             * it goes to */
            int fit = consumables_fit(disp, ps, needs, false, short_of,
                                      sizeof(short_of), errstr, errstr_size);
            if (fit <= 0) {
                if (fit == 0) {
                    json_object_set_new(ps->waits, job_id,
                                        json_string(short_of));
                }
                return fit;
            }
            consumables_fit(disp, ps, needs, true, short_of, sizeof(short_of),
                            errstr, errstr_size);
            room->free_v -= v;
            room->free_m -= m;
            room->free_g -= g;
            json_array_append_new(ps->ids, json_string(job_id));
            json_array_append_new(ps->ces, json_string(room->name));
            if (w >= 0) {
                wk_room_t *wr = &ps->workers[w];
                wr->free_v -= v;
                wr->free_m -= m;
                wr->free_g -= g;
                json_array_append_new(ps->targets, json_string(wr->id));
                json_array_append(ps->parts,
                                  json_array_get(wr->parts,
                                                 wr->next++ %
                                                     json_array_size(
                                                         wr->parts)));
            } else {
                json_array_append_new(ps->targets, json_null());
                json_array_append_new(ps->parts, json_integer(-1));
            }
            return 1;
        }
        if (v <= room->free_v + 1e-9 && m <= room->free_m &&
            g <= room->free_g) {
            reserved++; /* it fits but for the reservation */
        } else {
            capacity++;
        }
    }
    const char *why = capacity       ? WAIT_CAPACITY
                      : reserved     ? WAIT_RESERVED
                      : provisioning ? WAIT_PROVISIONING
                      : no_workers   ? WAIT_NO_WORKERS
                      : too_big    ? WAIT_TOO_BIG
                      : enabled    ? WAIT_MAX_RESOURCE
                      : json_array_size(order) ? WAIT_DISABLED
                                               : NULL;
    if (why) {
        json_object_set_new(ps->waits, job_id, json_string(why));
    }
    return 0;
}

/* The reasons of the jobs a pass looked at and left waiting, each written
 * only when it changed, with when (one statement). */
static int record_waits(drv_disp_t *disp, json_t *waits, char *errstr,
                        size_t errstr_size)
{
    if (json_object_size(waits) == 0) {
        return 0;
    }
    char *text = json_dumps(waits, JSON_COMPACT), now[24];
    snprintf(now, sizeof(now), "%" PRId64, drv_now_ms());
    const char *p[] = {text, now};
    int ret = drv_pg_exec(
        disp->pg,
        "UPDATE jobs SET status_reason = x.value, blocked_since = $2::bigint "
        "FROM jsonb_each_text($1::jsonb) x WHERE jobs.job_id = x.key AND "
        "jobs.status = 'RUNNABLE' AND NOT jobs.released AND "
        "jobs.status_reason IS DISTINCT FROM x.value",
        2, p, errstr, errstr_size);
    free(text);
    return ret;
}

static bool any_room(const ce_room_t *rooms, int n)
{
    for (int i = 0; i < n; i++) {
        if (rooms[i].free_v > 0 && rooms[i].free_m >= 4) {
            return true;
        }
    }
    return false;
}

/* Columns of the candidates' SELECT: a job and its queue's compute
 * environments in order (JSON). */
enum { CD_JOB_ID, CD_VCPUS, CD_MEMORY, CD_CES, CD_CONSUMABLES, CD_GPUS };

#define CANDIDATES_FIRST 64
#define CANDIDATES_MAX 1000
#define SHARE_CANDIDATES 32 /* per share of a fair-share queue, a pass */
#define SHARES_ACCRUE_MS 1000

/*
 * FIFO queues (of one priority, or all when level is NULL): RUNNABLE jobs
 * by queue priority, then age, placed while there is room. Candidates are
 * read a page at a time (64, then twice as many) from the jobs_release
 * index of each queue, and only while some environment still has room:
 * a pass with little room reads a few index entries whatever the backlog
 * (no sort of every queued job).
 */
static int fifo_queues(drv_disp_t *disp, pass_t *ps, const char *level,
                       char *errstr, size_t errstr_size)
{
    int ret = 0, offset = 0, page = CANDIDATES_FIRST;
    while (ret >= 0 && offset < CANDIDATES_MAX &&
           (ps->scan_only ? offset == 0 : any_room(ps->rooms, ps->nrooms))) {
        char lim[16], off[16], upto[16];
        /* scanning only: the head of every queue (a queue of higher
         * priority with a long backlog would hide the others' heads) */
        snprintf(lim, sizeof(lim), "%d",
                 ps->scan_only ? CANDIDATES_MAX : page);
        snprintf(off, sizeof(off), "%d", offset);
        snprintf(upto, sizeof(upto), "%d", ps->scan_only ? 1 : offset + page);
        const char *p[] = {lim, off, upto, level};
        drv_pg_res_t *cand = drv_pg_query(
            disp->pg,
            "SELECT j.job_id, j.vcpus, j.memory_mib, q.ces, j.consumables, "
            "j.gpus FROM (SELECT "
            "name, priority, (SELECT json_agg(compute_environment ORDER BY "
            "ord) FROM job_queue_compute_environments WHERE queue = name) "
            "AS ces FROM job_queues WHERE scheduling_policy IS NULL AND "
            "($4::int IS NULL OR priority = $4::int)) q CROSS JOIN LATERAL "
            "(SELECT job_id, vcpus, memory_mib, consumables, gpus, "
            "scheduling_priority, seq FROM jobs WHERE queue = q.name AND status = 'RUNNABLE' AND NOT "
            "released ORDER BY scheduling_priority DESC, seq LIMIT "
            "$3::int) j ORDER BY q.priority DESC, j.scheduling_priority "
            "DESC, j.seq LIMIT $1::int OFFSET $2::int",
            4, p, errstr, errstr_size);
        if (!cand) {
            return -1;
        }
        int rows = drv_pg_res_rows(cand);
        for (int i = 0; ret >= 0 && i < rows &&
                        (ps->scan_only || any_room(ps->rooms, ps->nrooms));
             i++) {
            json_t *order = drv_pg_res_json(cand, i, CD_CES);
            json_t *needs = drv_pg_res_json(cand, i, CD_CONSUMABLES);
            ret = place(disp, ps, drv_pg_res_get(cand, i, CD_JOB_ID),
                        strtod(drv_pg_res_get(cand, i, CD_VCPUS), NULL),
                        strtod(drv_pg_res_get(cand, i, CD_MEMORY), NULL),
                        (int)drv_pg_res_int(cand, i, CD_GPUS, 0), needs, order,
                        0, errstr, errstr_size);
            json_decref(order);
            json_decref(needs);
        }
        drv_pg_res_free(cand);
        if (rows < page) {
            break; /* no more candidates */
        }
        offset += page;
        page *= 2;
    }
    return ret;
}

/*
 * A fair-share queue: the next job is always the next of the share with
 * the lowest (decayed usage + held x 1 s) x weightFactor (fairshare.h),
 * within a share by scheduling priority then age. A share already holding
 * capacity must leave the policy's reservation free for shares holding
 * none: (computeReservation/100)^active of each environment's vCPUs. A
 * job that cannot be placed does not block the jobs behind it.
 */
static int fair_queue(drv_disp_t *disp, pass_t *ps, const char *queue,
                      json_t *policy, json_t *order, char *errstr,
                      size_t errstr_size)
{
    drv_fairshare_t fs;
    if (drv_fairshare_load(disp->pg, queue, policy,
                           ps->scan_only ? 1 : SHARE_CANDIDATES, drv_now_ms(),
                           &fs, errstr, errstr_size) != 0) {
        return -1;
    }
    int i, missed = 0, ret = 0;
    /* bounded as the FIFO walk is: at most CANDIDATES_MAX jobs looked at
     * and not placed */
    while (ret >= 0 && (ps->scan_only || any_room(ps->rooms, ps->nrooms)) &&
           missed < CANDIDATES_MAX && (i = drv_fairshare_pick(&fs)) >= 0) {
        bool holds = fs.shares[i].held > 0;
        double keep = holds ? drv_fairshare_reserved(policy, fs.active) : 0;
        json_t *job = drv_fairshare_take(&fs, i);
        json_t *needs = json_array_get(job, 4);
        ret = place(disp, ps, json_string_value(json_array_get(job, 0)),
                    json_number_value(json_array_get(job, 1)),
                    json_number_value(json_array_get(job, 2)),
                    (int)json_integer_value(json_array_get(job, 5)),
                    json_is_array(needs) ? needs : NULL, order, keep, errstr,
                    errstr_size);
        if (ret == 0) {
            drv_fairshare_untake(&fs, i);
            missed++;
        }
    }
    drv_fairshare_free(&fs);
    return ret < 0 ? -1 : 0;
}

/*
 * Bring every share's usage up to now (at most once a second): decayed by
 * its policy's half-life and increased by what its released jobs held
 * over the interval, in closed form (usage e^-kt + held (1 - e^-kt) / k,
 * k = ln 2 / half-life; the exponent capped, as PostgreSQL refuses an
 * underflow after a long outage). Shares that hold nothing and whose usage
 * decayed away are forgotten.
 */
static int accrue_shares(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    int64_t now = drv_now_ms();
    if (now - disp->shares_accrued_at < SHARES_ACCRUE_MS) {
        return 0;
    }
    char t[24];
    snprintf(t, sizeof(t), "%" PRId64, now);
    const char *p[] = {t};
    if (drv_pg_exec(
            disp->pg,
            "WITH held AS (SELECT queue, share_identifier AS share, sum(vcpus) "
            "AS v FROM jobs WHERE released AND share_identifier IS NOT NULL "
            "GROUP BY 1, 2), k AS (SELECT q.name, ln(2) / COALESCE(NULLIF(("
            "p.spec->'fairsharePolicy'->>'shareDecaySeconds')::float8, 0), "
            "600) AS k FROM job_queues q JOIN scheduling_policies p ON p.name "
            "= q.scheduling_policy), up AS (UPDATE share_usage u SET usage = "
            "u.usage * exp(-least(k.k * greatest($1::bigint - u.updated_at, 0) / "
            "1000.0, 700)) + COALESCE((SELECT h.v FROM held h WHERE h.queue = "
            "u.queue AND h.share = u.share), 0) * (1 - exp(-least(k.k * "
            "greatest($1::bigint - u.updated_at, 0) / 1000.0, 700))) / k.k, "
            "updated_at = "
            "$1::bigint FROM k WHERE k.name = u.queue RETURNING u.queue) "
            "INSERT INTO share_usage (queue, share, usage, updated_at) SELECT "
            "queue, share, 0, $1::bigint FROM held ON CONFLICT DO NOTHING",
            1, p, errstr, errstr_size) != 0 ||
        drv_pg_exec(disp->pg,
                    "DELETE FROM share_usage u WHERE usage < 0.001 AND NOT "
                    "EXISTS (SELECT 1 FROM jobs WHERE queue = u.queue AND "
                    "share_identifier = u.share AND released)",
                    0, NULL, errstr, errstr_size) != 0) {
        return -1;
    }
    disp->shares_accrued_at = now;
    return 0;
}

/* Columns of the queues' SELECT. */
enum { QU_NAME, QU_PRIORITY, QU_CES, QU_POLICY };

/*
 * A scheduling pass, queue priority first (AWS): at each priority the
 * FIFO queues (interleaved by age) and then each fair-share queue. A
 * DISABLED queue takes no new jobs but finishes what it holds.
 */
int drv__schedule_pass(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    pass_t ps = {0};
    ps.rooms = load_rooms(disp, &ps.nrooms, errstr, errstr_size);
    if (!ps.rooms) {
        return -1;
    }
    ps.workers = load_workers(disp, ps.rooms, ps.nrooms, &ps.nworkers,
                              errstr, errstr_size);
    if (!ps.workers) {
        free(ps.rooms);
        return -1;
    }
    int ret = accrue_shares(disp, errstr, errstr_size);
    /* every queue's priority, and a fair-share queue's environments and
     * policy (NULL: a FIFO queue), in one read */
    drv_pg_res_t *qs = ret < 0 ? NULL : drv_pg_query(
        disp->pg,
        "SELECT q.name, q.priority, CASE WHEN p.name IS NOT NULL THEN (SELECT "
        "json_agg(compute_environment ORDER BY ord) FROM "
        "job_queue_compute_environments WHERE queue = q.name) END, CASE WHEN "
        "p.name IS NOT NULL THEN COALESCE(p.spec->'fairsharePolicy', '{}') "
        "END FROM job_queues q LEFT JOIN scheduling_policies p ON p.name = "
        "q.scheduling_policy ORDER BY q.priority DESC, q.name",
        0, NULL, errstr, errstr_size);
    ps.ids = json_array();
    ps.ces = json_array();
    ps.waits = json_object();
    ps.stock = json_object();
    ps.targets = json_array();
    ps.parts = json_array();
    /* no room anywhere: nothing to place, but the head of each queue is
     * told why it waits (one index entry per queue, whatever the
     * backlog) */
    ps.scan_only = !any_room(ps.rooms, ps.nrooms);
    int nq = qs ? drv_pg_res_rows(qs) : 0, fair = 0;
    for (int k = 0; k < nq; k++) {
        fair += drv_pg_res_get(qs, k, QU_POLICY) != NULL;
    }
    if (!qs) {
        ret = -1;
    } else if (fair == 0) { /* FIFO queues only: one walk for them all */
        ret = fifo_queues(disp, &ps, NULL, errstr, errstr_size);
    }
    /* else priority by priority: the level's FIFO queues (one walk, if it
     * has any), then each of its fair-share queues */
    for (int k = 0; fair && ret >= 0 && k < nq;) {
        const char *level = drv_pg_res_get(qs, k, QU_PRIORITY);
        int end = k, fifo = 0;
        while (end < nq && !strcmp(drv_pg_res_get(qs, end, QU_PRIORITY),
                                   level)) {
            fifo += drv_pg_res_get(qs, end++, QU_POLICY) == NULL;
        }
        if (fifo) {
            ret = fifo_queues(disp, &ps, level, errstr, errstr_size);
        }
        for (; ret >= 0 && k < end; k++) {
            if (!drv_pg_res_get(qs, k, QU_POLICY)) {
                continue;
            }
            json_t *order = drv_pg_res_json(qs, k, QU_CES);
            json_t *policy = drv_pg_res_json(qs, k, QU_POLICY);
            ret = fair_queue(disp, &ps, drv_pg_res_get(qs, k, QU_NAME), policy,
                             order, errstr, errstr_size);
            json_decref(order);
            json_decref(policy);
        }
        k = end;
    }
    drv_pg_res_free(qs);
    if (ret >= 0) {
        ret = release_all(disp, ps.ids, ps.ces, ps.targets, ps.parts, errstr,
                          errstr_size);
    }
    if (ret >= 0) {
        ret = record_waits(disp, ps.waits, errstr, errstr_size);
    }
    json_decref(ps.ids);
    json_decref(ps.ces);
    json_decref(ps.waits);
    json_decref(ps.stock);
    json_decref(ps.targets);
    json_decref(ps.parts);
    free_workers(ps.workers, ps.nworkers);
    free(ps.rooms);
    return ret < 0 ? -1 : 0;
}
