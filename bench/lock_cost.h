/* SPDX-License-Identifier: MIT */
/*
 * Raw cost of the library's lock kinds, taken through the same ops table the
 * areas use (so it needs the static library and src/internal.h): one lock
 * guarding one counter, locked and unlocked by any number of threads.
 */
#ifndef IOTLB_BENCH_LOCK_COST_H
#define IOTLB_BENCH_LOCK_COST_H

#include <stdint.h>

#include <iotlb/iotlb.h>

#ifdef __cplusplus
extern "C" {
#endif

struct lc_lock;

/* NULL when the kind has no built-in table or its init fails. */
struct lc_lock *lc_create(enum iotlb_lock_kind kind);
void lc_destroy(struct lc_lock *l);
/* One lock + increment of the guarded counter + unlock. */
void lc_cycle(struct lc_lock *l);
/* The guarded counter: every lc_cycle so far, if the lock excludes. */
uint64_t lc_count(const struct lc_lock *l);
/* Name of the kind IOTLB_LOCK_DEFAULT stands for in this build. */
const char *lc_default_name(void);

#ifdef __cplusplus
}
#endif

#endif /* IOTLB_BENCH_LOCK_COST_H */
