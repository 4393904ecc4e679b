/* SPDX-License-Identifier: MIT */
/*
 * The differential test's operations: each runs on the library and on the
 * model with the same arguments, then everything is compared. Random choices
 * lean on the edges of the rules (sizes, data ends, stale and inner handles,
 * pool edges), on shared and private devices alike.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"

static void remember_handle(struct run *r, uint64_t dma)
{
	r->stale[r->nstale++ % NSTALE] = dma;
}

static void op_map(struct run *r, unsigned dv, int queue, uint64_t orig, uint64_t size, int dir,
		   unsigned attrs)
{
	const struct model_dev *d = &r->mdev[dv];
	const struct model_domain *dom = model_dev_domain(&r->m, dv);
	uint64_t used_before = model_dev_stats(&r->m, dv)->used;
	uint64_t ldma = 0xdeadbeefull, mdma = 0;
	uint64_t padded = size ? model_padded_size(&r->m, d, orig, size) : 0;
	int lrc, mrc;

	diff_set_op(r, "map dev%u queue %d orig 0x%" PRIx64 " size %" PRIu64 " dir %s attrs 0x%x "
		  "(padded %" PRIu64 ")",
	       dv, queue, orig, size, diff_dir_name(dir), attrs, padded);
	lrc = iotlb_map(r->ldev[dv], queue, (void *)(uintptr_t)orig, (size_t)size,
			(enum iotlb_dir)dir, attrs, &ldma);
	mrc = model_map(&r->m, d, (unsigned)queue, orig, size, dir, &mdma);
	diff_expect_rc(r, "iotlb_map", lrc, mrc);
	diff_tally(r, OP_MAP, mrc);
	if (r->m.st.used == r->m.shared.nslots)
		r->full_slots++;
	if (mrc) {
		r->private_nospace += mrc == -ENOSPC && dom != &r->m.shared;
		if (ldma != 0xdeadbeefull)
			diff_mismatch(r, "failed map wrote its out-parameter");
		if ((mrc == -ENOSPC || mrc == -E2BIG) && !(attrs & IOTLB_ATTR_NO_WARN))
			diff_expect_full_log(r, padded, dom->nslots, used_before);
		else
			diff_expect_no_logs(r);
		diff_compare_state(r);
		return;
	}
	if (ldma != mdma)
		diff_mismatch(r, "map returned 0x%" PRIx64 ", model 0x%" PRIx64, ldma, mdma);
	diff_expect_no_logs(r);
	if (memcmp(diff_bounce_ptr(r, ldma), (void *)(uintptr_t)orig, size))
		diff_mismatch(r, "bounce buffer does not hold the original after map");
	remember_handle(r, ldma);
	r->padded_maps += r->m.allocs[r->m.nallocs - 1].pad != 0;
	r->private_maps += dom != &r->m.shared;
	r->multi_pool_maps += dom->npools > 1;
	diff_compare_state(r);
}

static void random_map(struct run *r)
{
	unsigned dv = diff_random_dev(r);
	uint64_t orig = (uint64_t)(uintptr_t)r->src + rng_below(&r->rng, SRC_SPAN);
	unsigned attrs = rng_pct(&r->rng, 15) ? IOTLB_ATTR_NO_WARN : 0;

	if (rng_pct(&r->rng, 5))
		attrs |= IOTLB_ATTR_SKIP_CPU_SYNC;
	op_map(r, dv, diff_random_queue(r), orig, diff_random_map_size(r), diff_random_dir(r),
	       attrs);
}

static void op_unmap(struct run *r, unsigned dv, uint64_t dma, uint64_t size, int dir,
		     unsigned attrs)
{
	const struct model_dev *d = &r->mdev[dv];
	const struct model_alloc *al = model_find_handle(&r->m, dma);
	struct model_alloc copy_of = { 0 };
	struct model_copy c;
	int lrc, mrc;

	diff_set_op(r, "unmap dev%u dma 0x%" PRIx64 " size %" PRIu64 " dir %s attrs 0x%x%s", dv, dma,
	       size, diff_dir_name(dir), attrs,
	       al ? (al->coherent ? " (a coherent handle)" : " (a live handle)") : "");
	if (al) {
		copy_of = *al;
		diff_device_writes(r, &copy_of, true);
	}
	lrc = iotlb_unmap(r->ldev[dv], dma, (size_t)size, (enum iotlb_dir)dir, attrs);
	mrc = model_unmap(&r->m, d, dma, size, dir, attrs, &c);
	diff_expect_rc(r, "iotlb_unmap", lrc, mrc);
	diff_tally(r, OP_UNMAP, mrc);
	r->clamps += c.clamped;
	if (!mrc) {
		diff_apply_copy(r, &copy_of, &c);
		if (r->flags & IOTLB_MEM_SCRUB)
			memset(r->snap, 0, diff_alloc_len(r, &copy_of));
		diff_expect_copy_logs(r, &c);
	} else {
		diff_expect_no_logs(r);
	}
	if (al)
		diff_check_bounce(r, &copy_of);
	diff_check_src(r);
	diff_compare_state(r);
}

static void random_unmap_live(struct run *r)
{
	const struct model_alloc *al = diff_random_live(r, 0);
	unsigned dv;
	uint64_t size, extent, k;
	unsigned attrs = 0;

	if (!al)
		return;
	dv = al->dev;
	if (rng_pct(&r->rng, 8))
		dv = diff_other_dev(r, dv); /* another device's handle: -ENOENT */
	/* the whole allocation from the handle: what a copy back may cover */
	extent = (uint64_t)al->pool->alloc_size[al->first + al->pad];
	size = al->size;
	k = rng_below(&r->rng, 100);
	if (k < 15)
		size = 1 + rng_below(&r->rng, al->size);
	else if (k < 22)
		size = extent;
	else if (k < 29)
		size = extent + 1; /* the smallest overflow */
	else if (k < 36)
		size = al->size + 1 + rng_below(&r->rng, 4096);
	if (rng_pct(&r->rng, 20))
		attrs |= IOTLB_ATTR_SKIP_CPU_SYNC;
	op_unmap(r, dv, al->handle, size, diff_random_dir(r), attrs);
}

static void random_unmap_bad(struct run *r)
{
	uint64_t dma = diff_random_bad_address(r);
	unsigned dv = diff_random_dev(r);

	op_unmap(r, dv, dma, 1 + rng_below(&r->rng, 8192), diff_random_dir(r), 0);
}

static void op_sync(struct run *r, unsigned dv, uint64_t dma, uint64_t size, int dir,
		    bool for_cpu)
{
	const struct model_dev *d = &r->mdev[dv];
	const struct model_alloc *al = NULL;
	struct model_alloc copy_of = { 0 };
	struct model_copy c;
	int lrc, mrc;

	if (model_classify(&r->m, d, dma) == MODEL_ADDR_DATA && size && dir >= 0 && dir <= 2)
		al = model_alloc_at(&r->m, dma);
	diff_set_op(r, "sync_for_%s dev%u dma 0x%" PRIx64 " size %" PRIu64 " dir %s%s",
	       for_cpu ? "cpu" : "device", dv, dma, size, diff_dir_name(dir),
	       al ? " (inside live data)" : "");
	if (al) {
		copy_of = *al;
		if (for_cpu) {
			diff_device_writes(r, &copy_of, true);
		} else {
			diff_cpu_writes(r, &copy_of);
			diff_device_writes(r, &copy_of, false);
		}
	}
	if (for_cpu)
		lrc = iotlb_sync_for_cpu(r->ldev[dv], dma, (size_t)size, (enum iotlb_dir)dir);
	else
		lrc = iotlb_sync_for_device(r->ldev[dv], dma, (size_t)size, (enum iotlb_dir)dir);
	mrc = model_sync(&r->m, d, dma, size, dir, for_cpu, &c);
	diff_expect_rc(r, for_cpu ? "iotlb_sync_for_cpu" : "iotlb_sync_for_device", lrc, mrc);
	diff_tally(r, OP_SYNC, mrc);
	r->clamps += c.clamped;
	if (!mrc) {
		diff_apply_copy(r, &copy_of, &c);
		diff_expect_copy_logs(r, &c);
		diff_check_bounce(r, &copy_of);
	} else {
		diff_expect_no_logs(r);
	}
	diff_check_src(r);
	diff_compare_state(r);
}

static void random_sync_live(struct run *r)
{
	const struct model_alloc *al = diff_random_live(r, 0);
	uint64_t extent, off, size, maxlen, k;
	unsigned dv;

	if (!al)
		return;
	/* the data runs from the handle to the end of the allocation's bytes */
	extent = (uint64_t)al->pool->alloc_size[al->first + al->pad];
	if (rng_pct(&r->rng, 80) || extent <= al->size)
		off = rng_below(&r->rng, al->size);
	else
		off = al->size + rng_below(&r->rng, extent - al->size);
	maxlen = extent - off;
	k = rng_below(&r->rng, 100);
	if (k < 65)
		size = 1 + rng_below(&r->rng, maxlen);
	else if (k < 80)
		size = maxlen;
	else if (k < 90)
		size = maxlen + 1; /* the smallest overflow */
	else
		size = maxlen + 1 + rng_below(&r->rng, 4096);
	dv = al->dev;
	if (rng_pct(&r->rng, 5))
		dv = diff_other_dev(r, dv);
	op_sync(r, dv, al->handle + off, size, diff_random_dir(r), rng_pct(&r->rng, 50));
}

static void random_sync_bad(struct run *r)
{
	uint64_t dma = diff_random_bad_address(r);

	op_sync(r, diff_random_dev(r), dma, 1 + rng_below(&r->rng, 4096), diff_random_dir(r),
		rng_pct(&r->rng, 50));
}

static void op_alloc(struct run *r, unsigned dv, uint64_t size)
{
	const struct model_dev *d = &r->mdev[dv];
	unsigned nstarts = model_dev_domain(&r->m, dv)->max_nareas;
	struct iotlb_stats before = IOTLB_STATS_INIT, after = IOTLB_STATS_INIT;
	void *lva = (void *)0x1;
	uint64_t ldma = 0xdeadbeefull, mdma = 0, cdma = 0;
	unsigned start, match = ~0u;
	bool fb, lib_fb;
	int lrc, mrc = 0, crc;

	diff_set_op(r, "alloc dev%u size %" PRIu64, dv, size);
	iotlb_dev_stats(r->ldev[dv], &before);
	lrc = iotlb_alloc(r->ldev[dv], (size_t)size, &lva, &ldma);
	iotlb_dev_stats(r->ldev[dv], &after);
	lib_fb = after.area_fallbacks != before.area_fallbacks;

	/*
	 * The first area of a coherent allocation comes from the selection
	 * policy (no queue argument), so the library must agree with the model
	 * for one of the possible hints, fallback count included (every pool's
	 * area count divides the largest one's, so hints below it cover all).
	 */
	for (start = 0; start < nstarts; start++) {
		crc = model_alloc_probe(&r->m, d, start, size, &cdma, &fb);
		if (crc != lrc || fb != lib_fb || (!crc && cdma != ldma))
			continue;
		match = start;
		break;
	}
	if (match == ~0u) {
		crc = model_alloc_probe(&r->m, d, 0, size, &cdma, &fb);
		diff_mismatch(r, "iotlb_alloc returned %d dma 0x%" PRIx64 " (fallback %d); no first "
			    "area gives that in the model (area 0 gives %d dma 0x%" PRIx64
			    " fallback %d)",
			 lrc, ldma, lib_fb, crc, crc ? 0 : cdma, fb);
	}
	mrc = model_alloc(&r->m, d, match, size, &mdma);
	diff_expect_rc(r, "iotlb_alloc", lrc, mrc);
	diff_tally(r, OP_ALLOC, mrc);
	diff_expect_no_logs(r);
	if (mrc) {
		if (ldma != 0xdeadbeefull || lva != (void *)0x1)
			diff_mismatch(r, "failed alloc wrote its out-parameters");
		diff_compare_state(r);
		return;
	}
	if (ldma != mdma || lva != diff_bounce_ptr(r, mdma))
		diff_mismatch(r, "alloc returned 0x%" PRIx64 " / %p, model 0x%" PRIx64 " / %p", ldma,
			 lva, mdma, (void *)diff_bounce_ptr(r, mdma));
	/* the caller uses its memory */
	rng_fill(&r->rng, lva, (size_t)size);
	remember_handle(r, ldma);
	diff_compare_state(r);
}

static void op_free(struct run *r, unsigned dv, uint64_t dma, uint64_t size)
{
	const struct model_alloc *al = model_find_handle(&r->m, dma);
	struct model_alloc copy_of = { 0 };
	int lrc, mrc;

	diff_set_op(r, "free dev%u dma 0x%" PRIx64 " size %" PRIu64 "%s", dv, dma, size,
	       al ? (al->coherent ? " (a coherent handle)" : " (a mapping's handle)") : "");
	if (al) {
		copy_of = *al;
		diff_device_writes(r, &copy_of, false);
	}
	lrc = iotlb_free(r->ldev[dv], dma, (size_t)size);
	mrc = model_free(&r->m, &r->mdev[dv], dma, size);
	diff_expect_rc(r, "iotlb_free", lrc, mrc);
	diff_tally(r, OP_FREE, mrc);
	diff_expect_no_logs(r);
	if (al) {
		if (!mrc && (r->flags & IOTLB_MEM_SCRUB))
			memset(r->snap, 0, diff_alloc_len(r, &copy_of));
		diff_check_bounce(r, &copy_of);
	}
	diff_compare_state(r);
}

static void random_free_live(struct run *r)
{
	const struct model_alloc *al = diff_random_live(r, 1);
	unsigned dv;

	if (!al)
		return;
	dv = al->dev;
	if (rng_pct(&r->rng, 8))
		dv = diff_other_dev(r, dv);
	op_free(r, dv, al->handle, al->size);
}

static void random_free_bad(struct run *r)
{
	uint64_t dma = diff_random_bad_address(r);

	op_free(r, diff_random_dev(r), dma, 1 + rng_below(&r->rng, 8192));
}

/* Argument errors: -EINVAL whatever the state, and nothing changes. */
static void random_invalid(struct run *r)
{
	const struct model_alloc *al = diff_random_live(r, 0);
	unsigned dv = al ? al->dev : 0;
	uint64_t orig = (uint64_t)(uintptr_t)r->src + rng_below(&r->rng, SRC_SPAN);

	switch (rng_below(&r->rng, 8)) {
	case 0:
		op_map(r, dv, diff_random_queue(r), orig, 0, diff_random_dir(r), 0);
		break;
	case 1:
		op_map(r, dv, diff_random_queue(r), orig, 1 + rng_below(&r->rng, 4096),
		       rng_pct(&r->rng, 50) ? IOTLB_DIR_NONE : 7, 0);
		break;
	case 2:
		op_map(r, dv, diff_random_queue(r), 0, 1 + rng_below(&r->rng, 4096),
		       diff_random_dir(r), 0);
		break;
	case 3:
		op_alloc(r, dv, 0);
		break;
	case 4:
		if (al)
			op_unmap(r, dv, al->handle, al->size, IOTLB_DIR_NONE, 0);
		break;
	case 5:
		if (al)
			op_unmap(r, dv, al->handle, 0, diff_random_dir(r), 0);
		break;
	case 6:
		if (al)
			op_sync(r, dv, al->handle, rng_pct(&r->rng, 50) ? 0 : al->size,
				rng_pct(&r->rng, 50) ? 0 : IOTLB_DIR_NONE, rng_pct(&r->rng, 50));
		break;
	default:
		al = diff_random_live(r, 1);
		if (al)
			op_free(r, al->dev, al->handle, 0);
		break;
	}
}

/* Address queries and the high-water reset. */
static void random_query(struct run *r)
{
	uint64_t dma = diff_random_bad_address(r);
	unsigned dv = diff_random_dev(r);
	/* a device sees only the pools it maps from */
	bool inside = model_domain_find_pool(&r->m, model_dev_domain(&r->m, dv), dma) != NULL;
	void *va;
	int rc;

	diff_set_op(r, "is_bounce / dma_to_virt dev%u 0x%" PRIx64, dv, dma);
	va = iotlb_dma_to_virt(r->ldev[dv], dma);
	if (va != (inside ? (void *)diff_bounce_ptr(r, dma) : NULL))
		diff_mismatch(r, "dma_to_virt gave %p", va);
	if (iotlb_is_bounce(r->ldev[dv], dma) != inside)
		diff_mismatch(r, "is_bounce gave %d", !inside);
	if (rng_pct(&r->rng, 30)) {
		diff_set_op(r, "reset_hiwater(1) then reset_hiwater(0)");
		rc = iotlb_mem_reset_hiwater(r->mem, 1);
		diff_expect_rc(r, "iotlb_mem_reset_hiwater(1)", rc, -EINVAL);
		diff_compare_state(r);
		rc = iotlb_mem_reset_hiwater(r->mem, 0);
		diff_expect_rc(r, "iotlb_mem_reset_hiwater(0)", rc, 0);
		r->m.st.used_hiwater = 0;
	}
	diff_expect_no_logs(r);
	diff_compare_state(r);
}

void diff_random_op(struct run *r)
{
	uint64_t k = rng_below(&r->rng, 1000);
	unsigned mw = r->map_weight;

	/* now and then: the pool list and the private devices change */
	if (k < 5) {
		diff_add_pool(r);
		return;
	}
	if (k < 8) {
		diff_add_pool_bad(r);
		return;
	}
	if (k < 20) {
		diff_private_create(r);
		return;
	}
	if (k < 28) {
		diff_private_destroy(r);
		return;
	}
	k = rng_below(&r->rng, 100);
	if (k < mw)
		random_map(r);
	else if (k < mw + 18)
		random_unmap_live(r);
	else if (k < mw + 21)
		random_unmap_bad(r);
	else if (k < mw + 36)
		random_sync_live(r);
	else if (k < mw + 39)
		random_sync_bad(r);
	else if (k < mw + 49)
		op_alloc(r, diff_random_dev(r), diff_random_alloc_size(r));
	else if (k < mw + 56)
		random_free_live(r);
	else if (k < mw + 58)
		random_free_bad(r);
	else if (k < mw + 61)
		random_invalid(r);
	else
		random_query(r);
}

void diff_release_dev(struct run *r, int dv)
{
	const struct model_alloc *al;

	while ((al = diff_random_live_of(r, -1, dv)) != NULL) {
		r->op++;
		if (al->coherent)
			op_free(r, al->dev, al->handle, al->size);
		else
			op_unmap(r, al->dev, al->handle, al->size, diff_random_dir(r), 0);
	}
}

void diff_release_all(struct run *r)
{
	diff_release_dev(r, -1);
}
