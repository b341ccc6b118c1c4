/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command-line arguments in the style of `aws batch`: each verb's flags map
 * onto fields of the AWS request JSON. A value may be JSON, file://PATH
 * (JSON read from a file), or AWS CLI shorthand: `k=v,k2=v2` for a
 * structure or map, and several space-separated values for a list.
 * Thread safety: none needed (CLI only).
 */
#ifndef DRV_CLI_ARGS_H
#define DRV_CLI_ARGS_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

typedef enum drv_cli_kind {
    DRV_ARG_STR,
    DRV_ARG_INT,
    DRV_ARG_LONG,       /* a Long member: 64 bits */
    DRV_ARG_BOOL,
    DRV_ARG_STRLIST,    /* --jobs a b c */
    DRV_ARG_STRUCT,     /* --timeout attemptDurationSeconds=60 | JSON */
    DRV_ARG_STRUCTLIST, /* --depends-on jobId=a jobId=b | JSON */
    DRV_ARG_MAP,        /* --parameters k=v,k2=v2 | JSON */
} drv_cli_kind_t;

typedef struct drv_cli_arg {
    const char *flag;  /* without the leading "--" */
    const char *field; /* the request member it sets */
    drv_cli_kind_t kind;
} drv_cli_arg_t;

typedef struct drv_cli_verb {
    const char *verb;
    const char *op;
    const char *summary;
    drv_cli_arg_t args[16];
} drv_cli_verb_t;

extern const drv_cli_verb_t drv_cli_verbs[];

/** @brief The verb named `name`, or NULL. */
const drv_cli_verb_t *drv_cli_find(const char *name);

/**
 * @brief Parse a verb's arguments into req (which --cli-input-json may
 * already have filled; flags win).
 * @returns 0, or -1 with errstr naming the flag.
 */
int drv_cli_parse(const drv_cli_verb_t *verb, int argc,
                  const char *const *argv,
                  json_t *req, char *errstr, size_t errstr_size);

/** @brief Load --cli-input-json's value: file://PATH, "-" (stdin) or JSON. */
json_t *drv_cli_input_json(const char *value, char *errstr,
                           size_t errstr_size);

void drv_cli_print_verbs(FILE *fp);
void drv_cli_print_verb_help(const drv_cli_verb_t *verb, FILE *fp);

#endif
