/* SPDX-License-Identifier: MIT */
/*
 * Configuration: what is accepted (versioned structs from older and newer
 * callers, defaults, boundary values, non-default geometry, lock kinds) and
 * how the area count follows docs/algorithm.md#area-count.
 */
#include "fixture.h"

#include <unistd.h>

static void test_config_init_macros_set_struct_size_only(void **state)
{
	struct iotlb_mem_config mc = IOTLB_MEM_CONFIG_INIT, mz;
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT, dz;
	struct iotlb_stats st = IOTLB_STATS_INIT;
	struct iotlb_area_stats as = IOTLB_AREA_STATS_INIT;

	(void)state;
	assert_int_equal(mc.struct_size, sizeof(mc));
	assert_int_equal(dc.struct_size, sizeof(dc));
	assert_int_equal(st.struct_size, sizeof(st));
	assert_int_equal(as.struct_size, sizeof(as));
	memset(&mz, 0, sizeof(mz));
	mz.struct_size = sizeof(mz);
	assert_memory_equal(&mc, &mz, sizeof(mz));
	memset(&dz, 0, sizeof(dz));
	dz.struct_size = sizeof(dz);
	assert_memory_equal(&dc, &dz, sizeof(dz));
}

static void test_defaults_give_the_section_9_geometry(void **state)
{
	struct fx *f = *state;
	struct iotlb_stats st;

	fx_init(f, 256);
	st = fx_stats(f);
	assert_int_equal(st.nslots, 256);
	assert_int_equal(st.npools, 1);
	assert_int_equal(st.transient_nslots, 0);
	assert_int_equal(st.nareas, 1);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.used_hiwater, 0);
	assert_int_equal(f->mem->p.slot_shift, 11);
	assert_int_equal(f->mem->p.slot_size, 2048);
	assert_int_equal(f->mem->p.segment_slots, 128);
	assert_int_equal(f->mem->p.block_slots, 1024);
	assert_int_equal(f->mem->p.page_size, 4096);
	assert_int_equal(iotlb_max_mapping_size(f->dev), 262144);
	fx_assert_list_fresh(f, 0, 256);
}

/* An older caller's struct stops before slot_shift: the rest defaults. */
static void test_older_mem_config_prefix_is_accepted_with_defaults(void **state)
{
	struct fx *f = *state;
	struct iotlb_mem_config c;
	struct iotlb_mem *mem = NULL;
	struct iotlb_dev *d = NULL;
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_stats st = IOTLB_STATS_INIT;
	uint64_t dma;

	fx_prepare(f, 256);
	c = f->cfg;
	c.struct_size = offsetof(struct iotlb_mem_config, slot_shift);
	c.slot_shift = 13; /* beyond struct_size: must be ignored */
	c.flags = 1u << 9;
	assert_int_equal(iotlb_mem_create(&c, &mem), 0);
	assert_int_equal(iotlb_mem_stats(mem, &st), 0);
	assert_int_equal(st.nslots, 256);
	assert_int_equal(mem->p.slot_size, 2048);
	assert_int_equal(iotlb_dev_create(mem, &dc, &d), 0);
	assert_int_equal(iotlb_map(d, 0, fx_orig(f, 0), 3000, IOTLB_TO_DEVICE, 0, &dma), 0);
	assert_true(dma >= FX_B && dma < FX_B + 256 * FX_SLOT);
	assert_int_equal(iotlb_unmap(d, dma, 3000, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(iotlb_dev_destroy(d), 0);
	assert_int_equal(iotlb_mem_destroy(mem), 0);
}

/* A newer caller's struct with a zero tail is accepted. */
static void test_larger_configs_with_zero_tail_are_accepted(void **state)
{
	struct fx *f = *state;
	struct {
		struct iotlb_mem_config c;
		unsigned char tail[40];
	} mbig;
	struct {
		struct iotlb_dev_config c;
		unsigned char tail[24];
	} dbig;
	struct iotlb_dev *d = NULL;
	uint64_t dma;

	fx_prepare(f, 256);
	memset(&mbig, 0, sizeof(mbig));
	mbig.c = f->cfg;
	mbig.c.struct_size = sizeof(mbig);
	assert_int_equal(iotlb_mem_create(&mbig.c, &f->mem), 0);
	memset(&dbig, 0, sizeof(dbig));
	dbig.c.struct_size = sizeof(dbig);
	dbig.c.min_align_mask = 0xfff;
	assert_int_equal(iotlb_dev_create(f->mem, &dbig.c, &d), 0);
	f->devs[f->ndevs++] = d;
	f->dev = d;
	assert_int_equal(iotlb_max_mapping_size(d), 258048);
	dma = fx_map(f, d, 0x45a00, 4096, IOTLB_TO_DEVICE);
	assert_int_equal(dma, FX_B + 0xa00);
	fx_unmap(f, d, dma, 4096, IOTLB_TO_DEVICE);
}

/* An older device struct without seg_boundary_mask: no boundary. */
static void test_older_dev_config_prefix_is_accepted(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev_config dc;
	struct iotlb_dev *d = NULL;
	uint64_t a, b;

	fx_init(f, 256);
	memset(&dc, 0, sizeof(dc));
	dc.struct_size = offsetof(struct iotlb_dev_config, seg_boundary_mask);
	dc.seg_boundary_mask = 0x3; /* beyond struct_size: ignored */
	assert_int_equal(iotlb_dev_create(f->mem, &dc, &d), 0);
	f->devs[f->ndevs++] = d;
	/* a boundary would split this: none applies */
	a = fx_map(f, d, 0, 262144, IOTLB_TO_DEVICE);
	b = fx_map(f, d, 0x40000, 262144, IOTLB_TO_DEVICE);
	assert_int_equal(a, FX_B);
	assert_int_equal(b, FX_B + 0x40000);
	fx_unmap(f, d, a, 262144, IOTLB_TO_DEVICE);
	fx_unmap(f, d, b, 262144, IOTLB_TO_DEVICE);
}

static void test_boundary_values_of_device_masks_are_accepted(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;
	uint64_t dma = FX_DMA_SENTINEL;

	fx_init(f, 256);
	/* boundary exactly a slot: every run stays inside one slot */
	d = fx_dev(f, 0, 0, 0x7ff);
	dma = fx_map(f, d, 0, 2048, IOTLB_TO_DEVICE);
	fx_unmap(f, d, dma, 2048, IOTLB_TO_DEVICE);
	dma = FX_DMA_SENTINEL;
	assert_int_equal(iotlb_map(d, 0, fx_orig(f, 0), 2049, IOTLB_TO_DEVICE, 0, &dma), -ENOSPC);
	assert_int_equal(dma, FX_DMA_SENTINEL);
	/* boundary equal to both alignment masks: 0xa00 + 1000 B pads to one
	 * page (a padding slot and a data slot), which fits the boundary */
	d = fx_dev(f, 0xfff, 0xfff, 0xfff);
	dma = fx_map(f, d, 0x45a00, 1000, IOTLB_TO_DEVICE);
	assert_int_equal(dma & 0xfff, 0xa00);
	fx_unmap(f, d, dma, 1000, IOTLB_TO_DEVICE);
	/* 0xa00 + 2000 B pads to two pages: never inside one 4 KiB boundary */
	dma = FX_DMA_SENTINEL;
	assert_int_equal(iotlb_map(d, 0, fx_orig(f, 0x45a00), 2000, IOTLB_TO_DEVICE, 0, &dma),
			 -ENOSPC);
	assert_int_equal(dma, FX_DMA_SENTINEL);
	/* all-ones given explicitly */
	d = fx_dev(f, 0, 0, UINT64_MAX);
	dma = fx_map(f, d, 0, 262144, IOTLB_TO_DEVICE);
	fx_unmap(f, d, dma, 262144, IOTLB_TO_DEVICE);
}

/* Slot 4 KiB, segment 32, page 8 KiB: limits follow the parameters. */
static void test_custom_geometry_changes_limits(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *m;
	uint64_t a, b, dma = FX_DMA_SENTINEL;
	unsigned i;

	fx_prepare(f, 256); /* 512 KiB: 128 slots of 4 KiB */
	f->cfg.slot_shift = 12;
	f->cfg.segment_slots = 32;
	f->cfg.block_slots = 64;
	f->cfg.page_size = 8192;
	f->nslots = 128;
	fx_create(f);
	assert_int_equal(fx_stats(f).nslots, 128);
	for (i = 0; i < 128; i++)
		assert_int_equal(fx_list(f, i), 32 - (i % 32));
	assert_int_equal(iotlb_max_mapping_size(f->dev), 131072);
	m = fx_dev(f, 0xfff, 0, 0);
	assert_int_equal(iotlb_max_mapping_size(m), 131072 - 4096);
	m = fx_dev(f, 0x1fff, 0, 0);
	assert_int_equal(iotlb_max_mapping_size(m), 131072 - 8192);

	a = fx_map(f, f->dev, 0, 100, IOTLB_TO_DEVICE);
	assert_int_equal(a, FX_B);
	/* >= page_size (8 KiB): aligned to 8 KiB, slot 2 */
	b = fx_map(f, f->dev, 0x10000, 8192, IOTLB_TO_DEVICE);
	assert_int_equal(b, FX_B + 0x2000);
	assert_int_equal(fx_list(f, 1), 1);
	assert_int_equal(
		iotlb_map(f->dev, 0, fx_orig(f, 0x20000), 131073, IOTLB_TO_DEVICE, 0, &dma),
		-E2BIG);
	assert_int_equal(dma, FX_DMA_SENTINEL);
	fx_unmap(f, f->dev, a, 100, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, b, 8192, IOTLB_TO_DEVICE);
	assert_int_equal(
		iotlb_map(f->dev, 0, fx_orig(f, 0x20000), 131072, IOTLB_TO_DEVICE, 0, &dma), 0);
	assert_int_equal(dma % 131072, 0);
	fx_unmap(f, f->dev, dma, 131072, IOTLB_TO_DEVICE);
}

/* 64 KiB pages (arm64): the legacy alignment of page-sized maps and the
 * alignment of coherent allocations follow page_size. */
static void test_page_size_64k_changes_alignment(void **state)
{
	struct fx *f = *state;
	uint64_t a, b, c, dma;
	void *va;

	fx_prepare(f, 256);
	f->cfg.page_size = 65536;
	fx_create(f);
	a = fx_map(f, f->dev, 0, 100, IOTLB_TO_DEVICE);
	assert_int_equal(a, FX_B);
	/* 4 KiB is below the page size now: no alignment, slot 1 */
	b = fx_map(f, f->dev, 0x10000, 4096, IOTLB_TO_DEVICE);
	assert_int_equal(b, fx_slot_dma(1));
	/* 64 KiB is aligned to 64 KiB: slot 32 */
	c = fx_map(f, f->dev, 0x20000, 65536, IOTLB_TO_DEVICE);
	assert_int_equal(c, FX_B + 0x10000);
	/* a coherent 4 KiB allocation is aligned to a (64 KiB) page: slot 64 */
	assert_int_equal(iotlb_alloc(f->dev, 4096, &va, &dma), 0);
	assert_int_equal(dma, FX_B + 0x20000);
	assert_int_equal(iotlb_free(f->dev, dma, 4096), 0);
	fx_unmap(f, f->dev, a, 100, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, b, 4096, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, c, 65536, IOTLB_TO_DEVICE);
}

static unsigned pow2_up(unsigned v)
{
	unsigned p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static void test_zero_areas_means_configured_cpus(void **state)
{
	struct fx *f = *state;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	unsigned want;

	assert_true(ncpu > 0);
	want = pow2_up((unsigned)ncpu);
	if (want > 32)
		want = 32; /* 4096 slots hold 32 segments */
	fx_prepare(f, 4096);
	f->cfg.nareas = 0;
	fx_create(f);
	assert_int_equal(fx_pool(f)->nareas, want);
	assert_int_equal(fx_stats(f).nareas, want);
}

static void test_area_count_rounds_up_to_power_of_two(void **state)
{
	struct fx *f = *state;

	fx_prepare(f, 1024);
	f->cfg.nareas = 3;
	fx_create(f);
	assert_int_equal(fx_pool(f)->nareas, 4);
	assert_int_equal(iotlb__area_at(fx_pool(f), 3)->base, 768);
	assert_int_equal(iotlb__area_at(fx_pool(f), 3)->nslots, 256);
}

static void test_too_many_areas_for_the_pool_round_down(void **state)
{
	struct fx *f = *state;

	fx_prepare(f, 256);
	f->cfg.nareas = 8;
	fx_create(f);
	assert_int_equal(fx_pool(f)->nareas, 2);
	assert_int_equal(iotlb__area_at(fx_pool(f), 0)->nslots, 128);
	assert_int_equal(iotlb__area_at(fx_pool(f), 1)->nslots, 128);
}

/* A short final segment in a multi-area pool belongs to the last area. */
static void test_last_area_keeps_short_final_segment(void **state)
{
	struct fx *f = *state;
	uint64_t dma = FX_DMA_SENTINEL;

	fx_prepare(f, 300);
	f->cfg.nareas = 2;
	fx_create(f);
	assert_int_equal(fx_pool(f)->nareas, 2);
	assert_int_equal(iotlb__area_at(fx_pool(f), 0)->nslots, 128);
	assert_int_equal(iotlb__area_at(fx_pool(f), 1)->base, 128);
	assert_int_equal(iotlb__area_at(fx_pool(f), 1)->nslots, 172);
	fx_assert_list_fresh(f, 0, 300);
	assert_int_equal(iotlb_map(f->dev, 1, fx_orig(f, 0), 262144, IOTLB_TO_DEVICE, 0, &dma), 0);
	assert_int_equal(dma, fx_slot_dma(128));
	fx_unmap(f, f->dev, dma, 262144, IOTLB_TO_DEVICE);
	/* the area cursor is at 128: the next run is the 44-slot short segment */
	assert_int_equal(iotlb_map(f->dev, 1, fx_orig(f, 0), 44 * 2048, IOTLB_TO_DEVICE, 0, &dma),
			 0);
	assert_int_equal(dma, fx_slot_dma(256));
	fx_unmap(f, f->dev, dma, 44 * 2048, IOTLB_TO_DEVICE);
}

static void run_scenario_2(struct fx *f)
{
	unsigned char *o = fx_orig(f, 0x5000);
	uint64_t dma;

	fx_pattern(o, 3000, 2);
	dma = fx_map(f, f->dev, 0x5000, 3000, IOTLB_TO_DEVICE);
	assert_int_equal(dma, FX_B);
	assert_int_equal(fx_cursor(f, 0), 2);
	assert_memory_equal(fx_bounce(f, dma), o, 3000);
	fx_unmap(f, f->dev, dma, 3000, IOTLB_TO_DEVICE);
	fx_assert_list_fresh(f, 0, f->nslots);
}

static void test_lock_none_serves_single_threaded_use(void **state)
{
	struct fx *f = *state;

	fx_prepare(f, 256);
	f->cfg.lock = IOTLB_LOCK_NONE;
	fx_create(f);
	run_scenario_2(f);
}

static void test_lock_default_serves_requests(void **state)
{
	struct fx *f = *state;

	fx_prepare(f, 256);
	f->cfg.lock = IOTLB_LOCK_DEFAULT;
	fx_create(f);
	run_scenario_2(f);
}

/* Every built-in lock kind serves the allocator. */
static void test_every_builtin_lock_kind_serves_the_allocator(void **state)
{
	struct fx *f = *state;
	static const enum iotlb_lock_kind kinds[] = {IOTLB_LOCK_SPIN, IOTLB_LOCK_TICKET,
						     IOTLB_LOCK_MCS, IOTLB_LOCK_TTAS};
	unsigned i;

	fx_prepare(f, 256);
	for (i = 0; i < 4; i++) {
		struct iotlb_mem_config c = f->cfg;
		struct iotlb_mem *mem = FX_PTR_SENTINEL;
		struct iotlb_dev *d = NULL;
		struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
		uint64_t dma;
		int rc;

		c.lock = kinds[i];
		rc = iotlb_mem_create(&c, &mem);
		assert_int_equal(rc, 0);
		assert_int_equal(iotlb_dev_create(mem, &dc, &d), 0);
		assert_int_equal(iotlb_map(d, 0, fx_orig(f, 0), 3000, IOTLB_TO_DEVICE, 0, &dma), 0);
		assert_int_equal(dma, FX_B);
		assert_int_equal(iotlb_unmap(d, dma, 3000, IOTLB_TO_DEVICE, 0), 0);
		assert_int_equal(iotlb_dev_destroy(d), 0);
		assert_int_equal(iotlb_mem_destroy(mem), 0);
	}
}

static void test_lock_kind_names(void **state)
{
	(void)state;
	assert_string_equal(iotlb_lock_kind_name(IOTLB_LOCK_MUTEX), "mutex");
	assert_non_null(iotlb_lock_kind_name(IOTLB_LOCK_NONE));
	assert_non_null(iotlb_lock_kind_name(IOTLB_LOCK_DEFAULT));
	/* No built-in table, but a name all the same. */
	assert_string_equal(iotlb_lock_kind_name(IOTLB_LOCK_CUSTOM), "custom");
	assert_null(iotlb_lock_kind_name((enum iotlb_lock_kind)77));
}

/* The library keeps its own copy of the configuration. */
static void test_config_is_copied_at_create(void **state)
{
	struct fx *f = *state;
	struct iotlb_mem_config c;
	uint64_t a, b, dma = FX_DMA_SENTINEL;

	fx_prepare(f, 256);
	c = f->cfg;
	assert_int_equal(iotlb_mem_create(&c, &f->mem), 0);
	memset(&c, 0xff, sizeof(c));
	f->dev = fx_dev(f, 0, 0, 0);
	a = fx_map(f, f->dev, 0, 262144, IOTLB_TO_DEVICE);
	b = fx_map(f, f->dev, 0x40000, 262144, IOTLB_TO_DEVICE);
	assert_int_equal(iotlb_map(f->dev, 0, fx_orig(f, 0), 100, IOTLB_TO_DEVICE, 0, &dma),
			 -ENOSPC);
	/* the log callback given at create still receives the line */
	assert_int_equal(fx_log_count(f, "swiotlb buffer is full"), 1);
	fx_unmap(f, f->dev, a, 262144, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, b, 262144, IOTLB_TO_DEVICE);
}

static int fail_alloc(void *ctx, size_t size, void **vaddr, uint64_t *dma_addr)
{
	(void)ctx;
	(void)size;
	(void)vaddr;
	(void)dma_addr;
	return -ENOMEM;
}

static void fail_free(void *ctx, void *vaddr, uint64_t dma_addr, size_t size)
{
	(void)ctx;
	(void)vaddr;
	(void)dma_addr;
	(void)size;
}

/* Growth and private pools are accepted here (their behaviour is tested in
 * tests/grow and tests/devices). */
static void test_growth_and_private_pools_are_accepted(void **state)
{
	struct fx *f = *state;
	static const struct iotlb_region_ops rops = {fail_alloc, fail_free};
	struct iotlb_mem_config c;
	struct iotlb_mem *mem = FX_PTR_SENTINEL;
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_dev *d = FX_PTR_SENTINEL;
	int rc;

	fx_prepare(f, 2048);
	c = f->cfg;
	c.flags = IOTLB_MEM_GROW;
	c.region_ops = &rops;
	rc = iotlb_mem_create(&c, &mem);
	assert_int_equal(rc, 0);
	assert_int_equal(iotlb_mem_destroy(mem), 0);

	fx_create(f);
	dc.private_size = 2u << 20;
	dc.nqueues = 2;
	rc = iotlb_dev_create(f->mem, &dc, &d);
	assert_int_equal(rc, 0);
	assert_int_equal(iotlb_dev_destroy(d), 0);
	assert_int_equal(fx_stats(f).used, 0);
	fx_assert_list_fresh(f, 0, 2048);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_config_init_macros_set_struct_size_only),
		FX_TEST(test_defaults_give_the_section_9_geometry),
		FX_TEST(test_older_mem_config_prefix_is_accepted_with_defaults),
		FX_TEST(test_larger_configs_with_zero_tail_are_accepted),
		FX_TEST(test_older_dev_config_prefix_is_accepted),
		FX_TEST(test_boundary_values_of_device_masks_are_accepted),
		FX_TEST(test_custom_geometry_changes_limits),
		FX_TEST(test_page_size_64k_changes_alignment),
		FX_TEST(test_zero_areas_means_configured_cpus),
		FX_TEST(test_area_count_rounds_up_to_power_of_two),
		FX_TEST(test_too_many_areas_for_the_pool_round_down),
		FX_TEST(test_last_area_keeps_short_final_segment),
		FX_TEST(test_lock_none_serves_single_threaded_use),
		FX_TEST(test_lock_default_serves_requests),
		FX_TEST(test_every_builtin_lock_kind_serves_the_allocator),
		FX_TEST(test_lock_kind_names),
		FX_TEST(test_config_is_copied_at_create),
		FX_TEST(test_growth_and_private_pools_are_accepted),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
