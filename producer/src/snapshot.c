/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GetJobQueueSnapshot: the first 100 RUNNABLE jobs of a queue in the order
 * the dispatcher takes them (dispatcher/schedule.c), and what the queue's
 * jobs hold. A FIFO queue's order is scheduling priority, then age; a
 * fair-share queue's interleaves its shares as a scheduling pass does
 * (drv_fairshare_pick), so the snapshot is the order of the next pass if
 * every job found room. earliestTimeAtPosition is the latest of: when the
 * job became RUNNABLE, when a job ahead of it did, and when the queue last
 * released a job (which moved it up).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "drover/fairshare.h"
#include "drover/util.h"

#define FRONT_MAX 100
#define TOP_SHARES 20

static json_t *vcpu_usage(double v)
{
    return json_pack("[{s:s,s:f}]", "capacityUnit", "VCPU", "quantity", v);
}

json_t *drv__op_get_job_queue_snapshot(drv_client_t *client, json_t *req,
                                       drv_err_t *err, char *errstr,
                                       size_t errstr_size)
{
    const char *ref = json_string_value(json_object_get(req, "jobQueue"));
    char queue[300], lim[16];
    json_t *resp = NULL, *policy = NULL, *front = json_array();
    drv_pg_res_t *r = NULL;
    drv_fairshare_t fs = {0};
    double *held0 = NULL; /* what each share held, before the merge */
    int active0 = 0;
    drv_pg_t *pg = drv__client_pg(client, err, errstr, errstr_size);
    if (!pg) {
        json_decref(front);
        return NULL;
    }
    drv_arn_name(ref ? ref : "", queue, sizeof(queue));
    const char *p[] = {queue};
    if (!(r = drv_pg_query(pg,
                           "SELECT q.released_at, p.spec->'fairsharePolicy', "
                           "q.scheduling_policy IS NOT NULL, (SELECT "
                           "COALESCE(sum(vcpus), 0) FROM jobs WHERE queue = "
                           "q.name AND released) FROM job_queues q LEFT JOIN "
                           "scheduling_policies p ON p.name = "
                           "q.scheduling_policy WHERE q.name = $1",
                           1, p, errstr, errstr_size))) {
        *err = drv_pg_last_err(pg);
        goto out;
    }
    if (drv_pg_res_rows(r) == 0) {
        FAIL(DRV_ERR_NOTFOUND, "JobQueue %s does not exist", queue);
    }
    int64_t now = drv_now_ms();
    int64_t moved = drv_pg_res_int(r, 0, 0, 0);
    bool fair = drv_pg_res_get(r, 0, 2)[0] == 't';
    double held = strtod(drv_pg_res_get(r, 0, 3), NULL);
    policy = drv_pg_res_json(r, 0, 1);
    drv_pg_res_free(r);
    r = NULL;
    json_t *order = json_array(); /* [id, vcpus, MiB, since] */
    if (fair) {
        if (drv_fairshare_load(pg, queue, policy, FRONT_MAX, now, &fs, errstr,
                               errstr_size) != 0) {
            json_decref(order);
            *err = drv_pg_last_err(pg);
            goto out;
        }
        held0 = drv_calloc(fs.n + 1, sizeof(*held0));
        for (size_t s = 0; s < fs.n; s++) {
            held0[s] = fs.shares[s].held;
        }
        active0 = fs.active;
        int i;
        while (json_array_size(order) < FRONT_MAX &&
               (i = drv_fairshare_pick(&fs)) >= 0) {
            json_array_append(order, drv_fairshare_take(&fs, i));
        }
    } else {
        snprintf(lim, sizeof(lim), "%d", FRONT_MAX);
        const char *q[] = {queue, lim};
        if (!(r = drv_pg_query(pg,
                               "SELECT json_build_array(job_id, vcpus, "
                               "memory_mib, updated_at) FROM jobs WHERE queue "
                               "= $1 AND status = 'RUNNABLE' AND NOT released "
                               "ORDER BY scheduling_priority DESC, seq LIMIT "
                               "$2::int",
                               2, q, errstr, errstr_size))) {
            json_decref(order);
            *err = drv_pg_last_err(pg);
            goto out;
        }
        for (int row = 0; row < drv_pg_res_rows(r); row++) {
            json_array_append_new(order, drv_pg_res_json(r, row, 0));
        }
    }
    size_t k;
    json_t *job;
    int64_t ahead = moved;
    json_array_foreach(order, k, job)
    {
        char arn[512];
        int64_t since = json_integer_value(json_array_get(job, 3));
        if (since > ahead) {
            ahead = since;
        }
        drv__client_arn(client, arn, sizeof(arn), "job",
                        json_string_value(json_array_get(job, 0)));
        json_array_append_new(front,
                              json_pack("{s:s,s:I}", "jobArn", arn,
                                        "earliestTimeAtPosition",
                                        (json_int_t)ahead));
    }
    json_decref(order);
    json_t *util = json_pack("{s:o,s:I}", "totalCapacityUsage",
                             vcpu_usage(held), "lastUpdatedAt",
                             (json_int_t)now);
    if (fair) {
        /* the shares holding the most, at most 20 (AWS) */
        json_t *top = json_array();
        bool *used = drv_calloc(fs.n + 1, sizeof(*used));
        for (int t = 0; t < TOP_SHARES; t++) {
            int best = -1;
            for (size_t s = 0; s < fs.n; s++) {
                if (!used[s] && held0[s] > 0 &&
                    (best < 0 || held0[s] > held0[best])) {
                    best = (int)s;
                }
            }
            if (best < 0) {
                break;
            }
            used[best] = true;
            json_array_append_new(
                top, json_pack("{s:s,s:o}", "shareIdentifier",
                               fs.shares[best].id, "capacityUsage",
                               vcpu_usage(held0[best])));
        }
        free(used);
        json_object_set_new(util, "fairshareUtilization",
                            json_pack("{s:I,s:o}", "activeShareCount",
                                      (json_int_t)active0,
                                      "topCapacityUtilization",
                                      top));
    }
    resp = json_pack("{s:{s:o,s:I},s:o}", "frontOfQueue", "jobs", front,
                     "lastUpdatedAt", (json_int_t)now, "queueUtilization",
                     util);
    front = NULL;
out:
    json_decref(front);
    json_decref(policy);
    drv_pg_res_free(r);
    drv_fairshare_free(&fs);
    free(held0);
    return resp;
}
