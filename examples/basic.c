/* SPDX-License-Identifier: MIT */
/*
 * basic: a complete tour of libiotlb in one small program. It bounces one
 * buffer to a pretend device and one back, playing the device itself by
 * reading and writing the bounce memory. Copy from here.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iotlb/iotlb.h>

/*
 * The bounce region: memory the device is allowed to reach. In a real system
 * it is the only memory shared with the device (or with the untrusted host);
 * here it is plain heap memory. The device sees it at a device ("DMA")
 * address of its own, which need not equal the CPU address.
 */
#define REGION_SIZE (1u << 20)          /* 512 slots of 2 KiB */
#define REGION_DMA 0x80000000ull        /* where the device sees the region */
#define PAGE 4096u

#define CMD_SIZE 3000u  /* CPU -> device */
#define RX_SIZE 10000u  /* device -> CPU */
#define BIG_SIZE 300000u /* more than one segment */

static int failures;

/* Every call is checked; an unexpected result is reported with its name. */
static bool ok(int err, const char *what)
{
	if (err) {
		fprintf(stderr, "basic: %s failed: %s (%d)\n", what, iotlb_strerror(err), err);
		failures++;
		return false;
	}
	return true;
}

static bool expect(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "basic: unexpected: %s\n", what);
		failures++;
	}
	return cond;
}

/* The library prints nothing by itself; diagnostics come here. */
static void log_to_stderr(void *ctx, int level, const char *msg)
{
	fprintf(stderr, "[%s] libiotlb level %d: %s\n", (const char *)ctx, level, msg);
}

static void print_line(void *ctx, const char *line)
{
	fprintf((FILE *)ctx, "  %s\n", line);
}

/* The "device" reads what the CPU sent: it may only look at bounce memory. */
static bool device_read_command(struct iotlb_dev *dev, uint64_t dma, const char *expected,
				size_t len)
{
	const char *seen = iotlb_dma_to_virt(dev, dma);

	if (!expect(seen != NULL, "the command handle lies in the bounce region"))
		return false;
	printf("device: reads %zu bytes at dma 0x%" PRIx64 ": \"%.40s...\"\n", len, dma, seen);
	return expect(memcmp(seen, expected, len) == 0, "device sees the command bytes");
}

/* The "device" writes `len` bytes of received data, starting `skip` bytes in. */
static void device_write_rx(struct iotlb_dev *dev, uint64_t dma, size_t skip, size_t len,
			    unsigned char seed)
{
	unsigned char *bounce = iotlb_dma_to_virt(dev, dma);

	for (size_t i = skip; i < skip + len; i++)
		bounce[i] = (unsigned char)(seed + i);
	printf("device: writes %zu bytes at dma 0x%" PRIx64 "\n", len, dma + skip);
}

static bool rx_matches(const unsigned char *buf, size_t from, size_t to, unsigned char seed)
{
	for (size_t i = from; i < to; i++)
		if (buf[i] != (unsigned char)(seed + i))
			return false;
	return true;
}

static bool all_equal(const unsigned char *buf, size_t from, size_t to, unsigned char v)
{
	for (size_t i = from; i < to; i++)
		if (buf[i] != v)
			return false;
	return true;
}

static void run(struct iotlb_mem *mem, struct iotlb_dev *dev, char *cmd, unsigned char *rx)
{
	uint64_t cmd_dma, rx_dma, big_dma = 0;
	const uint64_t mask = 0xfff;
	unsigned char *big;
	int err;

	/*
	 * 1. CPU -> device. The map copies the buffer into bounce slots; from
	 * now on the device works only on the copy. min_align_mask 0xfff keeps
	 * the low 12 address bits, as some devices (NVMe) require.
	 */
	memset(cmd, ' ', CMD_SIZE);
	memcpy(cmd, "READ block 42 into the receive buffer", 37);
	if (!ok(iotlb_map(dev, IOTLB_ANY_QUEUE, cmd, CMD_SIZE, IOTLB_TO_DEVICE, 0, &cmd_dma),
		"map command TO_DEVICE"))
		return;
	printf("cpu:    mapped command  %p (%u bytes) -> dma 0x%" PRIx64 "\n", (void *)cmd,
	       CMD_SIZE, cmd_dma);
	expect((cmd_dma & mask) == ((uintptr_t)cmd & mask), "low 12 bits kept (min_align_mask)");
	device_read_command(dev, cmd_dma, cmd, CMD_SIZE);

	/*
	 * 2. device -> CPU. A FROM_DEVICE map still copies the buffer in, so
	 * that bytes the device does not write come back unchanged instead of
	 * leaking an earlier user's data.
	 */
	memset(rx, 0xee, RX_SIZE);
	if (!ok(iotlb_map(dev, IOTLB_ANY_QUEUE, rx, RX_SIZE, IOTLB_FROM_DEVICE, 0, &rx_dma),
		"map receive buffer FROM_DEVICE"))
		goto unmap_cmd;
	printf("cpu:    mapped rx buffer %p (%u bytes) -> dma 0x%" PRIx64 "\n", (void *)rx,
	       RX_SIZE, rx_dma);
	expect((rx_dma & mask) == ((uintptr_t)rx & mask), "low 12 bits kept (min_align_mask)");

	/*
	 * 3. The device fills a 512-byte header first; the CPU looks at it
	 * before the transfer ends by syncing just that range. Nothing else of
	 * the buffer changes yet.
	 */
	device_write_rx(dev, rx_dma, 0, 512, 0x30);
	ok(iotlb_sync_for_cpu(dev, rx_dma, 512, IOTLB_FROM_DEVICE), "sync header for cpu");
	expect(rx_matches(rx, 0, 512, 0x30), "header arrived after the partial sync");
	expect(all_equal(rx, 512, RX_SIZE, 0xee), "the rest is untouched by the partial sync");
	printf("cpu:    partial sync: header arrived, %u bytes still pending\n", RX_SIZE - 512);

	/* 4. The device writes the payload; the unmap copies everything back. */
	device_write_rx(dev, rx_dma, 512, RX_SIZE - 512, 0x30);
	ok(iotlb_unmap(dev, rx_dma, RX_SIZE, IOTLB_FROM_DEVICE, 0), "unmap rx buffer");
	expect(rx_matches(rx, 0, RX_SIZE, 0x30), "all received bytes arrived at unmap");
	printf("cpu:    unmapped rx buffer, %u bytes received\n", RX_SIZE);

	/* 5. Mistakes are refused, not fatal: a second unmap of a handle. */
	err = iotlb_unmap(dev, rx_dma, RX_SIZE, IOTLB_FROM_DEVICE, 0);
	printf("cpu:    unmapping it again is refused: %s\n", iotlb_strerror(err));
	expect(err == -ENOENT, "a repeated unmap returns -ENOENT");

	/* A mapping larger than a segment (256 KiB) can never be served; the
	 * log callback shows the kernel's "buffer is full" line for it. */
	big = malloc(BIG_SIZE);
	if (expect(big != NULL, "malloc of the oversized buffer")) {
		memset(big, 0, BIG_SIZE);
		err = iotlb_map(dev, IOTLB_ANY_QUEUE, big, BIG_SIZE, IOTLB_TO_DEVICE, 0, &big_dma);
		printf("cpu:    a %u-byte mapping is refused: %s (largest: %zu bytes)\n", BIG_SIZE,
		       iotlb_strerror(err), iotlb_max_mapping_size(dev));
		expect(err == -E2BIG, "an oversized map returns -E2BIG");
		free(big);
	}

unmap_cmd:
	ok(iotlb_unmap(dev, cmd_dma, CMD_SIZE, IOTLB_TO_DEVICE, 0), "unmap command");

	printf("\nstatistics:\n");
	ok(iotlb_stats_print(mem, NULL, print_line, stdout), "print statistics");
}

/* The example takes no options: --help says what it does, anything else is
 * refused with a pointer to --help. Returns the exit status. */
static int options(char **argv)
{
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		printf("usage: basic [--help]\n"
		       "A complete tour of libiotlb in one small program: bounces one buffer to a\n"
		       "pretend device and one back, playing the device itself by reading and\n"
		       "writing the bounce memory, then prints the statistics. Takes no options;\n"
		       "exits 0 when every step behaved as expected, 1 otherwise.\n");
		return 0;
	}
	fprintf(stderr,
		"basic: unexpected argument '%s'\n"
		"Try 'basic --help' for more information.\n",
		argv[1]);
	return 2;
}

int main(int argc, char **argv)
{
	struct iotlb_mem_config mcfg = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_dev_config dcfg = IOTLB_DEV_CONFIG_INIT;
	struct iotlb_stats stats = IOTLB_STATS_INIT;
	struct iotlb_mem *mem = NULL;
	struct iotlb_dev *dev = NULL;
	unsigned char *region, *rx;
	char *cmd;

	if (argc > 1)
		return options(argv);

	/* Line by line, so that library log lines (stderr) appear in order. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The region must be page aligned; the caller owns it and frees it. */
	region = aligned_alloc(PAGE, REGION_SIZE);
	/* Offset the command inside its page to show min_align_mask at work. */
	cmd = malloc(CMD_SIZE + PAGE);
	rx = malloc(RX_SIZE);
	if (!region || !cmd || !rx) {
		fprintf(stderr, "basic: out of memory\n");
		return 1;
	}
	printf("region: cpu %p, dma 0x%llx, %u bytes\n", (void *)region,
	       (unsigned long long)REGION_DMA, REGION_SIZE);

	mcfg.vaddr = region;
	mcfg.dma_addr = REGION_DMA;
	mcfg.size = REGION_SIZE;
	mcfg.log = log_to_stderr;
	mcfg.log_ctx = "basic";
	if (!ok(iotlb_mem_create(&mcfg, &mem), "iotlb_mem_create"))
		goto out_free;

	dcfg.min_align_mask = 0xfff;
	if (!ok(iotlb_dev_create(mem, &dcfg, &dev), "iotlb_dev_create"))
		goto out_mem;

	run(mem, dev, cmd + 0x234, rx);

	/* Everything was unmapped: nothing may be left in use. */
	if (ok(iotlb_mem_stats(mem, &stats), "iotlb_mem_stats"))
		expect(stats.used == 0, "no slot in use at the end");

	ok(iotlb_dev_destroy(dev), "iotlb_dev_destroy");
out_mem:
	ok(iotlb_mem_destroy(mem), "iotlb_mem_destroy");
out_free:
	free(rx);
	free(cmd);
	free(region);
	if (failures) {
		fprintf(stderr, "basic: %d unexpected result(s)\n", failures);
		return 1;
	}
	printf("\nbasic: all steps behaved as expected\n");
	return 0;
}
