/* SPDX-License-Identifier: MIT */
/*
 * Devices for tests: the one place a test fixture fills an iotlb_dev_config
 * from the three masks most tests vary, so that every folder's fixture
 * (tests/unit/fixture.h, tests/grow/grow_fx.h, ...) creates devices one way
 * and only keeps its own list of what to destroy at teardown.
 */
#ifndef IOTLB_TESTS_COMMON_DEVICES_H
#define IOTLB_TESTS_COMMON_DEVICES_H

#include <stdint.h>

#include <iotlb/iotlb.h>

/* iotlb_dev_create with these masks (0 = each one's default; for the
 * boundary that is all ones, no boundary) and every other field at its default.
 * Returns what iotlb_dev_create returns; *out is set only on success. */
int test_dev_create(struct iotlb_mem *mem, uint64_t min_align_mask, uint64_t alloc_align_mask,
		    uint64_t seg_boundary_mask, struct iotlb_dev **out);

#endif /* IOTLB_TESTS_COMMON_DEVICES_H */
