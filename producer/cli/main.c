/* SPDX-License-Identifier: Apache-2.0 */
/*
 * drover: the command line, mirroring `aws batch`. argv -> request JSON ->
 * drv_client_call -> the AWS-shaped response on stdout. Errors: one line
 * on stderr; exit 1 for a refused or failed call, 2 for bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "drover/producer.h"
#include "stream.h"

/* Verbs beyond AWS's requests (stream.c). */
static const struct {
    const char *verb, *usage;
    int (*run)(const drv_conf_t *conf, int argc, char **argv);
} extra_verbs[] = {
    {"watch",
     "drover watch [--job-id ID | --job-queue Q] [--status S] "
     "[--from-beginning]\n\nStream job state changes (drover.events) as "
     "JSON lines, one per\nline, until interrupted. --job-id also matches "
     "an array job's children.\n",
     drv_cli_watch},
    {"wait",
     "drover wait --job-id ID|NAME [--timeout SECONDS] [--quiet]\n\nBlock "
     "until the job is SUCCEEDED or FAILED, showing its progress\n(a bar for "
     "array jobs on a terminal, plain lines otherwise). Exit\nstatus 0 if it "
     "SUCCEEDED, 1 if it FAILED, 3 on timeout. A name means\nthe newest job "
     "of that name.\n",
     drv_cli_wait},
    {"logs",
     "drover logs --job-id ID|NAME [--attempt N] [--follow]\n\nPrint an "
     "attempt's output (default: the last attempt). Output is\nkept by the "
     "workers under worker.log.dir (bounded, with a marker\nwhere it was "
     "cut); --follow waits for the job to start and streams\nit from the "
     "container engine while it runs. A name means the newest\njob of that "
     "name.\n",
     drv_cli_logs},
};

static void usage(FILE *fp)
{
    fputs("usage: drover [--config FILE] VERB [flags]\n"
          "\n"
          "Drover's command line; verbs, flags and JSON follow `aws batch`.\n"
          "Every verb takes --cli-input-json file://PATH (or - for stdin)\n"
          "with the request JSON AWS uses. `drover VERB --help` lists its\n"
          "flags. Configuration: --config, else $DROVER_CONFIG, else\n"
          ".stack/drover.conf (the local stack of deploy/local/up, when run\n"
          "from its checkout), then DRV_* variables.\n"
          "\nverbs:\n",
          fp);
    drv_cli_print_verbs(fp);
    fputs("  watch                            stream job state changes\n"
          "  wait                             wait for a job to finish\n"
          "  logs                             print a job attempt's output\n"
          "\n  --help-config                    list configuration keys\n"
          "  --version                        print the version\n",
          fp);
}

static int run_verb(const drv_cli_verb_t *verb, const drv_conf_t *conf,
                    int argc, char **argv)
{
    char e[DRV_ERRSTR_SIZE];
    json_t *req = NULL;
    int rest = 0;
    if (argc >= 2 && !strcmp(argv[0], "--cli-input-json")) {
        if (!(req = drv_cli_input_json(argv[1], e, sizeof(e)))) {
            fprintf(stderr, "drover: %s: %s\n", verb->verb, e);
            return 2;
        }
        rest = 2;
    } else {
        for (int i = 0; i + 1 < argc; i++) {
            if (!strcmp(argv[i], "--cli-input-json")) {
                fprintf(stderr, "drover: %s: give --cli-input-json first\n",
                        verb->verb);
                return 2;
            }
        }
        req = json_object();
    }
    if (!json_is_object(req) ||
        drv_cli_parse(verb, argc - rest, (const char *const *)argv + rest,
                      req, e, sizeof(e))) {
        fprintf(stderr, "drover: %s\n",
                json_is_object(req) ? e : "--cli-input-json: not an object");
        json_decref(req);
        return 2;
    }
    drv_log_t *log = drv_log_new("drover", 2);
    drv_log_set_level(log, DRV_LOG_ERROR);
    drv_client_t *client = drv_client_new(conf, log);
    drv_err_t err;
    json_t *resp = drv_client_call(client, verb->op, req, &err, e, sizeof(e));
    int rc = 0;
    if (resp) {
        char *out = json_dumps(resp, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
        puts(out);
        free(out);
    } else {
        fprintf(stderr, "drover: %s: %s\n", verb->verb, e);
        rc = 1;
    }
    json_decref(resp);
    json_decref(req);
    drv_client_destroy(client);
    drv_log_destroy(log);
    return rc;
}

/* With no --config and no $DROVER_CONFIG, the local stack's file when run
 * from the checkout that started it (its log directory, sockets, ports). */
static const char *default_config(const char *config)
{
    if (config || getenv("DROVER_CONFIG")) {
        return config;
    }
    return access(".stack/drover.conf", R_OK) == 0 ? ".stack/drover.conf"
                                                   : NULL;
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    int i = 1;
    char e[DRV_ERRSTR_SIZE];
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config = argv[++i];
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            printf("drover %s\n", DRV_VERSION);
            return 0;
        } else if (!strcmp(argv[i], "--help-config")) {
            drv_conf_print_help(stdout);
            return 0;
        } else {
            fprintf(stderr, "drover: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc || !strcmp(argv[i], "help")) {
        usage(i >= argc ? stderr : stdout);
        return i >= argc ? 2 : 0;
    }
    for (size_t k = 0; k < sizeof(extra_verbs) / sizeof(extra_verbs[0]);
         k++) {
        if (strcmp(argv[i], extra_verbs[k].verb) != 0) {
            continue;
        }
        for (int a = i + 1; a < argc; a++) {
            if (!strcmp(argv[a], "--help")) {
                printf("usage: %s", extra_verbs[k].usage);
                return 0;
            }
        }
        drv_conf_t *conf = drv_conf_load(default_config(config), e,
                                         sizeof(e));
        if (!conf) {
            fprintf(stderr, "drover: %s\n", e);
            return 2;
        }
        int rc = extra_verbs[k].run(conf, argc - i - 1, argv + i + 1);
        drv_conf_destroy(conf);
        return rc;
    }
    const drv_cli_verb_t *verb = drv_cli_find(argv[i]);
    if (!verb) {
        fprintf(stderr, "drover: unknown verb \"%s\" (drover --help lists "
                        "them)\n",
                argv[i]);
        return 2;
    }
    for (int k = i + 1; k < argc; k++) {
        if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "help")) {
            drv_cli_print_verb_help(verb, stdout);
            return 0;
        }
    }
    drv_conf_t *conf = drv_conf_load(default_config(config), e, sizeof(e));
    if (!conf) {
        fprintf(stderr, "drover: %s\n", e);
        return 2;
    }
    int rc = run_verb(verb, conf, argc - i - 1, argv + i + 1);
    drv_conf_destroy(conf);
    return rc;
}
