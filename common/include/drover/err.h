/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error reporting shared by every Drover module.
 *
 * Functions that can fail return 0/-1 or a drv_err_t (0 = OK) and take
 * `char *errstr, size_t errstr_size` as their last two parameters. The
 * buffer is written only on failure, always NUL-terminated; NULL, 0 means
 * no detail wanted. Messages are lower-case, name the object and the
 * reason, and carry no trailing period (PostgreSQL's message style).
 *
 * Thread safety: every function here is safe from any thread.
 */
#ifndef DRV_ERR_H
#define DRV_ERR_H

#include <stddef.h>

#define DRV_ERRSTR_SIZE 512

/** Error classes: callers decide from these whether to retry. */
typedef enum drv_err {
    DRV_OK = 0,
    DRV_ERR_TRANSIENT = 1, /**< retry later: broker or database unreachable */
    DRV_ERR_FATAL = 2,     /**< give up: misconfiguration, corrupt state */
    DRV_ERR_INVALID = 3,   /**< the input is wrong; retrying will not help */
    DRV_ERR_NOTFOUND = 4,  /**< the named object does not exist */
    DRV_ERR_EXISTS = 5,    /**< an object of that name exists already */
} drv_err_t;

/**
 * @brief Format a message into errstr (truncating), if errstr is not NULL.
 */
void drv_errstr_set(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** @brief A stable lower-case name for an error class ("transient"...). */
const char *drv_err_name(drv_err_t err);

#endif
