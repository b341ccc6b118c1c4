/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command line every Drover daemon shares: -c/--config FILE,
 * -s/--set KEY=VALUE (repeatable), --help-config, -h/--help,
 * -V/--version, and --migrate and --worker-key where the daemon offers them
 * (the dispatcher).
 * Thread safety: @thread main only (getopt).
 */
#ifndef DRV_DAEMON_H
#define DRV_DAEMON_H

#include <stdbool.h>
#include <stdio.h>

#define DRV_DAEMON_MAX_SETS 64

typedef struct drv_daemon_opts {
    const char *config;                    /**< borrowed from argv; nullable */
    char *sets[DRV_DAEMON_MAX_SETS];       /**< borrowed from argv */
    int nsets;
    bool migrate;
    const char *worker_key; /**< --worker-key CE/ID (the dispatcher's) */
} drv_daemon_opts_t;

/**
 * @brief Parse the shared options into opts.
 * @param usage prints the daemon's help.
 * @returns -1 to go on running, or the exit status to return at once
 *          (0 after --help/--version, 2 for a usage error).
 */
int drv_daemon_parse(int argc, char **argv, const char *prog,
                     const char *version, void (*usage)(FILE *),
                     bool allow_migrate, drv_daemon_opts_t *opts);

#endif
