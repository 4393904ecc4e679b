/* SPDX-License-Identifier: MIT */
/*
 * The growable allocator (docs/algorithm.md#growth): the area-major search
 * order across pools, and transient pools (docs/algorithm.md#transient-pools):
 * placement of aligned requests, coherent allocations, syncs, refusals, and
 * their return to the provider after the unmap and a grace period.
 * Background growth, add_pool and destroy are in test_grow_pools.c.
 */
#include "grow_fx.h"

/* --------------------------------------------- search order (area-major) */

#define P0_DMA B0
#define P1_DMA 0x20000000ull
#define P2_DMA 0x30000000ull
#define AREA_BYTES (128 * SLOT)

struct where {
	int pool; /* 0, 1, 2 in creation order */
	int area;
};

static struct where where_is(uint64_t dma)
{
	static const uint64_t base[3] = {P0_DMA, P1_DMA, P2_DMA};
	static const uint64_t len[3] = {512 * SLOT, 256 * SLOT, 128 * SLOT};

	for (int p = 0; p < 3; p++)
		if (dma >= base[p] && dma < base[p] + len[p])
			return (struct where){p, (int)((dma - base[p]) / AREA_BYTES)};
	return (struct where){-1, -1};
}

/*
 * Three pools, created P0 (512 slots), P1 (256), P2 (128), with nareas = 4
 * requested: P0 gets 4 areas, P1 2 (256 / 128), P2 1 (docs/algorithm.md#area-count). The
 * list is newest first: P2, P1, P0; max_nareas = 4. Each map below takes a
 * whole 128-slot area, so an area is either empty or full, and the area-major
 * rule of docs/algorithm.md#area-major gives, for hint h, the order
 *   k=0: P2 a0,  P1 a(h&1),      P0 a(h&3)
 *   k=1:         P1 a((h+1)&1),  P0 a((h+1)&3)
 *   k=2:                         P0 a((h+2)&3)
 *   k=3:                         P0 a((h+3)&3)
 * The first area not yet full serves the request.
 */
static void test_search_is_area_major_across_pools_newest_first(void **state)
{
	struct gfx *g = *state;
	struct iotlb__pool *pool;
	struct iotlb_stats s;
	uint64_t dma[14] = {0}, x = DMA_SENTINEL;
	static const struct {
		int hint, pool, area;
		int unmap_before[2]; /* steps (1-based) unmapped before this one, 0 = none */
	} steps[] = {
		/* 1: k=0, P2 a0 is free */
		{5, 2, 0, {0, 0}},
		/* 2: k=0: P2 a0 full; P1 a(5&1)=1 free */
		{5, 1, 1, {0, 0}},
		/* 3: k=0: P2 a0, P1 a1 full; P0 a(5&3)=1 free */
		{5, 0, 1, {0, 0}},
		/* 4: k=0 all full; k=1: P2 has no area 1; P1 a(6&1)=0 free (before P0 a2) */
		{5, 1, 0, {0, 0}},
		/* 5: k=1: P1 a0 full; P0 a(6&3)=2 free */
		{5, 0, 2, {0, 0}},
		/* 6: k=0: P2 a0, P1 a(2&1)=0, P0 a(2&3)=2 full; k=1: P1 a1 full, P0 a3 free */
		{2, 0, 3, {0, 0}},
		/* 7: k=0 and k=1 as in step 6, all full; k=2: P0 a(4&3)=0 free */
		{2, 0, 0, {0, 0}},
		/* now every area is full; free P1 a0 (step 4) and P0 a1 (step 3) */
		/* 8: k=0: P2 a0 full, P1 a(1&1)=1 full, P0 a(1&3)=1 free -- P0's first
		 *    choice comes before P1's second choice (pool-major would give P1 a0) */
		{1, 0, 1, {4, 3}},
		/* 9: k=0 all full; k=1: P1 a(2&1)=0 free */
		{1, 1, 0, {0, 0}},
		/* free P2 a0 (step 1) and P0 a3 (step 6) */
		/* 10: k=0: P2 a0 free */
		{7, 2, 0, {1, 6}},
		/* 11: k=0: P2 a0 full, P1 a(7&1)=1 full, P0 a(7&3)=3 free */
		{7, 0, 3, {0, 0}},
		/* free P0 a0 (step 7) and P1 a1 (step 2) */
		/* 12: k=0: P2 a0, P1 a(6&1)=0, P0 a(6&3)=2 full; k=1: P1 a(7&1)=1 free */
		{6, 1, 1, {7, 2}},
		/* 13: k=1: P1 a1 full, P0 a(7&3)=3 full; k=2: P0 a(8&3)=0 free */
		{6, 0, 0, {0, 0}},
	};

	g_prepare(g, 512, 4, false);
	g_create(g);
	assert_int_equal(iotlb_mem_add_pool(g->mem, g_mem(g, 256 * SLOT), P1_DMA, 256 * SLOT), 0);
	assert_int_equal(iotlb_mem_add_pool(g->mem, g_mem(g, 128 * SLOT), P2_DMA, 128 * SLOT), 0);

	/* White box: the list is newest first with 1, 2, 4 areas. */
	pool = g->mem->shared.pools;
	assert_int_equal(pool->dma_addr, P2_DMA);
	assert_int_equal(pool->nareas, 1);
	assert_int_equal(pool->next->dma_addr, P1_DMA);
	assert_int_equal(pool->next->nareas, 2);
	assert_int_equal(pool->next->next->dma_addr, P0_DMA);
	assert_int_equal(pool->next->next->nareas, 4);
	assert_null(pool->next->next->next);
	s = g_stats(g);
	assert_int_equal(s.npools, 3);
	assert_int_equal(s.nslots, 896);
	assert_int_equal(s.nareas, 4);

	for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct where w;

		/* After step 7 every area is full: nothing can serve (no growth). */
		if (i == 7) {
			assert_int_equal(iotlb_map(g->dev, 0, orig_at(g, 0), SEG_BYTES,
						   IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN, &x),
					 -ENOSPC);
			assert_int_equal(x, DMA_SENTINEL);
		}
		for (unsigned j = 0; j < 2; j++) {
			int u = steps[i].unmap_before[j];

			if (u) {
				g_unmap(g->dev, dma[u - 1], SEG_BYTES, IOTLB_TO_DEVICE);
				dma[u - 1] = 0;
			}
		}
		dma[i] = g_map(g, g->dev, steps[i].hint, orig_at(g, 0), SEG_BYTES, IOTLB_TO_DEVICE);
		w = where_is(dma[i]);
		if (w.pool != steps[i].pool || w.area != steps[i].area)
			fail_msg("step %u (hint %d): served by P%d a%d, expected P%d a%d", i + 1,
				 steps[i].hint, w.pool, w.area, steps[i].pool, steps[i].area);
		/* An empty area starts its search at its first slot. */
		assert_int_equal((dma[i] - (w.pool == 0	  ? P0_DMA
					    : w.pool == 1 ? P1_DMA
							  : P2_DMA)) %
					 AREA_BYTES,
				 0);
	}
	for (unsigned i = 0; i < sizeof(dma) / sizeof(dma[0]); i++)
		if (dma[i])
			g_unmap(g->dev, dma[i], SEG_BYTES, IOTLB_TO_DEVICE);
	assert_int_equal(g_stats(g).used, 0);
}

/* ------------------------------------------------- transient pools */

/*
 * A full mem with IOTLB_MEM_GROW serves the next map from a transient pool
 * of its own: counted apart from nslots, holding the caller's data, and
 * handed back to the provider after the unmap and a grace period.
 */
static void test_full_mem_maps_from_transient_pool_returned_after_unmap(void **state)
{
	struct gfx *g = *state;
	unsigned char *orig = orig_at(g, 0x100000);
	unsigned char *bounce;
	struct tp_region tr;
	struct tp_counts c;
	struct iotlb_stats s;
	uint64_t fill, dma;
	long ti;

	g_prepare(g, 128, 1, true);
	g->cfg.grow_size = 256 * SLOT;
	g_create(g);
	g_fill(g, 128, &fill);
	c = tp_counts(&g->tp);
	assert_int_equal(c.alloc_calls, 0); /* room so far: the provider is not asked */
	assert_false(growth_requested(g));

	pattern(orig, 4096, 7);
	dma = g_map(g, g->dev, 0, orig, 4096, IOTLB_BIDIRECTIONAL);
	/* Not from the (full) initial pool: from a region of the provider. */
	assert_true(dma < B0 || dma >= B0 + 128 * SLOT);
	ti = tp_find(&g->tp, dma);
	assert_true(ti >= 0);
	tr = tp_region(&g->tp, ti);
	assert_true(dma + 4096 <= tr.dma + tr.size);
	/* 4096 >= page_size and no masks: page aligned (docs/algorithm.md#search-setup). */
	assert_int_equal(dma & 0xfff, 0);

	s = g_stats(g);
	assert_int_equal(s.transient_pools, 1);
	assert_true(s.transient_nslots >= 2);
	assert_true(s.transient_nslots <= tr.size / SLOT);
	assert_int_equal(s.used, 128 + 2); /* used counts transient slots too */
	assert_int_equal(s.maps, 2);

	/* A transient pool is a pool: add_pool may not overlap it either. */
	assert_int_equal(iotlb_mem_add_pool(g->mem, g_mem(g, 0x10000), dma & ~0xfffull, 0x1000),
			 -EINVAL);

	/* The bounce is the provider's memory at the same offset, holding the data. */
	assert_true(iotlb_is_bounce(g->dev, dma));
	bounce = iotlb_dma_to_virt(g->dev, dma);
	assert_ptr_equal(bounce, (unsigned char *)tr.vaddr + (dma - tr.dma));
	assert_memory_equal(bounce, orig, 4096);

	/* Growth was asked for too: one attempt, one pool of grow_size. */
	wait_grow_attempts(g, 1);
	assert_true(STAT_BECOMES(g, npools, 2));
	s = g_stats(g);
	assert_int_equal(s.nslots, 128 + 256); /* transient slots not included */
	assert_int_equal(s.grow_failures, 0);
	c = tp_counts(&g->tp);
	assert_int_equal(c.allocs, 2); /* the transient region and the new pool */
	assert_int_equal(c.frees, 0);

	/* The device answers; unmap copies back, then the transient pool goes. */
	pattern(bounce, 4096, 9);
	g_unmap(g->dev, dma, 4096, IOTLB_BIDIRECTIONAL);
	pattern(orig_at(g, 0x200000), 4096, 9);
	assert_memory_equal(orig, orig_at(g, 0x200000), 4096);
	s = g_stats(g);
	assert_int_equal(s.used, 128);

	assert_true(STAT_BECOMES(g, transient_nslots, 0));
	assert_true(TP_WAIT_FOR(tp_region(&g->tp, ti).frees == 1));
	assert_false(iotlb_is_bounce(g->dev, dma));
	assert_null(iotlb_dma_to_virt(g->dev, dma));
	c = tp_counts(&g->tp);
	assert_int_equal(c.frees, 1);
	assert_int_equal(c.bad_frees, 0);

	/* Its counters survive it (folded into the mem's totals). */
	s = g_stats(g);
	assert_int_equal(s.transient_pools, 1);
	assert_int_equal(s.maps, 2);
	assert_int_equal(s.unmaps, 1);
	assert_int_equal(s.bounced_to_device, SEG_BYTES + 4096);
	assert_int_equal(s.bounced_to_cpu, 4096);
	assert_int_equal(s.map_fail_nospace, 0);

	g_unmap(g->dev, fill, SEG_BYTES, IOTLB_TO_DEVICE);
}

/*
 * min_align 0xfff with an original whose bit 11 is set and 262144 bytes:
 * offset = orig & 0xfff & 0x7ff = 0, so the padded size is 262144 (not
 * E2BIG), 128 slots. In a page-aligned pool a 128-slot run must start at a
 * segment start, an even slot, whose address has bit 11 clear, but the
 * min-align rule (iotlb_align_mask = 0x800) wants it set: no ordinary pool
 * can ever serve it. A transient pool may start at an odd slot of its
 * region, so with growth it succeeds (the kernel's exact sizing fails it).
 */
static void test_transient_pool_places_odd_start_min_align_request(void **state)
{
	struct gfx *g = *state;
	unsigned char *orig = orig_at(g, 0x40800);
	struct iotlb_mem_config plain;
	struct iotlb_mem *pm;
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_dev *pd, *d;
	unsigned char *bounce;
	struct iotlb_stats s;
	uint64_t dma = DMA_SENTINEL;
	long ti;

	assert_int_equal((uintptr_t)orig & 0xfff, 0x800);
	pattern(orig, SEG_BYTES, 3);

	/* Without growth: refused with "no space", never "too big". */
	g_prepare(g, 256, 1, false);
	plain = g->cfg;
	assert_int_equal(iotlb_mem_create(&plain, &pm), 0);
	dc.min_align_mask = 0xfff;
	assert_int_equal(iotlb_dev_create(pm, &dc, &pd), 0);
	assert_int_equal(
		iotlb_map(pd, 0, orig, SEG_BYTES, IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN, &dma),
		-ENOSPC);
	assert_int_equal(dma, DMA_SENTINEL);
	assert_int_equal(iotlb_dev_destroy(pd), 0);
	assert_int_equal(iotlb_mem_destroy(pm), 0);

	/* With growth, on an empty mem: a transient pool serves it. */
	g_prepare(g, 256, 1, true);
	g_create(g);
	d = g_dev(g, 0xfff, 0, 0);
	dma = g_map(g, d, 0, orig, SEG_BYTES, IOTLB_BIDIRECTIONAL);
	assert_int_equal(dma & 0xfff, 0x800);
	ti = tp_find(&g->tp, dma);
	assert_true(ti >= 0);
	assert_true(tp_find(&g->tp, dma + SEG_BYTES - 1) == ti);
	s = g_stats(g);
	assert_int_equal(s.transient_pools, 1);
	assert_true(s.transient_nslots >= 128);
	assert_int_equal(s.used, 128);
	bounce = iotlb_dma_to_virt(d, dma);
	assert_non_null(bounce);
	assert_memory_equal(bounce, orig, SEG_BYTES);

	pattern(bounce, SEG_BYTES, 4);
	g_unmap(d, dma, SEG_BYTES, IOTLB_BIDIRECTIONAL);
	pattern(orig_at(g, 0x100000), SEG_BYTES, 4);
	assert_memory_equal(orig, orig_at(g, 0x100000), SEG_BYTES);
	assert_true(STAT_BECOMES(g, transient_nslots, 0));
	assert_true(TP_WAIT_FOR(tp_region(&g->tp, ti).frees == 1));
	/* The growth it asked for was a pool like any other, of grow_size 0 ->
	 * the initial size (iotlb_mem_config.grow_size). */
	wait_grow_attempts(g, 1);
	wait_grown(g, 2);
	assert_int_equal(g_stats(g).nslots, 512);
	assert_int_equal(tp_counts(&g->tp).allocs, 2);
	assert_int_equal(tp_region(&g->tp, ti == 0 ? 1 : 0).size, 256 * SLOT);
}

/*
 * A transient pool must satisfy the boundary as well as min-align. Device
 * min_align 0xfff, seg_boundary 0xffff; original with bit 11 set, 31 slots
 * (63488 B, offset 0): the run [s, s+31) must stay inside one 32-slot
 * (64 KiB) window and start at an odd slot, so s = 1 mod 32 exactly. The
 * provider's regions start 0x7000 past a 64 KiB boundary (slot 14 of a
 * window), so the library has to skip 19 slots into its region to get there.
 */
static void test_transient_pool_respects_boundary_and_min_align(void **state)
{
	struct gfx *g = *state;
	unsigned char *orig = orig_at(g, 0x20800);
	const size_t size = 31 * SLOT;
	struct iotlb_dev *d, *d2;
	uint64_t fill, fill2, dma;
	long ti;

	tp_fini(&g->tp);
	tp_init(&g->tp, ABOVE_4G + 0x7000);
	g_prepare(g, 128, 1, true);
	g_create(g);
	d = g_dev(g, 0xfff, 0, 0xffff);
	g_fill(g, 128, &fill);

	pattern(orig, size, 5);
	dma = g_map(g, d, 0, orig, size, IOTLB_TO_DEVICE);
	ti = tp_find(&g->tp, dma);
	assert_true(ti >= 0);
	assert_int_equal(g_stats(g).transient_pools, 1);
	assert_int_equal(dma & 0xfff, 0x800);
	assert_int_equal(dma >> 16, (dma + size - 1) >> 16);
	assert_int_equal((dma & 0xffff) >> 11, 1);
	assert_memory_equal(iotlb_dma_to_virt(d, dma), orig, size);

	g_unmap(d, dma, size, IOTLB_TO_DEVICE);
	assert_true(STAT_BECOMES(g, transient_nslots, 0));
	assert_true(TP_WAIT_FOR(tp_region(&g->tp, ti).frees == 1));

	/* alloc_align 0xffff: 4096 B pads to 65536 (32 slots) and must start
	 * on a 64 KiB boundary, 18 slots into a region starting at 0x7000. The
	 * first grown pool may serve it instead: wait for the worker and fill
	 * that pool first, so a transient pool is needed again. */
	wait_grown(g, 2);
	fill2 = g_map(g, g->dev, 0, orig_at(g, 0), SEG_BYTES, IOTLB_TO_DEVICE);
	d2 = g_dev(g, 0, 0xffff, 0);
	pattern(orig_at(g, 0x30000), 4096, 6);
	dma = g_map(g, d2, 0, orig_at(g, 0x30000), 4096, IOTLB_TO_DEVICE);
	ti = tp_find(&g->tp, dma);
	assert_true(ti >= 0);
	assert_int_equal(g_stats(g).transient_pools, 2);
	assert_int_equal(dma & 0xffff, 0);
	assert_int_equal(g_stats(g).used, 128 + 128 + 32);
	assert_memory_equal(iotlb_dma_to_virt(d2, dma), orig_at(g, 0x30000), 4096);
	g_unmap(d2, dma, 4096, IOTLB_TO_DEVICE);
	assert_true(STAT_BECOMES(g, transient_nslots, 0));
	assert_true(TP_WAIT_FOR(tp_region(&g->tp, ti).frees == 1));
	g_unmap(g->dev, fill2, SEG_BYTES, IOTLB_TO_DEVICE);
	g_unmap(g->dev, fill, SEG_BYTES, IOTLB_TO_DEVICE);
}

/* A coherent allocation on a full mem also gets a transient pool. */
static void test_coherent_alloc_on_full_mem_uses_transient_pool(void **state)
{
	struct gfx *g = *state;
	unsigned char *va = NULL;
	struct iotlb_stats s;
	uint64_t fill, dma = 0;
	long ti;

	g_prepare(g, 128, 1, true);
	g_create(g);
	g_fill(g, 128, &fill);

	assert_int_equal(iotlb_alloc(g->dev, 8192, (void **)&va, &dma), 0);
	ti = tp_find(&g->tp, dma);
	assert_true(ti >= 0);
	/* Naturally aligned to 8 KiB (docs/algorithm.md#coherent) and zeroed, although
	 * fresh provider memory holds TP_FILL. */
	assert_int_equal(dma & 0x1fff, 0);
	assert_ptr_equal(va, iotlb_dma_to_virt(g->dev, dma));
	for (size_t i = 0; i < 8192; i++)
		if (va[i])
			fail_msg("byte %zu of a coherent allocation is 0x%02x", i, va[i]);
	s = g_stats(g);
	assert_int_equal(s.transient_pools, 1);
	assert_int_equal(s.used, 128 + 4);
	assert_int_equal(s.allocs, 1);

	assert_int_equal(iotlb_free(g->dev, dma, 8192), 0);
	assert_true(STAT_BECOMES(g, transient_nslots, 0));
	assert_true(TP_WAIT_FOR(tp_region(&g->tp, ti).frees == 1));
	s = g_stats(g);
	assert_int_equal(s.frees, 1);
	assert_int_equal(s.allocs, 1);
	g_unmap(g->dev, fill, SEG_BYTES, IOTLB_TO_DEVICE);
}

/* Sync works on a transient mapping; a bad unmap is refused and keeps it. */
static void test_transient_mapping_syncs_and_refuses_bad_unmap(void **state)
{
	struct gfx *g = *state;
	unsigned char *orig = orig_at(g, 0x10000);
	unsigned char *bounce;
	uint64_t fill, dma;
	long ti;

	g_prepare(g, 128, 1, true);
	g_create(g);
	g_fill(g, 128, &fill);
	memset(orig, 0x22, 8192);
	dma = g_map(g, g->dev, 0, orig, 8192, IOTLB_FROM_DEVICE);
	ti = tp_find(&g->tp, dma);
	assert_true(ti >= 0);
	bounce = iotlb_dma_to_virt(g->dev, dma);
	memset(bounce + 2048, 0x33, 100);
	assert_int_equal(iotlb_sync_for_cpu(g->dev, dma + 2048, 100, IOTLB_FROM_DEVICE), 0);
	for (size_t i = 0; i < 8192; i++)
		if (orig[i] != (i >= 2048 && i < 2148 ? 0x33 : 0x22))
			fail_msg("orig byte %zu is 0x%02x after partial sync", i, orig[i]);

	/* Inside the mapping, not its handle: -ENOENT, the pool stays. */
	assert_int_equal(iotlb_unmap(g->dev, dma + 2048, 100, IOTLB_FROM_DEVICE, 0), -ENOENT);
	assert_true(g_stats(g).transient_nslots > 0);
	assert_true(iotlb_is_bounce(g->dev, dma));
	assert_int_equal(tp_counts(&g->tp).frees, 0);

	g_unmap(g->dev, dma, 8192, IOTLB_FROM_DEVICE);
	/* Already unmapped: refused, not a second release. */
	assert_int_equal(iotlb_unmap(g->dev, dma, 8192, IOTLB_FROM_DEVICE, 0), -ENOENT);
	assert_true(STAT_BECOMES(g, transient_nslots, 0));
	assert_true(TP_WAIT_FOR(tp_region(&g->tp, ti).frees == 1));
	g_unmap(g->dev, fill, SEG_BYTES, IOTLB_TO_DEVICE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		G_TEST(test_search_is_area_major_across_pools_newest_first),
		G_TEST(test_full_mem_maps_from_transient_pool_returned_after_unmap),
		G_TEST(test_transient_pool_places_odd_start_min_align_request),
		G_TEST(test_transient_pool_respects_boundary_and_min_align),
		G_TEST(test_coherent_alloc_on_full_mem_uses_transient_pool),
		G_TEST(test_transient_mapping_syncs_and_refuses_bad_unmap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
