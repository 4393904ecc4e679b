/* SPDX-License-Identifier: MIT */
/*
 * Free-run bookkeeping and the slot search inside one area
 * (ALGORITHM.md sections 2 and 4). Everything here runs under the area lock.
 */
#include "internal.h"

static inline uint64_t segment_offset(const struct iotlb__pool *pool, uint64_t slot)
{
	return slot & (pool->p->segment_slots - 1);
}

void iotlb__slots_init(struct iotlb__pool *pool, uint64_t s, uint64_t n)
{
	uint64_t seg = pool->p->segment_slots;

	for (uint64_t i = s; i < s + n; i++) {
		uint64_t to_segment_end = seg - segment_offset(pool, i);
		uint64_t to_pool_end = pool->nslots - i;

		pool->list[i] =
			(uint32_t)(to_segment_end < to_pool_end ? to_segment_end : to_pool_end);
		pool->slots[i] = (struct iotlb__slot){0};
	}
}

/*
 * Walks back from slot s-1 through the free run that ends at s, numbering it
 * count+1, count+2, ... so that every slot again counts the free slots up to
 * the end of its segment. Stops at a segment boundary or an allocated slot.
 */
static void renumber_run_before(struct iotlb__pool *pool, uint64_t s, uint32_t count)
{
	uint64_t last_of_segment = pool->p->segment_slots - 1;

	for (uint64_t i = s; i-- > 0;) {
		if (segment_offset(pool, i) == last_of_segment || pool->list[i] == 0)
			break;
		pool->list[i] = ++count;
	}
}

static uint8_t slot_kind(const struct iotlb__req *req, uint64_t j)
{
	if (req->carve)
		return IOTLB__SLOT_CARVED;
	if (req->coherent)
		return j == 0 ? IOTLB__SLOT_COHERENT_HEAD : IOTLB__SLOT_COHERENT_DATA;
	if (j < req->pad_slots)
		return IOTLB__SLOT_PAD;
	return j == req->pad_slots ? IOTLB__SLOT_MAP_HEAD : IOTLB__SLOT_MAP_DATA;
}

void iotlb__slots_take(struct iotlb__pool *pool, uint64_t s, uint64_t n,
		       const struct iotlb__req *req)
{
	unsigned shift = pool->p->slot_shift;
	uint64_t offset = req->orig & req->min_align_mask & (pool->p->slot_size - 1);

	for (uint64_t j = 0; j < n; j++) {
		struct iotlb__slot *slot = &pool->slots[s + j];
		uint8_t kind = slot_kind(req, j);

		pool->list[s + j] = 0;
		/* Computed modulo 2^64: the last slot may hold a negative value. */
		slot->alloc_size = (int64_t)(req->alloc_size - (offset + (j << shift)));
		slot->orig = 0;
		slot->pad_slots = 0;
		if (kind == IOTLB__SLOT_MAP_HEAD || kind == IOTLB__SLOT_MAP_DATA)
			slot->orig = req->orig + ((j - req->pad_slots) << shift);
		if (kind == IOTLB__SLOT_MAP_HEAD)
			slot->pad_slots = req->pad_slots;
		IOTLB__STORE(&slot->owner, req->owner);
		IOTLB__STORE(&slot->kind, kind);
	}
	renumber_run_before(pool, s, 0);
}

void iotlb__slots_return(struct iotlb__pool *pool, uint64_t s, uint64_t n)
{
	uint64_t seg = pool->p->segment_slots;
	uint64_t next = s + n;
	uint32_t count = 0;

	/* The run after us joins only inside the same segment and the pool. */
	if (next < pool->nslots && next / seg == s / seg)
		count = pool->list[next];
	for (uint64_t i = next; i-- > s;) {
		struct iotlb__slot *slot = &pool->slots[i];

		/* A range of whole blocks spans segments: each run stops at its end. */
		if (segment_offset(pool, i) == seg - 1)
			count = 0;
		pool->list[i] = ++count;
		slot->orig = 0;
		slot->alloc_size = 0;
		slot->pad_slots = 0;
		IOTLB__STORE(&slot->owner, 0);
		IOTLB__STORE(&slot->kind, (uint8_t)IOTLB__SLOT_FREE);
	}
	renumber_run_before(pool, s, count);
}

/* The derived masks of ALGORITHM.md 4 steps 4-7. */
struct search_masks {
	uint64_t alloc_align;
	uint64_t iotlb_align;
	uint64_t stride;
};

static struct search_masks search_masks(const struct iotlb__pool *pool,
					const struct iotlb__req *req)
{
	const struct iotlb_mem_params *p = pool->p;
	struct search_masks m;
	uint64_t stride_mask;

	m.alloc_align = req->alloc_align_mask;
	if (m.alloc_align == 0 && req->min_align_mask == 0 && req->alloc_size >= p->page_size)
		m.alloc_align = p->page_size - 1;
	m.alloc_align |= p->slot_size - 1;
	m.iotlb_align = req->min_align_mask & ~m.alloc_align;
	stride_mask = m.alloc_align > m.iotlb_align ? m.alloc_align : m.iotlb_align;
	m.stride = (stride_mask >> p->slot_shift) + 1;
	return m;
}

uint64_t iotlb__req_stride(const struct iotlb_mem_params *p, const struct iotlb__req *req)
{
	struct iotlb__pool fake = {.p = p};

	return search_masks(&fake, req).stride;
}

bool iotlb__req_fits_at(const struct iotlb_mem_params *p, const struct iotlb__req *req,
			uint64_t addr)
{
	struct iotlb__pool fake = {.p = p};
	struct search_masks m = search_masks(&fake, req);
	uint64_t tbl = addr & req->seg_boundary_mask;
	uint64_t max_slots = (req->seg_boundary_mask >> p->slot_shift) + 1;
	uint64_t nslots = (req->alloc_size + p->slot_size - 1) >> p->slot_shift;

	if (tbl & m.alloc_align)
		return false;
	if (!req->coherent && (tbl & m.iotlb_align) != (req->orig & m.iotlb_align))
		return false;
	return ((tbl >> p->slot_shift) & (max_slots - 1)) + nslots <= max_slots;
}

/* Does [slot, slot + n) cross a seg_boundary_mask boundary? */
static inline bool crosses_boundary(uint64_t tbl_slot, uint64_t slot, uint64_t n,
				    uint64_t max_slots)
{
	return ((tbl_slot + slot) & (max_slots - 1)) + n > max_slots;
}

int64_t iotlb__area_find(struct iotlb__pool *pool, unsigned a, const struct iotlb__req *req)
{
	const struct iotlb_mem_params *p = pool->p;
	struct iotlb__area *area = iotlb__area_at(pool, a);
	unsigned shift = p->slot_shift;
	uint64_t tbl = pool->dma_addr & req->seg_boundary_mask;
	uint64_t tbl_slot = tbl >> shift;
	/* (mask >> shift) + 1 cannot overflow for shift >= 1. */
	uint64_t max_slots = (req->seg_boundary_mask >> shift) + 1;
	uint64_t nslots = (req->alloc_size + p->slot_size - 1) >> shift;
	struct search_masks m = search_masks(pool, req);
	_Alignas(IOTLB__CACHELINE) unsigned char ctx[IOTLB_LOCK_CTX_MAX];
	int64_t found = -1;

	iotlb__area_lock(pool, area, ctx);
	if (nslots <= area->nslots - area->used) {
		uint64_t index = area->index;

		for (uint64_t checked = 0; checked < area->nslots;) {
			uint64_t slot = area->base + index;
			uint64_t addr = tbl + (slot << shift);

			if ((addr & m.alloc_align) ||
			    (!req->coherent &&
			     (addr & m.iotlb_align) != (req->orig & m.iotlb_align))) {
				index = index + 1 >= area->nslots ? 0 : index + 1;
				checked += 1;
				continue;
			}
			if (!crosses_boundary(tbl_slot, slot, nslots, max_slots) &&
			    pool->list[slot] >= nslots) {
				found = (int64_t)slot;
				break;
			}
			index = index + m.stride >= area->nslots ? 0 : index + m.stride;
			checked += m.stride;
		}
		if (found >= 0) {
			iotlb__slots_take(pool, (uint64_t)found, nslots, req);
			/* Stats read the cursor without the lock. */
			IOTLB__STORE(&area->index,
				     index + nslots >= area->nslots ? 0 : index + nslots);
			IOTLB__BUMP(&area->used, nslots);
			if (req->coherent && !req->carve)
				IOTLB__BUMP(&area->allocs, 1);
			else if (!req->carve)
				IOTLB__BUMP(&area->maps, 1);
			IOTLB__ADD(&area->bounced_to_device, req->bounce_bytes);
		}
	}
	iotlb__area_unlock(pool, area, ctx);
	return found;
}
