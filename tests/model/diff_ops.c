/* SPDX-License-Identifier: MIT */
/*
 * The differential test's operations: each runs on the library and on the
 * model with the same arguments, then everything is compared. Random choices
 * lean on the edges of the rules (sizes, data ends, stale and inner handles).
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

static uint64_t seg_bytes(const struct run *r)
{
	return (uint64_t)r->mp.segment_slots << r->mp.slot_shift;
}

static int random_dir(struct run *r)
{
	return (int)rng_below(&r->rng, 3);
}

static const char *dir_name(int dir)
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

static uint64_t random_map_size(struct run *r)
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

static uint64_t random_alloc_size(struct run *r)
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

static int random_queue(struct run *r)
{
	if (rng_pct(&r->rng, 5))
		return 0x7fffffff - (int)rng_below(&r->rng, 4);
	return (int)rng_below(&r->rng, 64);
}

/* A live allocation chosen at random, or NULL. */
const struct model_alloc *diff_random_live(struct run *r, int coherent)
{
	size_t n = 0, pick, k;

	for (k = 0; k < r->m.nallocs; k++)
		if (r->m.allocs[k].live && (coherent < 0 || r->m.allocs[k].coherent == coherent))
			n++;
	if (!n)
		return NULL;
	pick = rng_below(&r->rng, n);
	for (k = 0; k < r->m.nallocs; k++)
		if (r->m.allocs[k].live && (coherent < 0 || r->m.allocs[k].coherent == coherent) &&
		    pick-- == 0)
			return &r->m.allocs[k];
	return NULL;
}

static void op_map(struct run *r, unsigned dv, int queue, uint64_t orig, uint64_t size, int dir,
		   unsigned attrs)
{
	const struct model_dev *d = &r->mdev[dv];
	uint64_t used_before = r->m.st.used;
	uint64_t ldma = 0xdeadbeefull, mdma = 0;
	uint64_t padded = size ? model_padded_size(&r->m, d, orig, size) : 0;
	int lrc, mrc;

	diff_set_op(r, "map dev%u queue %d orig 0x%" PRIx64 " size %" PRIu64 " dir %s attrs 0x%x "
		  "(padded %" PRIu64 ")",
	       dv, queue, orig, size, dir_name(dir), attrs, padded);
	lrc = iotlb_map(r->ldev[dv], queue, (void *)(uintptr_t)orig, (size_t)size,
			(enum iotlb_dir)dir, attrs, &ldma);
	mrc = model_map(&r->m, d, (unsigned)queue, orig, size, dir, &mdma);
	diff_expect_rc(r, "iotlb_map", lrc, mrc);
	diff_tally(r, OP_MAP, mrc);
	if (r->m.st.used == r->mp.nslots)
		r->full_slots++;
	if (mrc) {
		if (ldma != 0xdeadbeefull)
			diff_mismatch(r, "failed map wrote its out-parameter");
		if ((mrc == -ENOSPC || mrc == -E2BIG) && !(attrs & IOTLB_ATTR_NO_WARN))
			diff_expect_full_log(r, padded, used_before);
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
	diff_compare_state(r);
}

static void random_map(struct run *r)
{
	unsigned dv = (unsigned)rng_below(&r->rng, r->ndevs);
	uint64_t orig = (uint64_t)(uintptr_t)r->src + rng_below(&r->rng, SRC_SPAN);
	unsigned attrs = rng_pct(&r->rng, 15) ? IOTLB_ATTR_NO_WARN : 0;

	if (rng_pct(&r->rng, 5))
		attrs |= IOTLB_ATTR_SKIP_CPU_SYNC;
	op_map(r, dv, random_queue(r), orig, random_map_size(r), random_dir(r), attrs);
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
	       size, dir_name(dir), attrs,
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
	if (r->ndevs > 1 && rng_pct(&r->rng, 8))
		dv = 1 - dv; /* another device's handle: -ENOENT */
	/* the whole allocation from the handle: what a copy back may cover */
	extent = (uint64_t)r->m.alloc_size[al->first + al->pad];
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
	op_unmap(r, dv, al->handle, size, random_dir(r), attrs);
}

/* An address in or near the pool that is probably not a handle. */
static uint64_t random_bad_address(struct run *r)
{
	const struct model_alloc *al;
	uint64_t bytes = r->mp.nslots << r->mp.slot_shift;

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
		if (rng_pct(&r->rng, 50) && r->mp.dma_addr >= 4096)
			return r->mp.dma_addr - 1 - rng_below(&r->rng, 4096);
		return r->mp.dma_addr + bytes + rng_below(&r->rng, 4096);
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
			return al->handle + (uint64_t)r->m.alloc_size[al->first + al->pad] -
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
	/* anywhere in the pool */
	return r->mp.dma_addr + rng_below(&r->rng, bytes);
}

static void random_unmap_bad(struct run *r)
{
	uint64_t dma = random_bad_address(r);
	unsigned dv = (unsigned)rng_below(&r->rng, r->ndevs);

	op_unmap(r, dv, dma, 1 + rng_below(&r->rng, 8192), random_dir(r), 0);
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
	       for_cpu ? "cpu" : "device", dv, dma, size, dir_name(dir),
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
	extent = (uint64_t)r->m.alloc_size[al->first + al->pad];
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
	if (r->ndevs > 1 && rng_pct(&r->rng, 5))
		dv = 1 - dv;
	op_sync(r, dv, al->handle + off, size, random_dir(r), rng_pct(&r->rng, 50));
}

static void random_sync_bad(struct run *r)
{
	uint64_t dma = random_bad_address(r);

	op_sync(r, (unsigned)rng_below(&r->rng, r->ndevs), dma, 1 + rng_below(&r->rng, 4096),
		random_dir(r), rng_pct(&r->rng, 50));
}

static void op_alloc(struct run *r, unsigned dv, uint64_t size)
{
	const struct model_dev *d = &r->mdev[dv];
	struct iotlb_stats before = IOTLB_STATS_INIT, after = IOTLB_STATS_INIT;
	void *lva = (void *)0x1;
	uint64_t ldma = 0xdeadbeefull, mdma = 0, cdma = 0;
	unsigned start, match = ~0u;
	bool fb, lib_fb;
	int lrc, mrc = 0, crc;

	diff_set_op(r, "alloc dev%u size %" PRIu64, dv, size);
	iotlb_mem_stats(r->mem, &before);
	lrc = iotlb_alloc(r->ldev[dv], (size_t)size, &lva, &ldma);
	iotlb_mem_stats(r->mem, &after);
	lib_fb = after.area_fallbacks != before.area_fallbacks;

	/*
	 * The first area of a coherent allocation comes from the selection
	 * policy (no queue argument), so the library must agree with the model
	 * for one of the possible first areas, fallback count included.
	 */
	for (start = 0; start < r->m.nareas; start++) {
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
	if (r->ndevs > 1 && rng_pct(&r->rng, 8))
		dv = 1 - dv;
	op_free(r, dv, al->handle, al->size);
}

static void random_free_bad(struct run *r)
{
	uint64_t dma = random_bad_address(r);

	op_free(r, (unsigned)rng_below(&r->rng, r->ndevs), dma, 1 + rng_below(&r->rng, 8192));
}

/* Argument errors: -EINVAL whatever the state, and nothing changes. */
static void random_invalid(struct run *r)
{
	const struct model_alloc *al = diff_random_live(r, 0);
	unsigned dv = al ? al->dev : 0;
	uint64_t orig = (uint64_t)(uintptr_t)r->src + rng_below(&r->rng, SRC_SPAN);

	switch (rng_below(&r->rng, 8)) {
	case 0:
		op_map(r, dv, random_queue(r), orig, 0, random_dir(r), 0);
		break;
	case 1:
		op_map(r, dv, random_queue(r), orig, 1 + rng_below(&r->rng, 4096),
		       rng_pct(&r->rng, 50) ? IOTLB_DIR_NONE : 7, 0);
		break;
	case 2:
		op_map(r, dv, random_queue(r), 0, 1 + rng_below(&r->rng, 4096), random_dir(r), 0);
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
			op_unmap(r, dv, al->handle, 0, random_dir(r), 0);
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
	uint64_t dma = random_bad_address(r);
	uint64_t bytes = r->mp.nslots << r->mp.slot_shift;
	bool inside = dma >= r->mp.dma_addr && dma - r->mp.dma_addr < bytes;
	unsigned dv = (unsigned)rng_below(&r->rng, r->ndevs);
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
	uint64_t k = rng_below(&r->rng, 100);
	unsigned mw = r->map_weight;

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
		op_alloc(r, (unsigned)rng_below(&r->rng, r->ndevs), random_alloc_size(r));
	else if (k < mw + 56)
		random_free_live(r);
	else if (k < mw + 58)
		random_free_bad(r);
	else if (k < mw + 61)
		random_invalid(r);
	else
		random_query(r);
}

void diff_release_all(struct run *r)
{
	const struct model_alloc *al;

	while ((al = diff_random_live(r, -1)) != NULL) {
		r->op++;
		if (al->coherent)
			op_free(r, al->dev, al->handle, al->size);
		else
			op_unmap(r, al->dev, al->handle, al->size, random_dir(r), 0);
	}
}
