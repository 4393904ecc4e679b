/* SPDX-License-Identifier: MIT */
/*
 * Reference model of docs/algorithm.md#map: streaming mappings, the bounce
 * copies of unmap and sync, coherent allocations, and which addresses are
 * live handles. Every operation works in its device's domain.
 */
#include "model_internal.h"

#include <errno.h>
#include <string.h>

/* ------------------------------------------------------------ devices, 5.5 */

int model_dev_check(const struct model *m, const struct model_dev *d)
{
	if (!model__is_mask(d->min_align_mask) || !model__is_mask(d->alloc_align_mask) ||
	    !model__is_mask(d->seg_boundary_mask))
		return -EINVAL;
	if (d->seg_boundary_mask < m->slot_size - 1)
		return -EINVAL;
	/* alignment is judged on the boundary-masked address (5.1 guarantees) */
	if (d->seg_boundary_mask < d->min_align_mask || d->seg_boundary_mask < d->alloc_align_mask)
		return -EINVAL;
	/* libiotlb: padding to more than a segment would make every map -E2BIG */
	if (d->alloc_align_mask / m->slot_size >= m->p.segment_slots)
		return -EINVAL;
	return 0;
}

uint64_t model_max_mapping_size(const struct model *m, const struct model_dev *d)
{
	/* 5.5, with the reserve in slots: a mask of all ones leaves nothing */
	uint64_t reserve = model__div_round_up(d->min_align_mask, m->slot_size);

	if (reserve >= m->p.segment_slots)
		return 0;
	return (m->p.segment_slots - reserve) * m->slot_size;
}

/* ------------------------------------------------------------ 5.1 */

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
	return model__round_up(size + map_offset(m, d, orig), d->alloc_align_mask + 1);
}

/*
 * "Can never fit" (5.1 step 1, API -E2BIG): more than a segment, or more
 * than the largest pool of the device's domain (libiotlb: the model never
 * grows, so no later unmap can make room for it).
 */
static bool too_big(const struct model *m, const struct model_dev *d, uint64_t bytes)
{
	const struct model_domain *dom = model_dev_domain(m, d->id);
	uint64_t nslots = model__div_round_up(bytes, m->slot_size);
	uint64_t largest = 0;

	if (nslots > m->p.segment_slots)
		return true;
	for (unsigned k = 0; k < dom->npools; k++)
		if (dom->pools[k]->nslots > largest)
			largest = dom->pools[k]->nslots;
	return nslots > largest;
}

static void record_alloc(struct model *m, size_t nr, const struct model_dev *d,
			 const struct model_found *f, bool coherent)
{
	struct model_alloc *al = &m->allocs[nr];

	al->live = true;
	al->coherent = coherent;
	al->dev = d->id;
	al->pool = f->pool;
	al->first = f->slot;
	al->nslots = f->nslots;
}

static void count_failure(struct model *m, struct model_stats *st, const struct model_found *f)
{
	m->last_fallback = f->fallback;
	if (f->fallback)
		st->area_fallbacks++;
	st->map_fail_nospace++;
}

int model_map(struct model *m, const struct model_dev *d, unsigned hint, uint64_t orig,
	      uint64_t size, int dir, uint64_t *dma_out)
{
	struct model_stats *st = model__dev_stats(m, d->id);
	struct model_req r = { 0 };
	struct model_found f;
	struct model_alloc *al;
	struct model_pool *pool;
	uint64_t offset, padded, pad, index, j;
	size_t nr;

	/* 5.1 step 1 (NULL is refused by the API) */
	if (orig == 0 || size == 0 || !dir_ok(dir))
		return -EINVAL;
	/* 2. */
	offset = map_offset(m, d, orig);
	/* 3. */
	padded = model_padded_size(m, d, orig, size);
	/* 1. a padded size above one segment (or the private pool) can never fit */
	if (too_big(m, d, padded)) {
		st->map_fail_too_big++;
		return -E2BIG;
	}
	/* 4. */
	r.has_orig = true;
	r.orig = orig;
	r.alloc_size = padded;
	r.alloc_align_mask = d->alloc_align_mask;
	r.min_align_mask = d->min_align_mask;
	r.seg_boundary_mask = d->seg_boundary_mask;
	if (model__domain_search(m, model__dev_domain(m, d->id), hint, &r, &f, &m->examined)) {
		count_failure(m, st, &f);
		return -ENOSPC;
	}
	nr = model__new_alloc(m);
	model__take(m, st, &f, &r, nr);
	pool = f.pool;
	/* 5. */
	pad = offset >> m->p.slot_shift;
	offset &= m->slot_size - 1;
	index = f.slot + pad;
	pool->pad_slots[index] = pad;
	/* 6. */
	for (j = 0; index + j < f.slot + f.nslots; j++) {
		pool->orig[index + j] = orig + j * m->slot_size;
		pool->orig_valid[index + j] = 1;
	}
	record_alloc(m, nr, d, &f, false);
	al = &m->allocs[nr];
	al->pad = pad;
	al->orig = orig;
	al->size = size;
	/* 7. */
	al->handle = pool->dma_addr + index * m->slot_size + offset;
	*dma_out = al->handle;
	/* 8. */
	st->maps++;
	st->bounced_to_device += size;
	return 0;
}

/* ------------------------------------------------------------ 5.2, 5.3 */

/* 5.3: the copy for a bounce address t inside a live mapping. */
static void bounce_copy(struct model *m, struct model_stats *st, const struct model_dev *d,
			const struct model_pool *pool, uint64_t t, uint64_t size, bool to_cpu,
			struct model_copy *c)
{
	uint64_t i = (t - pool->dma_addr) >> m->p.slot_shift;
	const struct model_alloc *al;
	int64_t delta, avail;

	memset(c, 0, sizeof(*c));
	/* 1. */
	if (!pool->orig_valid[i])
		return;
	/* 2. */
	delta = (int64_t)(t & (m->slot_size - 1)) -
		(int64_t)(pool->orig[i] & d->min_align_mask & (m->slot_size - 1));
	avail = pool->alloc_size[i] - delta;
	if (avail <= 0)
		model__bug("copy from beyond the allocation");
	/* libiotlb: never past the mapped bytes, which on an alloc_align device
	 * end before the allocation (docs/design.md, "Safety rules beyond the
	 * kernel"); the kernel clamps to the allocation only. */
	al = model__alloc_of_slot(m, pool, i);
	if (al && (int64_t)(al->orig + al->size - (pool->orig[i] + (uint64_t)delta)) < avail)
		avail = (int64_t)(al->orig + al->size - (pool->orig[i] + (uint64_t)delta));
	if (avail <= 0)
		model__bug("copy from beyond the mapped bytes");
	c->requested = size;
	c->avail = (uint64_t)avail;
	/* 3. */
	if ((int64_t)size > avail) {
		c->clamped = true;
		size = (uint64_t)avail;
		st->overflow_clamps++;
	}
	/* 4. */
	c->any = true;
	c->to_cpu = to_cpu;
	c->bounce = t;
	c->orig = pool->orig[i] + (uint64_t)delta;
	c->size = size;
	if (to_cpu)
		st->bounced_to_cpu += size;
	else
		st->bounced_to_device += size;
}

static struct model_alloc *find_live(struct model *m, const struct model_dev *d, uint64_t dma,
				     bool coherent)
{
	size_t k;

	for (k = 0; k < m->nallocs; k++) {
		struct model_alloc *al = &m->allocs[k];

		if (al->live && !al->carved && al->handle == dma && al->dev == d->id &&
		    al->coherent == coherent)
			return al;
	}
	return NULL;
}

const struct model_alloc *model_find_handle(const struct model *m, uint64_t dma)
{
	size_t k;

	for (k = 0; k < m->nallocs; k++)
		if (m->allocs[k].live && !m->allocs[k].carved && m->allocs[k].handle == dma)
			return &m->allocs[k];
	return NULL;
}

int model_unmap(struct model *m, const struct model_dev *d, uint64_t dma, uint64_t size,
		int dir, unsigned attrs, struct model_copy *copy)
{
	struct model_stats *st = model__dev_stats(m, d->id);
	struct model_alloc *al;
	struct model_pool *pool;
	uint64_t offset, index, n;

	memset(copy, 0, sizeof(*copy));
	if (size == 0 || !dir_ok(dir))
		return -EINVAL;
	/* 4. only the handle of a live mapping of this device */
	al = find_live(m, d, dma, false);
	if (!al)
		return -ENOENT;
	/* 1. find the pool, then the allocation from the handle (docs/algorithm.md#unmap) */
	pool = model_domain_find_pool(m, model__dev_domain(m, d->id), dma);
	if (pool != al->pool)
		model__bug("a live mapping outside its device's pools");
	offset = dma & d->min_align_mask & (m->slot_size - 1);
	index = (dma - offset - pool->dma_addr) >> m->p.slot_shift;
	index -= pool->pad_slots[index];
	n = model__div_round_up((uint64_t)(pool->alloc_size[index] + (int64_t)offset),
				m->slot_size);
	if (index != al->first || n != al->nslots)
		model__bug("unmap formula disagrees with the recorded allocation");
	/* 2. */
	if ((dir == MODEL_FROM_DEVICE || dir == MODEL_BIDIRECTIONAL) &&
	    !(attrs & MODEL_ATTR_SKIP_CPU_SYNC))
		bounce_copy(m, st, d, pool, dma, size, true, copy);
	/* 3. */
	model__give_back(m, st, pool, index, n);
	al->live = false;
	st->unmaps++;
	return 0;
}

const struct model_alloc *model_alloc_at(const struct model *m, uint64_t dma)
{
	const struct model_pool *pool = NULL;
	const struct model_alloc *al;
	unsigned k;

	/* a private pool lies inside a carved range: look there first */
	for (k = 0; k < MODEL_MAX_PRIVATE && !pool; k++)
		if (m->priv[k].live)
			pool = model_domain_find_pool(m, &m->priv[k].dom, dma);
	if (!pool)
		pool = model_domain_find_pool(m, &m->shared, dma);
	if (!pool)
		return NULL;
	al = model__alloc_of_slot(m, pool, (dma - pool->dma_addr) >> m->p.slot_shift);
	return al && !al->carved ? al : NULL;
}

enum model_addr_class model_classify(const struct model *m, const struct model_dev *d,
				     uint64_t dma)
{
	const struct model_pool *pool = model_domain_find_pool(m, model_dev_domain(m, d->id), dma);
	const struct model_alloc *al;
	uint64_t head, end;

	if (!pool)
		return MODEL_ADDR_NOT_DATA;
	al = model__alloc_of_slot(m, pool, (dma - pool->dma_addr) >> m->p.slot_shift);
	if (!al || al->coherent || al->carved || al->dev != d->id)
		return MODEL_ADDR_NOT_DATA;
	/* the data ends where the head slot's alloc_size says the allocation
	 * ends, and libiotlb stops at the mapped bytes before that */
	head = al->first + al->pad;
	end = al->handle + (uint64_t)pool->alloc_size[head];
	if (al->handle + al->size < end)
		end = al->handle + al->size;
	if (dma >= al->handle && dma < end)
		return MODEL_ADDR_DATA;
	return MODEL_ADDR_NOT_DATA;
}

int model_sync(struct model *m, const struct model_dev *d, uint64_t dma, uint64_t size,
	       int dir, bool for_cpu, struct model_copy *copy)
{
	struct model_stats *st = model__dev_stats(m, d->id);
	const struct model_pool *pool;

	memset(copy, 0, sizeof(*copy));
	if (size == 0 || !dir_ok(dir))
		return -EINVAL;
	if (model_classify(m, d, dma) == MODEL_ADDR_NOT_DATA)
		return -ENOENT;
	pool = model_domain_find_pool(m, model__dev_domain(m, d->id), dma);
	if (for_cpu && (dir == MODEL_FROM_DEVICE || dir == MODEL_BIDIRECTIONAL))
		bounce_copy(m, st, d, pool, dma, size, true, copy);
	if (!for_cpu && (dir == MODEL_TO_DEVICE || dir == MODEL_BIDIRECTIONAL))
		bounce_copy(m, st, d, pool, dma, size, false, copy);
	st->syncs++;
	return 0;
}

/* ------------------------------------------------------------ 5.4 */

/* The request of a coherent allocation of `size` bytes. */
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

static int coherent_precheck(const struct model *m, const struct model_dev *d, uint64_t size)
{
	if (size == 0)
		return -EINVAL;
	if (too_big(m, d, size))
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
	err = coherent_precheck(m, d, size);
	if (err)
		return err;
	coherent_req(m, d, size, &r);
	err = model__domain_search(m, model_dev_domain(m, d->id), start, &r, &f, &examined);
	*fallback = f.fallback;
	if (err)
		return err;
	*dma_out = f.pool->dma_addr + f.slot * m->slot_size;
	return 0;
}

int model_alloc(struct model *m, const struct model_dev *d, unsigned hint, uint64_t size,
		uint64_t *dma_out)
{
	struct model_stats *st = model__dev_stats(m, d->id);
	struct model_req r;
	struct model_found f;
	struct model_alloc *al;
	size_t nr;
	int err;

	err = coherent_precheck(m, d, size);
	if (err == -E2BIG)
		st->map_fail_too_big++;
	if (err)
		return err;
	coherent_req(m, d, size, &r);
	if (model__domain_search(m, model__dev_domain(m, d->id), hint, &r, &f, &m->examined)) {
		count_failure(m, st, &f);
		return -ENOSPC;
	}
	nr = model__new_alloc(m);
	model__take(m, st, &f, &r, nr);
	record_alloc(m, nr, d, &f, true);
	al = &m->allocs[nr];
	al->size = size;
	al->handle = f.pool->dma_addr + f.slot * m->slot_size;
	*dma_out = al->handle;
	st->allocs++;
	return 0;
}

int model_free(struct model *m, const struct model_dev *d, uint64_t dma, uint64_t size)
{
	struct model_stats *st = model__dev_stats(m, d->id);
	struct model_alloc *al;

	/* free releases exactly the slots allocated (5.4), whatever the size */
	if (size == 0)
		return -EINVAL;
	al = find_live(m, d, dma, true);
	if (!al)
		return -ENOENT;
	model__give_back(m, st, al->pool, al->first, al->nslots);
	al->live = false;
	st->frees++;
	return 0;
}
