/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intake: a consumed batch applied in one transaction with its offsets
 * and the scheduling pass it allows. Each message is decoded once into a
 * typed message (a record that cannot be decoded, or does not belong on
 * its topic, goes to drover.dlq), then routed to its handler in order;
 * consecutive submissions and routine reports are applied set-wise, a
 * few statements for up to RUN_MAX messages (intake.c).
 */
#ifndef DRV_DISP_INTAKE_H
#define DRV_DISP_INTAKE_H

#include "control.h"
#include "dispatcher_int.h"
#include "drover/messages.h"
#include "fleet.h"
#include "report.h"

/* A consumed message, decoded (drover/messages.h), with its origin. */
typedef struct drv__msg {
    drv__origin_t from;
    drv_msg_t msg;
    char origin_ce[256]; /* a signed report's compute environment */
} drv__msg_t;

/* Decode message bytes into *m. 0, or -1 when the message is unusable:
 * it was queued for drover.dlq with its reason, *m holds nothing. */
int drv__intake_decode(drv_disp_t *disp, const drv__origin_t *from,
                       drv__msg_t *m);
void drv__intake_msg_clear(drv__msg_t *m);
/* Apply n decoded messages in order inside the open transaction, and what
 * follows from them. 0, or -1 on a database error (roll back). */
int drv__intake_apply(drv_disp_t *disp, const drv__msg_t *msgs, size_t n,
                      char *errstr, size_t errstr_size);
/* Park message `msg` that PostgreSQL refused to apply, in its own
 * transaction: it goes to drover.dlq with `why`, its offset is stored,
 * and a submission's job is recorded FAILED with the reason (when even
 * that row is refused, the DLQ entry is all). 0, or -1 on a database
 * error (retry). */
int drv__intake_park(drv_disp_t *disp, drv_kmsg_t *msg, const char *why,
                     char *errstr, size_t errstr_size);
/* One transaction: decode and apply every message, store their offsets,
 * schedule, persist the outbox, commit. -1 on a database error (rolled
 * back; the caller retries the batch). */
int drv__intake_batch(drv_disp_t *disp, drv_kmsg_t **msgs, size_t n,
                      char *errstr, size_t errstr_size);

#endif
