/* SPDX-License-Identifier: MIT */
/*
 * Pool lifetime: the metadata of one contiguous region (slot arrays and
 * areas), allocated by the library and never inside the caller's region,
 * which an untrusted host may write at any time.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int iotlb__pool_create(const struct iotlb_mem_params *p, const struct iotlb_lock_ops *ops,
		       void *vaddr, uint64_t dma_addr, uint64_t nslots, unsigned nareas_req,
		       struct iotlb__pool **out)
{
	struct iotlb__pool *pool;
	int err;

	pool = iotlb__zalloc(_Alignof(struct iotlb__pool), 1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->p = p;
	pool->vaddr = vaddr;
	pool->dma_addr = dma_addr;
	pool->nslots = nslots;
	pool->end_dma = dma_addr + (nslots << p->slot_shift);
	/* Line aligned: areas are whole segments, so no two areas share a line. */
	pool->slots = iotlb__zalloc(IOTLB__CACHELINE, nslots, sizeof(*pool->slots));
	if (!pool->slots) {
		err = -ENOMEM;
		goto fail;
	}
	err = iotlb__areas_create(pool, iotlb__nareas_for(nareas_req, nslots, p->segment_slots),
				  ops);
	if (err)
		goto fail;
	*out = pool;
	return 0;
fail:
	iotlb__free(pool->slots);
	iotlb__free(pool);
	return err;
}

void iotlb__pool_destroy(struct iotlb__pool *pool)
{
	if (!pool)
		return;
	iotlb__areas_destroy(pool);
	iotlb__free(pool->slots);
	iotlb__free(pool);
}

uint64_t iotlb__pool_used(const struct iotlb__pool *pool)
{
	uint64_t used = 0;

	for (unsigned a = 0; a < pool->nareas; a++)
		used += IOTLB__LOAD(&iotlb__area_at(pool, a)->used);
	return used;
}
