/* SPDX-License-Identifier: MIT */
/*
 * The reference model against the worked scenarios of ALGORITHM.md section 9
 * (and, through test_model_pools.c, the rules of sections 6 and 7), so that
 * the model is trusted on its own before it judges the library.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "model.h"

/* test_model_pools.c */
int model_pool_tests(void);

#define B 0x10000000ull
#define SLOT(k) (B + (uint64_t)(k) * 0x800)

static void fixture_at(struct model *m, uint64_t dma, uint64_t nslots, unsigned nareas)
{
	struct model_params p = {
		.dma_addr = dma,
		.nslots = nslots,
		.slot_shift = 11,
		.segment_slots = 128,
		.page_size = 4096,
		.nareas_req = nareas,
	};

	assert_int_equal(model_init(m, &p), 0);
}

static void fixture(struct model *m, uint64_t nslots, unsigned nareas)
{
	fixture_at(m, B, nslots, nareas);
}

static struct model_dev plain_dev(void)
{
	struct model_dev d = { .id = 1, .seg_boundary_mask = UINT64_MAX };

	return d;
}

/* The linear walk and the per-slot count must agree everywhere. */
static void assert_runs_consistent(const struct model *m)
{
	uint32_t *runs = calloc(m->p.nslots, sizeof(*runs));
	uint64_t i;

	assert_non_null(runs);
	model_free_runs(m, runs);
	for (i = 0; i < m->p.nslots; i++)
		assert_int_equal(runs[i], model_free_run(m, i));
	free(runs);
}

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
	assert_int_equal(model_sync(&m, &d, dma + 0x900, 4000 - 0x900, MODEL_FROM_DEVICE, true,
				    &c),
			 0);
	assert_false(c.clamped);
	assert_int_equal(c.size, 4000 - 0x900);
	assert_int_equal(model_sync(&m, &d, dma + 0x900, 4001 - 0x900, MODEL_FROM_DEVICE, true,
				    &c),
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
	assert_int_equal(model_unmap(&m, &d, dma, 1000, MODEL_FROM_DEVICE,
				     MODEL_ATTR_SKIP_CPU_SYNC, &c),
			 0);
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

	/* the rules of several pools and private devices: test_model_pools.c */
	return cmocka_run_group_tests_name("model_scenarios", tests, NULL, NULL) +
	       model_pool_tests();
}
