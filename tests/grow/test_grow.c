/* SPDX-License-Identifier: MIT */
/*
 * The growable allocator (ALGORITHM.md 7, API.md "Precise rules"): search
 * order across pools, transient pools and their return after a grace period,
 * background growth, provider failures, iotlb_mem_add_pool, and that destroy
 * hands every provider region back exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "internal.h"
#include "provider.h"

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
	void *map[MAX_MAPS];
	size_t map_len[MAX_MAPS];
	unsigned nmap;
	unsigned char *arena;
};

/* ------------------------------------------------------------ helpers */

/* `len` bytes of fresh memory aligned to 64 KiB, unmapped at teardown. */
static unsigned char *g_mem(struct gfx *g, size_t len)
{
	size_t total = len + 0x10000;
	void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	assert_true(g->nmap < MAX_MAPS);
	g->map[g->nmap] = p;
	g->map_len[g->nmap++] = total;
	return (unsigned char *)(((uintptr_t)p + 0xffff) & ~(uintptr_t)0xffff);
}

static void pattern(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 131u + seed * 7u + (i >> 8)) & 0xff);
}

static unsigned char *orig_at(const struct gfx *g, size_t off)
{
	assert_true(off < ARENA_LEN);
	return g->arena + off;
}

/* Config of a mem of `nslots` slots at B0, mutex locks, the test provider. */
static void g_prepare(struct gfx *g, uint64_t nslots, unsigned nareas, bool grow)
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

static struct iotlb_dev *g_dev(struct gfx *g, uint64_t min_align, uint64_t alloc_align,
			       uint64_t seg_boundary)
{
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_dev *d = NULL;

	dc.min_align_mask = min_align;
	dc.alloc_align_mask = alloc_align;
	dc.seg_boundary_mask = seg_boundary;
	assert_int_equal(iotlb_dev_create(g->mem, &dc, &d), 0);
	assert_true(g->ndevs < MAX_DEVS);
	g->devs[g->ndevs++] = d;
	return d;
}

static void g_create(struct gfx *g)
{
	assert_int_equal(iotlb_mem_create(&g->cfg, &g->mem), 0);
	g->dev = g_dev(g, 0, 0, 0);
}

static struct iotlb_stats g_stats(struct gfx *g)
{
	struct iotlb_stats s = IOTLB_STATS_INIT;

	assert_int_equal(iotlb_mem_stats(g->mem, &s), 0);
	return s;
}

static uint64_t g_map(struct gfx *g, struct iotlb_dev *d, int queue, void *orig, size_t size,
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

static void g_unmap(struct iotlb_dev *d, uint64_t dma, size_t size, enum iotlb_dir dir)
{
	assert_int_equal(iotlb_unmap(d, dma, size, dir, 0), 0);
}

/* Fills a fresh one-area mem of `nslots` (a multiple of 128) with whole-segment maps. */
static void g_fill(struct gfx *g, uint64_t nslots, uint64_t *dmas)
{
	for (uint64_t i = 0; i < nslots / 128; i++) {
		dmas[i] = g_map(g, g->dev, 0, orig_at(g, 0), SEG_BYTES, IOTLB_TO_DEVICE);
		/* One area, cursor wraps to 0 after each full segment: segment i. */
		assert_int_equal(dmas[i], B0 + i * SEG_BYTES);
	}
}

static bool stat_is(struct gfx *g, size_t field_off, uint64_t want)
{
	struct iotlb_stats s = g_stats(g);
	uint64_t v;

	memcpy(&v, (char *)&s + field_off, sizeof(v));
	return v == want;
}

#define STAT_BECOMES(g, field, want) \
	TP_WAIT_FOR(stat_is((g), offsetof(struct iotlb_stats, field), (want)))

/* Waits for the growth worker to have finished `n` attempts and published them. */
static void wait_grow_attempts(struct gfx *g, uint64_t n)
{
	if (!STAT_BECOMES(g, grow_attempts, n))
		fail_msg("grow_attempts never reached %llu", (unsigned long long)n);
}

/* The worker has no request pending (it clears the flag after its attempt). */
static bool grow_idle(struct gfx *g)
{
	bool req;

	pthread_mutex_lock(&g->mem->grow_lock);
	req = g->mem->grow_requested;
	pthread_mutex_unlock(&g->mem->grow_lock);
	return !req;
}

/* Waits until `npools` pools are published and the worker is idle again,
 * so that the next request is not folded into the one just served. */
static void wait_grown(struct gfx *g, uint64_t npools)
{
	if (!TP_WAIT_FOR(g_stats(g).npools == npools && grow_idle(g)))
		fail_msg("npools never reached %llu with the worker idle",
			 (unsigned long long)npools);
}

/* Was growth ever requested? (White box: the worker clears the flag only
 * after counting an attempt, so "not requested, no attempt" means never.) */
static bool growth_requested(struct gfx *g)
{
	bool req;

	pthread_mutex_lock(&g->mem->grow_lock);
	req = g->mem->grow_requested;
	pthread_mutex_unlock(&g->mem->grow_lock);
	return req || g_stats(g).grow_attempts != 0;
}

/* ------------------------------------------------------------ fixture */

static int g_setup(void **state)
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
 * every region returned exactly once (API.md: destroy gives everything back).
 */
static int g_teardown(void **state)
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
		munmap(g->map[i], g->map_len[i]);
	free(g);
	return ret;
}

#define G_TEST(fn) cmocka_unit_test_setup_teardown(fn, g_setup, g_teardown)

/* ------------------------------------------------- search order (7) */

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
	static const uint64_t base[3] = { P0_DMA, P1_DMA, P2_DMA };
	static const uint64_t len[3] = { 512 * SLOT, 256 * SLOT, 128 * SLOT };

	for (int p = 0; p < 3; p++)
		if (dma >= base[p] && dma < base[p] + len[p])
			return (struct where){ p, (int)((dma - base[p]) / AREA_BYTES) };
	return (struct where){ -1, -1 };
}

/*
 * Three pools, created P0 (512 slots), P1 (256), P2 (128), with nareas = 4
 * requested: P0 gets 4 areas, P1 2 (256 / 128), P2 1 (ALGORITHM.md 3). The
 * list is newest first: P2, P1, P0; max_nareas = 4. Each map below takes a
 * whole 128-slot area, so an area is either empty or full, and the area-major
 * rule of ALGORITHM.md 7 gives, for hint h, the order
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
	uint64_t dma[14] = { 0 }, x = DMA_SENTINEL;
	static const struct {
		int hint, pool, area;
		int unmap_before[2]; /* steps (1-based) unmapped before this one, 0 = none */
	} steps[] = {
		/* 1: k=0, P2 a0 is free */
		{ 5, 2, 0, { 0, 0 } },
		/* 2: k=0: P2 a0 full; P1 a(5&1)=1 free */
		{ 5, 1, 1, { 0, 0 } },
		/* 3: k=0: P2 a0, P1 a1 full; P0 a(5&3)=1 free */
		{ 5, 0, 1, { 0, 0 } },
		/* 4: k=0 all full; k=1: P2 has no area 1; P1 a(6&1)=0 free (before P0 a2) */
		{ 5, 1, 0, { 0, 0 } },
		/* 5: k=1: P1 a0 full; P0 a(6&3)=2 free */
		{ 5, 0, 2, { 0, 0 } },
		/* 6: k=0: P2 a0, P1 a(2&1)=0, P0 a(2&3)=2 full; k=1: P1 a1 full, P0 a3 free */
		{ 2, 0, 3, { 0, 0 } },
		/* 7: k=0 and k=1 as in step 6, all full; k=2: P0 a(4&3)=0 free */
		{ 2, 0, 0, { 0, 0 } },
		/* now every area is full; free P1 a0 (step 4) and P0 a1 (step 3) */
		/* 8: k=0: P2 a0 full, P1 a(1&1)=1 full, P0 a(1&3)=1 free -- P0's first
		 *    choice comes before P1's second choice (pool-major would give P1 a0) */
		{ 1, 0, 1, { 4, 3 } },
		/* 9: k=0 all full; k=1: P1 a(2&1)=0 free */
		{ 1, 1, 0, { 0, 0 } },
		/* free P2 a0 (step 1) and P0 a3 (step 6) */
		/* 10: k=0: P2 a0 free */
		{ 7, 2, 0, { 1, 6 } },
		/* 11: k=0: P2 a0 full, P1 a(7&1)=1 full, P0 a(7&3)=3 free */
		{ 7, 0, 3, { 0, 0 } },
		/* free P0 a0 (step 7) and P1 a1 (step 2) */
		/* 12: k=0: P2 a0, P1 a(6&1)=0, P0 a(6&3)=2 full; k=1: P1 a(7&1)=1 free */
		{ 6, 1, 1, { 7, 2 } },
		/* 13: k=1: P1 a1 full, P0 a(7&3)=3 full; k=2: P0 a(8&3)=0 free */
		{ 6, 0, 0, { 0, 0 } },
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
		assert_int_equal((dma[i] - (w.pool == 0 ? P0_DMA : w.pool == 1 ? P1_DMA : P2_DMA)) %
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
	/* 4096 >= page_size and no masks: page aligned (ALGORITHM.md 4 step 4). */
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
	assert_int_equal(iotlb_map(pd, 0, orig, SEG_BYTES, IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN,
				   &dma),
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
	 * the initial size (API.md). */
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
	/* Naturally aligned to 8 KiB (ALGORITHM.md 5.4) and zeroed, although
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
	assert_int_equal(iotlb_map(g->dev, 0, orig_at(g, 0), 4096, IOTLB_TO_DEVICE,
				   IOTLB_ATTR_NO_WARN, &dma),
			 -ENOSPC);
	assert_int_equal(dma, DMA_SENTINEL);
	wait_grow_attempts(g, 1);
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
		 * the library's own allocation failed, so -ENOMEM (API.md errors) */
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
 * growth, no transient pool, the provider never called (ALGORITHM.md 5.1, 7).
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
	assert_int_equal(iotlb_mem_add_pool(g->mem, r0 + sz + 0x1000, 0x60000000, 0x1000),
			 -EINVAL);
	s = g_stats(g);
	assert_int_equal(s.npools, 3);
	assert_int_equal(s.nslots, 256 + 128 + 128);
}

static void test_added_pools_serve_maps_and_lookups(void **state)
{
	struct gfx *g = *state;
	static const uint64_t dmas[3] = { B0, 0x20000000ull, ABOVE_4G + 0x40000000ull };
	static const uint64_t nslots[3] = { 128, 256, 128 };
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
	static const struct iotlb_region_ops no_free = { .alloc = tp_alloc };
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
		G_TEST(test_search_is_area_major_across_pools_newest_first),
		G_TEST(test_full_mem_maps_from_transient_pool_returned_after_unmap),
		G_TEST(test_transient_pool_places_odd_start_min_align_request),
		G_TEST(test_transient_pool_respects_boundary_and_min_align),
		G_TEST(test_coherent_alloc_on_full_mem_uses_transient_pool),
		G_TEST(test_transient_mapping_syncs_and_refuses_bad_unmap),
		G_TEST(test_growth_adds_a_pool_that_later_maps_use),
		G_TEST(test_provider_failure_is_enospc_and_a_later_map_succeeds),
		G_TEST(test_metadata_failure_during_growth_returns_the_region),
		G_TEST(test_request_that_can_never_fit_is_e2big_without_growth),
		G_TEST(test_add_pool_rejects_overlaps_and_misaligned_regions),
		G_TEST(test_added_pools_serve_maps_and_lookups),
		G_TEST(test_destroy_returns_every_provider_region_exactly_once),
		G_TEST(test_grow_config_needs_a_complete_provider),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
