/* SPDX-License-Identifier: MIT */
/*
 * The error codes of include/iotlb/iotlb.h, reached through every function
 * that can return each code. After every refusal the whole state
 * (statistics, per-slot metadata, cursors, bounce and original bytes) must be
 * as before, and the out-parameters must still hold the sentinel they were
 * given.
 */
#include "fixture.h"

#define BAD_DIR_HIGH ((enum iotlb_dir)4)
#define BAD_DIR_NEG ((enum iotlb_dir)(-1))

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
	c.lock = (enum iotlb_lock_kind)-1;
	expect_create_fails(&c, -EINVAL, "lock kind -1");
	c = f->cfg;
	c.select = (enum iotlb_select)(IOTLB_SELECT_ROUND_ROBIN + 1);
	expect_create_fails(&c, -EINVAL, "select past ROUND_ROBIN");
	c = f->cfg;
	c.select = (enum iotlb_select)-1;
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

/* ------------------------------------------------------------------ map */

static void expect_map_fails(struct fx *f, struct iotlb_dev *d, void *orig, size_t size,
			     enum iotlb_dir dir, int err, const char *what)
{
	uint64_t dma = FX_DMA_SENTINEL;
	struct fx_snap s;
	unsigned allow = err == -ENOSPC ? FX_ALLOW_NOSPACE : err == -E2BIG ? FX_ALLOW_TOO_BIG : 0;
	int rc;

	fx_snap_take(f, &s);
	rc = iotlb_map(d, 0, orig, size, dir, 0, &dma);
	if (rc != err)
		fail_msg("%s: iotlb_map returned %d, expected %d", what, rc, err);
	assert_int_equal(dma, FX_DMA_SENTINEL);
	fx_snap_expect_same(f, &s, allow);
}

static void test_map_with_bad_arguments_is_refused(void **state)
{
	struct fx *f = *state;
	struct fx_snap s;
	void *o;

	fx_init(f, 256);
	o = fx_orig(f, 0);
	expect_map_fails(f, NULL, o, 100, IOTLB_TO_DEVICE, -EINVAL, "NULL dev");
	expect_map_fails(f, f->dev, NULL, 100, IOTLB_TO_DEVICE, -EINVAL, "NULL orig");
	expect_map_fails(f, f->dev, o, 0, IOTLB_TO_DEVICE, -EINVAL, "size 0");
	expect_map_fails(f, f->dev, o, 100, BAD_DIR_HIGH, -EINVAL, "dir 4");
	expect_map_fails(f, f->dev, o, 100, BAD_DIR_NEG, -EINVAL, "dir -1");
	expect_map_fails(f, f->dev, o, 100, IOTLB_DIR_NONE, -EINVAL, "dir NONE");
	fx_snap_take(f, &s);
	assert_int_equal(iotlb_map(f->dev, 0, o, 100, IOTLB_TO_DEVICE, 0, NULL), -EINVAL);
	fx_snap_expect_same(f, &s, 0);
	/* a refused call logs no "buffer is full" line */
	assert_int_equal(fx_log_count(f, "swiotlb buffer is full"), 0);
}

static void test_map_over_a_segment_is_too_big(void **state)
{
	struct fx *f = *state;

	fx_init(f, 256);
	expect_map_fails(f, f->dev, fx_orig(f, 0), 262145, IOTLB_TO_DEVICE, -E2BIG, "262145 B");
	expect_map_fails(f, f->dev, fx_orig(f, 0), 1u << 20, IOTLB_BIDIRECTIONAL, -E2BIG, "1 MiB");
	assert_int_equal(fx_log_count(f, "swiotlb buffer is full"), 2);
}

/* min_align keeps 0x200 of the original: 262144 + 0x200 needs 129 slots. */
static void test_map_whose_padding_exceeds_a_segment_is_too_big(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;

	fx_init(f, 256);
	d = fx_dev(f, 0xfff, 0, 0);
	expect_map_fails(f, d, fx_orig(f, 0x200), 262144, IOTLB_TO_DEVICE, -E2BIG,
			 "min_align offset");
}

/* E2BIG is decided by the padded size: with alloc_align 0xffff an original
 * at 0xf000 pads 200000 B to 262144 (fits) but 201000 B to 327680. */
static void test_map_too_big_is_decided_by_padded_size(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;
	uint64_t dma = FX_DMA_SENTINEL;
	unsigned char *o;

	fx_init(f, 256);
	d = fx_dev(f, 0xffff, 0xffff, 0);
	o = fx_orig(f, 0xf000);
	expect_map_fails(f, d, o, 201000, IOTLB_TO_DEVICE, -E2BIG, "201000 B at 0xf000");
	fx_pattern(o, 200000, 3);
	assert_int_equal(iotlb_map(d, 0, o, 200000, IOTLB_TO_DEVICE, 0, &dma), 0);
	assert_int_equal(dma, FX_B + 0xf000);
	assert_int_equal(fx_stats(f).used, 128);
	assert_memory_equal(fx_bounce(f, dma), o, 200000);
	fx_unmap(f, d, dma, 200000, IOTLB_TO_DEVICE);
	assert_int_equal(fx_stats(f).used, 0);
}

static void test_map_into_full_pool_is_nospace(void **state)
{
	struct fx *f = *state;
	uint64_t a, b;

	fx_init(f, 256);
	a = fx_map(f, f->dev, 0, 262144, IOTLB_TO_DEVICE);
	b = fx_map(f, f->dev, 0x40000, 262144, IOTLB_TO_DEVICE);
	expect_map_fails(f, f->dev, fx_orig(f, 0x80000), 100, IOTLB_TO_DEVICE, -ENOSPC, "full");
	expect_map_fails(f, f->dev, fx_orig(f, 0x80000), 262144, IOTLB_FROM_DEVICE, -ENOSPC,
			 "full, a whole segment");
	fx_unmap(f, f->dev, a, 262144, IOTLB_TO_DEVICE);
	fx_unmap(f, f->dev, b, 262144, IOTLB_TO_DEVICE);
}

/* A run that never fits for a reason other than its size is -ENOSPC. */
static void test_map_blocked_by_boundary_is_nospace_not_too_big(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;

	fx_init(f, 256);
	d = fx_dev(f, 0, 0, 0x7ff); /* every run must stay inside one slot */
	expect_map_fails(f, d, fx_orig(f, 0), 3000, IOTLB_TO_DEVICE, -ENOSPC, "two slots");
}

/* ------------------------------------------------------ unmap, sync, free */

enum { ON_UNMAP = 1, ON_SYNC = 2, ON_FREE = 4 };

static void expect_enoent(struct fx *f, struct iotlb_dev *d, uint64_t dma, unsigned which,
			  const char *what)
{
	struct fx_snap s;
	int rc;

	if (which & ON_UNMAP) {
		fx_snap_take(f, &s);
		rc = iotlb_unmap(d, dma, 100, IOTLB_FROM_DEVICE, 0);
		if (rc != -ENOENT)
			fail_msg("%s: unmap returned %d, expected -ENOENT", what, rc);
		fx_snap_expect_same(f, &s, 0);
		fx_snap_take(f, &s);
		rc = iotlb_unmap(d, dma, 100, IOTLB_BIDIRECTIONAL, IOTLB_ATTR_SKIP_CPU_SYNC);
		if (rc != -ENOENT)
			fail_msg("%s: unmap (skip sync) returned %d, expected -ENOENT", what, rc);
		fx_snap_expect_same(f, &s, 0);
	}
	if (which & ON_SYNC) {
		fx_snap_take(f, &s);
		rc = iotlb_sync_for_cpu(d, dma, 100, IOTLB_FROM_DEVICE);
		if (rc != -ENOENT)
			fail_msg("%s: sync_for_cpu returned %d, expected -ENOENT", what, rc);
		fx_snap_expect_same(f, &s, 0);
		fx_snap_take(f, &s);
		rc = iotlb_sync_for_device(d, dma, 100, IOTLB_TO_DEVICE);
		if (rc != -ENOENT)
			fail_msg("%s: sync_for_device returned %d, expected -ENOENT", what, rc);
		fx_snap_expect_same(f, &s, 0);
	}
	if (which & ON_FREE) {
		fx_snap_take(f, &s);
		rc = iotlb_free(d, dma, 4096);
		if (rc != -ENOENT)
			fail_msg("%s: free returned %d, expected -ENOENT", what, rc);
		fx_snap_expect_same(f, &s, 0);
	}
}

/*
 * A populated pool: a streaming mapping M (3000 B, slots 0-1), a coherent
 * allocation C (8 KiB) of the default device, a mapping X and allocation Y of
 * another device, a padded mapping P (one padding slot), a dead mapping.
 */
struct zoo {
	struct iotlb_dev *other, *padded;
	uint64_t m, c, x, y, p, dead;
	void *cva, *yva;
};

static void zoo_build(struct fx *f, struct zoo *z)
{
	fx_init(f, 256);
	z->other = fx_dev(f, 0, 0, 0);
	z->padded = fx_dev(f, 0xfff, 0xfff, 0);
	fx_pattern(fx_orig(f, 0), 3000, 5);
	z->m = fx_map(f, f->dev, 0, 3000, IOTLB_BIDIRECTIONAL);
	assert_int_equal(z->m, FX_B);
	assert_int_equal(iotlb_alloc(f->dev, 8192, &z->cva, &z->c), 0);
	z->x = fx_map(f, z->other, 0x10000, 3000, IOTLB_BIDIRECTIONAL);
	assert_int_equal(iotlb_alloc(z->other, 4096, &z->yva, &z->y), 0);
	z->p = fx_map(f, z->padded, 0x20a00, 4096, IOTLB_BIDIRECTIONAL);
	assert_int_equal(z->p & 0xfff, 0xa00);
	assert_int_equal(fx_slot(f, (z->p - FX_B) >> 11)->pad_slots, 1);
	z->dead = fx_map(f, f->dev, 0x30000, 500, IOTLB_BIDIRECTIONAL);
	fx_unmap(f, f->dev, z->dead, 500, IOTLB_BIDIRECTIONAL);
	/* the device "wrote" bytes different from every original */
	memset(fx_bounce(f, z->m), 0x99, 3000);
	memset(fx_bounce(f, z->x), 0x98, 3000);
	memset(fx_bounce(f, z->p), 0x97, 4096);
}

static void zoo_destroy(struct fx *f, struct zoo *z)
{
	fx_unmap(f, f->dev, z->m, 3000, IOTLB_TO_DEVICE);
	fx_unmap(f, z->other, z->x, 3000, IOTLB_TO_DEVICE);
	fx_unmap(f, z->padded, z->p, 4096, IOTLB_TO_DEVICE);
	assert_int_equal(iotlb_free(f->dev, z->c, 8192), 0);
	assert_int_equal(iotlb_free(z->other, z->y, 4096), 0);
	assert_int_equal(fx_stats(f).used, 0);
}

static void test_unmap_sync_free_with_bad_arguments_are_refused(void **state)
{
	struct fx *f = *state;
	struct zoo z;
	struct fx_snap s;
	static const enum iotlb_dir bad[] = {IOTLB_DIR_NONE, BAD_DIR_HIGH, BAD_DIR_NEG};
	unsigned i;

	zoo_build(f, &z);
	fx_snap_take(f, &s);
	assert_int_equal(iotlb_unmap(NULL, z.m, 3000, IOTLB_FROM_DEVICE, 0), -EINVAL);
	assert_int_equal(iotlb_unmap(f->dev, z.m, 0, IOTLB_FROM_DEVICE, 0), -EINVAL);
	assert_int_equal(iotlb_sync_for_cpu(NULL, z.m, 3000, IOTLB_FROM_DEVICE), -EINVAL);
	assert_int_equal(iotlb_sync_for_cpu(f->dev, z.m, 0, IOTLB_FROM_DEVICE), -EINVAL);
	assert_int_equal(iotlb_sync_for_device(NULL, z.m, 3000, IOTLB_TO_DEVICE), -EINVAL);
	assert_int_equal(iotlb_sync_for_device(f->dev, z.m, 0, IOTLB_TO_DEVICE), -EINVAL);
	for (i = 0; i < 3; i++) {
		assert_int_equal(iotlb_unmap(f->dev, z.m, 3000, bad[i], 0), -EINVAL);
		assert_int_equal(iotlb_sync_for_cpu(f->dev, z.m, 3000, bad[i]), -EINVAL);
		assert_int_equal(iotlb_sync_for_device(f->dev, z.m, 3000, bad[i]), -EINVAL);
	}
	assert_int_equal(iotlb_free(NULL, z.c, 8192), -EINVAL);
	assert_int_equal(iotlb_free(f->dev, z.c, 0), -EINVAL);
	fx_snap_expect_same(f, &s, 0);
	zoo_destroy(f, &z);
}

static void test_unmap_and_sync_of_never_mapped_address_are_refused(void **state)
{
	struct fx *f = *state;
	struct zoo z;

	zoo_build(f, &z);
	expect_enoent(f, f->dev, fx_slot_dma(200), ON_UNMAP | ON_SYNC | ON_FREE, "free slot 200");
	expect_enoent(f, f->dev, fx_slot_dma(200) + 0x123, ON_UNMAP | ON_SYNC | ON_FREE,
		      "inside free slot 200");
	zoo_destroy(f, &z);
}

static void test_unmap_and_sync_of_unmapped_handle_are_refused(void **state)
{
	struct fx *f = *state;
	struct zoo z;

	zoo_build(f, &z);
	expect_enoent(f, f->dev, z.dead, ON_UNMAP | ON_SYNC | ON_FREE, "unmapped handle");
	zoo_destroy(f, &z);
}

static void test_unmap_of_inner_address_is_refused(void **state)
{
	struct fx *f = *state;
	struct zoo z;

	zoo_build(f, &z);
	expect_enoent(f, f->dev, z.m + 1, ON_UNMAP, "handle + 1");
	expect_enoent(f, f->dev, z.m + 0x800, ON_UNMAP, "second slot");
	expect_enoent(f, z.padded, z.p + 0x800, ON_UNMAP, "second data slot of P");
	zoo_destroy(f, &z);
}

static void test_unmap_and_sync_of_another_devices_mapping_are_refused(void **state)
{
	struct fx *f = *state;
	struct zoo z;

	zoo_build(f, &z);
	expect_enoent(f, f->dev, z.x, ON_UNMAP | ON_SYNC, "X through the default device");
	expect_enoent(f, z.other, z.m, ON_UNMAP | ON_SYNC, "M through the other device");
	expect_enoent(f, z.other, z.m + 0x900, ON_SYNC, "inside M through the other device");
	zoo_destroy(f, &z);
}

static void test_unmap_and_sync_of_coherent_allocation_are_refused(void **state)
{
	struct fx *f = *state;
	struct zoo z;

	zoo_build(f, &z);
	expect_enoent(f, f->dev, z.c, ON_UNMAP | ON_SYNC, "coherent C");
	expect_enoent(f, f->dev, z.c + 0x800, ON_UNMAP | ON_SYNC, "inside coherent C");
	zoo_destroy(f, &z);
}

static void test_unmap_and_sync_outside_every_pool_are_refused(void **state)
{
	struct fx *f = *state;
	struct zoo z;
	static const uint64_t out[] = {
		0,
		FX_B - FX_SLOT,
		FX_B - 1,
		FX_B + 256 * FX_SLOT,
		FX_B + 256 * FX_SLOT + 0x800,
		UINT64_MAX,
	};
	unsigned i;

	zoo_build(f, &z);
	for (i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		expect_enoent(f, f->dev, out[i], ON_UNMAP | ON_SYNC | ON_FREE, "outside");
		assert_null(iotlb_dma_to_virt(f->dev, out[i]));
		assert_false(iotlb_is_bounce(f->dev, out[i]));
	}
	zoo_destroy(f, &z);
}

static void test_unmap_and_sync_of_padding_slot_are_refused(void **state)
{
	struct fx *f = *state;
	struct zoo z;
	uint64_t pad;

	zoo_build(f, &z);
	pad = (z.p & ~(FX_SLOT - 1)) - FX_SLOT;
	assert_int_equal(fx_slot(f, (pad - FX_B) >> 11)->orig, 0);
	expect_enoent(f, z.padded, pad, ON_UNMAP | ON_SYNC | ON_FREE, "padding slot");
	expect_enoent(f, z.padded, pad + 0x200, ON_UNMAP | ON_SYNC | ON_FREE, "inside padding");
	zoo_destroy(f, &z);
}

/* With min_align 0x7ff an original at ...064 leaves 100 bytes of the first
 * slot before the data: a sync there is not inside the data. */
static void test_sync_before_the_data_start_is_refused(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;
	uint64_t dma;

	fx_init(f, 256);
	d = fx_dev(f, 0x7ff, 0, 0);
	dma = fx_map(f, d, 0x64, 2000, IOTLB_BIDIRECTIONAL);
	assert_int_equal(dma, FX_B + 0x64);
	expect_enoent(f, d, dma - 1, ON_UNMAP | ON_SYNC, "handle - 1");
	expect_enoent(f, d, FX_B, ON_UNMAP | ON_SYNC, "slot start before the data");
	fx_unmap(f, d, dma, 2000, IOTLB_BIDIRECTIONAL);
}

/* Same mapping: byte 2000 (slot 1, 52 bytes in) is just past the data. */
static void test_sync_past_the_data_end_is_refused(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;
	uint64_t dma;

	fx_init(f, 256);
	d = fx_dev(f, 0x7ff, 0, 0);
	dma = fx_map(f, d, 0x64, 2000, IOTLB_BIDIRECTIONAL);
	assert_int_equal(dma, FX_B + 0x64);
	expect_enoent(f, d, dma + 2000, ON_UNMAP | ON_SYNC, "handle + 2000");
	expect_enoent(f, d, FX_B + 0xfff, ON_UNMAP | ON_SYNC, "last byte of slot 1");
	fx_unmap(f, d, dma, 2000, IOTLB_BIDIRECTIONAL);
}

static void test_free_of_bad_addresses_is_refused(void **state)
{
	struct fx *f = *state;
	struct zoo z;

	zoo_build(f, &z);
	expect_enoent(f, f->dev, fx_slot_dma(200), ON_FREE, "never allocated");
	expect_enoent(f, f->dev, z.c + FX_SLOT, ON_FREE, "inner address of C");
	expect_enoent(f, f->dev, z.c + 1, ON_FREE, "C + 1");
	expect_enoent(f, f->dev, z.y, ON_FREE, "the other device's allocation");
	expect_enoent(f, z.other, z.c, ON_FREE, "C through the other device");
	expect_enoent(f, f->dev, z.m, ON_FREE, "a streaming mapping");
	expect_enoent(f, z.padded, z.p, ON_FREE, "a padded streaming mapping");
	zoo_destroy(f, &z);
}

static void test_free_of_freed_allocation_is_refused(void **state)
{
	struct fx *f = *state;
	uint64_t dma;
	void *va;

	fx_init(f, 256);
	assert_int_equal(iotlb_alloc(f->dev, 4096, &va, &dma), 0);
	assert_int_equal(iotlb_free(f->dev, dma, 4096), 0);
	expect_enoent(f, f->dev, dma, ON_FREE | ON_UNMAP | ON_SYNC, "freed allocation");
}

/* ---------------------------------------------------------------- alloc */

static void expect_alloc_fails(struct fx *f, struct iotlb_dev *d, size_t size, int err,
			       const char *what)
{
	uint64_t dma = FX_DMA_SENTINEL;
	void *va = FX_PTR_SENTINEL;
	struct fx_snap s;
	unsigned allow = err == -ENOSPC ? FX_ALLOW_NOSPACE : err == -E2BIG ? FX_ALLOW_TOO_BIG : 0;
	int rc;

	fx_snap_take(f, &s);
	rc = iotlb_alloc(d, size, &va, &dma);
	if (rc != err)
		fail_msg("%s: iotlb_alloc returned %d, expected %d", what, rc, err);
	assert_int_equal(dma, FX_DMA_SENTINEL);
	assert_ptr_equal(va, FX_PTR_SENTINEL);
	fx_snap_expect_same(f, &s, allow);
}

static void test_alloc_with_bad_arguments_is_refused(void **state)
{
	struct fx *f = *state;
	struct fx_snap s;
	uint64_t dma = FX_DMA_SENTINEL;
	void *va = FX_PTR_SENTINEL;

	fx_init(f, 256);
	expect_alloc_fails(f, NULL, 4096, -EINVAL, "NULL dev");
	expect_alloc_fails(f, f->dev, 0, -EINVAL, "size 0");
	fx_snap_take(f, &s);
	assert_int_equal(iotlb_alloc(f->dev, 4096, NULL, &dma), -EINVAL);
	assert_int_equal(dma, FX_DMA_SENTINEL);
	assert_int_equal(iotlb_alloc(f->dev, 4096, &va, NULL), -EINVAL);
	assert_ptr_equal(va, FX_PTR_SENTINEL);
	fx_snap_expect_same(f, &s, 0);
}

static void test_alloc_over_a_segment_is_too_big(void **state)
{
	struct fx *f = *state;
	uint64_t dma;
	void *va;

	fx_init(f, 256);
	expect_alloc_fails(f, f->dev, 262145, -E2BIG, "262145 B");
	expect_alloc_fails(f, f->dev, 1u << 20, -E2BIG, "1 MiB");
	assert_int_equal(iotlb_alloc(f->dev, 262144, &va, &dma), 0);
	assert_int_equal(dma, FX_B);
	assert_int_equal(iotlb_free(f->dev, dma, 262144), 0);
}

static void test_alloc_into_full_pool_is_nospace(void **state)
{
	struct fx *f = *state;
	uint64_t a, b;
	void *va, *vb;

	fx_init(f, 256);
	assert_int_equal(iotlb_alloc(f->dev, 262144, &va, &a), 0);
	assert_int_equal(iotlb_alloc(f->dev, 260000, &vb, &b), 0);
	expect_alloc_fails(f, f->dev, 4096, -ENOSPC, "full");
	expect_alloc_fails(f, f->dev, 2048, -ENOSPC, "full, one slot");
	assert_int_equal(iotlb_free(f->dev, a, 262144), 0);
	assert_int_equal(iotlb_free(f->dev, b, 260000), 0);
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
		FX_TEST(test_map_with_bad_arguments_is_refused),
		FX_TEST(test_map_over_a_segment_is_too_big),
		FX_TEST(test_map_whose_padding_exceeds_a_segment_is_too_big),
		FX_TEST(test_map_too_big_is_decided_by_padded_size),
		FX_TEST(test_map_into_full_pool_is_nospace),
		FX_TEST(test_map_blocked_by_boundary_is_nospace_not_too_big),
		FX_TEST(test_unmap_sync_free_with_bad_arguments_are_refused),
		FX_TEST(test_unmap_and_sync_of_never_mapped_address_are_refused),
		FX_TEST(test_unmap_and_sync_of_unmapped_handle_are_refused),
		FX_TEST(test_unmap_of_inner_address_is_refused),
		FX_TEST(test_unmap_and_sync_of_another_devices_mapping_are_refused),
		FX_TEST(test_unmap_and_sync_of_coherent_allocation_are_refused),
		FX_TEST(test_unmap_and_sync_outside_every_pool_are_refused),
		FX_TEST(test_unmap_and_sync_of_padding_slot_are_refused),
		FX_TEST(test_sync_before_the_data_start_is_refused),
		FX_TEST(test_sync_past_the_data_end_is_refused),
		FX_TEST(test_free_of_bad_addresses_is_refused),
		FX_TEST(test_free_of_freed_allocation_is_refused),
		FX_TEST(test_alloc_with_bad_arguments_is_refused),
		FX_TEST(test_alloc_over_a_segment_is_too_big),
		FX_TEST(test_alloc_into_full_pool_is_nospace),
		FX_TEST(test_add_pool_with_bad_arguments_does_not_crash),
		FX_TEST(test_strerror_names_every_code_of_the_table),
	};

	return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
