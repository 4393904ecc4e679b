/* SPDX-License-Identifier: MIT */
/*
 * Bounce copies (docs/algorithm.md#map to #coherent, and #copy-table): what map,
 * unmap and both syncs copy for every direction and attribute, partial and
 * oversized lengths, coherent memory, address queries and IOTLB_MEM_SCRUB.
 */
#include "fixture.h"

static const enum iotlb_dir dirs[3] = {IOTLB_BIDIRECTIONAL, IOTLB_TO_DEVICE, IOTLB_FROM_DEVICE};

static bool dir_to_cpu(enum iotlb_dir d)
{
	return d == IOTLB_FROM_DEVICE || d == IOTLB_BIDIRECTIONAL;
}

static bool dir_to_device(enum iotlb_dir d)
{
	return d == IOTLB_TO_DEVICE || d == IOTLB_BIDIRECTIONAL;
}

static void test_map_copies_the_original_for_every_direction_and_attr(void **state)
{
	struct fx *f = *state;
	static const unsigned attrs[] = {0, IOTLB_ATTR_SKIP_CPU_SYNC, IOTLB_ATTR_NO_WARN,
					 IOTLB_ATTR_SKIP_CPU_SYNC | IOTLB_ATTR_NO_WARN};
	unsigned char *o;
	unsigned i, j;
	uint64_t dma, before;

	fx_init(f, 256);
	o = fx_orig(f, 0x123);
	for (i = 0; i < 3; i++) {
		for (j = 0; j < 4; j++) {
			fx_pattern(o, 5000, i * 4 + j);
			before = fx_stats(f).bounced_to_device;
			assert_int_equal(iotlb_map(f->dev, 0, o, 5000, dirs[i], attrs[j], &dma), 0);
			assert_memory_equal(fx_bounce(f, dma), o, 5000);
			assert_int_equal(fx_stats(f).bounced_to_device - before, 5000);
			assert_int_equal(iotlb_unmap(f->dev, dma, 5000, IOTLB_TO_DEVICE, 0), 0);
		}
	}
	assert_int_equal(fx_stats(f).maps, 12);
	assert_int_equal(fx_stats(f).unmaps, 12);
}

/* Unmap copies back iff its own dir is FROM_DEVICE or BIDIRECTIONAL and
 * SKIP_CPU_SYNC is not set, whatever the direction of the map. */
static void test_unmap_copies_back_by_its_own_direction(void **state)
{
	struct fx *f = *state;
	unsigned char *o;
	unsigned i, j, skip;
	uint64_t dma, before;

	fx_init(f, 256);
	o = fx_orig(f, 0x40);
	for (i = 0; i < 3; i++) {
		for (j = 0; j < 3; j++) {
			for (skip = 0; skip < 2; skip++) {
				bool copy = dir_to_cpu(dirs[j]) && !skip;

				memset(o, 0x31, 3000);
				dma = fx_map(f, f->dev, 0x40, 3000, dirs[i]);
				memset(fx_bounce(f, dma), 0x32, 3000);
				before = fx_stats(f).bounced_to_cpu;
				assert_int_equal(iotlb_unmap(f->dev, dma, 3000, dirs[j],
							     skip ? IOTLB_ATTR_SKIP_CPU_SYNC : 0),
						 0);
				fx_assert_bytes(o, 3000, copy ? 0x32 : 0x31);
				assert_int_equal(fx_stats(f).bounced_to_cpu - before,
						 copy ? 3000 : 0);
				assert_int_equal(fx_stats(f).used, 0);
			}
		}
	}
}

static void test_sync_for_device_copies_only_toward_the_device(void **state)
{
	struct fx *f = *state;
	unsigned char *o;
	unsigned i;
	uint64_t dma, before;

	fx_init(f, 256);
	o = fx_orig(f, 0);
	for (i = 0; i < 3; i++) {
		memset(o, 0x41, 3000);
		dma = fx_map(f, f->dev, 0, 3000, IOTLB_BIDIRECTIONAL);
		memset(o, 0x42, 3000);
		before = fx_stats(f).bounced_to_device;
		assert_int_equal(iotlb_sync_for_device(f->dev, dma, 3000, dirs[i]), 0);
		fx_assert_bytes(fx_bounce(f, dma), 3000, dir_to_device(dirs[i]) ? 0x42 : 0x41);
		fx_assert_bytes(o, 3000, 0x42);
		assert_int_equal(fx_stats(f).bounced_to_device - before,
				 dir_to_device(dirs[i]) ? 3000 : 0);
		fx_unmap(f, f->dev, dma, 3000, IOTLB_TO_DEVICE);
	}
}

static void test_sync_for_cpu_copies_only_toward_the_cpu(void **state)
{
	struct fx *f = *state;
	unsigned char *o;
	unsigned i;
	uint64_t dma, before;

	fx_init(f, 256);
	o = fx_orig(f, 0);
	for (i = 0; i < 3; i++) {
		memset(o, 0x51, 3000);
		dma = fx_map(f, f->dev, 0, 3000, IOTLB_BIDIRECTIONAL);
		memset(fx_bounce(f, dma), 0x52, 3000);
		before = fx_stats(f).bounced_to_cpu;
		assert_int_equal(iotlb_sync_for_cpu(f->dev, dma, 3000, dirs[i]), 0);
		fx_assert_bytes(o, 3000, dir_to_cpu(dirs[i]) ? 0x52 : 0x51);
		fx_assert_bytes(fx_bounce(f, dma), 3000, 0x52);
		assert_int_equal(fx_stats(f).bounced_to_cpu - before,
				 dir_to_cpu(dirs[i]) ? 3000 : 0);
		fx_unmap(f, f->dev, dma, 3000, IOTLB_TO_DEVICE);
	}
}

/* A sync may be repeated; the mapping stays live in between. */
static void test_repeated_syncs_keep_the_mapping_live(void **state)
{
	struct fx *f = *state;
	unsigned char *o;
	uint64_t dma;
	unsigned k;

	fx_init(f, 256);
	o = fx_orig(f, 0);
	dma = fx_map(f, f->dev, 0, 8000, IOTLB_BIDIRECTIONAL);
	for (k = 0; k < 5; k++) {
		fx_pattern(o, 8000, 40 + k);
		assert_int_equal(iotlb_sync_for_device(f->dev, dma, 8000, IOTLB_TO_DEVICE), 0);
		assert_memory_equal(fx_bounce(f, dma), o, 8000);
		fx_pattern(fx_bounce(f, dma), 8000, 50 + k);
		assert_int_equal(iotlb_sync_for_cpu(f->dev, dma, 8000, IOTLB_FROM_DEVICE), 0);
		assert_memory_equal(fx_bounce(f, dma), o, 8000);
	}
	assert_int_equal(fx_stats(f).syncs, 10);
	assert_int_equal(fx_stats(f).used, 4);
	fx_unmap(f, f->dev, dma, 8000, IOTLB_TO_DEVICE);
}

/* docs/algorithm.md#unmap: an unmap larger than the mapping copies what the mapping holds
 * (clamp, counted and logged) and frees the whole allocation. */
static void test_unmap_larger_than_the_mapping_copies_what_it_holds(void **state)
{
	struct fx *f = *state;
	unsigned char *o;
	uint64_t dma;

	fx_init(f, 256);
	o = fx_orig(f, 0);
	memset(o, 0xAA, 4096);
	dma = fx_map(f, f->dev, 0, 1000, IOTLB_FROM_DEVICE);
	memset(fx_bounce(f, dma), 0x55, 1100);
	assert_int_equal(iotlb_unmap(f->dev, dma, 1100, IOTLB_FROM_DEVICE, 0), 0);
	fx_assert_bytes(o, 1000, 0x55);
	fx_assert_bytes(o + 1000, 3096, 0xAA);
	assert_int_equal(fx_stats(f).overflow_clamps, 1);
	assert_int_equal(fx_stats(f).bounced_to_cpu, 1000);
	assert_int_equal(fx_log_count(f, "Buffer overflow detected"), 1);
	assert_int_equal(fx_stats(f).used, 0);
	fx_assert_list_fresh(f, 0, 256);
}

/* A smaller size copies only that many bytes and still frees everything. */
static void test_unmap_smaller_than_the_mapping_copies_that_many(void **state)
{
	struct fx *f = *state;
	unsigned char *o;
	uint64_t dma;

	fx_init(f, 256);
	o = fx_orig(f, 0);
	memset(o, 0xAA, 6000);
	dma = fx_map(f, f->dev, 0, 6000, IOTLB_FROM_DEVICE);
	assert_int_equal(fx_stats(f).used, 3);
	memset(fx_bounce(f, dma), 0x55, 6000);
	assert_int_equal(iotlb_unmap(f->dev, dma, 100, IOTLB_FROM_DEVICE, 0), 0);
	fx_assert_bytes(o, 100, 0x55);
	fx_assert_bytes(o + 100, 5900, 0xAA);
	assert_int_equal(fx_stats(f).overflow_clamps, 0);
	assert_int_equal(fx_stats(f).used, 0);
	fx_assert_list_fresh(f, 0, 256);
}

/* Bytes survive the trip both ways for every alignment shape. */
static void test_bytes_round_trip_for_aligned_and_padded_mappings(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint64_t min_align, alloc_align;
		size_t off, size;
	} c[] = {
		{0, 0, 0x0, 1},
		{0, 0, 0x7, 262144},
		{0x7ff, 0, 0x64, 2000},
		{0xfff, 0, 0xa00, 4096},
		{0xfff, 0xfff, 0xa00, 4096},
		{0x3fff, 0x3fff, 0x2a00, 70000},
		{0x3, 0, 0x3, 12345},
		{0xfff, 0, 0x0, 262144},
	};
	unsigned char dev_bytes[8192];
	unsigned i;

	fx_init(f, 256);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct iotlb_dev *d = fx_dev(f, c[i].min_align, c[i].alloc_align, 0);
		size_t off = 0x100000 + c[i].off;
		unsigned char *o = fx_orig(f, off), *b;
		uint64_t dma;
		size_t k;

		fx_pattern(o, c[i].size, 60 + i);
		dma = fx_map(f, d, off, c[i].size, IOTLB_BIDIRECTIONAL);
		assert_int_equal(dma & c[i].min_align, fx_addr(o) & c[i].min_align);
		b = fx_bounce(f, dma);
		assert_ptr_equal(iotlb_dma_to_virt(d, dma), b);
		assert_memory_equal(b, o, c[i].size);
		/* the device rewrites the buffer */
		fx_pattern(dev_bytes, sizeof(dev_bytes), 70 + i);
		for (k = 0; k < c[i].size; k += sizeof(dev_bytes)) {
			size_t n = c[i].size - k < sizeof(dev_bytes) ? c[i].size - k
								     : sizeof(dev_bytes);
			memcpy(b + k, dev_bytes, n);
		}
		fx_unmap(f, d, dma, c[i].size, IOTLB_FROM_DEVICE);
		for (k = 0; k < c[i].size; k += sizeof(dev_bytes)) {
			size_t n = c[i].size - k < sizeof(dev_bytes) ? c[i].size - k
								     : sizeof(dev_bytes);
			assert_memory_equal(o + k, dev_bytes, n);
		}
		assert_int_equal(fx_stats(f).used, 0);
	}
	fx_assert_list_fresh(f, 0, 256);
}

/* 5.5: max_mapping_size is a worst case; min_align 0xfff with a page-aligned
 * 262144 B buffer needs no offset and fits. */
static void test_mapping_above_max_mapping_size_that_fits_its_orig_succeeds(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d;
	unsigned char *o;
	uint64_t dma;

	fx_init(f, 256);
	d = fx_dev(f, 0xfff, 0, 0);
	assert_int_equal(iotlb_max_mapping_size(d), 258048);
	o = fx_orig(f, 0x100000);
	fx_pattern(o, 262144, 80);
	dma = fx_map(f, d, 0x100000, 262144, IOTLB_TO_DEVICE);
	assert_int_equal(dma, FX_B);
	assert_int_equal(fx_stats(f).used, 128);
	assert_memory_equal(fx_bounce(f, dma), o, 262144);
	fx_unmap(f, d, dma, 262144, IOTLB_TO_DEVICE);
}

static void test_coherent_memory_is_the_bounce_region(void **state)
{
	struct fx *f = *state;
	uint64_t dma, before_dev, before_cpu;
	void *va;

	fx_init(f, 256);
	assert_int_equal(iotlb_alloc(f->dev, 10000, &va, &dma), 0);
	assert_ptr_equal(va, fx_bounce(f, dma));
	assert_ptr_equal(iotlb_dma_to_virt(f->dev, dma), va);
	assert_ptr_equal(iotlb_dma_to_virt(f->dev, dma + 9999), (unsigned char *)va + 9999);
	assert_true(iotlb_is_bounce(f->dev, dma));
	assert_int_equal(dma & 0x3fff, 0); /* 16 KiB: the power of two holding 10000 */
	before_dev = fx_stats(f).bounced_to_device;
	before_cpu = fx_stats(f).bounced_to_cpu;
	memset(va, 0x77, 10000);
	assert_int_equal(fx_stats(f).used, 5);
	assert_int_equal(fx_stats(f).allocs, 1);
	assert_int_equal(iotlb_free(f->dev, dma, 10000), 0);
	assert_int_equal(fx_stats(f).frees, 1);
	/* nothing is ever copied for coherent memory */
	assert_int_equal(fx_stats(f).bounced_to_device, before_dev);
	assert_int_equal(fx_stats(f).bounced_to_cpu, before_cpu);
	assert_int_equal(fx_stats(f).used, 0);
	fx_assert_list_fresh(f, 0, 256);
}

/* The device's alloc_align_mask does not apply to coherent allocations;
 * its boundary does. */
static void test_coherent_alloc_ignores_device_alloc_align(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *d, *b;
	uint64_t a, dma, dmb;
	void *va;

	fx_init(f, 256);
	d = fx_dev(f, 0, 0xffff, 0);
	a = fx_map(f, f->dev, 0, 100, IOTLB_TO_DEVICE);
	assert_int_equal(iotlb_alloc(d, 2048, &va, &dma), 0);
	assert_int_equal(dma, fx_slot_dma(2)); /* page aligned, not 64 KiB */
	b = fx_dev(f, 0, 0, 0x1fff);
	/* cursor 3; 8 KiB aligned at slot 4 fits inside one 8 KiB boundary */
	assert_int_equal(iotlb_alloc(b, 8192, &va, &dmb), 0);
	assert_int_equal(dmb, fx_slot_dma(4));
	/* 16 KiB never fits inside 8 KiB: no space (not too big) */
	va = FX_PTR_SENTINEL;
	assert_int_equal(iotlb_alloc(b, 16384, &va, &dma), -ENOSPC);
	assert_ptr_equal(va, FX_PTR_SENTINEL);
	assert_int_equal(dma, fx_slot_dma(2));
	assert_int_equal(iotlb_free(d, dma, 2048), 0);
	assert_int_equal(iotlb_free(b, dmb, 8192), 0);
	fx_unmap(f, f->dev, a, 100, IOTLB_TO_DEVICE);
}

static void test_dma_to_virt_and_is_bounce_cover_exactly_the_pool(void **state)
{
	struct fx *f = *state;

	fx_init(f, 256);
	/* free slots are still bounce memory */
	assert_ptr_equal(iotlb_dma_to_virt(f->dev, FX_B), f->region);
	assert_ptr_equal(iotlb_dma_to_virt(f->dev, FX_B + 0x12345), f->region + 0x12345);
	assert_ptr_equal(iotlb_dma_to_virt(f->dev, FX_B + 256 * FX_SLOT - 1),
			 f->region + 256 * FX_SLOT - 1);
	assert_null(iotlb_dma_to_virt(f->dev, FX_B + 256 * FX_SLOT));
	assert_null(iotlb_dma_to_virt(f->dev, FX_B - 1));
	assert_null(iotlb_dma_to_virt(NULL, FX_B));
	assert_true(iotlb_is_bounce(f->dev, FX_B));
	assert_true(iotlb_is_bounce(f->dev, FX_B + 256 * FX_SLOT - 1));
	assert_false(iotlb_is_bounce(f->dev, FX_B + 256 * FX_SLOT));
	assert_false(iotlb_is_bounce(f->dev, FX_B - 1));
	assert_false(iotlb_is_bounce(NULL, FX_B));
}

/* IOTLB_MEM_SCRUB: released bounce bytes are zero, after the copy-back. */
static void test_scrub_zeroes_bounce_bytes_after_unmap_and_free(void **state)
{
	struct fx *f = *state;
	struct iotlb_dev *p;
	unsigned char *o;
	uint64_t dma, dmp;
	void *va;

	fx_prepare(f, 256);
	f->cfg.flags = IOTLB_MEM_SCRUB;
	fx_create(f);
	o = fx_orig(f, 0);

	/* copy-back first, then zero */
	fx_pattern(o, 3000, 90);
	dma = fx_map(f, f->dev, 0, 3000, IOTLB_BIDIRECTIONAL);
	memset(fx_bounce(f, dma), 0x66, 3000);
	fx_unmap(f, f->dev, dma, 3000, IOTLB_FROM_DEVICE);
	fx_assert_bytes(o, 3000, 0x66);
	fx_assert_bytes(fx_bounce(f, dma), 3000, 0);

	/* no copy-back at all */
	fx_pattern(o, 5000, 91);
	dma = fx_map(f, f->dev, 0, 5000, IOTLB_TO_DEVICE);
	assert_memory_equal(fx_bounce(f, dma), o, 5000);
	assert_int_equal(iotlb_unmap(f->dev, dma, 5000, IOTLB_TO_DEVICE, 0), 0);
	fx_assert_bytes(fx_bounce(f, dma), 5000, 0);
	dma = fx_map(f, f->dev, 0, 5000, IOTLB_FROM_DEVICE);
	assert_int_equal(
		iotlb_unmap(f->dev, dma, 5000, IOTLB_FROM_DEVICE, IOTLB_ATTR_SKIP_CPU_SYNC), 0);
	fx_assert_bytes(fx_bounce(f, dma), 5000, 0);

	/* a padded mapping */
	p = fx_dev(f, 0xfff, 0xfff, 0);
	fx_pattern(fx_orig(f, 0x45a00), 4096, 92);
	dmp = fx_map(f, p, 0x45a00, 4096, IOTLB_TO_DEVICE);
	assert_int_equal(dmp & 0xfff, 0xa00);
	fx_unmap(f, p, dmp, 4096, IOTLB_TO_DEVICE);
	fx_assert_bytes(fx_bounce(f, dmp), 4096, 0);

	/* coherent memory */
	assert_int_equal(iotlb_alloc(f->dev, 8192, &va, &dma), 0);
	memset(va, 0x5A, 8192);
	assert_int_equal(iotlb_free(f->dev, dma, 8192), 0);
	fx_assert_bytes(fx_bounce(f, dma), 8192, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_map_copies_the_original_for_every_direction_and_attr),
		FX_TEST(test_unmap_copies_back_by_its_own_direction),
		FX_TEST(test_sync_for_device_copies_only_toward_the_device),
		FX_TEST(test_sync_for_cpu_copies_only_toward_the_cpu),
		FX_TEST(test_repeated_syncs_keep_the_mapping_live),
		FX_TEST(test_unmap_larger_than_the_mapping_copies_what_it_holds),
		FX_TEST(test_unmap_smaller_than_the_mapping_copies_that_many),
		FX_TEST(test_bytes_round_trip_for_aligned_and_padded_mappings),
		FX_TEST(test_mapping_above_max_mapping_size_that_fits_its_orig_succeeds),
		FX_TEST(test_coherent_memory_is_the_bounce_region),
		FX_TEST(test_coherent_alloc_ignores_device_alloc_align),
		FX_TEST(test_dma_to_virt_and_is_bounce_cover_exactly_the_pool),
		FX_TEST(test_scrub_zeroes_bounce_bytes_after_unmap_and_free),
	};

	return cmocka_run_group_tests_name("bounce", tests, NULL, NULL);
}
