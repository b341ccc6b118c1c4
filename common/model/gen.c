/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model_gen OUT.c MODEL.json...: the tables of drover/aws_model.h from
 * botocore service models (AWS Batch, and the subset of CloudWatch Logs
 * Drover serves), in one set of tables: their shape and operation names
 * must not collide. Run by the build; its output is not committed.
 * Shapes and operations are written sorted by name (the runtime searches
 * them by bisection); documentation is left out. An operation of a JSON
 * protocol service (Logs) carries its X-Amz-Target, a REST one its HTTP
 * method and path; each carries its service's SigV4 signing name.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const types[] = {
    "structure", "list", "map", "string", "integer", "long",
    "boolean", "double", "float", "timestamp", "blob"};
static const char *const type_enum[] = {
    "DRV_MT_STRUCTURE", "DRV_MT_LIST", "DRV_MT_MAP", "DRV_MT_STRING",
    "DRV_MT_INTEGER", "DRV_MT_LONG", "DRV_MT_BOOLEAN", "DRV_MT_DOUBLE",
    "DRV_MT_FLOAT", "DRV_MT_TIMESTAMP", "DRV_MT_BLOB"};

static const char **names;
static size_t nnames;

static int cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int index_of(const char *name)
{
    const char **hit = bsearch(&name, names, nnames, sizeof(*names), cmp);
    if (!hit) {
        fprintf(stderr, "model_gen: no shape %s\n", name);
        exit(1);
    }
    return (int)(hit - names);
}

static int ref(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(json_object_get(o, key),
                                                      "shape"));
    return s ? index_of(s) : -1;
}

/* A C string literal of s (model names are ASCII identifiers and enum
 * values; anything else is escaped). */
static void lit(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c < 0x20 || c >= 0x7f) {
            fprintf(f, "\\%03o", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

/* Every model's shapes in one object (their names do not collide), and
 * its operations, each noting its service. */
static json_t *merged(int n, char **paths, json_t **ops_out, char *version,
                      size_t version_size)
{
    json_t *shapes = json_object(), *ops = json_object();
    version[0] = '\0';
    for (int m = 0; m < n; m++) {
        json_error_t je;
        json_t *model = json_load_file(paths[m], 0, &je);
        json_t *sh = json_object_get(model, "shapes");
        json_t *op = json_object_get(model, "operations");
        json_t *meta = json_object_get(model, "metadata");
        if (!json_is_object(sh) || !json_is_object(op)) {
            fprintf(stderr, "model_gen: %s: not a service model (%s)\n",
                    paths[m], je.text);
            exit(1);
        }
        const char *k;
        json_t *v;
        json_object_foreach(sh, k, v)
        {
            if (json_object_get(shapes, k)) {
                fprintf(stderr, "model_gen: shape %s is in two models\n", k);
                exit(1);
            }
            json_object_set(shapes, k, v);
        }
        const char *protocol = json_string_value(json_object_get(meta,
                                                                 "protocol"));
        const char *target = json_string_value(json_object_get(meta,
                                                               "targetPrefix"));
        const char *signing = json_string_value(json_object_get(meta,
                                                                "signingName"));
        const char *prefix = json_string_value(json_object_get(meta,
                                                               "endpointPrefix"));
        json_object_foreach(op, k, v)
        {
            if (json_object_get(ops, k)) {
                fprintf(stderr, "model_gen: operation %s is in two models\n",
                        k);
                exit(1);
            }
            json_t *o = json_deep_copy(v);
            json_object_set_new(o, "x-service",
                                json_string(signing ? signing : prefix));
            if (protocol && !strcmp(protocol, "json") && target) {
                char t[256];
                snprintf(t, sizeof(t), "%s.%s", target, k);
                json_object_set_new(o, "x-target", json_string(t));
            }
            json_object_set_new(ops, k, o);
        }
        size_t used = strlen(version);
        snprintf(version + used, version_size - used, "%s%s %s",
                 used ? ", " : "",
                 json_string_value(json_object_get(meta, "uid")), protocol);
        json_decref(model);
    }
    *ops_out = ops;
    return shapes;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: model_gen OUT.c MODEL.json...\n");
        return 2;
    }
    json_t *ops;
    char version[512];
    json_t *shapes = merged(argc - 2, argv + 2, &ops, version,
                            sizeof(version));
    nnames = json_object_size(shapes);
    names = calloc(nnames, sizeof(*names));
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(shapes, k, v) { names[i++] = k; }
    qsort(names, nnames, sizeof(*names), cmp);

    FILE *f = fopen(argv[1], "w");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fprintf(f, "/* generated by common/model/gen.c from %s: do not edit */\n"
               "#include \"drover/aws_model.h\"\n\n",
            version);
    fprintf(f, "const char drv_model_version[] = ");
    lit(f, version);
    fprintf(f, ";\n\n");

    /* members and enum values, in shape order */
    fprintf(f, "const drv_model_member_t drv_model_members[] = {\n");
    int *first = calloc(nnames, sizeof(int)), *count = calloc(nnames,
                                                                sizeof(int));
    int nm = 0;
    for (i = 0; i < nnames; i++) {
        json_t *s = json_object_get(shapes, names[i]);
        json_t *members = json_object_get(s, "members");
        if (!json_is_object(members)) {
            continue;
        }
        first[i] = nm;
        json_t *req = json_object_get(s, "required");
        json_object_foreach(members, k, v)
        {
            bool required = false;
            size_t j;
            json_t *r;
            json_array_foreach(req, j, r)
            {
                required |= !strcmp(json_string_value(r), k);
            }
            const char *loc = json_string_value(json_object_get(v,
                                                                "location"));
            fprintf(f, "    {");
            lit(f, k);
            fprintf(f, ", %d, %s, ", ref(members, k),
                    required ? "true" : "false");
            if (loc) {
                lit(f, loc);
            } else {
                fprintf(f, "NULL");
            }
            fprintf(f, "},\n");
            nm++;
        }
        count[i] = nm - first[i];
    }
    fprintf(f, "    {NULL, -1, false, NULL}\n};\n\n");
    fprintf(f, "const char *const drv_model_enums[] = {\n");
    int ne = 0;
    int *efirst = calloc(nnames, sizeof(int)), *ecount = calloc(nnames,
                                                                 sizeof(int));
    for (i = 0; i < nnames; i++) {
        json_t *e = json_object_get(json_object_get(shapes, names[i]), "enum");
        if (!json_is_array(e)) {
            continue;
        }
        efirst[i] = ne;
        size_t j;
        json_array_foreach(e, j, v)
        {
            fprintf(f, "    ");
            lit(f, json_string_value(v));
            fprintf(f, ",\n");
            ne++;
        }
        ecount[i] = ne - efirst[i];
    }
    fprintf(f, "    NULL\n};\n\n");

    fprintf(f, "const drv_model_shape_t drv_model_shapes[] = {\n");
    for (i = 0; i < nnames; i++) {
        json_t *s = json_object_get(shapes, names[i]);
        const char *type = json_string_value(json_object_get(s, "type"));
        size_t t = 0;
        while (t < sizeof(types) / sizeof(*types) && strcmp(types[t], type)) {
            t++;
        }
        if (t == sizeof(types) / sizeof(*types)) {
            fprintf(stderr, "model_gen: %s: unknown type %s\n", names[i],
                    type);
            return 1;
        }
        json_t *min = json_object_get(s, "min"), *max = json_object_get(s,
                                                                        "max");
        bool is_enum = json_is_array(json_object_get(s, "enum"));
        fprintf(f, "    {");
        lit(f, names[i]);
        fprintf(f, ", %s, %d, %d, %d, %d, %s, %s, %lldLL, %lldLL},\n",
                type_enum[t], is_enum ? efirst[i] : first[i],
                is_enum ? ecount[i] : count[i],
                t == 1 ? ref(s, "member") : t == 2 ? ref(s, "value") : -1,
                t == 2 ? ref(s, "key") : -1, min ? "true" : "false",
                max ? "true" : "false",
                min ? (long long)json_number_value(min) : 0LL,
                max ? (long long)json_number_value(max) : 0LL);
    }
    fprintf(f, "};\nconst size_t drv_model_nshapes = %zu;\n\n", nnames);

    const char **opnames = calloc(json_object_size(ops), sizeof(*opnames));
    size_t nops = 0;
    json_object_foreach(ops, k, v) { opnames[nops++] = k; }
    qsort(opnames, nops, sizeof(*opnames), cmp);
    fprintf(f, "const drv_model_op_t drv_model_ops[] = {\n");
    for (i = 0; i < nops; i++) {
        json_t *o = json_object_get(ops, opnames[i]);
        json_t *http = json_object_get(o, "http");
        fprintf(f, "    {");
        lit(f, opnames[i]);
        fprintf(f, ", ");
        lit(f, json_string_value(json_object_get(http, "method")));
        fprintf(f, ", ");
        lit(f, json_string_value(json_object_get(http, "requestUri")));
        fprintf(f, ", %d, %d, ", ref(o, "input"), ref(o, "output"));
        lit(f, json_string_value(json_object_get(o, "x-service")));
        fprintf(f, ", ");
        const char *target = json_string_value(json_object_get(o, "x-target"));
        if (target) {
            lit(f, target);
        } else {
            fprintf(f, "NULL");
        }
        fprintf(f, "},\n");
    }
    fprintf(f, "};\nconst size_t drv_model_nops = %zu;\n", nops);
    if (fclose(f) != 0) {
        perror(argv[1]);
        return 1;
    }
    free(opnames);
    free(first);
    free(count);
    free(efirst);
    free(ecount);
    free(names);
    json_decref(shapes);
    json_decref(ops);
    return 0;
}
