/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Avro schemas of schemas/ compiled into the program (see
 * cmake/Embed.cmake). Files at the top level are the current (reader)
 * schemas; files under history/ are older writer schemas still accepted.
 */
#ifndef DRV_SCHEMAS_H
#define DRV_SCHEMAS_H

typedef struct drv_schema_file {
    const char *path; /**< relative to schemas/, e.g. "JobRequest.avsc" */
    const char *text; /**< the .avsc file's text */
} drv_schema_file_t;

/** Terminated by an entry whose path is NULL. */
extern const drv_schema_file_t drv_schema_files[];

/** The SQL migrations of migrations/ (NNN_name.sql), in order. */
extern const drv_schema_file_t drv_migration_files[];

#endif
