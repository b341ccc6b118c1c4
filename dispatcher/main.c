/* SPDX-License-Identifier: Apache-2.0 */
/* drover-dispatcher: argv -> conf -> dispatcher loop -> exit code. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "dispatcher.h"
#include "drover/daemon.h"
#include "drover/docker.h"
#include "drover/origin.h"
#include "drover/pg.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *fp)
{
    fputs("usage: drover-dispatcher [--config FILE] [--set KEY=VALUE]... "
          "[--migrate | --worker-key CE/ID]\n"
          "\n"
          "Consumes job submissions and worker status from Kafka, keeps job\n"
          "state in PostgreSQL and releases runnable jobs to workers.\n"
          "\n"
          "  -c, --config FILE   configuration file (default: $DROVER_CONFIG)\n"
          "  -s, --set K=V       set one configuration key\n"
          "      --migrate       apply database migrations and exit\n"
          "      --worker-key CE/ID\n"
          "                      print the signing key (worker.key) of worker\n"
          "                      ID of compute environment CE, derived from\n"
          "                      dispatcher.worker.key.master, and exit\n"
          "      --help-config   list every configuration key\n"
          "  -h, --help          this help\n"
          "  -V, --version       print the version\n",
          fp);
}

static int print_worker_key(const drv_conf_t *conf, const char *ce_id)
{
    char e[DRV_ERRSTR_SIZE], ce[256], hex[DRV_ORIGIN_SIG_HEX_SIZE];
    drv_origin_key_t master, key;
    const char *slash = strchr(ce_id, '/');
    if (!slash || slash == ce_id || !slash[1] ||
        (size_t)(slash - ce_id) >= sizeof(ce) || strlen(slash + 1) > 255) {
        fprintf(stderr, "drover-dispatcher: --worker-key expects "
                        "<compute environment>/<worker id>\n");
        return 2;
    }
    if (drv_origin_key_parse(drv_conf_get(conf, "dispatcher.worker.key.master"),
                             "dispatcher.worker.key.master", &master, e,
                             sizeof(e)) != 0) {
        fprintf(stderr, "drover-dispatcher: %s\n", e);
        return 2;
    }
    snprintf(ce, sizeof(ce), "%.*s", (int)(slash - ce_id), ce_id);
    drv_origin_derive(&master, ce, slash + 1, &key);
    drv_origin_key_hex(&key, hex);
    printf("%s\n", hex);
    return 0;
}

static int migrate_only(const drv_conf_t *conf, drv_log_t *log)
{
    char e[DRV_ERRSTR_SIZE];
    drv_pg_t *pg = drv_pg_connect(drv_conf_get(conf, "pg.conninfo"), log, e,
                                  sizeof(e));
    int n = pg ? drv_pg_migrate(pg, e, sizeof(e)) : -1;
    drv_pg_destroy(pg);
    if (n < 0) {
        fprintf(stderr, "drover-dispatcher: %s\n", e);
        return 1;
    }
    printf("applied %d migration(s)\n", n);
    return 0;
}

int main(int argc, char **argv)
{
    char e[DRV_ERRSTR_SIZE];
    drv_daemon_opts_t o;
    int rc = drv_daemon_parse(argc, argv, "drover-dispatcher", DRV_VERSION,
                              usage, true, &o);
    if (rc >= 0) {
        return rc;
    }
    drv_conf_t *conf = drv_conf_load_sets(o.config, o.sets, o.nsets, e,
                                         sizeof(e));
    if (!conf) {
        fprintf(stderr, "drover-dispatcher: %s\n", e);
        return 2;
    }
    drv_log_t *log = drv_log_from_conf("dispatcher", conf);
    rc = 0;
    if (o.worker_key) {
        rc = print_worker_key(conf, o.worker_key);
    } else if (o.migrate) {
        rc = migrate_only(conf, log);
    } else {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        drv_docker_global_init(); /* the container provisioner's client */
        drv_disp_t *disp = drv_disp_new(conf, log, e, sizeof(e));
        if (!disp || drv_disp_run(disp, &stop, e, sizeof(e)) != 0) {
            drv_log(log, DRV_LOG_ERROR, "dispatcher.fatal", NULL, "%s", e);
            fprintf(stderr, "drover-dispatcher: %s\n", e);
            rc = 1;
        }
        drv_disp_destroy(disp);
        drv_docker_global_cleanup();
    }
    drv_log_destroy(log);
    drv_conf_destroy(conf);
    return rc;
}
