/* SPDX-License-Identifier: MIT */
/*
 * The retry a failing request makes before it waits or records its failure
 * for notify: when that retry is served, the request neither sleeps nor
 * leaves a failure behind. Deterministic without threads of our own: a
 * growable mem whose provider refuses the first transient region and grants
 * the next, and refuses the growth worker always (so the pool stays full).
 */
#include "wfx.h"

#include "../grow/provider.h"

#define NSLOTS 256u
#define HALF (128u * W_SLOT)
#define GROW_BYTES (256u * W_SLOT)

struct flaky {
	struct test_provider tp;   /* first: tp_free takes the same context */
	unsigned refuse_transient; /* transient regions still to refuse */
	unsigned transient_calls;
};

static int flaky_alloc(void *ctx, size_t size, void **vaddr, uint64_t *dma_addr)
{
	struct flaky *f = ctx;
	bool refuse;

	pthread_mutex_lock(&f->tp.lock);
	if (size != GROW_BYTES)
		f->transient_calls++;
	refuse = size == GROW_BYTES || f->refuse_transient > 0;
	if (size != GROW_BYTES && f->refuse_transient > 0)
		f->refuse_transient--;
	pthread_mutex_unlock(&f->tp.lock);
	if (refuse)
		return -ENOMEM;
	return tp_alloc(&f->tp, size, vaddr, dma_addr);
}

static const struct iotlb_region_ops flaky_ops = {.alloc = flaky_alloc, .free = tp_free};

static void flaky_refuse(struct flaky *f, unsigned n)
{
	pthread_mutex_lock(&f->tp.lock);
	f->refuse_transient = n;
	pthread_mutex_unlock(&f->tp.lock);
}

static unsigned flaky_transient_calls(struct flaky *f)
{
	unsigned n;

	pthread_mutex_lock(&f->tp.lock);
	n = f->transient_calls;
	pthread_mutex_unlock(&f->tp.lock);
	return n;
}

/* A full growable mem with the flaky provider; `dc` for its device. */
static void setup_full(struct wfx *w, struct flaky *f, const struct iotlb_dev_config *dc,
		       uint64_t fill[2])
{
	struct iotlb_mem_config cfg = IOTLB_MEM_CONFIG_INIT;

	memset(f, 0, sizeof(*f));
	tp_init(&f->tp, 1ull << 40);
	w_setup_cfg(w, &cfg, NSLOTS, 1);
	cfg.flags = IOTLB_MEM_GROW;
	cfg.region_ops = &flaky_ops;
	cfg.region_ctx = f;
	cfg.grow_size = GROW_BYTES;
	assert_int_equal(iotlb_mem_create(&cfg, &w->mem), 0);
	assert_int_equal(iotlb_dev_create(w->mem, dc, &w->dev), 0);
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(iotlb_map(w->dev, 0, w->orig, HALF, IOTLB_TO_DEVICE, 0, &fill[i]),
				 0);
	assert_int_equal(w_stats(w->dev).used, NSLOTS);
}

static void teardown_full(struct wfx *w, struct flaky *f, uint64_t fill[2])
{
	char why[512];

	for (unsigned i = 0; i < 2; i++)
		if (fill[i])
			assert_int_equal(iotlb_unmap(w->dev, fill[i], HALF, IOTLB_TO_DEVICE, 0), 0);
	w_teardown(w);
	assert_int_equal(tp_all_returned_once(&f->tp, why, sizeof(why)), 0);
	tp_fini(&f->tp);
}

/*
 * The first transient region is refused, so the blocking request queues;
 * as the head it searches once more, is served from the second region and
 * leaves without sleeping: no wait is counted, nothing stays queued. Its
 * limit is the largest there is, which must not wrap the deadline into the
 * past (that would be an instant -ETIMEDOUT had it slept).
 */
static void test_blocking_request_served_by_its_first_search_never_sleeps(void **state)
{
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct flaky f;
	struct wfx w;
	struct iotlb_stats s;
	uint64_t fill[2], dma = 0;

	(void)state;
	dc.wait_timeout_ns = UINT64_MAX;
	setup_full(&w, &f, &dc, fill);
	flaky_refuse(&f, 1);
	assert_int_equal(iotlb_map(w.dev, 0, w.orig, W_SLOT, IOTLB_TO_DEVICE,
				   IOTLB_ATTR_MAY_BLOCK | IOTLB_ATTR_NO_WARN, &dma),
			 0);
	assert_int_equal(flaky_transient_calls(&f), 2);
	s = w_stats(w.dev);
	assert_int_equal(s.transient_pools, 1);
	assert_int_equal(s.waits, 0);
	assert_int_equal(s.wait_timeouts, 0);
	assert_int_equal(s.map_fail_nospace, 0);
	assert_int_equal(w_nwaiters(w.dev), 0);
	assert_int_equal(w_active(w.dev), 0);
	assert_int_equal(iotlb_unmap(w.dev, dma, W_SLOT, IOTLB_TO_DEVICE, 0), 0);
	teardown_full(&w, &f, fill);
}

static void count_call(void *ctx)
{
	__atomic_fetch_add((unsigned *)ctx, 1, __ATOMIC_SEQ_CST);
}

/*
 * A device that uses notify records a failure before its retry; a retry
 * that is served withdraws it, so a callback armed afterwards is not fired
 * by the next release (the call did not fail). A failure that stands is
 * reported by the same kind of release: that is what the first half tests
 * against.
 */
static void test_notify_device_served_by_its_retry_leaves_no_failure_to_report(void **state)
{
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct flaky f;
	struct wfx w;
	uint64_t fill[2], dma = 0, dma2 = 0;
	unsigned calls = 0;

	(void)state;
	setup_full(&w, &f, &dc, fill);
	/* The first arming fires at once (failures before it were not
	 * recorded); from now on they are. */
	assert_int_equal(iotlb_dev_notify_space(w.dev, count_call, &calls), 0);
	assert_int_equal(calls, 1);

	flaky_refuse(&f, 1);
	assert_int_equal(
		iotlb_map(w.dev, 0, w.orig, W_SLOT, IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN, &dma), 0);
	assert_int_equal(flaky_transient_calls(&f), 2);
	assert_int_equal(w_stats(w.dev).map_fail_nospace, 0);
	assert_int_equal(iotlb_dev_notify_space(w.dev, count_call, &calls), 0);
	assert_int_equal(calls, 1); /* armed, not fired: no failure pending */
	assert_int_equal(iotlb_unmap(w.dev, fill[0], HALF, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(calls, 1);
	assert_int_equal(iotlb_dev_notify_space(w.dev, count_call, &calls), -EBUSY);
	assert_int_equal(iotlb_map(w.dev, 0, w.orig, HALF, IOTLB_TO_DEVICE, 0, &fill[0]), 0);

	/* Both searches refused: the failure stands and a release reports it. */
	flaky_refuse(&f, 2);
	assert_int_equal(
		iotlb_map(w.dev, 0, w.orig, W_SLOT, IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN, &dma2),
		-ENOSPC);
	assert_int_equal(flaky_transient_calls(&f), 4);
	assert_int_equal(calls, 1);
	assert_int_equal(iotlb_unmap(w.dev, fill[1], HALF, IOTLB_TO_DEVICE, 0), 0);
	fill[1] = 0;
	assert_int_equal(calls, 2);
	assert_int_equal(iotlb_unmap(w.dev, dma, W_SLOT, IOTLB_TO_DEVICE, 0), 0);
	teardown_full(&w, &f, fill);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocking_request_served_by_its_first_search_never_sleeps),
		cmocka_unit_test(
			test_notify_device_served_by_its_retry_leaves_no_failure_to_report),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
