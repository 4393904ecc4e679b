/* SPDX-License-Identifier: MIT */
/*
 * The reference model against the rules of several pools (docs/algorithm.md
 * #growth: area-major search, lookups, add_pool refusals) and of private
 * devices (#blocks: first-fit carving, its refusals, restore on destroy).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "model.h"

#define B 0x10000000ull
#define B2 0x20000000ull
#define B3 0x30000000ull
#define VA1 0x7f0000000000ull
#define VA2 0x7f0010000000ull
#define VA3 0x7f0020000000ull

static struct model_dev plain_dev(void)
{
	struct model_dev d = {.id = 1, .seg_boundary_mask = UINT64_MAX};

	return d;
}

static void three_pools(struct model *m)
{
	struct model_params p = {
		.dma_addr = B,
		.nslots = 256,
		.slot_shift = 11,
		.segment_slots = 128,
		.page_size = 4096,
		.nareas_req = 4,
		.vaddr = VA1,
	};

	/* 256 slots -> 2 areas; 128 slots -> 1 area; 512 slots -> 4 areas */
	assert_int_equal(model_init(m, &p), 0);
	assert_int_equal(model_add_pool(m, VA2, B2, 128 * 2048), 0);
	assert_int_equal(model_add_pool(m, VA3, B3, 512 * 2048), 0);
	assert_int_equal(m->shared.npools, 3);
	assert_int_equal(m->shared.pools[0]->nareas, 2);
	assert_int_equal(m->shared.pools[1]->nareas, 1);
	assert_int_equal(m->shared.pools[2]->nareas, 4);
	assert_int_equal(m->shared.pools[2]->index, 2);
	assert_int_equal(m->shared.max_nareas, 4);
	assert_int_equal(m->shared.nslots, 896);
}

static void test_pools_are_searched_area_major_newest_first(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	uint64_t dma = 0;

	(void)state;
	three_pools(&m);
	/* k = 0: the newest pool's area hint & 3 first */
	assert_int_equal(model_map(&m, &d, 1, 0x100000, 262144, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, B3 + 128 * 0x800);
	assert_false(m.last_fallback);
	/* that area is full: the next pool's first choice (its only area) */
	assert_int_equal(model_map(&m, &d, 1, 0x100000, 262144, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, B2);
	assert_true(m.last_fallback);
	/* then the oldest pool's first choice, area 1 & 1, before any k = 1 */
	assert_int_equal(model_map(&m, &d, 1, 0x100000, 262144, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, B + 128 * 0x800);
	assert_int_equal(m.last_area, 1);
	assert_ptr_equal(m.last_pool, m.shared.pools[0]);
	/* k = 1: the newest pool's area 2 */
	assert_int_equal(model_map(&m, &d, 1, 0x100000, 262144, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, B3 + 256 * 0x800);
	/* hint 2: the oldest pool's first choice is area 0, still at k = 0 */
	assert_int_equal(model_alloc(&m, &d, 2, 262144, &dma), 0);
	assert_int_equal(dma, B);
	/* k = 2, 3: only the newest pool has such areas */
	assert_int_equal(model_map(&m, &d, 1, 0x100000, 262144, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, B3 + 384 * 0x800);
	assert_int_equal(model_map(&m, &d, 1, 0x100000, 262144, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, B3);
	dma = 1;
	assert_int_equal(model_map(&m, &d, 1, 0x100000, 100, MODEL_TO_DEVICE, &dma), -ENOSPC);
	assert_int_equal(dma, 1);
	/* every request after the first made a second attempt, counted once each */
	assert_int_equal(m.st.area_fallbacks, 7);
	assert_int_equal(m.st.used, 896);
	assert_int_equal(m.shared.pools[2]->areas[1].used, 128);
	model_fini(&m);
}

static void test_lookups_find_the_pool_owning_the_address(void **state)
{
	struct model m;
	struct model_dev d = plain_dev();
	struct model_copy c;
	uint64_t a, b;

	(void)state;
	three_pools(&m);
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 5000, MODEL_FROM_DEVICE, &a), 0);
	assert_int_equal(a, B3);
	/* area 0 of the newest pool keeps 125 free, too few: the next pool's */
	assert_int_equal(model_alloc(&m, &d, 0, 262144, &b), 0);
	assert_int_equal(b, B2);
	assert_int_equal(model_classify(&m, &d, a + 4999), MODEL_ADDR_DATA);
	assert_int_equal(model_classify(&m, &d, B2), MODEL_ADDR_NOT_DATA);
	assert_ptr_equal(model_domain_find_pool(&m, &m.shared, B2 + 128 * 2048 - 1),
			 m.shared.pools[1]);
	assert_null(model_domain_find_pool(&m, &m.shared, B2 + 128 * 2048));
	assert_int_equal(model_sync(&m, &d, a + 100, 10, MODEL_FROM_DEVICE, true, &c), 0);
	assert_int_equal(c.orig, 0x100000 + 100);
	assert_int_equal(model_unmap(&m, &d, a, 5000, MODEL_FROM_DEVICE, 0, &c), 0);
	assert_int_equal(model_free(&m, &d, b, 262144), 0);
	assert_int_equal(m.st.used, 0);
	assert_int_equal(model_pool_free_run(&m, m.shared.pools[2], 0), 128);
	assert_int_equal(model_pool_free_run(&m, m.shared.pools[1], 0), 128);
	model_fini(&m);
}

static void test_add_pool_refusals_change_nothing(void **state)
{
	struct model m;

	(void)state;
	three_pools(&m);
	/* CPU or device range overlapping, at the start, inside, across the end */
	assert_int_equal(model_add_pool(&m, VA1, 0x40000000, 4096), -EINVAL);
	assert_int_equal(model_add_pool(&m, VA1 + 255 * 2048, 0x40000000, 4096), -EINVAL);
	assert_int_equal(model_add_pool(&m, VA1 - 4096, 0x40000000, 8192), -EINVAL);
	assert_int_equal(model_add_pool(&m, 0x7f0030000000, B3 + 4096, 4096), -EINVAL);
	assert_int_equal(model_add_pool(&m, 0x7f0030000000, B2 - 4096, 8192), -EINVAL);
	/* unaligned, not whole slots, empty, NULL */
	assert_int_equal(model_add_pool(&m, 0x7f0030000800, 0x40000000, 4096), -EINVAL);
	assert_int_equal(model_add_pool(&m, 0x7f0030000000, 0x40000800, 4096), -EINVAL);
	assert_int_equal(model_add_pool(&m, 0x7f0030000000, 0x40000000, 4097), -EINVAL);
	assert_int_equal(model_add_pool(&m, 0x7f0030000000, 0x40000000, 0), -EINVAL);
	assert_int_equal(model_add_pool(&m, 0, 0x40000000, 4096), -EINVAL);
	assert_int_equal(m.shared.npools, 3);
	assert_int_equal(m.shared.nslots, 896);
	/* right after the end of a pool is fine; a short pool gets one area */
	assert_int_equal(model_add_pool(&m, VA1 + 256 * 2048, B + 256 * 2048, 3 * 2048), 0);
	assert_int_equal(m.shared.pools[3]->nareas, 1);
	assert_int_equal(m.shared.pools[3]->areas[0].nslots, 3);
	model_fini(&m);
}

/* ------------------------------------------------------------ section 6 */

static void blocks_fixture(struct model *m, uint64_t nslots)
{
	struct model_params p = {
		.dma_addr = B,
		.nslots = nslots,
		.slot_shift = 11,
		.segment_slots = 128,
		.page_size = 4096,
		.nareas_req = 4,
		.vaddr = VA1,
	};

	assert_int_equal(model_init(m, &p), 0);
	assert_int_equal(m->block_slots, 1024);
}

static void test_carving_is_first_fit_of_free_blocks(void **state)
{
	struct model m;
	struct model_dev d = plain_dev(), p1 = plain_dev();
	const struct model_private *pv;
	const struct model_pool *pp;
	uint64_t dma = 0, k;

	(void)state;
	p1.id = 7;
	blocks_fixture(&m, 4096); /* 4 blocks, 4 areas of 1024 */
	assert_int_equal(model_map(&m, &d, 0, 0x100000, 100, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(m.areas[0].index, 1);
	/* block 0 is not free: the first fit is block 1 */
	assert_int_equal(model_dev_create(&m, &p1, 2048 * 1024, 3), 0);
	pv = model_private_of(&m, 7);
	assert_non_null(pv);
	pp = pv->dom.pools[0];
	assert_ptr_equal(pp->parent, m.shared.pools[0]);
	assert_int_equal(pp->parent_slot, 1024);
	assert_int_equal(pp->dma_addr, B + 1024 * 0x800);
	assert_int_equal(pp->vaddr, VA1 + 1024 * 0x800);
	assert_int_equal(pp->nslots, 1024);
	assert_int_equal(pp->nareas, 4); /* 3 queues round up to 4 children of 256 */
	assert_int_equal(pp->areas[3].base, 768);
	/* in the shared pool: allocated, counted in its area, cursors untouched */
	for (k = 1024; k < 2048; k++)
		assert_int_equal(model_slot_kind(&m, k), MODEL_SLOT_CARVED);
	assert_int_equal(model_free_run(&m, 1023), 1);
	assert_int_equal(model_free_run(&m, 2048), 128);
	assert_int_equal(m.areas[1].used, 1024);
	assert_int_equal(m.areas[1].index, 0);
	assert_int_equal(m.areas[0].index, 1);
	assert_int_equal(m.st.used, 1025);
	assert_int_equal(m.st.used_hiwater, 1025);
	/* a queue picks the child, the device maps only there */
	assert_int_equal(model_map(&m, &p1, 5, 0x100000, 100, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, pp->dma_addr + 256 * 0x800);
	assert_int_equal(model_dev_stats(&m, 7)->used, 1);
	assert_int_equal(m.st.used, 1025);
	assert_ptr_equal(model_alloc_at(&m, dma), &m.allocs[m.nallocs - 1]);
	/* a shared device never lands in the carved range */
	assert_int_equal(model_map(&m, &d, 1, 0x100000, 100, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, B + 2048 * 0x800);
	assert_int_equal(model_classify(&m, &d, pp->dma_addr + 256 * 0x800), MODEL_ADDR_NOT_DATA);
	model_fini(&m);
}

static void test_carving_refusals(void **state)
{
	struct model m;
	struct model_dev d = plain_dev(), p1 = plain_dev(), bad = plain_dev();
	uint64_t dma = 0;

	(void)state;
	p1.id = 7;
	bad.id = 8;
	bad.min_align_mask = 0x5;
	blocks_fixture(&m, 4096 + 1000); /* 4 whole blocks and a part; areas of 1152 */
	assert_int_equal(model_map(&m, &d, 1, 0x100000, 100, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, B + 1152 * 0x800); /* block 1 is taken */
	assert_int_equal(model_map(&m, &d, 3, 0x100000, 100, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, B + 3456 * 0x800); /* block 3 is taken */
	/* more blocks than the pool has whole: too big; the masks come first */
	assert_int_equal(model_dev_create(&m, &p1, 5 * 2048 * 1024, 1), -E2BIG);
	assert_int_equal(model_dev_create(&m, &bad, 5 * 2048 * 1024, 1), -EINVAL);
	assert_int_equal(model_dev_create(&m, &p1, UINT64_MAX, 1), -E2BIG);
	/* 4 blocks exist but are not free; 2 contiguous free ones do not either */
	assert_int_equal(model_dev_create(&m, &p1, 4 * 2048 * 1024, 1), -ENOSPC);
	assert_int_equal(model_dev_create(&m, &p1, 2 * 2048 * 1024 + 1, 1), -ENOSPC);
	/* the part after the last whole block never counts */
	assert_int_equal(model_dev_create(&m, &p1, 2 * 2048 * 1024, 1), -ENOSPC);
	assert_null(model_private_of(&m, 7));
	assert_int_equal(m.st.used, 2);
	/* an added pool with two whole blocks serves it; pools are tried oldest first */
	assert_int_equal(model_add_pool(&m, VA2, B2, 2 * 2048 * 1024), 0);
	assert_int_equal(model_dev_create(&m, &p1, 2 * 2048 * 1024, 0), 0);
	assert_ptr_equal(model_private_of(&m, 7)->dom.pools[0]->parent, m.shared.pools[1]);
	assert_int_equal(model_private_of(&m, 7)->dom.pools[0]->nareas, 1);
	assert_int_equal(m.st.used, 2 + 2048);
	bad.min_align_mask = 0;
	assert_int_equal(model_dev_create(&m, &bad, 1, 2), 0);
	assert_ptr_equal(model_private_of(&m, 8)->dom.pools[0]->parent, m.shared.pools[0]);
	assert_int_equal(model_private_of(&m, 8)->dom.pools[0]->parent_slot, 0);
	model_fini(&m);
}

static void test_destroy_restores_the_shared_pool(void **state)
{
	struct model m;
	struct model_dev p1 = plain_dev();
	struct model_copy c;
	uint64_t dma = 0, k;

	(void)state;
	p1.id = 7;
	blocks_fixture(&m, 3072);
	assert_int_equal(model_dev_create(&m, &p1, 3000, 2), 0);
	assert_int_equal(model_private_of(&m, 7)->dom.pools[0]->parent_slot, 0);
	assert_int_equal(model_map(&m, &p1, 0, 0x100000, 3000, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, B);
	assert_int_equal(model_dev_destroy(&m, &p1), -EBUSY);
	assert_int_equal(model_unmap(&m, &p1, dma, 3000, MODEL_TO_DEVICE, 0, &c), 0);
	assert_int_equal(model_dev_stats(&m, 7)->unmaps, 1);
	assert_int_equal(model_dev_destroy(&m, &p1), 0);
	assert_null(model_private_of(&m, 7));
	for (k = 0; k < 3072; k++)
		assert_int_equal(model_free_run(&m, k), 128 - k % 128);
	assert_int_equal(m.st.used, 0);
	assert_int_equal(m.st.used_hiwater, 1024);
	assert_int_equal(m.areas[0].used, 0);
	/* the device now maps from the shared pools again */
	assert_int_equal(model_map(&m, &p1, 1, 0x100000, 3000, MODEL_TO_DEVICE, &dma), 0);
	assert_int_equal(dma, B + 768 * 0x800); /* areas of 768 slots */
	assert_int_equal(m.st.maps, 1);
	model_fini(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pools_are_searched_area_major_newest_first),
		cmocka_unit_test(test_lookups_find_the_pool_owning_the_address),
		cmocka_unit_test(test_add_pool_refusals_change_nothing),
		cmocka_unit_test(test_carving_is_first_fit_of_free_blocks),
		cmocka_unit_test(test_carving_refusals),
		cmocka_unit_test(test_destroy_restores_the_shared_pool),
	};

	return cmocka_run_group_tests_name("model_pools", tests, NULL, NULL);
}
