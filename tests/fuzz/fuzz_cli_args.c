/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the drover CLI's argument parser (flags, JSON values
 * and AWS shorthand). The first byte picks the verb; the rest is split on
 * newlines into argv. Values naming a file (file://) are skipped: reading
 * arbitrary paths is not what is being tested.
 */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "drover/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096 || memmem(data, size, "file:", 5)) {
        return 0;
    }
    size_t nverbs = 0;
    while (drv_cli_verbs[nverbs].verb) {
        nverbs++;
    }
    const drv_cli_verb_t *verb = &drv_cli_verbs[data[0] % nverbs];
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    const char *argv[64];
    int argc = 0;
    for (char *sv, *t = strtok_r(text, "\n", &sv); t && argc < 64;
         t = strtok_r(NULL, "\n", &sv)) {
        argv[argc++] = t;
    }
    char e[DRV_ERRSTR_SIZE] = "";
    json_t *req = json_object();
    if (drv_cli_parse(verb, argc, argv, req, e, sizeof(e)) != 0 && !e[0]) {
        abort(); /* refused without saying why */
    }
    json_decref(req);
    free(text);
    return 0;
}
