/* SPDX-License-Identifier: MIT */
/*
 * The area lock's slow path: a kind without an inline try, or a lock that
 * was held. Only here is the clock read and the contended acquisition
 * accounted (count, total and longest wait), so an uncontended acquisition
 * pays one counter increment. The inline fast path is src/area_lock.h,
 * which this file does not include (it calls this one).
 */
#include "internal.h"

void iotlb__area_lock_slow(struct iotlb__pool *pool, struct iotlb__area *area, void *ctx,
			   bool tried)
{
	const struct iotlb_lock_ops *ops = pool->lock_ops;
	uint64_t start, waited;

	if (!tried && ops->trylock && ops->trylock(area->lock, ctx)) {
		IOTLB__BUMP(&area->lc.acquisitions, 1);
		return;
	}
	if (!ops->trylock) {
		/* Without a try, contention cannot be told apart: count only. */
		ops->lock(area->lock, ctx);
		IOTLB__BUMP(&area->lc.acquisitions, 1);
		return;
	}
	/* Only a contended acquisition pays for the clock. */
	start = iotlb__now_ns();
	ops->lock(area->lock, ctx);
	waited = iotlb__now_ns() - start;
	IOTLB__BUMP(&area->lc.acquisitions, 1);
	IOTLB__BUMP(&area->lc.contended, 1);
	IOTLB__BUMP(&area->lc.wait_ns, waited);
	if (waited > IOTLB__LOAD(&area->lc.wait_max_ns))
		IOTLB__STORE(&area->lc.wait_max_ns, waited);
}
