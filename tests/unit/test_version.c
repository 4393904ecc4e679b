/* SPDX-License-Identifier: MIT */
/*
 * The version calls and the generated header against the CMake project
 * version, which the build passes in as IOTLB_TEST_CMAKE_VERSION* so that
 * this test does not repeat the number by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <iotlb/iotlb.h>

static void test_version_number_matches_cmake_project_version(void **state)
{
	(void)state;
	assert_int_equal(iotlb_version(), ((unsigned)IOTLB_TEST_CMAKE_VERSION_MAJOR << 16) |
						  ((unsigned)IOTLB_TEST_CMAKE_VERSION_MINOR << 8) |
						  (unsigned)IOTLB_TEST_CMAKE_VERSION_PATCH);
	assert_int_equal(iotlb_version(), IOTLB_VERSION);
}

static void test_version_string_matches_cmake_project_version(void **state)
{
	(void)state;
	assert_string_equal(iotlb_version_string(), IOTLB_TEST_CMAKE_VERSION);
	assert_string_equal(iotlb_version_string(), IOTLB_VERSION_STRING);
}

static void test_generated_header_macros_match_cmake_project_version(void **state)
{
	(void)state;
	assert_int_equal(IOTLB_VERSION_MAJOR, IOTLB_TEST_CMAKE_VERSION_MAJOR);
	assert_int_equal(IOTLB_VERSION_MINOR, IOTLB_TEST_CMAKE_VERSION_MINOR);
	assert_int_equal(IOTLB_VERSION_PATCH, IOTLB_TEST_CMAKE_VERSION_PATCH);
}

static void test_version_number_orders_like_the_version(void **state)
{
	(void)state;
	/* Each part gets its own byte, so a later version compares greater. */
	assert_true(IOTLB_VERSION_NUMBER(0, 1, 255) < IOTLB_VERSION_NUMBER(0, 2, 0));
	assert_true(IOTLB_VERSION_NUMBER(0, 255, 255) < IOTLB_VERSION_NUMBER(1, 0, 0));
	assert_int_equal(IOTLB_VERSION_NUMBER(1, 2, 3), 0x010203u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_number_matches_cmake_project_version),
		cmocka_unit_test(test_version_string_matches_cmake_project_version),
		cmocka_unit_test(test_generated_header_macros_match_cmake_project_version),
		cmocka_unit_test(test_version_number_orders_like_the_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
