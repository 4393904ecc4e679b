/* SPDX-License-Identifier: MIT */
/*
 * Streaming mappings and coherent allocations: map / unmap / sync copies with
 * the kernel's direction and partial-sync rules (ALGORITHM.md section 5), and
 * the checks that refuse anything that is not a live handle of the device.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define KNOWN_ATTRS (IOTLB_ATTR_SKIP_CPU_SYNC | IOTLB_ATTR_NO_WARN)

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

static void log_full(const struct iotlb_dev *dev, uint64_t size, unsigned attrs)
{
	const struct iotlb__domain *d = dev->domain;

	if (attrs & IOTLB_ATTR_NO_WARN)
		return;
	iotlb__log(dev->mem, IOTLB_LOG_ERR,
		   "swiotlb buffer is full (sz: %zu bytes), total %lu (slots), used %lu (slots)",
		   (size_t)size, (unsigned long)IOTLB__LOAD(&d->nslots),
		   (unsigned long)IOTLB__LOAD(&d->used));
}

/* Finds slots for a request; on failure counts and logs it. */
static int find_slots(struct iotlb_dev *dev, int queue, const struct iotlb__req *req,
		      unsigned attrs, struct iotlb__pool **pool, uint64_t *slot)
{
	struct iotlb__domain *d = dev->domain;
	int err;

	/* More than a segment, or than every pool of a domain that cannot grow. */
	if (iotlb__domain_too_big(dev->mem, d, req->alloc_size)) {
		IOTLB__ADD(&d->fail_too_big, 1);
		log_full(dev, req->alloc_size, attrs);
		return -E2BIG;
	}
	err = iotlb__domain_find(d, iotlb__select_hint(dev->mem, queue), req, pool, slot);
	if (err && d == &dev->mem->shared && (dev->mem->cfg.flags & IOTLB_MEM_GROW)) {
		/* Grow in the background; serve this request right now. */
		iotlb__grow_request(dev->mem);
		err = iotlb__transient_take(dev->mem, req, pool, slot);
	}
	if (err == -ENOSPC) {
		IOTLB__ADD(&d->fail_nospace, 1);
		log_full(dev, req->alloc_size, attrs);
	}
	if (err)
		return err;
	iotlb__domain_used_add(d, (req->alloc_size + dev->mem->p.slot_size - 1) >>
					  dev->mem->p.slot_shift);
	IOTLB__ADD(&dev->live, 1);
	return 0;
}

int iotlb_map(struct iotlb_dev *dev, int queue, void *orig, size_t size, enum iotlb_dir dir,
	      unsigned attrs, uint64_t *dma_out)
{
	const struct iotlb_mem_params *p;
	struct iotlb__req req;
	struct iotlb__pool *pool;
	uint64_t o, offset, head, dma;
	int err;

	if (!dev || !orig || !size || !dma_out || !dir_valid(dir) || (attrs & ~KNOWN_ATTRS))
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
	/* The padded size (5.1 step 3), saturated so that a huge size still
	 * reads as "too big" and is logged as what it would pad to. */
	if ((uint64_t)size > UINT64_MAX - offset - dev->alloc_align_mask)
		req.alloc_size = UINT64_MAX;
	else
		req.alloc_size = (size + offset + dev->alloc_align_mask) & ~dev->alloc_align_mask;

	iotlb__read_lock();
	err = find_slots(dev, queue, &req, attrs, &pool, &head);
	if (!err) {
		head += req.pad_slots;
		dma = pool->dma_addr + (head << p->slot_shift) + (offset & (p->slot_size - 1));
		/* Always, whatever the direction: the bounce must never hold stale data. */
		memcpy(pool->vaddr + (dma - pool->dma_addr), orig, size);
		*dma_out = dma;
	}
	iotlb__read_unlock();
	return debug_check(dev, err);
}

/* The area whose lock guards the slot holding `dma`. */
static struct iotlb__area *area_of_dma(const struct iotlb__pool *pool, uint64_t dma)
{
	uint64_t slot = (dma - pool->dma_addr) >> pool->p->slot_shift;

	return iotlb__area_at(pool, iotlb__area_of_slot(pool, slot));
}

/* The live streaming mapping whose handle is exactly `dma`, or -1. */
static int64_t mapping_head(const struct iotlb_dev *dev, const struct iotlb__pool *pool,
			    uint64_t dma)
{
	const struct iotlb_mem_params *p = pool->p;
	uint64_t offset = dma & dev->min_align_mask & (p->slot_size - 1);
	uint64_t head = (dma - offset - pool->dma_addr) >> p->slot_shift;
	const struct iotlb__slot *s = &pool->slots[head];

	if (IOTLB__LOAD(&s->kind) != IOTLB__SLOT_MAP_HEAD || IOTLB__LOAD(&s->owner) != dev->id)
		return -1;
	if (dma != pool->dma_addr + (head << p->slot_shift) +
			   (s->orig & dev->min_align_mask & (p->slot_size - 1)))
		return -1;
	return (int64_t)head;
}

/*
 * The bounce copy of ALGORITHM.md 5.3 for a target `t` inside live data:
 * copies at the same distance from the original as `t` is from the bounce
 * start of its slot, clamped to what the allocation holds.
 */
static uint64_t bounce_copy(const struct iotlb_dev *dev, struct iotlb__pool *pool, uint64_t t,
			    size_t size, bool to_cpu)
{
	const struct iotlb_mem_params *p = pool->p;
	uint64_t i = (t - pool->dma_addr) >> p->slot_shift;
	const struct iotlb__slot *s = &pool->slots[i];
	struct iotlb__area *area = area_of_dma(pool, t);
	int64_t delta = (int64_t)(t & (p->slot_size - 1)) -
			(int64_t)(s->orig & dev->min_align_mask & (p->slot_size - 1));
	char *o = (char *)(uintptr_t)(s->orig + (uint64_t)delta);
	char *bounce = pool->vaddr + (t - pool->dma_addr);
	int64_t avail = s->alloc_size - delta;
	uint64_t n = size;

	if (avail < 0)
		avail = 0;
	if (n > (uint64_t)avail) {
		iotlb__log(dev->mem, IOTLB_LOG_WARNING,
			   "Buffer overflow detected. Allocation size: %zu. Mapping size: %zu.",
			   (size_t)avail, size);
		IOTLB__ADD(&area->overflow_clamps, 1);
		n = (uint64_t)avail;
	}
	if (to_cpu) {
		memcpy(o, bounce, n);
		IOTLB__ADD(&area->bounced_to_cpu, n);
	} else {
		memcpy(bounce, o, n);
		IOTLB__ADD(&area->bounced_to_device, n);
	}
	return n;
}

static void scrub(const struct iotlb_dev *dev, struct iotlb__pool *pool, uint64_t first, uint64_t n)
{
	unsigned shift = pool->p->slot_shift;

	if (dev->mem->cfg.flags & IOTLB_MEM_SCRUB)
		memset(pool->vaddr + (first << shift), 0, n << shift);
}

/* Returns an allocation's slots, re-checking the handle under the area lock so
 * that a racing second release of the same handle is refused. */
static int release(struct iotlb_dev *dev, struct iotlb__pool *pool, uint64_t head, uint64_t first,
		   uint64_t n, uint8_t head_kind)
{
	struct iotlb__area *area = iotlb__area_at(pool, iotlb__area_of_slot(pool, first));
	_Alignas(IOTLB__CACHELINE) unsigned char ctx[IOTLB_LOCK_CTX_MAX];
	const struct iotlb__slot *s = &pool->slots[head];
	int err = -ENOENT;

	iotlb__area_lock(pool, area, ctx);
	if (s->kind == head_kind && s->owner == dev->id) {
		iotlb__slots_return(pool, first, n);
		IOTLB__BUMP(&area->used, -n);
		if (head_kind == IOTLB__SLOT_MAP_HEAD)
			IOTLB__BUMP(&area->unmaps, 1);
		else
			IOTLB__BUMP(&area->frees, 1);
		err = 0;
	}
	iotlb__area_unlock(pool, area, ctx);
	if (!err) {
		iotlb__domain_used_sub(pool->domain, n);
		__atomic_fetch_sub(&dev->live, 1, __ATOMIC_RELAXED);
		if (pool->transient)
			iotlb__transient_retire(pool);
	}
	return err;
}

int iotlb_unmap(struct iotlb_dev *dev, uint64_t dma, size_t size, enum iotlb_dir dir,
		unsigned attrs)
{
	struct iotlb__pool *pool;
	uint64_t first, n, offset;
	int64_t head;
	int err = -ENOENT;

	if (!dev || !size || !dir_valid(dir) || (attrs & ~KNOWN_ATTRS))
		return -EINVAL;
	iotlb__read_lock();
	pool = iotlb__domain_find_pool(dev->domain, dma);
	head = pool ? mapping_head(dev, pool, dma) : -1;
	if (head >= 0) {
		const struct iotlb__slot *s = &pool->slots[head];

		offset = dma & dev->min_align_mask & (pool->p->slot_size - 1);
		first = (uint64_t)head - s->pad_slots;
		n = ((uint64_t)pool->slots[first].alloc_size + offset + pool->p->slot_size - 1) >>
		    pool->p->slot_shift;
		if (dir_to_cpu(dir) && !(attrs & IOTLB_ATTR_SKIP_CPU_SYNC))
			bounce_copy(dev, pool, dma, size, true);
		scrub(dev, pool, first, n);
		err = release(dev, pool, (uint64_t)head, first, n, IOTLB__SLOT_MAP_HEAD);
	}
	iotlb__read_unlock();
	return debug_check(dev, err);
}

/* Is `t` inside the data of a live streaming mapping of this device? */
static bool in_live_data(const struct iotlb_dev *dev, const struct iotlb__pool *pool, uint64_t t)
{
	const struct iotlb_mem_params *p = pool->p;
	const struct iotlb__slot *s = &pool->slots[(t - pool->dma_addr) >> p->slot_shift];
	uint8_t kind = IOTLB__LOAD(&s->kind);
	int64_t delta;

	if ((kind != IOTLB__SLOT_MAP_HEAD && kind != IOTLB__SLOT_MAP_DATA) ||
	    IOTLB__LOAD(&s->owner) != dev->id)
		return false;
	delta = (int64_t)(t & (p->slot_size - 1)) -
		(int64_t)(s->orig & dev->min_align_mask & (p->slot_size - 1));
	/* Before the handle in its first slot, or past the allocation's end. */
	if (kind == IOTLB__SLOT_MAP_HEAD && delta < 0)
		return false;
	return s->alloc_size - delta > 0;
}

static int sync_range(struct iotlb_dev *dev, uint64_t dma, size_t size, enum iotlb_dir dir,
		      bool to_cpu)
{
	struct iotlb__pool *pool;
	int err = -ENOENT;

	if (!dev || !size || !dir_valid(dir))
		return -EINVAL;
	iotlb__read_lock();
	pool = iotlb__domain_find_pool(dev->domain, dma);
	if (pool && in_live_data(dev, pool, dma)) {
		bool copies = to_cpu ? dir_to_cpu(dir) : dir_to_device(dir);

		if (copies)
			bounce_copy(dev, pool, dma, size, to_cpu);
		IOTLB__ADD(&area_of_dma(pool, dma)->syncs, 1);
		err = 0;
	}
	iotlb__read_unlock();
	return err;
}

int iotlb_sync_for_cpu(struct iotlb_dev *dev, uint64_t dma, size_t size, enum iotlb_dir dir)
{
	return sync_range(dev, dma, size, dir, true);
}

int iotlb_sync_for_device(struct iotlb_dev *dev, uint64_t dma, size_t size, enum iotlb_dir dir)
{
	return sync_range(dev, dma, size, dir, false);
}

int iotlb_alloc(struct iotlb_dev *dev, size_t size, void **vaddr_out, uint64_t *dma_out)
{
	const struct iotlb_mem_params *p;
	struct iotlb__req req;
	struct iotlb__pool *pool;
	uint64_t align, slot;
	int err;

	if (!dev || !size || !vaddr_out || !dma_out)
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
	iotlb__read_lock();
	err = find_slots(dev, IOTLB_ANY_QUEUE, &req, IOTLB_ATTR_NO_WARN, &pool, &slot);
	if (!err) {
		/* Coherent memory starts zeroed, never with an earlier user's bytes. */
		memset(pool->vaddr + (slot << p->slot_shift), 0, size);
		*vaddr_out = pool->vaddr + (slot << p->slot_shift);
		*dma_out = pool->dma_addr + (slot << p->slot_shift);
	}
	iotlb__read_unlock();
	return debug_check(dev, err);
}

int iotlb_free(struct iotlb_dev *dev, uint64_t dma, size_t size)
{
	struct iotlb__pool *pool;
	int err = -ENOENT;

	if (!dev || !size)
		return -EINVAL;
	iotlb__read_lock();
	pool = iotlb__domain_find_pool(dev->domain, dma);
	if (pool) {
		const struct iotlb_mem_params *p = pool->p;
		uint64_t slot = (dma - pool->dma_addr) >> p->slot_shift;
		const struct iotlb__slot *s = &pool->slots[slot];

		if (dma == pool->dma_addr + (slot << p->slot_shift) &&
		    IOTLB__LOAD(&s->kind) == IOTLB__SLOT_COHERENT_HEAD &&
		    IOTLB__LOAD(&s->owner) == dev->id) {
			uint64_t n = ((uint64_t)s->alloc_size + p->slot_size - 1) >> p->slot_shift;

			scrub(dev, pool, slot, n);
			err = release(dev, pool, slot, slot, n, IOTLB__SLOT_COHERENT_HEAD);
		}
	}
	iotlb__read_unlock();
	return debug_check(dev, err);
}
