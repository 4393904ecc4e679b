/* SPDX-License-Identifier: MIT */
/*
 * Errors of the lifetime and configuration calls (include/iotlb/iotlb.h
 * lists them per function): mem and device create / destroy, statistics,
 * add_pool and strerror. After every refusal the whole state (statistics,
 * per-slot metadata, cursors) must be as before, and the out-parameters must
 * still hold the sentinel they were given. The mapping calls' errors are in
 * test_errors_calls.c.
 */
#include "fixture.h"

/* ----------------------------------------------------------- mem_create */

static void expect_create_fails(const struct iotlb_mem_config *c, int err, const char *what)
{
	struct iotlb_mem *m = FX_PTR_SENTINEL;
	int rc = iotlb_mem_create(c, &m);

	if (rc != err)
		fail_msg("%s: iotlb_mem_create returned %d, expected %d", what, rc, err);
	assert_ptr_equal(m, FX_PTR_SENTINEL);
}

/* A custom lock table missing what iotlb_lock_ops requires is -EINVAL. */
static void expect_custom_table_refused(const struct iotlb_mem_config *c, const char *what)
{
	struct iotlb_mem *m = FX_PTR_SENTINEL;
	int rc = iotlb_mem_create(c, &m);

	if (rc != -EINVAL)
		fail_msg("%s: iotlb_mem_create returned %d, expected -EINVAL", what, rc);
	assert_ptr_equal(m, FX_PTR_SENTINEL);
}

static void test_mem_create_without_config_or_out_is_refused(void **state)
{
	struct fx *f = *state;

	fx_prepare(f, 256);
	expect_create_fails(NULL, -EINVAL, "NULL cfg");
	assert_int_equal(iotlb_mem_create(&f->cfg, NULL), -EINVAL);
}

static void test_mem_create_with_zero_struct_size_is_refused(void **state)
{
	struct fx *f = *state;
	struct iotlb_mem_config c;

	fx_prepare(f, 256);
	c = f->cfg;
	c.struct_size = 0;
	expect_create_fails(&c, -EINVAL, "struct_size 0");
}

static void test_mem_create_with_nonzero_unknown_tail_is_refused(void **state)
{
	struct fx *f = *state;
	struct {
		struct iotlb_mem_config c;
		unsigned char tail[32];
	} big;

	fx_prepare(f, 256);
	memset(&big, 0, sizeof(big));
	big.c = f->cfg;
	big.c.struct_size = sizeof(big);
	big.tail[17] = 1;
	expect_create_fails(&big.c, -EINVAL, "non-zero tail");
}

static void test_mem_create_with_unknown_flag_is_refused(void **state)
{
	struct fx *f = *state;
	struct iotlb_mem_config c;

	fx_prepare(f, 256);
	c = f->cfg;
	c.flags = 1u << 5;
	expect_create_fails(&c, -EINVAL, "flag bit 5");
	c.flags = IOTLB_MEM_SCRUB | (1u << 31);
	expect_create_fails(&c, -EINVAL, "flag bit 31");
}

static void test_mem_create_grow_without_region_ops_is_refused(void **state)
{
	struct fx *f = *state;
	struct iotlb_mem_config c;

	fx_prepare(f, 256);
	c = f->cfg;
	c.flags = IOTLB_MEM_GROW;
	expect_create_fails(&c, -EINVAL, "GROW without region_ops");
}

static void test_mem_create_with_unaligned_region_is_refused(void **state)
{
	struct fx *f = *state;
	struct iotlb_mem_config c;

	fx_prepare(f, 256);
	c = f->cfg;
	c.vaddr = f->region + 2048;
	c.size -= 4096;
	expect_create_fails(&c, -EINVAL, "vaddr on a slot, not a page");
	c = f->cfg;
	c.dma_addr = FX_B + 0x800;
	expect_create_fails(&c, -EINVAL, "dma_addr on a slot, not a page");
	c.dma_addr = FX_B + 1;
	expect_create_fails(&c, -EINVAL, "dma_addr odd");
	/* with 64 KiB pages both must be 64 KiB aligned */
	c = f->cfg;
	c.page_size = 65536;
	c.vaddr = f->region + 4096;
	c.size -= 65536;
	expect_create_fails(&c, -EINVAL, "vaddr not aligned to a 64K page");
	c = f->cfg;
	c.page_size = 65536;
	c.dma_addr = FX_B + 0x1000;
	expect_create_fails(&c, -EINVAL, "dma_addr not aligned to a 64K page");
}

static void test_mem_create_with_size_not_a_multiple_of_the_slot_is_refused(void **state)
{
	struct fx *f = *state;
	struct iotlb_mem_config c;

	fx_prepare(f, 256);
	c = f->cfg;
	c.size = 256 * 2048 - 1;
	expect_create_fails(&c, -EINVAL, "size - 1");
	c.size = 100 * 2048 + 1024;
	expect_create_fails(&c, -EINVAL, "half a slot more");
	c.size = 2047;
	expect_create_fails(&c, -EINVAL, "less than a slot");
	c.size = 0;
	expect_create_fails(&c, -EINVAL, "size 0");
}

static void test_mem_create_with_null_region_is_refused(void **state)
{
	struct fx *f = *state;
	struct iotlb_mem_config c;

	fx_prepare(f, 256);
	c = f->cfg;
	c.vaddr = NULL;
	expect_create_fails(&c, -EINVAL, "vaddr NULL");
}

static void test_mem_create_with_bad_geometry_is_refused(void **state)
{
	struct fx *f = *state;
	struct iotlb_mem_config c;

	fx_prepare(f, 256);
	c = f->cfg;
	c.segment_slots = 100;
	expect_create_fails(&c, -EINVAL, "segment_slots not a power of two");
	c = f->cfg;
	c.block_slots = 64;
	expect_create_fails(&c, -EINVAL, "block_slots not a multiple of segment_slots");
	c.block_slots = 1536;
	expect_create_fails(&c, -EINVAL, "block_slots not a power of two");
	c = f->cfg;
	c.page_size = 3000;
	expect_create_fails(&c, -EINVAL, "page_size not a power of two");
	c.page_size = 1024;
	expect_create_fails(&c, -EINVAL, "page_size below the slot size");
	c = f->cfg;
	c.slot_shift = 13;
	expect_create_fails(&c, -EINVAL, "slot of 8 KiB with 4 KiB pages");
	c.slot_shift = 3;
	expect_create_fails(&c, -EINVAL, "slot of 8 B");
	c.slot_shift = 31;
	c.page_size = (size_t)1 << 31;
	expect_create_fails(&c, -EINVAL, "slot of 2 GiB");
	c = f->cfg;
	c.segment_slots = 1u << 25;
	c.block_slots = 1u << 25;
	expect_create_fails(&c, -EINVAL, "segment of 2^25 slots");
}

static void test_mem_create_with_unknown_lock_or_select_is_refused(void **state)
{
	struct fx *f = *state;
	struct iotlb_mem_config c;

	fx_prepare(f, 256);
	c = f->cfg;
	c.lock = (enum iotlb_lock_kind)42;
	expect_create_fails(&c, -EINVAL, "lock kind 42");
	c = f->cfg;
	c.select = (enum iotlb_select)9;
	expect_create_fails(&c, -EINVAL, "select 9");
	/* Just past the last enumerator, and negative. */
	c = f->cfg;
	c.lock = (enum iotlb_lock_kind)(IOTLB_LOCK_CUSTOM + 1);
	expect_create_fails(&c, -EINVAL, "lock kind past CUSTOM");
	c = f->cfg;
	c.lock = (enum iotlb_lock_kind) - 1;
	expect_create_fails(&c, -EINVAL, "lock kind -1");
	c = f->cfg;
	c.select = (enum iotlb_select)(IOTLB_SELECT_ROUND_ROBIN + 1);
	expect_create_fails(&c, -EINVAL, "select past ROUND_ROBIN");
	c = f->cfg;
	c.select = (enum iotlb_select) - 1;
	expect_create_fails(&c, -EINVAL, "select -1");
}

static int dummy_init(void *l)
{
	(void)l;
	return 0;
}

static void dummy_destroy(void *l)
{
	(void)l;
}

static void dummy_lock(void *l, void *ctx)
{
	(void)l;
	(void)ctx;
}

static void test_mem_create_custom_lock_with_bad_table_is_refused(void **state)
{
	struct fx *f = *state;
	struct iotlb_lock_ops ops = {
		.struct_size = sizeof(struct iotlb_lock_ops),
		.name = "dummy",
		.lock_size = 8,
		.lock_align = 8,
		.init = dummy_init,
		.destroy = dummy_destroy,
		.lock = dummy_lock,
		.unlock = dummy_lock,
	};
	struct iotlb_lock_ops bad;
	struct iotlb_mem_config c;

	fx_prepare(f, 256);
	c = f->cfg;
	c.lock = IOTLB_LOCK_CUSTOM;
	c.lock_ops = NULL;
	expect_custom_table_refused(&c, "CUSTOM without a table");
	c.lock_ops = &bad;
	bad = ops;
	bad.init = NULL;
	expect_custom_table_refused(&c, "no init");
	bad = ops;
	bad.destroy = NULL;
	expect_custom_table_refused(&c, "no destroy");
	bad = ops;
	bad.lock = NULL;
	expect_custom_table_refused(&c, "no lock");
	bad = ops;
	bad.unlock = NULL;
	expect_custom_table_refused(&c, "no unlock");
	bad = ops;
	bad.lock_size = 0;
	expect_custom_table_refused(&c, "lock_size 0");
	bad = ops;
	bad.lock_align = 3;
	expect_custom_table_refused(&c, "lock_align 3");
}

/* ------------------------------------------------- mem lifetime, stats */

static void test_mem_destroy_of_null_is_refused(void **state)
{
	(void)state;
	assert_int_equal(iotlb_mem_destroy(NULL), -EINVAL);
}

static void test_mem_destroy_with_live_device_is_busy(void **state)
{
	struct fx *f = *state;
	struct fx_snap s;
	uint64_t dma;

	fx_init(f, 256);
	fx_snap_take(f, &s);
	assert_int_equal(iotlb_mem_destroy(f->mem), -EBUSY);
	fx_snap_expect_same(f, &s, 0);
	/* the mem and its device still work */
	dma = fx_map(f, f->dev, 0, 3000, IOTLB_TO_DEVICE);
	assert_int_equal(dma, FX_B);
	fx_unmap(f, f->dev, dma, 3000, IOTLB_TO_DEVICE);
}

static void fill_sentinel_stats(struct iotlb_stats *s)
{
	memset(s, 0xEE, sizeof(*s));
	s->struct_size = sizeof(*s);
}

static void test_stats_calls_with_null_arguments_are_refused(void **state)
{
	struct fx *f = *state;
	struct iotlb_stats s, ref;
	struct iotlb_area_stats as, aref;

	fx_init(f, 256);
	fill_sentinel_stats(&s);
	ref = s;
	assert_int_equal(iotlb_mem_stats(NULL, &s), -EINVAL);
	assert_memory_equal(&s, &ref, sizeof(s));
	assert_int_equal(iotlb_mem_stats(f->mem, NULL), -EINVAL);
	assert_int_equal(iotlb_dev_stats(NULL, &s), -EINVAL);
	assert_memory_equal(&s, &ref, sizeof(s));
	assert_int_equal(iotlb_dev_stats(f->dev, NULL), -EINVAL);

	memset(&as, 0xEE, sizeof(as));
	as.struct_size = sizeof(as);
	aref = as;
	assert_int_equal(iotlb_mem_area_stats(NULL, 0, 0, &as), -EINVAL);
	assert_int_equal(iotlb_mem_area_stats(f->mem, 0, 0, NULL), -EINVAL);
	assert_int_equal(iotlb_mem_area_stats(f->mem, 0, 1, &as), -EINVAL);
	assert_int_equal(iotlb_mem_area_stats(f->mem, 1, 0, &as), -EINVAL);
	assert_int_equal(iotlb_dev_area_stats(NULL, 0, &as), -EINVAL);
	assert_int_equal(iotlb_dev_area_stats(f->dev, 0, NULL), -EINVAL);
	assert_memory_equal(&as, &aref, sizeof(as));
}

static void test_reset_hiwater_to_nonzero_is_refused(void **state)
{
	struct fx *f = *state;
	struct fx_snap s;
	uint64_t dma;

	fx_init(f, 256);
	dma = fx_map(f, f->dev, 0, 6000, IOTLB_TO_DEVICE);
	assert_int_equal(fx_stats(f).used_hiwater, 3);
	fx_snap_take(f, &s);
	assert_int_equal(iotlb_mem_reset_hiwater(NULL, 0), -EINVAL);
	assert_int_equal(iotlb_mem_reset_hiwater(f->mem, 3), -EINVAL);
	assert_int_equal(iotlb_mem_reset_hiwater(f->mem, 1), -EINVAL);
	assert_int_equal(iotlb_mem_reset_hiwater(f->mem, UINT64_MAX), -EINVAL);
	fx_snap_expect_same(f, &s, 0);
	fx_unmap(f, f->dev, dma, 6000, IOTLB_TO_DEVICE);
}

/* ----------------------------------------------------------- dev_create */

static void expect_dev_create_fails(struct fx *f, struct iotlb_mem *mem,
				    const struct iotlb_dev_config *dc, const char *what)
{
	struct iotlb_dev *d = FX_PTR_SENTINEL;
	struct fx_snap s;
	int rc;

	fx_snap_take(f, &s);
	rc = iotlb_dev_create(mem, dc, &d);
	if (rc != -EINVAL)
		fail_msg("%s: iotlb_dev_create returned %d, expected -EINVAL", what, rc);
	assert_ptr_equal(d, FX_PTR_SENTINEL);
	fx_snap_expect_same(f, &s, 0);
}

static void test_dev_create_with_null_arguments_is_refused(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;

	fx_init(f, 256);
	expect_dev_create_fails(f, NULL, &dc, "NULL mem");
	expect_dev_create_fails(f, f->mem, NULL, "NULL cfg");
	assert_int_equal(iotlb_dev_create(f->mem, &dc, NULL), -EINVAL);
	assert_int_equal(f->mem->ndevs, 1);
}

static void test_dev_create_with_bad_struct_size_is_refused(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct {
		struct iotlb_dev_config c;
		unsigned char tail[16];
	} big;

	fx_init(f, 256);
	dc.struct_size = 0;
	expect_dev_create_fails(f, f->mem, &dc, "struct_size 0");
	memset(&big, 0, sizeof(big));
	big.c.struct_size = sizeof(big);
	big.tail[15] = 0x80;
	expect_dev_create_fails(f, f->mem, &big.c, "non-zero tail");
}

static void test_dev_create_with_mask_not_two_power_minus_one_is_refused(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;

	fx_init(f, 256);
	dc.min_align_mask = 0x800;
	expect_dev_create_fails(f, f->mem, &dc, "min_align 0x800");
	dc.min_align_mask = 0x1001;
	expect_dev_create_fails(f, f->mem, &dc, "min_align 0x1001");
	dc.min_align_mask = 0;
	dc.alloc_align_mask = 0x1000;
	expect_dev_create_fails(f, f->mem, &dc, "alloc_align 0x1000");
	dc.alloc_align_mask = 0x6;
	expect_dev_create_fails(f, f->mem, &dc, "alloc_align 0x6");
	dc.alloc_align_mask = 0;
	dc.seg_boundary_mask = 0xfff0;
	expect_dev_create_fails(f, f->mem, &dc, "seg_boundary 0xfff0");
	dc.seg_boundary_mask = 0x10000;
	expect_dev_create_fails(f, f->mem, &dc, "seg_boundary 0x10000");
	dc.seg_boundary_mask = 0xffffffff00000000ull;
	expect_dev_create_fails(f, f->mem, &dc, "seg_boundary high bits");
}

static void test_dev_create_with_boundary_below_a_slot_is_refused(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;

	fx_init(f, 256);
	dc.seg_boundary_mask = 0x3ff;
	expect_dev_create_fails(f, f->mem, &dc, "seg_boundary 0x3ff");
	dc.seg_boundary_mask = 0x1;
	expect_dev_create_fails(f, f->mem, &dc, "seg_boundary 0x1");
}

static void test_dev_create_with_boundary_below_alignment_is_refused(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;

	fx_init(f, 256);
	dc.seg_boundary_mask = 0xffff;
	dc.min_align_mask = 0x1ffff;
	expect_dev_create_fails(f, f->mem, &dc, "boundary below min_align");
	dc.min_align_mask = 0;
	dc.alloc_align_mask = 0x1ffff;
	expect_dev_create_fails(f, f->mem, &dc, "boundary below alloc_align");
}

/* ---------------------------------------------------------- dev_destroy */

static void test_dev_destroy_of_null_is_refused(void **state)
{
	(void)state;
	assert_int_equal(iotlb_dev_destroy(NULL), -EINVAL);
}

static void test_dev_destroy_with_live_mapping_is_busy(void **state)
{
	struct fx *f = *state;
	struct fx_snap s;
	uint64_t dma;

	fx_init(f, 256);
	fx_pattern(fx_orig(f, 0), 3000, 1);
	dma = fx_map(f, f->dev, 0, 3000, IOTLB_BIDIRECTIONAL);
	fx_snap_take(f, &s);
	assert_int_equal(iotlb_dev_destroy(f->dev), -EBUSY);
	fx_snap_expect_same(f, &s, 0);
	/* still mapped: the mapping works and can be unmapped */
	assert_int_equal(iotlb_sync_for_cpu(f->dev, dma, 3000, IOTLB_FROM_DEVICE), 0);
	fx_unmap(f, f->dev, dma, 3000, IOTLB_BIDIRECTIONAL);
	assert_int_equal(iotlb_dev_destroy(f->dev), 0);
	fx_forget_dev(f, f->dev);
}

static void test_dev_destroy_with_live_allocation_is_busy(void **state)
{
	struct fx *f = *state;
	struct fx_snap s;
	uint64_t dma;
	void *va;

	fx_init(f, 256);
	assert_int_equal(iotlb_alloc(f->dev, 4096, &va, &dma), 0);
	fx_snap_take(f, &s);
	assert_int_equal(iotlb_dev_destroy(f->dev), -EBUSY);
	fx_snap_expect_same(f, &s, 0);
	assert_int_equal(iotlb_free(f->dev, dma, 4096), 0);
}

/* ------------------------------------------------------------ pool add */

/* Growth is another issue's feature: only "refused without harm" here. */
static void test_add_pool_with_bad_arguments_does_not_crash(void **state)
{
	struct fx *f = *state;
	struct fx_snap s;

	fx_init(f, 256);
	fx_snap_take(f, &s);
	assert_true(iotlb_mem_add_pool(NULL, f->region, FX_B, 256 * FX_SLOT) < 0);
	/* overlaps the existing pool in both address spaces */
	assert_true(iotlb_mem_add_pool(f->mem, f->region, FX_B, 256 * FX_SLOT) < 0);
	assert_true(iotlb_mem_add_pool(f->mem, f->region + 4096, FX_B + 0x100000, 4096) < 0);
	fx_snap_expect_same(f, &s, 0);
}

/* ------------------------------------------------------------- strerror */

static void test_strerror_names_every_code_of_the_table(void **state)
{
	static const int codes[] = {EINVAL, E2BIG, ENOSPC, ENOENT, EBUSY, ENOMEM};
	const unsigned n = sizeof(codes) / sizeof(codes[0]);
	unsigned i, j;

	(void)state;
	for (i = 0; i < n; i++) {
		const char *neg = iotlb_strerror(-codes[i]);
		const char *pos = iotlb_strerror(codes[i]);

		assert_non_null(neg);
		assert_non_null(pos);
		assert_true(strlen(neg) > 0);
		assert_string_equal(neg, pos);
		for (j = 0; j < i; j++)
			assert_string_not_equal(neg, iotlb_strerror(-codes[j]));
	}
	/* codes outside the table never crash */
	(void)iotlb_strerror(0);
	(void)iotlb_strerror(-12345);
	(void)iotlb_strerror(12345);
	(void)iotlb_strerror(-2147483647 - 1);
	assert_non_null(iotlb_strerror(-ENOTSUP));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_mem_create_without_config_or_out_is_refused),
		FX_TEST(test_mem_create_with_zero_struct_size_is_refused),
		FX_TEST(test_mem_create_with_nonzero_unknown_tail_is_refused),
		FX_TEST(test_mem_create_with_unknown_flag_is_refused),
		FX_TEST(test_mem_create_grow_without_region_ops_is_refused),
		FX_TEST(test_mem_create_with_unaligned_region_is_refused),
		FX_TEST(test_mem_create_with_size_not_a_multiple_of_the_slot_is_refused),
		FX_TEST(test_mem_create_with_null_region_is_refused),
		FX_TEST(test_mem_create_with_bad_geometry_is_refused),
		FX_TEST(test_mem_create_with_unknown_lock_or_select_is_refused),
		FX_TEST(test_mem_create_custom_lock_with_bad_table_is_refused),
		FX_TEST(test_mem_destroy_of_null_is_refused),
		FX_TEST(test_mem_destroy_with_live_device_is_busy),
		FX_TEST(test_stats_calls_with_null_arguments_are_refused),
		FX_TEST(test_reset_hiwater_to_nonzero_is_refused),
		FX_TEST(test_dev_create_with_null_arguments_is_refused),
		FX_TEST(test_dev_create_with_bad_struct_size_is_refused),
		FX_TEST(test_dev_create_with_mask_not_two_power_minus_one_is_refused),
		FX_TEST(test_dev_create_with_boundary_below_a_slot_is_refused),
		FX_TEST(test_dev_create_with_boundary_below_alignment_is_refused),
		FX_TEST(test_dev_destroy_of_null_is_refused),
		FX_TEST(test_dev_destroy_with_live_mapping_is_busy),
		FX_TEST(test_dev_destroy_with_live_allocation_is_busy),
		FX_TEST(test_add_pool_with_bad_arguments_does_not_crash),
		FX_TEST(test_strerror_names_every_code_of_the_table),
	};

	return cmocka_run_group_tests_name("errors_config", tests, NULL, NULL);
}
