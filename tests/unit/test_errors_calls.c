/* SPDX-License-Identifier: MIT */
/*
 * Errors of the mapping calls (include/iotlb/iotlb.h lists them per
 * function): map, unmap, both syncs, alloc and free, with every kind of
 * address that is not a live handle. After every refusal the whole state
 * (statistics, per-slot metadata, cursors, bounce and original bytes) must
 * be as before, and the out-parameters must still hold the sentinel they
 * were given. Lifetime and configuration errors are in test_errors_config.c.
 */
#include "fixture.h"

#define BAD_DIR_HIGH ((enum iotlb_dir)4)
#define BAD_DIR_NEG ((enum iotlb_dir)(-1))

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
	/* Padding SIZE_MAX would wrap past 2^64: still too big, never small. */
	expect_map_fails(f, d, o, SIZE_MAX, IOTLB_TO_DEVICE, -E2BIG, "SIZE_MAX B at 0xf000");
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

int main(void)
{
	const struct CMUnitTest tests[] = {
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
	};

	return cmocka_run_group_tests_name("errors_calls", tests, NULL, NULL);
}
