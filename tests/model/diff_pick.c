/* SPDX-License-Identifier: MIT */
/*
 * The differential test's random choices: directions, queues, sizes on the
 * edges of the rules, live allocations and devices, and addresses in or near
 * the pools that are probably not handles.
 */
#include <inttypes.h>

#include "diff.h"

static uint64_t seg_bytes(const struct run *r)
{
	return (uint64_t)r->mp.segment_slots << r->mp.slot_shift;
}

int diff_random_dir(struct run *r)
{
	return (int)rng_below(&r->rng, 3);
}

const char *diff_dir_name(int dir)
{
	static const char *const names[] = { "BIDIR", "TO_DEV", "FROM_DEV", "NONE" };

	return dir >= 0 && dir <= 3 ? names[dir] : "BAD";
}

/* Sizes on the edges of the rules: slot, page and segment sizes, +-1. */
static uint64_t edge_size(struct run *r)
{
	uint64_t slot = (uint64_t)1 << r->mp.slot_shift;
	uint64_t seg = seg_bytes(r);
	uint64_t v;

	switch (rng_below(&r->rng, 5)) {
	case 0:
		v = r->mp.page_size;
		break;
	case 1:
		v = slot * (1 + rng_below(&r->rng, 4));
		break;
	case 2:
		v = seg;
		break;
	case 3:
		v = seg - slot * rng_below(&r->rng, 3);
		break;
	default:
		v = r->mp.page_size << rng_below(&r->rng, 4);
		break;
	}
	v += rng_below(&r->rng, 3);
	return v > 1 ? v - 1 : 1;
}

uint64_t diff_random_map_size(struct run *r)
{
	uint64_t seg = seg_bytes(r);
	uint64_t k = rng_below(&r->rng, 100);

	if (k < 10)
		return edge_size(r);
	if (k < 45)
		return 1 + rng_below(&r->rng, 2048);
	if (k < 65)
		return 1 + rng_below(&r->rng, 8192);
	if (k < 80)
		return 1 + rng_below(&r->rng, 65536);
	if (k < 88)
		return 1 + rng_below(&r->rng, seg);
	if (k < 96)
		return seg - 4096 + rng_below(&r->rng, 8192);
	return seg + 1 + rng_below(&r->rng, seg);
}

uint64_t diff_random_alloc_size(struct run *r)
{
	uint64_t page = r->mp.page_size;
	uint64_t k = rng_below(&r->rng, 100);

	if (k < 10)
		return edge_size(r);
	if (k < 50)
		return 1 + rng_below(&r->rng, page);
	if (k < 80)
		return 1 + rng_below(&r->rng, 4 * page);
	if (k < 93)
		return 1 + rng_below(&r->rng, seg_bytes(r));
	return seg_bytes(r) - 2048 + rng_below(&r->rng, 4096);
}

int diff_random_queue(struct run *r)
{
	if (rng_pct(&r->rng, 5))
		return 0x7fffffff - (int)rng_below(&r->rng, 4);
	return (int)rng_below(&r->rng, 64);
}

static bool wanted(const struct model_alloc *al, int coherent, int dv)
{
	return al->live && !al->carved && (coherent < 0 || al->coherent == coherent) &&
	       (dv < 0 || al->dev == (unsigned)dv);
}

const struct model_alloc *diff_random_live_of(struct run *r, int coherent, int dv)
{
	size_t n = 0, pick, k;

	for (k = 0; k < r->m.nallocs; k++)
		if (wanted(&r->m.allocs[k], coherent, dv))
			n++;
	if (!n)
		return NULL;
	pick = rng_below(&r->rng, n);
	for (k = 0; k < r->m.nallocs; k++)
		if (wanted(&r->m.allocs[k], coherent, dv) && pick-- == 0)
			return &r->m.allocs[k];
	return NULL;
}

const struct model_alloc *diff_random_live(struct run *r, int coherent)
{
	return diff_random_live_of(r, coherent, -1);
}

unsigned diff_random_dev(struct run *r)
{
	unsigned n = 0, pick, k;

	for (k = 0; k < MAX_DEVS; k++)
		n += r->ldev[k] != NULL;
	pick = (unsigned)rng_below(&r->rng, n);
	for (k = 0; k < MAX_DEVS; k++)
		if (r->ldev[k] && pick-- == 0)
			return k;
	return 0;
}

unsigned diff_other_dev(struct run *r, unsigned dv)
{
	unsigned n = 0, pick, k;

	for (k = 0; k < MAX_DEVS; k++)
		n += r->ldev[k] && k != dv;
	if (!n)
		return dv;
	pick = (unsigned)rng_below(&r->rng, n);
	for (k = 0; k < MAX_DEVS; k++)
		if (r->ldev[k] && k != dv && pick-- == 0)
			return k;
	return dv;
}

/* A pool at random: shared, or the private pool of a live device. */
static const struct model_pool *random_pool(struct run *r)
{
	unsigned dv;

	if (rng_pct(&r->rng, 60))
		return r->m.shared.pools[rng_below(&r->rng, r->m.shared.npools)];
	dv = diff_random_dev(r);
	return model_dev_domain(&r->m, dv)->pools[0];
}

/* An address in or near a pool that is probably not a handle. */
uint64_t diff_random_bad_address(struct run *r)
{
	const struct model_alloc *al;
	const struct model_pool *pool = random_pool(r);
	uint64_t bytes = pool->nslots << r->mp.slot_shift;

	switch (rng_below(&r->rng, 7)) {
	case 0: /* inside a live allocation, not its handle */
		al = diff_random_live(r, -1);
		if (al)
			return diff_alloc_start(r, al) + rng_below(&r->rng, diff_alloc_len(r, al));
		break;
	case 1: /* a handle given out earlier, maybe released */
		if (r->nstale)
			return r->stale[rng_below(&r->rng, r->nstale < NSTALE ? r->nstale : NSTALE)];
		break;
	case 2: /* just outside the pool */
		if (rng_pct(&r->rng, 50) && pool->dma_addr >= 4096)
			return pool->dma_addr - 1 - rng_below(&r->rng, 4096);
		return pool->dma_addr + bytes + rng_below(&r->rng, 4096);
	case 3: /* a coherent allocation's handle */
		al = diff_random_live(r, 1);
		if (al)
			return al->handle;
		break;
	case 4: /* the edges of a live mapping's data */
		al = diff_random_live(r, 0);
		if (!al)
			break;
		switch (rng_below(&r->rng, 4)) {
		case 0:
			return al->handle - 1;
		case 1:
			return al->handle + al->size;
		default: /* the first byte past the data, and the last one */
			return al->handle + (uint64_t)al->pool->alloc_size[al->first + al->pad] -
			       rng_below(&r->rng, 2);
		}
	case 5: /* near a live mapping's handle */
		al = diff_random_live(r, 0);
		if (!al)
			break;
		if (rng_pct(&r->rng, 50))
			return al->handle + 1 + rng_below(&r->rng, al->size);
		return al->handle - 1 - rng_below(&r->rng, 2048);
	default:
		break;
	}
	/* anywhere in the pool, its first or its last byte */
	if (rng_pct(&r->rng, 10))
		return rng_pct(&r->rng, 50) ? pool->dma_addr : pool->dma_addr + bytes - 1;
	return pool->dma_addr + rng_below(&r->rng, bytes);
}
