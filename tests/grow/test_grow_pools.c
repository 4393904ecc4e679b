/* SPDX-License-Identifier: MIT */
/*
 * The growable allocator (docs/algorithm.md#growth, include/iotlb/iotlb.h):
 * background growth, provider and metadata failures, requests that can
 * never fit, iotlb_mem_add_pool, that destroy hands every provider region
 * back exactly once, and the provider the config needs. Search order and
 * transient pools are in test_grow_transient.c.
 */
#include "grow_fx.h"

/* ------------------------------------------------- background growth */

static void test_growth_adds_a_pool_that_later_maps_use(void **state)
{
	struct gfx *g = *state;
	struct iotlb_stats s;
	struct tp_region gr;
	uint64_t fill, t, dma[3];
	long ti, gi = -1;

	g_prepare(g, 128, 1, true);
	g->cfg.grow_size = 256 * SLOT;
	g_create(g);
	g_fill(g, 128, &fill);

	t = g_map(g, g->dev, 0, orig_at(g, 0), 4096, IOTLB_TO_DEVICE);
	ti = tp_find(&g->tp, t);
	assert_true(ti >= 0);
	wait_grow_attempts(g, 1);
	wait_grown(g, 2);
	s = g_stats(g);
	assert_int_equal(s.nslots, 384);
	assert_int_equal(s.grow_failures, 0);
	assert_int_equal(tp_counts(&g->tp).allocs, 2);
	for (long i = 0; i < 2; i++)
		if (i != ti)
			gi = i;
	gr = tp_region(&g->tp, gi);
	assert_int_equal(gr.size, 256 * SLOT);

	/* The new pool is searched first and is fresh: its slots 0, 2, 4 (page
	 * alignment for 4096 B), no transient pool, no new region. */
	for (unsigned i = 0; i < 3; i++) {
		dma[i] = g_map(g, g->dev, 0, orig_at(g, 0), 4096, IOTLB_TO_DEVICE);
		assert_int_equal(dma[i], gr.dma + 2 * i * SLOT);
		assert_ptr_equal(iotlb_dma_to_virt(g->dev, dma[i]),
				 (unsigned char *)gr.vaddr + 2 * i * SLOT);
	}
	s = g_stats(g);
	assert_int_equal(s.transient_pools, 1);
	assert_int_equal(tp_counts(&g->tp).allocs, 2);
	assert_int_equal(s.grow_attempts, 1);
	assert_true(grow_idle(g));

	for (unsigned i = 0; i < 3; i++)
		g_unmap(g->dev, dma[i], 4096, IOTLB_TO_DEVICE);
	g_unmap(g->dev, t, 4096, IOTLB_TO_DEVICE);
	g_unmap(g->dev, fill, SEG_BYTES, IOTLB_TO_DEVICE);
	assert_true(STAT_BECOMES(g, transient_nslots, 0));
	/* The grown pool stays until destroy. */
	assert_int_equal(tp_region(&g->tp, gi).frees, 0);
	assert_int_equal(g_stats(g).npools, 2);
}

/*
 * The provider refuses both the transient region and the growth worker's
 * pool (in whichever order they ask): the map is "no space", the failure is
 * counted, nothing is held. Once the provider is healthy, the same map
 * succeeds.
 */
static void test_provider_failure_is_enospc_and_a_later_map_succeeds(void **state)
{
	struct gfx *g = *state;
	struct iotlb_stats s;
	struct tp_counts c;
	uint64_t fill, dma = DMA_SENTINEL;

	g_prepare(g, 128, 1, true);
	g_create(g);
	g_fill(g, 128, &fill);

	tp_fail_next(&g->tp, 2);
	g_map_fails_and_asks_growth(g, g->dev, 4096);
	assert_true(TP_WAIT_FOR(g_stats(g).grow_failures == 1 && grow_idle(g)));
	s = g_stats(g);
	assert_int_equal(s.map_fail_nospace, 1);
	assert_int_equal(s.transient_pools, 0);
	assert_int_equal(s.transient_nslots, 0);
	assert_int_equal(s.npools, 1);
	assert_int_equal(s.nslots, 128);
	assert_int_equal(s.used, 128);
	assert_int_equal(s.maps, 1);
	c = tp_counts(&g->tp);
	assert_int_equal(c.refused, 2);
	assert_int_equal(c.allocs, 0);
	assert_int_equal(c.frees, 0);

	dma = g_map(g, g->dev, 0, orig_at(g, 0), 4096, IOTLB_TO_DEVICE);
	assert_true(tp_find(&g->tp, dma) >= 0);
	wait_grow_attempts(g, 2);
	wait_grown(g, 2);
	s = g_stats(g);
	assert_int_equal(s.grow_failures, 1);
	assert_int_equal(s.transient_pools, 1);
	assert_int_equal(s.map_fail_nospace, 1);
	g_unmap(g->dev, dma, 4096, IOTLB_TO_DEVICE);
	g_unmap(g->dev, fill, SEG_BYTES, IOTLB_TO_DEVICE);
	/* teardown: every region that was handed out comes back exactly once */
}

/*
 * The library's own metadata allocation fails while a transient pool and
 * the worker's pool are being built (the first allocation after arming;
 * exactly one of the two gets it): that one hands its region back at once.
 */
static void test_metadata_failure_during_growth_returns_the_region(void **state)
{
	struct gfx *g = *state;
	struct iotlb_stats s;
	struct tp_counts c;
	uint64_t fill, dma = DMA_SENTINEL;
	int err;

	g_prepare(g, 128, 1, true);
	g_create(g);
	g_fill(g, 128, &fill);

	iotlb__fault_inject(1);
	err = iotlb_map(g->dev, 0, orig_at(g, 0), 4096, IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN, &dma);
	wait_grow_attempts(g, 1);
	/* The worker is done once its pool is published or its failure counted. */
	assert_true(TP_WAIT_FOR(g_stats(g).npools + g_stats(g).grow_failures == 2));
	iotlb__fault_inject(0);
	s = g_stats(g);
	c = tp_counts(&g->tp);
	assert_int_equal(c.allocs, 2);
	print_message("metadata fault hit the %s\n", err ? "transient pool" : "worker's pool");
	if (err == 0) {
		/* the worker's pool failed: its region is back, the transient lives */
		assert_int_equal(s.grow_failures, 1);
		assert_int_equal(s.npools, 1);
		assert_int_equal(s.transient_pools, 1);
		assert_int_equal(c.frees, 1);
		g_unmap(g->dev, dma, 4096, IOTLB_TO_DEVICE);
	} else {
		/* the transient pool failed: its region is back, the pool was added;
		 * the library's own allocation failed, so -ENOMEM (include/iotlb/iotlb.h errors) */
		assert_int_equal(err, -ENOMEM);
		assert_int_equal(dma, DMA_SENTINEL);
		assert_int_equal(s.grow_failures, 0);
		assert_int_equal(s.npools, 2);
		assert_int_equal(s.transient_pools, 0);
		assert_int_equal(s.transient_nslots, 0);
		assert_int_equal(s.used, 128);
		assert_int_equal(c.frees, 1);
	}
	g_unmap(g->dev, fill, SEG_BYTES, IOTLB_TO_DEVICE);
}

/* ------------------------------------------------- never fits */

/*
 * A padded size above one segment can never be served: -E2BIG at once, no
 * growth, no transient pool, the provider never called (docs/algorithm.md#error-classes).
 */
static void test_request_that_can_never_fit_is_e2big_without_growth(void **state)
{
	struct gfx *g = *state;
	struct iotlb_dev *d;
	struct iotlb_stats s;
	uint64_t fill, dma = DMA_SENTINEL;
	void *va = NULL;

	g_prepare(g, 128, 1, true);
	g_create(g);
	d = g_dev(g, 0xfff, 0, 0);
	g_fill(g, 128, &fill); /* full: growth would be tempting */

	assert_int_equal(iotlb_map(g->dev, 0, orig_at(g, 0), SEG_BYTES + 1, IOTLB_TO_DEVICE,
				   IOTLB_ATTR_NO_WARN, &dma),
			 -E2BIG);
	/* min_align 0xfff, orig ending in 0x100: offset 0x100 (< one slot), so
	 * 262144 B pads to 262400 > 262144. */
	assert_int_equal(iotlb_map(d, 0, orig_at(g, 0x100), SEG_BYTES, IOTLB_TO_DEVICE,
				   IOTLB_ATTR_NO_WARN, &dma),
			 -E2BIG);
	assert_int_equal(iotlb_alloc(g->dev, SEG_BYTES + 1, &va, &dma), -E2BIG);
	assert_int_equal(dma, DMA_SENTINEL);
	assert_null(va);

	s = g_stats(g);
	assert_int_equal(s.map_fail_too_big, 3);
	assert_int_equal(s.map_fail_nospace, 0);
	assert_int_equal(s.transient_pools, 0);
	assert_int_equal(s.grow_attempts, 0);
	assert_false(growth_requested(g));
	assert_int_equal(tp_counts(&g->tp).alloc_calls, 0);
	g_unmap(g->dev, fill, SEG_BYTES, IOTLB_TO_DEVICE);
}

/* ------------------------------------------------- add_pool */

static void test_add_pool_rejects_overlaps_and_misaligned_regions(void **state)
{
	struct gfx *g = *state;
	/* the initial pool is the middle 512 KiB of a 1 MiB mapping */
	unsigned char *big = g_mem(g, 1u << 20);
	unsigned char *r0 = big + (256u << 10);
	unsigned char *fresh = g_mem(g, 1u << 20);
	const size_t sz = 256 * SLOT; /* 512 KiB */
	struct iotlb_stats before, s;

	g_prepare(g, 256, 1, false);
	g->cfg.vaddr = r0;
	g_create(g);
	before = g_stats(g);

	assert_int_equal(iotlb_mem_add_pool(NULL, fresh, 0x60000000, sz), -EINVAL);
	assert_int_equal(iotlb_mem_add_pool(g->mem, NULL, 0x60000000, sz), -EINVAL);
	/* CPU range overlaps, device range free */
	assert_int_equal(iotlb_mem_add_pool(g->mem, r0, 0x60000000, sz), -EINVAL);
	assert_int_equal(iotlb_mem_add_pool(g->mem, r0 + 0x10000, 0x60000000, 0x10000), -EINVAL);
	assert_int_equal(iotlb_mem_add_pool(g->mem, big, 0x60000000, sz), -EINVAL);
	assert_int_equal(iotlb_mem_add_pool(g->mem, big, 0x60000000, (256u << 10) + 0x1000),
			 -EINVAL);
	assert_int_equal(iotlb_mem_add_pool(g->mem, r0 + sz - 0x1000, 0x60000000, sz), -EINVAL);
	/* device range overlaps, CPU range free */
	assert_int_equal(iotlb_mem_add_pool(g->mem, fresh, B0, sz), -EINVAL);
	assert_int_equal(iotlb_mem_add_pool(g->mem, fresh, B0 + 0x40000, 0x1000), -EINVAL);
	assert_int_equal(iotlb_mem_add_pool(g->mem, fresh, B0 - 0x1000, 0x2000), -EINVAL);
	assert_int_equal(iotlb_mem_add_pool(g->mem, fresh, B0 + sz - 0x1000, sz), -EINVAL);
	/* misaligned or malformed */
	assert_int_equal(iotlb_mem_add_pool(g->mem, fresh + 2048, 0x60000000, sz), -EINVAL);
	assert_int_equal(iotlb_mem_add_pool(g->mem, fresh + 0x800, 0x60000000, 0x1000), -EINVAL);
	assert_int_equal(iotlb_mem_add_pool(g->mem, fresh, 0x60000800, sz), -EINVAL);
	assert_int_equal(iotlb_mem_add_pool(g->mem, fresh, 0x60000000, sz + 100), -EINVAL);
	assert_int_equal(iotlb_mem_add_pool(g->mem, fresh, 0x60000000, 0), -EINVAL);
	assert_int_equal(iotlb_mem_add_pool(g->mem, fresh, 0x60000000, 1000), -EINVAL);

	/* Nothing changed. */
	s = g_stats(g);
	assert_int_equal(s.npools, before.npools);
	assert_int_equal(s.nslots, before.nslots);

	/* Touching ranges do not overlap: both ends of the initial pool. */
	assert_int_equal(iotlb_mem_add_pool(g->mem, r0 + sz, B0 + sz, 128 * SLOT), 0);
	assert_int_equal(iotlb_mem_add_pool(g->mem, big, B0 - (256u << 10), 128 * SLOT), 0);
	/* An added pool is protected like the first one. */
	assert_int_equal(iotlb_mem_add_pool(g->mem, fresh, B0 + sz + 0x1000, 0x1000), -EINVAL);
	assert_int_equal(iotlb_mem_add_pool(g->mem, r0 + sz + 0x1000, 0x60000000, 0x1000), -EINVAL);
	s = g_stats(g);
	assert_int_equal(s.npools, 3);
	assert_int_equal(s.nslots, 256 + 128 + 128);
}

static void test_added_pools_serve_maps_and_lookups(void **state)
{
	struct gfx *g = *state;
	static const uint64_t dmas[3] = {B0, 0x20000000ull, ABOVE_4G + 0x40000000ull};
	static const uint64_t nslots[3] = {128, 256, 128};
	unsigned char *va[3];
	uint64_t a, b, c;
	struct iotlb_stats s;

	g_prepare(g, 128, 1, false);
	g_create(g);
	va[0] = g->cfg.vaddr;
	for (int p = 1; p < 3; p++) {
		va[p] = g_mem(g, nslots[p] * SLOT);
		assert_int_equal(iotlb_mem_add_pool(g->mem, va[p], dmas[p], nslots[p] * SLOT), 0);
		s = g_stats(g);
		assert_int_equal(s.npools, (uint64_t)p + 1);
	}
	s = g_stats(g);
	assert_int_equal(s.nslots, 512);
	assert_int_equal(s.used, 0);

	/* Lookups find every pool, first to last byte, and nothing beside them. */
	for (int p = 0; p < 3; p++) {
		uint64_t end = dmas[p] + nslots[p] * SLOT;

		assert_true(iotlb_is_bounce(g->dev, dmas[p]));
		assert_ptr_equal(iotlb_dma_to_virt(g->dev, dmas[p]), va[p]);
		assert_true(iotlb_is_bounce(g->dev, dmas[p] + 5 * SLOT + 7));
		assert_ptr_equal(iotlb_dma_to_virt(g->dev, dmas[p] + 5 * SLOT + 7),
				 va[p] + 5 * SLOT + 7);
		assert_true(iotlb_is_bounce(g->dev, end - 1));
		assert_ptr_equal(iotlb_dma_to_virt(g->dev, end - 1), va[p] + nslots[p] * SLOT - 1);
		assert_false(iotlb_is_bounce(g->dev, end));
		assert_null(iotlb_dma_to_virt(g->dev, end));
		assert_false(iotlb_is_bounce(g->dev, dmas[p] - 1));
	}

	/* Newest first: a fresh map lands at slot 0 of the pool above 4 GiB. */
	pattern(orig_at(g, 0), 4096, 11);
	a = g_map(g, g->dev, 0, orig_at(g, 0), 4096, IOTLB_TO_DEVICE);
	assert_int_equal(a, dmas[2]);
	assert_memory_equal(va[2], orig_at(g, 0), 4096);
	/* Fill the rest of it (slots 2..127, page-aligned start, 126 slots). */
	b = g_map(g, g->dev, 0, orig_at(g, 0), 126 * SLOT, IOTLB_TO_DEVICE);
	assert_int_equal(b, dmas[2] + 2 * SLOT);
	/* Then the next pool in the list, P1. */
	c = g_map(g, g->dev, 0, orig_at(g, 0), 4096, IOTLB_TO_DEVICE);
	assert_int_equal(c, dmas[1]);
	assert_memory_equal(va[1], orig_at(g, 0), 4096);
	s = g_stats(g);
	assert_int_equal(s.used, 2 + 126 + 2);
	assert_int_equal(s.maps, 3);

	g_unmap(g->dev, a, 4096, IOTLB_TO_DEVICE);
	g_unmap(g->dev, b, 126 * SLOT, IOTLB_TO_DEVICE);
	g_unmap(g->dev, c, 4096, IOTLB_TO_DEVICE);
}

/*
 * The address index buckets the span of the pools (docs/design.md, "Finding
 * the pool of an address"). Pools packed tightly, spread evenly, clustered
 * far apart and added out of order: every byte boundary still finds its
 * pool, and every gap, the space below the first and above the last, none.
 */
static void test_lookups_across_uneven_pool_layouts(void **state)
{
	struct gfx *g = *state;
	enum { NPOOLS = 24 };
	static const uint64_t order[NPOOLS] = {17, 3, 22, 9, 0,	 14, 6, 20, 11, 1,  23, 5,
					       15, 8, 19, 2, 12, 21, 7, 16, 4,	13, 10, 18};
	const uint64_t bytes = 32 * SLOT;
	uint64_t dma[NPOOLS];
	unsigned char *va[NPOOLS], *block;

	g_prepare(g, 128, 1, false);
	g_create(g);
	block = g_mem(g, NPOOLS * bytes);
	/* Eight back to back, eight a pool apart, eight in clusters 2^40 and
	 * 2^62 away: one bucket may then hold many pools. */
	for (int i = 0; i < NPOOLS; i++)
		dma[i] = i < 8	  ? ABOVE_4G + (uint64_t)i * bytes
			 : i < 16 ? 2 * ABOVE_4G + (uint64_t)(i - 8) * 2 * bytes
			 : i < 20 ? ((uint64_t)1 << 40) + (uint64_t)(i - 16) * bytes
				  : ((uint64_t)1 << 62) + (uint64_t)(i - 20) * 3 * bytes;
	for (int k = 0; k < NPOOLS; k++) {
		uint64_t i = order[k];

		va[i] = block + i * bytes;
		assert_int_equal(iotlb_mem_add_pool(g->mem, va[i], dma[i], bytes), 0);
		/* Every pool added so far, and only those, is found. */
		for (int j = 0; j < NPOOLS; j++) {
			bool added = false;

			for (int m = 0; m <= k; m++)
				added |= order[m] == (uint64_t)j;
			assert_ptr_equal(iotlb_dma_to_virt(g->dev, dma[j] + bytes / 2),
					 added ? va[j] + bytes / 2 : NULL);
		}
	}
	for (int i = 0; i < NPOOLS; i++) {
		bool next_adjacent = i < 7 || (i >= 16 && i < 19);

		assert_ptr_equal(iotlb_dma_to_virt(g->dev, dma[i]), va[i]);
		assert_ptr_equal(iotlb_dma_to_virt(g->dev, dma[i] + bytes - 1), va[i] + bytes - 1);
		if (!next_adjacent)
			assert_null(iotlb_dma_to_virt(g->dev, dma[i] + bytes));
	}
	assert_ptr_equal(iotlb_dma_to_virt(g->dev, B0), g->cfg.vaddr);
	assert_null(iotlb_dma_to_virt(g->dev, B0 - 1));
	assert_null(iotlb_dma_to_virt(g->dev, ((uint64_t)1 << 62) + 100 * bytes));
	assert_null(iotlb_dma_to_virt(g->dev, UINT64_MAX));
	/* Unmap finds the pool through the same index. */
	for (int i = 0; i < NPOOLS; i += 5) {
		uint64_t a;

		assert_int_equal(iotlb_map(g->dev, 0, orig_at(g, 0), 64, IOTLB_TO_DEVICE, 0, &a),
				 0);
		assert_int_equal(iotlb_unmap(g->dev, a, 64, IOTLB_TO_DEVICE, 0), 0);
		assert_int_equal(iotlb_unmap(g->dev, a, 64, IOTLB_TO_DEVICE, 0), -ENOENT);
	}
}

/* ------------------------------------------------- destroy */

/*
 * Grown pools, a live-then-released transient pool still inside its grace
 * period, a failed growth: destroy returns every provider region exactly
 * once (checked per region by the teardown), never one twice.
 */
static void test_destroy_returns_every_provider_region_exactly_once(void **state)
{
	struct gfx *g = *state;
	uint64_t dma[10];
	struct tp_counts c;
	unsigned n = 0;
	int err;

	g_prepare(g, 128, 1, true);
	g->cfg.grow_size = 128 * SLOT;
	g_create(g);

	/* Each whole-segment map needs a whole empty pool: the first of a
	 * round takes the pool grown in the round before, the second finds
	 * every pool full and gets a transient pool and one more pool. */
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned i = 0; i < 2; i++)
			dma[n++] = g_map(g, g->dev, 0, orig_at(g, 0), SEG_BYTES, IOTLB_TO_DEVICE);
		wait_grown(g, round + 2);
	}
	assert_int_equal(g_stats(g).transient_pools, 3);
	/* The pool grown last is still empty: fill it. */
	dma[n++] = g_map(g, g->dev, 0, orig_at(g, 0), SEG_BYTES, IOTLB_TO_DEVICE);
	assert_int_equal(g_stats(g).grow_attempts, 3);
	/* One of the next two provider calls is refused (the transient region
	 * or the worker's pool, whichever asks first). */
	tp_fail_next(&g->tp, 1);
	dma[n] = DMA_SENTINEL;
	err = iotlb_map(g->dev, 0, orig_at(g, 0), SEG_BYTES, IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN,
			&dma[n]);
	if (err == 0)
		n++;
	else
		assert_int_equal(err, -ENOSPC);
	assert_true(TP_WAIT_FOR(g_stats(g).grow_attempts == 4 && grow_idle(g)));
	dma[n++] = g_map(g, g->dev, 0, orig_at(g, 0), SEG_BYTES, IOTLB_TO_DEVICE);
	assert_int_equal(tp_counts(&g->tp).refused, 1);

	/* Release everything, then destroy at once: retired transient pools may
	 * still wait for their grace period. */
	for (unsigned i = 0; i < n; i++)
		g_unmap(g->dev, dma[i], SEG_BYTES, IOTLB_TO_DEVICE);
	c = tp_counts(&g->tp);
	assert_true(c.allocs >= 2);
	assert_int_equal(c.bad_frees, 0);
	/* teardown destroys and checks tp_all_returned_once() */
}

/* ------------------------------------------------- config */

static void test_grow_config_needs_a_complete_provider(void **state)
{
	struct gfx *g = *state;
	static const struct iotlb_region_ops no_free = {.alloc = tp_alloc};
	struct iotlb_mem *m = NULL;

	g_prepare(g, 128, 1, true);
	g->cfg.region_ops = NULL;
	assert_int_equal(iotlb_mem_create(&g->cfg, &m), -EINVAL);
	g->cfg.region_ops = &no_free;
	assert_int_equal(iotlb_mem_create(&g->cfg, &m), -EINVAL);
	g->cfg.region_ops = &tp_ops;
	g->cfg.grow_size = 1000; /* not whole slots */
	assert_int_equal(iotlb_mem_create(&g->cfg, &m), -EINVAL);
	assert_null(m);
	assert_int_equal(tp_counts(&g->tp).alloc_calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		G_TEST(test_growth_adds_a_pool_that_later_maps_use),
		G_TEST(test_provider_failure_is_enospc_and_a_later_map_succeeds),
		G_TEST(test_metadata_failure_during_growth_returns_the_region),
		G_TEST(test_request_that_can_never_fit_is_e2big_without_growth),
		G_TEST(test_add_pool_rejects_overlaps_and_misaligned_regions),
		G_TEST(test_added_pools_serve_maps_and_lookups),
		G_TEST(test_lookups_across_uneven_pool_layouts),
		G_TEST(test_destroy_returns_every_provider_region_exactly_once),
		G_TEST(test_grow_config_needs_a_complete_provider),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
