/* SPDX-License-Identifier: MIT */
/*
 * IO TLB blocks in use (docs/algorithm.md#blocks): how queues
 * pick children of a private pool, which statistics and address queries see
 * it, requests too big for it, that it never grows the mem, foreign handles,
 * and carving next to live shared mappings.
 */
#include "blocks.h"

/* --------------------------------------------------------------- queues */

static void test_nqueues_is_rounded_by_the_area_rules(void **state)
{
	/* docs/algorithm.md#area-count: round up to a power of two, then down to what the
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
	/* docs/algorithm.md#blocks: maps on a private device use only its private pool,
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

	return cmocka_run_group_tests(tests, blocks_group_setup, blocks_group_teardown);
}
