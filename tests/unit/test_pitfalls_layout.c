/* SPDX-License-Identifier: MIT */
/*
 * Regression tests for the pitfalls of docs/algorithm.md#pitfalls about
 * layout and counting: padding slots keeping min-align bits, a short final
 * segment, 64-bit slot addresses, areas never below a segment, the
 * high-water reset. Each one a mistake the kernel made, set up so that the
 * mistake would be visible. Copy and search pitfalls are in
 * test_pitfalls_search.c.
 */
#include "fixture.h"
#include "rng.h"

#include <signal.h>
#include <unistd.h>

/* ------------------------------------------------------ padding slots */

/* min_align 0xfff inside alloc_align 0xfff: offset 0xa00 exceeds a slot, so
 * one padding slot keeps the low bits (B+0xa00). */
static void test_min_align_bits_inside_alloc_alignment_are_kept_by_padding(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;
	unsigned char *o;
	uint64_t dma;

	fx_init(f, 256);
	d = fx_dev(f, 0xfff, 0xfff, 0);
	o = fx_orig(f, 0x45a00);
	fx_pattern(o, 4096, 21);
	dma = fx_map(f, d, 0x45a00, 4096, IOTLB_TO_DEVICE);
	assert_int_equal(dma, FX_B + 0xa00);
	assert_int_equal(dma & 0xfff, fx_addr(o) & 0xfff);
	assert_int_equal(fx_stats(f).used, 4);
	assert_int_equal(fx_slot(f, 0)->orig, 0);
	assert_int_equal(fx_slot(f, 1)->pad_slots, 1);
	assert_int_equal(fx_slot(f, 1)->orig, fx_addr(o));
	assert_int_equal(fx_slot(f, 2)->orig, fx_addr(o) + 0x800);
	assert_int_equal(fx_slot(f, 3)->orig, fx_addr(o) + 0x1000);
	assert_true(fx_slot(f, 0)->alloc_size == 7680);
	assert_true(fx_slot(f, 1)->alloc_size == 5632);
	assert_true(fx_slot(f, 2)->alloc_size == 3584);
	assert_true(fx_slot(f, 3)->alloc_size == 1536);
	assert_int_equal(fx_cursor(f, 0), 4);
	assert_memory_equal(fx_bounce(f, dma), o, 4096);
	fx_unmap(f, d, dma, 4096, IOTLB_TO_DEVICE);
	assert_int_equal(fx_stats(f).used, 0);
	fx_assert_list_fresh(f, 0, 256);
}

/* 16 KiB alignment, original at 0x2a00: five padding slots. */
static void test_several_padding_slots_keep_16k_low_bits(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;
	unsigned char *o;
	uint64_t dma, j;

	fx_init(f, 256);
	d = fx_dev(f, 0x3fff, 0x3fff, 0);
	o = fx_orig(f, 0x42a00);
	fx_pattern(o, 4096, 22);
	dma = fx_map(f, d, 0x42a00, 4096, IOTLB_BIDIRECTIONAL);
	assert_int_equal(dma, FX_B + 0x2a00);
	assert_int_equal(fx_stats(f).used, 8);
	assert_int_equal(fx_slot(f, 5)->pad_slots, 5);
	for (j = 0; j < 5; j++)
		assert_int_equal(fx_slot(f, j)->orig, 0);
	for (j = 0; j < 8; j++)
		assert_true(fx_slot(f, j)->alloc_size == (int64_t)(16384 - (0x200 + j * 2048)));
	assert_memory_equal(fx_bounce(f, dma), o, 4096);
	memset(fx_bounce(f, dma), 0x61, 4096);
	fx_unmap(f, d, dma, 4096, IOTLB_FROM_DEVICE);
	fx_assert_bytes(o, 4096, 0x61);
	fx_assert_list_fresh(f, 0, 256);
}

/* --------------------------------------------------- short final segment */

static void test_short_final_segment_counters_stop_at_pool_end(void **state)
{
	struct fx *f = *state;
	uint64_t a, b, c, dma = FX_DMA_SENTINEL;

	fx_init(f, 200);
	assert_int_equal(fx_list(f, 128), 72);
	assert_int_equal(fx_list(f, 199), 1);
	fx_assert_list_fresh(f, 0, 200);
	a = fx_map(f, f->dev, 0, 262144, IOTLB_TO_DEVICE);
	b = fx_map(f, f->dev, 0x40000, 71 * 2048, IOTLB_TO_DEVICE);
	assert_int_equal(b, fx_slot_dma(128));
	c = fx_map(f, f->dev, 0x80000, 100, IOTLB_TO_DEVICE);
	assert_int_equal(c, fx_slot_dma(199));
	assert_int_equal(fx_stats(f).used, 200);
	/* nothing past the end of the pool */
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0x90000), 100, IOTLB_TO_DEVICE, 0, &dma),
			 -ENOSPC);
	assert_int_equal(dma, FX_DMA_SENTINEL);
	/* freeing the last slot of the pool reads nothing past it */
	fx_unmap(f, f->dev, c, 100, IOTLB_TO_DEVICE);
	assert_int_equal(fx_list(f, 199), 1);
	assert_int_equal(fx_list(f, 198), 0);
	fx_unmap(f, f->dev, b, 71 * 2048, IOTLB_TO_DEVICE);
	fx_assert_list_fresh(f, 128, 200);
	/* 73 slots fit no segment here but are not "too big" */
	assert_int_equal(
		iotlb_map(f->dev, 0, fx_orig(f, 0x90000), 73 * 2048, IOTLB_TO_DEVICE, 0, &dma),
		-ENOSPC);
	/* 72 do, ending on the last slot */
	assert_int_equal(
		iotlb_map(f->dev, 0, fx_orig(f, 0x90000), 72 * 2048, IOTLB_TO_DEVICE, 0, &dma), 0);
	assert_int_equal(dma, fx_slot_dma(128));
	fx_unmap(f, f->dev, dma, 72 * 2048, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, a, 262144, IOTLB_TO_DEVICE);
	fx_assert_list_fresh(f, 0, 200);
}

/* A pool smaller than one segment. */
static void test_pool_smaller_than_a_segment_serves_only_its_slots(void **state)
{
	struct fx *f = *state;
	uint64_t a, dma = FX_DMA_SENTINEL;

	fx_init(f, 3);
	assert_int_equal(fx_list(f, 0), 3);
	a = fx_map(f, f->dev, 0, 6000, IOTLB_TO_DEVICE);
	assert_int_equal(a, FX_B);
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0x10000), 100, IOTLB_TO_DEVICE, 0, &dma),
			 -ENOSPC);
	fx_unmap(f, f->dev, a, 6000, IOTLB_TO_DEVICE);
	/* 4 slots can never fit in 3 without growth: too big, not "no room now". */
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0x10000), 8192, IOTLB_TO_DEVICE, 0, &dma),
			 -E2BIG);
	fx_assert_list_fresh(f, 0, 3);
}

/* ------------------------------------------------------- 64-bit addresses */

/* A pool whose device addresses lie near the top of the 64-bit space:
 * every address and the boundary arithmetic stay in 64 bits. */
static void test_pool_at_high_device_address(void **state)
{
	struct fx *f = *state;
	const uint64_t hb = 0xfffffff000000000ull;
	struct iotlb_dev *d, *m;
	uint64_t a, b, c;

	fx_prepare(f, 256);
	f->cfg.dma_addr = hb;
	fx_create(f);
	d = fx_dev(f, 0, 0, 0xffff);
	m = fx_dev(f, 0xfff, 0, 0);
	a = fx_map(f, d, 0, 40960, IOTLB_TO_DEVICE);
	b = fx_map(f, d, 0x20000, 40960, IOTLB_TO_DEVICE);
	assert_int_equal(a, hb);
	assert_int_equal(b, hb + 0x10000);
	c = fx_map(f, m, 0x45a00, 4096, IOTLB_TO_DEVICE);
	assert_int_equal(c & 0xfff, 0xa00);
	assert_true(c > hb && c < hb + 256 * FX_SLOT);
	assert_ptr_equal(iotlb_dma_to_virt(d, b), f->region + 0x10000);
	assert_true(iotlb_is_bounce(d, hb + 256 * FX_SLOT - 1));
	assert_false(iotlb_is_bounce(d, hb + 256 * FX_SLOT));
	assert_false(iotlb_is_bounce(d, 0x10000));
	fx_unmap(f, d, a, 40960, IOTLB_TO_DEVICE);
	fx_unmap(f, d, b, 40960, IOTLB_TO_DEVICE);
	fx_unmap(f, m, c, 4096, IOTLB_TO_DEVICE);
}

/* ------------------------------------------------------------ area counts */

static unsigned pow2_up(unsigned v)
{
	unsigned p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static unsigned pow2_down(uint64_t v)
{
	unsigned p = 1;

	while ((uint64_t)p * 2 <= v)
		p <<= 1;
	return p;
}

/* Section 3: never an area smaller than a segment (except a pool smaller
 * than one), areas cover the pool, their count is a power of two. */
static void test_area_counts_never_give_areas_below_a_segment(void **state)
{
	struct fx *f = *state;
	static const uint64_t sizes[] = {1, 3, 127, 128, 129, 200, 256, 384, 1000, 1024, 4096};
	static const unsigned reqs[] = {0, 1, 2, 3, 4, 5, 6, 8, 16, 33, 64};
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	unsigned i, j, a;

	assert_true(ncpu > 0);
	fx_prepare(f, 4096); /* one region, pools of its first sizes[i] slots */
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (j = 0; j < sizeof(reqs) / sizeof(reqs[0]); j++) {
			struct iotlb_mem_config c;
			struct iotlb_mem *mem = NULL;
			struct iotlb__pool *pool;
			unsigned want = pow2_up(reqs[j] ? reqs[j] : (unsigned)ncpu);
			uint64_t base = 0;

			if ((uint64_t)want * FX_SEG > sizes[i])
				want = pow2_down(sizes[i] / FX_SEG);
			c = f->cfg;
			c.size = (size_t)(sizes[i] * FX_SLOT);
			c.nareas = reqs[j];
			assert_int_equal(iotlb_mem_create(&c, &mem), 0);
			pool = mem->shared.pools;
			if (pool->nareas != want)
				fail_msg("%llu slots, %u requested: %u areas, expected %u",
					 (unsigned long long)sizes[i], reqs[j], pool->nareas, want);
			for (a = 0; a < pool->nareas; a++) {
				struct iotlb__area *ar = iotlb__area_at(pool, a);

				assert_int_equal(ar->base, base);
				if (pool->nareas > 1) {
					assert_true(ar->nslots >= FX_SEG);
					if (a + 1 < pool->nareas)
						assert_int_equal(ar->nslots % FX_SEG, 0);
				}
				base += ar->nslots;
			}
			assert_int_equal(base, sizes[i]);
			assert_int_equal(iotlb_mem_destroy(mem), 0);
		}
	}
}

/* Every area serves requests from its own slots when hinted. */
static void test_each_area_serves_its_own_slots(void **state)
{
	struct fx *f = *state;
	uint64_t dma[4];
	unsigned a;

	fx_prepare(f, 640); /* 4 areas: 128, 128, 128, 256 */
	f->cfg.nareas = 4;
	fx_create(f);
	for (a = 0; a < 4; a++) {
		assert_int_equal(iotlb_map(f->dev, (int)a, fx_orig(f, a * 0x1000), 100,
					   IOTLB_TO_DEVICE, 0, &dma[a]),
				 0);
		assert_int_equal(dma[a], fx_slot_dma(a * 128));
		assert_int_equal(fx_area_used(f, a), 1);
	}
	assert_int_equal(fx_stats(f).area_fallbacks, 0);
	for (a = 0; a < 4; a++)
		fx_unmap(f, f->dev, dma[a], 100, IOTLB_TO_DEVICE);
}

/* ---------------------------------------------------------------- hiwater */

static void test_hiwater_reset_with_live_mappings_never_goes_negative(void **state)
{
	struct fx *f = *state;
	struct iotlb_stats st;
	uint64_t a, b;

	fx_init(f, 256);
	a = fx_map(f, f->dev, 0, 6000, IOTLB_TO_DEVICE);
	b = fx_map(f, f->dev, 0x10000, 100, IOTLB_TO_DEVICE);
	assert_int_equal(iotlb_mem_reset_hiwater(f->mem, 0), 0);
	fx_unmap(f, f->dev, a, 6000, IOTLB_TO_DEVICE);
	st = fx_stats(f);
	assert_int_equal(st.used, 1);
	assert_int_equal(st.used_hiwater, 0);
	fx_unmap(f, f->dev, b, 100, IOTLB_TO_DEVICE);
	assert_int_equal(iotlb_mem_reset_hiwater(f->mem, 0), 0);
	st = fx_stats(f);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.used_hiwater, 0);
	assert_int_equal(fx_area_used(f, 0), 0);
	a = fx_map(f, f->dev, 0, 100, IOTLB_TO_DEVICE);
	st = fx_stats(f);
	assert_int_equal(st.used, 1);
	assert_int_equal(st.used_hiwater, 1);
	fx_unmap(f, f->dev, a, 100, IOTLB_TO_DEVICE);
	assert_int_equal(fx_stats(f).used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_min_align_bits_inside_alloc_alignment_are_kept_by_padding),
		FX_TEST(test_several_padding_slots_keep_16k_low_bits),
		FX_TEST(test_short_final_segment_counters_stop_at_pool_end),
		FX_TEST(test_pool_smaller_than_a_segment_serves_only_its_slots),
		FX_TEST(test_pool_at_high_device_address),
		FX_TEST(test_area_counts_never_give_areas_below_a_segment),
		FX_TEST(test_each_area_serves_its_own_slots),
		FX_TEST(test_hiwater_reset_with_live_mappings_never_goes_negative),
	};

	return cmocka_run_group_tests_name("pitfalls_layout", tests, NULL, NULL);
}
