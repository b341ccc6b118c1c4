/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The outbox: messages a transaction produces are queued in memory
 * (emit, dlq), written to the outbox table inside that transaction
 * (persist), published once it commits (publish), and their rows deleted
 * once Kafka acknowledged them (confirm). A dispatcher that starts
 * publishes what a previous one left (recover). The bottom layer.
 */
#ifndef DRV_DISP_OUTBOX_H
#define DRV_DISP_OUTBOX_H

#include "dispatcher_int.h"

/* Queue a message for after commit (buf is taken over). */
void drv__outbox_emit(drv_disp_t *disp, const char *topic, const char *key,
                      void *buf, size_t len);
/* Encode `obj` as schema `schema` and queue it; an encoding failure is
 * logged and returns -1 with errstr (nothing queued). */
int drv__outbox_emit_json(drv_disp_t *disp, const char *schema,
                          const char *topic, const char *key, json_t *obj,
                          char *errstr, size_t errstr_size);
/* The same to one partition of the topic (-1: by key). */
int drv__outbox_emit_json_to(drv_disp_t *disp, const char *schema,
                             const char *topic, int32_t partition,
                             const char *key, json_t *obj, char *errstr,
                             size_t errstr_size);
/* Queue the original bytes of an unusable message for drover.dlq. */
void drv__outbox_dlq(drv_disp_t *disp, const char *source, const char *key,
                     const void *value, size_t len, const char *reason);
/* Write the queued messages to the outbox table (in the transaction). */
int drv__outbox_persist(drv_disp_t *disp, char *errstr, size_t errstr_size);
/* The transaction committed: publish the queued messages. */
void drv__outbox_publish(drv_disp_t *disp);
/* The transaction rolled back: forget the queued messages. */
void drv__outbox_clear(drv_disp_t *disp);
/* Delete the rows of messages Kafka acknowledged; with `wait`, first wait
 * (bounded) for what is in flight. */
void drv__outbox_confirm(drv_disp_t *disp, bool wait);
/* On taking the lead: publish every row a previous dispatcher left. */
int drv__outbox_recover(drv_disp_t *disp, char *errstr, size_t errstr_size);
/* Free what the outbox holds (the handle is being destroyed). */
void drv__outbox_free(drv_disp_t *disp);

#endif
