/* SPDX-License-Identifier: Apache-2.0 */
/* Confluent Schema Registry REST client (registry.c). Internal. */
#ifndef DRV_REGISTRY_H
#define DRV_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

typedef struct drv_registry drv_registry_t;

drv_registry_t *drv_registry_new(const char *url, const char *auth);
void drv_registry_destroy(drv_registry_t *r);
/* POST /subjects/<subject>/versions: the schema's id, or -1 with errstr. */
int64_t drv_registry_register(drv_registry_t *r, const char *subject,
                              const char *schema_json, char *errstr,
                              size_t errstr_size);
/* GET /schemas/ids/<id>: the schema text (caller frees), or NULL. */
char *drv_registry_fetch(drv_registry_t *r, int64_t id, char *errstr,
                         size_t errstr_size);

#endif
