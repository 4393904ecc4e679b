/* SPDX-License-Identifier: MIT */
/*
 * Install consumer: the smallest complete use of libiotlb, built against the
 * installed headers and libraries. Exits 0 only if a bounce mapping carries
 * the original bytes and every call succeeds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iotlb/iotlb.h>

#define REGION_SIZE (1u << 20)
#define REGION_DMA 0x40000000ull /* device address; unrelated to the CPU one */
#define MAP_SIZE 4000u

static int fail(const char *what, int err)
{
	fprintf(stderr, "consumer: %s: %s (%d)\n", what, iotlb_strerror(err), err);
	return 1;
}

int main(void)
{
	struct iotlb_mem_config mcfg = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_dev_config dcfg = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_mem *mem = NULL;
	struct iotlb_dev *dev = NULL;
	unsigned char *region, *buf;
	uint64_t dma = 0;
	void *bounce;
	int err, ret = 1;

	region = aligned_alloc(4096, REGION_SIZE);
	buf = malloc(MAP_SIZE);
	if (!region || !buf) {
		fprintf(stderr, "consumer: out of memory\n");
		goto out_free;
	}
	for (unsigned i = 0; i < MAP_SIZE; i++)
		buf[i] = (unsigned char)(i * 7u + 3u);

	mcfg.vaddr = region;
	mcfg.dma_addr = REGION_DMA;
	mcfg.size = REGION_SIZE;
	err = iotlb_mem_create(&mcfg, &mem);
	if (err) {
		ret = fail("iotlb_mem_create", err);
		goto out_free;
	}
	err = iotlb_dev_create(mem, &dcfg, &dev);
	if (err) {
		ret = fail("iotlb_dev_create", err);
		goto out_mem;
	}

	err = iotlb_map(dev, IOTLB_ANY_QUEUE, buf, MAP_SIZE, IOTLB_TO_DEVICE, 0, &dma);
	if (err) {
		ret = fail("iotlb_map", err);
		goto out_dev;
	}
	if (dma < REGION_DMA || dma + MAP_SIZE > REGION_DMA + REGION_SIZE) {
		fprintf(stderr, "consumer: bounce address 0x%llx outside the region\n",
			(unsigned long long)dma);
		goto out_dev;
	}
	bounce = iotlb_dma_to_virt(dev, dma);
	if (!bounce || !iotlb_is_bounce(dev, dma)) {
		fprintf(stderr, "consumer: 0x%llx is not a bounce address\n",
			(unsigned long long)dma);
		goto out_dev;
	}
	if ((unsigned char *)bounce < region ||
	    (unsigned char *)bounce + MAP_SIZE > region + REGION_SIZE) {
		fprintf(stderr, "consumer: bounce buffer outside the region\n");
		goto out_dev;
	}
	if (memcmp(bounce, buf, MAP_SIZE) != 0) {
		fprintf(stderr, "consumer: bounce copy differs from the original\n");
		goto out_dev;
	}
	err = iotlb_unmap(dev, dma, MAP_SIZE, IOTLB_TO_DEVICE, 0);
	if (err) {
		ret = fail("iotlb_unmap", err);
		goto out_dev;
	}
	ret = 0;

out_dev:
	err = iotlb_dev_destroy(dev);
	if (err && !ret)
		ret = fail("iotlb_dev_destroy", err);
out_mem:
	err = iotlb_mem_destroy(mem);
	if (err && !ret)
		ret = fail("iotlb_mem_destroy", err);
out_free:
	free(buf);
	free(region);
	/* The installed header and the loaded library must agree. */
	if (!ret && (iotlb_version() != IOTLB_VERSION ||
		     strcmp(iotlb_version_string(), IOTLB_VERSION_STRING) != 0)) {
		fprintf(stderr, "consumer: header version %s, library %s\n", IOTLB_VERSION_STRING,
			iotlb_version_string());
		ret = 1;
	}
	if (!ret)
		printf("consumer: ok (libiotlb %d.%d.%d)\n", IOTLB_VERSION_MAJOR,
		       IOTLB_VERSION_MINOR, IOTLB_VERSION_PATCH);
	return ret;
}
