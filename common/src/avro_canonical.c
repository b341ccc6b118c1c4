/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsing Canonical Form and the CRC-64-AVRO fingerprint, as the Avro
 * specification ("Schema Fingerprints", "Transforming into Parsing
 * Canonical Form") defines them. Avro C 1.11 has neither.
 */
#include <pthread.h>
#include <string.h>

#include "drover/avro_codec.h"
#include "drover/util.h"

static const char *primitives[] = {"null", "boolean", "int",   "long",
                                   "float", "double", "bytes", "string"};

static int is_primitive(const char *s)
{
    for (size_t i = 0; i < DRV_ARRAY_SIZE(primitives); i++) {
        if (strcmp(s, primitives[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* fullname of `name` given the enclosing namespace (may be NULL/""). */
static json_t *full_name(const char *name, const char *ns)
{
    if (strchr(name, '.') || !ns || !*ns) {
        return json_string(name);
    }
    return json_sprintf("%s.%s", ns, name);
}

static json_t *pcf(json_t *s, const char *ns, char *errstr, size_t size);

static json_t *pcf_named(json_t *s, const char *type, const char *ns,
                         char *errstr, size_t size)
{
    const char *name = json_string_value(json_object_get(s, "name"));
    if (!name) {
        drv_errstr_set(errstr, size, "%s schema has no name", type);
        return NULL;
    }
    const char *own_ns = json_string_value(json_object_get(s, "namespace"));
    json_t *fn = full_name(name, own_ns && *own_ns ? own_ns : ns);
    const char *f = json_string_value(fn);
    const char *dot = strrchr(f, '.');
    char *new_ns = dot ? drv_strdup(f) : drv_strdup("");
    if (dot) {
        new_ns[dot - f] = '\0';
    }
    json_t *out = json_object();
    json_object_set_new(out, "name", fn);
    json_object_set_new(out, "type", json_string(type));
    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0) {
        json_t *fields = json_object_get(s, "fields"), *arr = json_array();
        json_object_set_new(out, "fields", arr);
        size_t i;
        json_t *fld;
        if (!json_is_array(fields)) {
            drv_errstr_set(errstr, size, "record %s has no fields", f);
            goto fail;
        }
        json_array_foreach(fields, i, fld)
        {
            const char *fname = json_string_value(json_object_get(fld, "name"));
            json_t *ft = pcf(json_object_get(fld, "type"), new_ns, errstr, size);
            if (!fname || !ft) {
                if (!fname) {
                    drv_errstr_set(errstr, size, "record %s: field has no name",
                                   f);
                }
                json_decref(ft);
                goto fail;
            }
            json_array_append_new(arr, json_pack("{s:s,s:o}", "name", fname,
                                                 "type", ft));
        }
    } else if (strcmp(type, "enum") == 0) {
        json_object_set(out, "symbols", json_object_get(s, "symbols"));
    } else {
        json_t *sz = json_object_get(s, "size");
        json_int_t n = json_is_integer(sz) ? json_integer_value(sz) : -1;
        if (json_is_string(sz)) {
            int64_t v;
            if (drv_parse_int64(json_string_value(sz), 0, INT64_MAX, &v) == 0) {
                n = v;
            }
        }
        if (n < 0) {
            drv_errstr_set(errstr, size, "fixed %s has no valid size", f);
            goto fail;
        }
        json_object_set_new(out, "size", json_integer(n));
    }
    free(new_ns);
    return out;
fail:
    free(new_ns);
    json_decref(out);
    return NULL;
}

static json_t *pcf(json_t *s, const char *ns, char *errstr, size_t size)
{
    if (json_is_string(s)) {
        const char *t = json_string_value(s);
        return is_primitive(t) ? json_string(t) : full_name(t, ns);
    }
    if (json_is_array(s)) {
        json_t *out = json_array(), *b;
        size_t i;
        json_array_foreach(s, i, b)
        {
            json_t *c = pcf(b, ns, errstr, size);
            if (!c) {
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, c);
        }
        return out;
    }
    if (!json_is_object(s)) {
        drv_errstr_set(errstr, size, "schema is not a string, array or object");
        return NULL;
    }
    json_t *tj = json_object_get(s, "type");
    const char *type = json_string_value(tj);
    if (!type) {
        /* {"type": {...}} or {"type": [...]}: the nested schema */
        return tj ? pcf(tj, ns, errstr, size) : NULL;
    }
    if (is_primitive(type)) {
        return json_string(type);
    }
    if (!strcmp(type, "array") || !strcmp(type, "map")) {
        const char *key = type[0] == 'a' ? "items" : "values";
        json_t *c = pcf(json_object_get(s, key), ns, errstr, size);
        return c ? json_pack("{s:s,s:o}", "type", type, key, c) : NULL;
    }
    if (!strcmp(type, "record") || !strcmp(type, "error") ||
        !strcmp(type, "enum") || !strcmp(type, "fixed")) {
        return pcf_named(s, type, ns, errstr, size);
    }
    return full_name(type, ns);
}

char *drv_avro_canonical_form(const char *schema_json, char *errstr,
                              size_t errstr_size)
{
    json_error_t jerr;
    json_t *s = json_loads(schema_json, JSON_DECODE_ANY, &jerr);
    if (!s) {
        drv_errstr_set(errstr, errstr_size, "schema is not JSON: %s at line %d",
                       jerr.text, jerr.line);
        return NULL;
    }
    json_t *c = pcf(s, "", errstr, errstr_size);
    json_decref(s);
    if (!c) {
        return NULL;
    }
    char *out = json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                  JSON_ENCODE_ANY);
    json_decref(c);
    return out;
}

#define CRC64_EMPTY 0xc15d213aa4d7a795ULL

static uint64_t crc64_table[256];

static void crc64_init(void)
{
    for (uint64_t i = 0; i < 256; i++) {
        uint64_t fp = i;
        for (int j = 0; j < 8; j++) {
            fp = (fp >> 1) ^ (CRC64_EMPTY & -(fp & 1));
        }
        crc64_table[i] = fp;
    }
}

uint64_t drv_avro_fingerprint64(const void *buf, size_t len)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, crc64_init);
    const unsigned char *p = buf;
    uint64_t fp = CRC64_EMPTY;
    for (size_t i = 0; i < len; i++) {
        fp = (fp >> 8) ^ crc64_table[(fp ^ p[i]) & 0xff];
    }
    return fp;
}
