/* SPDX-License-Identifier: MIT */
/*
 * The shared test helpers hold what the tests rely on: the scale knob reads
 * the environment it was started with (argv[1] names the expected value,
 * ctest sets IOTLB_TEST_SCALE per entry), aligned memory is aligned, usable
 * and unmapped, a seed replays the same PRNG stream, and devices get the
 * masks they are created with.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices.h"
#include "region.h"
#include "rng.h"
#include "scale.h"

static const char *expected_scale = "full";

static void test_scale_matches_the_environment_and_stays_put(void **state)
{
	enum test_scale want = !strcmp(expected_scale, "asan")	 ? TEST_SCALE_ASAN
			       : !strcmp(expected_scale, "tsan") ? TEST_SCALE_TSAN
								 : TEST_SCALE_FULL;

	(void)state;
	assert_int_equal(test_scale(), want);
	assert_int_equal(test_scale_reduced(), want != TEST_SCALE_FULL);
	/* Parsed once: a later change of the environment is not seen. */
	setenv("IOTLB_TEST_SCALE", want == TEST_SCALE_FULL ? "asan" : "full", 1);
	assert_int_equal(test_scale(), want);
}

static void test_mmap_aligned_returns_aligned_writable_memory(void **state)
{
	const size_t aligns[] = {4096, 0x10000, 1u << 21};

	(void)state;
	for (size_t i = 0; i < sizeof(aligns) / sizeof(aligns[0]); i++) {
		struct test_mapping m;
		unsigned char *p = test_mmap_aligned(12345, aligns[i], i == 2, &m);

		assert_non_null(p);
		assert_int_equal((uintptr_t)p & (aligns[i] - 1), 0);
		assert_true((unsigned char *)m.map <= p);
		assert_true(p + 12345 <= (unsigned char *)m.map + m.len);
		memset(p, 0xab, 12345);
		assert_int_equal(p[12344], 0xab);
		test_munmap(&m);
		assert_null(m.map);
		assert_int_equal(m.len, 0);
	}
}

static void test_mmap_aligned_refuses_an_alignment_that_is_not_a_power_of_two(void **state)
{
	struct test_mapping m;

	(void)state;
	assert_null(test_mmap_aligned(4096, 0, false, &m));
	assert_null(test_mmap_aligned(4096, 3000, false, &m));
	assert_null(m.map);
	test_munmap(&m); /* nothing to unmap: harmless */
}

static void test_same_seed_replays_the_same_stream(void **state)
{
	struct rng a, b, c;
	int differs = 0;

	(void)state;
	rng_seed(&a, 1234);
	rng_seed(&b, 1234);
	rng_seed(&c, 1235);
	for (int i = 0; i < 1000; i++) {
		uint64_t x = rng_next(&a);

		assert_int_equal(x, rng_next(&b));
		differs += x != rng_next(&c);
		assert_true(rng_below(&a, 17) < 17);
		(void)rng_below(&b, 17);
	}
	assert_true(differs > 990);
}

static void test_dev_create_applies_the_masks_and_passes_errors_on(void **state)
{
	struct iotlb_mem_config c = IOTLB_MEM_CONFIG_INIT;
	struct test_mapping m;
	struct iotlb_mem *mem = NULL;
	struct iotlb_dev *dev = NULL, *plain = NULL, *bad = NULL;
	uint64_t first, second, third;

	(void)state;
	c.size = (size_t)256 << 11;
	c.vaddr = test_mmap_aligned(c.size, 4096, false, &m);
	c.dma_addr = 0x100000000ull;
	assert_non_null(c.vaddr);
	assert_int_equal(iotlb_mem_create(&c, &mem), 0);
	/* With the cursor on slot 1, alloc_align 4 KiB skips to slot 2 and
	 * rounds the map up to two slots; the default device then takes slot 4. */
	assert_int_equal(test_dev_create(mem, 0, 0, 0, &plain), 0);
	assert_int_equal(test_dev_create(mem, 0, 4095, 0, &dev), 0);
	assert_int_equal(iotlb_map(plain, 0, c.vaddr, 2048, IOTLB_TO_DEVICE, 0, &first), 0);
	assert_int_equal(first, c.dma_addr);
	assert_int_equal(iotlb_map(dev, 0, c.vaddr, 64, IOTLB_TO_DEVICE, 0, &second), 0);
	assert_int_equal(second, c.dma_addr + 4096);
	assert_int_equal(iotlb_map(plain, 0, c.vaddr, 64, IOTLB_TO_DEVICE, 0, &third), 0);
	assert_int_equal(third, c.dma_addr + 4 * 2048);
	/* A mask that is not 2^k - 1 is refused, and *out left alone. */
	assert_int_equal(test_dev_create(mem, 0, 4096, 0, &bad), -EINVAL);
	assert_null(bad);
	assert_int_equal(iotlb_unmap(plain, first, 2048, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(iotlb_unmap(dev, second, 64, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(iotlb_unmap(plain, third, 64, IOTLB_TO_DEVICE, 0), 0);
	assert_int_equal(iotlb_dev_destroy(dev), 0);
	assert_int_equal(iotlb_dev_destroy(plain), 0);
	assert_int_equal(iotlb_mem_destroy(mem), 0);
	test_munmap(&m);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scale_matches_the_environment_and_stays_put),
		cmocka_unit_test(test_mmap_aligned_returns_aligned_writable_memory),
		cmocka_unit_test(test_mmap_aligned_refuses_an_alignment_that_is_not_a_power_of_two),
		cmocka_unit_test(test_same_seed_replays_the_same_stream),
		cmocka_unit_test(test_dev_create_applies_the_masks_and_passes_errors_on),
	};

	if (argc > 1)
		expected_scale = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
