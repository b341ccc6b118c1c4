/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Single-object Avro encoding of JSON-shaped messages, with writer-to-reader
 * schema resolution: see drover/avro_codec.h. The JSON mapping walks the
 * schema, so one converter serves every message type.
 */
#include "drover/avro_codec.h"

#include "avro_guard.h"
#include "registry.h"

#include <avro.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "drover/schemas.h"
#include "drover/util.h"

#define PATH_MAX_LEN 256
/* memory Avro C may use for one message: this plus 64 bytes per byte */
#define DECODE_BUDGET_BASE (16u * 1024 * 1024)

typedef struct entry {
    char *full_name;          /* io.drover.JobRequest */
    const char *short_name;   /* points into full_name */
    avro_schema_t schema;
    uint64_t fp;
    int is_current;
    struct entry *reader;     /* current entry of the same name */
    avro_value_iface_t *iface;    /* generic iface (current entries) */
    avro_value_iface_t *resolver; /* writer->reader, when Avro C can */
    avro_value_iface_t *writer_iface; /* else: read as writer, project */
    char *text;               /* the schema as given */
    int64_t registry_id;      /* its schema registry id; 0: not known */
} entry_t;

struct drv_codec {
    pthread_mutex_t lock;
    entry_t *entries;
    size_t cnt;
    drv_registry_t *registry; /* Confluent wire format when set */
};

static void entry_cleanup(entry_t *e)
{
    free(e->text);
    if (e->iface) {
        avro_value_iface_decref(e->iface);
    }
    if (e->resolver) {
        avro_value_iface_decref(e->resolver);
    }
    if (e->writer_iface) {
        avro_value_iface_decref(e->writer_iface);
    }
    if (e->schema) {
        avro_schema_decref(e->schema);
    }
    free(e->full_name);
}

void drv_codec_destroy(drv_codec_t *codec)
{
    if (!codec) {
        return;
    }
    for (size_t i = 0; i < codec->cnt; i++) {
        entry_cleanup(&codec->entries[i]);
    }
    free(codec->entries);
    drv_registry_destroy(codec->registry);
    pthread_mutex_destroy(&codec->lock);
    free(codec);
}

static entry_t *find_current(drv_codec_t *codec, const char *name)
{
    for (size_t i = 0; i < codec->cnt; i++) {
        entry_t *e = &codec->entries[i];
        if (e->is_current && (!strcmp(e->full_name, name) ||
                              !strcmp(e->short_name, name))) {
            return e;
        }
    }
    return NULL;
}

static entry_t *find_fp(drv_codec_t *codec, uint64_t fp)
{
    for (size_t i = 0; i < codec->cnt; i++) {
        if (codec->entries[i].fp == fp) {
            return &codec->entries[i];
        }
    }
    return NULL;
}

/* Parse a schema text into a new entry (not yet linked to a reader). */
static int add_entry(drv_codec_t *codec, const char *json, int is_current,
                     char *errstr, size_t errstr_size)
{
    char *canon = drv_avro_canonical_form(json, errstr, errstr_size);
    if (!canon) {
        return -1;
    }
    entry_t e = {0};
    e.is_current = is_current;
    e.fp = drv_avro_fingerprint64(canon, strlen(canon));
    free(canon);
    if (find_fp(codec, e.fp)) {
        return 0; /* the same schema twice: nothing new */
    }
    if (avro_schema_from_json_length(json, strlen(json), &e.schema) != 0) {
        drv_errstr_set(errstr, errstr_size, "invalid schema: %s",
                       avro_strerror());
        return -1;
    }
    if (!is_avro_record(e.schema)) {
        drv_errstr_set(errstr, errstr_size, "message schema must be a record");
        avro_schema_decref(e.schema);
        return -1;
    }
    const char *ns = avro_schema_namespace(e.schema);
    const char *nm = avro_schema_name(e.schema);
    size_t n = (ns ? strlen(ns) + 1 : 0) + strlen(nm) + 1;
    e.full_name = drv_malloc(n);
    snprintf(e.full_name, n, "%s%s%s", ns ? ns : "", ns ? "." : "", nm);
    e.short_name = strrchr(e.full_name, '.') ? strrchr(e.full_name, '.') + 1
                                             : e.full_name;
    e.text = drv_strdup(json);
    entry_t *ne = realloc(codec->entries, (codec->cnt + 1) * sizeof(*ne));
    if (!ne) {
        abort();
    }
    codec->entries = ne;
    codec->entries[codec->cnt++] = e;
    return 0;
}

/* true when every reader record field also exists in the writer: the only
 * case Avro C 1.11's resolver accepts (it ignores defaults, and leaks when
 * it refuses, so it is not asked otherwise). */
static int fields_covered(avro_schema_t w, avro_schema_t r)
{
    if (is_avro_record(w) && is_avro_record(r)) {
        for (size_t i = 0; i < avro_schema_record_size(r); i++) {
            const char *n = avro_schema_record_field_name(r, (int)i);
            int wi = avro_schema_record_field_get_index(w, n);
            if (wi < 0 ||
                !fields_covered(avro_schema_record_field_get_by_index(w, wi),
                                avro_schema_record_field_get_by_index(r,
                                                                      (int)i))) {
                return 0;
            }
        }
        return 1;
    }
    if (is_avro_array(w) && is_avro_array(r)) {
        return fields_covered(avro_schema_array_items(w),
                              avro_schema_array_items(r));
    }
    if (is_avro_map(w) && is_avro_map(r)) {
        return fields_covered(avro_schema_map_values(w),
                              avro_schema_map_values(r));
    }
    if (is_avro_union(w) && is_avro_union(r)) {
        for (size_t i = 0; i < avro_schema_union_size(r); i++) {
            avro_schema_t rb = avro_schema_union_branch(r, (int)i);
            for (size_t j = 0; is_avro_record(rb) &&
                               j < avro_schema_union_size(w);
                 j++) {
                avro_schema_t wb = avro_schema_union_branch(w, (int)j);
                if (is_avro_record(wb) &&
                    !strcmp(avro_schema_name(wb), avro_schema_name(rb)) &&
                    !fields_covered(wb, rb)) {
                    return 0;
                }
            }
        }
    }
    return 1;
}

/* Link every entry to its reader and build the value interfaces. */
static int link_entries(drv_codec_t *codec, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < codec->cnt; i++) {
        entry_t *e = &codec->entries[i];
        /* entries may have moved (realloc): every reader link is renewed */
        e->reader = e->is_current ? e : find_current(codec, e->full_name);
        if (e->iface || e->resolver || e->writer_iface) {
            continue;
        }
        if (e->is_current) {
            e->iface = avro_generic_class_from_schema(e->schema);
            continue;
        }
        if (!e->reader) {
            drv_errstr_set(errstr, errstr_size,
                           "schema %s has no current version", e->full_name);
            return -1;
        }
        /* Avro C 1.11 cannot resolve a reader field that the writer lacks
         * (it ignores defaults); such writers are read as written and then
         * projected onto the reader, absent fields meaning their default. */
        if (fields_covered(e->schema, e->reader->schema)) {
            e->resolver = avro_resolved_writer_new(e->schema,
                                                   e->reader->schema);
        }
        if (!e->resolver) {
            e->writer_iface = avro_generic_class_from_schema(e->schema);
        }
    }
    return 0;
}

drv_codec_t *drv_codec_new(char *errstr, size_t errstr_size)
{
    drv__avro_guard_install();
    drv_codec_t *codec = drv_calloc(1, sizeof(*codec));
    pthread_mutex_init(&codec->lock, NULL);
    char inner[DRV_ERRSTR_SIZE];
    /* current schemas first, so history entries can be linked to them */
    for (int pass = 0; pass < 2; pass++) {
        for (const drv_schema_file_t *f = drv_schema_files; f->path; f++) {
            int is_current = strchr(f->path, '/') == NULL;
            if (is_current != (pass == 0)) {
                continue;
            }
            if (add_entry(codec, f->text, is_current, inner, sizeof(inner))) {
                drv_errstr_set(errstr, errstr_size, "schema %s: %s", f->path,
                               inner);
                drv_codec_destroy(codec);
                return NULL;
            }
        }
    }
    if (link_entries(codec, errstr, errstr_size) != 0) {
        drv_codec_destroy(codec);
        return NULL;
    }
    return codec;
}

/* Add a writer schema and link it; an entry that cannot be linked is
 * dropped again. @locks codec->lock held. Returns the entry or NULL. */
static entry_t *add_writer(drv_codec_t *codec, const char *schema_json,
                           char *errstr, size_t errstr_size)
{
    size_t before = codec->cnt;
    if (add_entry(codec, schema_json, 0, errstr, errstr_size) != 0) {
        return NULL;
    }
    if (codec->cnt == before) { /* known already */
        char *canon = drv_avro_canonical_form(schema_json, errstr,
                                              errstr_size);
        entry_t *e = canon ? find_fp(codec, drv_avro_fingerprint64(
                                                canon, strlen(canon)))
                           : NULL;
        free(canon);
        return e;
    }
    if (link_entries(codec, errstr, errstr_size) != 0) {
        entry_cleanup(&codec->entries[--codec->cnt]);
        return NULL;
    }
    return &codec->entries[codec->cnt - 1];
}

int drv_codec_add_writer_schema(drv_codec_t *codec, const char *schema_json,
                                char *errstr, size_t errstr_size)
{
    pthread_mutex_lock(&codec->lock);
    entry_t *e = add_writer(codec, schema_json, errstr, errstr_size);
    pthread_mutex_unlock(&codec->lock);
    return e ? 0 : -1;
}

int drv_codec_use_registry(drv_codec_t *codec, const char *url,
                           const char *auth)
{
    pthread_mutex_lock(&codec->lock);
    drv_registry_destroy(codec->registry);
    codec->registry = url && *url ? drv_registry_new(url, auth) : NULL;
    pthread_mutex_unlock(&codec->lock);
    return 0;
}

drv_codec_t *drv_codec_from_conf(const drv_conf_t *conf, char *errstr,
                                 size_t errstr_size)
{
    drv_codec_t *codec = drv_codec_new(errstr, errstr_size);
    if (codec) {
        drv_codec_use_registry(codec, drv_conf_get(conf, "schema.registry.url"),
                               drv_conf_get(conf,
                                            "schema.registry.basic.auth"));
    }
    return codec;
}

int drv_codec_fingerprint(drv_codec_t *codec, const char *name,
                          uint64_t *fp_out)
{
    entry_t *e = find_current(codec, name);
    if (!e) {
        return -1;
    }
    *fp_out = e->fp;
    return 0;
}

/* ---- JSON -> Avro ---------------------------------------------------- */

static int from_json(json_t *j, avro_value_t *v, const char *path,
                     char *errstr, size_t size);

static int union_branch_for(avro_schema_t us, json_t *j, json_t **inner)
{
    size_t n = avro_schema_union_size(us);
    *inner = j;
    if (json_is_null(j)) {
        for (size_t i = 0; i < n; i++) {
            if (is_avro_null(avro_schema_union_branch(us, (int)i))) {
                return (int)i;
            }
        }
        return -1;
    }
    /* {"RecordName": {...}} picks that record branch */
    if (json_is_object(j) && json_object_size(j) == 1) {
        const char *k = json_object_iter_key(json_object_iter(j));
        for (size_t i = 0; i < n; i++) {
            avro_schema_t b = avro_schema_union_branch(us, (int)i);
            if (is_avro_record(b) && (!strcmp(avro_schema_name(b), k) ||
                                      !strcmp(avro_schema_type_name(b), k))) {
                *inner = json_object_iter_value(json_object_iter(j));
                return (int)i;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        avro_schema_t b = avro_schema_union_branch(us, (int)i);
        int ok = 0;
        switch (json_typeof(j)) {
        case JSON_STRING:
            ok = is_avro_string(b) || is_avro_enum(b) || is_avro_bytes(b);
            break;
        case JSON_INTEGER:
            ok = is_avro_int32(b) || is_avro_int64(b) || is_avro_double(b) ||
                 is_avro_float(b);
            break;
        case JSON_REAL:
            ok = is_avro_double(b) || is_avro_float(b);
            break;
        case JSON_TRUE:
        case JSON_FALSE:
            ok = is_avro_boolean(b);
            break;
        case JSON_ARRAY:
            ok = is_avro_array(b);
            break;
        case JSON_OBJECT:
            ok = is_avro_record(b) || is_avro_map(b);
            break;
        case JSON_NULL:
            break;
        }
        if (ok) {
            return (int)i;
        }
    }
    return -1;
}

static int from_json_record(json_t *j, avro_value_t *v, avro_schema_t s,
                            const char *path, char *errstr, size_t size)
{
    char sub[PATH_MAX_LEN];
    size_t n = avro_schema_record_size(s);
    const char *k;
    json_t *jv;
    json_object_foreach(j, k, jv)
    {
        if (avro_schema_record_field_get_index(s, k) < 0) {
            drv_errstr_set(errstr, size, "unknown field \"%s%s%s\"", path,
                           *path ? "." : "", k);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const char *fname = avro_schema_record_field_name(s, (int)i);
        avro_schema_t ft = avro_schema_record_field_get_by_index(s, (int)i);
        avro_value_t field;
        avro_value_get_by_index(v, i, &field, NULL);
        snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", fname);
        jv = json_object_get(j, fname);
        if (!jv || json_is_null(jv)) {
            if (is_avro_union(ft)) {
                json_t *dummy;
                int b = union_branch_for(ft, json_null(), &dummy);
                avro_value_t br;
                if (b >= 0) {
                    avro_value_set_branch(&field, b, &br);
                    avro_value_set_null(&br);
                    continue;
                }
            } else if (is_avro_array(ft) || is_avro_map(ft)) {
                continue;
            }
            drv_errstr_set(errstr, size, "missing required field \"%s\"", sub);
            return -1;
        }
        if (from_json(jv, &field, sub, errstr, size) != 0) {
            return -1;
        }
    }
    return 0;
}

static int type_error(const char *path, const char *want, char *errstr,
                      size_t size)
{
    drv_errstr_set(errstr, size, "field \"%s\" must be %s", path, want);
    return -1;
}

static int from_json(json_t *j, avro_value_t *v, const char *path,
                     char *errstr, size_t size)
{
    avro_schema_t s = avro_value_get_schema(v);
    char sub[PATH_MAX_LEN];
    switch (avro_value_get_type(v)) {
    case AVRO_STRING:
        if (!json_is_string(j)) {
            return type_error(path, "a string", errstr, size);
        }
        if (json_string_length(j) > DRV_CODEC_MAX_STRING) {
            /* what no reader would take is not written */
            return type_error(path, "at most 65536 bytes", errstr, size);
        }
        return avro_value_set_string_len(v, json_string_value(j),
                                         json_string_length(j) + 1);
    case AVRO_BYTES:
        if (!json_is_string(j)) {
            return type_error(path, "a string", errstr, size);
        }
        return avro_value_set_bytes(v, (void *)(uintptr_t)json_string_value(j),
                                    json_string_length(j));
    case AVRO_INT32:
        if (!json_is_integer(j) || json_integer_value(j) < INT32_MIN ||
            json_integer_value(j) > INT32_MAX) {
            return type_error(path, "a 32-bit integer", errstr, size);
        }
        return avro_value_set_int(v, (int32_t)json_integer_value(j));
    case AVRO_INT64:
        if (!json_is_integer(j)) {
            return type_error(path, "an integer", errstr, size);
        }
        return avro_value_set_long(v, json_integer_value(j));
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
        if (!json_is_number(j)) {
            return type_error(path, "a number", errstr, size);
        }
        return avro_value_get_type(v) == AVRO_FLOAT
                   ? avro_value_set_float(v, (float)json_number_value(j))
                   : avro_value_set_double(v, json_number_value(j));
    case AVRO_BOOLEAN:
        if (!json_is_boolean(j)) {
            return type_error(path, "true or false", errstr, size);
        }
        return avro_value_set_boolean(v, json_is_true(j));
    case AVRO_NULL:
        if (!json_is_null(j)) {
            return type_error(path, "null", errstr, size);
        }
        return avro_value_set_null(v);
    case AVRO_ENUM: {
        int sym = json_is_string(j)
                      ? avro_schema_enum_get_by_name(s, json_string_value(j))
                      : -1;
        if (sym < 0) {
            return type_error(path, "one of the enum's symbols", errstr, size);
        }
        return avro_value_set_enum(v, sym);
    }
    case AVRO_ARRAY: {
        if (!json_is_array(j)) {
            return type_error(path, "an array", errstr, size);
        }
        size_t i;
        json_t *el;
        json_array_foreach(j, i, el)
        {
            avro_value_t item;
            avro_value_append(v, &item, NULL);
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            if (from_json(el, &item, sub, errstr, size) != 0) {
                return -1;
            }
        }
        return 0;
    }
    case AVRO_MAP: {
        if (!json_is_object(j)) {
            return type_error(path, "an object", errstr, size);
        }
        const char *k;
        json_t *el;
        json_object_foreach(j, k, el)
        {
            avro_value_t item;
            avro_value_add(v, k, &item, NULL, NULL);
            snprintf(sub, sizeof(sub), "%s.%s", path, k);
            if (from_json(el, &item, sub, errstr, size) != 0) {
                return -1;
            }
        }
        return 0;
    }
    case AVRO_RECORD:
        if (!json_is_object(j)) {
            return type_error(path, "an object", errstr, size);
        }
        return from_json_record(j, v, s, path, errstr, size);
    case AVRO_UNION: {
        json_t *inner;
        int b = union_branch_for(s, j, &inner);
        avro_value_t br;
        if (b < 0) {
            return type_error(path, "of a type the union allows", errstr,
                              size);
        }
        avro_value_set_branch(v, b, &br);
        return from_json(inner, &br, path, errstr, size);
    }
    default:
        drv_errstr_set(errstr, size, "field \"%s\": unsupported Avro type",
                       path);
        return -1;
    }
}

/* ---- Avro -> JSON ---------------------------------------------------- */

static int union_record_count(avro_schema_t us)
{
    int n = 0;
    for (size_t i = 0; i < avro_schema_union_size(us); i++) {
        n += is_avro_record(avro_schema_union_branch(us, (int)i));
    }
    return n;
}

/* What decoding found wrong: the first string that is not valid UTF-8
 * or holds a NUL byte, by the field it is in. */
typedef struct decode_ctx {
    const char *field; /* the record field or map key being read */
    char why[256];
    bool bad;
} decode_ctx_t;

static json_t *refuse(decode_ctx_t *ctx, const char *what)
{
    if (!ctx->bad) {
        ctx->bad = true;
        snprintf(ctx->why, sizeof(ctx->why), "field %.100s %s",
                 ctx->field ? ctx->field : "(top)", what);
    }
    return json_null();
}

/* Every string crossing into Drover: at most DRV_CODEC_MAX_STRING bytes,
 * valid UTF-8, no NUL (jansson checks UTF-8; a NUL would cut C strings and
 * PostgreSQL refuses it in text). */
static json_t *checked_string(decode_ctx_t *ctx, const char *str, size_t n)
{
    if (n > DRV_CODEC_MAX_STRING) {
        return refuse(ctx, "is longer than the 65536 bytes any field may "
                           "hold");
    }
    if (memchr(str, '\0', n)) {
        return refuse(ctx, "holds a NUL byte");
    }
    json_t *j = json_stringn(str, n);
    return j ? j : refuse(ctx, "is not valid UTF-8");
}

static json_t *to_json(avro_value_t *v, decode_ctx_t *ctx)
{
    avro_schema_t s = avro_value_get_schema(v);
    switch (avro_value_get_type(v)) {
    case AVRO_STRING: {
        const char *str = "";
        size_t len = 0;
        avro_value_get_string(v, &str, &len);
        return checked_string(ctx, str, len ? len - 1 : 0);
    }
    case AVRO_BYTES: {
        const void *b = "";
        size_t len = 0;
        avro_value_get_bytes(v, &b, &len);
        return checked_string(ctx, b, len);
    }
    case AVRO_INT32: {
        int32_t i = 0;
        avro_value_get_int(v, &i);
        return json_integer(i);
    }
    case AVRO_INT64: {
        int64_t l = 0;
        avro_value_get_long(v, &l);
        return json_integer(l);
    }
    case AVRO_FLOAT: {
        float f = 0;
        avro_value_get_float(v, &f);
        return json_real(f);
    }
    case AVRO_DOUBLE: {
        double d = 0;
        avro_value_get_double(v, &d);
        return json_real(d);
    }
    case AVRO_BOOLEAN: {
        int b = 0;
        avro_value_get_boolean(v, &b);
        return json_boolean(b);
    }
    case AVRO_NULL:
        return json_null();
    case AVRO_ENUM: {
        int sym = 0;
        avro_value_get_enum(v, &sym);
        return json_string(avro_schema_enum_get(s, sym));
    }
    case AVRO_ARRAY: {
        size_t n = 0;
        avro_value_get_size(v, &n);
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++) {
            avro_value_t item;
            avro_value_get_by_index(v, i, &item, NULL);
            json_array_append_new(a, to_json(&item, ctx));
        }
        return a;
    }
    case AVRO_MAP:
    case AVRO_RECORD: {
        size_t n = 0;
        avro_value_get_size(v, &n);
        json_t *o = json_object();
        for (size_t i = 0; i < n; i++) {
            avro_value_t item;
            const char *name = "";
            avro_value_get_by_index(v, i, &item, &name);
            const char *outer = ctx->field;
            if (avro_value_get_type(v) == AVRO_MAP) {
                /* a key is data, not a name: never echoed */
                json_t *key = strlen(name) > DRV_CODEC_MAX_STRING
                                  ? NULL
                                  : json_string(name);
                if (!key) {
                    refuse(ctx, "has a key that is not valid UTF-8 or is "
                                "too long");
                }
                json_decref(key);
            } else {
                ctx->field = name; /* the schema's field name */
            }
            json_t *c = to_json(&item, ctx);
            ctx->field = outer;
            if (json_is_null(c)) {
                json_decref(c);
                continue;
            }
            json_object_set_new(o, name, c);
        }
        return o;
    }
    case AVRO_UNION: {
        avro_value_t br;
        avro_value_get_current_branch(v, &br);
        json_t *c = to_json(&br, ctx);
        avro_schema_t bs = avro_value_get_schema(&br);
        if (is_avro_record(bs) && union_record_count(s) > 1) {
            return json_pack("{s:o}", avro_schema_name(bs), c);
        }
        return c;
    }
    default:
        return json_null();
    }
}

/* ---- projection onto a reader schema ----------------------------------- */

static void project(json_t *j, avro_schema_t s);

static void project_union(json_t *j, avro_schema_t us)
{
    avro_schema_t only = NULL;
    for (size_t i = 0; i < avro_schema_union_size(us); i++) {
        avro_schema_t b = avro_schema_union_branch(us, (int)i);
        if (!is_avro_record(b)) {
            continue;
        }
        json_t *inner = json_object_get(j, avro_schema_name(b));
        if (inner && json_object_size(j) == 1) {
            project(inner, b);
            return;
        }
        only = only ? NULL : b;
    }
    if (only) {
        project(j, only);
    }
}

/* Drop what the reader schema does not know, recursively. */
static void project(json_t *j, avro_schema_t s)
{
    size_t i;
    json_t *v;
    const char *k;
    void *tmp;
    if (is_avro_record(s) && json_is_object(j)) {
        json_object_foreach_safe(j, tmp, k, v)
        {
            int idx = avro_schema_record_field_get_index(s, k);
            if (idx < 0) {
                json_object_del(j, k);
            } else {
                project(v, avro_schema_record_field_get_by_index(s, idx));
            }
        }
    } else if (is_avro_array(s) && json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            project(v, avro_schema_array_items(s));
        }
    } else if (is_avro_map(s) && json_is_object(j)) {
        json_object_foreach(j, k, v)
        {
            project(v, avro_schema_map_values(s));
        }
    } else if (is_avro_union(s) && json_is_object(j)) {
        project_union(j, s);
    }
}

/* ---- framing ----------------------------------------------------------- */

/* Encode with a single-object header (registry_id 0) or the Confluent
 * wire format's (magic 0, 4-byte big-endian schema id). */
static int encode_entry(entry_t *e, avro_value_iface_t *iface, json_t *obj,
                        int64_t registry_id, void **buf_out, size_t *len_out,
                        char *errstr, size_t errstr_size)
{
    avro_value_t val;
    avro_writer_t w = NULL;
    unsigned char *buf = NULL;
    int ret = -1;
    if (avro_generic_value_new(iface, &val) != 0) {
        drv_errstr_set(errstr, errstr_size, "%s: %s", e->short_name,
                       avro_strerror());
        return -1;
    }
    if (!json_is_object(obj)) {
        drv_errstr_set(errstr, errstr_size, "%s: message must be an object",
                       e->short_name);
        goto out;
    }
    if (from_json_record(obj, &val, e->schema, "", errstr, errstr_size) != 0) {
        goto out;
    }
    size_t size = 0, hdr = registry_id > 0 ? 5 : 10;
    avro_value_sizeof(&val, &size);
    buf = drv_malloc(size + hdr);
    if (registry_id > 0) {
        buf[0] = 0;
        for (int i = 0; i < 4; i++) {
            buf[1 + i] = (unsigned char)(registry_id >> (8 * (3 - i)));
        }
    } else {
        buf[0] = 0xC3;
        buf[1] = 0x01;
        for (int i = 0; i < 8; i++) {
            buf[2 + i] = (unsigned char)(e->fp >> (8 * i));
        }
    }
    w = avro_writer_memory((char *)buf + hdr, (int64_t)size);
    if (avro_value_write(w, &val) != 0) {
        drv_errstr_set(errstr, errstr_size, "%s: could not encode: %s",
                       e->short_name, avro_strerror());
        goto out;
    }
    *buf_out = buf;
    *len_out = size + hdr;
    buf = NULL;
    ret = 0;
out:
    if (w) {
        avro_writer_free(w);
    }
    free(buf);
    avro_value_decref(&val);
    return ret;
}

int drv_codec_encode(drv_codec_t *codec, const char *name, json_t *obj,
                     void **buf_out, size_t *len_out, char *errstr,
                     size_t errstr_size)
{
    pthread_mutex_lock(&codec->lock);
    entry_t *e = find_current(codec, name);
    int r = -1;
    if (!e) {
        drv_errstr_set(errstr, errstr_size, "no schema named \"%s\"", name);
    } else if (codec->registry && e->registry_id == 0 &&
               (e->registry_id = drv_registry_register(
                    codec->registry, e->full_name, e->text, errstr,
                    errstr_size)) < 0) {
        e->registry_id = 0; /* subject: the record's full name */
    } else {
        r = encode_entry(e, e->iface, obj, codec->registry ? e->registry_id : 0,
                         buf_out, len_out, errstr, errstr_size);
    }
    pthread_mutex_unlock(&codec->lock);
    return r;
}

int drv_codec_encode_with(drv_codec_t *codec, const char *schema_json,
                          json_t *obj, void **buf_out, size_t *len_out,
                          char *errstr, size_t errstr_size)
{
    drv_codec_t *tmp = drv_calloc(1, sizeof(*tmp));
    pthread_mutex_init(&tmp->lock, NULL);
    int r = add_entry(tmp, schema_json, 1, errstr, errstr_size);
    if (r == 0) {
        r = link_entries(tmp, errstr, errstr_size);
    }
    if (r == 0) {
        r = encode_entry(&tmp->entries[0], tmp->entries[0].iface, obj, 0,
                         buf_out, len_out, errstr, errstr_size);
    }
    drv_codec_destroy(tmp);
    (void)codec;
    return r;
}

static drv_err_t decode_entry(entry_t *e, const void *data, size_t len,
                              json_t **obj_out, char *errstr,
                              size_t errstr_size)
{
    avro_value_t val, resolved;
    int has_resolved = 0;
    drv_err_t ret = DRV_ERR_INVALID;
    avro_reader_t r = avro_reader_memory(data, (int64_t)len);
    avro_generic_value_new(e->writer_iface ? e->writer_iface : e->reader->iface,
                           &val);
    avro_value_t *target = &val;
    if (e->resolver) {
        avro_resolved_writer_new_value(e->resolver, &resolved);
        avro_resolved_writer_set_dest(&resolved, &val);
        target = &resolved;
        has_resolved = 1;
    }
    if (avro_value_read(r, target) != 0) {
        drv_errstr_set(errstr, errstr_size, "malformed %s message: %s",
                       e->short_name, avro_strerror());
        goto out;
    }
    decode_ctx_t ctx = {0};
    *obj_out = to_json(&val, &ctx);
    if (ctx.bad) {
        drv_errstr_set(errstr, errstr_size, "unusable %s message: %s",
                       e->short_name, ctx.why);
        json_decref(*obj_out);
        *obj_out = NULL;
        goto out;
    }
    if (e->writer_iface) {
        project(*obj_out, e->reader->schema);
    }
    ret = DRV_OK;
out:
    if (has_resolved) {
        avro_value_decref(&resolved);
    }
    avro_value_decref(&val);
    avro_reader_free(r);
    return ret;
}

/* The entry for a registry schema id: known, or fetched and added.
 * @locks codec->lock held. */
static entry_t *registry_entry(drv_codec_t *codec, int64_t id, char *errstr,
                               size_t errstr_size)
{
    for (size_t i = 0; i < codec->cnt; i++) {
        if (codec->entries[i].registry_id == id) {
            return &codec->entries[i];
        }
    }
    if (!codec->registry) {
        drv_errstr_set(errstr, errstr_size,
                       "a Confluent wire format message (schema id %lld) but "
                       "no schema.registry.url is configured",
                       (long long)id);
        return NULL;
    }
    char inner[DRV_ERRSTR_SIZE];
    char *text = drv_registry_fetch(codec->registry, id, inner,
                                    sizeof(inner));
    entry_t *e = text ? add_writer(codec, text, inner, sizeof(inner)) : NULL;
    free(text);
    if (!e) {
        drv_errstr_set(errstr, errstr_size, "schema id %lld: %s",
                       (long long)id, inner);
        return NULL;
    }
    e->registry_id = id;
    return e;
}

drv_err_t drv_codec_decode(drv_codec_t *codec, const void *buf, size_t len,
                           const char **name_out, json_t **obj_out,
                           char *errstr, size_t errstr_size)
{
    const unsigned char *p = buf;
    bool confluent = len >= 5 && p[0] == 0x00;
    if (!confluent && (len < 10 || p[0] != 0xC3 || p[1] != 0x01)) {
        drv_errstr_set(errstr, errstr_size,
                       "not an Avro single-object message (%zu bytes, no "
                       "C3 01 header) nor the Confluent wire format",
                       len);
        return DRV_ERR_INVALID;
    }
    if (len > DRV_CODEC_MAX_MESSAGE) {
        drv_errstr_set(errstr, errstr_size,
                       "message of %zu bytes exceeds the limit of %d", len,
                       DRV_CODEC_MAX_MESSAGE);
        return DRV_ERR_INVALID;
    }
    size_t hdr = confluent ? 5 : 10;
    pthread_mutex_lock(&codec->lock);
    entry_t *e;
    if (confluent) {
        int64_t id = (int64_t)p[1] << 24 | (int64_t)p[2] << 16 |
                     (int64_t)p[3] << 8 | p[4];
        e = registry_entry(codec, id, errstr, errstr_size);
    } else {
        uint64_t fp = 0;
        for (int i = 0; i < 8; i++) {
            fp |= (uint64_t)p[2 + i] << (8 * i);
        }
        e = find_fp(codec, fp);
        if (!e) {
            drv_errstr_set(errstr, errstr_size,
                           "unknown schema fingerprint %016llx",
                           (unsigned long long)fp);
        }
    }
    drv_err_t r = DRV_ERR_INVALID;
    if (e) {
        /* a message cannot need much more memory than its size; what Avro
         * C leaks on bad input is freed by the guard */
        drv__avro_guard_begin(DECODE_BUDGET_BASE + len * 64);
        r = decode_entry(e, p + hdr, len - hdr, obj_out, errstr, errstr_size);
        drv__avro_guard_end();
        if (r == DRV_OK && name_out) {
            *name_out = e->reader->short_name;
        }
    }
    pthread_mutex_unlock(&codec->lock);
    return r;
}
