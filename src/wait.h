/* SPDX-License-Identifier: MIT */
/*
 * Waiting for room (wait.c): what the map, unmap and growth paths call. The
 * queue's structures are in internal.h, inside the domain they belong to.
 */
#ifndef IOTLB_SRC_WAIT_H
#define IOTLB_SRC_WAIT_H

#include "internal.h"

struct iotlb__domain;

IOTLB__HIDDEN void iotlb__waitq_init(struct iotlb__waitq *wq);
IOTLB__HIDDEN void iotlb__waitq_destroy(struct iotlb__waitq *wq);
/* Does a blocking request wait already? Then a new one must queue behind it. */
static inline bool iotlb__wait_queued(const struct iotlb__waitq *wq)
{
	return IOTLB__LOAD(&wq->nwaiters) != 0;
}
/*
 * A search of `dev`'s domain found no room (-ENOSPC): with
 * IOTLB_ATTR_MAY_BLOCK wait in line for it, else record the failure for a
 * notify callback. 0 with the slots taken, -ENOSPC, -ETIMEDOUT, or an error
 * of the growth path.
 */
IOTLB__HIDDEN IOTLB__COLD int iotlb__wait_nospace(struct iotlb_dev *dev, unsigned hint,
						  const struct iotlb__search *s,
						  const struct iotlb__req *req, unsigned attrs,
						  struct iotlb__pool **pool_out, uint64_t *slot_out,
						  bool *rcu);
/* Slow half of iotlb__wait_room_freed: wake the head, fire notify callbacks. */
IOTLB__HIDDEN IOTLB__COLD void iotlb__wait_wake(struct iotlb__domain *d);
/* A pool was published (the growth worker's hook, mem->pool_added). */
IOTLB__HIDDEN void iotlb__wait_pool_added(struct iotlb__domain *d);
/* Disarms a device's notify before it goes away. */
IOTLB__HIDDEN void iotlb__wait_dev_gone(struct iotlb_dev *dev);

/*
 * The release hook: called after slots went back to `d` (area lock dropped).
 * Costs one relaxed load of a line nobody writes while nobody waits.
 */
static inline void iotlb__wait_room_freed(struct iotlb__domain *d)
{
	if (__builtin_expect(IOTLB__LOAD(&d->wq.active) != 0, 0))
		iotlb__wait_wake(d);
}

#endif /* IOTLB_SRC_WAIT_H */
