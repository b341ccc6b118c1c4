/* SPDX-License-Identifier: Apache-2.0 */
/*
 * StopAttempt requests from drover.control.<ce>: every worker hears every
 * one. An attempt running here is stopped; one not here (yet) is
 * remembered so that it never starts here. @thread main
 */
#include <string.h>

#include "drover/messages.h"
#include "worker_int.h"

/* Stops remembered for attempts not here, at most (then forgotten). */
#define STOPPED_MAX 10000

void drv__control_handle(drv_wrk_t *wrk, drv_kmsg_t *msg)
{
    size_t len;
    const void *val = drv_kmsg_value(msg, &len);
    drv_msg_t m;
    char e[DRV_ERRSTR_SIZE], key[300];
    if (drv_msg_decode(wrk->codec, val ? val : "", val ? len : 0, &m, e,
                       sizeof(e)) != DRV_OK ||
        m.type != DRV_MSG_STOP_ATTEMPT) {
        drv_log(wrk->log, DRV_LOG_WARN, "worker.control_ignored", NULL,
                "unusable control message: %s",
                m.obj ? drv_msg_type_name(m.type) : e);
        drv_msg_clear(&m);
        return;
    }
    const char *job_id = m.u.stop.job_id;
    int attempt = m.u.stop.attempt;
    const char *target = m.u.stop.worker;
    if (target && strcmp(target, wrk->id) != 0) {
        drv_msg_clear(&m); /* meant for another worker */
        return;
    }
    snprintf(key, sizeof(key), "%s#%d", job_id, attempt);
    pthread_mutex_lock(&wrk->lock);
    drv__attempt_t *a = drv__attempt_find(wrk, job_id, attempt);
    if (a) {
        drv__attempt_stop(a);
    } else if (drv_strset_size(wrk->stopped) < STOPPED_MAX) {
        drv_strset_add(wrk->stopped, key);
    }
    pthread_mutex_unlock(&wrk->lock);
    json_t *f = drv_log_job(job_id);
    drv_log(wrk->log, DRV_LOG_INFO, "worker.stop_requested", f,
            "terminate requested for attempt %d%s", attempt,
            a ? "" : " (not running here)");
    json_decref(f);
    drv_msg_clear(&m);
}
