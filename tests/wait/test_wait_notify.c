/* SPDX-License-Identifier: MIT */
/*
 * iotlb_dev_notify_space: one call per arming, in the thread of the unmap or
 * free that made room and before it returns, with no library lock held (the
 * callback maps and re-arms; a custom lock kind counts held area locks);
 * at once when room came back before the arming; never for room in pools the
 * device does not map from.
 */
#include "wfx.h"

#define NSLOTS 256u
#define CHUNK (32u * W_SLOT)

/* A custom lock kind that counts the area locks this thread holds. */
static __thread int locks_held;

static int cl_init(void *l)
{
	return pthread_mutex_init(l, NULL) ? -ENOMEM : 0;
}

static void cl_destroy(void *l)
{
	pthread_mutex_destroy(l);
}

static void cl_lock(void *l, void *ctx)
{
	(void)ctx;
	pthread_mutex_lock(l);
	locks_held++;
}

static void cl_unlock(void *l, void *ctx)
{
	(void)ctx;
	locks_held--;
	pthread_mutex_unlock(l);
}

static const struct iotlb_lock_ops counting_lock = {
	.struct_size = sizeof(struct iotlb_lock_ops),
	.name = "counting",
	.lock_size = sizeof(pthread_mutex_t),
	.lock_align = _Alignof(pthread_mutex_t),
	.init = cl_init,
	.destroy = cl_destroy,
	.lock = cl_lock,
	.unlock = cl_unlock,
};

struct probe {
	struct wfx *w;
	unsigned calls;
	pthread_t thread;
	int locks_held;	   /* area locks held by this thread during the call */
	int queue_trylock; /* pthread_mutex_trylock of the wait queue lock */
	bool map_again;	   /* map from inside the callback, then re-arm */
	int map_err, rearm_err;
	uint64_t map_dma;
};

static void probe_fn(void *ctx)
{
	struct probe *p = ctx;
	pthread_mutex_t *q = &p->w->dev->domain->wq.lock;

	p->calls++;
	p->thread = pthread_self();
	p->locks_held = locks_held;
	p->queue_trylock = pthread_mutex_trylock(q);
	if (p->queue_trylock == 0)
		pthread_mutex_unlock(q);
	if (p->map_again) {
		p->map_err = iotlb_map(p->w->dev, 0, p->w->orig, CHUNK, IOTLB_TO_DEVICE,
				       IOTLB_ATTR_NO_WARN, &p->map_dma);
		p->rearm_err = iotlb_dev_notify_space(p->w->dev, probe_fn, p);
	}
}

static void setup_n(struct wfx *w, uint64_t nslots)
{
	struct iotlb_mem_config cfg = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;

	w_setup_cfg(w, &cfg, nslots, 1);
	cfg.lock = IOTLB_LOCK_CUSTOM;
	cfg.lock_ops = &counting_lock;
	assert_int_equal(iotlb_mem_create(&cfg, &w->mem), 0);
	assert_int_equal(iotlb_dev_create(w->mem, &dc, &w->dev), 0);
}

static void setup(struct wfx *w)
{
	setup_n(w, NSLOTS);
}

static void fill(struct wfx *w, struct iotlb_dev *dev, uint64_t dma[8])
{
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(
			iotlb_map(dev, 0, w->orig + i * CHUNK, CHUNK, IOTLB_TO_DEVICE, 0, &dma[i]),
			0);
}

static int map_fails(struct wfx *w, struct iotlb_dev *dev)
{
	uint64_t d;

	return iotlb_map(dev, 0, w->orig, CHUNK, IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN, &d);
}

/* The first arming fires at once: failures before it were not tracked. */
static void first_arming(struct wfx *w, struct probe *p)
{
	assert_int_equal(iotlb_dev_notify_space(w->dev, probe_fn, p), 0);
	assert_int_equal(p->calls, 1);
	p->calls = 0;
}

static void test_fires_once_per_arming_in_the_unmapping_thread_without_locks(void **state)
{
	struct wfx w;
	struct probe p = {.w = &w};
	uint64_t dma[8];

	(void)state;
	setup(&w);
	p.w = &w;
	first_arming(&w, &p);
	fill(&w, w.dev, dma);
	assert_int_equal(map_fails(&w, w.dev), -ENOSPC);
	assert_int_equal(iotlb_dev_notify_space(w.dev, probe_fn, &p), 0);
	assert_int_equal(iotlb_dev_notify_space(w.dev, probe_fn, &p), -EBUSY);
	assert_int_equal(p.calls, 0);
	p.map_again = true;
	assert_int_equal(iotlb_unmap(w.dev, dma[2], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	/* Called before the unmap returned, in this thread, with nothing held. */
	assert_int_equal(p.calls, 1);
	assert_true(pthread_equal(p.thread, pthread_self()));
	assert_int_equal(p.locks_held, 0);
	assert_int_equal(p.queue_trylock, 0);
	/* The callback mapped into the freed room and re-armed without deadlock. */
	assert_int_equal(p.map_err, 0);
	assert_int_equal(p.map_dma, dma[2]);
	assert_int_equal(p.rearm_err, 0);
	p.map_again = false;
	/* Re-armed, but no map failed since: a free does not call it. */
	assert_int_equal(iotlb_unmap(w.dev, dma[3], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(p.calls, 1);
	/* A failure, then a free: called once more, and only once. */
	assert_int_equal(iotlb_map(w.dev, 0, w.orig, CHUNK, IOTLB_TO_DEVICE, 0, &dma[3]), 0);
	assert_int_equal(map_fails(&w, w.dev), -ENOSPC);
	assert_int_equal(iotlb_unmap(w.dev, dma[4], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(p.calls, 2);
	assert_int_equal(iotlb_unmap(w.dev, dma[5], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(p.calls, 2);
	assert_int_equal(iotlb_unmap(w.dev, p.map_dma, CHUNK, IOTLB_TO_DEVICE, 0), 0);
	for (unsigned i = 0; i < 8; i++)
		if (i != 2 && i != 4 && i != 5)
			assert_int_equal(iotlb_unmap(w.dev, dma[i], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(p.calls, 2);
	assert_int_equal(w_active(w.dev), 0);
	w_teardown(&w);
}

static void test_room_freed_before_arming_fires_at_once(void **state)
{
	struct wfx w;
	struct probe p = {.w = &w};
	uint64_t dma[8];

	(void)state;
	setup(&w);
	first_arming(&w, &p);
	fill(&w, w.dev, dma);
	assert_int_equal(map_fails(&w, w.dev), -ENOSPC);
	assert_int_equal(iotlb_unmap(w.dev, dma[0], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(p.calls, 0);
	assert_int_equal(iotlb_dev_notify_space(w.dev, probe_fn, &p), 0);
	assert_int_equal(p.calls, 1);
	/* Disarmed by that call: the next free is silent. */
	assert_int_equal(iotlb_unmap(w.dev, dma[1], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(p.calls, 1);
	for (unsigned i = 2; i < 8; i++)
		assert_int_equal(iotlb_unmap(w.dev, dma[i], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	w_teardown(&w);
}

static void test_null_disarms_and_coherent_free_counts(void **state)
{
	struct wfx w;
	struct probe p = {.w = &w};
	uint64_t dma[8], cd;
	void *va;

	(void)state;
	setup(&w);
	assert_int_equal(iotlb_dev_notify_space(NULL, probe_fn, &p), -EINVAL);
	assert_int_equal(iotlb_dev_notify_space(w.dev, NULL, NULL), 0);
	first_arming(&w, &p);
	fill(&w, w.dev, dma);
	assert_int_equal(iotlb_unmap(w.dev, dma[7], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(iotlb_alloc(w.dev, CHUNK, &va, &cd), 0);
	/* A failed coherent allocation arms as a failed map does. */
	assert_int_equal(iotlb_alloc(w.dev, CHUNK, &va, &dma[7]), -ENOSPC);
	assert_int_equal(iotlb_dev_notify_space(w.dev, probe_fn, &p), 0);
	assert_int_equal(iotlb_dev_notify_space(w.dev, NULL, NULL), 0);
	assert_int_equal(iotlb_unmap(w.dev, dma[0], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(p.calls, 0);
	assert_int_equal(iotlb_map(w.dev, 0, w.orig, CHUNK, IOTLB_TO_DEVICE, 0, &dma[0]), 0);
	assert_int_equal(map_fails(&w, w.dev), -ENOSPC);
	assert_int_equal(iotlb_dev_notify_space(w.dev, probe_fn, &p), 0);
	assert_int_equal(iotlb_free(w.dev, cd, CHUNK), 0);
	assert_int_equal(p.calls, 1);
	for (unsigned i = 0; i < 7; i++)
		assert_int_equal(iotlb_unmap(w.dev, dma[i], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	w_teardown(&w);
}

static void test_room_in_other_pools_does_not_fire(void **state)
{
	const size_t seg = W_SEG * W_SLOT;
	struct wfx w;
	struct probe p = {.w = &w};
	struct iotlb_dev *priv;
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	uint64_t pdma[8], sdma;

	(void)state;
	setup_n(&w, 4 * 1024);
	dc.private_size = 1024 * W_SLOT; /* one block: eight segments */
	assert_int_equal(iotlb_dev_create(w.mem, &dc, &priv), 0);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(
			iotlb_map(priv, 0, w.orig + i * seg, seg, IOTLB_TO_DEVICE, 0, &pdma[i]), 0);
	assert_int_equal(iotlb_dev_notify_space(priv, probe_fn, &p), 0); /* first: at once */
	p.calls = 0;
	assert_int_equal(map_fails(&w, priv), -ENOSPC);
	assert_int_equal(iotlb_dev_notify_space(priv, probe_fn, &p), 0);
	assert_int_equal(iotlb_map(w.dev, 0, w.orig, W_SLOT, IOTLB_TO_DEVICE, 0, &sdma), 0);
	assert_int_equal(iotlb_unmap(w.dev, sdma, W_SLOT, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(p.calls, 0);
	assert_int_equal(iotlb_unmap(priv, pdma[0], seg, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(p.calls, 1);
	for (unsigned i = 1; i < 8; i++)
		assert_int_equal(iotlb_unmap(priv, pdma[i], seg, IOTLB_TO_DEVICE, 0), 0);
	/* Destroying an armed device disarms it first. */
	assert_int_equal(iotlb_dev_notify_space(priv, probe_fn, &p), 0);
	assert_int_equal(iotlb_dev_destroy(priv), 0);
	assert_int_equal(p.calls, 1);
	w_teardown(&w);
}

static void test_only_devices_whose_request_failed_are_called(void **state)
{
	struct wfx w;
	struct probe pa = {.w = &w}, pb = {.w = &w};
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_dev *b;
	uint64_t dma[8];

	(void)state;
	setup(&w);
	assert_int_equal(iotlb_dev_create(w.mem, &dc, &b), 0);
	first_arming(&w, &pa);
	assert_int_equal(iotlb_dev_notify_space(b, probe_fn, &pb), 0);
	pb.calls = 0;
	fill(&w, w.dev, dma);
	/* A is armed without a failure; B failed and is armed. */
	assert_int_equal(iotlb_dev_notify_space(w.dev, probe_fn, &pa), 0);
	assert_int_equal(map_fails(&w, b), -ENOSPC);
	assert_int_equal(iotlb_dev_notify_space(b, probe_fn, &pb), 0);
	assert_int_equal(iotlb_unmap(w.dev, dma[0], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(pb.calls, 1);
	assert_int_equal(pa.calls, 0);
	/* A stays armed until a map of A fails and room comes back. */
	assert_int_equal(iotlb_dev_notify_space(w.dev, probe_fn, &pa), -EBUSY);
	assert_int_equal(iotlb_map(w.dev, 0, w.orig, CHUNK, IOTLB_TO_DEVICE, 0, &dma[0]), 0);
	assert_int_equal(map_fails(&w, w.dev), -ENOSPC);
	assert_int_equal(iotlb_unmap(w.dev, dma[1], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(pa.calls, 1);
	assert_int_equal(pb.calls, 1);
	for (unsigned i = 0; i < 8; i++)
		if (i != 1)
			assert_int_equal(iotlb_unmap(w.dev, dma[i], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(iotlb_dev_destroy(b), 0);
	w_teardown(&w);
}

/* More armed, failed devices than one trip out of the queue lock fires
 * (callbacks run in batches): one release still calls every one, once. */
#define MANY_DEVS 19

static void test_one_release_fires_every_failed_device_however_many(void **state)
{
	struct wfx w;
	struct probe p[MANY_DEVS];
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_dev *d[MANY_DEVS];
	uint64_t dma[8];

	(void)state;
	setup(&w);
	fill(&w, w.dev, dma);
	for (unsigned i = 0; i < MANY_DEVS; i++) {
		p[i] = (struct probe){.w = &w};
		assert_int_equal(iotlb_dev_create(w.mem, &dc, &d[i]), 0);
		assert_int_equal(iotlb_dev_notify_space(d[i], probe_fn, &p[i]), 0);
		assert_int_equal(p[i].calls, 1); /* the first arming */
		p[i].calls = 0;
		assert_int_equal(map_fails(&w, d[i]), -ENOSPC);
		assert_int_equal(iotlb_dev_notify_space(d[i], probe_fn, &p[i]), 0);
		assert_int_equal(p[i].calls, 0);
	}
	assert_int_equal(iotlb_unmap(w.dev, dma[0], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	for (unsigned i = 0; i < MANY_DEVS; i++) {
		assert_int_equal(p[i].calls, 1);
		assert_true(pthread_equal(p[i].thread, pthread_self()));
		/* Disarmed by the call: arming again is accepted. */
		assert_int_equal(iotlb_dev_notify_space(d[i], NULL, NULL), 0);
	}
	for (unsigned i = 0; i < MANY_DEVS; i++)
		assert_int_equal(iotlb_dev_destroy(d[i]), 0);
	for (unsigned i = 1; i < 8; i++)
		assert_int_equal(iotlb_unmap(w.dev, dma[i], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	w_teardown(&w);
}

/* Disarming (NULL, or destroying the device) takes a device out of the
 * middle of the armed list without losing the ones around it. */
static void test_disarming_one_of_several_armed_devices_keeps_the_others(void **state)
{
	struct wfx w;
	struct probe p[3];
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_dev *d[3];
	uint64_t dma[8];

	(void)state;
	setup(&w);
	fill(&w, w.dev, dma);
	for (unsigned i = 0; i < 3; i++) {
		p[i] = (struct probe){.w = &w};
		assert_int_equal(iotlb_dev_create(w.mem, &dc, &d[i]), 0);
		assert_int_equal(iotlb_dev_notify_space(d[i], probe_fn, &p[i]), 0);
		p[i].calls = 0;
		assert_int_equal(map_fails(&w, d[i]), -ENOSPC);
		assert_int_equal(iotlb_dev_notify_space(d[i], probe_fn, &p[i]), 0);
	}
	/* Armed newest first: d[2], d[1], d[0]. Take out the middle one and
	 * the last one (the latter by destroying its device). */
	assert_int_equal(iotlb_dev_notify_space(d[1], NULL, NULL), 0);
	assert_int_equal(iotlb_dev_destroy(d[0]), 0);
	assert_int_equal(iotlb_unmap(w.dev, dma[0], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(p[0].calls, 0);
	assert_int_equal(p[1].calls, 0);
	assert_int_equal(p[2].calls, 1);
	/* The disarmed device can be armed again and fires for its failure. */
	assert_int_equal(iotlb_map(w.dev, 0, w.orig, CHUNK, IOTLB_TO_DEVICE, 0, &dma[0]), 0);
	assert_int_equal(map_fails(&w, d[1]), -ENOSPC);
	assert_int_equal(iotlb_dev_notify_space(d[1], probe_fn, &p[1]), 0);
	assert_int_equal(iotlb_unmap(w.dev, dma[1], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(p[1].calls, 1);
	assert_int_equal(p[2].calls, 1);
	for (unsigned i = 1; i < 3; i++)
		assert_int_equal(iotlb_dev_destroy(d[i]), 0);
	for (unsigned i = 0; i < 8; i++)
		if (i != 1)
			assert_int_equal(iotlb_unmap(w.dev, dma[i], CHUNK, IOTLB_TO_DEVICE, 0), 0);
	w_teardown(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fires_once_per_arming_in_the_unmapping_thread_without_locks),
		cmocka_unit_test(test_room_freed_before_arming_fires_at_once),
		cmocka_unit_test(test_null_disarms_and_coherent_free_counts),
		cmocka_unit_test(test_room_in_other_pools_does_not_fire),
		cmocka_unit_test(test_only_devices_whose_request_failed_are_called),
		cmocka_unit_test(test_one_release_fires_every_failed_device_however_many),
		cmocka_unit_test(test_disarming_one_of_several_armed_devices_keeps_the_others),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
