/* SPDX-License-Identifier: Apache-2.0 */
/* Avro C's allocator with a per-thread budget and leak net for decoding
 * untrusted bytes: see avro_guard.c. Internal to drover_common. */
#ifndef DRV_AVRO_GUARD_H
#define DRV_AVRO_GUARD_H

#include <stddef.h>

/* Make the guard Avro C's allocator (once; before any Avro object). */
void drv__avro_guard_install(void);
/* Start counting this thread's Avro allocations against `budget` bytes. */
void drv__avro_guard_begin(size_t budget);
/* Stop; free what the decode left allocated. Returns how many blocks. */
size_t drv__avro_guard_end(void);

#endif
