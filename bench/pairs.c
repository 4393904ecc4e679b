/* SPDX-License-Identifier: MIT */
/*
 * iotlb-pairs: N map+unmap pairs of one size in a loop, nothing else; the
 * driver for instruction counts of the hot path (callgrind, load-independent):
 *
 *   valgrind --tool=callgrind build/bench/iotlb-pairs 64 100000
 *   valgrind --tool=callgrind build/bench/iotlb-pairs 64 200000
 *
 * The difference of the two totals over 100000 is the cost of one pair
 * without the set-up (docs/performance.md, "The hot path").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iotlb/iotlb.h>

int main(int argc, char **argv)
{
	size_t bytes = (size_t)64 << 20, size = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	unsigned long n = argc > 2 ? strtoul(argv[2], NULL, 0) : 100000;
	struct iotlb_mem_config c = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_dev_config d = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_mem *mem;
	struct iotlb_dev *dev;
	char *region, *src;
	uint64_t dma;

	if (!size || size > 65536) {
		fprintf(stderr, "usage: iotlb-pairs [SIZE (1..65536)] [PAIRS]\n");
		return 2;
	}
	region = aligned_alloc(4096, bytes);
	src = aligned_alloc(4096, 65536);
	if (!region || !src)
		return 1;
	memset(region, 0, bytes);
	memset(src, 1, 65536);
	c.vaddr = region;
	c.dma_addr = (uint64_t)1 << 32;
	c.size = bytes;
	c.nareas = 1;
	if (iotlb_mem_create(&c, &mem) || iotlb_dev_create(mem, &d, &dev))
		return 1;
	for (unsigned long i = 0; i < n; i++)
		if (iotlb_map(dev, 0, src, size, IOTLB_TO_DEVICE, 0, &dma) ||
		    iotlb_unmap(dev, dma, size, IOTLB_TO_DEVICE, 0))
			return 1;
	iotlb_dev_destroy(dev);
	iotlb_mem_destroy(mem);
	free(region);
	free(src);
	return 0;
}
