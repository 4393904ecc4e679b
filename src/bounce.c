/* SPDX-License-Identifier: MIT */
/*
 * Streaming mappings and coherent allocations: map / unmap / sync copies with
 * the kernel's direction and partial-sync rules (docs/algorithm.md#map-steps to #coherent), and
 * the checks that refuse anything that is not a live handle of the device.
 */
#include <stdio.h>
#include <string.h>

#include "area_lock.h"
#include "internal.h"
#include "wait.h"

#define KNOWN_ATTRS (IOTLB_ATTR_SKIP_CPU_SYNC | IOTLB_ATTR_NO_WARN)
#define MAP_ATTRS (KNOWN_ATTRS | IOTLB_ATTR_MAY_BLOCK)
#define ALLOC_ATTRS (IOTLB_ATTR_NO_WARN | IOTLB_ATTR_MAY_BLOCK)

#ifndef IOTLB_DEBUG_LEVEL
#define IOTLB_DEBUG_LEVEL 0
#endif

/*
 * Debug level 3: the full invariant check after every call that changes the
 * allocator (single-threaded use only: the checker reads without locks).
 * A violation is reported through the log callback, never by aborting.
 */
static int debug_check(const struct iotlb_dev *dev, int err)
{
#if IOTLB_DEBUG_LEVEL >= 3
	char why[200];

	if (iotlb__check_dev(dev, why, sizeof(why)))
		iotlb__log(dev->mem, IOTLB_LOG_ERR, "iotlb: invariant violated: %s", why);
#else
	(void)dev;
#endif
	return err;
}

static bool dir_valid(enum iotlb_dir dir)
{
	return (unsigned)dir <= IOTLB_FROM_DEVICE;
}

static bool dir_to_cpu(enum iotlb_dir dir)
{
	return dir == IOTLB_FROM_DEVICE || dir == IOTLB_BIDIRECTIONAL;
}

static bool dir_to_device(enum iotlb_dir dir)
{
	return dir == IOTLB_TO_DEVICE || dir == IOTLB_BIDIRECTIONAL;
}

static uint64_t segment_bytes(const struct iotlb_mem_params *p)
{
	return (uint64_t)p->segment_slots << p->slot_shift;
}

static IOTLB__COLD void log_full(const struct iotlb_dev *dev, uint64_t size, unsigned attrs)
{
	const struct iotlb__domain *d = dev->domain;

	if (attrs & IOTLB_ATTR_NO_WARN)
		return;
	iotlb__log(dev->mem, IOTLB_LOG_ERR,
		   "swiotlb buffer is full (sz: %zu bytes), total %lu (slots), used %lu (slots)",
		   (size_t)size, (unsigned long)IOTLB__LOAD(&d->nslots),
		   (unsigned long)iotlb__domain_used(d));
}

/*
 * Finds slots for a request (docs/algorithm.md, "Areas" and "Growth"); on
 * failure counts and logs it. *rcu is set when the slots are in a transient
 * pool: the RCU read lock is then held and the caller drops it.
 */
static int find_slots(struct iotlb_dev *dev, int queue, const struct iotlb__req *req,
		      unsigned attrs, struct iotlb__pool **pool, uint64_t *slot, bool *rcu)
{
	struct iotlb_mem *mem = dev->mem;
	struct iotlb__domain *d = dev->domain;
	struct iotlb__search s;
	bool settle = false;
	unsigned hint;
	int err;

	/* More than a segment, or than every pool of a domain that cannot grow. */
	if (iotlb__domain_too_big(mem, d, req->alloc_size)) {
		IOTLB__ADD(&d->fail_too_big, 1);
		log_full(dev, req->alloc_size, attrs);
		return -E2BIG;
	}
	if (req->coherent)
		iotlb__search_prepare(&mem->p, req, &s);
	else
		iotlb__map_search(&mem->p, dev->map_shape, req, &s);
	hint = iotlb__select_hint(mem, queue);
	/* Waiting for room (wait.c): a blocking request queues behind earlier ones. */
	if ((attrs & IOTLB_ATTR_MAY_BLOCK) && iotlb__wait_queued(&d->wq))
		err = -ENOSPC;
	else
		err = iotlb__domain_find(d, hint, &s, req, pool, slot, &settle);
	if (!err && settle)
		iotlb__hiwater_settle(d); /* a rare new high: docs/design.md */
	if (err && d == &mem->shared && (mem->cfg.flags & IOTLB_MEM_GROW)) {
		/* Grow in the background; serve this request right now. */
		iotlb__grow_request(mem);
		iotlb__read_lock();
		err = iotlb__transient_take(mem, &s, req, pool, slot);
		if (err)
			iotlb__read_unlock();
		else
			*rcu = true;
	}
	/* Waiting for room (wait.c): wait in line, or record for notify. */
	if (err == -ENOSPC)
		err = iotlb__wait_nospace(dev, hint, &s, req, attrs, pool, slot, rcu);
	if (err == -ENOSPC) {
		IOTLB__ADD(&d->fail_nospace, 1);
		log_full(dev, req->alloc_size, attrs);
	}
	return err;
}

#ifndef IOTLB__PREFETCH_MAX
#define IOTLB__PREFETCH_MAX 4096
#endif

/*
 * Next fit puts the next map of the area right after this one. Its
 * destination is cold (the cursor sweeps a pool larger than the caches), and
 * a copy that waits for every line to come in costs several times the copy
 * of a warm one; asking for those lines now lets the miss overlap the
 * caller's work and the next map's bookkeeping (docs/performance.md, "The
 * hot path": 2 KiB pairs 2.7x -> 1.1x of the copy limit). Prefetches never
 * fault, but stay inside the pool all the same.
 */
static void prefetch_next_fit(const struct iotlb__pool *pool, uint64_t slot, size_t size)
{
	uint64_t at = slot << pool->p->slot_shift, end = pool->nslots << pool->p->slot_shift;
	uint64_t bytes = size < IOTLB__PREFETCH_MAX ? size : IOTLB__PREFETCH_MAX;

	if (bytes > end - at || at > end)
		bytes = at < end ? end - at : 0;
	for (uint64_t k = 0; k < bytes; k += IOTLB__CACHELINE)
		__builtin_prefetch(pool->vaddr + at + k, 1);
}

IOTLB__HOT int iotlb_map(struct iotlb_dev *dev, int queue, void *orig, size_t size,
			 enum iotlb_dir dir, unsigned attrs, uint64_t *dma_out)
{
	const struct iotlb_mem_params *p;
	struct iotlb__req req;
	struct iotlb__pool *pool;
	uint64_t o, offset, head, dma;
	bool rcu = false;
	int err;

	if (!dev || !orig || !size || !dma_out || !dir_valid(dir) || (attrs & ~MAP_ATTRS))
		return -EINVAL;
	p = &dev->mem->p;
	o = (uint64_t)(uintptr_t)orig;
	/* Min-align bits inside the allocation alignment become padding slots. */
	offset = o & dev->min_align_mask & (dev->alloc_align_mask | (p->slot_size - 1));
	req = (struct iotlb__req){
		.orig = o,
		.alloc_align_mask = dev->alloc_align_mask,
		.min_align_mask = dev->min_align_mask,
		.seg_boundary_mask = dev->seg_boundary_mask,
		.owner = dev->id,
		.pad_slots = (uint32_t)(offset >> p->slot_shift),
		.bounce_bytes = size,
	};
	/* The padded size, saturated so that a huge size still reads as "too
	 * big" and is logged as what it would pad to. */
	if ((uint64_t)size > UINT64_MAX - offset - dev->alloc_align_mask) {
		req.alloc_size = UINT64_MAX;
	} else {
		req.alloc_size = (size + offset + dev->alloc_align_mask) & ~dev->alloc_align_mask;
		/* The round-up past the mapped bytes: copies never reach into it. */
		req.tail = (uint32_t)(req.alloc_size - offset - size);
	}

	err = find_slots(dev, queue, &req, attrs, &pool, &head, &rcu);
	if (!err) {
		uint64_t taken = (req.alloc_size + p->slot_size - 1) >> p->slot_shift;

		dma = pool->dma_addr + ((head + req.pad_slots) << p->slot_shift) +
		      (offset & (p->slot_size - 1));
		/* Always, whatever the direction: the bounce must never hold stale data. */
		memcpy(pool->vaddr + (dma - pool->dma_addr), orig, size);
		prefetch_next_fit(pool, head + taken, size);
		*dma_out = dma;
	}
	if (rcu)
		iotlb__read_unlock();
	return debug_check(dev, err);
}

/*
 * The pool of the device's domain holding `dma`. Pools of the domain are
 * never removed while it lives; transient ones are, so finding one takes the
 * RCU read lock, which *rcu then says the caller must drop.
 */
static struct iotlb__pool *pool_of(const struct iotlb_dev *dev, uint64_t dma, bool *rcu)
{
	struct iotlb__pool *pool = iotlb__domain_lookup(dev->domain, dma);

	if (pool || !(dev->mem->cfg.flags & IOTLB_MEM_GROW) || dev->domain != &dev->mem->shared)
		return pool;
	iotlb__read_lock();
	pool = iotlb__domain_lookup_transient(dev->domain, dma);
	if (pool)
		*rcu = true;
	else
		iotlb__read_unlock();
	return pool;
}

/* The area whose lock guards the slot holding `dma` (fixed per slot). */
static struct iotlb__area *area_of_dma(const struct iotlb__pool *pool, uint64_t dma)
{
	uint64_t slot = (dma - pool->dma_addr) >> pool->p->slot_shift;

	return iotlb__area_at(pool, pool->slots[slot].area);
}

/* Is `dma` exactly the handle of a live streaming mapping of `dev`? (lock held) */
static int64_t mapping_head(const struct iotlb_dev *dev, const struct iotlb__pool *pool,
			    uint64_t dma)
{
	const struct iotlb_mem_params *p = pool->p;
	uint64_t offset = dma & dev->min_align_mask & (p->slot_size - 1);
	uint64_t head = (dma - offset - pool->dma_addr) >> p->slot_shift;
	const struct iotlb__slot *s = &pool->slots[head];

	if (s->kind != IOTLB__SLOT_MAP_HEAD || s->owner != dev->id)
		return -1;
	if (dma != pool->dma_addr + (head << p->slot_shift) +
			   (s->orig & dev->min_align_mask & (p->slot_size - 1)))
		return -1;
	return (int64_t)head;
}

/* Distance of `t` from where its slot's data starts (negative inside the
 * first `offset` bytes of a later slot). */
static int64_t data_delta(const struct iotlb_dev *dev, const struct iotlb__pool *pool,
			  const struct iotlb__slot *s, uint64_t t)
{
	uint64_t mask = pool->p->slot_size - 1;

	return (int64_t)(t & mask) - (int64_t)(s->orig & dev->min_align_mask & mask);
}

/*
 * The bounce copy for a target `t` inside live data (area lock held): copies
 * at the same distance from the original as `t` is from the bounce start of
 * its slot, clamped to the bytes that were mapped. The kernel clamps to the
 * allocation, which on an alloc_align device includes alignment round-up
 * past the caller's buffer; libiotlb never copies outside the mapped bytes
 * (docs/design.md, "Safety rules beyond the kernel").
 */
static void bounce_copy(const struct iotlb_dev *dev, struct iotlb__pool *pool,
			struct iotlb__area *area, uint64_t t, size_t size, bool to_cpu)
{
	const struct iotlb__slot *s = &pool->slots[(t - pool->dma_addr) >> pool->p->slot_shift];
	int64_t delta = data_delta(dev, pool, s, t);
	char *o = (char *)(uintptr_t)(s->orig + (uint64_t)delta);
	char *bounce = pool->vaddr + (t - pool->dma_addr);
	int64_t avail = s->alloc_size - delta - (int64_t)s->tail;
	uint64_t n = size;

	if (avail < 0)
		avail = 0;
	if (n > (uint64_t)avail) {
		iotlb__log(dev->mem, IOTLB_LOG_WARNING,
			   "Buffer overflow detected. Allocation size: %zu. Mapping size: %zu.",
			   (size_t)avail, size);
		IOTLB__BUMP(&area->overflow_clamps, 1);
		n = (uint64_t)avail;
	}
	if (to_cpu) {
		memcpy(o, bounce, n);
		IOTLB__BUMP(&area->bounced_to_cpu, n);
	} else {
		memcpy(bounce, o, n);
		IOTLB__BUMP(&area->bounced_to_device, n);
	}
}

static void scrub(const struct iotlb_dev *dev, struct iotlb__pool *pool, uint64_t first, uint64_t n)
{
	unsigned shift = pool->p->slot_shift;

	if (dev->mem->cfg.flags & IOTLB_MEM_SCRUB)
		memset(pool->vaddr + (first << shift), 0, n << shift);
}

/* Returns an allocation's slots (area lock held). */
static void release(struct iotlb_dev *dev, struct iotlb__pool *pool, struct iotlb__area *area,
		    uint64_t first, uint64_t n)
{
	scrub(dev, pool, first, n);
	iotlb__slots_return(pool, area, first, n);
	IOTLB__BUMP(&area->used, -n);
	iotlb__hiwater_return(area, n);
}

/*
 * Unmap claims the mapping under its area's lock before it copies anything:
 * of two racing unmaps (or an unmap and a sync) of one handle, the loser sees
 * no mapping and changes nothing.
 */
static int unmap_in(struct iotlb_dev *dev, struct iotlb__pool *pool, uint64_t dma, size_t size,
		    enum iotlb_dir dir, unsigned attrs)
{
	const struct iotlb_mem_params *p = pool->p;
	struct iotlb__area *area = area_of_dma(pool, dma);
	_Alignas(IOTLB__CACHELINE) unsigned char ctx[IOTLB_LOCK_CTX_MAX];
	int64_t head;

	iotlb__area_lock(pool, area, ctx);
	head = mapping_head(dev, pool, dma);
	if (head >= 0) {
		uint64_t offset = dma & dev->min_align_mask & (p->slot_size - 1);
		uint64_t first = (uint64_t)head - pool->slots[head].pad_slots;
		uint64_t n =
			((uint64_t)pool->slots[first].alloc_size + offset + p->slot_size - 1) >>
			p->slot_shift;

		if (dir_to_cpu(dir) && !(attrs & IOTLB_ATTR_SKIP_CPU_SYNC))
			bounce_copy(dev, pool, area, dma, size, true);
		release(dev, pool, area, first, n);
		IOTLB__BUMP(&area->unmaps, 1);
	}
	iotlb__area_unlock(pool, area, ctx);
	if (head < 0)
		return -ENOENT;
	if (pool->transient)
		iotlb__transient_retire(pool);
	/* Waiting for room (wait.c): one relaxed load unless someone waits. */
	iotlb__wait_room_freed(dev->domain);
	return 0;
}

IOTLB__HOT int iotlb_unmap(struct iotlb_dev *dev, uint64_t dma, size_t size, enum iotlb_dir dir,
			   unsigned attrs)
{
	struct iotlb__pool *pool;
	bool rcu = false;
	int err = -ENOENT;

	if (!dev || !size || !dir_valid(dir) || (attrs & ~KNOWN_ATTRS))
		return -EINVAL;
	pool = pool_of(dev, dma, &rcu);
	if (pool)
		err = unmap_in(dev, pool, dma, size, dir, attrs);
	if (rcu)
		iotlb__read_unlock();
	return debug_check(dev, err);
}

/* Is `t` inside the mapped bytes of a live streaming mapping of this device? */
static bool in_live_data(const struct iotlb_dev *dev, const struct iotlb__pool *pool, uint64_t t)
{
	const struct iotlb__slot *s = &pool->slots[(t - pool->dma_addr) >> pool->p->slot_shift];
	int64_t delta;

	if ((s->kind != IOTLB__SLOT_MAP_HEAD && s->kind != IOTLB__SLOT_MAP_DATA) ||
	    s->owner != dev->id)
		return false;
	delta = data_delta(dev, pool, s, t);
	/* Before the handle in its first slot, or past the mapped bytes. */
	if (s->kind == IOTLB__SLOT_MAP_HEAD && delta < 0)
		return false;
	return s->alloc_size - delta - (int64_t)s->tail > 0;
}

static int sync_range(struct iotlb_dev *dev, uint64_t dma, size_t size, enum iotlb_dir dir,
		      bool to_cpu)
{
	_Alignas(IOTLB__CACHELINE) unsigned char ctx[IOTLB_LOCK_CTX_MAX];
	struct iotlb__pool *pool;
	struct iotlb__area *area;
	bool rcu = false;
	int err = -ENOENT;

	if (!dev || !size || !dir_valid(dir))
		return -EINVAL;
	pool = pool_of(dev, dma, &rcu);
	if (!pool)
		return err;
	/* Under the area lock, so that an unmap cannot free the slots mid-copy. */
	area = area_of_dma(pool, dma);
	iotlb__area_lock(pool, area, ctx);
	if (in_live_data(dev, pool, dma)) {
		if (to_cpu ? dir_to_cpu(dir) : dir_to_device(dir))
			bounce_copy(dev, pool, area, dma, size, to_cpu);
		IOTLB__BUMP(&area->syncs, 1);
		err = 0;
	}
	iotlb__area_unlock(pool, area, ctx);
	if (rcu)
		iotlb__read_unlock();
	return err;
}

IOTLB__HOT int iotlb_sync_for_cpu(struct iotlb_dev *dev, uint64_t dma, size_t size,
				  enum iotlb_dir dir)
{
	return sync_range(dev, dma, size, dir, true);
}

IOTLB__HOT int iotlb_sync_for_device(struct iotlb_dev *dev, uint64_t dma, size_t size,
				     enum iotlb_dir dir)
{
	return sync_range(dev, dma, size, dir, false);
}

int iotlb_alloc(struct iotlb_dev *dev, size_t size, void **vaddr_out, uint64_t *dma_out)
{
	return iotlb_alloc_attrs(dev, size, IOTLB_ATTR_NO_WARN, vaddr_out, dma_out);
}

int iotlb_alloc_attrs(struct iotlb_dev *dev, size_t size, unsigned attrs, void **vaddr_out,
		      uint64_t *dma_out)
{
	const struct iotlb_mem_params *p;
	struct iotlb__req req;
	struct iotlb__pool *pool;
	uint64_t align, slot;
	bool rcu = false;
	int err;

	if (!dev || !size || !vaddr_out || !dma_out || (attrs & ~ALLOC_ATTRS))
		return -EINVAL;
	p = &dev->mem->p;
	/* Naturally aligned to the smallest power-of-two number of pages holding it. */
	align = p->page_size;
	while (align < size && align <= segment_bytes(p))
		align <<= 1;
	req = (struct iotlb__req){
		.alloc_size = size,
		.alloc_align_mask = align - 1,
		.min_align_mask = dev->min_align_mask,
		.seg_boundary_mask = dev->seg_boundary_mask,
		.owner = dev->id,
		.coherent = true,
	};
	/* Coherent allocations never log a full pool, as before attributes. */
	err = find_slots(dev, IOTLB_ANY_QUEUE, &req, attrs | IOTLB_ATTR_NO_WARN, &pool, &slot,
			 &rcu);
	if (!err) {
		/* Coherent memory starts zeroed, never with an earlier user's bytes. */
		memset(pool->vaddr + (slot << p->slot_shift), 0, size);
		*vaddr_out = pool->vaddr + (slot << p->slot_shift);
		*dma_out = pool->dma_addr + (slot << p->slot_shift);
	}
	if (rcu)
		iotlb__read_unlock();
	return debug_check(dev, err);
}

static int free_in(struct iotlb_dev *dev, struct iotlb__pool *pool, uint64_t dma)
{
	const struct iotlb_mem_params *p = pool->p;
	uint64_t slot = (dma - pool->dma_addr) >> p->slot_shift;
	const struct iotlb__slot *s = &pool->slots[slot];
	struct iotlb__area *area = iotlb__area_at(pool, s->area);
	_Alignas(IOTLB__CACHELINE) unsigned char ctx[IOTLB_LOCK_CTX_MAX];
	bool live;

	iotlb__area_lock(pool, area, ctx);
	live = dma == pool->dma_addr + (slot << p->slot_shift) &&
	       s->kind == IOTLB__SLOT_COHERENT_HEAD && s->owner == dev->id;
	if (live) {
		release(dev, pool, area, slot,
			((uint64_t)s->alloc_size + p->slot_size - 1) >> p->slot_shift);
		IOTLB__BUMP(&area->frees, 1);
	}
	iotlb__area_unlock(pool, area, ctx);
	if (!live)
		return -ENOENT;
	if (pool->transient)
		iotlb__transient_retire(pool);
	iotlb__wait_room_freed(dev->domain);
	return 0;
}

int iotlb_free(struct iotlb_dev *dev, uint64_t dma, size_t size)
{
	struct iotlb__pool *pool;
	bool rcu = false;
	int err = -ENOENT;

	if (!dev || !size)
		return -EINVAL;
	pool = pool_of(dev, dma, &rcu);
	if (pool)
		err = free_in(dev, pool, dma);
	if (rcu)
		iotlb__read_unlock();
	return debug_check(dev, err);
}
