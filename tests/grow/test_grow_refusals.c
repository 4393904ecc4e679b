/* SPDX-License-Identifier: MIT */
/*
 * Growth that cannot help: a provider that reports success without handing
 * out a region, and a request that no region could ever place. Neither may
 * publish a pool, leave anything with the library, or hand the provider
 * back something it never gave.
 */
#include "grow_fx.h"

/* Says yes but hands out nothing: counted with the test provider's calls,
 * and its free (tp_free) flags any region it is given back. */
static int empty_alloc(void *ctx, size_t size, void **vaddr, uint64_t *dma_addr)
{
	struct test_provider *tp = ctx;

	(void)size;
	pthread_mutex_lock(&tp->lock);
	tp->alloc_calls++;
	pthread_mutex_unlock(&tp->lock);
	*vaddr = NULL;
	*dma_addr = 0;
	return 0;
}

static const struct iotlb_region_ops empty_ops = {.alloc = empty_alloc, .free = tp_free};

/*
 * Both the worker's pool and the transient region come back empty: the map
 * is "no space", the worker counts a failure, nothing is published and
 * nothing is handed back (there is nothing to hand back).
 */
static void test_provider_success_without_a_region_counts_as_a_refusal(void **state)
{
	struct gfx *g = *state;
	struct iotlb_stats s;
	struct tp_counts c;
	uint64_t fill;

	g_prepare(g, 128, 1, true);
	g->cfg.region_ops = &empty_ops;
	g_create(g);
	g_fill(g, 128, &fill);

	g_map_fails_and_asks_growth(g, g->dev, 4096);
	assert_true(TP_WAIT_FOR(g_stats(g).grow_failures == 1 && grow_idle(g)));
	s = g_stats(g);
	assert_int_equal(s.map_fail_nospace, 1);
	assert_int_equal(s.npools, 1);
	assert_int_equal(s.nslots, 128);
	assert_int_equal(s.transient_pools, 0);
	assert_int_equal(s.used, 128);
	c = tp_counts(&g->tp);
	assert_int_equal(c.alloc_calls, 2); /* the worker and the transient pool */
	assert_int_equal(c.frees, 0);
	assert_int_equal(c.bad_frees, 0);
	g_unmap(g->dev, fill, SEG_BYTES, IOTLB_TO_DEVICE);
	assert_int_equal(iotlb__check_mem(g->mem, NULL, 0), 0);
}

/*
 * Three slots behind a two-slot boundary window fit in no region whatever
 * its address, so no transient region is asked for: the only provider call
 * is the growth worker's, whose pool does not help either.
 */
static void test_request_wider_than_its_boundary_window_asks_no_transient_region(void **state)
{
	struct gfx *g = *state;
	struct iotlb_dev *narrow;
	struct iotlb_stats s;
	struct tp_counts c;
	uint64_t dma;

	g_prepare(g, 128, 1, true);
	g->cfg.grow_size = 128 * SLOT;
	g_create(g);
	narrow = g_dev(g, 0, 0, 2 * SLOT - 1);

	g_map_fails_and_asks_growth(g, narrow, 3 * SLOT - 100);
	wait_grown(g, 2);
	s = g_stats(g);
	assert_int_equal(s.map_fail_nospace, 1);
	assert_int_equal(s.transient_pools, 0);
	assert_int_equal(s.used, 0);
	c = tp_counts(&g->tp);
	assert_int_equal(c.alloc_calls, 1);
	assert_int_equal(tp_region(&g->tp, 0).size, 128 * SLOT);
	/* What does fit the window is served, from a pool and not a transient. */
	dma = g_map(g, narrow, 0, orig_at(g, 0), 2 * SLOT, IOTLB_TO_DEVICE);
	assert_int_equal(dma % (2 * SLOT), 0);
	assert_int_equal(g_stats(g).transient_pools, 0);
	g_unmap(narrow, dma, 2 * SLOT, IOTLB_TO_DEVICE);
	assert_int_equal(tp_counts(&g->tp).alloc_calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		G_TEST(test_provider_success_without_a_region_counts_as_a_refusal),
		G_TEST(test_request_wider_than_its_boundary_window_asks_no_transient_region),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
