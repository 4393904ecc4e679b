/* SPDX-License-Identifier: MIT */
/*
 * Worked scenarios 1-9 of docs/algorithm.md#scenarios (free runs, streaming
 * placement, min-align, segments, the largest mapping, boundaries), with
 * the exact slot numbers, counters, cursors and addresses given there.
 * Scenarios 10-19 are in test_scenarios_10_19.c, 20 in test_concurrency.c.
 */
#include "fixture.h"

#include <unistd.h>

/* 1. Init, 256 slots. */
static void test_s01_init_sets_free_runs_per_segment(void **state)
{
	struct fx *f = *state;
	struct iotlb_stats st;

	fx_init(f, 256);
	assert_int_equal(fx_list(f, 0), 128);
	assert_int_equal(fx_list(f, 1), 127);
	assert_int_equal(fx_list(f, 127), 1);
	assert_int_equal(fx_list(f, 128), 128);
	assert_int_equal(fx_list(f, 255), 1);
	fx_assert_list_fresh(f, 0, 256);
	st = fx_stats(f);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.nslots, 256);
	assert_int_equal(fx_area_used(f, 0), 0);
	assert_int_equal(fx_cursor(f, 0), 0);
}

/* 2. map(orig 0x5000, 3000 B, TO_DEVICE) -> B. */
static void test_s02_map_3000_bytes_takes_two_slots(void **state)
{
	struct fx *f = *state;
	unsigned char *o;
	uint64_t dma;

	fx_init(f, 256);
	o = fx_orig(f, 0x5000);
	fx_pattern(o, 3000, 2);
	dma = fx_map(f, f->dev, 0x5000, 3000, IOTLB_TO_DEVICE);
	assert_int_equal(dma, FX_B);
	assert_int_equal(fx_list(f, 0), 0);
	assert_int_equal(fx_list(f, 1), 0);
	assert_int_equal(fx_list(f, 2), 126);
	assert_true(fx_slot(f, 0)->alloc_size == 3000);
	assert_true(fx_slot(f, 1)->alloc_size == 952);
	assert_int_equal(fx_slot(f, 0)->orig, fx_addr(o));
	assert_int_equal(fx_slot(f, 1)->orig, fx_addr(o) + 0x800);
	assert_int_equal(fx_cursor(f, 0), 2);
	assert_int_equal(fx_area_used(f, 0), 2);
	assert_int_equal(fx_stats(f).used, 2);
	assert_memory_equal(fx_bounce(f, dma), o, 3000);
	fx_unmap(f, f->dev, dma, 3000, IOTLB_TO_DEVICE);
	fx_assert_list_fresh(f, 0, 256);
}

/* 3. A page-sized mapping is page aligned (slot 2, not 1). */
static void test_s03_page_sized_map_is_page_aligned(void **state)
{
	struct fx *f = *state;
	uint64_t a, b;

	fx_init(f, 256);
	a = fx_map(f, f->dev, 0, 100, IOTLB_TO_DEVICE);
	assert_int_equal(a, FX_B);
	assert_int_equal(fx_cursor(f, 0), 1);
	b = fx_map(f, f->dev, 0x10000, 4096, IOTLB_TO_DEVICE);
	assert_int_equal(b, FX_B + 0x1000);
	assert_int_equal(fx_list(f, 1), 1);
	assert_int_equal(fx_cursor(f, 0), 4);
	fx_unmap(f, f->dev, b, 4096, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, a, 100, IOTLB_TO_DEVICE);
	fx_assert_list_fresh(f, 0, 256);
}

/* 4. min_align 0xfff, orig ...a00, 4096 B -> B+0xa00 over slots 1..3. */
static void test_s04_min_align_keeps_low_bits_of_orig(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;
	unsigned char *o;
	uint64_t dma;
	unsigned i;

	fx_init(f, 256);
	d = fx_dev(f, 0xfff, 0, 0);
	o = fx_orig(f, 0x45a00); /* low 12 bits as 0x12345a00 */
	fx_pattern(o, 4096, 4);
	dma = fx_map(f, d, 0x45a00, 4096, IOTLB_TO_DEVICE);
	assert_int_equal(dma, FX_B + 0xa00);
	assert_int_equal(dma & 0xfff, fx_addr(o) & 0xfff);
	assert_true(fx_slot(f, 1)->alloc_size == 4096);
	assert_true(fx_slot(f, 2)->alloc_size == 2048);
	assert_true(fx_slot(f, 3)->alloc_size == 0);
	assert_int_equal(fx_slot(f, 1)->orig, fx_addr(o));
	assert_int_equal(fx_slot(f, 2)->orig, fx_addr(o) + 0x800);
	assert_int_equal(fx_slot(f, 3)->orig, fx_addr(o) + 0x1000);
	assert_int_equal(fx_list(f, 0), 1);
	for (i = 1; i <= 3; i++)
		assert_int_equal(fx_list(f, i), 0);
	assert_int_equal(fx_cursor(f, 0), 4);
	assert_int_equal(fx_stats(f).used, 3);
	assert_memory_equal(fx_bounce(f, dma), o, 4096);

	fx_unmap(f, d, dma, 4096, IOTLB_TO_DEVICE);
	for (i = 0; i <= 4; i++)
		assert_int_equal(fx_list(f, i), 128 - i);
	assert_int_equal(fx_stats(f).used, 0);
	fx_assert_list_fresh(f, 0, 256);
}

/* 5. Take A=2, B=3, C=1 slots; free B, A, C. */
static void test_s05_free_runs_merge_on_release(void **state)
{
	struct fx *f = *state;
	uint64_t a, b, c;

	fx_init(f, 256);
	a = fx_map(f, f->dev, 0x0, 4000, IOTLB_TO_DEVICE);
	b = fx_map(f, f->dev, 0x10000, 6000, IOTLB_TO_DEVICE);
	c = fx_map(f, f->dev, 0x20000, 100, IOTLB_TO_DEVICE);
	assert_int_equal(a, fx_slot_dma(0));
	assert_int_equal(b, fx_slot_dma(2));
	assert_int_equal(c, fx_slot_dma(5));
	assert_int_equal(fx_list(f, 6), 122);

	fx_unmap(f, f->dev, b, 6000, IOTLB_TO_DEVICE);
	assert_int_equal(fx_list(f, 4), 1);
	assert_int_equal(fx_list(f, 3), 2);
	assert_int_equal(fx_list(f, 2), 3);
	assert_int_equal(fx_list(f, 1), 0);
	assert_int_equal(fx_list(f, 5), 0);

	fx_unmap(f, f->dev, a, 4000, IOTLB_TO_DEVICE);
	assert_int_equal(fx_list(f, 1), 4);
	assert_int_equal(fx_list(f, 0), 5);

	fx_unmap(f, f->dev, c, 100, IOTLB_TO_DEVICE);
	assert_int_equal(fx_list(f, 5), 123);
	fx_assert_list_fresh(f, 0, 256);
	assert_int_equal(fx_stats(f).used, 0);
}

/* 6. 100 slots then 40 slots: the 40 go to the next segment. */
static void test_s06_run_never_crosses_a_segment(void **state)
{
	struct fx *f = *state;
	uint64_t a, b, i;

	fx_init(f, 256);
	a = fx_map(f, f->dev, 0, 204800, IOTLB_TO_DEVICE);
	assert_int_equal(a, FX_B);
	b = fx_map(f, f->dev, 0x40000, 81920, IOTLB_TO_DEVICE);
	assert_int_equal(b, FX_B + 0x40000);
	for (i = 100; i < 128; i++)
		assert_int_equal(fx_list(f, i), 128 - i);
	assert_int_equal(fx_cursor(f, 0), 168);
	assert_int_equal(fx_stats(f).used, 140);
	fx_unmap(f, f->dev, a, 204800, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, b, 81920, IOTLB_TO_DEVICE);
	fx_assert_list_fresh(f, 0, 256);
}

/* 7. A full segment fits; one byte more can never fit. */
static void test_s07_full_segment_fits_one_more_byte_is_too_big(void **state)
{
	struct fx *f = *state;
	uint64_t a, dma = FX_DMA_SENTINEL;

	fx_init(f, 256);
	a = fx_map(f, f->dev, 0, 262144, IOTLB_TO_DEVICE);
	assert_int_equal(a, FX_B);
	assert_int_equal(fx_stats(f).used, 128);
	assert_int_equal(
		iotlb_map(f->dev, 0, fx_orig(f, 0x100000), 262145, IOTLB_TO_DEVICE, 0, &dma),
		-E2BIG);
	assert_int_equal(dma, FX_DMA_SENTINEL);
	assert_int_equal(fx_stats(f).map_fail_too_big, 1);
	assert_int_equal(fx_stats(f).used, 128);
	fx_unmap(f, f->dev, a, 262144, IOTLB_TO_DEVICE);
}

/* 8. max_mapping_size per min_align_mask. */
static void test_s08_max_mapping_size_depends_on_min_align(void **state)
{
	struct fx *f = *state;

	fx_init(f, 256);
	assert_int_equal(iotlb_max_mapping_size(f->dev), 262144);
	assert_int_equal(iotlb_max_mapping_size(fx_dev(f, 0x7ff, 0, 0)), 260096);
	assert_int_equal(iotlb_max_mapping_size(fx_dev(f, 0x3, 0, 0)), 260096);
	assert_int_equal(iotlb_max_mapping_size(fx_dev(f, 0xfff, 0, 0)), 258048);
	assert_int_equal(iotlb_max_mapping_size(NULL), 0);
}

/* 9. seg_boundary 0xffff: the second 20-slot run goes to slot 32. */
static void test_s09_boundary_mask_moves_run_past_boundary(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;
	uint64_t a, b;

	fx_init(f, 256);
	d = fx_dev(f, 0, 0, 0xffff);
	a = fx_map(f, d, 0, 40960, IOTLB_TO_DEVICE);
	assert_int_equal(a, FX_B);
	b = fx_map(f, d, 0x20000, 40960, IOTLB_TO_DEVICE);
	assert_int_equal(b, FX_B + 0x10000);
	assert_int_equal(b, fx_slot_dma(32));
	/* slots 20..31 stay free */
	assert_int_equal(fx_list(f, 20), 12);
	fx_unmap(f, d, a, 40960, IOTLB_TO_DEVICE);
	fx_unmap(f, d, b, 40960, IOTLB_TO_DEVICE);
	fx_assert_list_fresh(f, 0, 256);
}

/*
 * 9, with a boundary far above the slot size (2^51 bytes, 2^40 slots) that
 * falls inside the pool, 8 slots from its start. From the cursor on slot 0 a
 * 20-slot run would cross it, at slots 2, 4 and 6 too (page-aligned steps),
 * so the first fit is slot 8, on the boundary; slots 0-7 stay free for runs
 * that end on it.
 */
static void test_s09_boundary_of_2_51_bytes_inside_the_pool_is_kept(void **state)
{
	const uint64_t boundary = (uint64_t)1 << 51;
	struct fx *f = *state;
	struct iotlb_dev *d;
	uint64_t a, b;

	fx_prepare(f, 256);
	f->cfg.dma_addr = boundary - 8 * FX_SLOT;
	fx_create(f);
	d = fx_dev(f, 0, 0, boundary - 1);
	a = fx_map(f, d, 0, 40960, IOTLB_TO_DEVICE);
	assert_int_equal(a, boundary);
	assert_int_equal(fx_list(f, 0), 8);
	/* Next fit goes on from the cursor, after the run (slot 28). */
	b = fx_map(f, d, 0x20000, 8 * FX_SLOT, IOTLB_TO_DEVICE);
	assert_int_equal(b, boundary + 20 * FX_SLOT);
	fx_unmap(f, d, a, 40960, IOTLB_TO_DEVICE);
	fx_unmap(f, d, b, 8 * FX_SLOT, IOTLB_TO_DEVICE);
	fx_assert_list_fresh(f, 0, 256);
}

/* 10. alloc(8192) after a 1-slot map lands on slot 4, 8 KiB aligned. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_s01_init_sets_free_runs_per_segment),
		FX_TEST(test_s02_map_3000_bytes_takes_two_slots),
		FX_TEST(test_s03_page_sized_map_is_page_aligned),
		FX_TEST(test_s04_min_align_keeps_low_bits_of_orig),
		FX_TEST(test_s05_free_runs_merge_on_release),
		FX_TEST(test_s06_run_never_crosses_a_segment),
		FX_TEST(test_s07_full_segment_fits_one_more_byte_is_too_big),
		FX_TEST(test_s08_max_mapping_size_depends_on_min_align),
		FX_TEST(test_s09_boundary_mask_moves_run_past_boundary),
		FX_TEST(test_s09_boundary_of_2_51_bytes_inside_the_pool_is_kept),
	};

	return cmocka_run_group_tests_name("scenarios_1_9", tests, NULL, NULL);
}
