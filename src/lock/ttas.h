/* SPDX-License-Identifier: MIT */
/*
 * The test-and-test-and-set lock word, shared by its ops table (ttas.c) and
 * by the area lock's inline fast path (internal.h): the default lock kind is
 * taken and released without an indirect call when nobody holds it.
 */
#ifndef IOTLB_LOCK_TTAS_H
#define IOTLB_LOCK_TTAS_H

#include <stdbool.h>
#include <stdint.h>

struct iotlb__ttas {
	uint32_t held;
};

/* One attempt: read first, so that a held lock costs no exclusive line. */
static inline bool iotlb__ttas_try(void *lock)
{
	struct iotlb__ttas *t = lock;

	return !__atomic_load_n(&t->held, __ATOMIC_RELAXED) &&
	       !__atomic_exchange_n(&t->held, 1, __ATOMIC_ACQUIRE);
}

static inline void iotlb__ttas_release(void *lock)
{
	struct iotlb__ttas *t = lock;

	__atomic_store_n(&t->held, 0, __ATOMIC_RELEASE);
}

#endif /* IOTLB_LOCK_TTAS_H */
