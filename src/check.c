/* SPDX-License-Identifier: MIT */
/*
 * The invariant checker: recomputes what the incremental bookkeeping must
 * equal (free runs from occupancy, used counts from slot kinds) and checks
 * that every allocation is well formed. Used by tests and debug builds.
 */
#include <stdio.h>

#include "bitmap.h"
#include "internal.h"

#define FAIL(...)                                            \
	do {                                                 \
		if (why)                                     \
			snprintf(why, why_len, __VA_ARGS__); \
		return -EFAULT;                              \
	} while (0)

static bool is_start(uint8_t kind)
{
	return kind == IOTLB__SLOT_PAD || kind == IOTLB__SLOT_MAP_HEAD ||
	       kind == IOTLB__SLOT_COHERENT_HEAD;
}

/* Checks one allocation starting at `s`; returns its length in slots via *len. */
static int check_allocation(const struct iotlb__pool *pool, uint64_t s, uint64_t *len, char *why,
			    size_t why_len)
{
	const struct iotlb_mem_params *p = pool->p;
	const struct iotlb__slot *first = &pool->slots[s];
	uint64_t pads = 0, n = 1, lo, hi;
	uint64_t a = (uint64_t)first->alloc_size;

	while (s + pads < pool->nslots && pool->slots[s + pads].kind == IOTLB__SLOT_PAD)
		pads++;
	if (first->kind == IOTLB__SLOT_PAD) {
		if (s + pads >= pool->nslots || pool->slots[s + pads].kind != IOTLB__SLOT_MAP_HEAD)
			FAIL("slot %llu: padding not followed by a mapping", (unsigned long long)s);
		if (pool->slots[s + pads].pad_slots != pads)
			FAIL("slot %llu: pad_slots %u, %llu padding slots",
			     (unsigned long long)(s + pads), pool->slots[s + pads].pad_slots,
			     (unsigned long long)pads);
		n = pads + 1;
	}
	while (s + n < pool->nslots && !is_start(pool->slots[s + n].kind) &&
	       pool->slots[s + n].kind != IOTLB__SLOT_FREE &&
	       pool->slots[s + n].kind != IOTLB__SLOT_CARVED)
		n++;
	for (uint64_t j = 1; j < n; j++) {
		const struct iotlb__slot *prev = &pool->slots[s + j - 1],
					 *cur = &pool->slots[s + j];

		if (cur->owner != first->owner)
			FAIL("slot %llu: owner changes inside an allocation",
			     (unsigned long long)(s + j));
		if (cur->alloc_size != prev->alloc_size - (int64_t)p->slot_size)
			FAIL("slot %llu: alloc_size %lld after %lld", (unsigned long long)(s + j),
			     (long long)cur->alloc_size, (long long)prev->alloc_size);
		if (cur->kind == IOTLB__SLOT_MAP_DATA && cur->orig != prev->orig + p->slot_size)
			FAIL("slot %llu: orig does not follow", (unsigned long long)(s + j));
		if (cur->kind == IOTLB__SLOT_COHERENT_DATA && cur->orig)
			FAIL("slot %llu: coherent slot with an original",
			     (unsigned long long)(s + j));
	}
	/* n = ceil((alloc_size + offset) / slot) for some offset in [0, slot). */
	lo = (a + p->slot_size - 1) >> p->slot_shift;
	hi = (a + 2 * p->slot_size - 2) >> p->slot_shift;
	if (n < lo || n > hi)
		FAIL("slot %llu: %llu slots for alloc_size %llu", (unsigned long long)s,
		     (unsigned long long)n, (unsigned long long)a);
	if (s / p->segment_slots != (s + n - 1) / p->segment_slots)
		FAIL("slot %llu: allocation of %llu slots crosses a segment", (unsigned long long)s,
		     (unsigned long long)n);
	if (iotlb__area_of_slot(pool, s) != iotlb__area_of_slot(pool, s + n - 1))
		FAIL("slot %llu: allocation crosses an area", (unsigned long long)s);
	*len = n;
	return 0;
}

/* Areas tile the pool in order and every cursor is inside its area. */
static int check_area_layout(const struct iotlb__pool *pool, char *why, size_t why_len)
{
	uint64_t next = 0;

	for (unsigned a = 0; a < pool->nareas; a++) {
		const struct iotlb__area *area = iotlb__area_at(pool, a);

		if (area->base != next)
			FAIL("area %u: areas do not tile the pool", a);
		if (area->index >= area->nslots)
			FAIL("area %u: cursor %llu of %llu", a, (unsigned long long)area->index,
			     (unsigned long long)area->nslots);
		next += area->nslots;
	}
	if (next != pool->nslots)
		FAIL("areas cover %llu of %llu slots", (unsigned long long)next,
		     (unsigned long long)pool->nslots);
	return 0;
}

/*
 * One backward walk recomputes the kernel's free runs from the slot kinds (a
 * run restarts at every segment end), independently of the bitmap, and
 * compares them with the counters derived from the bitmap; it also checks
 * that free slots carry no metadata, that each segment's hint bounds its
 * longest free run, and counts the used slots of each area.
 */
static int check_runs_and_used(const struct iotlb__pool *pool, char *why, size_t why_len)
{
	const uint64_t seg = pool->p->segment_slots, seg_mask = seg - 1;
	uint64_t run = 0;

	for (unsigned a = pool->nareas; a-- > 0;) {
		const struct iotlb__area *area = iotlb__area_at(pool, a);
		uint64_t used = 0, longest = 0;

		for (uint64_t i = area->base + area->nslots; i-- > area->base;) {
			const struct iotlb__slot *s = &pool->slots[i];
			bool segment_end = ((i + 1) & seg_mask) == 0 || i + 1 == pool->nslots;
			bool taken = iotlb__bitmap_test(area->map, i - area->base);

			if (segment_end)
				longest = 0;
			if (s->kind == IOTLB__SLOT_FREE) {
				run = segment_end ? 1 : run + 1;
				if (s->orig || s->alloc_size || s->pad_slots || s->owner || s->tail)
					FAIL("slot %llu: free slot with metadata",
					     (unsigned long long)i);
			} else {
				run = 0;
				used++;
				if (!s->owner)
					FAIL("slot %llu: allocated without owner",
					     (unsigned long long)i);
			}
			if (s->area != a)
				FAIL("slot %llu: records area %u, lies in area %u",
				     (unsigned long long)i, s->area, a);
			if (taken != (s->kind != IOTLB__SLOT_FREE))
				FAIL("slot %llu: bitmap says %s, slot kind %u", (unsigned long long)i,
				     taken ? "taken" : "free", s->kind);
			/* The derived counter, where a free run starts (inside a run
			 * it follows from the bitmap check above, one less a slot). */
			if (s->kind == IOTLB__SLOT_FREE &&
			    (i == area->base || (i & seg_mask) == 0 ||
			     pool->slots[i - 1].kind != IOTLB__SLOT_FREE) &&
			    iotlb__slots_free_run(pool, i) != run)
				FAIL("slot %llu: list %u, occupancy says %llu",
				     (unsigned long long)i, iotlb__slots_free_run(pool, i),
				     (unsigned long long)run);
			longest = run > longest ? run : longest;
			if (((i - area->base) & seg_mask) == 0 &&
			    area->hint[(i - area->base) / seg] < longest)
				FAIL("slot %llu: segment hint %u below its free run %llu",
				     (unsigned long long)i, area->hint[(i - area->base) / seg],
				     (unsigned long long)longest);
		}
		if (used != area->used)
			FAIL("area %u: used %llu, occupancy says %llu", a,
			     (unsigned long long)area->used, (unsigned long long)used);
		/* Past the area the bitmap reads as taken. */
		if (iotlb__bitmap_next_clear(area->map, area->nslots,
					     (area->nslots / 64 + 1) * 64) != (area->nslots / 64 + 1) * 64)
			FAIL("area %u: bitmap free past the area's end", a);
	}
	return 0;
}

int iotlb__check_pool(const struct iotlb__pool *pool, char *why, size_t why_len)
{
	int err;

	err = check_area_layout(pool, why, why_len);
	if (!err)
		err = check_runs_and_used(pool, why, why_len);
	if (err)
		return err;
	/* Allocations are well formed. */
	for (uint64_t i = 0; i < pool->nslots;) {
		uint8_t kind = pool->slots[i].kind;
		uint64_t len = 1;

		if (is_start(kind)) {
			err = check_allocation(pool, i, &len, why, why_len);
			if (err)
				return err;
		} else if (kind != IOTLB__SLOT_FREE && kind != IOTLB__SLOT_CARVED) {
			FAIL("slot %llu: kind %u outside any allocation", (unsigned long long)i,
			     kind);
		}
		i += len;
	}
	return 0;
}

static int64_t pool_slack(const struct iotlb__pool *pool)
{
	int64_t slack = 0;

	for (unsigned a = 0; a < pool->nareas; a++)
		slack += iotlb__area_at(pool, a)->hw_slack;
	return slack;
}

static int check_domain(const struct iotlb__domain *d, char *why, size_t why_len)
{
	const struct iotlb__pool *pool;
	uint64_t used = 0, nslots = 0, npools = 0;
	int64_t slack = 0;
	int err;

	for (pool = d->pools; pool; pool = pool->next) {
		err = iotlb__check_pool(pool, why, why_len);
		if (err)
			return err;
		used += iotlb__pool_used(pool);
		slack += pool_slack(pool);
		nslots += pool->nslots;
		npools++;
	}
	for (pool = d->transient; pool; pool = pool->next) {
		err = iotlb__check_pool(pool, why, why_len);
		if (err)
			return err;
		used += iotlb__pool_used(pool);
		slack += pool_slack(pool);
	}
	slack += d->hw_spare;
	if (!d->hw_reset_pending && (int64_t)d->hw - (int64_t)used != slack)
		FAIL("high-water %llu, used %llu, headroom %lld", (unsigned long long)d->hw,
		     (unsigned long long)used, (long long)slack);
	if (nslots != d->nslots || npools != d->npools)
		FAIL("domain nslots/npools %llu/%llu, pools say %llu/%llu",
		     (unsigned long long)d->nslots, (unsigned long long)d->npools,
		     (unsigned long long)nslots, (unsigned long long)npools);
	return 0;
}

int iotlb__check_mem(const struct iotlb_mem *mem, char *why, size_t why_len)
{
	if (!mem)
		return -EINVAL;
	return check_domain(&mem->shared, why, why_len);
}

int iotlb__check_dev(const struct iotlb_dev *dev, char *why, size_t why_len)
{
	if (!dev)
		return -EINVAL;
	return check_domain(dev->domain, why, why_len);
}
