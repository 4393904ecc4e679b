/* SPDX-License-Identifier: MIT */
/*
 * Fixture of the growable-allocator tests: a mem of a few pools at known
 * device addresses over 64 KiB-aligned memory, the counting region provider
 * (provider.h), an arena of originals with a known pattern, and waits for
 * the growth worker. Used by test_grow_transient.c and test_grow_pools.c.
 */
#ifndef IOTLB_TESTS_GROW_GROW_FX_H
#define IOTLB_TESTS_GROW_GROW_FX_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devices.h"
#include "internal.h"
#include "provider.h"
#include "region.h"

#define SLOT 2048ull
#define SEG_BYTES (128 * SLOT) /* 262144: one segment, the largest mapping */
#define B0 0x10000000ull       /* device address of the initial pool */
#define ABOVE_4G 0x100000000ull
#define ARENA_LEN (4u << 20)
#define ARENA_ALIGN 0x10000ull
#define MAX_MAPS 8
#define MAX_DEVS 4
#define DMA_SENTINEL 0xdeadbeefcafef00dull

struct gfx {
	struct test_provider tp;
	struct iotlb_mem_config cfg;
	struct iotlb_mem *mem;
	struct iotlb_dev *dev;
	struct iotlb_dev *devs[MAX_DEVS];
	unsigned ndevs;
	/* memory the test maps itself: initial and added pools, originals */
	struct test_mapping map[MAX_MAPS];
	unsigned nmap;
	unsigned char *arena;
};

/* ------------------------------------------------------------ helpers */

/* `len` bytes of fresh memory aligned to 64 KiB, unmapped at teardown. */
static inline unsigned char *g_mem(struct gfx *g, size_t len)
{
	void *p;

	assert_true(g->nmap < MAX_MAPS);
	p = test_mmap_aligned(len, 0x10000, false, &g->map[g->nmap]);
	assert_non_null(p);
	g->nmap++;
	return p;
}

static inline void pattern(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 131u + seed * 7u + (i >> 8)) & 0xff);
}

static inline unsigned char *orig_at(const struct gfx *g, size_t off)
{
	assert_true(off < ARENA_LEN);
	return g->arena + off;
}

/* Config of a mem of `nslots` slots at B0, mutex locks, the test provider. */
static inline void g_prepare(struct gfx *g, uint64_t nslots, unsigned nareas, bool grow)
{
	struct iotlb_mem_config c = IOTLB_MEM_CONFIG_INIT;

	c.size = (size_t)(nslots * SLOT);
	c.vaddr = g_mem(g, c.size);
	c.dma_addr = B0;
	c.nareas = nareas;
	c.lock = IOTLB_LOCK_MUTEX;
	if (grow) {
		c.flags = IOTLB_MEM_GROW;
		c.region_ops = &tp_ops;
		c.region_ctx = &g->tp;
	}
	g->cfg = c;
}

static inline struct iotlb_dev *g_dev(struct gfx *g, uint64_t min_align, uint64_t alloc_align,
				      uint64_t seg_boundary)
{
	struct iotlb_dev *d = NULL;

	assert_int_equal(test_dev_create(g->mem, min_align, alloc_align, seg_boundary, &d), 0);
	assert_true(g->ndevs < MAX_DEVS);
	g->devs[g->ndevs++] = d;
	return d;
}

static inline void g_create(struct gfx *g)
{
	assert_int_equal(iotlb_mem_create(&g->cfg, &g->mem), 0);
	g->dev = g_dev(g, 0, 0, 0);
}

static inline struct iotlb_stats g_stats(struct gfx *g)
{
	struct iotlb_stats s = IOTLB_STATS_INIT;

	assert_int_equal(iotlb_mem_stats(g->mem, &s), 0);
	return s;
}

static inline uint64_t g_map(struct gfx *g, struct iotlb_dev *d, int queue, void *orig, size_t size,
			     enum iotlb_dir dir)
{
	uint64_t dma = DMA_SENTINEL;
	int err = iotlb_map(d, queue, orig, size, dir, 0, &dma);

	(void)g;
	if (err)
		fail_msg("map of %zu bytes (queue %d): %s", size, queue, iotlb_strerror(err));
	assert_true(dma != DMA_SENTINEL);
	return dma;
}

static inline void g_unmap(struct iotlb_dev *d, uint64_t dma, size_t size, enum iotlb_dir dir)
{
	assert_int_equal(iotlb_unmap(d, dma, size, dir, 0), 0);
}

/* Fills a fresh one-area mem of `nslots` (a multiple of 128) with whole-segment maps. */
static inline void g_fill(struct gfx *g, uint64_t nslots, uint64_t *dmas)
{
	for (uint64_t i = 0; i < nslots / 128; i++) {
		dmas[i] = g_map(g, g->dev, 0, orig_at(g, 0), SEG_BYTES, IOTLB_TO_DEVICE);
		/* One area, cursor wraps to 0 after each full segment: segment i. */
		assert_int_equal(dmas[i], B0 + i * SEG_BYTES);
	}
}

static inline bool stat_is(struct gfx *g, size_t field_off, uint64_t want)
{
	struct iotlb_stats s = g_stats(g);
	uint64_t v;

	memcpy(&v, (char *)&s + field_off, sizeof(v));
	return v == want;
}

#define STAT_BECOMES(g, field, want) \
	TP_WAIT_FOR(stat_is((g), offsetof(struct iotlb_stats, field), (want)))

/* Waits for the growth worker to have finished `n` attempts and published them. */
static inline void wait_grow_attempts(struct gfx *g, uint64_t n)
{
	if (!STAT_BECOMES(g, grow_attempts, n))
		fail_msg("grow_attempts never reached %llu", (unsigned long long)n);
}

/*
 * A map the full mem refuses: -ENOSPC with *dma untouched, after which the
 * growth worker it woke makes one attempt (whose outcome the caller checks).
 */
static inline void g_map_fails_and_asks_growth(struct gfx *g, struct iotlb_dev *d, size_t size)
{
	uint64_t dma = DMA_SENTINEL;

	assert_int_equal(
		iotlb_map(d, 0, orig_at(g, 0), size, IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN, &dma),
		-ENOSPC);
	assert_int_equal(dma, DMA_SENTINEL);
	wait_grow_attempts(g, 1);
}

/* The worker has no request pending (it clears the flag after its attempt). */
static inline bool grow_idle(struct gfx *g)
{
	bool req;

	pthread_mutex_lock(&g->mem->grow_lock);
	req = g->mem->grow_requested;
	pthread_mutex_unlock(&g->mem->grow_lock);
	return !req;
}

/* Waits until `npools` pools are published and the worker is idle again,
 * so that the next request is not folded into the one just served. */
static inline void wait_grown(struct gfx *g, uint64_t npools)
{
	if (!TP_WAIT_FOR(g_stats(g).npools == npools && grow_idle(g)))
		fail_msg("npools never reached %llu with the worker idle",
			 (unsigned long long)npools);
}

/* Was growth ever requested? (White box: the worker clears the flag only
 * after counting an attempt, so "not requested, no attempt" means never.) */
static inline bool growth_requested(struct gfx *g)
{
	bool req;

	pthread_mutex_lock(&g->mem->grow_lock);
	req = g->mem->grow_requested;
	pthread_mutex_unlock(&g->mem->grow_lock);
	return req || g_stats(g).grow_attempts != 0;
}

/* ------------------------------------------------------------ fixture */

static inline int g_setup(void **state)
{
	struct gfx *g = calloc(1, sizeof(*g));

	if (!g)
		return -1;
	tp_init(&g->tp, ABOVE_4G);
	g->arena = g_mem(g, ARENA_LEN);
	pattern(g->arena, ARENA_LEN, 1);
	*state = g;
	return 0;
}

/*
 * Every test ends consistent, destroys cleanly, and leaves the provider with
 * every region returned exactly once (iotlb_mem_destroy gives everything back).
 */
static inline int g_teardown(void **state)
{
	struct gfx *g = *state;
	char why[256] = "";
	int ret = 0;

	iotlb__fault_inject(0);
	if (g->mem) {
		int err;

		/* The growth worker may still be publishing a pool: the checker
		 * needs the list held still. */
		pthread_mutex_lock(&g->mem->writer_lock);
		err = iotlb__check_mem(g->mem, why, sizeof(why));
		pthread_mutex_unlock(&g->mem->writer_lock);
		if (err) {
			print_error("invariant check failed at teardown: %s\n", why);
			ret = -1;
		}
		while (g->ndevs)
			if (iotlb_dev_destroy(g->devs[--g->ndevs])) {
				print_error("device not destroyable at teardown\n");
				ret = -1;
			}
		if (ret == 0 && iotlb_mem_destroy(g->mem)) {
			print_error("mem not destroyable at teardown\n");
			ret = -1;
		}
		if (ret == 0 && tp_all_returned_once(&g->tp, why, sizeof(why))) {
			print_error("provider after destroy: %s\n", why);
			ret = -1;
		}
	}
	tp_fini(&g->tp);
	for (unsigned i = 0; i < g->nmap; i++)
		test_munmap(&g->map[i]);
	free(g);
	return ret;
}

#define G_TEST(fn) cmocka_unit_test_setup_teardown(fn, g_setup, g_teardown)

#endif /* IOTLB_TESTS_GROW_GROW_FX_H */
