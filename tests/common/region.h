/* SPDX-License-Identifier: MIT */
/*
 * Aligned anonymous memory for bounce regions and originals: the one helper
 * every test folder uses, so alignment and unmapping are done one way.
 */
#ifndef IOTLB_TESTS_COMMON_REGION_H
#define IOTLB_TESTS_COMMON_REGION_H

#include <stdbool.h>
#include <stddef.h>

/* What to give back: the whole mapping, not the aligned start. */
struct test_mapping {
	void *map;
	size_t len;
};

/*
 * `len` bytes of fresh anonymous memory starting at a multiple of `align`
 * (a power of two), or NULL. `noreserve` (MAP_NORESERVE) for large address
 * ranges that are mostly never touched. *m records what to unmap.
 */
void *test_mmap_aligned(size_t len, size_t align, bool noreserve, struct test_mapping *m);

/* Unmaps what test_mmap_aligned recorded in *m (nothing if empty). */
void test_munmap(struct test_mapping *m);

#endif /* IOTLB_TESTS_COMMON_REGION_H */
