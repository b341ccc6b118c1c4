/* SPDX-License-Identifier: Apache-2.0 */
/* Heartbeats and leases (fleet.h). */
#include "fleet.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "drover/util.h"
#include "report.h"

/* Columns of the live attempts' SELECT. */
enum { LA_JOB_ID, LA_ATTEMPT, LA_WORKER_STARTED, LA_CE };

/*
 * Fail the live attempts a worker held (all of them, or those claimed by
 * its processes started before `before`): the host is lost, the retry
 * strategy decides. The worker is also told to stop them, in case it is
 * alive but was cut off.
 */
static int lose_attempts(drv_disp_t *disp, const char *worker,
                         const char *before, char *errstr, size_t errstr_size)
{
    const char *p[] = {worker, before};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "SELECT a.job_id, a.attempt, a.worker_started_at, "
        "j.compute_environment FROM attempts a JOIN jobs j ON j.job_id = "
        "a.job_id AND j.attempts = a.attempt AND j.released WHERE a.worker = "
        "$1 AND a.stopped_at IS NULL AND ($2::bigint IS NULL OR "
        "COALESCE(a.worker_started_at, 0) < $2::bigint) AND j.status NOT IN "
        DRV__TERMINAL,
        2, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    char reason[400];
    snprintf(reason, sizeof(reason), DRV_REASON_HOST_LOST_FMT, worker);
    size_t n = (size_t)drv_pg_res_rows(r);
    drv__report_t *reps = drv_calloc(n ? n : 1, sizeof(*reps));
    const drv__report_t **rp = drv_calloc(n ? n : 1, sizeof(*rp));
    for (size_t i = 0; i < n; i++) {
        reps[i] = (drv__report_t){
            .job_id = drv_pg_res_get(r, (int)i, LA_JOB_ID),
            .attempt = (int)drv_pg_res_int(r, (int)i, LA_ATTEMPT, 0),
            .status = DRV_JOB_FAILED,
            .worker = worker,
            .worker_started_at = drv_pg_res_int(r, (int)i, LA_WORKER_STARTED,
                                                0),
            .timestamp = drv_now_ms(),
            .status_reason = reason};
        rp[i] = &reps[i];
        json_t *f = drv_log_job(reps[i].job_id);
        json_object_set_new(f, "worker", json_string(worker));
        drv_log(disp->log, DRV_LOG_WARN, "job.host_lost", f,
                "attempt %d lost with its worker", reps[i].attempt);
        json_decref(f);
    }
    int ret = drv__reports_failed(disp, rp, n, errstr, errstr_size);
    for (size_t i = 0; i < n && ret == 0; i++) {
        drv__control_send_stop(disp, reps[i].job_id, reps[i].attempt,
                               drv_pg_res_get(r, (int)i, LA_CE), reason,
                               worker);
    }
    free(rp);
    free(reps);
    drv_pg_res_free(r);
    return ret;
}

int drv__fleet_lose_silent(drv_disp_t *disp, char *errstr,
                           size_t errstr_size)
{
    int64_t lease = drv_conf_get_int(disp->conf, "dispatcher.worker.lease.ms");
    int64_t now = drv_now_ms();
    if (now - disp->active_since < lease) {
        return 0; /* heartbeats sent while no dispatcher was active are not
                     applied yet: give every worker one lease first */
    }
    /* silent for a lease as of the last time this dispatcher had read
     * everything: one that lags behind its input (a burst) sees heartbeats
     * late and must not take that for silence */
    int64_t seen_up_to = disp->caught_up_at < now ? disp->caught_up_at : now;
    char cut[24];
    snprintf(cut, sizeof(cut), "%" PRId64, seen_up_to - lease);
    const char *p[] = {cut};
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "UPDATE workers SET lost = true WHERE NOT lost AND seen_at < "
        "$1::bigint RETURNING worker_id",
        1, p, errstr, errstr_size);
    if (!r) {
        return -1;
    }
    int ret = 0;
    for (int i = 0; ret == 0 && i < drv_pg_res_rows(r); i++) {
        json_t *f = json_pack("{s:s}", "worker", drv_pg_res_get(r, i, 0));
        drv_log(disp->log, DRV_LOG_WARN, "worker.lost", f,
                "no heartbeat for %" PRId64 " ms: its attempts are lost",
                lease);
        json_decref(f);
        ret = lose_attempts(disp, drv_pg_res_get(r, i, 0), NULL, errstr,
                            errstr_size);
    }
    drv_pg_res_free(r);
    return ret;
}

int drv__fleet_heartbeat(drv_disp_t *disp, const drv__heartbeat_t *hb,
                         char *errstr, size_t errstr_size)
{
    char vt[32], vf[32], mt[24], mf[24], st[24], ts[24], seen[24], gt[24],
        gf[24];
    snprintf(vt, sizeof(vt), "%g", hb->vcpus_total);
    snprintf(vf, sizeof(vf), "%g", hb->vcpus_free);
    snprintf(mt, sizeof(mt), "%" PRId64, hb->memory_total_mib);
    snprintf(mf, sizeof(mf), "%" PRId64, hb->memory_free_mib);
    snprintf(st, sizeof(st), "%" PRId64, hb->started_at);
    snprintf(ts, sizeof(ts), "%" PRId64, hb->timestamp);
    snprintf(seen, sizeof(seen), "%" PRId64, drv_now_ms());
    snprintf(gt, sizeof(gt), "%" PRId64, hb->gpus_total);
    snprintf(gf, sizeof(gf), "%" PRId64, hb->gpus_free);
    json_t *parts = hb->partitions ? hb->partitions : json_array();
    char *parts_s = json_dumps(parts, JSON_COMPACT);
    if (!hb->partitions) {
        json_decref(parts);
    }
    const char *p[] = {hb->worker, hb->compute_environment, vt, vf, mt, mf,
                       st, ts, hb->draining ? "true" : "false", seen, gt, gf,
                       parts_s};
    /* a heartbeat older than the last one applied changes nothing; the
     * row's previous process start comes back */
    drv_pg_res_t *r = drv_pg_query(
        disp->pg,
        "INSERT INTO workers (worker_id, compute_environment, vcpus_total, "
        "vcpus_free, memory_total_mib, memory_free_mib, started_at, "
        "last_heartbeat, draining, seen_at, gpus_total, gpus_free, "
        "partitions) VALUES ($1, $2, $3::float8, $4::float8, $5::bigint, "
        "$6::bigint, $7::bigint, $8::bigint, $9::bool, $10::bigint, "
        "$11::int, $12::int, ARRAY(SELECT jsonb_array_elements_text("
        "$13::jsonb)::int)) "
        "ON CONFLICT (worker_id) DO UPDATE SET compute_environment = $2, "
        "vcpus_total = $3::float8, vcpus_free = $4::float8, "
        "memory_total_mib = $5::bigint, memory_free_mib = $6::bigint, "
        "started_at = $7::bigint, draining = $9::bool, "
        "last_heartbeat = $8::bigint, seen_at = $10::bigint, lost = false, "
        "gpus_total = $11::int, gpus_free = $12::int, partitions = "
        "EXCLUDED.partitions WHERE workers.last_heartbeat <= $8::bigint "
        "RETURNING (SELECT started_at FROM workers w WHERE w.worker_id = $1)",
        13, p, errstr, errstr_size);
    free(parts_s);
    if (!r) {
        return -1;
    }
    /* the worker came back as a new process: what the old one held is
     * gone (it removed the old containers when it started) */
    bool restarted = drv_pg_res_rows(r) == 1 &&
                     drv_pg_res_get(r, 0, 0) && /* NULL: a new worker */
                     drv_pg_res_int(r, 0, 0, 0) < hb->started_at;
    drv_pg_res_free(r);
    return restarted ? lose_attempts(disp, hb->worker, st, errstr, errstr_size)
                     : 0;
}
