/* SPDX-License-Identifier: MIT */
#include "devices.h"

int test_dev_create(struct iotlb_mem *mem, uint64_t min_align_mask, uint64_t alloc_align_mask,
		    uint64_t seg_boundary_mask, struct iotlb_dev **out)
{
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;

	dc.min_align_mask = min_align_mask;
	dc.alloc_align_mask = alloc_align_mask;
	dc.seg_boundary_mask = seg_boundary_mask;
	return iotlb_dev_create(mem, &dc, out);
}
