/* SPDX-License-Identifier: MIT */
/*
 * The differential test's operations on the shape of the allocator: adding
 * pools (fresh regions, and regions the library must refuse), and creating
 * and destroying devices with private pools carved out of the shared ones.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "diff.h"

#define MAX_ADDED_POOLS 6 /* pools per configuration, the first one included */

static uint64_t slot_bytes(const struct run *r)
{
	return (uint64_t)1 << r->mp.slot_shift;
}

/* Does [dma, +bytes) meet a shared pool's device range? */
static bool dma_taken(const struct run *r, uint64_t dma, uint64_t bytes)
{
	for (unsigned k = 0; k < r->m.shared.npools; k++) {
		const struct model_pool *p = r->m.shared.pools[k];
		uint64_t end = p->dma_addr + (p->nslots << r->mp.slot_shift);

		if (dma < end && p->dma_addr < dma + bytes)
			return true;
	}
	return false;
}

/* A device range of `bytes` that no pool uses (or, rarely, one that does). */
static uint64_t fresh_dma(struct run *r, uint64_t bytes)
{
	uint64_t dma = 0;

	for (int tries = 0; tries < 32; tries++) {
		dma = diff_random_dma(r, bytes, false);
		if (!dma_taken(r, dma, bytes))
			break;
	}
	return dma;
}

/* Pool sizes: whole blocks, less than a segment, whole segments, anything. */
static uint64_t random_pool_slots(struct run *r)
{
	uint64_t seg = r->mp.segment_slots, bs = r->m.block_slots;
	uint64_t k = rng_below(&r->rng, 100);

	if (k < 35)
		return bs * (1 + rng_below(&r->rng, 3)) +
		       (rng_pct(&r->rng, 30) ? rng_below(&r->rng, bs) : 0);
	if (k < 45)
		return 1 + rng_below(&r->rng, seg - 1);
	if (k < 70)
		return seg * (1 + rng_below(&r->rng, 24));
	return seg + rng_below(&r->rng, 4096 - seg);
}

/* Runs add_pool on both sides; the region stays reserved only if accepted. */
static void op_add_pool(struct run *r, struct region *rg, uint64_t va, uint64_t dma,
			uint64_t size, const char *why)
{
	int lrc, mrc;

	diff_set_op(r, "add_pool va 0x%" PRIx64 " dma 0x%" PRIx64 " size %" PRIu64 " (%s)", va,
		    dma, size, why);
	lrc = iotlb_mem_add_pool(r->mem, (void *)(uintptr_t)va, dma, (size_t)size);
	mrc = model_add_pool(&r->m, va, dma, size);
	diff_expect_rc(r, "iotlb_mem_add_pool", lrc, mrc);
	diff_tally(r, OP_ADD_POOL, mrc);
	diff_expect_no_logs(r);
	if (!mrc && rg) {
		if (va != (uint64_t)(uintptr_t)rg->va)
			diff_mismatch(r, "test bug: a pool outside the reserved region");
		rg->dma = dma;
		r->regions[r->nregions++] = *rg;
	} else if (rg) {
		diff_unreserve(rg);
	}
	diff_compare_state(r);
}

void diff_add_pool(struct run *r)
{
	struct region rg = { 0 };
	uint64_t bytes;

	if (r->m.shared.npools >= MAX_ADDED_POOLS)
		return;
	bytes = random_pool_slots(r) << r->mp.slot_shift;
	if (!diff_reserve(&rg, bytes))
		diff_mismatch(r, "test: cannot reserve %" PRIu64 " bytes", bytes);
	op_add_pool(r, &rg, (uint64_t)(uintptr_t)rg.va, fresh_dma(r, bytes), bytes, "fresh");
}

/* A region overlapping a pool, misaligned, or not whole slots: refused. */
void diff_add_pool_bad(struct run *r)
{
	const struct model_pool *p = r->m.shared.pools[rng_below(&r->rng, r->m.shared.npools)];
	uint64_t page = r->mp.page_size, slot = slot_bytes(r);
	uint64_t pbytes = p->nslots * slot;
	uint64_t bytes = (1 + rng_below(&r->rng, 64)) * slot;
	uint64_t va, dma;
	struct region rg = { 0 };
	const char *why;

	if (!diff_reserve(&rg, bytes + page))
		diff_mismatch(r, "test: cannot reserve %" PRIu64 " bytes", bytes + page);
	va = (uint64_t)(uintptr_t)rg.va;
	dma = fresh_dma(r, bytes + page);
	switch (rng_below(&r->rng, 7)) {
	case 0: /* CPU range starting inside a pool's, or across its start */
		why = "CPU range overlaps a pool";
		va = p->vaddr + rng_below(&r->rng, (pbytes + page - 1) / page) * page;
		if (rng_pct(&r->rng, 30)) {
			va = p->vaddr - page;
			bytes += page;
		}
		break;
	case 1: /* device range starting inside a pool's, or across its start */
		why = "device range overlaps a pool";
		dma = p->dma_addr + rng_below(&r->rng, (pbytes + page - 1) / page) * page;
		if (rng_pct(&r->rng, 30) && p->dma_addr >= page) {
			dma = p->dma_addr - page;
			bytes += page;
		}
		break;
	case 2: /* inside a private pool, which lies inside a shared one */
		why = "device range overlaps a private pool";
		dma = model_dev_domain(&r->m, diff_random_dev(r))->pools[0]->dma_addr;
		break;
	case 3:
		why = "CPU address not page aligned";
		va += slot < page && rng_pct(&r->rng, 50) ? slot : 1 + rng_below(&r->rng, 64);
		break;
	case 4:
		why = "device address not page aligned";
		dma += slot < page && rng_pct(&r->rng, 50) ? slot : 1 + rng_below(&r->rng, 64);
		break;
	case 5:
		why = "size not whole slots";
		bytes = rng_pct(&r->rng, 30) ? rng_below(&r->rng, slot)
					     : bytes + 1 + rng_below(&r->rng, slot - 1);
		break;
	default:
		why = "NULL CPU address";
		va = 0;
		break;
	}
	op_add_pool(r, &rg, va, dma, bytes, why);
}

/* ------------------------------------------------------------------ private devices */

static uint64_t largest_whole_blocks(const struct run *r)
{
	uint64_t most = 0;

	for (unsigned k = 0; k < r->m.shared.npools; k++)
		if (r->m.shared.pools[k]->nslots / r->m.block_slots > most)
			most = r->m.shared.pools[k]->nslots / r->m.block_slots;
	return most;
}

/* Sizes around whole blocks; now and then more than any pool has. */
static uint64_t random_private_size(struct run *r)
{
	uint64_t bb = r->m.block_slots * slot_bytes(r);
	uint64_t k = rng_below(&r->rng, 100);

	if (k < 40)
		return 1 + rng_below(&r->rng, bb);
	if (k < 60)
		return bb * (1 + rng_below(&r->rng, 3)) + rng_below(&r->rng, 3) - 1;
	if (k < 80)
		return 1 + rng_below(&r->rng, 4 * bb);
	if (k < 92)
		return (largest_whole_blocks(r) + rng_below(&r->rng, 2)) * bb +
		       rng_below(&r->rng, 2);
	if (k < 96)
		return SIZE_MAX - rng_below(&r->rng, 4);
	return 1 + rng_below(&r->rng, 16 * bb);
}

static unsigned random_nqueues(struct run *r)
{
	uint64_t k = rng_below(&r->rng, 100);

	if (k < 50)
		return (unsigned)rng_below(&r->rng, 5);
	if (k < 80)
		return 1 + (unsigned)rng_below(&r->rng, 16);
	if (k < 98)
		return 1 + (unsigned)rng_below(&r->rng, 64);
	/* far more queues than the pool has segments: limited to the pool */
	return UINT32_MAX - (unsigned)rng_below(&r->rng, 2);
}

void diff_private_create(struct run *r)
{
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_dev *dev = (struct iotlb_dev *)0x1;
	struct model_dev *d;
	const struct model_private *pv;
	unsigned k;
	int lrc, mrc;

	for (k = PRIV_FIRST; k < MAX_DEVS && r->ldev[k]; k++)
		;
	if (k == MAX_DEVS)
		return;
	d = &r->mdev[k];
	diff_random_masks(r, d);
	d->id = k;
	dc.min_align_mask = d->min_align_mask;
	dc.alloc_align_mask = d->alloc_align_mask;
	dc.seg_boundary_mask = d->seg_boundary_mask == UINT64_MAX && rng_pct(&r->rng, 50)
				       ? 0
				       : d->seg_boundary_mask;
	dc.private_size = (size_t)random_private_size(r);
	dc.nqueues = random_nqueues(r);
	diff_set_op(r, "dev_create dev%u private_size %zu nqueues %u min_align 0x%" PRIx64
		       " alloc_align 0x%" PRIx64 " seg_boundary 0x%" PRIx64,
		    k, dc.private_size, dc.nqueues, dc.min_align_mask, dc.alloc_align_mask,
		    dc.seg_boundary_mask);
	lrc = iotlb_dev_create(r->mem, &dc, &dev);
	mrc = model_dev_create(&r->m, d, dc.private_size, dc.nqueues);
	diff_expect_rc(r, "iotlb_dev_create", lrc, mrc);
	diff_tally(r, OP_PRIVATE, mrc);
	diff_expect_no_logs(r);
	if (mrc) {
		if (dev != (struct iotlb_dev *)0x1)
			diff_mismatch(r, "refused dev_create wrote its out-parameter");
		diff_compare_state(r);
		return;
	}
	r->ldev[k] = dev;
	r->priv_size[k] = dc.private_size;
	r->priv_queues[k] = dc.nqueues;
	/* private_size 0 gives a device of the shared pools, in a private place */
	pv = model_private_of(&r->m, k);
	r->carved_from_later_pool += pv && pv->dom.pools[0]->parent->index > 0;
	if (iotlb_max_mapping_size(dev) != model_max_mapping_size(&r->m, d))
		diff_mismatch(r, "max_mapping_size %zu, model %" PRIu64,
			      iotlb_max_mapping_size(dev), model_max_mapping_size(&r->m, d));
	diff_compare_state(r);
}

static void op_destroy(struct run *r, unsigned k)
{
	int lrc, mrc;

	diff_set_op(r, "dev_destroy dev%u%s", k, model_private_of(&r->m, k) ? " (private)" : "");
	lrc = iotlb_dev_destroy(r->ldev[k]);
	mrc = model_dev_destroy(&r->m, &r->mdev[k]);
	diff_expect_rc(r, "iotlb_dev_destroy", lrc, mrc);
	diff_tally(r, OP_DESTROY, mrc);
	diff_expect_no_logs(r);
	if (!mrc)
		r->ldev[k] = NULL;
	diff_compare_state(r);
}

void diff_private_destroy(struct run *r)
{
	unsigned n = 0, pick, k;

	/* a shared device with something live refuses; it is never destroyed here */
	if (rng_pct(&r->rng, 10)) {
		k = (unsigned)rng_below(&r->rng, r->ndevs);
		if (model_dev_destroy(&r->m, &r->mdev[k]) == -EBUSY)
			op_destroy(r, k);
		return;
	}
	for (k = PRIV_FIRST; k < MAX_DEVS; k++)
		n += r->ldev[k] != NULL;
	if (!n)
		return;
	pick = (unsigned)rng_below(&r->rng, n);
	for (k = PRIV_FIRST; k < MAX_DEVS; k++)
		if (r->ldev[k] && pick-- == 0)
			break;
	/* mostly empty it first, so that the blocks really go back */
	if (rng_pct(&r->rng, 60))
		diff_release_dev(r, (int)k);
	op_destroy(r, k);
}

void diff_private_destroy_all(struct run *r)
{
	for (unsigned k = PRIV_FIRST; k < MAX_DEVS; k++) {
		if (!r->ldev[k])
			continue;
		diff_release_dev(r, (int)k);
		op_destroy(r, k);
		if (r->ldev[k])
			diff_mismatch(r, "dev%u could not be destroyed", k);
	}
}
