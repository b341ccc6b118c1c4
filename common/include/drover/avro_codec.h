/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Avro encoding of Drover's messages. The only module that includes
 * <avro.h>.
 *
 * Messages are handled in C as JSON objects (jansson) shaped like the Avro
 * record: field names as in the schema, null or absent for an empty
 * optional field, and a union of several records written as
 * {"RecordName": {...}}. The codec turns such an object into Avro binary
 * framed with single-object encoding (C3 01 + the 8-byte little-endian
 * CRC-64-AVRO fingerprint of the schema's Parsing Canonical Form), and
 * back, resolving an older writer schema (found by fingerprint) to the
 * current reader schema.
 *
 * Ownership: encode returns a malloc'd buffer, decode a new json_t
 * reference; both owned by the caller. Thread safety: a codec may be used
 * from any thread (calls are serialised by an internal mutex).
 */
#ifndef DRV_AVRO_CODEC_H
#define DRV_AVRO_CODEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "drover/conf.h"

#include "drover/err.h"
#include "drover/limits.h"

/** Largest message the codec will decode (bytes). */
#define DRV_CODEC_MAX_MESSAGE DRV_MESSAGE_MAX

/** Longest string (or map key) a decoded record may hold, in bytes: no
 * field of any schema needs more (a whole SubmitJob is at most 30 KiB);
 * a longer one makes the record unusable. Per-field limits are stricter
 * and are checked where each field is used. */
#define DRV_CODEC_MAX_STRING DRV_STRING_MAX

/**
 * @brief The Parsing Canonical Form of a schema (Avro specification).
 * @returns a malloc'd string, or NULL with errstr set when the text is not
 *          a valid schema.
 */
char *drv_avro_canonical_form(const char *schema_json, char *errstr,
                              size_t errstr_size);

/** @brief CRC-64-AVRO (Rabin) fingerprint of a byte string. */
uint64_t drv_avro_fingerprint64(const void *buf, size_t len);

typedef struct drv_codec drv_codec_t;

/**
 * @brief A codec knowing every embedded schema (current and history).
 * @returns an owned codec, or NULL with errstr set.
 */
drv_codec_t *drv_codec_new(char *errstr, size_t errstr_size);
void drv_codec_destroy(drv_codec_t *codec);

/**
 * @brief Use a schema registry (Confluent's REST API; Apicurio's ccompat
 * API and Karapace serve the same): encode in the Confluent wire format
 * (magic 0, 4-byte schema id), registering each schema under its full
 * record name (RecordNameStrategy); decode that format by fetching unknown
 * ids. Decoding single-object messages keeps working. NULL url: off.
 */
int drv_codec_use_registry(drv_codec_t *codec, const char *url,
                           const char *auth);

/** @brief drv_codec_new plus schema.registry.url from the configuration. */
drv_codec_t *drv_codec_from_conf(const drv_conf_t *conf, char *errstr,
                                 size_t errstr_size);

/**
 * @brief Accept messages written with this (older) schema too.
 * A current schema with the same full name must exist.
 */
int drv_codec_add_writer_schema(drv_codec_t *codec, const char *schema_json,
                                char *errstr, size_t errstr_size);

/** @brief Fingerprint of the current schema named `name` (short or full). */
int drv_codec_fingerprint(drv_codec_t *codec, const char *name,
                          uint64_t *fp_out);

/**
 * @brief Encode obj as the current schema `name` ("JobRequest" or
 * "io.drover.JobRequest").
 * @returns 0, or -1 with errstr naming the offending field.
 */
int drv_codec_encode(drv_codec_t *codec, const char *name, json_t *obj,
                     void **buf_out, size_t *len_out, char *errstr,
                     size_t errstr_size);

/**
 * @brief Encode obj with an explicit schema text, framed with that
 * schema's fingerprint: what an older or third-party producer sends.
 */
int drv_codec_encode_with(drv_codec_t *codec, const char *schema_json,
                          json_t *obj, void **buf_out, size_t *len_out,
                          char *errstr, size_t errstr_size);

/**
 * @brief Decode a framed message.
 * @param name_out set to the short record name (borrowed from the codec).
 * @returns DRV_OK, or DRV_ERR_INVALID with errstr (bad framing, unknown
 *          fingerprint, malformed data).
 */
drv_err_t drv_codec_decode(drv_codec_t *codec, const void *buf, size_t len,
                           const char **name_out, json_t **obj_out,
                           char *errstr, size_t errstr_size);

#endif
