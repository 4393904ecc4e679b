/* SPDX-License-Identifier: MIT */
/*
 * IOTLB_LOCK_TTAS: test-and-test-and-set with bounded exponential backoff.
 * Waiters read the word until it looks free and only then try the atomic
 * exchange; after a lost race they back off for a doubling, capped delay.
 */
#include "ttas.h"
#include "../internal.h"
#include "wait.h"

/* Longest backoff, in pause steps; past it a waiter yields instead. */
#define TTAS_BACKOFF_MAX 1024u

static int ttas_init(void *lock)
{
	struct iotlb__ttas *t = lock;

	t->held = 0;
	return 0;
}

static void ttas_destroy(void *lock)
{
	(void)lock;
}

static void ttas_backoff(unsigned *delay)
{
	unsigned i;

	if (*delay > TTAS_BACKOFF_MAX) {
		sched_yield();
		return;
	}
	for (i = 0; i < *delay; i++)
		iotlb__cpu_relax();
	*delay *= 2;
}

static void ttas_lock(void *lock, void *ctx)
{
	struct iotlb__ttas *t = lock;
	unsigned delay = 1;
	unsigned steps = 0;

	(void)ctx;
	for (;;) {
		/* Wait on the cached copy: every exchange takes the line away
		 * from the holder, so only a free-looking lock is worth one. */
		while (__atomic_load_n(&t->held, __ATOMIC_RELAXED))
			iotlb__spin_step(&steps);
		if (!__atomic_exchange_n(&t->held, 1, __ATOMIC_ACQUIRE))
			return;
		/* Another waiter won the race: let the crowd thin out. */
		ttas_backoff(&delay);
	}
}

static void ttas_unlock(void *lock, void *ctx)
{
	(void)ctx;
	iotlb__ttas_release(lock);
}

static bool ttas_trylock(void *lock, void *ctx)
{
	(void)ctx;
	return iotlb__ttas_try(lock);
}

const struct iotlb_lock_ops iotlb__lock_ttas = {
	.struct_size = sizeof(struct iotlb_lock_ops),
	.name = "ttas",
	.lock_size = sizeof(struct iotlb__ttas),
	.lock_align = _Alignof(struct iotlb__ttas),
	.ctx_size = 0,
	.init = ttas_init,
	.destroy = ttas_destroy,
	.lock = ttas_lock,
	.unlock = ttas_unlock,
	.trylock = ttas_trylock,
};
