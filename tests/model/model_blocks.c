/* SPDX-License-Identifier: MIT */
/*
 * Reference model of IO TLB blocks and device private pools
 * (docs/algorithm.md#blocks): first fit of whole free blocks from the
 * lowest block of the oldest shared pool, a private pool over the range,
 * and everything given back when the device goes.
 */
#include "model_internal.h"

#include <errno.h>
#include <string.h>

const struct model_private *model_private_of(const struct model *m, unsigned dev)
{
	unsigned k;

	for (k = 0; k < MODEL_MAX_PRIVATE; k++)
		if (m->priv[k].live && m->priv[k].dev == dev)
			return &m->priv[k];
	return NULL;
}

const struct model_domain *model_dev_domain(const struct model *m, unsigned dev)
{
	const struct model_private *pv = model_private_of(m, dev);

	return pv ? &pv->dom : &m->shared;
}

const struct model_stats *model_dev_stats(const struct model *m, unsigned dev)
{
	const struct model_private *pv = model_private_of(m, dev);

	return pv ? &pv->st : &m->st;
}

struct model_domain *model__dev_domain(struct model *m, unsigned dev)
{
	return (struct model_domain *)model_dev_domain(m, dev);
}

struct model_stats *model__dev_stats(struct model *m, unsigned dev)
{
	return (struct model_stats *)model_dev_stats(m, dev);
}

/* A block is free when every one of its slots is. */
static bool blocks_free(const struct model_pool *pool, uint64_t first, uint64_t n)
{
	uint64_t i;

	for (i = first; i < first + n; i++)
		if (pool->owner[i])
			return false;
	return true;
}

/*
 * Takes [first, first+n) of a shared pool for device `dev`: the slots become
 * allocated (so the free runs in front end there, 2.1), each area's used
 * grows by the slots inside it, the cursors stay where they are.
 */
static size_t carve(struct model *m, struct model_pool *pool, uint64_t first, uint64_t n,
		    unsigned dev)
{
	size_t nr = model__new_alloc(m);
	struct model_alloc *al = &m->allocs[nr];
	uint64_t i;

	al->live = true;
	al->carved = true;
	al->dev = dev;
	al->pool = pool;
	al->first = first;
	al->nslots = n;
	al->handle = pool->dma_addr + first * m->slot_size;
	for (i = first; i < first + n; i++) {
		pool->owner[i] = (uint32_t)(nr + 1);
		pool->areas[model_pool_area_of_slot(pool, i)].used++;
	}
	model__used_add(&m->st, n);
	return nr;
}

static struct model_private *free_private(struct model *m)
{
	unsigned k;

	for (k = 0; k < MODEL_MAX_PRIVATE; k++)
		if (!m->priv[k].live)
			return &m->priv[k];
	model__bug("too many private devices");
}

static int make_private(struct model *m, const struct model_dev *d, struct model_pool *parent,
			uint64_t first, uint64_t n, unsigned nqueues)
{
	struct model_private *pv = free_private(m);
	struct model_pool *pool;
	uint64_t off = first * m->slot_size;

	/* nqueues child areas, 0 -> 1, section 3 rules on the private size */
	pool = model__pool_new(m, parent->vaddr + off, parent->dma_addr + off, n, nqueues);
	if (!pool)
		return -ENOMEM;
	pool->parent = parent;
	pool->parent_slot = first;
	memset(pv, 0, sizeof(*pv));
	pv->dev = d->id;
	model__domain_add(&pv->dom, pool);
	pv->carve_nr = carve(m, parent, first, n, d->id);
	pv->live = true;
	return 0;
}

int model_dev_create(struct model *m, const struct model_dev *d, uint64_t private_size,
		     unsigned nqueues)
{
	uint64_t bs = m->block_slots;
	uint64_t block_bytes = bs * m->slot_size;
	uint64_t need, whole, b;
	bool fits_some = false;
	unsigned k;
	int err;

	err = model_dev_check(m, d);
	if (err || private_size == 0)
		return err;
	if (model_private_of(m, d->id))
		model__bug("device id already has a private pool");
	/* whole blocks, ceil(private_size / block bytes), without overflow */
	need = private_size / block_bytes + (private_size % block_bytes != 0);
	/* first fit from the lowest block address of the oldest pool */
	for (k = 0; k < m->shared.npools; k++) {
		struct model_pool *pool = m->shared.pools[k];

		/* only whole blocks of a pool count */
		whole = pool->nslots / bs;
		if (whole < need)
			continue;
		fits_some = true;
		for (b = 0; b + need <= whole; b++)
			if (blocks_free(pool, b * bs, need * bs))
				return make_private(m, d, pool, b * bs, need * bs, nqueues);
	}
	return fits_some ? -ENOSPC : -E2BIG;
}

int model_dev_destroy(struct model *m, const struct model_dev *d)
{
	const struct model_private *cpv = model_private_of(m, d->id);
	struct model_private *pv = (struct model_private *)cpv;
	struct model_alloc *al;
	size_t k;

	for (k = 0; k < m->nallocs; k++)
		if (m->allocs[k].live && !m->allocs[k].carved && m->allocs[k].dev == d->id)
			return -EBUSY;
	if (!pv)
		return 0;
	/* the blocks go back to the shared pool, counters restored as in 2.2 */
	al = &m->allocs[pv->carve_nr];
	model__give_back(m, &m->st, al->pool, al->first, al->nslots);
	al->live = false;
	model__pool_free(pv->dom.pools[0]);
	memset(pv, 0, sizeof(*pv));
	return 0;
}
