/* SPDX-License-Identifier: MIT */
/*
 * Reference model of the pool list (docs/algorithm.md#pool-list, no growth):
 * adding a caller's region as one more shared pool, and finding the pool
 * that owns an address. The search across pools lives in model.c.
 */
#include "model_internal.h"

#include <errno.h>

static uint64_t pool_bytes(const struct model *m, const struct model_pool *pool)
{
	return pool->nslots * m->slot_size;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Is [vaddr, +size) or [dma, +size) inside or across a shared pool's range? */
static bool overlaps_a_pool(const struct model *m, uint64_t vaddr, uint64_t dma, uint64_t size)
{
	unsigned k;

	for (k = 0; k < m->shared.npools; k++) {
		const struct model_pool *pool = m->shared.pools[k];
		uint64_t bytes = pool_bytes(m, pool);

		if (overlaps(pool->vaddr, bytes, vaddr, size) ||
		    overlaps(pool->dma_addr, bytes, dma, size))
			return true;
	}
	return false;
}

int model_add_pool(struct model *m, uint64_t vaddr, uint64_t dma_addr, uint64_t size)
{
	struct model_pool *pool;

	/* a region as iotlb_mem_config describes one: page aligned, whole slots */
	if (vaddr == 0 || size < m->slot_size || size % m->slot_size != 0)
		return -EINVAL;
	if (vaddr % m->p.page_size != 0 || dma_addr % m->p.page_size != 0)
		return -EINVAL;
	if (vaddr + size < vaddr || dma_addr + size < dma_addr)
		return -EINVAL;
	/* iotlb_mem_add_pool: a pool overlapping an existing pool's CPU or device range */
	if (overlaps_a_pool(m, vaddr, dma_addr, size))
		return -EINVAL;
	/* the mem's requested area count, limited to this pool (section 3) */
	pool = model__pool_new(m, vaddr, dma_addr, size / m->slot_size, m->p.nareas_req);
	if (!pool)
		return -ENOMEM;
	model__domain_add(&m->shared, pool);
	return 0;
}

struct model_pool *model_domain_find_pool(const struct model *m, const struct model_domain *dom,
					  uint64_t dma)
{
	unsigned k;

	for (k = 0; k < dom->npools; k++) {
		struct model_pool *pool = dom->pools[k];

		if (dma >= pool->dma_addr && dma - pool->dma_addr < pool_bytes(m, pool))
			return pool;
	}
	return NULL;
}
