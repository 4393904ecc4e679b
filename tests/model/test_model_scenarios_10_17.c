/* SPDX-License-Identifier: MIT */
/*
 * The reference model against worked scenarios 10-17 of
 * docs/algorithm.md#scenarios, the handle checks and padding slots with an
 * allocation alignment, so that the model is trusted on its own before it
 * judges the library. Scenarios 1-9 are in test_model_scenarios_1_9.c.
 */
#include <errno.h>

#include "scenario_fx.h"

static void test_s10_coherent_alloc_is_naturally_aligned(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	uint64_t dma = 0;

	(void)state;
	fixture(&m, 256, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 100, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, SLOT(0));
	assert_int_equal(m.areas[0].index, 1);
	assert_int_equal(model_alloc(&m, &d, 0, 8192, &dma), 0);
	assert_int_equal(dma, B + 0x2000);
	assert_int_equal(m.allocs[1].first, 4);
	assert_int_equal(model_free_run(&m, 1), 3);
	assert_false(m.orig_valid[4]);
	model_fini(&m);
}

static void test_s11_coherent_alloc_rounds_to_power_of_two(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	uint64_t dma = 0, c = 0;

	(void)state;
	fixture(&m, 256, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 100, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(m.areas[0].index, 1);
	assert_int_equal(model_alloc(&m, &d, 0, 12288, &c), 0);
	assert_int_equal(c, B + 0x4000);
	assert_int_equal(m.allocs[1].first, 8);
	assert_int_equal(m.allocs[1].nslots, 6);
	assert_int_equal(m.st.used, 7);
	/* a coherent handle is not a streaming one, and vice versa */
	assert_int_equal(model_free(&m, &d, dma, 100), -ENOENT);
	assert_int_equal(model_free(&m, &d, c, 12288), 0);
	assert_int_equal(m.st.used, 1);
	assert_int_equal(model_free_run(&m, 8), 120);
	assert_int_equal(model_free_run(&m, 1), 127);
	assert_runs_consistent(&m);
	model_fini(&m);
}

static void test_s12_overflow_clamp(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	struct model_copy c;
	uint64_t dma = 0;

	(void)state;
	fixture(&m, 256, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 1000, MODEL_FROM_DEVICE, &dma), 0);
	assert_int_equal(model_sync(&m, &d, dma, 1001, MODEL_FROM_DEVICE, true, &c), 0);
	assert_true(c.any && c.to_cpu && c.clamped);
	assert_int_equal(c.size, 1000);
	assert_int_equal(c.orig, 0x100000);
	assert_int_equal(m.st.overflow_clamps, 1);
	model_fini(&m);
}

static void test_s12_partial_sync_at_negative_delta(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	struct model_copy c;
	uint64_t dma = 0;

	(void)state;
	/* original ends in 0x700: the second slot's first 0x700 bytes are data too */
	d.min_align_mask = 0x7ff;
	fixture(&m, 256, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x100700, 4000, MODEL_FROM_DEVICE, &dma), 0);
	assert_int_equal(dma, B + 0x700);
	/* bounce byte 0x900 of the mapping starts slot 2, inside its first 0x700 bytes */
	assert_int_equal(model_sync(&m, &d, dma + 0x900, 16, MODEL_FROM_DEVICE, true, &c), 0);
	assert_true(c.any && !c.clamped);
	assert_int_equal(c.orig, 0x100700 + 0x900);
	assert_int_equal(c.bounce, dma + 0x900);
	/* the whole rest of the mapping is available, no clamp */
	assert_int_equal(model_sync(&m, &d, dma + 0x900, 4000 - 0x900, MODEL_FROM_DEVICE, true, &c),
			 0);
	assert_false(c.clamped);
	assert_int_equal(c.size, 4000 - 0x900);
	assert_int_equal(model_sync(&m, &d, dma + 0x900, 4001 - 0x900, MODEL_FROM_DEVICE, true, &c),
			 0);
	assert_true(c.clamped);
	assert_int_equal(c.size, 4000 - 0x900);
	model_fini(&m);
}

static void test_s14_direction_matrix(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	struct model_copy c;
	uint64_t dma = 0;

	(void)state;
	fixture(&m, 256, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 1000, MODEL_BIDIRECTIONAL, &dma), 0);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 1000, MODEL_DIR_NONE, &dma), -EINVAL);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 0, MODEL_TO_DEVICE, &dma), -EINVAL);
	assert_int_equal(model_sync(&m, &d, dma, 10, MODEL_TO_DEVICE, false, &c), 0);
	assert_true(c.any && !c.to_cpu);
	assert_int_equal(model_sync(&m, &d, dma, 10, MODEL_FROM_DEVICE, false, &c), 0);
	assert_false(c.any);
	assert_int_equal(model_sync(&m, &d, dma, 10, MODEL_BIDIRECTIONAL, false, &c), 0);
	assert_true(c.any && !c.to_cpu);
	assert_int_equal(model_sync(&m, &d, dma, 10, MODEL_FROM_DEVICE, true, &c), 0);
	assert_true(c.any && c.to_cpu);
	assert_int_equal(model_sync(&m, &d, dma, 10, MODEL_TO_DEVICE, true, &c), 0);
	assert_false(c.any);
	assert_int_equal(model_sync(&m, &d, dma, 10, MODEL_BIDIRECTIONAL, true, &c), 0);
	assert_true(c.any && c.to_cpu);
	assert_int_equal(model_sync(&m, &d, dma, 10, MODEL_DIR_NONE, true, &c), -EINVAL);
	assert_int_equal(model_unmap(&m, &d, dma, 1000, MODEL_DIR_NONE, 0, &c), -EINVAL);
	assert_int_equal(model_unmap(&m, &d, dma, 1000, MODEL_TO_DEVICE, 0, &c), 0);
	assert_false(c.any);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 1000, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(
		model_unmap(&m, &d, dma, 1000, MODEL_FROM_DEVICE, MODEL_ATTR_SKIP_CPU_SYNC, &c), 0);
	assert_false(c.any);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 1000, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(model_unmap(&m, &d, dma, 1000, MODEL_BIDIRECTIONAL, 0, &c), 0);
	assert_true(c.any && c.to_cpu);
	assert_int_equal(c.size, 1000);
	model_fini(&m);
}

static void test_s15_area_fallback_and_no_space(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	uint64_t dma = 0;

	(void)state;
	fixture(&m, 256, 2);
	assert_int_equal(m.nareas, 2);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 262144, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, SLOT(0));
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 262144, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, SLOT(128));
	assert_true(m.last_fallback);
	assert_int_equal(m.last_area, 1);
	dma = 1;
	assert_int_equal(model_map(&m, &d, 1, 0x100000, 4096, MODEL_TO_DEVICE, &dma), -ENOSPC);
	assert_int_equal(dma, 1);
	assert_int_equal(m.st.used, 256);
	assert_int_equal(m.st.map_fail_nospace, 1);
	assert_true(m.last_fallback);
	assert_int_equal(m.st.area_fallbacks, 2);
	model_fini(&m);

	fixture(&m, 1024, 4);
	assert_int_equal(m.nareas, 4);
	assert_int_equal(model_map(&m, &d, 6, 0x100000, 100, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, SLOT(512));
	assert_int_equal(m.last_area, 2);
	assert_false(m.last_fallback);
	model_fini(&m);
}

static void test_s16_area_counts(void **state)
{
	struct model m;

	(void)state;
	assert_int_equal(model_nareas_for(6, 1u << 20, 128), 8);
	assert_int_equal(model_nareas_for(32, 2048, 128), 16);
	fixture(&m, 2048, 32);
	assert_int_equal(m.nareas, 16);
	assert_int_equal(m.areas[15].base, 15 * 128);
	assert_int_equal(m.areas[15].nslots, 128);
	model_fini(&m);

	fixture(&m, 384, 4);
	assert_int_equal(m.nareas, 2);
	assert_int_equal(m.areas[0].base, 0);
	assert_int_equal(m.areas[0].nslots, 128);
	assert_int_equal(m.areas[1].base, 128);
	assert_int_equal(m.areas[1].nslots, 256);
	assert_int_equal(model_area_of_slot(&m, 383), 1);
	model_fini(&m);

	fixture(&m, 3, 8);
	assert_int_equal(m.nareas, 1);
	assert_int_equal(m.areas[0].nslots, 3);
	assert_int_equal(model_free_run(&m, 0), 3);
	model_fini(&m);

	/* a non-power-of-two request rounds up; the limit rounds down */
	assert_int_equal(model_nareas_for(3, 1u << 20, 128), 4);
	assert_int_equal(model_nareas_for(5, 6 * 128, 128), 4);
	assert_int_equal(model_nareas_for(16, 100, 128), 1);
}

static void test_s17_quick_reject_examines_nothing(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	uint64_t dma = 0;

	(void)state;
	fixture(&m, 128, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 127 * 2048, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(m.areas[0].used, 127);
	assert_int_equal(model_map(&m, &d, 0, 0x200000, 3000, MODEL_TO_DEVICE, &dma), -ENOSPC);
	assert_int_equal(m.examined, 0);
	/* one area: nothing to fall back to */
	assert_false(m.last_fallback);
	assert_int_equal(m.st.area_fallbacks, 0);
	/* a 1-slot request passes the quick reject and searches */
	assert_int_equal(model_map(&m, &d, 0, 0x200000, 100, MODEL_TO_DEVICE, &dma), 0);
	assert_true(m.examined > 0);
	assert_int_equal(dma, SLOT(127));
	model_fini(&m);
}

static void test_handles_are_checked(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	struct model_dev e = plain_dev();
	struct model_copy c;
	uint64_t dma = 0;

	(void)state;
	e.id = 2;
	fixture(&m, 256, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 5000, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(model_unmap(&m, &d, dma + 1, 5000, MODEL_TO_DEVICE, 0, &c), -ENOENT);
	assert_int_equal(model_unmap(&m, &e, dma, 5000, MODEL_TO_DEVICE, 0, &c), -ENOENT);
	assert_int_equal(model_sync(&m, &e, dma, 10, MODEL_TO_DEVICE, true, &c), -ENOENT);
	assert_int_equal(model_sync(&m, &d, dma + 4999, 1, MODEL_TO_DEVICE, true, &c), 0);
	/* the data runs to the end of the allocation's bytes, not of its slots */
	assert_int_equal(model_classify(&m, &d, dma + 4999), MODEL_ADDR_DATA);
	assert_int_equal(model_classify(&m, &d, dma + 5000), MODEL_ADDR_NOT_DATA);
	assert_int_equal(model_unmap(&m, &d, dma, 0, MODEL_TO_DEVICE, 0, &c), -EINVAL);
	assert_int_equal(model_sync(&m, &d, dma, 0, MODEL_TO_DEVICE, true, &c), -EINVAL);
	assert_int_equal(model_classify(&m, &d, SLOT(3)), MODEL_ADDR_NOT_DATA);
	assert_int_equal(model_unmap(&m, &d, dma, 5000, MODEL_TO_DEVICE, 0, &c), 0);
	assert_int_equal(model_unmap(&m, &d, dma, 5000, MODEL_TO_DEVICE, 0, &c), -ENOENT);
	assert_int_equal(model_classify(&m, &d, dma), MODEL_ADDR_NOT_DATA);
	model_fini(&m);
}

static void test_padding_slots_with_alloc_align(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	struct model_copy c;
	uint64_t dma = 0;

	(void)state;
	/* min-align bits inside the allocation alignment become padding slots (5.1) */
	d.min_align_mask = 0xfff;
	d.alloc_align_mask = 0xfff;
	fixture(&m, 256, 1);
	assert_int_equal(model_map(&m, &d, 0, 0x100a00, 1000, MODEL_FROM_DEVICE, &dma), 0);
	/* offset 0xa00: one padding slot, data at in-slot offset 0x200 */
	assert_int_equal(dma, B + 0xa00);
	assert_int_equal(m.allocs[0].first, 0);
	assert_int_equal(m.allocs[0].nslots, 2);
	assert_int_equal(m.pad_slots[1], 1);
	assert_false(m.orig_valid[0]);
	assert_int_equal(m.orig[1], 0x100a00);
	assert_int_equal(m.alloc_size[0], 4096 - 0x200);
	assert_int_equal(m.alloc_size[1], 4096 - 0x200 - 2048);
	assert_int_equal(model_slot_kind(&m, 0), MODEL_SLOT_PAD);
	assert_int_equal(model_slot_kind(&m, 1), MODEL_SLOT_MAP_HEAD);
	assert_int_equal(model_classify(&m, &d, SLOT(0)), MODEL_ADDR_NOT_DATA);
	/* before the handle in its slot, and past the mapped bytes (libiotlb:
	 * the kernel would accept the round-up up to dma + 1535): not data */
	assert_int_equal(model_classify(&m, &d, dma - 1), MODEL_ADDR_NOT_DATA);
	assert_int_equal(model_classify(&m, &d, dma + 999), MODEL_ADDR_DATA);
	assert_int_equal(model_classify(&m, &d, dma + 1000), MODEL_ADDR_NOT_DATA);
	assert_int_equal(model_classify(&m, &d, dma + 1535), MODEL_ADDR_NOT_DATA);
	/* a sync running past the mapped bytes is clamped to them, never to
	 * the alignment round-up behind the caller's buffer */
	assert_int_equal(model_sync(&m, &d, dma + 900, 400, MODEL_FROM_DEVICE, true, &c), 0);
	assert_true(c.clamped);
	assert_int_equal(c.size, 100);
	assert_int_equal(c.orig, 0x100a00 + 900);
	assert_int_equal(model_unmap(&m, &d, dma, 1000, MODEL_FROM_DEVICE, 0, &c), 0);
	assert_true(c.any && c.size == 1000 && c.orig == 0x100a00);
	assert_int_equal(m.st.used, 0);
	assert_int_equal(m.pad_slots[1], 0);
	model_fini(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_s10_coherent_alloc_is_naturally_aligned),
		cmocka_unit_test(test_s11_coherent_alloc_rounds_to_power_of_two),
		cmocka_unit_test(test_s12_overflow_clamp),
		cmocka_unit_test(test_s12_partial_sync_at_negative_delta),
		cmocka_unit_test(test_s14_direction_matrix),
		cmocka_unit_test(test_s15_area_fallback_and_no_space),
		cmocka_unit_test(test_s16_area_counts),
		cmocka_unit_test(test_s17_quick_reject_examines_nothing),
		cmocka_unit_test(test_handles_are_checked),
		cmocka_unit_test(test_padding_slots_with_alloc_align),
	};

	return cmocka_run_group_tests_name("model_scenarios_10_17", tests, NULL, NULL);
}
