/* SPDX-License-Identifier: MIT */
/*
 * Regression tests of issue 15, the hostile region provider's half: regions
 * that overlap a pool (CPU or device range), wrap the device end, are
 * misaligned, or overlap a live transient pool are refused, handed back
 * through free and counted as growth failures, by the growth worker and for
 * transient pools alike; and a transient pool asks for exactly the slots its
 * request needs plus only the slack the request's alignment needs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "internal.h"

#define SLOT 2048ull
#define PAGE 4096ull
#define SEG_BYTES (128 * SLOT)
#define B0 0x10000000ull /* device address of the initial pool */
#define GROW_BYTES (256 * SLOT)
#define DMA_SENTINEL 0xdeadbeefcafef00dull
#define MAX_REGIONS 64

/* ------------------------------------------------ the lying provider */

enum lie {
	HONEST,
	REFUSE,		  /* alloc fails: the ordinary failure */
	CPU_OVERLAP,	  /* CPU range of the initial pool */
	DMA_OVERLAP,	  /* device range inside the initial pool */
	DMA_WRAP,	  /* device end past 2^64 */
	VA_MISALIGNED,	  /* CPU address a slot off a page */
	DMA_MISALIGNED,	  /* device address a slot off a page */
	REPEAT_TRANSIENT, /* the last honest transient region, still live */
	NLIES
};

static const char *const lie_names[NLIES] = {
	"honest",   "refuse",	     "cpu-overlap",    "dma-overlap",
	"dma-wrap", "va-misaligned", "dma-misaligned", "repeat-transient",
};

struct region {
	void *va;
	uint64_t dma;
	size_t size;
	void *map; /* what to munmap, NULL when the memory is not ours */
	size_t map_len;
	unsigned frees;
};

struct hp {
	pthread_mutex_t lock;
	enum lie worker_lie, transient_lie;
	void *pool_va; /* the initial pool, for the overlapping lies */
	struct region r[MAX_REGIONS];
	unsigned nr;
	int last_transient; /* index of the last honest transient region */
	uint64_t next_dma;
	unsigned worker_calls, transient_calls, bad_frees;
	size_t transient_sizes[MAX_REGIONS];
};

static void *fresh(size_t len, void **map, size_t *map_len)
{
	void *p =
		mmap(NULL, len + PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	*map = p;
	*map_len = len + PAGE;
	return p;
}

static int hp_alloc(void *ctx, size_t size, void **vaddr, uint64_t *dma_addr)
{
	struct hp *hp = ctx;
	bool worker = size == GROW_BYTES;
	enum lie lie = worker ? hp->worker_lie : hp->transient_lie;
	struct region *r;
	int err = 0;

	pthread_mutex_lock(&hp->lock);
	if (worker) {
		hp->worker_calls++;
	} else {
		hp->transient_sizes[hp->transient_calls % MAX_REGIONS] = size;
		hp->transient_calls++;
	}
	if (lie == REFUSE || hp->nr == MAX_REGIONS) {
		err = -ENOMEM;
		goto out;
	}
	r = &hp->r[hp->nr];
	memset(r, 0, sizeof(*r));
	r->size = size;
	r->dma = hp->next_dma;
	hp->next_dma += 0x1000000;
	switch (lie) {
	case CPU_OVERLAP:
		r->va = hp->pool_va;
		break;
	case REPEAT_TRANSIENT:
		assert_true(hp->last_transient >= 0);
		r->va = hp->r[hp->last_transient].va;
		r->dma = hp->r[hp->last_transient].dma;
		break;
	case VA_MISALIGNED:
		r->va = (char *)fresh(size, &r->map, &r->map_len) + SLOT;
		break;
	default:
		r->va = fresh(size, &r->map, &r->map_len);
		break;
	}
	if (lie == DMA_OVERLAP)
		r->dma = B0 + PAGE;
	else if (lie == DMA_WRAP)
		r->dma = 0 - PAGE;
	else if (lie == DMA_MISALIGNED)
		r->dma += SLOT;
	if (lie == HONEST && !worker)
		hp->last_transient = (int)hp->nr;
	hp->nr++;
	*vaddr = r->va;
	*dma_addr = r->dma;
out:
	pthread_mutex_unlock(&hp->lock);
	return err;
}

static void hp_free(void *ctx, void *vaddr, uint64_t dma_addr, size_t size)
{
	struct hp *hp = ctx;
	unsigned i;

	pthread_mutex_lock(&hp->lock);
	for (i = hp->nr; i-- > 0;)
		if (hp->r[i].va == vaddr && hp->r[i].dma == dma_addr && hp->r[i].size == size &&
		    !hp->r[i].frees)
			break;
	if (i == UINT32_MAX)
		hp->bad_frees++;
	else
		hp->r[i].frees++;
	pthread_mutex_unlock(&hp->lock);
}

static const struct iotlb_region_ops hp_ops = {.alloc = hp_alloc, .free = hp_free};

static unsigned hp_live(struct hp *hp)
{
	unsigned live = 0;

	pthread_mutex_lock(&hp->lock);
	for (unsigned i = 0; i < hp->nr; i++)
		live += !hp->r[i].frees;
	pthread_mutex_unlock(&hp->lock);
	return live;
}

/* ------------------------------------------------------------ fixture */

struct hfx {
	struct hp hp;
	struct iotlb_mem *mem;
	struct iotlb_dev *dev;
	void *pool_map, *arena_map;
	size_t pool_map_len, arena_map_len;
	unsigned char *pool, *arena;
};

/* Background work finishes "eventually"; the bound only keeps a broken
 * library from hanging the test, it measures nothing. */
static bool wait_for(bool (*cond)(struct hfx *), struct hfx *h)
{
	struct timespec ts = {.tv_nsec = 2000000};

	for (unsigned i = 0; i < 15000; i++) {
		if (cond(h))
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

static struct iotlb_stats stats(struct hfx *h)
{
	struct iotlb_stats s = IOTLB_STATS_INIT;

	assert_int_equal(iotlb_mem_stats(h->mem, &s), 0);
	return s;
}

/* A growable mem of one full segment (filled by *fill) and its device. */
static void h_create(struct hfx *h, enum lie worker, enum lie transient, uint64_t *fill)
{
	struct iotlb_mem_config c = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;

	memset(&h->hp.r, 0, sizeof(h->hp.r));
	h->hp.nr = 0;
	h->hp.worker_calls = h->hp.transient_calls = h->hp.bad_frees = 0;
	h->hp.last_transient = -1;
	h->hp.next_dma = 0x100000000ull;
	h->hp.worker_lie = worker;
	h->hp.transient_lie = transient;
	h->hp.pool_va = h->pool;
	c.vaddr = h->pool;
	c.dma_addr = B0;
	c.size = SEG_BYTES;
	c.nareas = 1;
	c.lock = IOTLB_LOCK_MUTEX;
	c.flags = IOTLB_MEM_GROW;
	c.region_ops = &hp_ops;
	c.region_ctx = &h->hp;
	c.grow_size = GROW_BYTES;
	assert_int_equal(iotlb_mem_create(&c, &h->mem), 0);
	assert_int_equal(iotlb_dev_create(h->mem, &dc, &h->dev), 0);
	assert_int_equal(iotlb_map(h->dev, 0, h->arena, SEG_BYTES, IOTLB_TO_DEVICE, 0, fill), 0);
	assert_int_equal(*fill, B0);
}

/* Everything goes away, consistent, and every region came back exactly once. */
static void h_destroy(struct hfx *h, uint64_t fill)
{
	char why[200] = "";

	assert_int_equal(iotlb_unmap(h->dev, fill, SEG_BYTES, IOTLB_TO_DEVICE, 0), 0);
	if (iotlb__check_mem(h->mem, why, sizeof(why)))
		fail_msg("invariant: %s", why);
	assert_int_equal(iotlb_dev_destroy(h->dev), 0);
	assert_int_equal(iotlb_mem_destroy(h->mem), 0);
	h->mem = NULL;
	assert_int_equal(h->hp.bad_frees, 0);
	assert_int_equal(hp_live(&h->hp), 0);
	for (unsigned i = 0; i < h->hp.nr; i++) {
		assert_int_equal(h->hp.r[i].frees, 1);
		if (h->hp.r[i].map)
			munmap(h->hp.r[i].map, h->hp.r[i].map_len);
	}
}

static int h_setup(void **state)
{
	struct hfx *h = calloc(1, sizeof(*h));

	if (!h)
		return -1;
	pthread_mutex_init(&h->hp.lock, NULL);
	h->pool = fresh(SEG_BYTES, &h->pool_map, &h->pool_map_len);
	h->arena = fresh(4 << 20, &h->arena_map, &h->arena_map_len);
	*state = h;
	return 0;
}

static int h_teardown(void **state)
{
	struct hfx *h = *state;

	/* A failed test may leave its mem: its regions stay mapped (leaked on
	 * purpose, so that nothing the library still holds is unmapped). */
	munmap(h->arena_map, h->arena_map_len);
	if (!h->mem)
		munmap(h->pool_map, h->pool_map_len);
	pthread_mutex_destroy(&h->hp.lock);
	free(h);
	return 0;
}

/* The worker made its one attempt and refused it (with `failures` counted
 * in all, transient refusals included). */
static unsigned want_failures;

static bool worker_attempt_refused(struct hfx *h)
{
	struct iotlb_stats s = stats(h);

	return s.grow_attempts == 1 && s.grow_failures == want_failures;
}

/* --------------------------------------------------- the growth worker */

static void test_growth_regions_that_lie_are_refused_and_handed_back(void **state)
{
	struct hfx *h = *state;
	const enum lie lies[] = {CPU_OVERLAP, DMA_OVERLAP, DMA_WRAP, VA_MISALIGNED, DMA_MISALIGNED};

	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		uint64_t fill, dma = DMA_SENTINEL;
		struct iotlb_stats s;

		print_message("worker region: %s\n", lie_names[lies[i]]);
		h_create(h, lies[i], HONEST, &fill);
		/* Full: growth is asked for, this map is served by a transient pool. */
		assert_int_equal(iotlb_map(h->dev, 0, h->arena, 4096, IOTLB_TO_DEVICE, 0, &dma), 0);
		want_failures = 1;
		assert_true(wait_for(worker_attempt_refused, h));
		s = stats(h);
		assert_int_equal(s.npools, 1);
		assert_int_equal(s.nslots, 128);
		/* The refused region is back with the provider already. */
		assert_int_equal(hp_live(&h->hp), 1); /* the transient region only */
		/* Live handles still work: the transient one and the full pool's. */
		assert_int_equal(iotlb_unmap(h->dev, dma, 4096, IOTLB_TO_DEVICE, 0), 0);
		h_destroy(h, fill);
	}
}

/* --------------------------------------------------- transient pools */

static void test_transient_regions_that_lie_are_refused_and_map_fails_nospace(void **state)
{
	struct hfx *h = *state;
	const enum lie lies[] = {CPU_OVERLAP, DMA_OVERLAP, DMA_WRAP, VA_MISALIGNED, DMA_MISALIGNED};
	unsigned char *pool_before = malloc(SEG_BYTES);

	assert_non_null(pool_before);
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		uint64_t fill, dma = DMA_SENTINEL;
		struct iotlb_stats before, s;

		print_message("transient region: %s\n", lie_names[lies[i]]);
		h_create(h, REFUSE, lies[i], &fill);
		memcpy(pool_before, h->pool, SEG_BYTES);
		before = stats(h);
		memset(h->arena + 0x100000, 0x42, 4096);
		assert_int_equal(
			iotlb_map(h->dev, 0, h->arena + 0x100000, 4096, IOTLB_TO_DEVICE, 0, &dma),
			-ENOSPC);
		assert_int_equal(dma, DMA_SENTINEL);
		/* The worker's refusal and the refused transient region. */
		want_failures = 2;
		assert_true(wait_for(worker_attempt_refused, h));
		s = stats(h);
		assert_int_equal(s.npools, 1);
		assert_int_equal(s.transient_pools, 0);
		assert_int_equal(s.transient_nslots, 0);
		assert_int_equal(s.used, before.used);
		assert_int_equal(s.maps, before.maps);
		assert_int_equal(s.map_fail_nospace, before.map_fail_nospace + 1);
		assert_int_equal(hp_live(&h->hp), 0);
		/* The lie did not reach the initial pool's bytes. */
		assert_memory_equal(h->pool, pool_before, SEG_BYTES);
		h_destroy(h, fill);
	}
	free(pool_before);
}

static bool no_transient_left(struct hfx *h)
{
	return stats(h).transient_nslots == 0 && hp_live(&h->hp) == 0;
}

static void test_transient_region_overlapping_a_live_transient_pool_is_refused(void **state)
{
	struct hfx *h = *state;
	unsigned char *a = h->arena + 0x100000, *b = h->arena + 0x200000, *back;
	uint64_t fill, da, db = DMA_SENTINEL;

	h_create(h, REFUSE, HONEST, &fill);
	memset(a, 0xAA, 4096);
	assert_int_equal(iotlb_map(h->dev, 0, a, 4096, IOTLB_BIDIRECTIONAL, 0, &da), 0);
	h->hp.transient_lie = REPEAT_TRANSIENT;
	memset(b, 0xBB, 4096);
	assert_int_equal(iotlb_map(h->dev, 0, b, 4096, IOTLB_TO_DEVICE, 0, &db), -ENOSPC);
	assert_int_equal(db, DMA_SENTINEL);
	/* A's bounce still holds A's bytes; the device's answer reaches A. */
	back = iotlb_dma_to_virt(h->dev, da);
	for (size_t k = 0; k < 4096; k++)
		assert_int_equal(back[k], 0xAA);
	memset(back, 0xA5, 4096);
	assert_int_equal(iotlb_unmap(h->dev, da, 4096, IOTLB_FROM_DEVICE, 0), 0);
	for (size_t k = 0; k < 4096; k++)
		assert_int_equal(a[k], 0xA5);
	assert_true(wait_for(no_transient_left, h));
	h_destroy(h, fill);
}

/* ------------------------------------------- defect 6: transient sizes */

static void test_transient_pool_asks_exactly_the_slots_of_an_unaligned_request(void **state)
{
	struct hfx *h = *state;
	const size_t sizes[] = {SEG_BYTES, 4096, 100, 3 * SLOT};
	const size_t want[] = {SEG_BYTES, 4096, SLOT, 3 * SLOT};
	uint64_t fill;

	h_create(h, REFUSE, HONEST, &fill);
	for (unsigned i = 0; i < 4; i++) {
		uint64_t dma;

		assert_int_equal(iotlb_map(h->dev, 0, h->arena, sizes[i], IOTLB_TO_DEVICE, 0, &dma),
				 0);
		assert_int_equal(h->hp.transient_sizes[i], want[i]);
		assert_int_equal(iotlb_unmap(h->dev, dma, sizes[i], IOTLB_TO_DEVICE, 0), 0);
	}
	assert_int_equal(h->hp.transient_calls, 4);
	assert_true(wait_for(no_transient_left, h));
	h_destroy(h, fill);
}

/*
 * White box: the slack iotlb__transient_slack asks for is enough for every
 * page-aligned region start (the request always fits) and no more than the
 * worst start needs (nothing asked for in vain), over a matrix of masks,
 * sizes and original addresses.
 */
static void test_transient_slack_is_enough_and_tight_for_every_region_start(void **state)
{
	const struct iotlb_mem_params p = {11, SLOT, 128, 1024, PAGE};
	const uint64_t mins[] = {0, 0x7ff, 0xfff, 0x3fff};
	const uint64_t aligns[] = {0, 0xfff, 0x7fff};
	const uint64_t bounds[] = {UINT64_MAX, 0xffff, 0x3ffff, 0x1fff};
	const uint64_t sizes[] = {1, 2048, 4096, 6000, 65536, 200000, 262144};
	const uint64_t origs[] = {0x10000, 0x10800, 0x11a00, 0x13f00};
	unsigned cases = 0, nowhere = 0, padded = 0;

	(void)state;
	for (unsigned mi = 0; mi < 4; mi++)
		for (unsigned ai = 0; ai < 3; ai++)
			for (unsigned bi = 0; bi < 4; bi++)
				for (unsigned si = 0; si < 7; si++)
					for (unsigned oi = 0; oi < 5; oi++) {
						uint64_t min = mins[mi], align = aligns[ai],
							 bound = bounds[bi];
						bool coherent = oi == 4;
						uint64_t o = coherent ? 0 : origs[oi], off,
							 worst = 0, slack;
						struct iotlb__req req = {.seg_boundary_mask = bound,
									 .min_align_mask = min};
						struct iotlb__search srch;

						if (bound < min || bound < align)
							continue; /* refused by iotlb_dev_create */
						if (coherent) {
							uint64_t span = PAGE;

							while (span < sizes[si])
								span <<= 1;
							req.alloc_size = sizes[si];
							req.alloc_align_mask = span - 1;
							req.coherent = true;
						} else {
							off = o & min & (align | (SLOT - 1));
							req.orig = o;
							req.alloc_align_mask = align;
							req.alloc_size =
								(sizes[si] + off + align) & ~align;
						}
						if (req.alloc_size > SEG_BYTES)
							continue; /* -E2BIG before any pool is asked
								   */
						cases++;
						iotlb__search_prepare(&p, &req, &srch);
						slack = iotlb__transient_slack(&p, &srch);
						for (uint64_t d = 0x40000000;
						     d < 0x40000000 + (1u << 20); d += PAGE) {
							uint64_t k;

							for (k = 0; k < 1024; k++)
								if (iotlb__search_fits_at(
									    &p, &srch,
									    d + k * SLOT))
									break;
							if (slack == UINT64_MAX) {
								if (k < 1024)
									fail_msg(
										"fits at %#llx but "
										"slack says "
										"nowhere",
										(unsigned long long)(d +
												     k * SLOT));
								continue;
							}
							if (k > slack)
								fail_msg("min %#llx align %#llx "
									 "bound %#llx size %llu "
									 "orig %#llx: "
									 "region at %#llx needs "
									 "%llu slots of slack, "
									 "asked %llu",
									 (unsigned long long)min,
									 (unsigned long long)align,
									 (unsigned long long)bound,
									 (unsigned long long)
										 sizes[si],
									 (unsigned long long)o,
									 (unsigned long long)d,
									 (unsigned long long)k,
									 (unsigned long long)slack);
							if (k > worst)
								worst = k;
						}
						if (slack == UINT64_MAX)
							nowhere++;
						else
							padded += slack > 0;
						if (slack != UINT64_MAX && worst != slack)
							fail_msg(
								"min %#llx align %#llx bound %#llx "
								"size %llu orig %#llx: slack %llu, "
								"but no region start needs more "
								"than %llu",
								(unsigned long long)min,
								(unsigned long long)align,
								(unsigned long long)bound,
								(unsigned long long)sizes[si],
								(unsigned long long)o,
								(unsigned long long)slack,
								(unsigned long long)worst);
					}
	print_message("%u requests checked: %u need slack, %u fit nowhere\n", cases, padded,
		      nowhere);
	assert_true(cases > 300 && padded > 100 && nowhere > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define H_TEST(fn) cmocka_unit_test_setup_teardown(fn, h_setup, h_teardown)
		H_TEST(test_growth_regions_that_lie_are_refused_and_handed_back),
		H_TEST(test_transient_regions_that_lie_are_refused_and_map_fails_nospace),
		H_TEST(test_transient_region_overlapping_a_live_transient_pool_is_refused),
		H_TEST(test_transient_pool_asks_exactly_the_slots_of_an_unaligned_request),
		cmocka_unit_test(test_transient_slack_is_enough_and_tight_for_every_region_start),
	};

	return cmocka_run_group_tests_name("hostile region provider (issue 15)", tests, NULL, NULL);
}
