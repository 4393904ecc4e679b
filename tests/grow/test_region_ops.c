/* SPDX-License-Identifier: MIT */
/*
 * struct iotlb_region_ops versioning (include/iotlb/iotlb.h): the original
 * two-member initialisers (region_ops_size 0) keep working, a non-zero
 * region_ops_size is checked like the other versioned structs, and the table
 * is copied at iotlb_mem_create so the caller's copy may go away.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "provider.h"

#define SLOT 2048u
#define POOL_SLOTS 128u
#define POOL_BYTES ((size_t)POOL_SLOTS * SLOT) /* one segment: one map fills it */
#define B0 0x10000000ull

struct rfx {
	struct test_provider tp;
	unsigned char *pool;
	unsigned char *orig;
};

static int setup(void **state)
{
	struct rfx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	tp_init(&f->tp, 0x80000000ull);
	f->pool = aligned_alloc(4096, POOL_BYTES);
	f->orig = aligned_alloc(4096, POOL_BYTES);
	assert_non_null(f->pool);
	assert_non_null(f->orig);
	memset(f->orig, 0x5a, POOL_BYTES);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct rfx *f = *state;

	tp_fini(&f->tp);
	free(f->pool);
	free(f->orig);
	free(f);
	return 0;
}

static struct iotlb_mem_config grow_config(struct rfx *f, const struct iotlb_region_ops *ops)
{
	struct iotlb_mem_config c = IOTLB_MEM_CONFIG_INIT;

	c.vaddr = f->pool;
	c.dma_addr = B0;
	c.size = POOL_BYTES;
	c.nareas = 1;
	c.lock = IOTLB_LOCK_MUTEX;
	c.flags = IOTLB_MEM_GROW;
	c.region_ops = ops;
	c.region_ctx = &f->tp;
	return c;
}

/*
 * Fills the only pool, so the next map can only be served by the provider
 * (a transient pool), maps once more, and checks the bytes went through.
 * Destroys the mem and checks every region came back exactly once.
 */
static void expect_provider_serves_growth(struct rfx *f, struct iotlb_mem *mem)
{
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_dev *dev = NULL;
	uint64_t full = 0, extra = 0;
	char why[256];

	assert_int_equal(iotlb_dev_create(mem, &dc, &dev), 0);
	assert_int_equal(iotlb_map(dev, 0, f->orig, POOL_BYTES, IOTLB_TO_DEVICE, 0, &full), 0);
	assert_int_equal(tp_counts(&f->tp).alloc_calls, 0);
	assert_int_equal(iotlb_map(dev, 0, f->orig, 4096, IOTLB_TO_DEVICE, 0, &extra), 0);
	assert_true(tp_counts(&f->tp).allocs >= 1);
	assert_true(tp_find(&f->tp, extra) >= 0);
	assert_memory_equal(iotlb_dma_to_virt(dev, extra), f->orig, 4096);
	assert_int_equal(iotlb_unmap(dev, extra, 4096, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(iotlb_unmap(dev, full, POOL_BYTES, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(iotlb_dev_destroy(dev), 0);
	assert_int_equal(iotlb_mem_destroy(mem), 0);
	if (tp_all_returned_once(&f->tp, why, sizeof(why)))
		fail_msg("%s", why);
}

static void test_positional_two_member_region_ops_serve_growth(void **state)
{
	struct rfx *f = *state;
	const struct iotlb_region_ops ops = {tp_alloc, tp_free};
	struct iotlb_mem_config c = grow_config(f, &ops);
	struct iotlb_mem *mem = NULL;

	assert_int_equal(iotlb_mem_create(&c, &mem), 0);
	expect_provider_serves_growth(f, mem);
}

static void test_designated_two_member_region_ops_serve_growth(void **state)
{
	struct rfx *f = *state;
	const struct iotlb_region_ops ops = {.alloc = tp_alloc, .free = tp_free};
	struct iotlb_mem_config c = grow_config(f, &ops);
	struct iotlb_mem *mem = NULL;

	assert_int_equal(iotlb_mem_create(&c, &mem), 0);
	expect_provider_serves_growth(f, mem);
}

static void test_region_ops_with_its_size_given_serve_growth(void **state)
{
	struct rfx *f = *state;
	const struct iotlb_region_ops ops = {.alloc = tp_alloc, .free = tp_free};
	struct iotlb_mem_config c = grow_config(f, &ops);
	struct iotlb_mem *mem = NULL;

	c.region_ops_size = sizeof(ops);
	assert_int_equal(iotlb_mem_create(&c, &mem), 0);
	expect_provider_serves_growth(f, mem);
}

static void test_region_ops_are_copied_at_create(void **state)
{
	struct rfx *f = *state;
	struct iotlb_region_ops *ops = malloc(sizeof(*ops));
	struct iotlb_mem_config c;
	struct iotlb_mem *mem = NULL;

	assert_non_null(ops);
	ops->alloc = tp_alloc;
	ops->free = tp_free;
	c = grow_config(f, ops);
	assert_int_equal(iotlb_mem_create(&c, &mem), 0);
	/* Gone, and NULL first: a library still reading it would crash (or,
	 * under ASan, report a use after free). */
	memset(ops, 0, sizeof(*ops));
	free(ops);
	expect_provider_serves_growth(f, mem);
}

static void test_region_ops_size_short_of_the_original_layout_is_refused(void **state)
{
	struct rfx *f = *state;
	const struct iotlb_region_ops ops = {.alloc = tp_alloc, .free = tp_free};
	const size_t sizes[] = {1, sizeof(void *), sizeof(ops) - 1};
	struct iotlb_mem *mem = NULL;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct iotlb_mem_config c = grow_config(f, &ops);

		c.region_ops_size = sizes[i];
		assert_int_equal(iotlb_mem_create(&c, &mem), -EINVAL);
		/* The check does not depend on growth being asked for. */
		c.flags = 0;
		assert_int_equal(iotlb_mem_create(&c, &mem), -EINVAL);
		assert_null(mem);
	}
	assert_int_equal(tp_counts(&f->tp).alloc_calls, 0);
}

static void test_region_ops_size_without_a_table_is_refused(void **state)
{
	struct rfx *f = *state;
	struct iotlb_mem_config c = grow_config(f, NULL);
	struct iotlb_mem *mem = NULL;

	c.flags = 0;
	c.region_ops_size = sizeof(struct iotlb_region_ops);
	assert_int_equal(iotlb_mem_create(&c, &mem), -EINVAL);
	assert_null(mem);
	c.region_ops_size = 0;
	assert_int_equal(iotlb_mem_create(&c, &mem), 0);
	assert_int_equal(iotlb_mem_destroy(mem), 0);
}

static void test_newer_region_ops_with_unknown_nonzero_tail_is_refused(void **state)
{
	struct rfx *f = *state;
	struct {
		struct iotlb_region_ops ops;
		uint64_t newer_member;
	} newer;
	struct iotlb_mem_config c;
	struct iotlb_mem *mem = NULL;

	memset(&newer, 0, sizeof(newer));
	newer.ops.alloc = tp_alloc;
	newer.ops.free = tp_free;
	newer.newer_member = 1;
	c = grow_config(f, &newer.ops);
	c.region_ops_size = sizeof(newer);
	assert_int_equal(iotlb_mem_create(&c, &mem), -EINVAL);
	assert_null(mem);
	/* The same table with the unknown member left zero is fine. */
	newer.newer_member = 0;
	assert_int_equal(iotlb_mem_create(&c, &mem), 0);
	expect_provider_serves_growth(f, mem);
}

static void test_two_member_region_ops_still_need_both_functions(void **state)
{
	struct rfx *f = *state;
	const struct iotlb_region_ops no_free = {tp_alloc, NULL};
	const struct iotlb_region_ops no_alloc = {NULL, tp_free};
	struct iotlb_mem_config c = grow_config(f, &no_free);
	struct iotlb_mem *mem = NULL;

	assert_int_equal(iotlb_mem_create(&c, &mem), -EINVAL);
	c.region_ops = &no_alloc;
	assert_int_equal(iotlb_mem_create(&c, &mem), -EINVAL);
	assert_null(mem);
}

#define R_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		R_TEST(test_positional_two_member_region_ops_serve_growth),
		R_TEST(test_designated_two_member_region_ops_serve_growth),
		R_TEST(test_region_ops_with_its_size_given_serve_growth),
		R_TEST(test_region_ops_are_copied_at_create),
		R_TEST(test_region_ops_size_short_of_the_original_layout_is_refused),
		R_TEST(test_region_ops_size_without_a_table_is_refused),
		R_TEST(test_newer_region_ops_with_unknown_nonzero_tail_is_refused),
		R_TEST(test_two_member_region_ops_still_need_both_functions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
