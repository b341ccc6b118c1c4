/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Array jobs' children. Children are <parent>:0..size-1, born PENDING.
 * Their ordering edges are derived, never stored per child: child i of a
 * SEQUENTIAL array waits for child i-1, and child i of an array with an
 * N_TO_N dependency on array X waits for X:i. The parent is PENDING while
 * its children run and finishes when the last one does.
 */
#ifndef DRV_DISP_ARRAYS_H
#define DRV_DISP_ARRAYS_H

#include "dispatcher_int.h"

/* Create the children of array job `parent` (born PENDING). */
int drv__arrays_spawn(drv_disp_t *disp, const char *parent, int size,
                      char *errstr, size_t errstr_size);
/* The parent's own dependencies are met: let its children go (all at once
 * when nothing orders them, else the first ones). */
int drv__arrays_release(drv_disp_t *disp, const char *parent, char *errstr,
                        size_t errstr_size);
/* Children index[0..n-1] of `parent` finished, `succeeded` of them
 * successfully: count them on the parent in one change (finishing the
 * parent after the last), and let the next SEQUENTIAL sibling of each
 * (unless it is among them) and their N_TO_N counterparts in other arrays
 * move. Sorts `index`. */
int drv__arrays_children_done(drv_disp_t *disp, const char *parent,
                              int *index, size_t n, int64_t succeeded,
                              char *errstr, size_t errstr_size);
/* An array parent failed before its children ran (a dependency failed, or
 * it was cancelled): its waiting children fail with it. */
int drv__arrays_fail_children(drv_disp_t *disp, const char *parent,
                              char *errstr, size_t errstr_size);

#endif
