/* SPDX-License-Identifier: MIT */
/*
 * iotlb-hotpath: what one thread's map+unmap costs against its physical
 * limit, the bare copy into the very slots next-fit picks, timed in the same
 * run (batches interleaved, medians and spread of the ratio); and what
 * finding the pool of an address costs with 1 and with 64 pools. Public API
 * only, so the same source builds against an older libiotlb for before/after
 * figures (docs/performance.md, "The hot path").
 *
 *   iotlb-hotpath [--rounds N] [--batch N] [--sizes 64,2048,65536]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iotlb/iotlb.h>

#define POOL_BYTES ((size_t)64 << 20)
#define DMA_BASE 0x100000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct bed {
	struct iotlb_mem *mem;
	struct iotlb_dev *dev;
	char *region;
};

static int bed_create(struct bed *b, size_t bytes)
{
	struct iotlb_mem_config c = IOTLB_MEM_CONFIG_INIT;
	struct iotlb_dev_config d = IOTLB_DEV_CONFIG_INIT;
	int err;

	b->region = aligned_alloc(4096, bytes);
	if (!b->region)
		return -ENOMEM;
	memset(b->region, 0, bytes);
	c.vaddr = b->region;
	c.dma_addr = DMA_BASE;
	c.size = bytes;
	c.nareas = 1;
	err = iotlb_mem_create(&c, &b->mem);
	if (!err)
		err = iotlb_dev_create(b->mem, &d, &b->dev);
	return err;
}

static void bed_destroy(struct bed *b)
{
	iotlb_dev_destroy(b->dev);
	iotlb_mem_destroy(b->mem);
	free(b->region);
}

/* One batch of map+unmap pairs; records where each map landed. */
static double batch_pairs(struct bed *b, const char *src, size_t size, unsigned n, uint64_t *where)
{
	uint64_t t0 = now_ns(), dma;

	for (unsigned i = 0; i < n; i++) {
		if (iotlb_map(b->dev, 0, (void *)src, size, IOTLB_TO_DEVICE, 0, &dma) ||
		    iotlb_unmap(b->dev, dma, size, IOTLB_TO_DEVICE, 0)) {
			fprintf(stderr, "iotlb-hotpath: map/unmap failed\n");
			exit(1);
		}
		where[i] = dma;
	}
	return (double)(now_ns() - t0) / n;
}

/* The physical limit: the same copies into the same destinations. */
static double batch_copies(struct bed *b, const char *src, size_t size, unsigned n,
			   const uint64_t *where)
{
	uint64_t t0 = now_ns();

	for (unsigned i = 0; i < n; i++) {
		memcpy(b->region + (where[i] - DMA_BASE), src, size);
		__asm__ volatile("" ::: "memory");
	}
	return (double)(now_ns() - t0) / n;
}

static void pair_report(size_t size, unsigned rounds, unsigned batch)
{
	struct bed b;
	char *src = aligned_alloc(4096, size < 4096 ? 4096 : size);
	uint64_t *where = calloc(batch, sizeof(*where));
	double *pair = calloc(rounds, sizeof(double)), *copy = calloc(rounds, sizeof(double));
	double *ratio = calloc(rounds, sizeof(double));

	if (!src || !where || !pair || !copy || !ratio || bed_create(&b, POOL_BYTES)) {
		fprintf(stderr, "iotlb-hotpath: set-up failed\n");
		exit(1);
	}
	memset(src, 0x5a, size);
	batch_pairs(&b, src, size, batch, where); /* warm */
	for (unsigned r = 0; r < rounds; r++) {
		/* The copies go where the previous batch's maps went; the
		 * next-fit cursor sweeps the pool the same way in both. */
		pair[r] = batch_pairs(&b, src, size, batch, where);
		copy[r] = batch_copies(&b, src, size, batch, where);
		ratio[r] = pair[r] / copy[r];
	}
	qsort(pair, rounds, sizeof(double), cmp_double);
	qsort(copy, rounds, sizeof(double), cmp_double);
	qsort(ratio, rounds, sizeof(double), cmp_double);
	printf("pair %7zu B: %8.1f ns [%.1f-%.1f]  copy limit %8.1f ns [%.1f-%.1f]"
	       "  ratio %.2fx [%.2f-%.2f]\n",
	       size, pair[rounds / 2], pair[rounds / 4], pair[rounds * 3 / 4], copy[rounds / 2],
	       copy[rounds / 4], copy[rounds * 3 / 4], ratio[rounds / 2], ratio[rounds / 4],
	       ratio[rounds * 3 / 4]);
	bed_destroy(&b);
	free(src);
	free(where);
	free(pair);
	free(copy);
	free(ratio);
}

/* iotlb_dma_to_virt with 1 or 64 pools: of an address in the oldest pool
 * (the worst case of the old linear walk), or of each pool in turn. */
static double lookup_ns(unsigned npools, unsigned n, bool every_pool)
{
	const size_t bytes = (size_t)1 << 20;
	struct bed b;
	char *extra[64];
	uint64_t t0;
	void *volatile sink;

	if (bed_create(&b, bytes))
		exit(1);
	for (unsigned i = 1; i < npools; i++) {
		extra[i] = aligned_alloc(4096, bytes);
		if (!extra[i] ||
		    iotlb_mem_add_pool(b.mem, extra[i], DMA_BASE + (uint64_t)i * bytes, bytes))
			exit(1);
	}
	t0 = now_ns();
	for (unsigned i = 0; i < n; i++)
		sink = iotlb_dma_to_virt(b.dev,
					 DMA_BASE + 4096 + (i & 255) +
						 (every_pool ? (uint64_t)(i % npools) * bytes : 0));
	(void)sink;
	t0 = now_ns() - t0;
	bed_destroy(&b);
	for (unsigned i = 1; i < npools; i++)
		free(extra[i]);
	return (double)t0 / n;
}

int main(int argc, char **argv)
{
	unsigned rounds = 15, batch = 20000;
	char sizes[256] = "64,2048,65536";
	cpu_set_t one;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			batch = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--sizes") && i + 1 < argc)
			snprintf(sizes, sizeof(sizes), "%s", argv[++i]);
		else {
			fprintf(stderr, "usage: iotlb-hotpath [--rounds N] [--batch N] "
					"[--sizes 64,2048,65536]\n");
			return 2;
		}
	}
	if (rounds < 4 || batch < 1) {
		fprintf(stderr, "iotlb-hotpath: --rounds must be >= 4, --batch >= 1\n");
		return 2;
	}
	/* One thread, on one CPU: the question is the allocator, not the scheduler. */
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);
	printf("# iotlb-hotpath: 1 thread on CPU 0, one area, %zu MiB pool, TO_DEVICE; "
	       "%u rounds of %u pairs; median [interquartile range]\n",
	       POOL_BYTES >> 20, rounds, batch);
	for (char *tok = strtok(sizes, ","); tok; tok = strtok(NULL, ","))
		pair_report((size_t)strtoull(tok, NULL, 0), rounds, batch);
	for (int every = 0; every < 2; every++) {
		double one_pool[7], many[7];

		for (int r = 0; r < 7; r++) {
			one_pool[r] = lookup_ns(1, 1000000, every);
			many[r] = lookup_ns(64, 1000000, every);
		}
		qsort(one_pool, 7, sizeof(double), cmp_double);
		qsort(many, 7, sizeof(double), cmp_double);
		printf("lookup (dma_to_virt, %s): 1 pool %.1f ns, 64 pools %.1f ns, "
		       "ratio %.2fx\n",
		       every ? "each pool in turn" : "oldest pool", one_pool[3], many[3],
		       many[3] / one_pool[3]);
	}
	return 0;
}
