/* SPDX-License-Identifier: MIT */
/*
 * The RCU flavour behind the pool lists: liburcu's "bulletproof" flavour, so
 * callers' threads need no registration and may come and go freely. The
 * rest of the library sees only these wrappers.
 */
#include <string.h>
#include <urcu/urcu-bp.h>

#include "internal.h"

/*
 * ThreadSanitizer cannot see liburcu's grace periods (the library is not
 * instrumented): tell it that every read-side section happens before the
 * deferred callbacks that follow it, a call_rcu() before its callback, and
 * every callback before the return of the barrier that waits for it.
 */
#if defined(__SANITIZE_THREAD__)
#define IOTLB_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IOTLB_TSAN 1
#endif
#endif
#ifdef IOTLB_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
static char grace_period, callbacks_done;
#define TSAN_RELEASE(addr) __tsan_release(addr)
#define TSAN_ACQUIRE(addr) __tsan_acquire(addr)
#else
#define TSAN_RELEASE(addr) ((void)0)
#define TSAN_ACQUIRE(addr) ((void)0)
#endif

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
	TSAN_RELEASE(&grace_period);
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

	TSAN_ACQUIRE(head);
	TSAN_ACQUIRE(&grace_period);
	memcpy(&fn, &pool->rcu.opaque[FN_SLOT], sizeof(fn));
	fn(pool);
	TSAN_RELEASE(&callbacks_done);
}

void iotlb__after_grace_period(struct iotlb__pool *pool, void (*fn)(struct iotlb__pool *pool))
{
	memcpy(&pool->rcu.opaque[FN_SLOT], &fn, sizeof(fn));
	TSAN_RELEASE(&pool->rcu);
	urcu_bp_call_rcu((struct rcu_head *)(void *)&pool->rcu, run_deferred);
}

void iotlb__grace_period_barrier(void)
{
	urcu_bp_barrier();
	TSAN_ACQUIRE(&callbacks_done);
}
