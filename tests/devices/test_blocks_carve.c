/* SPDX-License-Identifier: MIT */
/*
 * IO TLB blocks, carving (docs/algorithm.md#blocks): where
 * private pools are carved, that the shared pool gets every free-run counter
 * and cursor back, that private and shared mappings stay apart, and the
 * errors of carving.
 */
#include "blocks.h"

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

/* Lowest run of `n` free blocks, or -1 (first fit, lowest address: docs/algorithm.md#blocks). */
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
	};

	return cmocka_run_group_tests(tests, blocks_group_setup, blocks_group_teardown);
}
