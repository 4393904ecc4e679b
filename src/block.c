/* SPDX-License-Identifier: MIT */
/*
 * IO TLB blocks and device private pools (docs/algorithm.md#blocks): a device
 * created with a private size gets contiguous free blocks carved out of the
 * shared pools, and maps only inside them, on its own child areas.
 */
#include <stdlib.h>
#include <string.h>

#include "area_lock.h"
#include "internal.h"

/* Area lock contexts for holding every area of a pool at once. */
static unsigned char *ctx_at(unsigned char *ctx, unsigned a)
{
	return ctx + (size_t)a * IOTLB_LOCK_CTX_MAX;
}

/* Ascending area order: the one order every multi-lock path uses. */
static void lock_all(struct iotlb__pool *pool, unsigned char *ctx)
{
	for (unsigned a = 0; a < pool->nareas; a++)
		iotlb__area_lock(pool, iotlb__area_at(pool, a), ctx_at(ctx, a));
}

static void unlock_all(struct iotlb__pool *pool, unsigned char *ctx)
{
	for (unsigned a = pool->nareas; a-- > 0;)
		iotlb__area_unlock(pool, iotlb__area_at(pool, a), ctx_at(ctx, a));
}

/*
 * Takes or returns the carved range [s, s + n) area by area (all area locks
 * held): occupancy, used counts and high-water headroom of each area it
 * touches. Returns true when the high-water mark needs settling.
 */
static bool carve_range(struct iotlb__pool *pool, uint64_t s, uint64_t n,
			const struct iotlb__req *req)
{
	bool settle = false;

	for (unsigned a = 0; a < pool->nareas; a++) {
		struct iotlb__area *area = iotlb__area_at(pool, a);
		uint64_t lo = s > area->base ? s : area->base;
		uint64_t end = area->base + area->nslots;
		uint64_t hi = s + n < end ? s + n : end;

		if (lo >= hi)
			continue;
		if (req) {
			iotlb__slots_take(pool, area, lo, hi - lo, req);
			IOTLB__BUMP(&area->used, hi - lo);
			settle |= iotlb__hiwater_take(pool->domain, area, hi - lo);
		} else {
			iotlb__slots_return(pool, area, lo, hi - lo);
			IOTLB__BUMP(&area->used, -(hi - lo));
			iotlb__hiwater_return(area, hi - lo);
		}
	}
	return settle;
}

static struct iotlb__pool *pool_by_index(const struct iotlb_mem *mem, uint32_t index)
{
	for (struct iotlb__pool *pool = mem->shared.pools; pool; pool = pool->next)
		if (pool->index == index)
			return pool;
	return NULL;
}

/*
 * First fit from the lowest block of the oldest pool, so placement is
 * deterministic. Each pool is scanned with all its area locks held, which
 * keeps concurrent maps out of the range being judged.
 */
static int carve(struct iotlb_dev *dev, uint64_t need, struct iotlb__pool **parent_out,
		 uint64_t *first_out)
{
	struct iotlb_mem *mem = dev->mem;
	uint64_t bs = mem->p.block_slots;
	bool fits_some_pool = false;

	for (uint32_t idx = 0; idx < mem->next_pool_index; idx++) {
		struct iotlb__pool *pool = pool_by_index(mem, idx);
		uint64_t nblocks;

		if (!pool)
			continue;
		nblocks = pool->nslots / bs;
		if (nblocks * bs < need)
			continue;
		fits_some_pool = true;
		lock_all(pool, dev->carve_ctx);
		for (uint64_t s = 0; s + need <= nblocks * bs; s += bs) {
			if (iotlb__slots_range_free(pool, s, need)) {
				struct iotlb__req req = {
					.alloc_size = need << mem->p.slot_shift,
					.owner = dev->id,
					.coherent = true,
					.carve = true,
				};

				bool settle = carve_range(pool, s, need, &req);

				unlock_all(pool, dev->carve_ctx);
				if (settle)
					iotlb__hiwater_settle(&mem->shared);
				*parent_out = pool;
				*first_out = s;
				return 0;
			}
		}
		unlock_all(pool, dev->carve_ctx);
	}
	return fits_some_pool ? -ENOSPC : -E2BIG;
}

static void uncarve(struct iotlb_dev *dev, struct iotlb__pool *parent, uint64_t first, uint64_t n)
{
	lock_all(parent, dev->carve_ctx);
	carve_range(parent, first, n, NULL);
	unlock_all(parent, dev->carve_ctx);
}

int iotlb__private_create(struct iotlb_dev *dev, size_t private_size, unsigned nqueues)
{
	struct iotlb_mem *mem = dev->mem;
	uint64_t block_bytes = (uint64_t)mem->p.block_slots << mem->p.slot_shift;
	uint64_t need = ((private_size + block_bytes - 1) / block_bytes) * mem->p.block_slots;
	unsigned max_areas = 0;
	struct iotlb__pool *parent, *pool;
	uint64_t first;
	int err;

	if (private_size > UINT64_MAX - block_bytes)
		return -E2BIG;
	/* Under the writer lock the pool list cannot grow while we size for it. */
	pthread_mutex_lock(&mem->writer_lock);
	for (pool = mem->shared.pools; pool; pool = pool->next)
		if (pool->nareas > max_areas)
			max_areas = pool->nareas;
	dev->carve_ctx = iotlb__zalloc(IOTLB__CACHELINE, max_areas, IOTLB_LOCK_CTX_MAX);
	err = dev->carve_ctx ? carve(dev, need, &parent, &first) : -ENOMEM;
	if (!err) {
		uint64_t off = first << mem->p.slot_shift;

		err = iotlb__domain_init(&dev->private_domain);
		if (!err) {
			err = iotlb__pool_create(&mem->p, &mem->lock_ops, parent->vaddr + off,
						 parent->dma_addr + off, need, nqueues, &pool);
			if (!err) {
				err = iotlb__domain_add_pool(&dev->private_domain, pool);
				if (err)
					iotlb__pool_destroy(pool);
			}
			if (err)
				iotlb__domain_fini(&dev->private_domain);
		}
		if (err) {
			uncarve(dev, parent, first, need);
		} else {
			pool->parent = parent;
			pool->parent_slot = first;
			dev->domain = &dev->private_domain;
			dev->nqueues = pool->nareas;
		}
	}
	pthread_mutex_unlock(&mem->writer_lock);
	if (err) {
		iotlb__free(dev->carve_ctx);
		dev->carve_ctx = NULL;
	}
	return err;
}

void iotlb__private_destroy(struct iotlb_dev *dev)
{
	struct iotlb__pool *pool = dev->private_domain.pools;

	if (!pool)
		return;
	pthread_mutex_lock(&dev->mem->writer_lock);
	uncarve(dev, pool->parent, pool->parent_slot, pool->nslots);
	pthread_mutex_unlock(&dev->mem->writer_lock);
	iotlb__pool_destroy(pool);
	iotlb__domain_fini(&dev->private_domain);
	dev->private_domain.pools = NULL;
	iotlb__free(dev->carve_ctx);
	dev->carve_ctx = NULL;
}
