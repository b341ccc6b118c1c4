/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The AWS API model (botocore's batch/2016-08-10/service-2.json and the
 * part of logs/2014-03-28/service-2.json Drover serves, vendored under
 * common/model/) as C tables generated at build time by
 * common/model/gen.c, and the two walks over them:
 *
 * - drv_model_check_request: a request against its operation's input
 *   shape: unknown members, JSON types, enums, required members, the
 *   model's length and count limits, and the members Drover does not
 *   honour (refused by name: "<member> is not supported by Drover").
 * - drv_model_serialize: a reply made to fit its output shape: integers
 *   written as integers, members the model does not know dropped (and
 *   counted: that is a Drover bug), and the list and map members AWS
 *   always returns present, empty if nothing else.
 *
 * drv_model_check_response is the strict form of the second, for tests.
 * The tables are constant; every function here is thread-safe.
 */
#ifndef DRV_AWS_MODEL_H
#define DRV_AWS_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum drv_mtype {
    DRV_MT_STRUCTURE,
    DRV_MT_LIST,
    DRV_MT_MAP,
    DRV_MT_STRING,
    DRV_MT_INTEGER,
    DRV_MT_LONG,
    DRV_MT_BOOLEAN,
    DRV_MT_DOUBLE,
    DRV_MT_FLOAT,
    DRV_MT_TIMESTAMP,
    DRV_MT_BLOB
} drv_mtype_t;

typedef struct drv_model_member {
    const char *name;
    int shape; /* index into drv_model_shapes */
    bool required;
    const char *location; /* "uri", "querystring", "header" or NULL */
} drv_model_member_t;

typedef struct drv_model_shape {
    const char *name;
    drv_mtype_t type;
    int first, count; /* members (structure) or enum values (string) */
    int elem;         /* list member or map value shape; -1 */
    int key;          /* map key shape; -1 */
    bool has_min, has_max;
    long long min, max; /* length, count or value */
} drv_model_shape_t;

typedef struct drv_model_op {
    const char *name, *method, *uri;
    int input, output; /* shapes; -1 when none */
    const char *service; /* SigV4 signing name: "batch", "logs" */
    const char *target;  /* X-Amz-Target of a JSON protocol operation
                          * (Logs_20140328.GetLogEvents); NULL: REST */
} drv_model_op_t;

/* generated */
extern const drv_model_shape_t drv_model_shapes[];
extern const drv_model_member_t drv_model_members[];
extern const char *const drv_model_enums[];
extern const drv_model_op_t drv_model_ops[];
extern const size_t drv_model_nshapes, drv_model_nops;
extern const char drv_model_version[]; /* the vendored model's source */

/* The operation of that name in the model, or NULL. */
const drv_model_op_t *drv_model_op(const char *name);

/* The shape of that name, or NULL. */
const drv_model_shape_t *drv_model_shape(const char *name);

/* A request (borrowed) against op's input shape: 0, or -1 with errstr
 * naming the member by its path ("containerOverrides.vcpus"). */
int drv_model_check_request(const drv_model_op_t *op, json_t *req,
                            char *errstr, size_t errstr_size);

/* The reply made to fit op's output shape: a new reference. *dropped
 * (may be NULL) counts the members removed or unrepresentable, each a
 * Drover bug; the first one's path is in errstr. */
json_t *drv_model_serialize(const drv_model_op_t *op, json_t *resp,
                            int *dropped, char *errstr, size_t errstr_size);

/* Whether a reply (borrowed) matches op's output shape exactly: types,
 * enums, known members, required members. 0, or -1 with the first
 * mismatch's path in errstr. */
int drv_model_check_response(const drv_model_op_t *op, json_t *resp,
                             char *errstr, size_t errstr_size);

#endif
