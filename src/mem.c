/* SPDX-License-Identifier: MIT */
/*
 * Allocator lifetime: configuration checks and defaults, the shared pools
 * (added under writer_lock, see domain.c), and resetting the high-water mark.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "wait.h"

#define KNOWN_MEM_FLAGS (IOTLB_MEM_GROW | IOTLB_MEM_SCRUB)

static int apply_defaults(struct iotlb_mem_config *c, struct iotlb_mem_params *p)
{
	if (!c->slot_shift)
		c->slot_shift = 11;
	if (!c->segment_slots)
		c->segment_slots = 128;
	if (!c->block_slots)
		c->block_slots = 1024;
	if (!c->page_size)
		c->page_size = 4096;
	if (!c->nareas) {
		long cpus = sysconf(_SC_NPROCESSORS_CONF);

		c->nareas = cpus > 0 ? (unsigned)cpus : 1;
	}
	if (!c->grow_size)
		c->grow_size = c->size;

	if (c->slot_shift < 4 || c->slot_shift > 30)
		return -EINVAL;
	if (!iotlb__is_pow2(c->segment_slots) || c->segment_slots > (1u << 24))
		return -EINVAL;
	if (!iotlb__is_pow2(c->block_slots) || c->block_slots % c->segment_slots)
		return -EINVAL;
	if (!iotlb__is_pow2(c->page_size) || c->page_size < ((size_t)1 << c->slot_shift))
		return -EINVAL;
	p->slot_shift = c->slot_shift;
	p->slot_size = (uint64_t)1 << c->slot_shift;
	p->segment_slots = c->segment_slots;
	p->block_slots = c->block_slots;
	p->page_size = c->page_size;
	return 0;
}

/*
 * Enum values are checked against an explicit list, not against "the last
 * enumerator": a new enumerator without a case here is a -Wswitch warning
 * (an error under IOTLB_WERROR), so the check cannot silently go stale.
 */
static bool lock_kind_known(enum iotlb_lock_kind kind)
{
	switch (kind) {
	case IOTLB_LOCK_DEFAULT:
	case IOTLB_LOCK_MUTEX:
	case IOTLB_LOCK_SPIN:
	case IOTLB_LOCK_TICKET:
	case IOTLB_LOCK_MCS:
	case IOTLB_LOCK_TTAS:
	case IOTLB_LOCK_NONE:
	case IOTLB_LOCK_CUSTOM:
		return true;
	}
	return false;
}

static bool select_known(enum iotlb_select select)
{
	switch (select) {
	case IOTLB_SELECT_CPU:
	case IOTLB_SELECT_THREAD:
	case IOTLB_SELECT_ROUND_ROBIN:
		return true;
	}
	return false;
}

/*
 * Copies the caller's region provider, as the lock ops are copied: the
 * caller's table may go away after create. region_ops_size 0 is the original
 * layout (alloc and free); a non-zero size must cover that layout, and a
 * larger (newer) table may not set anything this library does not know.
 */
static int copy_region_ops(struct iotlb_mem *mem)
{
	const struct iotlb_region_ops *ops = mem->cfg.region_ops;
	size_t known = sizeof(mem->region_ops);
	size_t size = mem->cfg.region_ops_size;

	memset(&mem->region_ops, 0, known);
	if (!ops)
		return size ? -EINVAL : 0;
	if (!size) {
		mem->region_ops.alloc = ops->alloc;
		mem->region_ops.free = ops->free;
	} else {
		if (size < offsetof(struct iotlb_region_ops, free) + sizeof(ops->free))
			return -EINVAL;
		for (size_t i = known; i < size; i++)
			if (((const unsigned char *)ops)[i])
				return -EINVAL;
		memcpy(&mem->region_ops, ops, size < known ? size : known);
	}
	mem->cfg.region_ops = &mem->region_ops;
	return 0;
}

static int resolve_lock(struct iotlb_mem *mem)
{
	const struct iotlb_mem_config *c = &mem->cfg;
	const struct iotlb_lock_ops *ops;
	int err;

	if (!lock_kind_known(c->lock))
		return -EINVAL;
	if (c->lock == IOTLB_LOCK_CUSTOM) {
		err = iotlb__lock_ops_check(c->lock_ops);
		if (err)
			return err;
		memset(&mem->lock_ops, 0, sizeof(mem->lock_ops));
		memcpy(&mem->lock_ops, c->lock_ops,
		       c->lock_ops->struct_size < sizeof(mem->lock_ops) ? c->lock_ops->struct_size
									: sizeof(mem->lock_ops));
		return 0;
	}
	if (c->lock_ops)
		return -EINVAL;
	/* Every kind below CUSTOM has a built-in table. */
	ops = iotlb__lock_builtin(c->lock);
	mem->lock_ops = *ops;
	return 0;
}

static int check_config(struct iotlb_mem *mem)
{
	struct iotlb_mem_config *c = &mem->cfg;
	int err;

	err = apply_defaults(c, &mem->p);
	if (err)
		return err;
	err = iotlb__region_check(&mem->p, c->vaddr, c->dma_addr, c->size);
	if (err)
		return err;
	if (!select_known(c->select))
		return -EINVAL;
	if (c->flags & ~KNOWN_MEM_FLAGS)
		return -EINVAL;
	err = copy_region_ops(mem);
	if (err)
		return err;
	if ((c->flags & IOTLB_MEM_GROW) &&
	    (!c->region_ops || !c->region_ops->alloc || !c->region_ops->free))
		return -EINVAL;
	if (c->grow_size % mem->p.slot_size)
		return -EINVAL;
	return resolve_lock(mem);
}

int iotlb_mem_create(const struct iotlb_mem_config *cfg, struct iotlb_mem **out)
{
	struct iotlb_mem *mem;
	struct iotlb__pool *pool;
	int err;

	if (!cfg || !out)
		return -EINVAL;
	mem = iotlb__zalloc(IOTLB__CACHELINE, 1, sizeof(*mem));
	if (!mem)
		return -ENOMEM;
	err = iotlb__copy_versioned(&mem->cfg, sizeof(mem->cfg), cfg);
	if (!err)
		err = check_config(mem);
	if (err)
		goto fail;
	err = iotlb__pool_create(&mem->p, &mem->lock_ops, mem->cfg.vaddr, mem->cfg.dma_addr,
				 mem->cfg.size >> mem->p.slot_shift, mem->cfg.nareas, &pool);
	if (err)
		goto fail;
	if (pthread_mutex_init(&mem->writer_lock, NULL)) {
		iotlb__pool_destroy(pool);
		err = -ENOMEM;
		goto fail;
	}
	err = iotlb__domain_init(&mem->shared);
	if (!err) {
		err = iotlb__domain_add_pool(&mem->shared, pool);
		if (err)
			iotlb__domain_fini(&mem->shared);
	}
	/* Waiting is ready before the growth worker can announce a pool. */
	iotlb__waitq_init(&mem->shared.wq);
	mem->pool_added = iotlb__wait_pool_added;
	if (!err && (mem->cfg.flags & IOTLB_MEM_GROW)) {
		err = iotlb__grow_start(mem);
		if (err)
			iotlb__domain_fini(&mem->shared);
	}
	if (err) {
		iotlb__waitq_destroy(&mem->shared.wq);
		pthread_mutex_destroy(&mem->writer_lock);
		iotlb__pool_destroy(pool);
		goto fail;
	}
	mem->next_dev_id = 1;
	pool->index = mem->next_pool_index++;
	*out = mem;
	return 0;
fail:
	iotlb__free(mem);
	return err;
}

static void destroy_pool_list(struct iotlb_mem *mem, struct iotlb__pool *pool)
{
	while (pool) {
		struct iotlb__pool *next = pool->next;

		iotlb__pool_free_region(mem, pool);
		pool = next;
	}
}

int iotlb_mem_destroy(struct iotlb_mem *mem)
{
	if (!mem)
		return -EINVAL;
	if (IOTLB__LOAD(&mem->ndevs))
		return -EBUSY;
	iotlb__grow_stop(mem);
	/* Transient pools waiting for their grace period go back first. */
	iotlb__grace_period_barrier();
	destroy_pool_list(mem, mem->shared.pools);
	destroy_pool_list(mem, mem->shared.transient);
	iotlb__domain_fini(&mem->shared);
	pthread_mutex_destroy(&mem->writer_lock);
	iotlb__waitq_destroy(&mem->shared.wq);
	iotlb__free(mem);
	return 0;
}

int iotlb_mem_add_pool(struct iotlb_mem *mem, void *vaddr, uint64_t dma_addr, size_t size)
{
	struct iotlb__pool *pool;
	int err;

	if (!mem)
		return -EINVAL;
	err = iotlb__region_check(&mem->p, vaddr, dma_addr, size);
	if (err)
		return err;
	pthread_mutex_lock(&mem->writer_lock);
	err = iotlb__domain_region_check(&mem->shared, &mem->p, vaddr, dma_addr, size);
	if (err)
		goto out;
	err = iotlb__pool_create(&mem->p, &mem->lock_ops, vaddr, dma_addr,
				 size >> mem->p.slot_shift, mem->cfg.nareas, &pool);
	if (err)
		goto out;
	pool->index = mem->next_pool_index;
	err = iotlb__domain_add_pool(&mem->shared, pool);
	if (err)
		iotlb__pool_destroy(pool);
	else
		mem->next_pool_index++;
out:
	pthread_mutex_unlock(&mem->writer_lock);
	/* New room: blocking requests may be waiting for it (wait.c). */
	if (!err)
		iotlb__wait_room_freed(&mem->shared);
	return err;
}

/*
 * libiotlb: a request larger than every pool of a domain that cannot grow is
 * "too big" (-E2BIG), not "no room now": no unmap will ever make room for it.
 * Only pools added later could; a shared domain with IOTLB_MEM_GROW serves any
 * request up to a segment from a transient pool.
 */
bool iotlb__domain_too_big(const struct iotlb_mem *mem, const struct iotlb__domain *d,
			   uint64_t alloc_size)
{
	uint64_t nslots =
		(alloc_size >> mem->p.slot_shift) + ((alloc_size & (mem->p.slot_size - 1)) != 0);

	if (nslots > mem->p.segment_slots)
		return true;
	if (d == &mem->shared && (mem->cfg.flags & IOTLB_MEM_GROW))
		return false;
	return nslots > IOTLB__LOAD(&d->max_pool_nslots);
}

int iotlb_mem_reset_hiwater(struct iotlb_mem *mem, uint64_t value)
{
	if (!mem || value != 0)
		return -EINVAL;
	/* The next take re-bases the mark on the use at that moment. */
	pthread_mutex_lock(&mem->shared.hw_lock);
	IOTLB__STORE(&mem->shared.hw_reset_pending, (uint8_t)1);
	pthread_mutex_unlock(&mem->shared.hw_lock);
	return 0;
}
