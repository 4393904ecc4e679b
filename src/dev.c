/* SPDX-License-Identifier: MIT */
/*
 * Devices: their DMA constraints (masks), the domain they map from, and the
 * address queries that do not allocate.
 */
#include <stdlib.h>
#include <string.h>

#define URCU_INLINE_SMALL_FUNCTIONS
#include <urcu/pointer.h>

#include "internal.h"
#include "wait.h"

static int check_masks(const struct iotlb_mem *mem, struct iotlb_dev_config *c)
{
	if (!c->seg_boundary_mask)
		c->seg_boundary_mask = UINT64_MAX;
	if (!iotlb__is_mask(c->min_align_mask) || !iotlb__is_mask(c->alloc_align_mask) ||
	    !iotlb__is_mask(c->seg_boundary_mask))
		return -EINVAL;
	if (c->seg_boundary_mask < mem->p.slot_size - 1)
		return -EINVAL;
	/* Alignment is judged on the boundary-masked address (docs/algorithm.md#map-guarantees):
	 * a smaller boundary mask would silently break the guarantees. */
	if (c->seg_boundary_mask < c->min_align_mask || c->seg_boundary_mask < c->alloc_align_mask)
		return -EINVAL;
	/* libiotlb: every map pads to alloc_align_mask + 1 bytes; beyond a
	 * segment no map could ever be served (each would be -E2BIG). */
	if (c->alloc_align_mask >> mem->p.slot_shift >= mem->p.segment_slots)
		return -EINVAL;
	return 0;
}

int iotlb_dev_create(struct iotlb_mem *mem, const struct iotlb_dev_config *cfg,
		     struct iotlb_dev **out)
{
	struct iotlb_dev_config c;
	struct iotlb_dev *dev;
	int err;

	if (!mem || !cfg || !out)
		return -EINVAL;
	err = iotlb__copy_versioned(&c, sizeof(c), cfg);
	if (err)
		return err;
	err = check_masks(mem, &c);
	if (err)
		return err;
	dev = iotlb__zalloc(IOTLB__CACHELINE, 1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->mem = mem;
	dev->domain = &mem->shared;
	dev->min_align_mask = c.min_align_mask;
	dev->alloc_align_mask = c.alloc_align_mask;
	dev->seg_boundary_mask = c.seg_boundary_mask;
	iotlb__map_shapes_init(&mem->p, dev->min_align_mask, dev->alloc_align_mask,
			       dev->seg_boundary_mask, dev->map_shape);
	dev->nqueues = c.nqueues ? c.nqueues : 1;
	dev->wait_timeout_ns = c.wait_timeout_ns;
	iotlb__waitq_init(&dev->private_domain.wq);
	dev->id = __atomic_fetch_add(&mem->next_dev_id, 1, __ATOMIC_RELAXED);
	if (c.private_size) {
		err = iotlb__private_create(dev, c.private_size, dev->nqueues);
		if (err) {
			iotlb__waitq_destroy(&dev->private_domain.wq);
			iotlb__free(dev);
			return err;
		}
	}
	IOTLB__ADD(&mem->ndevs, 1);
	*out = dev;
	return 0;
}

/* Does any pool `dev` maps from hold one of its allocations? A scan of the
 * slot owners, so that no map or unmap pays for a per-device counter. Other
 * devices' calls may run meanwhile: they never write this device's id. */
static bool has_live(const struct iotlb_dev *dev)
{
	const struct iotlb__domain *d = dev->domain;
	const struct iotlb__pool *pool;
	bool live = false;

	if (d != &dev->mem->shared)
		return iotlb__pool_used(d->pools) != 0;
	for (pool = rcu_dereference(d->pools); pool && !live; pool = rcu_dereference(pool->next))
		for (uint64_t i = 0; i < pool->nslots && !live; i++)
			live = IOTLB__LOAD(&pool->slots[i].owner) == dev->id;
	iotlb__read_lock();
	for (pool = rcu_dereference(d->transient); pool && !live;
	     pool = rcu_dereference(pool->next))
		for (uint64_t i = 0; i < pool->nslots && !live; i++)
			live = IOTLB__LOAD(&pool->slots[i].owner) == dev->id;
	iotlb__read_unlock();
	return live;
}

int iotlb_dev_destroy(struct iotlb_dev *dev)
{
	if (!dev)
		return -EINVAL;
	if (has_live(dev))
		return -EBUSY;
	iotlb__wait_dev_gone(dev);
	if (dev->domain != &dev->mem->shared) {
		iotlb__private_destroy(dev);
		/* The blocks are back in the shared pools: wake their waiters (wait.c). */
		iotlb__wait_room_freed(&dev->mem->shared);
	}
	iotlb__waitq_destroy(&dev->private_domain.wq);
	__atomic_fetch_sub(&dev->mem->ndevs, 1, __ATOMIC_RELAXED);
	iotlb__free(dev);
	return 0;
}

size_t iotlb_max_mapping_size(const struct iotlb_dev *dev)
{
	const struct iotlb_mem_params *p;
	uint64_t reserve;

	if (!dev)
		return 0;
	p = &dev->mem->p;
	/* Worst case over all originals (docs/algorithm.md#max-mapping): a segment less the slots
	 * min_align_mask may pad, counted in slots so that a mask of all ones cannot wrap. */
	reserve = (dev->min_align_mask >> p->slot_shift) +
		  ((dev->min_align_mask & (p->slot_size - 1)) != 0);
	if (reserve >= p->segment_slots)
		return 0;
	return (size_t)((p->segment_slots - reserve) << p->slot_shift);
}

void *iotlb_dma_to_virt(const struct iotlb_dev *dev, uint64_t dma)
{
	struct iotlb__pool *pool;
	void *va = NULL;

	if (!dev)
		return NULL;
	pool = iotlb__domain_lookup(dev->domain, dma);
	if (pool)
		return pool->vaddr + (dma - pool->dma_addr);
	iotlb__read_lock();
	pool = iotlb__domain_lookup_transient(dev->domain, dma);
	if (pool)
		va = pool->vaddr + (dma - pool->dma_addr);
	iotlb__read_unlock();
	return va;
}

bool iotlb_is_bounce(const struct iotlb_dev *dev, uint64_t dma)
{
	return iotlb_dma_to_virt(dev, dma) != NULL;
}
