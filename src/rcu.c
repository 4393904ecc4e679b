/* SPDX-License-Identifier: MIT */
/*
 * The RCU flavour behind the pool lists: liburcu's "bulletproof" flavour, so
 * callers' threads need no registration and may come and go freely. The
 * rest of the library sees only these wrappers.
 */
#include <string.h>
#include <urcu/urcu-bp.h>

#include "internal.h"

/* pool->rcu holds a struct rcu_head followed by the function to call. */
#define FN_SLOT 3
_Static_assert(sizeof(struct rcu_head) <= FN_SLOT * sizeof(void *),
	       "struct iotlb__rcu_node must hold a struct rcu_head and a function");

void iotlb__read_lock(void)
{
	urcu_bp_read_lock();
}

void iotlb__read_unlock(void)
{
	urcu_bp_read_unlock();
}

void iotlb__synchronize(void)
{
	urcu_bp_synchronize_rcu();
}

static void run_deferred(struct rcu_head *head)
{
	struct iotlb__pool *pool =
		(struct iotlb__pool *)(void *)((char *)head - offsetof(struct iotlb__pool, rcu));
	void (*fn)(struct iotlb__pool *);

	memcpy(&fn, &pool->rcu.opaque[FN_SLOT], sizeof(fn));
	fn(pool);
}

void iotlb__after_grace_period(struct iotlb__pool *pool, void (*fn)(struct iotlb__pool *pool))
{
	memcpy(&pool->rcu.opaque[FN_SLOT], &fn, sizeof(fn));
	urcu_bp_call_rcu((struct rcu_head *)(void *)&pool->rcu, run_deferred);
}

void iotlb__grace_period_barrier(void)
{
	urcu_bp_barrier();
}
