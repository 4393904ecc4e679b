/* SPDX-License-Identifier: MIT */
/*
 * What the IO TLB block tests share on top of devfx.h: the block geometry
 * they use, an arena of originals with a known pattern, and assertions that
 * name the call that failed.
 */
#ifndef IOTLB_TESTS_DEVICES_BLOCKS_H
#define IOTLB_TESTS_DEVICES_BLOCKS_H

#include <limits.h>

#include "devfx.h"

#define SEG 128u
#define BLK 256u /* small blocks (2 segments, 512 KiB) keep the pools small */
#define BB ((size_t)BLK * DF_SLOT)
#define BIG_BLK 1024u /* the default block size */
#define BIG_BB ((size_t)BIG_BLK * DF_SLOT)
#define SEG_BYTES ((size_t)SEG * DF_SLOT)

#define ARENA_LEN (1u << 20)

/* Originals: one arena with a known pattern, 64 KiB aligned. */
static unsigned char *arena;
static void *arena_map;
static size_t arena_map_len;

static inline int blocks_group_setup(void **state)
{
	(void)state;
	arena = df_mmap(ARENA_LEN, 0x10000, &arena_map, &arena_map_len);
	df_pattern(arena, ARENA_LEN, 1);
	return 0;
}

static inline int blocks_group_teardown(void **state)
{
	(void)state;
	munmap(arena_map, arena_map_len);
	return 0;
}

static inline uint64_t map_ok(struct iotlb_dev *d, int queue, const void *orig, size_t size,
			      enum iotlb_dir dir)
{
	uint64_t dma = 0;
	int rc = iotlb_map(d, queue, (void *)orig, size, dir, 0, &dma);

	if (rc != 0)
		fail_msg("iotlb_map(queue %d, %zu bytes) = %d (%s)", queue, size, rc,
			 iotlb_strerror(rc));
	return dma;
}

static inline void unmap_ok(struct iotlb_dev *d, uint64_t dma, size_t size, enum iotlb_dir dir)
{
	int rc = iotlb_unmap(d, dma, size, dir, 0);

	if (rc != 0)
		fail_msg("iotlb_unmap(0x%llx, %zu) = %d (%s)", (unsigned long long)dma, size, rc,
			 iotlb_strerror(rc));
}

static inline void destroy_ok(struct iotlb_dev *d)
{
	int rc = iotlb_dev_destroy(d);

	if (rc != 0)
		fail_msg("iotlb_dev_destroy = %d (%s)", rc, iotlb_strerror(rc));
}

static inline void expect_at(const struct df *f, const struct iotlb_dev *d, unsigned pool,
			     uint64_t block, uint64_t nblocks)
{
	struct df_where w = df_where(f, d);

	if (w.pool != pool || w.block != block || w.nblocks != nblocks)
		fail_msg("private pool carved at pool %u block %llu (%llu blocks), "
			 "expected pool %u block %llu (%llu blocks)",
			 w.pool, (unsigned long long)w.block, (unsigned long long)w.nblocks, pool,
			 (unsigned long long)block, (unsigned long long)nblocks);
}

/* A create that must fail with `err`, leaving the out-parameter alone. */
static inline void expect_create_fails(struct iotlb_mem *mem, size_t private_size, unsigned nqueues,
				       int err)
{
	struct iotlb_dev *d = (struct iotlb_dev *)(uintptr_t)0x5a5a5a5a;
	int rc = df_dev_try(mem, private_size, nqueues, &d);

	if (rc != err)
		fail_msg("iotlb_dev_create(private_size %zu) = %d (%s), expected %d (%s)",
			 private_size, rc, iotlb_strerror(rc), err, iotlb_strerror(err));
	assert_ptr_equal(d, (struct iotlb_dev *)(uintptr_t)0x5a5a5a5a);
}

static inline void expect_all_fresh(const struct df *f)
{
	for (unsigned i = 0; i < f->npools; i++) {
		const struct iotlb__pool *p = df_shared_pool(f, i);

		df_assert_list_fresh(p, f->seg);
		for (unsigned a = 0; a < p->nareas; a++)
			assert_int_equal(iotlb__area_at(p, a)->used, 0);
	}
	assert_int_equal(df_mem_stats(f->mem).used, 0);
}

#endif
