/* SPDX-License-Identifier: Apache-2.0 */
/* The daemons' shared command line: see drover/daemon.h. */
#include "drover/daemon.h"

#include <getopt.h>
#include <string.h>

#include "drover/conf.h"

int drv_daemon_parse(int argc, char **argv, const char *prog,
                     const char *version, void (*usage)(FILE *),
                     bool allow_migrate, drv_daemon_opts_t *opts)
{
    static const struct option longopts[] = {
        {"config", required_argument, 0, 'c'},
        {"set", required_argument, 0, 's'},
        {"migrate", no_argument, 0, 'm'},
        {"worker-key", required_argument, 0, 'k'},
        {"help-config", no_argument, 0, 'H'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
    int c;
    memset(opts, 0, sizeof(*opts));
    while ((c = getopt_long(argc, argv, "c:s:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            opts->config = optarg;
            break;
        case 's':
            if (opts->nsets == DRV_DAEMON_MAX_SETS) {
                fprintf(stderr, "%s: at most %d --set options\n", prog,
                        DRV_DAEMON_MAX_SETS);
                return 2;
            }
            opts->sets[opts->nsets++] = optarg;
            break;
        case 'm':
            if (!allow_migrate) {
                usage(stderr);
                return 2;
            }
            opts->migrate = true;
            break;
        case 'k':
            if (!allow_migrate) {
                usage(stderr);
                return 2;
            }
            opts->worker_key = optarg;
            break;
        case 'H':
            drv_conf_print_help(stdout);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("%s %s\n", prog, version);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument \"%s\"\n", prog,
                argv[optind]);
        return 2;
    }
    return -1;
}
