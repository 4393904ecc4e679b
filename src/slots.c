/* SPDX-License-Identifier: MIT */
/*
 * Slot state of a pool: occupancy in each area's bitmap (the only
 * occupancy state map and unmap write), per-segment hints for the search,
 * and the per-slot records that make handles checkable. The kernel's
 * free-run counters are derived from the bitmap on demand
 * (docs/design.md, "The slot bitmap").
 */
#include "bitmap.h"
#include "internal.h"

static uint64_t segment_len(const struct iotlb__area *area, uint64_t seg, uint64_t i)
{
	uint64_t left = area->nslots - i * seg;

	return left < seg ? left : seg;
}

void iotlb__slots_init_area(struct iotlb__pool *pool, struct iotlb__area *area)
{
	uint64_t seg = pool->p->segment_slots;
	uint64_t nsegs = (area->nslots + seg - 1) / seg;

	/* The words past the area (one sentinel word at least) read as taken,
	 * so every scan stops at the area's end without a bound check. */
	for (uint64_t w = 0; w < area->nslots / IOTLB__BITS + 1; w++)
		area->map[w] = 0;
	iotlb__bitmap_assign(area->map, area->nslots,
			     (area->nslots / IOTLB__BITS + 1) * IOTLB__BITS - area->nslots, true);
	for (uint64_t i = 0; i < nsegs; i++)
		area->hint[i] = (uint32_t)segment_len(area, seg, i);
	/* Which area owns a slot never changes: unmap reads it without a lock. */
	for (uint64_t i = area->base; i < area->base + area->nslots; i++)
		pool->slots[i].area = (uint16_t)area->number;
}

/* Kind of slot j of a carve or a coherent allocation (streaming maps
 * record theirs in order: padding, head, data). */
static uint8_t whole_kind(const struct iotlb__req *req, uint64_t j)
{
	if (req->carve)
		return IOTLB__SLOT_CARVED;
	return j == 0 ? IOTLB__SLOT_COHERENT_HEAD : IOTLB__SLOT_COHERENT_DATA;
}

static void slot_record(struct iotlb__slot *slot, const struct iotlb__req *req, uint8_t kind,
			int64_t alloc_size, uint64_t orig, uint32_t pad_slots)
{
	slot->alloc_size = alloc_size;
	slot->orig = orig;
	slot->pad_slots = pad_slots;
	slot->tail = req->tail;
	/* Read without the lock by iotlb_dev_destroy's scan for live handles. */
	IOTLB__STORE(&slot->owner, req->owner);
	IOTLB__STORE(&slot->kind, kind);
}

void iotlb__slots_take(struct iotlb__pool *pool, struct iotlb__area *area, uint64_t s, uint64_t n,
		       const struct iotlb__req *req)
{
	unsigned shift = pool->p->slot_shift;
	uint64_t offset = req->orig & req->min_align_mask & (pool->p->slot_size - 1);
	/* alloc_size of slot j, modulo 2^64: the last slot may hold a negative value. */
	uint64_t left = req->alloc_size - offset;
	struct iotlb__slot *slot = &pool->slots[s];

	iotlb__bitmap_assign(area->map, s - area->base, n, true);
	if (req->carve || req->coherent) {
		for (uint64_t j = 0; j < n; j++)
			slot_record(&slot[j], req, whole_kind(req, j),
				    (int64_t)(left - (j << shift)), 0, 0);
		return;
	}
	/* A streaming map: padding, the head (which keeps the padding count),
	 * then the data slots, each mirroring its part of the original. */
	for (uint64_t j = 0; j < req->pad_slots; j++)
		slot_record(&slot[j], req, IOTLB__SLOT_PAD, (int64_t)(left - (j << shift)), 0, 0);
	slot += req->pad_slots;
	left -= (uint64_t)req->pad_slots << shift;
	slot_record(slot, req, IOTLB__SLOT_MAP_HEAD, (int64_t)left, req->orig, req->pad_slots);
	for (uint64_t j = 1; j < n - req->pad_slots; j++)
		slot_record(&slot[j], req, IOTLB__SLOT_MAP_DATA, (int64_t)(left - (j << shift)),
			    req->orig + (j << shift), 0);
}

void iotlb__slots_return(struct iotlb__pool *pool, struct iotlb__area *area, uint64_t s, uint64_t n)
{
	uint64_t seg = pool->p->segment_slots;
	unsigned seg_shift = (unsigned)__builtin_ctzll(seg);
	uint64_t first = s - area->base;

	iotlb__bitmap_assign(area->map, first, n, false);
	/* Hints are upper bounds: the freed run may now be the longest. Segments
	 * are powers of two, so no division on unmap. */
	for (uint64_t i = first >> seg_shift; i <= (first + n - 1) >> seg_shift; i++)
		area->hint[i] = (uint32_t)segment_len(area, seg, i);
	for (uint64_t i = s; i < s + n; i++) {
		struct iotlb__slot *slot = &pool->slots[i];

		/* Owner and kind are read by iotlb_dev_destroy's scan. `area` is
		 * left alone: set once at creation, unmap reads it without a lock. */
		IOTLB__STORE(&slot->owner, 0);
		IOTLB__STORE(&slot->kind, (uint8_t)IOTLB__SLOT_FREE);
		slot->orig = 0;
		slot->alloc_size = 0;
		slot->pad_slots = 0;
		slot->tail = 0;
	}
}

uint32_t iotlb__slots_free_run(const struct iotlb__pool *pool, uint64_t i)
{
	const struct iotlb__area *area = iotlb__area_at(pool, pool->slots[i].area);
	uint64_t seg = pool->p->segment_slots;
	uint64_t rel = i - area->base;
	uint64_t seg_end = (rel | (seg - 1)) + 1;

	/* Free slots up to the next taken one, the segment's end or the pool's. */
	return (uint32_t)(iotlb__bitmap_next_set(area->map, rel, seg_end) - rel);
}

bool iotlb__slots_range_free(const struct iotlb__pool *pool, uint64_t s, uint64_t n)
{
	while (n) {
		const struct iotlb__area *area = iotlb__area_at(pool, iotlb__area_of_slot(pool, s));
		uint64_t rel = s - area->base;
		uint64_t span = area->nslots - rel < n ? area->nslots - rel : n;

		if (iotlb__bitmap_next_set(area->map, rel, rel + span) != rel + span)
			return false;
		s += span;
		n -= span;
	}
	return true;
}

void iotlb__slots_free_runs(const struct iotlb__pool *pool, uint32_t *out)
{
	const uint64_t seg_mask = pool->p->segment_slots - 1;

	/* One backward pass per area: a run restarts at every segment end. */
	for (unsigned a = 0; a < pool->nareas; a++) {
		const struct iotlb__area *area = iotlb__area_at(pool, a);
		uint32_t run = 0;

		for (uint64_t rel = area->nslots; rel-- > 0;) {
			uint64_t i = area->base + rel;

			if (iotlb__bitmap_test(area->map, rel))
				run = 0;
			else if (((i + 1) & seg_mask) == 0 || rel + 1 == area->nslots)
				run = 1;
			else
				run++;
			out[i] = run;
		}
	}
}
