/* SPDX-License-Identifier: MIT */
/*
 * IO TLB blocks and per-device child pools (ALGORITHM.md 6, API.md "Precise
 * rules"): where private pools are carved, that the shared pool gets every
 * free-run counter and cursor back, how queues pick children, the errors, and
 * which statistics and address queries see a private pool.
 */
#include <limits.h>

#include "devfx.h"

#define SEG 128u
#define BLK 256u /* small blocks (2 segments, 512 KiB) keep the pools small */
#define BB ((size_t)BLK * DF_SLOT)
#define BIG_BLK 1024u /* the default block size */
#define BIG_BB ((size_t)BIG_BLK * DF_SLOT)
#define SEG_BYTES ((size_t)SEG * DF_SLOT)

#define ARENA_LEN (1u << 20)

/* Originals: one arena with a known pattern, 64 KiB aligned. */
static unsigned char *arena;
static void *arena_map;
static size_t arena_map_len;

static int group_setup(void **state)
{
	(void)state;
	arena = df_mmap(ARENA_LEN, 0x10000, &arena_map, &arena_map_len);
	df_pattern(arena, ARENA_LEN, 1);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	munmap(arena_map, arena_map_len);
	return 0;
}

static uint64_t map_ok(struct iotlb_dev *d, int queue, const void *orig, size_t size,
		       enum iotlb_dir dir)
{
	uint64_t dma = 0;
	int rc = iotlb_map(d, queue, (void *)orig, size, dir, 0, &dma);

	if (rc != 0)
		fail_msg("iotlb_map(queue %d, %zu bytes) = %d (%s)", queue, size, rc,
			 iotlb_strerror(rc));
	return dma;
}

static void unmap_ok(struct iotlb_dev *d, uint64_t dma, size_t size, enum iotlb_dir dir)
{
	int rc = iotlb_unmap(d, dma, size, dir, 0);

	if (rc != 0)
		fail_msg("iotlb_unmap(0x%llx, %zu) = %d (%s)", (unsigned long long)dma, size, rc,
			 iotlb_strerror(rc));
}

static void destroy_ok(struct iotlb_dev *d)
{
	int rc = iotlb_dev_destroy(d);

	if (rc != 0)
		fail_msg("iotlb_dev_destroy = %d (%s)", rc, iotlb_strerror(rc));
}

static void expect_at(const struct df *f, const struct iotlb_dev *d, unsigned pool, uint64_t block,
		      uint64_t nblocks)
{
	struct df_where w = df_where(f, d);

	if (w.pool != pool || w.block != block || w.nblocks != nblocks)
		fail_msg("private pool carved at pool %u block %llu (%llu blocks), "
			 "expected pool %u block %llu (%llu blocks)",
			 w.pool, (unsigned long long)w.block, (unsigned long long)w.nblocks, pool,
			 (unsigned long long)block, (unsigned long long)nblocks);
}

/* A create that must fail with `err`, leaving the out-parameter alone. */
static void expect_create_fails(struct iotlb_mem *mem, size_t private_size, unsigned nqueues,
				int err)
{
	struct iotlb_dev *d = (struct iotlb_dev *)(uintptr_t)0x5a5a5a5a;
	int rc = df_dev_try(mem, private_size, nqueues, &d);

	if (rc != err)
		fail_msg("iotlb_dev_create(private_size %zu) = %d (%s), expected %d (%s)",
			 private_size, rc, iotlb_strerror(rc), err, iotlb_strerror(err));
	assert_ptr_equal(d, (struct iotlb_dev *)(uintptr_t)0x5a5a5a5a);
}

static void expect_all_fresh(const struct df *f)
{
	for (unsigned i = 0; i < f->npools; i++) {
		const struct iotlb__pool *p = df_shared_pool(f, i);

		df_assert_list_fresh(p, f->seg);
		for (unsigned a = 0; a < p->nareas; a++)
			assert_int_equal(iotlb__area_at(p, a)->used, 0);
	}
	assert_int_equal(df_mem_stats(f->mem).used, 0);
}

/* ------------------------------------------------------------ placement */

static void test_carving_is_first_fit_from_the_lowest_block(void **state)
{
	struct iotlb_dev *a, *b, *c, *d, *e, *g, *h;
	struct df f;
	uint64_t base;

	(void)state;
	df_create(&f, 8 * BLK, SEG, BLK, 1);
	base = f.pool[0].dma;

	a = df_dev(f.mem, BB, 1);
	expect_at(&f, a, 0, 0, 1);
	b = df_dev(f.mem, 2 * BB, 1);
	expect_at(&f, b, 0, 1, 2);
	c = df_dev(f.mem, BB, 1);
	expect_at(&f, c, 0, 3, 1);
	df_check_mem(f.mem, "three devices");

	/* A hole of two blocks in the middle: the next 1-block device takes
	 * its lower half, a 2-block one no longer fits there. */
	destroy_ok(b);
	df_check_mem(f.mem, "middle device destroyed");
	d = df_dev(f.mem, BB, 1);
	expect_at(&f, d, 0, 1, 1);
	e = df_dev(f.mem, 2 * BB, 1);
	expect_at(&f, e, 0, 4, 2);
	/* Sizes round up to whole blocks. */
	g = df_dev(f.mem, 1, 1);
	expect_at(&f, g, 0, 2, 1);
	h = df_dev(f.mem, BB + 1, 1);
	expect_at(&f, h, 0, 6, 2);
	df_check_mem(f.mem, "pool fully carved");
	expect_create_fails(f.mem, 1, 1, -ENOSPC);

	/* The same placement through the public queries. */
	assert_true(iotlb_is_bounce(d, base + BB));
	assert_true(iotlb_is_bounce(d, base + 2 * BB - 1));
	assert_false(iotlb_is_bounce(d, base + BB - 1));
	assert_false(iotlb_is_bounce(d, base + 2 * BB));

	destroy_ok(a);
	destroy_ok(c);
	destroy_ok(d);
	df_check_mem(f.mem, "some destroyed");
	destroy_ok(e);
	destroy_ok(g);
	destroy_ok(h);
	df_check_mem(f.mem, "all destroyed");
	expect_all_fresh(&f);
	df_destroy(&f);
}

static void test_carving_takes_the_oldest_pool_first(void **state)
{
	struct iotlb_dev *a, *b, *c, *d, *e, *g, *x;
	struct df f;

	(void)state;
	df_create(&f, 4 * BLK, SEG, BLK, 1);
	df_add_pool(&f, 8 * BLK); /* newer, first in the pool list */

	a = df_dev(f.mem, 2 * BB, 1);
	expect_at(&f, a, 0, 0, 2);
	b = df_dev(f.mem, 3 * BB, 1); /* two blocks left in the old pool */
	expect_at(&f, b, 1, 0, 3);
	c = df_dev(f.mem, 2 * BB, 1);
	expect_at(&f, c, 0, 2, 2);
	d = df_dev(f.mem, BB, 1);
	expect_at(&f, d, 1, 3, 1);
	df_check_mem(f.mem, "carved from both pools");

	destroy_ok(a);
	e = df_dev(f.mem, BB, 1); /* the old pool's hole wins over the new pool */
	expect_at(&f, e, 0, 0, 1);
	/* Four blocks remain free in the new pool, one in the old. */
	expect_create_fails(f.mem, 5 * BB, 1, -ENOSPC);
	g = df_dev(f.mem, 4 * BB, 1);
	expect_at(&f, g, 1, 4, 4);
	x = df_dev(f.mem, BB, 1);
	expect_at(&f, x, 0, 1, 1);
	expect_create_fails(f.mem, BB, 1, -ENOSPC);

	/* A pool smaller than a block never holds a private pool. */
	df_add_pool(&f, BLK / 2);
	expect_create_fails(f.mem, BB, 1, -ENOSPC);
	df_check_mem(f.mem, "everything carved");

	destroy_ok(b);
	destroy_ok(c);
	destroy_ok(d);
	destroy_ok(e);
	destroy_ok(g);
	destroy_ok(x);
	df_check_mem(f.mem, "all destroyed");
	expect_all_fresh(&f);
	df_destroy(&f);
}

/* -------------------------------------------------------------- restore */

#define CYC_BLOCKS 12u
#define CYC_MAXDEV 6u

struct cyc_dev {
	struct iotlb_dev *dev;
	uint64_t first, nblocks; /* in blocks */
};

/* Lowest run of `n` free blocks, or -1 (API.md: first fit, lowest address). */
static int64_t model_first_fit(const bool *taken, unsigned nblocks, unsigned n)
{
	for (unsigned b = 0; b + n <= nblocks; b++) {
		unsigned k = 0;

		while (k < n && !taken[b + k])
			k++;
		if (k == n)
			return b;
	}
	return -1;
}

/* A short map/unmap burst on a private device, inside its range only. */
static void private_burst(const struct df *f, struct iotlb_dev *d, uint64_t *seed)
{
	struct df_where w = df_where(f, d);
	uint64_t dma[4];
	size_t size[4];
	unsigned n = 1 + (unsigned)(df_rnd(seed) % 4), i;

	for (i = 0; i < n; i++) {
		size_t off = (size_t)(df_rnd(seed) % (ARENA_LEN / 2));

		size[i] = 1 + (size_t)(df_rnd(seed) % 20000);
		dma[i] = map_ok(d, (int)(df_rnd(seed) % 9) - 1, arena + off, size[i],
				IOTLB_TO_DEVICE);
		if (dma[i] < w.dma || dma[i] + size[i] > w.dma + w.bytes)
			fail_msg("private map at 0x%llx outside [0x%llx, +0x%llx)",
				 (unsigned long long)dma[i], (unsigned long long)w.dma,
				 (unsigned long long)w.bytes);
		assert_memory_equal(iotlb_dma_to_virt(d, dma[i]), arena + off, size[i]);
	}
	df_check_dev(d, "burst maps");
	assert_int_equal(iotlb_dev_destroy(d), -EBUSY);
	for (i = 0; i < n; i++)
		unmap_ok(d, dma[i], size[i], IOTLB_TO_DEVICE);
}

static void test_create_destroy_cycles_give_back_every_counter_and_cursor(void **state)
{
	struct cyc_dev live[CYC_MAXDEV];
	bool taken[CYC_BLOCKS] = {false};
	struct iotlb_dev *shared;
	struct df_snap snap;
	struct iotlb__pool *p;
	uint64_t seed = 0x5eed, sdma[3];
	uint8_t *carved;
	unsigned nlive = 0, creates = 0, nospace = 0, step;
	static const size_t ssize[3] = {3000, 70000, 100};
	static const int squeue[3] = {0, 3, 5};
	struct df f;

	(void)state;
	/* 8 areas of 384 slots: blocks of 256 straddle areas, so carving must
	 * account in two areas at once. */
	df_create(&f, CYC_BLOCKS * BLK, SEG, BLK, 8);
	p = df_shared_pool(&f, 0);
	assert_int_equal(p->nareas, 8);
	carved = calloc(p->nslots, 1);
	assert_non_null(carved);

	/* Shared mappings that stay live: cursors and free runs are not trivial. */
	shared = df_dev(f.mem, 0, 0);
	for (unsigned i = 0; i < 3; i++)
		sdma[i] = map_ok(shared, squeue[i], arena + 4096 * i, ssize[i], IOTLB_TO_DEVICE);
	for (uint64_t s = 0; s < p->nslots; s++)
		if (p->slots[s].kind != IOTLB__SLOT_FREE)
			taken[s / BLK] = true;
	df_snap_take(p, &snap);

	for (step = 0; step < 400; step++) {
		bool create = nlive == 0 || (nlive < CYC_MAXDEV && df_rnd(&seed) % 2);

		if (create) {
			unsigned nb = 1 + (unsigned)(df_rnd(&seed) % 3);
			size_t size = (nb - 1) * BB + 1 + (size_t)(df_rnd(&seed) % BB);
			unsigned nq = (unsigned)(df_rnd(&seed) % 10);
			int64_t want = model_first_fit(taken, CYC_BLOCKS, nb);
			struct iotlb_dev *d = NULL;
			int rc = df_dev_try(f.mem, size, nq, &d);

			if (want < 0) {
				if (rc != -ENOSPC)
					fail_msg("step %u: %u blocks with no room: %d", step, nb,
						 rc);
				nospace++;
			} else {
				if (rc != 0)
					fail_msg("step %u: %u blocks, block %lld free: %d", step,
						 nb, (long long)want, rc);
				expect_at(&f, d, 0, (uint64_t)want, nb);
				live[nlive++] = (struct cyc_dev){d, (uint64_t)want, nb};
				for (unsigned k = 0; k < nb; k++)
					taken[want + k] = true;
				memset(carved + (uint64_t)want * BLK, 1, (size_t)nb * BLK);
				creates++;
			}
		} else {
			unsigned i = (unsigned)(df_rnd(&seed) % nlive);
			struct cyc_dev c = live[i];

			if (df_rnd(&seed) % 2)
				private_burst(&f, c.dev, &seed);
			destroy_ok(c.dev);
			live[i] = live[--nlive];
			for (unsigned k = 0; k < c.nblocks; k++)
				taken[c.first + k] = false;
			memset(carved + c.first * BLK, 0, (size_t)(c.nblocks * BLK));
		}
		df_check_mem(f.mem, create ? "create" : "destroy");
		for (unsigned i = 0; i < nlive; i++)
			df_check_dev(live[i].dev, "cycle step");
		df_snap_expect_mask(&snap, carved);
	}
	/* The walk must have exercised both outcomes. */
	assert_true(creates > 20);
	assert_true(nospace > 0);

	while (nlive)
		destroy_ok(live[--nlive].dev);
	df_check_mem(f.mem, "all destroyed");
	df_snap_expect_mask(&snap, NULL);

	for (unsigned i = 0; i < 3; i++)
		unmap_ok(shared, sdma[i], ssize[i], IOTLB_TO_DEVICE);
	destroy_ok(shared);
	expect_all_fresh(&f);
	df_snap_free(&snap);
	free(carved);
	df_destroy(&f);
}

/* ------------------------------------------------------------- isolation */

struct rec {
	struct iotlb_dev *dev;
	uint64_t dma;
	size_t size;
};

/* Maps on `d` until -ENOSPC (random sizes, then single slots), recording
 * every mapping; each bounce must hold the original bytes. */
static unsigned fill(struct iotlb_dev *d, struct rec *r, unsigned max, uint64_t *seed)
{
	unsigned n = 0;
	bool small = false;

	for (;;) {
		size_t off = (size_t)(df_rnd(seed) % (ARENA_LEN / 2));
		size_t size = small ? 1 : 1 + (size_t)(df_rnd(seed) % 40000);
		uint64_t dma = 0;
		int rc = iotlb_map(d, (int)(df_rnd(seed) % 9) - 1, arena + off, size,
				   IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN, &dma);

		if (rc == -ENOSPC) {
			if (small)
				return n;
			small = true;
			continue;
		}
		assert_int_equal(rc, 0);
		assert_true(n < max);
		assert_memory_equal(iotlb_dma_to_virt(d, dma), arena + off, size);
		r[n++] = (struct rec){d, dma, size};
	}
}

static bool inside(uint64_t dma, size_t size, const struct df_where *w)
{
	return dma >= w->dma && dma + size <= w->dma + w->bytes;
}

static bool overlaps(uint64_t dma, size_t size, const struct df_where *w)
{
	return dma < w->dma + w->bytes && w->dma < dma + size;
}

static void test_private_maps_stay_inside_and_shared_maps_outside(void **state)
{
	struct iotlb_dev *s, *a, *b;
	struct df_where wa, wb;
	struct rec *r;
	uint64_t seed = 42;
	unsigned n = 0, na, nb, ns, i;
	struct df f;

	(void)state;
	df_create(&f, 8 * BLK, SEG, BLK, 2);
	r = calloc(8 * BLK, sizeof(*r));
	assert_non_null(r);
	s = df_dev(f.mem, 0, 0);
	a = df_dev(f.mem, BB, 1);
	b = df_dev(f.mem, 2 * BB, 2);
	wa = df_where(&f, a);
	wb = df_where(&f, b);

	/* A private pool runs full while the shared pool still has room. */
	na = fill(a, r + n, 8 * BLK - n, &seed);
	for (i = 0; i < na; i++)
		if (!inside(r[n + i].dma, r[n + i].size, &wa))
			fail_msg("map of A at 0x%llx outside its pool",
				 (unsigned long long)r[n + i].dma);
	n += na;
	assert_int_equal(df_dev_stats(a).used, BLK);
	assert_true(df_mem_stats(f.mem).used < 8 * BLK);

	nb = fill(b, r + n, 8 * BLK - n, &seed);
	for (i = 0; i < nb; i++)
		if (!inside(r[n + i].dma, r[n + i].size, &wb))
			fail_msg("map of B at 0x%llx outside its pool",
				 (unsigned long long)r[n + i].dma);
	n += nb;
	assert_int_equal(df_dev_stats(b).used, 2 * BLK);

	ns = fill(s, r + n, 8 * BLK - n, &seed);
	for (i = 0; i < ns; i++) {
		const struct rec *x = &r[n + i];

		if (overlaps(x->dma, x->size, &wa) || overlaps(x->dma, x->size, &wb))
			fail_msg("shared map at 0x%llx inside a private pool",
				 (unsigned long long)x->dma);
		assert_true(x->dma >= f.pool[0].dma && x->dma + x->size <= f.pool[0].dma + 8 * BB);
	}
	n += ns;
	/* Every slot is now taken: by a private pool or a shared mapping. */
	assert_int_equal(df_mem_stats(f.mem).used, 8 * BLK);
	df_check_mem(f.mem, "all full");
	df_check_dev(a, "all full");
	df_check_dev(b, "all full");

	for (i = 0; i < n; i++)
		unmap_ok(r[i].dev, r[i].dma, r[i].size, IOTLB_TO_DEVICE);
	df_check_mem(f.mem, "all unmapped");
	assert_int_equal(df_dev_stats(a).used, 0);
	assert_int_equal(df_dev_stats(b).used, 0);
	destroy_ok(a);
	destroy_ok(b);
	destroy_ok(s);
	expect_all_fresh(&f);
	free(r);
	df_destroy(&f);
}

/* --------------------------------------------------------------- errors */

static void test_destroy_is_refused_while_a_mapping_or_allocation_is_live(void **state)
{
	struct iotlb_dev *a;
	struct df_where w;
	struct df_snap snap;
	uint64_t dma, dma2, cdma = 0;
	void *cva = NULL;
	struct df f;

	(void)state;
	df_create(&f, 4 * BLK, SEG, BLK, 1);
	a = df_dev(f.mem, BB, 2);
	w = df_where(&f, a);
	df_snap_take(df_shared_pool(&f, 0), &snap);

	dma = map_ok(a, 0, arena, 3000, IOTLB_TO_DEVICE);
	assert_int_equal(iotlb_dev_destroy(a), -EBUSY);
	assert_int_equal(iotlb_mem_destroy(f.mem), -EBUSY);
	df_check_mem(f.mem, "destroy refused");
	df_check_dev(a, "destroy refused");
	df_snap_expect(&snap, 0, 0);
	expect_at(&f, a, 0, w.block, 1);
	/* The device still works after the refusal. */
	dma2 = map_ok(a, 1, arena + 8192, 5000, IOTLB_TO_DEVICE);
	unmap_ok(a, dma2, 5000, IOTLB_TO_DEVICE);
	unmap_ok(a, dma, 3000, IOTLB_TO_DEVICE);

	assert_int_equal(iotlb_alloc(a, 5000, &cva, &cdma), 0);
	assert_true(cdma >= w.dma && cdma + 5000 <= w.dma + w.bytes);
	assert_int_equal(iotlb_dev_destroy(a), -EBUSY);
	df_check_dev(a, "destroy refused with an allocation");
	df_snap_expect(&snap, 0, 0);
	assert_int_equal(iotlb_free(a, cdma, 5000), 0);

	destroy_ok(a);
	df_check_mem(f.mem, "destroyed");
	expect_all_fresh(&f);
	df_snap_free(&snap);
	df_destroy(&f);
}

static void test_carving_fails_with_enospc_when_every_block_holds_a_shared_mapping(void **state)
{
	/* Where the one mapping kept in each block sits, block-relative. */
	static const unsigned keep_at[8] = {255, 0, 128, 200, 17, 255, 64, 130};
	uint64_t keep[8] = {0};
	struct iotlb_dev *s, *p5, *p23;
	struct df_snap snap;
	struct df f;
	uint64_t base, *dmas;
	unsigned n = 0;

	(void)state;
	df_create(&f, 8 * BLK, SEG, BLK, 1);
	base = f.pool[0].dma;
	s = df_dev(f.mem, 0, 0);
	dmas = calloc(8 * BLK, sizeof(*dmas));
	assert_non_null(dmas);

	/* One-slot mappings fill every slot, then all but one per block go. */
	for (;;) {
		uint64_t dma = 0;
		int rc = iotlb_map(s, 0, arena, 100, IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN, &dma);

		if (rc == -ENOSPC)
			break;
		assert_int_equal(rc, 0);
		assert_true(n < 8 * BLK);
		dmas[n++] = dma;
	}
	assert_int_equal(n, 8 * BLK);
	for (unsigned i = 0; i < n; i++) {
		uint64_t slot = (dmas[i] - base) / DF_SLOT;

		if (slot % BLK == keep_at[slot / BLK])
			keep[slot / BLK] = dmas[i];
		else
			unmap_ok(s, dmas[i], 100, IOTLB_TO_DEVICE);
	}
	for (unsigned b = 0; b < 8; b++)
		assert_true(keep[b] != 0);
	assert_int_equal(df_mem_stats(f.mem).used, 8);
	df_check_mem(f.mem, "one mapping per block");

	df_snap_take(df_shared_pool(&f, 0), &snap);
	expect_create_fails(f.mem, 1, 1, -ENOSPC);
	df_snap_expect(&snap, 0, 0);
	assert_int_equal(df_mem_stats(f.mem).used, 8);
	df_snap_free(&snap);

	unmap_ok(s, keep[5], 100, IOTLB_TO_DEVICE);
	keep[5] = 0;
	p5 = df_dev(f.mem, BB, 1);
	expect_at(&f, p5, 0, 5, 1);
	expect_create_fails(f.mem, BB, 1, -ENOSPC);

	/* Two free blocks that are not neighbours hold no 2-block pool. */
	unmap_ok(s, keep[2], 100, IOTLB_TO_DEVICE);
	keep[2] = 0;
	unmap_ok(s, keep[7], 100, IOTLB_TO_DEVICE);
	keep[7] = 0;
	expect_create_fails(f.mem, 2 * BB, 1, -ENOSPC);
	unmap_ok(s, keep[3], 100, IOTLB_TO_DEVICE);
	keep[3] = 0;
	p23 = df_dev(f.mem, 2 * BB, 1);
	expect_at(&f, p23, 0, 2, 2);
	df_check_mem(f.mem, "carved between shared mappings");

	destroy_ok(p5);
	destroy_ok(p23);
	for (unsigned b = 0; b < 8; b++)
		if (keep[b])
			unmap_ok(s, keep[b], 100, IOTLB_TO_DEVICE);
	destroy_ok(s);
	df_check_mem(f.mem, "all gone");
	expect_all_fresh(&f);
	free(dmas);
	df_destroy(&f);
}

static void test_private_size_larger_than_any_pool_is_e2big(void **state)
{
	struct iotlb_dev *a, *b;
	struct df_snap snap0, snap1;
	struct df f;

	(void)state;
	df_create(&f, 4 * BLK, SEG, BLK, 1);
	df_add_pool(&f, 4 * BLK);
	df_snap_take(df_shared_pool(&f, 0), &snap0);
	df_snap_take(df_shared_pool(&f, 1), &snap1);

	/* Eight blocks in all, but no pool holds five. */
	expect_create_fails(f.mem, 4 * BB + 1, 1, -E2BIG);
	expect_create_fails(f.mem, 5 * BB, 4, -E2BIG);
	expect_create_fails(f.mem, SIZE_MAX, 1, -E2BIG);
	expect_create_fails(f.mem, SIZE_MAX - BB + 2, 1, -E2BIG);
	df_snap_expect(&snap0, 0, 0);
	df_snap_expect(&snap1, 0, 0);
	assert_int_equal(df_mem_stats(f.mem).used, 0);
	df_check_mem(f.mem, "refused");

	a = df_dev(f.mem, 4 * BB, 1);
	expect_at(&f, a, 0, 0, 4);
	b = df_dev(f.mem, 4 * BB, 1);
	expect_at(&f, b, 1, 0, 4);
	/* Both pools could hold it, neither has room: no space, not too big. */
	expect_create_fails(f.mem, 4 * BB, 1, -ENOSPC);
	expect_create_fails(f.mem, 5 * BB, 1, -E2BIG);

	destroy_ok(a);
	destroy_ok(b);
	expect_all_fresh(&f);
	df_snap_free(&snap0);
	df_snap_free(&snap1);
	df_destroy(&f);
}

static void test_carve_failure_in_metadata_allocation_changes_nothing(void **state)
{
	struct iotlb_dev *d = NULL;
	struct df_snap snap;
	unsigned nth, enomem = 0;
	struct df f;
	int rc = -1;

	(void)state;
	df_create(&f, 8 * BLK, SEG, BLK, 4);
	df_snap_take(df_shared_pool(&f, 0), &snap);
	for (nth = 1; nth < 64; nth++) {
		struct iotlb_dev *sentinel = (struct iotlb_dev *)(uintptr_t)0x5a5a5a5a;

		d = sentinel;
		iotlb__fault_inject(nth);
		rc = df_dev_try(f.mem, 3 * BB, 4, &d);
		iotlb__fault_inject(0);
		if (rc == 0)
			break;
		if (rc != -ENOMEM)
			fail_msg("allocation %u failed: create returned %d", nth, rc);
		assert_ptr_equal(d, sentinel);
		df_check_mem(f.mem, "create failed by fault injection");
		df_snap_expect(&snap, 0, 0);
		assert_int_equal(df_mem_stats(f.mem).used, 0);
		enomem++;
	}
	assert_int_equal(rc, 0);
	/* At least the device and the private pool metadata are allocated. */
	assert_true(enomem >= 2);
	expect_at(&f, d, 0, 0, 3);
	destroy_ok(d);
	df_snap_expect(&snap, 0, 0);
	df_snap_free(&snap);
	df_destroy(&f);
}

/* --------------------------------------------------------------- queues */

static void test_nqueues_is_rounded_by_the_area_rules(void **state)
{
	/* ALGORITHM.md 3: round up to a power of two, then down to what the
	 * pool holds in whole segments (1024 slots = 8 segments per block). */
	static const struct {
		unsigned blocks, nqueues, children;
	} cases[] = {
		{1, 0, 1}, {1, 1, 1}, {1, 2, 2},   {1, 3, 4},	 {1, 5, 8},   {1, 6, 8},
		{1, 8, 8}, {1, 9, 8}, {1, 100, 8}, {2, 100, 16}, {2, 12, 16}, {4, 17, 32},
	};
	struct iotlb_dev *shared;
	struct df f;

	(void)state;
	df_create(&f, 4 * BIG_BLK, SEG, BIG_BLK, 1);
	shared = df_dev(f.mem, 0, 3);
	assert_int_equal(df_dev_stats(shared).nqueues, 0);

	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		unsigned want = cases[c].children;
		uint64_t nslots = (uint64_t)cases[c].blocks * BIG_BLK;
		struct iotlb_dev *d = df_dev(f.mem, cases[c].blocks * BIG_BB, cases[c].nqueues);
		struct iotlb_stats st = df_dev_stats(d);
		struct iotlb_area_stats as = IOTLB_AREA_STATS_INIT;
		struct df_where w = df_where(&f, d);

		if (st.nqueues != want || st.nareas != want)
			fail_msg("%u blocks, nqueues %u: stats say %llu queues, %llu areas; "
				 "expected %u",
				 cases[c].blocks, cases[c].nqueues, (unsigned long long)st.nqueues,
				 (unsigned long long)st.nareas, want);
		assert_int_equal(st.nslots, nslots);
		for (unsigned q = 0; q < want; q++) {
			uint64_t dma;

			assert_int_equal(iotlb_dev_area_stats(d, q, &as), 0);
			assert_int_equal(as.first_slot, q * (nslots / want));
			assert_int_equal(as.nslots, nslots / want);
			/* A map on queue q (and on q + want) lands in child q. */
			dma = map_ok(d, (int)(q + want), arena, 100, IOTLB_TO_DEVICE);
			assert_true(dma >= w.dma + as.first_slot * DF_SLOT &&
				    dma < w.dma + (as.first_slot + as.nslots) * DF_SLOT);
			unmap_ok(d, dma, 100, IOTLB_TO_DEVICE);
		}
		assert_int_not_equal(iotlb_dev_area_stats(d, want, &as), 0);
		assert_int_equal(df_dev_stats(d).area_fallbacks, 0);
		df_check_dev(d, "nqueues case");
		destroy_ok(d);
	}
	destroy_ok(shared);
	df_check_mem(f.mem, "nqueues cases");
	df_destroy(&f);
}

static void test_children_of_an_uneven_private_pool_keep_the_remainder_last(void **state)
{
	/* 3 blocks = 3072 slots = 24 segments; 32 queues -> 16 children of
	 * 3072/16 = 192 -> 128 slots; the last child takes the remaining 1152. */
	struct iotlb_area_stats as = IOTLB_AREA_STATS_INIT;
	struct iotlb_dev *d;
	struct df f;

	(void)state;
	df_create(&f, 4 * BIG_BLK, SEG, BIG_BLK, 1);
	d = df_dev(f.mem, 3 * BIG_BB, 32);
	assert_int_equal(df_dev_stats(d).nqueues, 16);
	for (unsigned q = 0; q < 15; q++) {
		assert_int_equal(iotlb_dev_area_stats(d, q, &as), 0);
		assert_int_equal(as.first_slot, q * 128);
		assert_int_equal(as.nslots, 128);
	}
	assert_int_equal(iotlb_dev_area_stats(d, 15, &as), 0);
	assert_int_equal(as.first_slot, 15 * 128);
	assert_int_equal(as.nslots, 1152);
	df_check_dev(d, "uneven children");
	destroy_ok(d);
	df_destroy(&f);
}

static void test_queue_starts_at_its_child_and_falls_back_in_order(void **state)
{
	/* 1 block of 1024 slots, 4 children of 256: each holds two segments. */
	static const struct {
		int queue;
		uint64_t slot; /* private-pool slot the mapping must start at */
	} seq[] = {
		{6, 512}, {6, 640}, /* child 2 */
		{6, 768},	    /* child 2 full: child 3 */
		{2, 896},	    /* child 2 full: child 3 */
		{2, 0},	  {2, 128}, /* 2 and 3 full: wrap to child 0 */
		{2, 256}, {2, 384}, /* then child 1 */
	};
	struct iotlb_area_stats as = IOTLB_AREA_STATS_INIT;
	uint64_t dma[8], extra, junk = 0x77;
	struct iotlb_dev *d;
	struct iotlb_stats st;
	struct df_where w;
	struct df f;

	(void)state;
	df_create(&f, 2 * BIG_BLK, SEG, BIG_BLK, 1);
	d = df_dev(f.mem, BIG_BB, 4);
	w = df_where(&f, d);

	for (unsigned i = 0; i < 8; i++) {
		dma[i] = map_ok(d, seq[i].queue, arena, SEG_BYTES, IOTLB_TO_DEVICE);
		if (dma[i] != w.dma + seq[i].slot * DF_SLOT)
			fail_msg("map %u on queue %d at private slot %llu, expected %llu", i,
				 seq[i].queue, (unsigned long long)((dma[i] - w.dma) / DF_SLOT),
				 (unsigned long long)seq[i].slot);
	}
	assert_int_equal(
		iotlb_map(d, 2, arena, SEG_BYTES, IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN, &junk),
		-ENOSPC);
	assert_int_equal(junk, 0x77);
	st = df_dev_stats(d);
	/* Maps 3..8 and the refused one could not use their first child. */
	assert_int_equal(st.area_fallbacks, 7);
	assert_int_equal(st.map_fail_nospace, 1);
	assert_int_equal(st.used, BIG_BLK);
	for (unsigned q = 0; q < 4; q++) {
		assert_int_equal(iotlb_dev_area_stats(d, q, &as), 0);
		assert_int_equal(as.used, 256);
	}
	assert_int_equal(df_mem_stats(f.mem).area_fallbacks, 0);
	assert_int_equal(df_mem_stats(f.mem).map_fail_nospace, 0);
	df_check_dev(d, "all children full");

	/* Room again in child 1: queue 5 (5 & 3 = 1) finds it first. */
	unmap_ok(d, dma[6], SEG_BYTES, IOTLB_TO_DEVICE);
	dma[6] = map_ok(d, 5, arena, SEG_BYTES, IOTLB_TO_DEVICE);
	assert_int_equal(dma[6], w.dma + 256 * DF_SLOT);
	assert_int_equal(df_dev_stats(d).area_fallbacks, 7);

	for (unsigned i = 0; i < 8; i++)
		unmap_ok(d, dma[i], SEG_BYTES, IOTLB_TO_DEVICE);
	/* A large queue number still picks child q & 3. */
	extra = map_ok(d, INT_MAX, arena, 100, IOTLB_TO_DEVICE);
	assert_true(extra >= w.dma + 768 * DF_SLOT && extra < w.dma + 1024 * DF_SLOT);
	unmap_ok(d, extra, 100, IOTLB_TO_DEVICE);
	for (unsigned q = 0; q < 4; q++) {
		assert_int_equal(iotlb_dev_area_stats(d, q, &as), 0);
		assert_int_equal(as.used, 0);
	}
	df_check_dev(d, "all unmapped");
	destroy_ok(d);
	df_destroy(&f);
}

/* ------------------------------------------------------------ statistics */

static void expect_stats_equal(const struct iotlb_stats *x, const struct iotlb_stats *y)
{
#define CMP_(name, desc)                                                              \
	if (x->name != y->name)                                                       \
		fail_msg("stat %s: %llu vs %llu", #name, (unsigned long long)x->name, \
			 (unsigned long long)y->name);
	IOTLB_STATS_FIELDS(CMP_)
#undef CMP_
}

static void test_private_activity_is_counted_by_the_device_only(void **state)
{
	struct iotlb_stats m, p, sd;
	struct iotlb_dev *s, *d;
	uint64_t sdma, d1, d2, cdma = 0;
	void *cva = NULL;
	struct df f;

	(void)state;
	df_create(&f, 8 * BLK, SEG, BLK, 1);
	s = df_dev(f.mem, 0, 0);
	sdma = map_ok(s, 0, arena, 3000, IOTLB_TO_DEVICE); /* 2 slots */
	d = df_dev(f.mem, BB, 0);
	d1 = map_ok(d, 0, arena + 65536, 100, IOTLB_TO_DEVICE);	  /* 1 slot */
	d2 = map_ok(d, 0, arena + 131072, 5000, IOTLB_TO_DEVICE); /* 3 slots */
	(void)d2;

	m = df_mem_stats(f.mem);
	assert_int_equal(m.nslots, 8 * BLK);
	assert_int_equal(m.used, BLK + 2); /* carved slots count as used */
	assert_int_equal(m.npools, 1);
	assert_int_equal(m.maps, 1);
	assert_int_equal(m.bounced_to_device, 3000);
	assert_int_equal(m.nqueues, 0);

	p = df_dev_stats(d);
	assert_int_equal(p.nslots, BLK);
	assert_int_equal(p.used, 4);
	assert_int_equal(p.used_hiwater, 4);
	assert_int_equal(p.npools, 1);
	assert_int_equal(p.nareas, 1);
	assert_int_equal(p.nqueues, 1);
	assert_int_equal(p.maps, 2);
	assert_int_equal(p.bounced_to_device, 5100);
	assert_int_equal(p.transient_nslots, 0);

	/* A shared device reports exactly what the mem reports. */
	sd = df_dev_stats(s);
	expect_stats_equal(&sd, &m);

	assert_int_equal(iotlb_alloc(d, 8192, &cva, &cdma), 0);
	unmap_ok(d, d1, 100, IOTLB_FROM_DEVICE);
	p = df_dev_stats(d);
	assert_int_equal(p.allocs, 1);
	assert_int_equal(p.unmaps, 1);
	assert_int_equal(p.bounced_to_cpu, 100);
	assert_int_equal(p.used, 3 + 4);
	m = df_mem_stats(f.mem);
	assert_int_equal(m.allocs, 0);
	assert_int_equal(m.unmaps, 0);
	assert_int_equal(m.bounced_to_cpu, 0);
	assert_int_equal(m.used, BLK + 2);

	assert_int_equal(iotlb_free(d, cdma, 8192), 0);
	unmap_ok(d, d2, 5000, IOTLB_TO_DEVICE);
	p = df_dev_stats(d);
	assert_int_equal(p.used, 0);
	assert_int_equal(p.used_hiwater, 8);
	assert_int_equal(p.frees, 1);
	df_check_dev(d, "private pool empty");
	destroy_ok(d);

	m = df_mem_stats(f.mem);
	assert_int_equal(m.used, 2);
	assert_int_equal(m.nslots, 8 * BLK);
	assert_true(m.used_hiwater >= BLK + 2);
	unmap_ok(s, sdma, 3000, IOTLB_TO_DEVICE);
	destroy_ok(s);
	expect_all_fresh(&f);
	df_destroy(&f);
}

/* Finds the printed value of one statistic ("name   value  description"). */
struct printed {
	const char *name;
	long long value;
	unsigned found;
};

static void printed_line(void *ctx, const char *line)
{
	struct printed *pr = ctx;
	size_t n = strlen(pr->name);
	long long v;

	if (strncmp(line, pr->name, n) == 0 && line[n] == ' ' &&
	    sscanf(line + n, "%lld", &v) == 1) {
		pr->value = v;
		pr->found++;
	}
}

static void test_stats_print_of_a_private_device_shows_its_pool(void **state)
{
	struct printed pr = {"nqueues", -1, 0};
	struct printed ns = {"nslots", -1, 0};
	struct iotlb_dev *d;
	struct df f;

	(void)state;
	df_create(&f, 8 * BLK, SEG, BLK, 1);
	d = df_dev(f.mem, 2 * BB, 4);
	/* The printer shows what iotlb_dev_stats returns for the device. */
	assert_int_equal(iotlb_stats_print(NULL, d, printed_line, &ns), 0);
	assert_int_equal(ns.found, 1);
	assert_int_equal(ns.value, (long long)df_dev_stats(d).nslots);
	assert_int_equal(iotlb_stats_print(f.mem, d, printed_line, &pr), 0);
	assert_int_equal(pr.found, 1);
	assert_int_equal(pr.value, (long long)df_dev_stats(d).nqueues);
	assert_int_equal(pr.value, 4);
	destroy_ok(d);
	df_destroy(&f);
}

/* ------------------------------------------------------- address queries */

static void test_address_queries_of_a_private_device_see_only_its_pool(void **state)
{
	struct iotlb_dev *a, *b, *s, *c;
	unsigned char *va;
	uint64_t base;
	struct df f;

	(void)state;
	df_create(&f, 8 * BLK, SEG, BLK, 1);
	base = f.pool[0].dma;
	va = f.pool[0].va;
	s = df_dev(f.mem, 0, 0);
	a = df_dev(f.mem, BB, 1);
	b = df_dev(f.mem, BB, 1);
	expect_at(&f, a, 0, 0, 1);
	expect_at(&f, b, 0, 1, 1);

	assert_ptr_equal(iotlb_dma_to_virt(a, base), va);
	assert_ptr_equal(iotlb_dma_to_virt(a, base + BB - 1), va + BB - 1);
	assert_true(iotlb_is_bounce(a, base + 100));
	assert_null(iotlb_dma_to_virt(a, base + BB)); /* B's pool */
	assert_false(iotlb_is_bounce(a, base + BB));
	assert_null(iotlb_dma_to_virt(a, base + 3 * BB)); /* shared, not carved */
	assert_false(iotlb_is_bounce(a, base + 3 * BB));
	assert_null(iotlb_dma_to_virt(a, base - 1));

	assert_null(iotlb_dma_to_virt(b, base));
	assert_false(iotlb_is_bounce(b, base + BB - 1));
	assert_ptr_equal(iotlb_dma_to_virt(b, base + BB), va + BB);
	assert_ptr_equal(iotlb_dma_to_virt(b, base + 2 * BB - 1), va + 2 * BB - 1);
	assert_null(iotlb_dma_to_virt(b, base + 2 * BB));

	assert_ptr_equal(iotlb_dma_to_virt(s, base + 3 * BB), va + 3 * BB);
	assert_true(iotlb_is_bounce(s, base + 8 * BB - 1));
	assert_false(iotlb_is_bounce(s, base + 8 * BB));

	/* A new device in A's old place; B still does not see it. */
	destroy_ok(a);
	c = df_dev(f.mem, BB, 1);
	expect_at(&f, c, 0, 0, 1);
	assert_ptr_equal(iotlb_dma_to_virt(c, base + 5), va + 5);
	assert_false(iotlb_is_bounce(b, base + 5));

	destroy_ok(b);
	destroy_ok(c);
	destroy_ok(s);
	df_destroy(&f);
}

/* ------------------------------------------------------------- too big */

static void test_map_larger_than_the_private_pool_is_e2big(void **state)
{
	/* Blocks of one segment: a private pool of one block is 16 slots. */
	uint64_t dma, junk = 0x77;
	struct iotlb_dev *d;
	void *cva = (void *)(uintptr_t)0x99;
	struct df f;

	(void)state;
	df_create(&f, 256, 16, 16, 1);
	d = df_dev(f.mem, 16 * DF_SLOT, 1);
	assert_int_equal(df_dev_stats(d).nslots, 16);

	dma = map_ok(d, 0, arena, 16 * DF_SLOT, IOTLB_BIDIRECTIONAL);
	unmap_ok(d, dma, 16 * DF_SLOT, IOTLB_BIDIRECTIONAL);
	assert_int_equal(iotlb_map(d, 0, arena, 16 * DF_SLOT + 1, IOTLB_TO_DEVICE,
				   IOTLB_ATTR_NO_WARN, &junk),
			 -E2BIG);
	assert_int_equal(junk, 0x77);
	assert_int_equal(iotlb_alloc(d, 16 * DF_SLOT + 1, &cva, &junk), -E2BIG);
	assert_ptr_equal(cva, (void *)(uintptr_t)0x99);
	assert_int_equal(df_dev_stats(d).map_fail_too_big, 2);
	assert_int_equal(df_mem_stats(f.mem).map_fail_too_big, 0);
	df_check_dev(d, "too big refused");
	destroy_ok(d);
	df_destroy(&f);

	/* Default geometry: the largest mapping is still one segment. */
	df_create(&f, 2 * BIG_BLK, SEG, BIG_BLK, 1);
	d = df_dev(f.mem, BIG_BB, 2);
	assert_int_equal(
		iotlb_map(d, 0, arena, SEG_BYTES + 1, IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN, &junk),
		-E2BIG);
	dma = map_ok(d, 0, arena, SEG_BYTES, IOTLB_TO_DEVICE);
	unmap_ok(d, dma, SEG_BYTES, IOTLB_TO_DEVICE);
	destroy_ok(d);
	df_destroy(&f);
}

/* ------------------------------------------------------------- growth */

static unsigned provider_allocs; /* written by the growth worker */

static int provider_alloc(void *ctx, size_t size, void **vaddr, uint64_t *dma)
{
	unsigned k = __atomic_add_fetch(&provider_allocs, 1, __ATOMIC_RELAXED);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)ctx;
	if (p == MAP_FAILED)
		return -ENOMEM;
	*vaddr = p;
	*dma = 0x100000000ull + (uint64_t)k * 0x10000000ull;
	return 0;
}

static void provider_free(void *ctx, void *vaddr, uint64_t dma, size_t size)
{
	(void)ctx;
	(void)dma;
	munmap(vaddr, size);
}

static void test_full_private_pool_never_grows_the_mem(void **state)
{
	static const struct iotlb_region_ops ops = {provider_alloc, provider_free};
	struct iotlb_mem_config c = IOTLB_MEM_CONFIG_INIT;
	struct df_region r = df_region_new(0, 4 * BLK);
	struct iotlb_mem *mem = NULL;
	struct iotlb_dev *d;
	uint64_t dma[2], junk = 0x77;
	const struct iotlb__pool *pp;

	(void)state;
	c.vaddr = r.va;
	c.dma_addr = r.dma;
	c.size = (size_t)(4 * BLK * DF_SLOT);
	c.segment_slots = SEG;
	c.block_slots = BLK;
	c.nareas = 1;
	c.flags = IOTLB_MEM_GROW;
	c.region_ops = &ops;
	assert_int_equal(iotlb_mem_create(&c, &mem), 0);
	d = df_dev(mem, BB, 1);
	pp = df_private_pool(d);

	/* Two segment-sized maps fill the 256-slot private pool. */
	dma[0] = map_ok(d, 0, arena, SEG_BYTES, IOTLB_TO_DEVICE);
	dma[1] = map_ok(d, 0, arena, SEG_BYTES, IOTLB_TO_DEVICE);
	/* ALGORITHM.md 6: maps on a private device use only its private pool,
	 * so there is no transient pool to fall back on. */
	assert_int_equal(iotlb_map(d, 0, arena, 100, IOTLB_TO_DEVICE, IOTLB_ATTR_NO_WARN, &junk),
			 -ENOSPC);
	assert_int_equal(junk, 0x77);
	assert_int_equal(df_dev_stats(d).transient_pools, 0);
	assert_int_equal(df_mem_stats(mem).transient_pools, 0);
	assert_int_equal(df_mem_stats(mem).transient_nslots, 0);
	for (unsigned i = 0; i < 2; i++) {
		assert_true(dma[i] >= pp->dma_addr && dma[i] < pp->end_dma);
		unmap_ok(d, dma[i], SEG_BYTES, IOTLB_TO_DEVICE);
	}
	df_check_dev(d, "after refusal");
	destroy_ok(d);
	assert_int_equal(iotlb_mem_destroy(mem), 0);
	munmap(r.map, r.map_len);
}

/* ------------------------------------------------------ foreign handles */

static void test_handles_of_another_device_are_enoent(void **state)
{
	struct iotlb_dev *a, *b, *s;
	uint64_t x, y, z = 0;
	void *zva = NULL;
	struct df f;

	(void)state;
	df_create(&f, 8 * BLK, SEG, BLK, 1);
	s = df_dev(f.mem, 0, 0);
	a = df_dev(f.mem, BB, 1);
	b = df_dev(f.mem, BB, 1);

	x = map_ok(a, 0, arena, 3000, IOTLB_BIDIRECTIONAL);
	assert_int_equal(iotlb_unmap(b, x, 3000, IOTLB_BIDIRECTIONAL, 0), -ENOENT);
	assert_int_equal(iotlb_unmap(s, x, 3000, IOTLB_BIDIRECTIONAL, 0), -ENOENT);
	assert_int_equal(iotlb_sync_for_cpu(s, x, 3000, IOTLB_BIDIRECTIONAL), -ENOENT);
	assert_int_equal(iotlb_sync_for_device(b, x, 3000, IOTLB_BIDIRECTIONAL), -ENOENT);
	assert_int_equal(iotlb_sync_for_cpu(b, x + 10, 10, IOTLB_BIDIRECTIONAL), -ENOENT);
	assert_int_equal(iotlb_free(s, x, 3000), -ENOENT);
	df_check_mem(f.mem, "foreign unmaps refused");
	df_check_dev(a, "foreign unmaps refused");
	assert_int_equal(df_dev_stats(a).used, 2);
	assert_int_equal(iotlb_sync_for_cpu(a, x, 3000, IOTLB_BIDIRECTIONAL), 0);
	unmap_ok(a, x, 3000, IOTLB_BIDIRECTIONAL);
	assert_int_equal(iotlb_unmap(a, x, 3000, IOTLB_BIDIRECTIONAL, 0), -ENOENT);

	y = map_ok(s, 0, arena, 100, IOTLB_TO_DEVICE);
	assert_int_equal(iotlb_unmap(a, y, 100, IOTLB_TO_DEVICE, 0), -ENOENT);
	assert_int_equal(iotlb_sync_for_device(a, y, 100, IOTLB_TO_DEVICE), -ENOENT);
	unmap_ok(s, y, 100, IOTLB_TO_DEVICE);

	assert_int_equal(iotlb_alloc(a, 4096, &zva, &z), 0);
	assert_int_equal(iotlb_free(s, z, 4096), -ENOENT);
	assert_int_equal(iotlb_free(b, z, 4096), -ENOENT);
	assert_int_equal(iotlb_unmap(a, z, 4096, IOTLB_TO_DEVICE, 0), -ENOENT);
	assert_int_equal(iotlb_free(a, z, 4096), 0);

	df_check_mem(f.mem, "all released");
	destroy_ok(a);
	destroy_ok(b);
	destroy_ok(s);
	expect_all_fresh(&f);
	df_destroy(&f);
}

/* ----------------------------------------------- carving next to mappings */

static void test_carving_leaves_live_shared_mappings_alone(void **state)
{
	unsigned char *o1 = arena + 0x10000, *o2 = arena + 0x20000;
	struct iotlb_dev *s, *p, *q;
	struct df_snap snap;
	uint64_t m1, m2, base;
	unsigned char *b1, *b2;
	struct df f;

	(void)state;
	/* Two areas of 1024 slots (blocks 0-3 and 4-7). */
	df_create(&f, 8 * BLK, SEG, BLK, 2);
	base = f.pool[0].dma;
	s = df_dev(f.mem, 0, 0);
	df_pattern(o1, 3000, 11);
	df_pattern(o2, 9000, 12);
	m1 = map_ok(s, 0, o1, 3000, IOTLB_BIDIRECTIONAL);
	m2 = map_ok(s, 1, o2, 9000, IOTLB_BIDIRECTIONAL);
	assert_true(m1 < base + BB);				/* block 0 */
	assert_true(m2 >= base + 4 * BB && m2 < base + 5 * BB); /* block 4 */
	df_snap_take(df_shared_pool(&f, 0), &snap);

	p = df_dev(f.mem, 2 * BB, 2);
	expect_at(&f, p, 0, 1, 2);
	q = df_dev(f.mem, 3 * BB, 1);
	expect_at(&f, q, 0, 5, 3);
	df_check_mem(f.mem, "carved around live mappings");

	/* The mappings are intact and complete normally. */
	b1 = iotlb_dma_to_virt(s, m1);
	b2 = iotlb_dma_to_virt(s, m2);
	assert_memory_equal(b1, o1, 3000);
	assert_memory_equal(b2, o2, 9000);
	df_pattern(b1, 3000, 21);
	df_pattern(b2, 9000, 22);

	destroy_ok(p);
	destroy_ok(q);
	df_snap_expect(&snap, 0, 0);
	df_snap_free(&snap);
	unmap_ok(s, m1, 3000, IOTLB_BIDIRECTIONAL);
	unmap_ok(s, m2, 9000, IOTLB_BIDIRECTIONAL);
	assert_int_equal(df_pattern_mismatch(o1, 3000, 21), 3000);
	assert_int_equal(df_pattern_mismatch(o2, 9000, 22), 9000);
	destroy_ok(s);
	df_check_mem(f.mem, "all released");
	expect_all_fresh(&f);
	df_pattern(arena, ARENA_LEN, 1);
	df_destroy(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_carving_is_first_fit_from_the_lowest_block),
		cmocka_unit_test(test_carving_takes_the_oldest_pool_first),
		cmocka_unit_test(test_create_destroy_cycles_give_back_every_counter_and_cursor),
		cmocka_unit_test(test_private_maps_stay_inside_and_shared_maps_outside),
		cmocka_unit_test(test_destroy_is_refused_while_a_mapping_or_allocation_is_live),
		cmocka_unit_test(
			test_carving_fails_with_enospc_when_every_block_holds_a_shared_mapping),
		cmocka_unit_test(test_private_size_larger_than_any_pool_is_e2big),
		cmocka_unit_test(test_carve_failure_in_metadata_allocation_changes_nothing),
		cmocka_unit_test(test_nqueues_is_rounded_by_the_area_rules),
		cmocka_unit_test(test_children_of_an_uneven_private_pool_keep_the_remainder_last),
		cmocka_unit_test(test_queue_starts_at_its_child_and_falls_back_in_order),
		cmocka_unit_test(test_private_activity_is_counted_by_the_device_only),
		cmocka_unit_test(test_stats_print_of_a_private_device_shows_its_pool),
		cmocka_unit_test(test_address_queries_of_a_private_device_see_only_its_pool),
		cmocka_unit_test(test_map_larger_than_the_private_pool_is_e2big),
		cmocka_unit_test(test_full_private_pool_never_grows_the_mem),
		cmocka_unit_test(test_handles_of_another_device_are_enoent),
		cmocka_unit_test(test_carving_leaves_live_shared_mappings_alone),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
