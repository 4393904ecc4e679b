/* SPDX-License-Identifier: MIT */
/*
 * Fault injection: every allocation the library makes goes through one hook
 * (src/alloc.c). For every create and grow path, fail the k-th allocation
 * for k = 1, 2, ... until the path succeeds, and check each failure returns
 * -ENOMEM, leaks nothing and changes nothing. Run under ASan with leak
 * detection by `make test`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

#define SLOT 2048u
#define POOL_SLOTS 4096u /* 8 MiB: four blocks of 1024 slots */

static void *region_alloc(size_t size)
{
	void *p = NULL;

	assert_int_equal(posix_memalign(&p, 65536, size), 0);
	return p;
}

static struct iotlb_mem_config base_config(void *region, size_t size)
{
	struct iotlb_mem_config c = IOTLB_MEM_CONFIG_INIT;

	c.vaddr = region;
	c.dma_addr = 0x40000000;
	c.size = size;
	c.nareas = 4;
	c.lock = IOTLB_LOCK_MUTEX;
	return c;
}

/* Everything a failed call must leave as it was. */
struct snapshot {
	struct iotlb_stats stats;
	uint32_t *list;
	uint64_t nslots;
	int64_t live;
};

static void take_snapshot(struct iotlb_mem *mem, struct snapshot *s)
{
	struct iotlb__pool *pool = mem->shared.pools;

	s->stats = (struct iotlb_stats)IOTLB_STATS_INIT;
	assert_int_equal(iotlb_mem_stats(mem, &s->stats), 0);
	s->nslots = pool->nslots;
	s->list = malloc(pool->nslots * sizeof(*s->list));
	for (uint64_t i = 0; i < pool->nslots; i++)
		s->list[i] = iotlb__slots_free_run(pool, i);
	s->live = iotlb__alloc_live();
}

static void assert_unchanged(struct iotlb_mem *mem, const struct snapshot *s)
{
	struct iotlb_stats now = IOTLB_STATS_INIT;
	char why[256];

	/* The oldest pool is the last in the newest-first list. */
	struct iotlb__pool *pool = mem->shared.pools;

	while (pool->next)
		pool = pool->next;
	assert_int_equal(iotlb_mem_stats(mem, &now), 0);
	assert_int_equal(now.used, s->stats.used);
	assert_int_equal(now.nslots, s->stats.nslots);
	assert_int_equal(now.npools, s->stats.npools);
	assert_int_equal(now.maps, s->stats.maps);
	assert_int_equal(pool->nslots, s->nslots);
	for (uint64_t i = 0; i < s->nslots; i++)
		assert_int_equal(iotlb__slots_free_run(pool, i), s->list[i]);
	assert_int_equal(iotlb__alloc_live(), s->live);
	assert_int_equal(iotlb__check_mem(mem, why, sizeof(why)), 0);
}

static void free_snapshot(struct snapshot *s)
{
	free(s->list);
}

/* ------------------------------------------------ the hook itself */

/* The hook counts attempts from its last arming and fails exactly the nth;
 * the loops below rely on both. (No library object is alive here, so no
 * other thread allocates meanwhile.) */
static void test_fault_hook_fails_exactly_the_nth_attempt_and_counts_all(void **state)
{
	int64_t live = iotlb__alloc_live();
	void *p[4];

	(void)state;
	iotlb__fault_inject(3);
	assert_int_equal(iotlb__alloc_attempts(), 0);
	for (int i = 0; i < 4; i++)
		p[i] = iotlb__zalloc(8, 1, 64);
	assert_int_equal(iotlb__alloc_attempts(), 4);
	assert_non_null(p[0]);
	assert_non_null(p[1]);
	assert_null(p[2]);
	assert_non_null(p[3]);
	assert_int_equal(iotlb__alloc_live(), live + 3);
	iotlb__fault_inject(0);
	assert_int_equal(iotlb__alloc_attempts(), 0);
	for (int i = 0; i < 4; i++)
		iotlb__free(p[i]); /* NULL included: not counted */
	assert_int_equal(iotlb__alloc_live(), live);
}

/* n * size past SIZE_MAX must be refused, not wrapped to a small block. */
static void test_zalloc_refuses_a_count_times_size_that_overflows(void **state)
{
	int64_t live = iotlb__alloc_live();

	(void)state;
	iotlb__fault_inject(0);
	assert_null(iotlb__zalloc(64, SIZE_MAX / 16 + 1, 16));
	assert_null(iotlb__zalloc(64, 2, SIZE_MAX / 2 + 1));
	assert_int_equal(iotlb__alloc_attempts(), 2);
	assert_int_equal(iotlb__alloc_live(), live);
}

/* Alignments below a pointer's are raised to it (posix_memalign's floor);
 * the memory is zeroed and a zero-byte request still yields a block. */
static void test_zalloc_gives_zeroed_pointer_aligned_memory_for_any_size(void **state)
{
	int64_t live = iotlb__alloc_live();
	unsigned char *p = iotlb__zalloc(1, 3, 5);
	void *empty = iotlb__zalloc(1, 0, 16);

	(void)state;
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % sizeof(void *), 0);
	for (int i = 0; i < 15; i++)
		assert_int_equal(p[i], 0);
	assert_non_null(empty);
	assert_int_equal(iotlb__alloc_live(), live + 2);
	iotlb__free(p);
	iotlb__free(empty);
	assert_int_equal(iotlb__alloc_live(), live);
}

/* Fails every allocation of iotlb_mem_create(c) in turn; returns how many. */
static unsigned mem_create_failures(const struct iotlb_mem_config *c)
{
	struct iotlb_mem *sentinel = (struct iotlb_mem *)(uintptr_t)0x1234;
	int64_t live = iotlb__alloc_live();
	unsigned k, failures = 0;

	for (k = 1;; k++) {
		struct iotlb_mem *mem = sentinel;
		int rc;

		iotlb__fault_inject(k);
		rc = iotlb_mem_create(c, &mem);
		iotlb__fault_inject(0);
		if (rc == 0) {
			assert_int_equal(iotlb_mem_destroy(mem), 0);
			break;
		}
		assert_int_equal(rc, -ENOMEM);
		assert_ptr_equal(mem, sentinel);
		assert_int_equal(iotlb__alloc_live(), live);
		failures++;
	}
	assert_int_equal(iotlb__alloc_live(), live);
	return failures;
}

static void test_mem_create_fails_cleanly_at_every_allocation(void **state)
{
	size_t size = (size_t)POOL_SLOTS * SLOT;
	void *region = region_alloc(size);
	struct iotlb_mem_config c = base_config(region, size);

	(void)state;
	/* mem, pool, list, slots, areas: every one of them was failed once. */
	assert_true(mem_create_failures(&c) >= 5);
	free(region);
}

static int refuse_alloc(void *ctx, size_t size, void **va, uint64_t *dma)
{
	(void)ctx, (void)size, (void)va, (void)dma;
	return -ENOMEM;
}

static void noop_free(void *ctx, void *va, uint64_t dma, size_t size)
{
	(void)ctx, (void)va, (void)dma, (void)size;
}

static void test_growable_mem_create_fails_cleanly(void **state)
{
	static const struct iotlb_region_ops refuse = {refuse_alloc, noop_free};
	size_t size = (size_t)POOL_SLOTS * SLOT;
	void *region = region_alloc(size);
	struct iotlb_mem_config c = base_config(region, size);

	(void)state;
	c.flags = IOTLB_MEM_GROW;
	c.region_ops = &refuse;
	assert_true(mem_create_failures(&c) >= 5);
	free(region);
}

static void test_add_pool_fails_cleanly_at_every_allocation(void **state)
{
	size_t size = (size_t)POOL_SLOTS * SLOT;
	void *region = region_alloc(size), *second = region_alloc(size);
	struct iotlb_mem_config c = base_config(region, size);
	struct iotlb_mem *mem;
	unsigned k, failures = 0;

	(void)state;
	assert_int_equal(iotlb_mem_create(&c, &mem), 0);
	for (k = 1;; k++) {
		struct snapshot s;
		int rc;

		take_snapshot(mem, &s);
		iotlb__fault_inject(k);
		rc = iotlb_mem_add_pool(mem, second, 0x80000000, size);
		iotlb__fault_inject(0);
		if (rc == 0) {
			free_snapshot(&s);
			break;
		}
		assert_int_equal(rc, -ENOMEM);
		assert_unchanged(mem, &s);
		free_snapshot(&s);
		failures++;
	}
	assert_true(failures >= 4);
	assert_int_equal(iotlb_mem_destroy(mem), 0);
	free(second);
	free(region);
}

static void dev_create_fails_cleanly(size_t private_size, unsigned min_failures)
{
	size_t size = (size_t)POOL_SLOTS * SLOT;
	void *region = region_alloc(size);
	struct iotlb_mem_config c = base_config(region, size);
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_dev *keep, *dev;
	struct iotlb_mem *mem;
	char buf[3000];
	uint64_t dma;
	unsigned k, failures = 0;

	assert_int_equal(iotlb_mem_create(&c, &mem), 0);
	/* Something live in the shared pool, so "unchanged" means something. */
	assert_int_equal(iotlb_dev_create(mem, &dc, &keep), 0);
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(iotlb_map(keep, 1, buf, sizeof(buf), IOTLB_TO_DEVICE, 0, &dma), 0);
	dc.private_size = private_size;
	dc.nqueues = 4;
	for (k = 1;; k++) {
		struct snapshot s;
		int rc;

		dev = (struct iotlb_dev *)(uintptr_t)0x4321;
		take_snapshot(mem, &s);
		iotlb__fault_inject(k);
		rc = iotlb_dev_create(mem, &dc, &dev);
		iotlb__fault_inject(0);
		if (rc == 0) {
			free_snapshot(&s);
			break;
		}
		assert_int_equal(rc, -ENOMEM);
		assert_ptr_equal(dev, (struct iotlb_dev *)(uintptr_t)0x4321);
		assert_unchanged(mem, &s);
		free_snapshot(&s);
		failures++;
	}
	assert_true(failures >= min_failures);
	assert_int_equal(iotlb_dev_destroy(dev), 0);
	assert_int_equal(iotlb_unmap(keep, dma, sizeof(buf), IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(iotlb_dev_destroy(keep), 0);
	assert_int_equal(iotlb_mem_destroy(mem), 0);
	free(region);
}

static void test_shared_dev_create_fails_cleanly(void **state)
{
	(void)state;
	dev_create_fails_cleanly(0, 1);
}

static void test_private_dev_create_fails_cleanly_and_restores_the_shared_pool(void **state)
{
	(void)state;
	/* dev, carve contexts, private pool, list, slots, areas. */
	dev_create_fails_cleanly(2u << 20, 6);
}

/* A provider that counts, and serves only the sizes it is told to. */
struct provider {
	size_t grow_size;
	bool serve_grow, serve_transient;
	int allocs, frees;
	uint64_t next_dma;
};

static int counting_alloc(void *ctx, size_t size, void **va, uint64_t *dma)
{
	struct provider *p = ctx;
	bool is_grow = size == p->grow_size;

	if ((is_grow && !p->serve_grow) || (!is_grow && !p->serve_transient))
		return -ENOMEM;
	*va = region_alloc(size);
	*dma = p->next_dma;
	p->next_dma += (size + 0xffffff) & ~(uint64_t)0xffffff;
	__atomic_add_fetch(&p->allocs, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static void counting_free(void *ctx, void *va, uint64_t dma, size_t size)
{
	struct provider *p = ctx;

	(void)dma, (void)size;
	free(va);
	__atomic_add_fetch(&p->frees, 1, __ATOMIC_SEQ_CST);
}

static const struct iotlb_region_ops counting_ops = {counting_alloc, counting_free};

static struct iotlb_mem *full_growable_mem(void *region, struct provider *prov,
					   struct iotlb_dev **dev, uint64_t *fill)
{
	size_t size = 128u * SLOT; /* one segment, one area */
	struct iotlb_mem_config c = base_config(region, size);
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	static char filler[128u * SLOT];
	struct iotlb_mem *mem;

	c.nareas = 1;
	c.flags = IOTLB_MEM_GROW;
	c.region_ops = &counting_ops;
	c.region_ctx = prov;
	c.grow_size = prov->grow_size;
	assert_int_equal(iotlb_mem_create(&c, &mem), 0);
	assert_int_equal(iotlb_dev_create(mem, &dc, dev), 0);
	assert_int_equal(iotlb_map(*dev, 0, filler, sizeof(filler), IOTLB_TO_DEVICE, 0, fill), 0);
	return mem;
}

static void test_transient_pool_fails_cleanly_at_every_allocation(void **state)
{
	struct provider prov = {
		.grow_size = 64u * SLOT, .serve_transient = true, .next_dma = 0x100000000ull};
	void *region = region_alloc(128u * SLOT);
	struct iotlb_dev *dev;
	uint64_t fill, dma;
	char buf[5000];
	unsigned k, failures = 0;
	struct iotlb_mem *mem = full_growable_mem(region, &prov, &dev, &fill);

	(void)state;
	memset(buf, 0x3c, sizeof(buf));
	for (k = 1;; k++) {
		struct snapshot s;
		int rc;

		take_snapshot(mem, &s);
		dma = 0xdead;
		iotlb__fault_inject(k);
		/* The worker is refused by the provider before it allocates. */
		rc = iotlb_map(dev, 0, buf, sizeof(buf), IOTLB_TO_DEVICE, 0, &dma);
		iotlb__fault_inject(0);
		if (rc == 0) {
			free_snapshot(&s);
			break;
		}
		assert_int_equal(rc, -ENOMEM);
		assert_int_equal(dma, 0xdead);
		assert_unchanged(mem, &s);
		assert_int_equal(prov.allocs, prov.frees);
		free_snapshot(&s);
		failures++;
	}
	assert_true(failures >= 4);
	assert_memory_equal(iotlb_dma_to_virt(dev, dma), buf, sizeof(buf));
	assert_int_equal(iotlb_unmap(dev, dma, sizeof(buf), IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(iotlb_unmap(dev, fill, 128u * SLOT, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(iotlb_dev_destroy(dev), 0);
	assert_int_equal(iotlb_mem_destroy(mem), 0);
	assert_int_equal(prov.allocs, prov.frees);
	free(region);
}

/*
 * Waits until the worker has finished its k-th attempt: it counts the
 * attempt when it starts and the failure (or the new pool) when it ends, so
 * waiting on the attempt count alone would read the stats mid-attempt. A hang
 * guard of 30 s, not a timing requirement: the worker usually answers within
 * a millisecond.
 */
static struct iotlb_stats wait_grow_attempt_done(struct iotlb_mem *mem, uint64_t k)
{
	struct iotlb_stats s = IOTLB_STATS_INIT;

	for (int i = 0; i < 30000; i++) {
		assert_int_equal(iotlb_mem_stats(mem, &s), 0);
		if (s.grow_failures >= k || s.npools == 2)
			break;
		usleep(1000);
	}
	return s;
}

static void test_growth_worker_fails_cleanly_at_every_allocation(void **state)
{
	struct provider prov = {
		.grow_size = 64u * SLOT, .serve_grow = true, .next_dma = 0x100000000ull};
	void *region = region_alloc(128u * SLOT);
	struct iotlb_dev *dev;
	uint64_t fill, dma;
	char buf[100];
	unsigned k, failures = 0;
	struct iotlb_mem *mem = full_growable_mem(region, &prov, &dev, &fill);
	struct iotlb_stats s = IOTLB_STATS_INIT;

	(void)state;
	for (k = 1;; k++) {
		int64_t live = iotlb__alloc_live();

		iotlb__fault_inject(k);
		/* No room and no transient pool: -ENOSPC, and a growth request. */
		assert_int_equal(iotlb_map(dev, 0, buf, sizeof(buf), IOTLB_TO_DEVICE, 0, &dma),
				 -ENOSPC);
		s = wait_grow_attempt_done(mem, k);
		iotlb__fault_inject(0);
		assert_int_equal(s.grow_attempts, k);
		if (s.npools == 2)
			break;
		assert_int_equal(s.grow_failures, k);
		assert_int_equal(iotlb__alloc_live(), live);
		assert_int_equal(prov.allocs, prov.frees);
		failures++;
	}
	assert_true(failures >= 4);
	/* The grown pool serves maps now. */
	assert_int_equal(iotlb_map(dev, 0, buf, sizeof(buf), IOTLB_TO_DEVICE, 0, &dma), 0);
	assert_int_equal(iotlb_unmap(dev, dma, sizeof(buf), IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(iotlb_unmap(dev, fill, 128u * SLOT, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(iotlb_dev_destroy(dev), 0);
	assert_int_equal(iotlb_mem_destroy(mem), 0);
	assert_int_equal(prov.allocs, prov.frees);
	free(region);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_hook_fails_exactly_the_nth_attempt_and_counts_all),
		cmocka_unit_test(test_zalloc_refuses_a_count_times_size_that_overflows),
		cmocka_unit_test(test_zalloc_gives_zeroed_pointer_aligned_memory_for_any_size),
		cmocka_unit_test(test_mem_create_fails_cleanly_at_every_allocation),
		cmocka_unit_test(test_growable_mem_create_fails_cleanly),
		cmocka_unit_test(test_add_pool_fails_cleanly_at_every_allocation),
		cmocka_unit_test(test_shared_dev_create_fails_cleanly),
		cmocka_unit_test(
			test_private_dev_create_fails_cleanly_and_restores_the_shared_pool),
		cmocka_unit_test(test_transient_pool_fails_cleanly_at_every_allocation),
		cmocka_unit_test(test_growth_worker_fails_cleanly_at_every_allocation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
