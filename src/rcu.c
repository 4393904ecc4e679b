/* SPDX-License-Identifier: MIT */
/*
 * The RCU flavour behind the pool lists: liburcu's "bulletproof" flavour, so
 * callers' threads need no registration and may come and go freely. Only
 * transient pools need it: every other pool lives as long as its domain.
 */
/*
 * Not _LGPL_SOURCE: only transient pools take the read side (every other
 * pool lives as long as its domain), so no map or unmap of a pool that
 * cannot grow pays for it; and liburcu 0.13's inlined reader trips UBSan's
 * alignment check on liburcu's own registry.
 */
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

void iotlb__read_lock(void)
{
	urcu_bp_read_lock();
}

void iotlb__read_unlock(void)
{
	TSAN_RELEASE(&grace_period);
	urcu_bp_read_unlock();
}

static void run_deferred(struct rcu_head *head)
{
	struct iotlb__pool *pool = caa_container_of(head, struct iotlb__pool, rcu);

	TSAN_ACQUIRE(head);
	TSAN_ACQUIRE(&grace_period);
	pool->deferred(pool);
	TSAN_RELEASE(&callbacks_done);
}

void iotlb__after_grace_period(struct iotlb__pool *pool, void (*fn)(struct iotlb__pool *pool))
{
	pool->deferred = fn;
	TSAN_RELEASE(&pool->rcu);
	urcu_bp_call_rcu(&pool->rcu, run_deferred);
}

void iotlb__grace_period_barrier(void)
{
	urcu_bp_barrier();
	TSAN_ACQUIRE(&callbacks_done);
}
