/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the producer library shared by its source files. */
#ifndef DRV_CLIENT_INT_H
#define DRV_CLIENT_INT_H

#include "drover/avro_codec.h"
#include "drover/job.h"
#include "drover/kafka.h"
#include "drover/pg.h"
#include "drover/producer.h"

struct drv_client {
    const drv_conf_t *conf;
    drv_log_t *log;
    drv_pg_t *pg;
    drv_kprod_t *kprod;
    drv_codec_t *codec;
    drv_job_limits_t limits;
    const char *region, *account;
};

/* Per-operation signature: response or NULL with *err and errstr set. */
typedef json_t *(drv__op_fn)(drv_client_t *client, json_t *req, drv_err_t *err,
                             char *errstr, size_t errstr_size);

/* A request from outside: a JSON object nested at most
 * DRV_CLIENT_DEPTH_MAX deep. 0, or -1 with errstr set. */
int drv__request_check(json_t *req, char *errstr, size_t errstr_size);

/* Whether a reply of `used` bytes so far may take `item` more: false
 * (errstr set) once over DRV_CLIENT_REPLY_MAX. `used` is advanced. */
bool drv__reply_fits(size_t *used, const json_t *item, char *errstr,
                     size_t errstr_size);

drv_pg_t *drv__client_pg(drv_client_t *client, drv_err_t *err, char *errstr,
                         size_t errstr_size);
/* A MANAGED environment's computeResources vCPU members (minvCpus,
 * maxvCpus, desiredvCpus; instanceTypes), against what it has now (-1:
 * being created; maxvCpus then required) as AWS Batch checks them. 0, or
 * -1 with errstr naming the member. */
int drv__managed_vcpus_check(json_t *cr, double cur_min, double cur_max,
                             double cur_desired, char *errstr,
                             size_t errstr_size);
/* The tag drover:provisioner, if `tags` has it, names a provisioner
 * (process, container, kubernetes or external). 0, or -1 with errstr. */
int drv__provisioner_tag_check(json_t *tags, char *errstr,
                               size_t errstr_size);

void drv__client_arn(const drv_client_t *client, char *out, size_t size,
                     const char *kind, const char *name);
/* Paging: maxResults (1..max_limit, max_default without one) and
 * nextToken, a keyset position (drover/token.h): `after` (the last key of
 * the previous page) is "" on the first page. 0, or -1 with errstr. */
int drv__page(json_t *req, int max_default, int max_limit, int *limit,
              char *after, size_t after_size, char *errstr,
              size_t errstr_size);
/* The nextToken of a page that found `rows` of the limit + 1 asked for:
 * set when there are more, from the key of the page's last item. */
void drv__next_token(json_t *resp, int rows, int limit, const char *last_key);
/* After a failed INSERT or UPDATE of a named resource: AWS's message for a
 * duplicate name (23505), or for a queue's reference to a compute
 * environment or to scheduling policy `policy` that does not exist
 * (23503); errstr is left as it is otherwise. */
void drv__explain_constraint(drv_pg_t *pg, const char *kind, const char *name,
                             const char *policy, char *errstr,
                             size_t errstr_size);

drv__op_fn drv__op_submit_job, drv__op_describe_jobs, drv__op_list_jobs,
    drv__op_cancel_job, drv__op_terminate_job;

/* resources.c */
drv__op_fn drv__op_delete_job_queue, drv__op_update_compute_environment,
    drv__op_delete_compute_environment, drv__op_tag_resource,
    drv__op_untag_resource, drv__op_list_tags_for_resource;
/* policies.c; snapshot.c */
drv__op_fn drv__op_create_scheduling_policy,
    drv__op_describe_scheduling_policies, drv__op_list_scheduling_policies,
    drv__op_update_scheduling_policy, drv__op_delete_scheduling_policy,
    drv__op_get_job_queue_snapshot;
/* consumables.c */
drv__op_fn drv__op_create_consumable_resource,
    drv__op_describe_consumable_resource, drv__op_list_consumable_resources,
    drv__op_update_consumable_resource, drv__op_delete_consumable_resource,
    drv__op_list_jobs_by_consumable_resource;

/* logs.c: the CloudWatch Logs API over the workers' kept output */
drv__op_fn drv__op_get_log_events, drv__op_filter_log_events,
    drv__op_describe_log_streams;
/* One event of an attempt's output: its time, and where its message is
 * in the log's text. */
typedef struct drv__log_event {
    int64_t ms;
    size_t off, len;
} drv__log_event_t;
/* The events of a log's text (len bytes) timed by its times file's text
 * (NULL: none; a line before any stamp gets fallback_ms): one per
 * non-empty line, a line longer than an event's bound split. Owned by
 * the caller; *n_out of them. */
drv__log_event_t *drv__log_events(const char *text, size_t len,
                                  const char *times, int64_t fallback_ms,
                                  size_t *n_out);

/* File `name` (a worker's <attempt>.log or .times) of job_id's directory
 * in the log directory `dir`, opened through no symlink (neither the
 * job's directory nor the file may be one), at most 4 MiB: its text (the
 * caller frees it), NULL when absent, refused or larger. */
char *drv__log_read_kept(const char *dir, const char *job_id,
                         const char *name, size_t *len);

/* Refuse with `code` and a message, from a function with `err`, `errstr`,
 * `errstr_size` and an `out:` label. */
#define FAIL(code, ...)                                                        \
    do {                                                                       \
        *err = (code);                                                         \
        drv_errstr_set(errstr, errstr_size, __VA_ARGS__);                      \
        goto out;                                                              \
    } while (0)

#endif
