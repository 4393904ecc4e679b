/* SPDX-License-Identifier: MIT */
/*
 * The reference model against worked scenarios 1-9 of
 * docs/algorithm.md#scenarios, so that the model is trusted on its own
 * before it judges the library. Scenarios 10-17 and the handle and padding
 * checks are in test_model_scenarios_10_17.c; several pools and private
 * devices in test_model_pools.c.
 */
#include <errno.h>

#include "scenario_fx.h"

static void test_s01_init_counters(void **state)
{
	struct model m;

	(void)state;
	fixture(&m, 256, 1);
	assert_int_equal(model_free_run(&m, 0), 128);
	assert_int_equal(model_free_run(&m, 1), 127);
	assert_int_equal(model_free_run(&m, 127), 1);
	assert_int_equal(model_free_run(&m, 128), 128);
	assert_int_equal(model_free_run(&m, 255), 1);
	assert_int_equal(m.st.used, 0);
	assert_int_equal(m.nareas, 1);
	assert_int_equal(m.areas[0].nslots, 256);
	assert_runs_consistent(&m);
	model_fini(&m);
}

static void test_s01_short_final_segment_counts_to_pool_end(void **state)
{
	struct model m;

	(void)state;
	fixture(&m, 200, 1);
	assert_int_equal(model_free_run(&m, 128), 72);
	assert_int_equal(model_free_run(&m, 199), 1);
	assert_int_equal(model_free_run(&m, 127), 1);
	assert_runs_consistent(&m);
	model_fini(&m);
}

static void test_s02_map_3000_bytes(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	uint64_t dma = 0;

	(void)state;
	fixture(&m, 256, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x5000, 3000, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, B);
	assert_int_equal(model_free_run(&m, 0), 0);
	assert_int_equal(model_free_run(&m, 1), 0);
	assert_int_equal(m.alloc_size[0], 3000);
	assert_int_equal(m.alloc_size[1], 952);
	assert_true(m.orig_valid[0] && m.orig_valid[1]);
	assert_int_equal(m.orig[0], 0x5000);
	assert_int_equal(m.orig[1], 0x5800);
	assert_int_equal(m.areas[0].index, 2);
	assert_int_equal(m.areas[0].used, 2);
	assert_int_equal(m.st.used, 2);
	assert_int_equal(model_free_run(&m, 2), 126);
	/* the whole mapping is bounced to the device at map time (5.1 step 8) */
	assert_int_equal(m.st.bounced_to_device, 3000);
	assert_runs_consistent(&m);
	model_fini(&m);
}

static void test_s03_page_alignment_for_page_sized_maps(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	uint64_t dma = 0;

	(void)state;
	fixture(&m, 256, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x7000, 100, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, SLOT(0));
	assert_int_equal(m.areas[0].index, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x9000, 4096, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, B + 0x1000);
	assert_int_equal(model_free_run(&m, 1), 1);
	assert_int_equal(m.areas[0].index, 4);
	assert_runs_consistent(&m);
	model_fini(&m);
}

static void test_s04_min_align_keeps_low_bits(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	struct model_copy c;
	uint64_t dma = 0;
	unsigned k;

	(void)state;
	d.min_align_mask = 0xfff;
	fixture(&m, 256, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x12345a00, 4096, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, B + 0xa00);
	assert_int_equal(m.allocs[0].first, 1);
	assert_int_equal(m.allocs[0].nslots, 3);
	assert_int_equal(m.alloc_size[1], 4096);
	assert_int_equal(m.alloc_size[2], 2048);
	assert_int_equal(m.alloc_size[3], 0);
	assert_int_equal(model_free_run(&m, 0), 1);
	assert_int_equal(m.areas[0].index, 4);
	assert_int_equal(model_unmap(&m, &d, dma, 4096, MODEL_TO_DEVICE, 0, &c), 0);
	for (k = 0; k <= 4; k++)
		assert_int_equal(model_free_run(&m, k), 128 - k);
	assert_int_equal(m.st.used, 0);
	assert_false(c.any); /* TO_DEVICE unmap copies nothing back */
	assert_runs_consistent(&m);
	model_fini(&m);
}

static void test_s04_negative_alloc_size_in_last_slot(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	uint64_t dma = 0;

	(void)state;
	d.min_align_mask = 0x7ff;
	fixture(&m, 256, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x40064, 2000, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma & 0x7ff, 0x64);
	assert_int_equal(m.allocs[0].nslots, 2);
	assert_int_equal(m.alloc_size[0], 2000);
	assert_int_equal(m.alloc_size[1], -48);
	model_fini(&m);
}

static void test_s05_free_run_restoration(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	struct model_copy c;
	uint64_t a, b, cc;
	unsigned k;

	(void)state;
	fixture(&m, 256, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 4000, MODEL_TO_DEVICE, &a), 0);
	assert_int_equal(model_map(&m, &d, 0, 0x200000, 5000, MODEL_TO_DEVICE, &b), 0);
	assert_int_equal(model_map(&m, &d, 0, 0x300000, 100, MODEL_TO_DEVICE, &cc), 0);
	assert_int_equal(a, SLOT(0));
	assert_int_equal(b, SLOT(2));
	assert_int_equal(cc, SLOT(5));
	assert_int_equal(model_unmap(&m, &d, b, 5000, MODEL_TO_DEVICE, 0, &c), 0);
	assert_int_equal(model_free_run(&m, 4), 1);
	assert_int_equal(model_free_run(&m, 3), 2);
	assert_int_equal(model_free_run(&m, 2), 3);
	assert_int_equal(model_unmap(&m, &d, a, 4000, MODEL_TO_DEVICE, 0, &c), 0);
	assert_int_equal(model_free_run(&m, 1), 4);
	assert_int_equal(model_free_run(&m, 0), 5);
	assert_int_equal(model_unmap(&m, &d, cc, 100, MODEL_TO_DEVICE, 0, &c), 0);
	for (k = 0; k < 256; k++)
		assert_int_equal(model_free_run(&m, k), 128 - k % 128);
	assert_runs_consistent(&m);
	model_fini(&m);
}

static void test_s06_run_too_short_moves_to_next_segment(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	uint64_t dma = 0;
	unsigned k;

	(void)state;
	fixture(&m, 256, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 204800, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, SLOT(0));
	assert_int_equal(model_map(&m, &d, 0, 0x200000, 81920, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, B + 0x40000);
	for (k = 100; k < 128; k++)
		assert_int_equal(model_free_run(&m, k), 128 - k);
	assert_int_equal(m.areas[0].index, 168);
	assert_runs_consistent(&m);
	model_fini(&m);
}

static void test_s07_largest_mapping_and_too_big(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	uint64_t dma = 0;

	(void)state;
	fixture(&m, 256, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 262144, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, SLOT(0));
	assert_int_equal(m.allocs[0].nslots, 128);
	dma = 0;
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 262145, MODEL_TO_DEVICE, &dma), -E2BIG);
	assert_int_equal(dma, 0);
	assert_int_equal(m.st.map_fail_too_big, 1);
	assert_int_equal(m.st.map_fail_nospace, 0);
	model_fini(&m);
}

static void test_s08_max_mapping_size(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();

	(void)state;
	fixture(&m, 256, 1);
	assert_int_equal(model_max_mapping_size(&m, &d), 262144);
	d.min_align_mask = 0x7ff;
	assert_int_equal(model_max_mapping_size(&m, &d), 260096);
	d.min_align_mask = 0x3;
	assert_int_equal(model_max_mapping_size(&m, &d), 260096);
	d.min_align_mask = 0xfff;
	assert_int_equal(model_max_mapping_size(&m, &d), 258048);
	model_fini(&m);
}

static void test_s08_larger_than_max_mapping_size_may_still_fit(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	uint64_t dma = 0;

	(void)state;
	d.min_align_mask = 0xfff;
	fixture(&m, 256, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 262144, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, SLOT(0));
	model_fini(&m);
}

static void test_s09_segment_boundary(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	uint64_t dma = 0;

	(void)state;
	d.seg_boundary_mask = 0xffff;
	fixture(&m, 256, 1);
	assert_int_equal(model_dev_check(&m, &d), 0);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 40960, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, SLOT(0));
	assert_int_equal(model_map(&m, &d, 0, 0x200000, 40960, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, B + 0x10000);
	assert_int_equal(m.allocs[1].first, 32);
	model_fini(&m);
}

static void test_s09_boundary_is_judged_on_masked_address(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	uint64_t dma = 0;

	(void)state;
	/* the pool starts 16 KiB below a 64 KiB boundary: only 8 slots fit before it */
	d.seg_boundary_mask = 0xffff;
	fixture_at(&m, B + 0xc000, 256, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 40960, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, B + 0x10000);
	assert_int_equal(m.allocs[0].first, 8);
	model_fini(&m);
}

/* The library's test_s09_boundary_of_2_51_bytes_inside_the_pool_is_kept, in
 * the model: a boundary of 2^40 slots, 8 slots into the pool. */
static void test_s09_boundary_of_2_51_bytes_inside_the_pool(void **state)
{
	const uint64_t boundary = (uint64_t)1 << 51;
	struct model m;
	struct model_dev d = plain_dev();
	uint64_t dma = 0;

	(void)state;
	d.seg_boundary_mask = boundary - 1;
	fixture_at(&m, boundary - 8 * 2048, 256, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 40960, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, boundary);
	assert_int_equal(model_map(&m, &d, 0, 0x200000, 16384, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, boundary + 20 * 2048);
	model_fini(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_s01_init_counters),
		cmocka_unit_test(test_s01_short_final_segment_counts_to_pool_end),
		cmocka_unit_test(test_s02_map_3000_bytes),
		cmocka_unit_test(test_s03_page_alignment_for_page_sized_maps),
		cmocka_unit_test(test_s04_min_align_keeps_low_bits),
		cmocka_unit_test(test_s04_negative_alloc_size_in_last_slot),
		cmocka_unit_test(test_s05_free_run_restoration),
		cmocka_unit_test(test_s06_run_too_short_moves_to_next_segment),
		cmocka_unit_test(test_s07_largest_mapping_and_too_big),
		cmocka_unit_test(test_s08_max_mapping_size),
		cmocka_unit_test(test_s08_larger_than_max_mapping_size_may_still_fit),
		cmocka_unit_test(test_s09_segment_boundary),
		cmocka_unit_test(test_s09_boundary_is_judged_on_masked_address),
		cmocka_unit_test(test_s09_boundary_of_2_51_bytes_inside_the_pool),
	};

	return cmocka_run_group_tests_name("model_scenarios_1_9", tests, NULL, NULL);
}
