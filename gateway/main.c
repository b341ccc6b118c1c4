/* SPDX-License-Identifier: Apache-2.0 */
/* drover-gateway: see gateway.h. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "drover/daemon.h"
#include "drover/docker.h"
#include "gateway.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *fp)
{
    fputs("usage: drover-gateway [--config FILE] [--set KEY=VALUE]...\n"
          "\n"
          "Serves AWS Batch's REST-JSON API on gateway.listen, so boto3 and\n"
          "the aws CLI drive Drover: aws --endpoint-url http://HOST:PORT\n"
          "batch submit-job ... Requests must be signed (SigV4, service\n"
          "batch) with a key in gateway.access.keys unless gateway.auth is\n"
          "false.\n\n"
          "      --config FILE   configuration file (else $DROVER_CONFIG)\n"
          "      --set K=V       override one key\n"
          "      --help-config   list every configuration key\n"
          "  -h, --help          this help\n"
          "  -V, --version       print the version\n",
          fp);
}

int main(int argc, char **argv)
{
    char e[DRV_ERRSTR_SIZE];
    drv_daemon_opts_t o;
    int rc = drv_daemon_parse(argc, argv, "drover-gateway", DRV_VERSION,
                              usage, false, &o);
    if (rc >= 0) {
        return rc;
    }
    drv_conf_t *conf = drv_conf_load_sets(o.config, o.sets, o.nsets, e,
                                         sizeof(e));
    if (!conf) {
        fprintf(stderr, "drover-gateway: %s\n", e);
        return 2;
    }
    drv_log_t *log = drv_log_from_conf("gateway", conf);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    drv_docker_global_init(); /* curl, once */
    drv_gw_t *gw = drv_gw_start(conf, log, e, sizeof(e));
    if (!gw) {
        fprintf(stderr, "drover-gateway: %s\n", e);
        rc = 1;
    } else {
        drv_log(log, DRV_LOG_INFO, "gateway.started", NULL,
                "serving the AWS Batch API on %s",
                drv_conf_get(conf, "gateway.listen"));
        while (!stop) {
            usleep(200 * 1000);
        }
        drv_gw_stop(gw);
        rc = 0;
    }
    drv_docker_global_cleanup();
    drv_log_destroy(log);
    drv_conf_destroy(conf);
    return rc;
}
