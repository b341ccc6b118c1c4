/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dispatcher's loop: wait for the leader lock, then consume a batch,
 * apply it with its offsets in one transaction (intake.c), publish what
 * it produced, and between batches schedule, sweep and confirm. Kafka
 * offsets live in PostgreSQL (kafka_offsets); on assignment the consumer
 * starts each partition where the last committed transaction left it, so
 * every message's effect is applied exactly once.
 */
#include "loop.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "capacity.h"
#include "deps.h"
#include "drover/util.h"
#include "fleet.h"
#include "intake.h"
#include "outbox.h"
#include "provision.h"
#include "schedule.h"
#include "transition.h"

#define TOPIC_SYNC_MS 10000
#define SWEEP_MS 2000
/* pg_try_advisory_lock key held by the active dispatcher ("drover") */
#define LEADER_LOCK_KEY "110386672592242"
#define STANDBY_POLL_MS 1000
#define METRICS_MS 5000

static int64_t offset_cb(const char *topic, int32_t partition, void *opaque)
{
    drv_disp_t *disp = opaque;
    char part[16], e[DRV_ERRSTR_SIZE];
    snprintf(part, sizeof(part), "%d", partition);
    const char *p[] = {DRV_DISP_GROUP, topic, part};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT next_offset FROM kafka_offsets WHERE consumer_group = $1 "
        "AND topic = $2 AND partition = $3::int",
        3, p, e, sizeof(e));
    int64_t off = -2; /* RD_KAFKA_OFFSET_BEGINNING: a new partition */
    if (!r) {
        drv_log(disp->log, DRV_LOG_ERROR, "dispatcher.offset_lookup", NULL,
                "could not read stored offset of %s [%d]: %s", topic,
                partition, e);
    } else if (drv_pg_res_rows(r) == 1) {
        off = drv_pg_res_int(r, 0, 0, -2);
    }
    drv_pg_res_free(r);
    return off;
}

static void *gauges_main(void *arg);

static bool health(void *opaque, char *text, size_t size)
{
    drv_disp_t *disp = opaque;
    int64_t age = drv_now_ms() - disp->db_ok_ms;
    if (age > 30000) {
        snprintf(text, size, "unhealthy: no database round trip for %lld s",
                 (long long)(age / 1000));
        return false;
    }
    snprintf(text, size, "ok: %s", disp->leading ? "active" : "standby");
    return true;
}

/* The dispatcher's metrics: name, type, help. */
static const drv_metric_family_t metrics[] = {
    {"drover_dispatcher_active", "gauge",
     "1 while this dispatcher holds the leader lock"},
    {"drover_jobs", "gauge", "jobs by queue and status (refreshed every 5 s)"},
    {"drover_transitions_total", "counter",
     "job state transitions made, by new status"},
    {"drover_messages_applied_total", "counter",
     "Kafka messages applied (in committed batches)"},
    {"drover_release_latency_seconds_sum", "counter",
     "time from RUNNABLE to the run request, summed"},
    {"drover_release_latency_seconds_count", "counter",
     "run requests released"},
    {"drover_kafka_consumer_lag", "gauge",
     "messages not yet consumed, by topic and partition"},
    {"drover_ce_desired_vcpus", "gauge",
     "a MANAGED compute environment's desired vCPUs (the provisioner's, "
     "on the dispatcher whose provisioner acts)"},
    {"drover_provisioner_workers", "gauge",
     "workers a provisioner started that are not stopping, by compute "
     "environment"},
    {"drover_provisioner_starts_total", "counter",
     "workers the provisioner started, by compute environment"},
    {"drover_provisioner_failures_total", "counter",
     "provisioned workers that failed, by compute environment and reason "
     "(start_failed, exited, register_timeout, lost)"},
};

/* What every handle has: configuration, the database, the codec and the
 * metrics registry. */
static drv_disp_t *disp_base(const drv_conf_t *conf, drv_log_t *log,
                             char *errstr, size_t errstr_size)
{
    char e[DRV_ERRSTR_SIZE];
    drv_disp_t *disp = drv_calloc(1, sizeof(*disp));
    disp->conf = conf;
    disp->log = log;
    disp->region = drv_conf_get(conf, "aws.region");
    disp->account = drv_conf_get(conf, "aws.account");
    disp->limits.timeout_min_seconds =
        (int)drv_conf_get_int(conf, "job.timeout.min.seconds");
    disp->dep_grace_ms = drv_conf_get_int(conf,
                                          "dispatcher.dependency.grace.ms");
    const char *master = drv_conf_get(conf, "dispatcher.worker.key.master");
    disp->check_origins = master && *master;
    if (disp->check_origins &&
        drv_origin_key_parse(master, "dispatcher.worker.key.master",
                             &disp->master, errstr, errstr_size) != 0) {
        free(disp);
        return NULL;
    }
    if (!disp->check_origins) {
        drv_log(log, DRV_LOG_WARN, "dispatcher.unsigned", NULL,
                "dispatcher.worker.key.master is not set: any client that "
                "can write drover.status can report and heartbeat as any "
                "worker");
    }
    disp->cache = drv_submission_cache_new();
    disp->metrics = drv_metrics_new();
    drv_metrics_declare_all(disp->metrics, metrics,
                            DRV_ARRAY_SIZE(metrics));
    disp->db_ok_ms = drv_now_ms();
    if (!(disp->pg = drv_pg_connect(drv_conf_get(conf, "pg.conninfo"), log, e,
                                    sizeof(e)))) {
        drv_errstr_set(errstr, errstr_size, "%s", e);
        goto fail;
    }
    if (drv_conf_get_bool(conf, "dispatcher.migrate") &&
        drv_pg_migrate(disp->pg, errstr, errstr_size) < 0) {
        goto fail;
    }
    if (!(disp->codec = drv_codec_from_conf(conf, errstr, errstr_size))) {
        goto fail;
    }
    return disp;
fail:
    drv_disp_destroy(disp);
    return NULL;
}

drv_disp_t *drv__disp_new_offline(const drv_conf_t *conf, drv_log_t *log,
                                  char *errstr, size_t errstr_size)
{
    return disp_base(conf, log, errstr, errstr_size);
}

drv_disp_t *drv_disp_new(const drv_conf_t *conf, drv_log_t *log, char *errstr,
                         size_t errstr_size)
{
    drv_disp_t *disp = disp_base(conf, log, errstr, errstr_size);
    if (!disp) {
        return NULL;
    }
    if (!(disp->kprod = drv_kprod_new(conf, log, DRV_KPROD_DURABLE, errstr,
                                      errstr_size))) {
        goto fail;
    }
    const char *listen = drv_conf_get(conf, "metrics.listen");
    if (listen && *listen &&
        !(disp->http = drv_http_start(listen, disp->metrics, health, disp,
                                      errstr, errstr_size))) {
        goto fail;
    }
    if (drv_conf_get_bool(conf, "provisioner.enabled") &&
        (!(disp->prov = drv__prov_new(conf, log, disp->metrics,
                                      disp->check_origins ? &disp->master
                                                          : NULL,
                                      errstr, errstr_size)) ||
         drv__prov_start(disp->prov, errstr, errstr_size) != 0)) {
        goto fail;
    }
    if (disp->http) {
        int err = pthread_create(&disp->gauges, NULL, gauges_main, disp);
        disp->gauges_started = err == 0;
        if (err != 0) { /* /metrics goes on without the job counts */
            drv_log(log, DRV_LOG_WARN, "dispatcher.no_gauges", NULL,
                    "could not start the job counter: %s", strerror(err));
        }
    }
    return disp;
fail:
    drv_disp_destroy(disp);
    return NULL;
}

void drv_disp_destroy(drv_disp_t *disp)
{
    if (!disp) {
        return;
    }
    if (disp->gauges_started) {
        disp->gauges_stop = true;
        pthread_join(disp->gauges, NULL);
    }
    drv__prov_destroy(disp->prov);
    drv_http_stop(disp->http);
    drv_kcons_destroy(disp->kcons);
    drv_kprod_destroy(disp->kprod);
    drv_codec_destroy(disp->codec);
    drv_pg_destroy(disp->pg);
    drv_metrics_destroy(disp->metrics);
    drv__outbox_free(disp);
    drv__followups_discard(disp);
    drv__capacity_free(disp);
    drv_submission_cache_destroy(disp->cache);
    free(disp);
}

/* Create topics for queues and compute environments that lack them. All
 * are asked for each time (existing ones are no-ops): a broker that lost
 * its data gets them back. */
static void sync_topics(drv_disp_t *disp)
{
    char e[DRV_ERRSTR_SIZE];
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT '" DRV_TOPIC_SUBMIT_PREFIX "' || name FROM job_queues UNION "
        "ALL SELECT '" DRV_TOPIC_RUN_PREFIX "' || name FROM "
        "compute_environments UNION ALL SELECT '" DRV_TOPIC_CONTROL_PREFIX
        "' || name FROM compute_environments UNION ALL SELECT "
        "unnest(ARRAY['" DRV_TOPIC_STATUS
        "', '" DRV_TOPIC_EVENTS "', '" DRV_TOPIC_DLQ "'])",
        0, NULL, e, sizeof(e));
    if (!r) {
        drv_log(disp->log, DRV_LOG_WARN, "dispatcher.topic_sync", NULL,
                "could not list queues: %s", e);
        return;
    }
    const char **names = drv_calloc((size_t)drv_pg_res_rows(r) + 1,
                                    sizeof(*names));
    size_t n = 0;
    for (int i = 0; i < drv_pg_res_rows(r); i++) {
        const char *t = drv_pg_res_get(r, i, 0);
        names[n++] = t;
    }
    if (n > 0 &&
        drv_kafka_create_topics(disp->conf, names, n,
                                (int)drv_conf_get_int(disp->conf,
                                                      "topic.partitions"),
                                e, sizeof(e)) != 0) {
        drv_log(disp->log, DRV_LOG_WARN, "dispatcher.topic_sync", NULL, "%s",
                e);
    }
    free(names);
    drv_pg_res_free(r);
}

static int in_tx(drv_disp_t *disp,
                 int (*fn)(drv_disp_t *, char *, size_t), char *errstr,
                 size_t errstr_size)
{
    if (drv_pg_begin(disp->pg, errstr, errstr_size) != 0) {
        return -1;
    }
    if (fn(disp, errstr, errstr_size) != 0 ||
        drv__outbox_persist(disp, errstr, errstr_size) != 0 ||
        drv_pg_commit(disp->pg, errstr, errstr_size) != 0) {
        drv_pg_rollback(disp->pg);
        drv__followups_discard(disp);
        drv__capacity_end(disp, false);
        drv__outbox_clear(disp);
        return -1;
    }
    drv__capacity_end(disp, true);
    return 0;
}

/* Between batches: dependencies that never appeared, silent workers,
 * deleted queues, queues' time limits. */
static int sweep(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    if (drv__deps_sweep(disp, errstr, errstr_size) != 0 ||
        drv__fleet_lose_silent(disp, errstr, errstr_size) != 0 ||
        drv__control_deleted_queues(disp, errstr, errstr_size) != 0 ||
        drv__control_time_limits(disp, errstr, errstr_size) != 0) {
        return -1;
    }
    return drv__deps_drain(disp, errstr, errstr_size);
}

/* Database trouble: wait, reconnect, and let the caller retry. A new
 * session no longer holds the leader lock: the caller must step down. */
static void recover(drv_disp_t *disp, const char *what, const char *err,
                    volatile sig_atomic_t *stop)
{
    char e[DRV_ERRSTR_SIZE];
    drv_log(disp->log, DRV_LOG_ERROR, "dispatcher.db_error", NULL,
            "%s failed, retrying: %s", what, err);
    for (int i = 0; i < 10 && !*stop; i++) {
        usleep(100 * 1000);
    }
    if (drv_pg_ensure(disp->pg, e, sizeof(e)) != 0) {
        drv_log(disp->log, DRV_LOG_WARN, "pg.reconnect_failed", NULL, "%s", e);
    }
}

/* How many times a message is applied alone before it is parked. */
#define ISOLATE_TRIES 3

/*
 * A batch failed on something other than the connection (PostgreSQL
 * refused a statement): one message in it may be one it will always
 * refuse. Each message is applied alone, up to ISOLATE_TRIES times; one
 * that still fails is parked (drover.dlq with the database's reason, its
 * submission recorded FAILED). The messages done are taken out of msgs
 * (*n is what is left). 0 when all are done, -1 when the database itself
 * failed meanwhile (the rest is retried as a batch).
 */
static int isolate(drv_disp_t *disp, drv_kmsg_t **msgs, size_t *n,
                   char *errstr, size_t errstr_size)
{
    size_t done = 0;
    int ret = 0;
    for (; done < *n && ret == 0; done++) {
        int rc = -1;
        for (int t = 0; t < ISOLATE_TRIES && rc != 0; t++) {
            rc = drv__intake_batch(disp, &msgs[done], 1, errstr, errstr_size);
            if (rc != 0 && drv_pg_last_err(disp->pg) == DRV_ERR_TRANSIENT) {
                return -1; /* nothing of msgs[done] was applied */
            }
        }
        if (rc != 0) {
            drv_log(disp->log, DRV_LOG_ERROR, "dispatcher.parked", NULL,
                    "a message on %s was refused %d times, parked: %s",
                    drv_kmsg_topic(msgs[done]), ISOLATE_TRIES, errstr);
            char why[DRV_ERRSTR_SIZE];
            snprintf(why, sizeof(why), "%s", errstr);
            ret = drv__intake_park(disp, msgs[done], why, errstr,
                                   errstr_size);
            if (ret != 0) {
                break; /* msgs[done] stays */
            }
        }
        drv__outbox_publish(disp);
        drv_metrics_add(disp->metrics, "drover_messages_applied_total", NULL,
                        1);
        drv_kmsg_destroy(msgs[done]);
    }
    memmove(msgs, msgs + done, (*n - done) * sizeof(*msgs));
    *n -= done;
    return ret;
}

static bool leading(drv_disp_t *disp)
{
    return drv_pg_session(disp->pg) == disp->lead_session;
}

/*
 * Wait until this dispatcher is the active one: it holds a session-level
 * advisory lock on the connection that does all of its work, so a
 * dispatcher whose session ended cannot commit anything, and a standby
 * takes over as soon as PostgreSQL ends the old session. Returns 0 once
 * leading, 1 if asked to stop first.
 */
static int take_lead(drv_disp_t *disp, volatile sig_atomic_t *stop)
{
    bool told = false;
    while (!*stop) {
        char e[DRV_ERRSTR_SIZE];
        bool got = false;
        if (drv_pg_ensure(disp->pg, e, sizeof(e)) == 0) {
            const char *p[] = {LEADER_LOCK_KEY};
            drv_pg_res_t *r = drv_pg_query(
                disp->pg, "SELECT pg_try_advisory_lock($1::bigint)", 1, p, e,
                sizeof(e));
            got = r && drv_pg_res_rows(r) == 1 &&
                  drv_pg_res_get(r, 0, 0)[0] == 't';
            if (r) {
                disp->db_ok_ms = drv_now_ms(); /* the database answered */
            }
            if (!r) {
                drv_log(disp->log, DRV_LOG_WARN, "dispatcher.lock_failed",
                        NULL, "%s", e);
            }
            drv_pg_res_free(r);
        } else if (!told) {
            drv_log(disp->log, DRV_LOG_WARN, "pg.reconnect_failed", NULL,
                    "%s", e);
        }
        if (got) {
            disp->lead_session = drv_pg_session(disp->pg);
            disp->active_since = drv_now_ms();
            drv_log(disp->log, DRV_LOG_INFO, "dispatcher.active", NULL,
                    "this dispatcher is the active one");
            return 0;
        }
        if (!told) {
            drv_log(disp->log, DRV_LOG_INFO, "dispatcher.standby", NULL,
                    "another dispatcher is active; standing by");
            told = true;
        }
        for (int i = 0; i < STANDBY_POLL_MS / 100 && !*stop; i++) {
            usleep(100 * 1000);
        }
    }
    return 1;
}

/* Consumer lag for /metrics (from librdkafka's cached figures). */
static void refresh_metrics(drv_disp_t *disp)
{
    drv_metrics_kafka_lag(disp->metrics, disp->kcons);
}

/*
 * Jobs by queue and status for /metrics, counted every METRICS_MS on a
 * connection of its own while this dispatcher leads: the count scans the
 * jobs table, which must not hold up the loop that moves jobs. A count
 * that took t waits GAUGE_SPACING times t before the next (at most
 * GAUGE_MAX_MS): with millions of jobs the scan takes seconds, and
 * PostgreSQL spends at most a twentieth of a core on it.
 */
#define GAUGE_SPACING 20
#define GAUGE_MAX_MS 60000
static void *gauges_main(void *arg)
{
    drv_disp_t *disp = arg;
    drv_pg_t *pg = NULL;
    char e[DRV_ERRSTR_SIZE];
    int64_t wait_ms = METRICS_MS;
    while (!disp->gauges_stop) {
        for (int64_t i = 0; i < wait_ms / 100 && !disp->gauges_stop; i++) {
            usleep(100 * 1000);
        }
        if (disp->gauges_stop || !disp->leading) {
            continue;
        }
        if (!pg) {
            pg = drv_pg_connect(drv_conf_get(disp->conf, "pg.conninfo"),
                                disp->log, e, sizeof(e));
        } else if (drv_pg_ensure(pg, e, sizeof(e)) != 0) {
            continue;
        }
        int64_t t0 = drv_mono_ms();
        drv_pg_res_t *r = pg ? drv_pg_query(pg,
                                            "SELECT queue, status, count(*) "
                                            "FROM jobs GROUP BY 1, 2",
                                            0, NULL, e, sizeof(e))
                             : NULL;
        int64_t took = (drv_mono_ms() - t0) * GAUGE_SPACING;
        wait_ms = took < METRICS_MS   ? METRICS_MS
                  : took > GAUGE_MAX_MS ? GAUGE_MAX_MS
                                        : took;
        if (!r) {
            continue;
        }
        drv_metrics_reset(disp->metrics, "drover_jobs");
        for (int i = 0; i < drv_pg_res_rows(r); i++) {
            char label[400];
            snprintf(label, sizeof(label), "queue=\"%s\",status=\"%s\"",
                     drv_pg_res_get(r, i, 0), drv_pg_res_get(r, i, 1));
            drv_metrics_set(disp->metrics, "drover_jobs", label,
                            (double)drv_pg_res_int(r, i, 2, 0));
        }
        drv_pg_res_free(r);
    }
    drv_pg_destroy(pg);
    return NULL;
}

/* Lead until stopped or the leader lock is lost. */
/* When the loop's periodic work is due next (monotonic ms). */
typedef struct timers {
    int64_t sync, sweep, metrics;
} timers_t;

/* Fill the batch up to `max` messages (waiting poll_ms for the first). */
static void poll_batch(drv_disp_t *disp, drv_kmsg_t **msgs, size_t *n,
                       size_t max, int poll_ms)
{
    while (*n < max) {
        drv_kmsg_t *m = drv_kcons_poll(disp->kcons, *n ? 0 : poll_ms);
        if (!m) {
            disp->caught_up_at = drv_now_ms();
            return;
        }
        msgs[(*n)++] = m;
    }
}

/* Between batches: a scheduling pass when nothing came (room freed by
 * capacity or queue changes made through the client), metrics, sweeps,
 * topics, outbox confirmations. A database error is recovered from and
 * ends the turn early. */
static void between_batches(drv_disp_t *disp, size_t consumed, timers_t *t,
                            volatile sig_atomic_t *stop)
{
    char e[DRV_ERRSTR_SIZE];
    if (consumed == 0) {
        if (in_tx(disp, drv__schedule_pass, e, sizeof(e)) != 0) {
            recover(disp, "scheduling", e, stop);
            return;
        }
        drv__outbox_publish(disp);
    }
    disp->db_ok_ms = drv_now_ms();
    int64_t now = drv_mono_ms();
    if (now >= t->metrics) {
        refresh_metrics(disp);
        t->metrics = now + METRICS_MS;
    }
    if (now >= t->sweep) {
        if (in_tx(disp, sweep, e, sizeof(e)) != 0) {
            recover(disp, "sweeping", e, stop);
            return;
        }
        drv__outbox_publish(disp);
        t->sweep = now + SWEEP_MS;
    }
    if (now >= t->sync) {
        sync_topics(disp);
        t->sync = now + TOPIC_SYNC_MS;
    }
    drv__outbox_confirm(disp, false);
}

/* Start leading: topics, what a previous leader left in the outbox, the
 * consumer. */
static int lead_start(drv_disp_t *disp, char *errstr, size_t errstr_size)
{
    static const char *const topics[] = {"^drover\\.submit\\..+",
                                         DRV_TOPIC_STATUS};
    sync_topics(disp);
    if (drv__outbox_recover(disp, errstr, errstr_size) != 0 ||
        !(disp->kcons = drv_kcons_new(disp->conf, disp->log, DRV_DISP_GROUP,
                                      offset_cb, disp, errstr,
                                      errstr_size)) ||
        drv_kcons_subscribe(disp->kcons, topics, 2, errstr, errstr_size) != 0) {
        return -1;
    }
    drv__capacity_reset(disp); /* another dispatcher may have led */
    disp->leading = true;
    drv_metrics_set(disp->metrics, "drover_dispatcher_active", NULL, 1);
    return 0;
}

/* Stop leading: leave the group (the next leader's consumer seeks to the
 * offsets stored with the last committed batch). */
static void lead_end(drv_disp_t *disp, volatile sig_atomic_t *stop)
{
    drv__outbox_confirm(disp, true);
    drv_kcons_destroy(disp->kcons);
    disp->kcons = NULL;
    disp->leading = false;
    drv_metrics_set(disp->metrics, "drover_dispatcher_active", NULL, 0);
    if (!*stop) {
        drv_log(disp->log, DRV_LOG_WARN, "dispatcher.lead_lost", NULL,
                "the PostgreSQL session holding the leader lock ended; "
                "standing by again");
    }
}

/* Lead until stopped or the leader lock is lost. */
static int lead(drv_disp_t *disp, volatile sig_atomic_t *stop, char *errstr,
                size_t errstr_size)
{
    size_t batch_max = (size_t)drv_conf_get_int(disp->conf,
                                                "dispatcher.batch.size");
    int poll_ms = (int)drv_conf_get_int(disp->conf, "dispatcher.poll.ms");
    char e[DRV_ERRSTR_SIZE];
    if (lead_start(disp, errstr, errstr_size) != 0) {
        return -1;
    }
    drv_kmsg_t **msgs = drv_calloc(batch_max, sizeof(*msgs));
    size_t n = 0;
    timers_t t = {.sync = drv_mono_ms() + TOPIC_SYNC_MS};
    while (!*stop && leading(disp)) {
        poll_batch(disp, msgs, &n, batch_max, poll_ms);
        if (n > 0 && drv__intake_batch(disp, msgs, n, e, sizeof(e)) != 0) {
            if (drv_pg_last_err(disp->pg) != DRV_ERR_TRANSIENT &&
                isolate(disp, msgs, &n, e, sizeof(e)) == 0) {
                between_batches(disp, 0, &t, stop);
                continue; /* every message applied or parked */
            }
            recover(disp, "applying a batch", e, stop);
            continue; /* the same batch (what is left) again, if leading */
        }
        drv__outbox_publish(disp);
        if (n > 0) {
            drv_metrics_add(disp->metrics, "drover_messages_applied_total",
                            NULL, (double)n);
        }
        for (size_t i = 0; i < n; i++) {
            drv_kmsg_destroy(msgs[i]);
        }
        size_t consumed = n;
        n = 0;
        between_batches(disp, consumed, &t, stop);
    }
    for (size_t i = 0; i < n; i++) {
        drv_kmsg_destroy(msgs[i]);
    }
    free(msgs);
    lead_end(disp, stop);
    return 0;
}

int drv_disp_run(drv_disp_t *disp, volatile sig_atomic_t *stop, char *errstr,
                 size_t errstr_size)
{
    drv_log(disp->log, DRV_LOG_INFO, "dispatcher.started", NULL,
            "dispatcher running");
    while (!*stop) {
        if (take_lead(disp, stop) != 0) {
            break;
        }
        if (lead(disp, stop, errstr, errstr_size) != 0) {
            return -1;
        }
    }
    drv_log(disp->log, DRV_LOG_INFO, "dispatcher.stopped", NULL,
            "dispatcher stopped");
    return 0;
}
