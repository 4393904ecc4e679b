/* SPDX-License-Identifier: MIT */
/*
 * Worked scenarios 10-19 of docs/algorithm.md#scenarios (coherent
 * allocations, copies and directions, areas, quick reject, used and
 * high-water, pools above 4 GiB), with the exact values given there.
 * Scenarios 1-9 are in test_scenarios_1_9.c, 20 in test_concurrency.c.
 */
#include "fixture.h"

#include <unistd.h>

static void test_s10_coherent_alloc_is_naturally_aligned(void **state)
{
	struct fx *f = *state;
	uint64_t a, dma = FX_DMA_SENTINEL;
	void *va = NULL;

	fx_init(f, 256);
	a = fx_map(f, f->dev, 0, 100, IOTLB_TO_DEVICE);
	assert_int_equal(a, FX_B);
	assert_int_equal(fx_cursor(f, 0), 1);
	assert_int_equal(iotlb_alloc(f->dev, 8192, &va, &dma), 0);
	assert_int_equal(dma, FX_B + 0x2000);
	assert_ptr_equal(va, f->region + 0x2000);
	assert_int_equal(fx_list(f, 1), 3);
	assert_int_equal(fx_list(f, 2), 2);
	assert_int_equal(fx_list(f, 3), 1);
	assert_int_equal(fx_stats(f).used, 5);
	assert_int_equal(iotlb_free(f->dev, dma, 8192), 0);
	fx_unmap(f, f->dev, a, 100, IOTLB_TO_DEVICE);
	fx_assert_list_fresh(f, 0, 256);
}

/* 11. alloc(12288) -> 16 KiB alignment, slot 8, 6 slots; free releases 6. */
static void test_s11_coherent_alloc_rounds_alignment_to_power_of_two(void **state)
{
	struct fx *f = *state;
	uint64_t a, dma = FX_DMA_SENTINEL;
	void *va = NULL;
	unsigned i;

	fx_init(f, 256);
	a = fx_map(f, f->dev, 0, 100, IOTLB_TO_DEVICE);
	assert_int_equal(fx_cursor(f, 0), 1);
	assert_int_equal(iotlb_alloc(f->dev, 12288, &va, &dma), 0);
	assert_int_equal(dma, FX_B + 0x4000);
	assert_int_equal(fx_stats(f).used, 7);
	for (i = 8; i < 14; i++)
		assert_int_equal(fx_list(f, i), 0);
	assert_int_equal(fx_list(f, 14), 114);
	assert_int_equal(fx_list(f, 7), 1);
	assert_int_equal(fx_list(f, 1), 7);
	assert_int_equal(iotlb_free(f->dev, dma, 12288), 0);
	assert_int_equal(fx_stats(f).used, 1);
	assert_int_equal(fx_list(f, 1), 127);
	fx_unmap(f, f->dev, a, 100, IOTLB_TO_DEVICE);
	fx_assert_list_fresh(f, 0, 256);
}

/* 12. sync_for_cpu of 1001 bytes on a 1000-byte mapping. */
static void test_s12_sync_past_the_mapping_is_clamped_and_warned(void **state)
{
	struct fx *f = *state;
	unsigned char *o;
	uint64_t dma;
	struct iotlb_stats st;

	fx_init(f, 256);
	o = fx_orig(f, 0);
	memset(o, 0xAA, 4096);
	dma = fx_map(f, f->dev, 0, 1000, IOTLB_FROM_DEVICE);
	memset(fx_bounce(f, dma), 0x55, 1001); /* the device writes one byte too many */
	st = fx_stats(f);
	fx_log_clear(f);
	assert_int_equal(iotlb_sync_for_cpu(f->dev, dma, 1001, IOTLB_FROM_DEVICE), 0);
	assert_int_equal(fx_log_count(f, "Buffer overflow detected"), 1);
	assert_int_equal(
		fx_log_count(
			f, "Buffer overflow detected. Allocation size: 1000. Mapping size: 1001."),
		1);
	fx_assert_bytes(o, 1000, 0x55);
	assert_int_equal(o[1000], 0xAA);
	assert_int_equal(fx_stats(f).bounced_to_cpu - st.bounced_to_cpu, 1000);
	assert_int_equal(fx_stats(f).overflow_clamps - st.overflow_clamps, 1);
	assert_int_equal(
		iotlb_unmap(f->dev, dma, 1000, IOTLB_FROM_DEVICE, IOTLB_ATTR_SKIP_CPU_SYNC), 0);
}

/* 13. Info leak closed: the map copies even for FROM_DEVICE + SKIP_CPU_SYNC. */
static void test_s13_map_always_copies_so_no_stale_bytes_leak(void **state)
{
	struct fx *f = *state;
	unsigned char *o, *old;
	uint64_t dma, prev;

	/* a 2-slot pool, so the cursor wraps and the stale slots are reused */
	fx_init(f, 2);
	memset(f->region, 0, 4096);
	/* an earlier mapping leaves 0xCD in slots 0..1 */
	old = fx_orig(f, 0x80000);
	memset(old, 0xCD, 4096);
	prev = fx_map(f, f->dev, 0x80000, 4096, IOTLB_TO_DEVICE);
	assert_int_equal(prev, FX_B);
	fx_unmap(f, f->dev, prev, 4096, IOTLB_TO_DEVICE);
	fx_assert_bytes(fx_bounce(f, FX_B), 4096, 0xCD);
	assert_int_equal(fx_cursor(f, 0), 0);

	o = fx_orig(f, 0);
	memset(o, 0xAB, 4096);
	assert_int_equal(
		iotlb_map(f->dev, 0, o, 4096, IOTLB_FROM_DEVICE, IOTLB_ATTR_SKIP_CPU_SYNC, &dma),
		0);
	assert_int_equal(dma, FX_B);
	fx_assert_bytes(fx_bounce(f, dma), 4096, 0xAB);
	memset(fx_bounce(f, dma), 0x11, 100);
	assert_int_equal(iotlb_unmap(f->dev, dma, 4096, IOTLB_FROM_DEVICE, 0), 0);
	fx_assert_bytes(o, 100, 0x11);
	fx_assert_bytes(o + 100, 3996, 0xAB);
}

/* 14. Direction matrix of 5.3 (details in test_bounce.c). */
static void test_s14_direction_matrix(void **state)
{
	struct fx *f = *state;
	static const struct {
		enum iotlb_dir dir;
		bool to_dev, to_cpu;
	} m[] = {
		{IOTLB_BIDIRECTIONAL, true, true},
		{IOTLB_TO_DEVICE, true, false},
		{IOTLB_FROM_DEVICE, false, true},
	};
	unsigned char *o;
	uint64_t dma;
	unsigned i;

	fx_init(f, 256);
	o = fx_orig(f, 0);
	for (i = 0; i < 3; i++) {
		memset(o, 0x21, 512);
		dma = fx_map(f, f->dev, 0, 512, m[i].dir);
		fx_assert_bytes(fx_bounce(f, dma), 512, 0x21); /* map: always */

		memset(o, 0x22, 512);
		assert_int_equal(iotlb_sync_for_device(f->dev, dma, 512, m[i].dir), 0);
		fx_assert_bytes(fx_bounce(f, dma), 512, m[i].to_dev ? 0x22 : 0x21);

		memset(fx_bounce(f, dma), 0x23, 512);
		memset(o, 0x24, 512);
		assert_int_equal(iotlb_sync_for_cpu(f->dev, dma, 512, m[i].dir), 0);
		fx_assert_bytes(o, 512, m[i].to_cpu ? 0x23 : 0x24);

		memset(fx_bounce(f, dma), 0x25, 512);
		memset(o, 0x26, 512);
		assert_int_equal(iotlb_unmap(f->dev, dma, 512, m[i].dir, 0), 0);
		fx_assert_bytes(o, 512, m[i].to_cpu ? 0x25 : 0x26);
	}
	dma = fx_map(f, f->dev, 0, 512, IOTLB_BIDIRECTIONAL);
	assert_int_equal(iotlb_sync_for_device(f->dev, dma, 512, IOTLB_DIR_NONE), -EINVAL);
	assert_int_equal(iotlb_sync_for_cpu(f->dev, dma, 512, IOTLB_DIR_NONE), -EINVAL);
	assert_int_equal(iotlb_unmap(f->dev, dma, 512, IOTLB_DIR_NONE, 0), -EINVAL);
	fx_unmap(f, f->dev, dma, 512, IOTLB_BIDIRECTIONAL);
	dma = FX_DMA_SENTINEL;
	assert_int_equal(iotlb_map(f->dev, 0, o, 512, IOTLB_DIR_NONE, 0, &dma), -EINVAL);
	assert_int_equal(dma, FX_DMA_SENTINEL);
}

/* 15. Two areas: fallback to area 1, then no space with the kernel line. */
static void test_s15_area_fallback_then_buffer_full(void **state)
{
	struct fx *f = *state;
	uint64_t a, b, dma = FX_DMA_SENTINEL;

	fx_prepare(f, 256);
	f->cfg.nareas = 2;
	fx_create(f);
	assert_int_equal(fx_stats(f).nareas, 2);
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0), 262144, IOTLB_TO_DEVICE, 0, &a), 0);
	assert_int_equal(a, fx_slot_dma(0));
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0x40000), 262144, IOTLB_TO_DEVICE, 0, &b),
			 0);
	assert_int_equal(b, fx_slot_dma(128));
	assert_int_equal(fx_stats(f).area_fallbacks, 1);
	fx_log_clear(f);
	assert_int_equal(iotlb_map(f->dev, 1, fx_orig(f, 0x80000), 4096, IOTLB_TO_DEVICE, 0, &dma),
			 -ENOSPC);
	assert_int_equal(dma, FX_DMA_SENTINEL);
	assert_int_equal(fx_log_count(f, "swiotlb buffer is full (sz: 4096 bytes), total 256 "
					 "(slots), used 256 (slots)"),
			 1);
	assert_int_equal(fx_stats(f).map_fail_nospace, 1);
	fx_unmap(f, f->dev, a, 262144, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, b, 262144, IOTLB_TO_DEVICE);
}

/* 15, second part: 4 areas over 1024 slots, hint 6 starts in area 2. */
static void test_s15_queue_hint_selects_area_modulo_count(void **state)
{
	struct fx *f = *state;
	uint64_t a = FX_DMA_SENTINEL;

	fx_prepare(f, 1024);
	f->cfg.nareas = 4;
	fx_create(f);
	assert_int_equal(iotlb_map(f->dev, 6, fx_orig(f, 0), 100, IOTLB_TO_DEVICE, 0, &a), 0);
	assert_int_equal(a, fx_slot_dma(512));
	assert_int_equal(fx_area_used(f, 2), 1);
	assert_int_equal(fx_area_used(f, 0), 0);
	assert_int_equal(fx_area_used(f, 1), 0);
	assert_int_equal(fx_area_used(f, 3), 0);
	assert_int_equal(fx_stats(f).area_fallbacks, 0);
	fx_unmap(f, f->dev, a, 100, IOTLB_TO_DEVICE);
}

static void expect_areas(struct fx *f, uint64_t nslots, unsigned requested, unsigned nareas,
			 const uint64_t *sizes)
{
	struct iotlb__pool *pool;
	uint64_t base = 0;
	unsigned a;

	fx_prepare(f, nslots);
	f->cfg.nareas = requested;
	fx_create(f);
	pool = fx_pool(f);
	assert_int_equal(pool->nareas, nareas);
	assert_int_equal(fx_stats(f).nareas, nareas);
	for (a = 0; a < nareas; a++) {
		struct iotlb_area_stats as = IOTLB_AREA_STATS_INIT;

		assert_int_equal(iotlb__area_at(pool, a)->base, base);
		assert_int_equal(iotlb__area_at(pool, a)->nslots, sizes[a]);
		assert_int_equal(iotlb_mem_area_stats(f->mem, 0, a, &as), 0);
		assert_int_equal(as.first_slot, base);
		assert_int_equal(as.nslots, sizes[a]);
		base += sizes[a];
	}
	assert_int_equal(base, nslots);
}

/* 16. Area counts. */
static void test_s16_six_requested_areas_become_eight(void **state)
{
	static const uint64_t sz[8] = {128, 128, 128, 128, 128, 128, 128, 128};

	expect_areas(*state, 1024, 6, 8, sz);
}

static void test_s16_thirty_two_areas_limited_to_sixteen_of_a_segment(void **state)
{
	uint64_t sz[16];
	unsigned i;

	for (i = 0; i < 16; i++)
		sz[i] = 128;
	expect_areas(*state, 2048, 32, 16, sz);
}

static void test_s16_last_area_takes_the_remainder(void **state)
{
	static const uint64_t sz[2] = {128, 256};

	expect_areas(*state, 384, 4, 2, sz);
}

static void test_s16_three_slot_pool_has_one_area(void **state)
{
	static const uint64_t sz[1] = {3};
	struct fx *f = *state;

	expect_areas(f, 3, 1, 1, sz);
	assert_int_equal(fx_list(f, 0), 3);
	assert_int_equal(fx_list(f, 1), 2);
	assert_int_equal(fx_list(f, 2), 1);
}

/* 17. Quick reject: 127 of 128 slots used, a 2-slot request fails without
 * looking at any slot. To prove that no slot is examined, the one free
 * slot's counter is made to claim a 2-slot run: a search would take it. */
static void test_s17_quick_reject_examines_no_slot(void **state)
{
	struct fx *f = *state;
	uint64_t a, b, dma = FX_DMA_SENTINEL;
	struct fx_snap s;

	fx_init(f, 128);
	a = fx_map(f, f->dev, 0, 100, IOTLB_TO_DEVICE);
	b = fx_map(f, f->dev, 0x10000, 126 * 2048, IOTLB_TO_DEVICE);
	assert_int_equal(a, fx_slot_dma(0));
	assert_int_equal(b, fx_slot_dma(2));
	assert_int_equal(fx_area_used(f, 0), 127);
	assert_int_equal(fx_list(f, 1), 1);

	/* A lie only a slot search would believe: slot 2 reads as free. */
	iotlb__area_at(fx_pool(f), 0)->map[0] &= ~((uint64_t)1 << 2);
	fx_snap_take(f, &s);
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0x80000), 4000, IOTLB_TO_DEVICE, 0, &dma),
			 -ENOSPC);
	assert_int_equal(dma, FX_DMA_SENTINEL);
	fx_snap_expect_same(f, &s, FX_ALLOW_NOSPACE);
	iotlb__area_at(fx_pool(f), 0)->map[0] |= (uint64_t)1 << 2;

	fx_unmap(f, f->dev, a, 100, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, b, 126 * 2048, IOTLB_TO_DEVICE);
	fx_assert_list_fresh(f, 0, 128);
}

static void expect_used(struct fx *f, uint64_t used, uint64_t hiwater)
{
	struct iotlb_stats st = fx_stats(f);

	assert_int_equal(st.used, used);
	assert_int_equal(st.used_hiwater, hiwater);
}

/* 18. used / high-water sequence. */
static void test_s18_used_and_hiwater_follow_the_sequence(void **state)
{
	struct fx *f = *state;
	uint64_t m3, m5, m2, m1;

	fx_init(f, 256);
	m3 = fx_map(f, f->dev, 0, 6000, IOTLB_TO_DEVICE);
	m5 = fx_map(f, f->dev, 0x10000, 10000, IOTLB_TO_DEVICE);
	expect_used(f, 8, 8);
	fx_unmap(f, f->dev, m5, 10000, IOTLB_TO_DEVICE);
	expect_used(f, 3, 8);
	m2 = fx_map(f, f->dev, 0x20000, 4000, IOTLB_TO_DEVICE);
	expect_used(f, 5, 8);
	assert_int_equal(iotlb_mem_reset_hiwater(f->mem, 0), 0);
	expect_used(f, 5, 0);
	m1 = fx_map(f, f->dev, 0x30000, 100, IOTLB_TO_DEVICE);
	expect_used(f, 6, 6);
	assert_int_equal(iotlb_mem_reset_hiwater(f->mem, 7), -EINVAL);
	expect_used(f, 6, 6);
	fx_unmap(f, f->dev, m3, 6000, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, m2, 4000, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, m1, 100, IOTLB_TO_DEVICE);
	expect_used(f, 0, 6);
}

/* 19. A pool above 4 GiB: 2^21 + 8 slots, address space only. */
static void test_s19_pool_above_4gib_uses_64bit_slot_addresses(void **state)
{
	struct fx *f = *state;
	const uint64_t nslots = (1ull << 21) + 8, k = (1ull << 21) + 3;
	size_t len = (size_t)(nslots * FX_SLOT);
	void *map = NULL;
	size_t map_len = 0;
	unsigned char *region, *o;
	uint64_t dma = FX_DMA_SENTINEL, i;

	/* the region is only reserved: untouched pages cost nothing */
	region = fx_mmap_aligned(len, 0x10000, true, &map, &map_len);
	fx_prepare(f, 1); /* arena and log; the tiny region is not used */
	f->cfg.vaddr = region;
	f->cfg.size = len;
	f->nslots = nslots;
	fx_create(f);
	assert_int_equal(fx_stats(f).nslots, nslots);
	assert_int_equal(fx_pool(f)->nslots, nslots);
	/* the short final segment of 8 slots */
	for (i = 0; i < 8; i++)
		assert_int_equal(fx_list(f, (1ull << 21) + i), 8 - i);
	assert_int_equal(fx_list(f, (1ull << 21) - 1), 1);

	/* start the search at slot k instead of filling 4 GiB */
	iotlb__area_at(fx_pool(f), 0)->index = k;
	o = fx_orig(f, 0);
	fx_pattern(o, 100, 19);
	assert_int_equal(iotlb_map(f->dev, 0, o, 100, IOTLB_BIDIRECTIONAL, 0, &dma), 0);
	assert_int_equal(dma, FX_B + 0x100001800ull);
	assert_ptr_equal(iotlb_dma_to_virt(f->dev, dma), region + 0x100001800ull);
	assert_true(iotlb_is_bounce(f->dev, dma));
	assert_memory_equal(region + 0x100001800ull, o, 100);
	assert_int_equal(fx_list(f, k), 0);
	assert_int_equal(fx_list(f, k - 1), 1);
	assert_int_equal(fx_list(f, k - 3), 3);
	assert_int_equal(fx_slot(f, k)->orig, fx_addr(o));

	memset(region + 0x100001800ull, 0x77, 100);
	assert_int_equal(iotlb_unmap(f->dev, dma, 100, IOTLB_BIDIRECTIONAL, 0), 0);
	fx_assert_bytes(o, 100, 0x77);
	for (i = 0; i < 8; i++)
		assert_int_equal(fx_list(f, (1ull << 21) + i), 8 - i);
	assert_int_equal(fx_stats(f).used, 0);

	assert_int_equal(iotlb_dev_destroy(f->dev), 0);
	fx_forget_dev(f, f->dev);
	assert_int_equal(iotlb_mem_destroy(f->mem), 0);
	f->mem = NULL;
	munmap(map, map_len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_s10_coherent_alloc_is_naturally_aligned),
		FX_TEST(test_s11_coherent_alloc_rounds_alignment_to_power_of_two),
		FX_TEST(test_s12_sync_past_the_mapping_is_clamped_and_warned),
		FX_TEST(test_s13_map_always_copies_so_no_stale_bytes_leak),
		FX_TEST(test_s14_direction_matrix),
		FX_TEST(test_s15_area_fallback_then_buffer_full),
		FX_TEST(test_s15_queue_hint_selects_area_modulo_count),
		FX_TEST(test_s16_six_requested_areas_become_eight),
		FX_TEST(test_s16_thirty_two_areas_limited_to_sixteen_of_a_segment),
		FX_TEST(test_s16_last_area_takes_the_remainder),
		FX_TEST(test_s16_three_slot_pool_has_one_area),
		FX_TEST(test_s17_quick_reject_examines_no_slot),
		FX_TEST(test_s18_used_and_hiwater_follow_the_sequence),
		FX_TEST(test_s19_pool_above_4gib_uses_64bit_slot_addresses),
	};

	return cmocka_run_group_tests_name("scenarios_10_19", tests, NULL, NULL);
}
