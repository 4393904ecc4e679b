/* SPDX-License-Identifier: MIT */
/*
 * Reference model of ALGORITHM.md sections 2-5: every rule written out as the
 * spec states it, over a plain occupancy array. Free-run counters are never
 * stored; they are counted from occupancy when asked, so they cannot drift.
 */
#include "model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A search request, as section 4 lists its inputs. */
struct model_req {
	bool has_orig;
	uint64_t orig;
	uint64_t alloc_size;
	uint64_t alloc_align_mask;
	uint64_t min_align_mask;
	uint64_t seg_boundary_mask;
};

/* The outcome of a search, before anything is taken. */
struct model_found {
	unsigned area;
	uint64_t slot;    /* pool slot */
	uint64_t nslots;
	bool fallback;    /* the first-choice area could not serve */
};

static void model_bug(const char *what)
{
	fprintf(stderr, "model: internal inconsistency: %s\n", what);
	abort();
}

static bool is_mask(uint64_t m)
{
	return (m & (m + 1)) == 0;
}

static uint64_t div_round_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

static uint64_t round_up(uint64_t a, uint64_t align)
{
	return div_round_up(a, align) * align;
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

int model_init(struct model *m, const struct model_params *p)
{
	uint64_t n = p->nslots;
	unsigned a;

	memset(m, 0, sizeof(*m));
	m->p = *p;
	m->slot_size = (uint64_t)1 << p->slot_shift;
	m->nareas = model_nareas_for(p->nareas_req, n, p->segment_slots);

	/* nslots / nareas rounded down to whole segments; the last area takes the rest */
	m->area_nslots = n / m->nareas;
	m->area_nslots -= m->area_nslots % p->segment_slots;

	m->areas = calloc(m->nareas, sizeof(*m->areas));
	m->owner = calloc(n, sizeof(*m->owner));
	m->orig = calloc(n, sizeof(*m->orig));
	m->orig_valid = calloc(n, sizeof(*m->orig_valid));
	m->alloc_size = calloc(n, sizeof(*m->alloc_size));
	m->pad_slots = calloc(n, sizeof(*m->pad_slots));
	if (!m->areas || !m->owner || !m->orig || !m->orig_valid || !m->alloc_size ||
	    !m->pad_slots) {
		model_fini(m);
		return -ENOMEM;
	}
	for (a = 0; a < m->nareas; a++) {
		m->areas[a].base = (uint64_t)a * m->area_nslots;
		if (a == m->nareas - 1)
			m->areas[a].nslots = n - m->areas[a].base;
		else
			m->areas[a].nslots = m->area_nslots;
	}
	return 0;
}

void model_fini(struct model *m)
{
	free(m->areas);
	free(m->owner);
	free(m->orig);
	free(m->orig_valid);
	free(m->alloc_size);
	free(m->pad_slots);
	free(m->allocs);
	memset(m, 0, sizeof(*m));
}

unsigned model_area_of_slot(const struct model *m, uint64_t slot)
{
	unsigned a;

	for (a = 0; a < m->nareas; a++)
		if (slot >= m->areas[a].base && slot < m->areas[a].base + m->areas[a].nslots)
			return a;
	model_bug("slot outside every area");
	return 0;
}

/* ------------------------------------------------------------ devices, 5.5 */

int model_dev_check(const struct model *m, const struct model_dev *d)
{
	if (!is_mask(d->min_align_mask) || !is_mask(d->alloc_align_mask) ||
	    !is_mask(d->seg_boundary_mask))
		return -EINVAL;
	if (d->seg_boundary_mask < m->slot_size - 1)
		return -EINVAL;
	/* alignment is judged on the boundary-masked address (5.1 guarantees) */
	if (d->seg_boundary_mask < d->min_align_mask || d->seg_boundary_mask < d->alloc_align_mask)
		return -EINVAL;
	return 0;
}

uint64_t model_max_mapping_size(const struct model *m, const struct model_dev *d)
{
	uint64_t max = (uint64_t)m->p.segment_slots * m->slot_size;

	if (d->min_align_mask)
		max -= round_up(d->min_align_mask, m->slot_size);
	return max;
}

/* ------------------------------------------------------------ section 2 */

uint64_t model_free_run(const struct model *m, uint64_t i)
{
	uint64_t n = 0;
	uint64_t j;

	/* count free slots from i, stopping at the end of i's segment or of the pool */
	for (j = i; j < m->p.nslots; j++) {
		if (m->owner[j])
			break;
		n++;
		if ((j + 1) % m->p.segment_slots == 0)
			break;
	}
	return n;
}

void model_free_runs(const struct model *m, uint32_t *out)
{
	uint64_t i = m->p.nslots;
	uint64_t next = 0; /* free run of slot i + 1 when in the same segment */

	/* the same count as model_free_run, walked backwards to be linear */
	while (i-- > 0) {
		if (m->owner[i])
			next = 0;
		else if (i + 1 < m->p.nslots && (i + 1) % m->p.segment_slots != 0)
			next = next + 1;
		else
			next = 1;
		out[i] = (uint32_t)next;
	}
}

static const struct model_alloc *alloc_of_slot(const struct model *m, uint64_t slot)
{
	if (!m->owner[slot])
		return NULL;
	return &m->allocs[m->owner[slot] - 1];
}

enum model_slot_kind model_slot_kind(const struct model *m, uint64_t slot)
{
	const struct model_alloc *al = alloc_of_slot(m, slot);

	if (!al)
		return MODEL_SLOT_FREE;
	if (al->coherent)
		return slot == al->first ? MODEL_SLOT_COHERENT_HEAD : MODEL_SLOT_COHERENT_DATA;
	if (slot < al->first + al->pad)
		return MODEL_SLOT_PAD;
	return slot == al->first + al->pad ? MODEL_SLOT_MAP_HEAD : MODEL_SLOT_MAP_DATA;
}

int model_slot_dev(const struct model *m, uint64_t slot)
{
	const struct model_alloc *al = alloc_of_slot(m, slot);

	return al ? (int)al->dev : -1;
}

/* ------------------------------------------------------------ section 4 */

/* Search one area, steps 1-11. Returns true and the slot when found. */
static bool area_search(const struct model *m, unsigned a, const struct model_req *r,
			uint64_t *slot_out, uint64_t *examined)
{
	const struct model_area *ar = &m->areas[a];
	uint64_t slot_size = m->slot_size;
	unsigned shift = m->p.slot_shift;
	uint64_t tbl, max_slots, nslots, align, iotlb_align, stride;
	uint64_t base, index, checked, slot, addr;

	/* 1. */
	tbl = m->p.dma_addr & r->seg_boundary_mask;
	max_slots = (r->seg_boundary_mask >> shift) + 1;
	/* 2. */
	nslots = div_round_up(r->alloc_size, slot_size);
	if (nslots == 0)
		model_bug("search for 0 slots");
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
		    model_free_run(m, slot) >= nslots) {
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

/* Section 3: area `start`, then start+1, ... wrapping. */
static int pool_search(const struct model *m, unsigned hint, const struct model_req *r,
		       struct model_found *f, uint64_t *examined)
{
	unsigned start = hint & (m->nareas - 1);
	unsigned k, a;

	*examined = 0;
	for (k = 0; k < m->nareas; k++) {
		a = (start + k) & (m->nareas - 1);
		if (area_search(m, a, r, &f->slot, examined)) {
			f->area = a;
			f->nslots = div_round_up(r->alloc_size, m->slot_size);
			f->fallback = k != 0;
			return 0;
		}
	}
	/* with one area there is nothing to fall back to */
	f->fallback = m->nareas > 1;
	return -ENOSPC;
}

static size_t new_alloc(struct model *m)
{
	struct model_alloc *na;
	size_t cap;

	if (m->nallocs == m->allocs_cap) {
		cap = m->allocs_cap ? m->allocs_cap * 2 : 64;
		na = realloc(m->allocs, cap * sizeof(*na));
		if (!na)
			model_bug("out of memory");
		m->allocs = na;
		m->allocs_cap = cap;
	}
	memset(&m->allocs[m->nallocs], 0, sizeof(m->allocs[0]));
	return m->nallocs++;
}

/* Steps 12-14 and 2.1: take the slots found, move the cursor, count them. */
static void take(struct model *m, const struct model_found *f, const struct model_req *r,
		 size_t alloc_nr)
{
	struct model_area *ar = &m->areas[f->area];
	uint64_t offset = 0;
	uint64_t j, index;

	/* 3. */
	if (r->has_orig)
		offset = r->orig & r->min_align_mask & (m->slot_size - 1);
	if (model_area_of_slot(m, f->slot + f->nslots - 1) != f->area)
		model_bug("allocation spans two areas");
	for (j = 0; j < f->nslots; j++) {
		if (m->owner[f->slot + j])
			model_bug("taking an allocated slot");
		m->owner[f->slot + j] = (uint32_t)(alloc_nr + 1);
		m->alloc_size[f->slot + j] =
			(int64_t)r->alloc_size - (int64_t)(offset + j * m->slot_size);
	}
	/* 13. */
	index = f->slot - ar->base + f->nslots;
	ar->index = index >= ar->nslots ? 0 : index;
	/* 14. */
	ar->used += f->nslots;
	m->st.used += f->nslots;
	if (m->st.used > m->st.used_hiwater)
		m->st.used_hiwater = m->st.used;
	if (f->fallback)
		m->st.area_fallbacks++;
	m->last_area = f->area;
	m->last_fallback = f->fallback;
}

/* 2.2: return slots [s, s+n). */
static void give_back(struct model *m, uint64_t s, uint64_t n)
{
	unsigned a = model_area_of_slot(m, s);
	uint64_t j;

	for (j = s; j < s + n; j++) {
		if (!m->owner[j])
			model_bug("returning a free slot");
		m->owner[j] = 0;
		m->orig[j] = 0;
		m->orig_valid[j] = 0;
		m->alloc_size[j] = 0;
		m->pad_slots[j] = 0;
	}
	m->areas[a].used -= n;
	m->st.used -= n;
}

/* ------------------------------------------------------------ section 5 */

static bool dir_ok(int dir)
{
	return dir == MODEL_BIDIRECTIONAL || dir == MODEL_TO_DEVICE || dir == MODEL_FROM_DEVICE;
}

static uint64_t map_offset(const struct model *m, const struct model_dev *d, uint64_t orig)
{
	/* 5.1 step 2 */
	return orig & d->min_align_mask & (d->alloc_align_mask | (m->slot_size - 1));
}

uint64_t model_padded_size(const struct model *m, const struct model_dev *d, uint64_t orig,
			   uint64_t size)
{
	/* 5.1 step 3 */
	return round_up(size + map_offset(m, d, orig), d->alloc_align_mask + 1);
}

int model_map(struct model *m, const struct model_dev *d, unsigned hint, uint64_t orig,
	      uint64_t size, int dir, uint64_t *dma_out)
{
	struct model_req r = { 0 };
	struct model_found f;
	struct model_alloc *al;
	uint64_t offset, padded, pad, index, j;
	size_t nr;

	/* 5.1 step 1 (NULL is refused by the API) */
	if (orig == 0 || size == 0 || !dir_ok(dir))
		return -EINVAL;
	/* 2. */
	offset = map_offset(m, d, orig);
	/* 3. */
	padded = model_padded_size(m, d, orig, size);
	/* 1. a padded size above one segment can never fit */
	if (padded > (uint64_t)m->p.segment_slots * m->slot_size) {
		m->st.map_fail_too_big++;
		return -E2BIG;
	}
	/* 4. */
	r.has_orig = true;
	r.orig = orig;
	r.alloc_size = padded;
	r.alloc_align_mask = d->alloc_align_mask;
	r.min_align_mask = d->min_align_mask;
	r.seg_boundary_mask = d->seg_boundary_mask;
	if (pool_search(m, hint, &r, &f, &m->examined)) {
		m->last_fallback = f.fallback;
		if (f.fallback)
			m->st.area_fallbacks++;
		m->st.map_fail_nospace++;
		return -ENOSPC;
	}
	nr = new_alloc(m);
	take(m, &f, &r, nr);
	/* 5. */
	pad = offset >> m->p.slot_shift;
	offset &= m->slot_size - 1;
	index = f.slot + pad;
	m->pad_slots[index] = pad;
	/* 6. */
	for (j = 0; index + j < f.slot + f.nslots; j++) {
		m->orig[index + j] = orig + j * m->slot_size;
		m->orig_valid[index + j] = 1;
	}
	al = &m->allocs[nr];
	al->live = true;
	al->coherent = false;
	al->dev = d->id;
	al->first = f.slot;
	al->nslots = f.nslots;
	al->pad = pad;
	al->orig = orig;
	al->size = size;
	/* 7. */
	al->handle = m->p.dma_addr + index * m->slot_size + offset;
	*dma_out = al->handle;
	/* 8. */
	m->st.maps++;
	m->st.bounced_to_device += size;
	return 0;
}

/* 5.3: the copy for a bounce address t inside a live mapping. */
static void bounce_copy(struct model *m, const struct model_dev *d, uint64_t t, uint64_t size,
			bool to_cpu, struct model_copy *c)
{
	uint64_t i = (t - m->p.dma_addr) >> m->p.slot_shift;
	int64_t delta, avail;

	memset(c, 0, sizeof(*c));
	/* 1. */
	if (!m->orig_valid[i])
		return;
	/* 2. */
	delta = (int64_t)(t & (m->slot_size - 1)) -
		(int64_t)(m->orig[i] & d->min_align_mask & (m->slot_size - 1));
	avail = m->alloc_size[i] - delta;
	if (avail <= 0)
		model_bug("copy from beyond the allocation");
	c->requested = size;
	c->avail = (uint64_t)avail;
	/* 3. */
	if ((int64_t)size > avail) {
		c->clamped = true;
		size = (uint64_t)avail;
		m->st.overflow_clamps++;
	}
	/* 4. */
	c->any = true;
	c->to_cpu = to_cpu;
	c->bounce = t;
	c->orig = m->orig[i] + (uint64_t)delta;
	c->size = size;
	if (to_cpu)
		m->st.bounced_to_cpu += size;
	else
		m->st.bounced_to_device += size;
}

static struct model_alloc *find_live(struct model *m, const struct model_dev *d, uint64_t dma,
				     bool coherent)
{
	size_t k;

	for (k = 0; k < m->nallocs; k++) {
		struct model_alloc *al = &m->allocs[k];

		if (al->live && al->handle == dma && al->dev == d->id && al->coherent == coherent)
			return al;
	}
	return NULL;
}

const struct model_alloc *model_find_handle(const struct model *m, uint64_t dma)
{
	size_t k;

	for (k = 0; k < m->nallocs; k++)
		if (m->allocs[k].live && m->allocs[k].handle == dma)
			return &m->allocs[k];
	return NULL;
}

int model_unmap(struct model *m, const struct model_dev *d, uint64_t dma, uint64_t size,
		int dir, unsigned attrs, struct model_copy *copy)
{
	struct model_alloc *al;
	uint64_t offset, index, n;

	memset(copy, 0, sizeof(*copy));
	if (size == 0 || !dir_ok(dir))
		return -EINVAL;
	/* 4. only the handle of a live mapping of this device */
	al = find_live(m, d, dma, false);
	if (!al)
		return -ENOENT;
	/* 1. find the allocation from the handle as the spec does */
	offset = dma & d->min_align_mask & (m->slot_size - 1);
	index = (dma - offset - m->p.dma_addr) >> m->p.slot_shift;
	index -= m->pad_slots[index];
	n = div_round_up((uint64_t)(m->alloc_size[index] + (int64_t)offset), m->slot_size);
	if (index != al->first || n != al->nslots)
		model_bug("unmap formula disagrees with the recorded allocation");
	/* 2. */
	if ((dir == MODEL_FROM_DEVICE || dir == MODEL_BIDIRECTIONAL) &&
	    !(attrs & MODEL_ATTR_SKIP_CPU_SYNC))
		bounce_copy(m, d, dma, size, true, copy);
	/* 3. */
	give_back(m, index, n);
	al->live = false;
	m->st.unmaps++;
	return 0;
}

const struct model_alloc *model_alloc_at(const struct model *m, uint64_t dma)
{
	if (dma < m->p.dma_addr || dma - m->p.dma_addr >= m->p.nslots * m->slot_size)
		return NULL;
	return alloc_of_slot(m, (dma - m->p.dma_addr) >> m->p.slot_shift);
}

enum model_addr_class model_classify(const struct model *m, const struct model_dev *d,
				     uint64_t dma)
{
	const struct model_alloc *al = model_alloc_at(m, dma);
	uint64_t head, end;

	if (!al || al->coherent || al->dev != d->id)
		return MODEL_ADDR_NOT_DATA;
	/* the data ends where the head slot's alloc_size says the allocation ends */
	head = al->first + al->pad;
	end = al->handle + (uint64_t)m->alloc_size[head];
	if (dma >= al->handle && dma < end)
		return MODEL_ADDR_DATA;
	return MODEL_ADDR_NOT_DATA;
}

int model_sync(struct model *m, const struct model_dev *d, uint64_t dma, uint64_t size,
	       int dir, bool for_cpu, struct model_copy *copy)
{
	memset(copy, 0, sizeof(*copy));
	if (size == 0 || !dir_ok(dir))
		return -EINVAL;
	if (model_classify(m, d, dma) == MODEL_ADDR_NOT_DATA)
		return -ENOENT;
	if (for_cpu && (dir == MODEL_FROM_DEVICE || dir == MODEL_BIDIRECTIONAL))
		bounce_copy(m, d, dma, size, true, copy);
	if (!for_cpu && (dir == MODEL_TO_DEVICE || dir == MODEL_BIDIRECTIONAL))
		bounce_copy(m, d, dma, size, false, copy);
	m->st.syncs++;
	return 0;
}

/* 5.4: the request of a coherent allocation of `size` bytes. */
static void coherent_req(const struct model *m, const struct model_dev *d, uint64_t size,
			 struct model_req *r)
{
	uint64_t span = m->p.page_size;

	/* the smallest power-of-two multiple of page_size holding size */
	while (span < size)
		span *= 2;
	memset(r, 0, sizeof(*r));
	r->has_orig = false;
	r->alloc_size = size;
	r->alloc_align_mask = span - 1;
	r->min_align_mask = d->min_align_mask;
	r->seg_boundary_mask = d->seg_boundary_mask;
}

static int coherent_precheck(const struct model *m, uint64_t size)
{
	if (size == 0)
		return -EINVAL;
	if (div_round_up(size, m->slot_size) > m->p.segment_slots)
		return -E2BIG;
	return 0;
}

int model_alloc_probe(const struct model *m, const struct model_dev *d, unsigned start,
		      uint64_t size, uint64_t *dma_out, bool *fallback)
{
	struct model_req r;
	struct model_found f;
	uint64_t examined;
	int err;

	*fallback = false;
	err = coherent_precheck(m, size);
	if (err)
		return err;
	coherent_req(m, d, size, &r);
	err = pool_search(m, start, &r, &f, &examined);
	*fallback = f.fallback;
	if (err)
		return err;
	*dma_out = m->p.dma_addr + f.slot * m->slot_size;
	return 0;
}

int model_alloc(struct model *m, const struct model_dev *d, unsigned hint, uint64_t size,
		uint64_t *dma_out)
{
	struct model_req r;
	struct model_found f;
	struct model_alloc *al;
	size_t nr;
	int err;

	err = coherent_precheck(m, size);
	if (err == -E2BIG)
		m->st.map_fail_too_big++;
	if (err)
		return err;
	coherent_req(m, d, size, &r);
	if (pool_search(m, hint, &r, &f, &m->examined)) {
		m->last_fallback = f.fallback;
		if (f.fallback)
			m->st.area_fallbacks++;
		m->st.map_fail_nospace++;
		return -ENOSPC;
	}
	nr = new_alloc(m);
	take(m, &f, &r, nr);
	al = &m->allocs[nr];
	al->live = true;
	al->coherent = true;
	al->dev = d->id;
	al->first = f.slot;
	al->nslots = f.nslots;
	al->size = size;
	al->handle = m->p.dma_addr + f.slot * m->slot_size;
	*dma_out = al->handle;
	m->st.allocs++;
	return 0;
}

int model_free(struct model *m, const struct model_dev *d, uint64_t dma, uint64_t size)
{
	struct model_alloc *al;

	/* free releases exactly the slots allocated (5.4), whatever the size */
	if (size == 0)
		return -EINVAL;
	al = find_live(m, d, dma, true);
	if (!al)
		return -ENOENT;
	give_back(m, al->first, al->nslots);
	al->live = false;
	m->st.frees++;
	return 0;
}
