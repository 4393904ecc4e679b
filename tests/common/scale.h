/* SPDX-License-Identifier: MIT */
/*
 * The IOTLB_TEST_SCALE knob, parsed once for every test: `make test` sets it
 * to asan or tsan in the sanitizer phases so that long tests do less work.
 */
#ifndef IOTLB_TESTS_COMMON_SCALE_H
#define IOTLB_TESTS_COMMON_SCALE_H

#include <stdbool.h>

enum test_scale {
	TEST_SCALE_FULL = 0, /* unset, empty or "full" */
	TEST_SCALE_ASAN,     /* "asan": AddressSanitizer + UBSan phase */
	TEST_SCALE_TSAN,     /* "tsan": ThreadSanitizer phase */
};

/* The value of IOTLB_TEST_SCALE, read on the first call (thread-safe). An
 * unknown value counts as full scale and is reported once on stderr. */
enum test_scale test_scale(void);

/* Either sanitizer phase: the usual "do less" test. */
static inline bool test_scale_reduced(void)
{
	return test_scale() != TEST_SCALE_FULL;
}

#endif /* IOTLB_TESTS_COMMON_SCALE_H */
