/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI verbs that are not AWS requests: watch, wait, logs (stream.c).
 * Each takes the arguments after the verb; returns the exit status. */
#ifndef DRV_CLI_STREAM_H
#define DRV_CLI_STREAM_H

#include "drover/conf.h"

int drv_cli_watch(const drv_conf_t *conf, int argc, char **argv);
int drv_cli_wait(const drv_conf_t *conf, int argc, char **argv);
int drv_cli_logs(const drv_conf_t *conf, int argc, char **argv);

#endif
