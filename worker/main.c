/* SPDX-License-Identifier: Apache-2.0 */
/* drover-worker: argv -> conf -> worker loop -> exit code. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "drover/daemon.h"
#include "drover/docker.h"
#include "worker.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *fp)
{
    fputs("usage: drover-worker [--config FILE] [--set KEY=VALUE]...\n"
          "\n"
          "Runs the jobs of one compute environment as containers through\n"
          "the Docker Engine API (docker.socket). Start as many as you like:\n"
          "they share the environment's run topic in one consumer group.\n"
          "SIGTERM stops taking jobs and waits for running ones.\n"
          "\n"
          "  -c, --config FILE   configuration file (default: $DROVER_CONFIG)\n"
          "  -s, --set K=V       set one configuration key\n"
          "      --help-config   list every configuration key\n"
          "  -h, --help          this help\n"
          "  -V, --version       print the version\n",
          fp);
}

int main(int argc, char **argv)
{
    char e[DRV_ERRSTR_SIZE];
    drv_daemon_opts_t o;
    int rc = drv_daemon_parse(argc, argv, "drover-worker", DRV_VERSION, usage, false,
                              &o);
    if (rc >= 0) {
        return rc;
    }
    drv_conf_t *conf = drv_conf_load_sets(o.config, o.sets, o.nsets, e,
                                         sizeof(e));
    if (!conf) {
        fprintf(stderr, "drover-worker: %s\n", e);
        return 2;
    }
    drv_log_t *log = drv_log_from_conf("worker", conf);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    drv_docker_global_init();
    rc = 0;
    drv_wrk_t *wrk = drv_wrk_new(conf, log, e, sizeof(e));
    if (!wrk || drv_wrk_run(wrk, &stop, e, sizeof(e)) != 0) {
        fprintf(stderr, "drover-worker: %s\n", e);
        rc = 1;
    }
    drv_wrk_destroy(wrk);
    drv_docker_global_cleanup();
    drv_log_destroy(log);
    drv_conf_destroy(conf);
    return rc;
}
