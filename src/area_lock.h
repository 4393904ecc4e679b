/* SPDX-License-Identifier: MIT */
/*
 * Taking and releasing an area's lock on the hot path: inline for the
 * default kind (TTAS) when it is free, through the ops table otherwise
 * (docs/design.md, "What the hot path keeps"). The slow path, with its
 * contention accounting, is src/area_lock.c.
 */
#ifndef IOTLB_SRC_AREA_LOCK_H
#define IOTLB_SRC_AREA_LOCK_H

#include "internal.h"
#include "lock/ttas.h"

static inline void iotlb__area_lock(struct iotlb__pool *pool, struct iotlb__area *area, void *ctx)
{
	if (pool->lock_ttas && iotlb__ttas_try(area->lock)) {
		IOTLB__BUMP(&area->lc.acquisitions, 1);
		return;
	}
	iotlb__area_lock_slow(pool, area, ctx, pool->lock_ttas);
}

static inline void iotlb__area_unlock(struct iotlb__pool *pool, struct iotlb__area *area, void *ctx)
{
	if (pool->lock_ttas)
		iotlb__ttas_release(area->lock);
	else
		pool->lock_ops->unlock(area->lock, ctx);
}

#endif /* IOTLB_SRC_AREA_LOCK_H */
