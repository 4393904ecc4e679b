/* SPDX-License-Identifier: MIT */
/*
 * No lost wake-up: more threads, and more bytes in flight, than the pool
 * holds. Blocking maps and allocs (IOTLB_ATTR_MAY_BLOCK), then event-loop
 * style retries armed with iotlb_dev_notify_space. Every request must
 * eventually be served and every byte is checked both ways. A lost wake-up
 * shows as a notify wait past the hang guard, or as the ctest timeout.
 * IOTLB_TEST_SCALE=tsan or asan runs fewer rounds.
 */
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>

#include "wfx.h"

#include "rng.h"

#define NSLOTS 256u
#define NTHREADS 12u
#define MAX_SLOTS 32u /* 12 threads x up to 32 slots: up to 384 wanted of 256 */
#define ORIG_STRIDE (MAX_SLOTS * W_SLOT)

static unsigned rounds(void)
{
	const char *s = getenv("IOTLB_TEST_SCALE");

	return s && *s ? 60 : 400;
}

struct worker {
	pthread_t thread;
	struct wfx *w;
	struct iotlb_dev *dev;
	unsigned id, rounds;
	bool use_notify, use_alloc;
	sem_t room; /* posted by the notify callback */
	unsigned maps, allocs, notify_waits, notify_hangs, bad_bytes;
	int err;
};

static void post_room(void *ctx)
{
	sem_post(&((struct worker *)ctx)->room);
}

static unsigned char pattern(unsigned id, unsigned round, size_t i, unsigned salt)
{
	return (unsigned char)(id * 31u + round * 7u + i * 13u + salt);
}

/* Event-loop style: try, arm on -ENOSPC, sleep until called, retry. */
static int map_with_notify(struct worker *k, void *orig, size_t size, enum iotlb_dir dir,
			   uint64_t *dma)
{
	for (;;) {
		struct timespec ts;
		int err = iotlb_map(k->dev, IOTLB_ANY_QUEUE, orig, size, dir, IOTLB_ATTR_NO_WARN,
				    dma);

		if (err != -ENOSPC)
			return err;
		err = iotlb_dev_notify_space(k->dev, post_room, k);
		if (err)
			return err;
		k->notify_waits++;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += W_HANG_GUARD_MS / 1000;
		if (sem_timedwait(&k->room, &ts)) {
			k->notify_hangs++;
			return -ETIMEDOUT;
		}
	}
}

static void one_map(struct worker *k, struct rng *r, unsigned round)
{
	unsigned char *orig = k->w->orig + (size_t)k->id * ORIG_STRIDE;
	size_t size = 1 + (size_t)(rng_next(r) % (MAX_SLOTS * W_SLOT));
	enum iotlb_dir dir = (enum iotlb_dir)(rng_next(r) % 3);
	unsigned char *bounce;
	uint64_t dma;
	int err;

	for (size_t i = 0; i < size; i++)
		orig[i] = pattern(k->id, round, i, 0);
	if (k->use_notify)
		err = map_with_notify(k, orig, size, dir, &dma);
	else
		err = iotlb_map(k->dev, IOTLB_ANY_QUEUE, orig, size, dir, IOTLB_ATTR_MAY_BLOCK,
				&dma);
	if (err) {
		k->err = err;
		return;
	}
	k->maps++;
	bounce = iotlb_dma_to_virt(k->dev, dma);
	/* The map copies whatever the direction. */
	for (size_t i = 0; i < size; i++)
		k->bad_bytes += bounce[i] != pattern(k->id, round, i, 0);
	sched_yield();
	for (size_t i = 0; i < size; i++)
		bounce[i] = pattern(k->id, round, i, 1);
	if (iotlb_unmap(k->dev, dma, size, dir, 0)) {
		k->err = -EFAULT;
		return;
	}
	for (size_t i = 0; i < size; i++)
		k->bad_bytes += orig[i] != pattern(k->id, round, i, dir == IOTLB_TO_DEVICE ? 0 : 1);
}

static void one_alloc(struct worker *k, struct rng *r)
{
	size_t size = 1 + (size_t)(rng_next(r) % (MAX_SLOTS * W_SLOT));
	unsigned char *va;
	uint64_t dma;
	void *p;
	int err = iotlb_alloc_attrs(k->dev, size, IOTLB_ATTR_MAY_BLOCK, &p, &dma);

	if (err) {
		k->err = err;
		return;
	}
	k->allocs++;
	va = p;
	for (size_t i = 0; i < size; i++)
		k->bad_bytes += va[i] != 0;
	memset(va, 0x77, size);
	sched_yield();
	if (iotlb_free(k->dev, dma, size))
		k->err = -EFAULT;
}

static void *worker_main(void *arg)
{
	struct worker *k = arg;
	struct rng r;

	rng_seed(&r, 0x5eed0000u + k->id);
	for (unsigned round = 0; round < k->rounds && !k->err; round++) {
		if (k->use_alloc && round % 2)
			one_alloc(k, &r);
		else
			one_map(k, &r, round);
	}
	return NULL;
}

static void run(bool notify)
{
	struct wfx w;
	struct worker k[NTHREADS];
	struct iotlb_stats s;
	unsigned maps = 0, allocs = 0, notify_waits = 0;

	w_setup(&w, NSLOTS, 2, 0);
	memset(k, 0, sizeof(k));
	for (unsigned i = 0; i < NTHREADS; i++) {
		struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;

		k[i].w = &w;
		k[i].id = i;
		k[i].rounds = rounds();
		k[i].use_notify = notify;
		k[i].use_alloc = !notify && i % 3 == 0;
		k[i].dev = w.dev;
		/* notify is armed per device: one device per event loop */
		if (notify)
			assert_int_equal(iotlb_dev_create(w.mem, &dc, &k[i].dev), 0);
		assert_int_equal(sem_init(&k[i].room, 0, 0), 0);
	}
	for (unsigned i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&k[i].thread, NULL, worker_main, &k[i]), 0);
	for (unsigned i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(k[i].thread, NULL), 0);
	for (unsigned i = 0; i < NTHREADS; i++) {
		assert_int_equal(k[i].err, 0);
		assert_int_equal(k[i].notify_hangs, 0);
		assert_int_equal(k[i].bad_bytes, 0);
		assert_int_equal(k[i].maps + k[i].allocs, k[i].rounds);
		maps += k[i].maps;
		allocs += k[i].allocs;
		notify_waits += k[i].notify_waits;
		/* Every arming was consumed: nothing posted twice. */
		assert_int_equal(sem_trywait(&k[i].room), -1);
		sem_destroy(&k[i].room);
	}
	s = w_stats(w.dev);
	assert_int_equal(s.maps, maps);
	assert_int_equal(s.allocs, allocs);
	assert_int_equal(s.used, 0);
	assert_int_equal(s.wait_timeouts, 0);
	assert_true(s.waits <= maps + allocs);
	assert_true(s.wait_ns_max <= s.wait_ns);
	assert_true(s.waits > 0 || s.wait_ns == 0);
	if (notify)
		assert_int_equal(s.waits, 0);
	else
		assert_int_equal(s.map_fail_nospace, 0);
	assert_int_equal(w_nwaiters(w.dev), 0);
	printf("# %s: %u maps, %u allocs, %llu waits (%.1f ms in all, longest %.2f ms), "
	       "%u notify waits, %llu -ENOSPC\n",
	       notify ? "notify" : "blocking", maps, allocs, (unsigned long long)s.waits,
	       (double)s.wait_ns / 1e6, (double)s.wait_ns_max / 1e6, notify_waits,
	       (unsigned long long)s.map_fail_nospace);
	if (notify)
		for (unsigned i = 0; i < NTHREADS; i++)
			assert_int_equal(iotlb_dev_destroy(k[i].dev), 0);
	w_teardown(&w);
}

static void test_blocking_requests_all_served_with_more_in_flight_than_fits(void **state)
{
	(void)state;
	run(false);
}

static void test_notify_retry_loops_all_served_with_more_in_flight_than_fits(void **state)
{
	(void)state;
	run(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocking_requests_all_served_with_more_in_flight_than_fits),
		cmocka_unit_test(test_notify_retry_loops_all_served_with_more_in_flight_than_fits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
