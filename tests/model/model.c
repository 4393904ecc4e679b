/* SPDX-License-Identifier: MIT */
/*
 * Reference model of docs/algorithm.md sections 2-4 (slots, areas, search),
 * over plain occupancy arrays, one set per pool. Free-run counters are never
 * stored; they are counted from occupancy when asked, so they cannot drift.
 */
#include "model_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void model__bug(const char *what)
{
	fprintf(stderr, "model: internal inconsistency: %s\n", what);
	abort();
}

/* ------------------------------------------------------------ section 3 */

unsigned model_nareas_for(unsigned requested, uint64_t nslots, unsigned segment_slots)
{
	uint64_t n = 1;
	uint64_t limit;

	/* a count that is not a power of two is rounded up */
	while (n < requested)
		n *= 2;
	/* limited to the pool: the largest power of two not above max(1, nslots / seg) */
	if (n * segment_slots > nslots) {
		limit = nslots / segment_slots;
		if (limit < 1)
			limit = 1;
		n = 1;
		while (n * 2 <= limit)
			n *= 2;
	}
	return (unsigned)n;
}

struct model_pool *model__pool_new(const struct model *m, uint64_t vaddr, uint64_t dma,
				   uint64_t nslots, unsigned nareas_req)
{
	struct model_pool *pool = calloc(1, sizeof(*pool));
	unsigned a;

	if (!pool)
		return NULL;
	pool->vaddr = vaddr;
	pool->dma_addr = dma;
	pool->nslots = nslots;
	pool->nareas = model_nareas_for(nareas_req, nslots, m->p.segment_slots);
	/* nslots / nareas rounded down to whole segments; the last area takes the rest */
	pool->area_nslots = nslots / pool->nareas;
	pool->area_nslots -= pool->area_nslots % m->p.segment_slots;

	pool->areas = calloc(pool->nareas, sizeof(*pool->areas));
	pool->owner = calloc(nslots, sizeof(*pool->owner));
	pool->orig = calloc(nslots, sizeof(*pool->orig));
	pool->orig_valid = calloc(nslots, sizeof(*pool->orig_valid));
	pool->alloc_size = calloc(nslots, sizeof(*pool->alloc_size));
	pool->pad_slots = calloc(nslots, sizeof(*pool->pad_slots));
	if (!pool->areas || !pool->owner || !pool->orig || !pool->orig_valid ||
	    !pool->alloc_size || !pool->pad_slots) {
		model__pool_free(pool);
		return NULL;
	}
	for (a = 0; a < pool->nareas; a++) {
		pool->areas[a].base = (uint64_t)a * pool->area_nslots;
		if (a == pool->nareas - 1)
			pool->areas[a].nslots = nslots - pool->areas[a].base;
		else
			pool->areas[a].nslots = pool->area_nslots;
	}
	return pool;
}

void model__pool_free(struct model_pool *pool)
{
	if (!pool)
		return;
	free(pool->areas);
	free(pool->owner);
	free(pool->orig);
	free(pool->orig_valid);
	free(pool->alloc_size);
	free(pool->pad_slots);
	free(pool);
}

void model__domain_add(struct model_domain *dom, struct model_pool *pool)
{
	if (dom->npools == MODEL_MAX_POOLS)
		model__bug("too many pools in one domain");
	pool->index = dom->npools;
	dom->pools[dom->npools++] = pool;
	dom->nslots += pool->nslots;
	if (pool->nareas > dom->max_nareas)
		dom->max_nareas = pool->nareas;
}

int model_init(struct model *m, const struct model_params *p)
{
	struct model_pool *pool;

	memset(m, 0, sizeof(*m));
	m->p = *p;
	m->slot_size = (uint64_t)1 << p->slot_shift;
	m->block_slots = p->block_slots ? p->block_slots : 1024;
	pool = model__pool_new(m, p->vaddr, p->dma_addr, p->nslots, p->nareas_req);
	if (!pool)
		return -ENOMEM;
	model__domain_add(&m->shared, pool);

	/* the one-pool view */
	m->nareas = pool->nareas;
	m->area_nslots = pool->area_nslots;
	m->areas = pool->areas;
	m->owner = pool->owner;
	m->orig = pool->orig;
	m->orig_valid = pool->orig_valid;
	m->alloc_size = pool->alloc_size;
	m->pad_slots = pool->pad_slots;
	return 0;
}

void model_fini(struct model *m)
{
	unsigned k;

	for (k = 0; k < MODEL_MAX_PRIVATE; k++)
		if (m->priv[k].live)
			model__pool_free(m->priv[k].dom.pools[0]);
	for (k = 0; k < m->shared.npools; k++)
		model__pool_free(m->shared.pools[k]);
	free(m->allocs);
	memset(m, 0, sizeof(*m));
}

unsigned model_pool_area_of_slot(const struct model_pool *pool, uint64_t slot)
{
	unsigned a;

	for (a = 0; a < pool->nareas; a++)
		if (slot >= pool->areas[a].base &&
		    slot < pool->areas[a].base + pool->areas[a].nslots)
			return a;
	model__bug("slot outside every area");
}

unsigned model_area_of_slot(const struct model *m, uint64_t slot)
{
	return model_pool_area_of_slot(m->shared.pools[0], slot);
}

/* ------------------------------------------------------------ section 2 */

uint64_t model_pool_free_run(const struct model *m, const struct model_pool *pool, uint64_t i)
{
	uint64_t n = 0;
	uint64_t j;

	/* count free slots from i, stopping at the end of i's segment or of the pool */
	for (j = i; j < pool->nslots; j++) {
		if (pool->owner[j])
			break;
		n++;
		if ((j + 1) % m->p.segment_slots == 0)
			break;
	}
	return n;
}

void model_pool_free_runs(const struct model *m, const struct model_pool *pool, uint32_t *out)
{
	uint64_t i = pool->nslots;
	uint64_t next = 0; /* free run of slot i + 1 when in the same segment */

	/* the same count as model_pool_free_run, walked backwards to be linear */
	while (i-- > 0) {
		if (pool->owner[i])
			next = 0;
		else if (i + 1 < pool->nslots && (i + 1) % m->p.segment_slots != 0)
			next = next + 1;
		else
			next = 1;
		out[i] = (uint32_t)next;
	}
}

uint64_t model_free_run(const struct model *m, uint64_t i)
{
	return model_pool_free_run(m, m->shared.pools[0], i);
}

void model_free_runs(const struct model *m, uint32_t *out)
{
	model_pool_free_runs(m, m->shared.pools[0], out);
}

const struct model_alloc *model__alloc_of_slot(const struct model *m,
					       const struct model_pool *pool, uint64_t slot)
{
	if (!pool->owner[slot])
		return NULL;
	return &m->allocs[pool->owner[slot] - 1];
}

enum model_slot_kind model_pool_slot_kind(const struct model *m, const struct model_pool *pool,
					  uint64_t slot)
{
	const struct model_alloc *al = model__alloc_of_slot(m, pool, slot);

	if (!al)
		return MODEL_SLOT_FREE;
	if (al->carved)
		return MODEL_SLOT_CARVED;
	if (al->coherent)
		return slot == al->first ? MODEL_SLOT_COHERENT_HEAD : MODEL_SLOT_COHERENT_DATA;
	if (slot < al->first + al->pad)
		return MODEL_SLOT_PAD;
	return slot == al->first + al->pad ? MODEL_SLOT_MAP_HEAD : MODEL_SLOT_MAP_DATA;
}

int model_pool_slot_dev(const struct model *m, const struct model_pool *pool, uint64_t slot)
{
	const struct model_alloc *al = model__alloc_of_slot(m, pool, slot);

	return al ? (int)al->dev : -1;
}

enum model_slot_kind model_slot_kind(const struct model *m, uint64_t slot)
{
	return model_pool_slot_kind(m, m->shared.pools[0], slot);
}

int model_slot_dev(const struct model *m, uint64_t slot)
{
	return model_pool_slot_dev(m, m->shared.pools[0], slot);
}

/* ------------------------------------------------------------ section 4 */

/* Search one area, steps 1-11. Returns true and the slot when found. */
static bool area_search(const struct model *m, const struct model_pool *pool, unsigned a,
			const struct model_req *r, uint64_t *slot_out, uint64_t *examined)
{
	const struct model_area *ar = &pool->areas[a];
	uint64_t slot_size = m->slot_size;
	unsigned shift = m->p.slot_shift;
	uint64_t tbl, max_slots, nslots, align, iotlb_align, stride;
	uint64_t base, index, checked, slot, addr;

	/* 1. */
	tbl = pool->dma_addr & r->seg_boundary_mask;
	max_slots = (r->seg_boundary_mask >> shift) + 1;
	/* 2. */
	nslots = model__div_round_up(r->alloc_size, slot_size);
	if (nslots == 0)
		model__bug("search for 0 slots");
	/* 3. (the offset only matters when the slots are taken) */
	/* 4. legacy page alignment */
	align = r->alloc_align_mask;
	if (align == 0 && r->min_align_mask == 0 && r->alloc_size >= m->p.page_size)
		align = m->p.page_size - 1;
	/* 5. */
	align |= slot_size - 1;
	/* 6. */
	iotlb_align = r->min_align_mask & ~align;
	/* 7. */
	stride = ((align > iotlb_align ? align : iotlb_align) >> shift) + 1;

	/* 8. quick reject */
	if (nslots > ar->nslots - ar->used)
		return false;
	/* 9. */
	base = ar->base;
	index = ar->index;
	checked = 0;
	/* 10. */
	while (checked < ar->nslots) {
		slot = base + index;
		addr = tbl + slot * slot_size;
		(*examined)++;
		if ((addr & align) != 0 ||
		    (r->has_orig && (addr & iotlb_align) != (r->orig & iotlb_align))) {
			index = index + 1;
			if (index == ar->nslots)
				index = 0;
			checked += 1;
			continue;
		}
		if (((tbl >> shift) + slot) % max_slots + nslots <= max_slots &&
		    model_pool_free_run(m, pool, slot) >= nslots) {
			*slot_out = slot;
			return true;
		}
		index = index + stride;
		if (index >= ar->nslots)
			index = 0;
		checked += stride;
	}
	/* 11. */
	return false;
}

/*
 * Sections 3 and 7: for k = 0 .. max_nareas-1, for each pool newest first
 * with k < its nareas, area (hint + k) & (nareas - 1). First success wins.
 */
int model__domain_search(const struct model *m, const struct model_domain *dom, unsigned hint,
			 const struct model_req *r, struct model_found *f, uint64_t *examined)
{
	unsigned k, a, n, attempts = 0;
	struct model_pool *pool;

	*examined = 0;
	for (k = 0; k < dom->max_nareas; k++) {
		for (n = dom->npools; n-- > 0;) {
			pool = dom->pools[n];
			if (k >= pool->nareas)
				continue;
			attempts++;
			a = (hint + k) & (pool->nareas - 1);
			if (area_search(m, pool, a, r, &f->slot, examined)) {
				f->pool = pool;
				f->area = a;
				f->nslots = model__div_round_up(r->alloc_size, m->slot_size);
				f->fallback = attempts > 1;
				return 0;
			}
		}
	}
	f->pool = NULL;
	f->fallback = attempts > 1;
	return -ENOSPC;
}

size_t model__new_alloc(struct model *m)
{
	struct model_alloc *na;
	size_t cap;

	if (m->nallocs == m->allocs_cap) {
		cap = m->allocs_cap ? m->allocs_cap * 2 : 64;
		na = realloc(m->allocs, cap * sizeof(*na));
		if (!na)
			model__bug("out of memory");
		m->allocs = na;
		m->allocs_cap = cap;
	}
	memset(&m->allocs[m->nallocs], 0, sizeof(m->allocs[0]));
	return m->nallocs++;
}

void model__used_add(struct model_stats *st, uint64_t n)
{
	st->used += n;
	if (st->used > st->used_hiwater)
		st->used_hiwater = st->used;
}

/* Steps 12-14 and 2.1: take the slots found, move the cursor, count them. */
void model__take(struct model *m, struct model_stats *st, const struct model_found *f,
		 const struct model_req *r, size_t alloc_nr)
{
	struct model_pool *pool = f->pool;
	struct model_area *ar = &pool->areas[f->area];
	uint64_t offset = 0;
	uint64_t j, index;

	/* 3. */
	if (r->has_orig)
		offset = r->orig & r->min_align_mask & (m->slot_size - 1);
	if (model_pool_area_of_slot(pool, f->slot + f->nslots - 1) != f->area)
		model__bug("allocation spans two areas");
	for (j = 0; j < f->nslots; j++) {
		if (pool->owner[f->slot + j])
			model__bug("taking an allocated slot");
		pool->owner[f->slot + j] = (uint32_t)(alloc_nr + 1);
		pool->alloc_size[f->slot + j] =
			(int64_t)r->alloc_size - (int64_t)(offset + j * m->slot_size);
	}
	/* 13. */
	index = f->slot - ar->base + f->nslots;
	ar->index = index >= ar->nslots ? 0 : index;
	/* 14. */
	ar->used += f->nslots;
	model__used_add(st, f->nslots);
	if (f->fallback)
		st->area_fallbacks++;
	m->last_pool = pool;
	m->last_area = f->area;
	m->last_fallback = f->fallback;
}

/* 2.2: return slots [s, s+n); the counters follow from occupancy. */
void model__give_back(struct model *m, struct model_stats *st, struct model_pool *pool,
		      uint64_t s, uint64_t n)
{
	uint64_t j;

	(void)m;
	for (j = s; j < s + n; j++) {
		if (!pool->owner[j])
			model__bug("returning a free slot");
		pool->owner[j] = 0;
		pool->orig[j] = 0;
		pool->orig_valid[j] = 0;
		pool->alloc_size[j] = 0;
		pool->pad_slots[j] = 0;
		/* a carved range may span areas: count each slot in its own */
		pool->areas[model_pool_area_of_slot(pool, j)].used--;
	}
	st->used -= n;
}
