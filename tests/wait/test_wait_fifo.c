/* SPDX-License-Identifier: MIT */
/*
 * Blocking requests (IOTLB_ATTR_MAY_BLOCK): strict arrival order per domain,
 * the timeout, what never waits (-E2BIG, requests without the attribute, a
 * growable mem whose provider works), coherent allocations, private pools
 * and the statistics. Deterministic: the order of events is forced by
 * waiting for the queue to reach a known length, never by timing.
 */
#include "wfx.h"

#include "../grow/provider.h"

#define NSLOTS 256u
#define CHUNK (32u * W_SLOT) /* eight of them fill the pool */

/* Fills the pool with eight 32-slot mappings, slots 32*i .. 32*i+31. */
static void fill(struct wfx *w, uint64_t dma[8])
{
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(iotlb_map(w->dev, IOTLB_ANY_QUEUE, w->orig + i * CHUNK, CHUNK,
					   IOTLB_TO_DEVICE, 0, &dma[i]),
				 0);
		assert_int_equal(dma[i], W_DMA + i * CHUNK);
	}
	assert_int_equal(w_stats(w->dev).used, NSLOTS);
}

static void unmap(struct wfx *w, uint64_t dma, size_t size)
{
	assert_int_equal(iotlb_unmap(w->dev, dma, size, IOTLB_TO_DEVICE, 0), 0);
}

static void test_older_large_waiter_is_served_before_younger_small_ones(void **state)
{
	struct wfx w;
	struct w_call big, small[2];
	uint64_t dma[8];
	unsigned served = 0;

	(void)state;
	w_setup(&w, NSLOTS, 1, 0);
	fill(&w, dma);
	unmap(&w, dma[0], CHUNK); /* 32 free slots: room for a small one, not the big one */
	w_call_start(&big, w.dev, w.orig + 4 * CHUNK, 2 * CHUNK, &served);
	w_until_waiters(w.dev, 1);
	/* Room exists for these, but an older request waits: they queue behind it. */
	w_call_start(&small[0], w.dev, w.orig + 10 * CHUNK, W_SLOT, &served);
	w_until_waiters(w.dev, 2);
	w_call_start(&small[1], w.dev, w.orig + 11 * CHUNK, W_SLOT, &served);
	w_until_waiters(w.dev, 3);
	assert_int_equal(w_stats(w.dev).used, NSLOTS - 32);

	/* Slots 0..63 free: the big request fits, and takes all there is. */
	unmap(&w, dma[1], CHUNK);
	w_call_join(&big);
	assert_int_equal(big.err, 0);
	assert_int_equal(big.order, 0);
	assert_int_equal(big.dma, W_DMA);
	assert_int_equal(w_stats(w.dev).used, NSLOTS);
	assert_int_equal(w_nwaiters(w.dev), 2);

	unmap(&w, dma[2], CHUNK);
	w_call_join(&small[0]);
	w_call_join(&small[1]);
	assert_int_equal(small[0].err, 0);
	assert_int_equal(small[1].err, 0);
	assert_true(small[0].order >= 1 && small[1].order >= 1);
	/* Arrival order inside the freed chunk: the older small one got the lower slot. */
	assert_int_equal(small[0].dma, W_DMA + 2 * CHUNK);
	assert_int_equal(small[1].dma, W_DMA + 2 * CHUNK + W_SLOT);
	assert_int_equal(w_nwaiters(w.dev), 0);
	assert_int_equal(w_active(w.dev), 0);
	assert_int_equal(w_stats(w.dev).waits, 3);
	assert_int_equal(w_stats(w.dev).map_fail_nospace, 0);

	unmap(&w, big.dma, 2 * CHUNK);
	unmap(&w, small[0].dma, W_SLOT);
	unmap(&w, small[1].dma, W_SLOT);
	for (unsigned i = 3; i < 8; i++)
		unmap(&w, dma[i], CHUNK);
	w_teardown(&w);
}

static void test_requests_without_the_attribute_never_wait(void **state)
{
	struct wfx w;
	struct w_call big;
	uint64_t dma[8], d = 7, small;

	(void)state;
	w_setup(&w, NSLOTS, 1, 0);
	fill(&w, dma);
	unmap(&w, dma[0], CHUNK);
	w_call_start(&big, w.dev, w.orig, 2 * CHUNK, NULL);
	w_until_waiters(w.dev, 1);
	/* Without the attribute a request takes room even while others wait... */
	assert_int_equal(
		iotlb_map(w.dev, 0, w.orig + 9 * CHUNK, W_SLOT, IOTLB_TO_DEVICE, 0, &small), 0);
	/* ...and fails at once when there is none. */
	assert_int_equal(
		iotlb_map(w.dev, 0, w.orig, 2 * CHUNK, IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN, &d),
		-ENOSPC);
	assert_int_equal(d, 7);
	assert_int_equal(w_stats(w.dev).map_fail_nospace, 1);
	unmap(&w, small, W_SLOT);
	unmap(&w, dma[1], CHUNK);
	w_call_join(&big);
	assert_int_equal(big.err, 0);
	unmap(&w, big.dma, 2 * CHUNK);
	for (unsigned i = 2; i < 8; i++)
		unmap(&w, dma[i], CHUNK);
	w_teardown(&w);
}

static void test_timeout_returns_etimedout_no_earlier_and_changes_nothing(void **state)
{
	const uint64_t timeout = 50u * 1000000u;
	struct wfx w;
	struct iotlb_stats before, after;
	uint64_t dma[8], d = 7, start, took;
	void *va = (void *)&d;

	(void)state;
	w_setup(&w, NSLOTS, 1, timeout);
	fill(&w, dma);
	before = w_stats(w.dev);
	start = w_now_ns();
	assert_int_equal(
		iotlb_map(w.dev, 0, w.orig, W_SLOT, IOTLB_TO_DEVICE, IOTLB_ATTR_MAY_BLOCK, &d),
		-ETIMEDOUT);
	took = w_now_ns() - start;
	assert_true(took >= timeout); /* a lower bound: never early */
	assert_int_equal(d, 7);
	assert_int_equal(iotlb_alloc_attrs(w.dev, 4096, IOTLB_ATTR_MAY_BLOCK, &va, &d), -ETIMEDOUT);
	assert_ptr_equal(va, (void *)&d);
	assert_int_equal(d, 7);
	after = w_stats(w.dev);
	assert_int_equal(after.used, before.used);
	assert_int_equal(after.maps, before.maps);
	assert_int_equal(after.allocs, before.allocs);
	assert_int_equal(after.map_fail_nospace, before.map_fail_nospace);
	assert_int_equal(after.waits, 2);
	assert_int_equal(after.wait_timeouts, 2);
	assert_true(after.wait_ns >= 2 * timeout);
	assert_true(after.wait_ns_max >= timeout && after.wait_ns_max <= after.wait_ns);
	assert_int_equal(w_nwaiters(w.dev), 0);
	assert_int_equal(w_active(w.dev), 0);
	assert_string_equal(iotlb_strerror(-ETIMEDOUT),
			    "ETIMEDOUT: waited for room longer than wait_timeout_ns");
	for (unsigned i = 0; i < 8; i++)
		unmap(&w, dma[i], CHUNK);
	w_teardown(&w);
}

/*
 * A waiter that gives up behind another leaves the line from its end: the
 * one in front keeps its place and is served by the next release, and a
 * request arriving later queues behind that one, not behind the gone one.
 */
static void test_younger_waiter_timing_out_leaves_the_older_ones_in_line(void **state)
{
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_dev *impatient;
	struct wfx w;
	struct w_call older, later;
	uint64_t dma[8], d = 7;

	(void)state;
	w_setup(&w, NSLOTS, 1, 0);
	dc.wait_timeout_ns = 20u * 1000000u;
	assert_int_equal(iotlb_dev_create(w.mem, &dc, &impatient), 0);
	fill(&w, dma);
	w_call_start(&older, w.dev, w.orig, W_SLOT, NULL);
	w_until_waiters(w.dev, 1);
	assert_int_equal(
		iotlb_map(impatient, 0, w.orig, W_SLOT, IOTLB_TO_DEVICE, IOTLB_ATTR_MAY_BLOCK, &d),
		-ETIMEDOUT);
	assert_int_equal(d, 7);
	assert_int_equal(w_nwaiters(w.dev), 1); /* the older one, without a limit */
	w_call_start(&later, w.dev, w.orig + CHUNK, W_SLOT, NULL);
	w_until_waiters(w.dev, 2);

	unmap(&w, dma[0], CHUNK);
	w_call_join(&older);
	w_call_join(&later);
	assert_int_equal(older.err, 0);
	assert_int_equal(later.err, 0);
	/* Served in line order: the older one got the lower slot. (Not by
	 * return order: both are served by one release.) */
	assert_int_equal(older.dma, W_DMA);
	assert_int_equal(later.dma, W_DMA + W_SLOT);
	assert_int_equal(w_nwaiters(w.dev), 0);
	assert_int_equal(w_active(w.dev), 0);
	assert_int_equal(w_stats(w.dev).wait_timeouts, 1);
	unmap(&w, older.dma, W_SLOT);
	unmap(&w, later.dma, W_SLOT);
	for (unsigned i = 1; i < 8; i++)
		unmap(&w, dma[i], CHUNK);
	assert_int_equal(iotlb_dev_destroy(impatient), 0);
	w_teardown(&w);
}

static void test_too_big_never_waits(void **state)
{
	struct wfx w;
	struct iotlb_dev *priv;
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	uint64_t dma[8], d = 7;
	void *va;

	(void)state;
	/* A full pool and no timeout: a request that waited would never return. */
	w_setup(&w, 4 * 1024, 1, 0);
	dc.private_size = 1024 * W_SLOT;
	assert_int_equal(iotlb_dev_create(w.mem, &dc, &priv), 0);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(iotlb_map(priv, 0, w.orig + i * CHUNK, W_SEG * W_SLOT,
					   IOTLB_TO_DEVICE, 0, &dma[i]),
				 0);
	assert_int_equal(iotlb_map(w.dev, 0, w.orig, W_SEG * W_SLOT + 1, IOTLB_TO_DEVICE,
				   IOTLB_ATTR_MAY_BLOCK | IOTLB_ATTR_NO_WARN, &d),
			 -E2BIG);
	assert_int_equal(
		iotlb_alloc_attrs(w.dev, W_SEG * W_SLOT + 1, IOTLB_ATTR_MAY_BLOCK, &va, &d),
		-E2BIG);
	assert_int_equal(iotlb_map(priv, 0, w.orig, W_SEG * W_SLOT + 1, IOTLB_TO_DEVICE,
				   IOTLB_ATTR_MAY_BLOCK | IOTLB_ATTR_NO_WARN, &d),
			 -E2BIG);
	assert_int_equal(d, 7);
	assert_int_equal(w_stats(w.dev).waits, 0);
	assert_int_equal(w_stats(priv).waits, 0);
	assert_int_equal(w_stats(priv).map_fail_too_big, 1);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(iotlb_unmap(priv, dma[i], W_SEG * W_SLOT, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(iotlb_dev_destroy(priv), 0);
	w_teardown(&w);
}

struct alloc_call {
	pthread_t thread;
	struct iotlb_dev *dev;
	int err;
	void *va;
	uint64_t dma;
};

static void *alloc_main(void *arg)
{
	struct alloc_call *c = arg;

	c->err = iotlb_alloc_attrs(c->dev, 16384, IOTLB_ATTR_MAY_BLOCK, &c->va, &c->dma);
	return NULL;
}

static void test_blocking_alloc_waits_for_a_free_and_is_zeroed(void **state)
{
	struct wfx w;
	struct alloc_call c = {0};
	uint64_t dma[8];
	void *va;
	uint64_t d;

	(void)state;
	w_setup(&w, NSLOTS, 1, 0);
	assert_int_equal(iotlb_alloc_attrs(w.dev, 4096, 1u << 5, &va, &d), -EINVAL);
	assert_int_equal(iotlb_map(w.dev, 0, w.orig, 8, IOTLB_TO_DEVICE, 1u << 5, &d), -EINVAL);
	fill(&w, dma);
	memset(w.region, 0xEE, w.size); /* what the coherent memory must not show */
	c.dev = w.dev;
	assert_int_equal(pthread_create(&c.thread, NULL, alloc_main, &c), 0);
	w_until_waiters(w.dev, 1);
	unmap(&w, dma[5], CHUNK);
	assert_int_equal(pthread_join(c.thread, NULL), 0);
	assert_int_equal(c.err, 0);
	assert_int_equal(c.dma, W_DMA + 5 * CHUNK);
	for (size_t i = 0; i < 16384; i++)
		assert_int_equal(((unsigned char *)c.va)[i], 0);
	assert_int_equal(w_stats(w.dev).allocs, 1);
	assert_int_equal(w_stats(w.dev).waits, 1);
	assert_int_equal(iotlb_free(w.dev, c.dma, 16384), 0);
	for (unsigned i = 0; i < 8; i++)
		if (i != 5)
			unmap(&w, dma[i], CHUNK);
	w_teardown(&w);
}

static void test_private_pool_waiters_wait_for_their_own_pool(void **state)
{
	struct wfx w;
	struct iotlb_dev *priv;
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct w_call c;
	uint64_t pdma[8], sdma;

	(void)state;
	w_setup(&w, 4 * 1024, 1, 0);
	dc.private_size = 1024 * W_SLOT;
	assert_int_equal(iotlb_dev_create(w.mem, &dc, &priv), 0);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(iotlb_map(priv, 0, w.orig + i * CHUNK, W_SEG * W_SLOT,
					   IOTLB_TO_DEVICE, 0, &pdma[i]),
				 0);
	w_call_start(&c, priv, w.orig, W_SLOT, NULL);
	w_until_waiters(priv, 1);
	assert_int_equal(w_nwaiters(w.dev), 0); /* one queue per domain */
	/* Room in the shared pools is not room for a private device. */
	assert_int_equal(iotlb_map(w.dev, 0, w.orig, W_SLOT, IOTLB_TO_DEVICE, 0, &sdma), 0);
	unmap(&w, sdma, W_SLOT);
	assert_int_equal(w_nwaiters(priv), 1);
	assert_int_equal(iotlb_unmap(priv, pdma[3], W_SEG * W_SLOT, IOTLB_TO_DEVICE, 0), 0);
	w_call_join(&c);
	assert_int_equal(c.err, 0);
	assert_int_equal(c.dma, pdma[3]);
	assert_int_equal(w_stats(priv).waits, 1);
	assert_int_equal(w_stats(w.dev).waits, 0);
	assert_int_equal(iotlb_unmap(priv, c.dma, W_SLOT, IOTLB_TO_DEVICE, 0), 0);
	for (unsigned i = 0; i < 8; i++)
		if (i != 3)
			assert_int_equal(
				iotlb_unmap(priv, pdma[i], W_SEG * W_SLOT, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(iotlb_dev_destroy(priv), 0);
	w_teardown(&w);
}

/* IOTLB_MEM_GROW: a transient pool serves at once; only a refusing provider makes a wait. */
static void test_grow_waits_only_when_the_provider_fails(void **state)
{
	struct test_provider tp;
	struct iotlb_mem_config cfg = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct wfx w;
	struct w_call c;
	uint64_t dma[8], extra[16], t;
	unsigned n = 0;
	char why[512]; /* room for the provider's own 200-byte description */

	(void)state;
	tp_init(&tp, 1ull << 40);
	w_setup_cfg(&w, &cfg, NSLOTS, 1);
	cfg.flags = IOTLB_MEM_GROW;
	cfg.region_ops = &tp_ops;
	cfg.region_ctx = &tp;
	assert_int_equal(iotlb_mem_create(&cfg, &w.mem), 0);
	assert_int_equal(iotlb_dev_create(w.mem, &dc, &w.dev), 0);
	fill(&w, dma);
	assert_int_equal(
		iotlb_map(w.dev, 0, w.orig, W_SLOT, IOTLB_TO_DEVICE, IOTLB_ATTR_MAY_BLOCK, &t), 0);
	assert_int_equal(w_stats(w.dev).waits, 0);
	assert_int_equal(w_stats(w.dev).transient_pools, 1);
	unmap(&w, t, W_SLOT);
	/* The failed search also asked the worker for a pool: let it land. */
	for (unsigned ms = 0; w_stats(w.dev).npools < 2; ms++) {
		if (ms >= W_HANG_GUARD_MS)
			fail_msg("hang: the growth worker added no pool");
		w_sleep_ms(1);
	}
	tp_fail_next(&tp, 1000000);
	while (n < 16 && iotlb_map(w.dev, 0, w.orig, CHUNK, IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN,
				   &extra[n]) == 0)
		n++;
	assert_int_equal(n, 8); /* the added pool, now full too */
	w_call_start(&c, w.dev, w.orig, CHUNK, NULL);
	w_until_waiters(w.dev, 1);
	unmap(&w, dma[6], CHUNK);
	w_call_join(&c);
	assert_int_equal(c.err, 0);
	assert_int_equal(c.dma, dma[6]);
	assert_int_equal(w_stats(w.dev).waits, 1);
	unmap(&w, c.dma, CHUNK);
	while (n > 0)
		unmap(&w, extra[--n], CHUNK);
	for (unsigned i = 0; i < 8; i++)
		if (i != 6)
			unmap(&w, dma[i], CHUNK);
	w_teardown(&w);
	assert_int_equal(tp_all_returned_once(&tp, why, sizeof(why)), 0);
	tp_fini(&tp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_older_large_waiter_is_served_before_younger_small_ones),
		cmocka_unit_test(test_requests_without_the_attribute_never_wait),
		cmocka_unit_test(test_timeout_returns_etimedout_no_earlier_and_changes_nothing),
		cmocka_unit_test(test_younger_waiter_timing_out_leaves_the_older_ones_in_line),
		cmocka_unit_test(test_too_big_never_waits),
		cmocka_unit_test(test_blocking_alloc_waits_for_a_free_and_is_zeroed),
		cmocka_unit_test(test_private_pool_waiters_wait_for_their_own_pool),
		cmocka_unit_test(test_grow_waits_only_when_the_provider_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
