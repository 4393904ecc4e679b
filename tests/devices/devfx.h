/* SPDX-License-Identifier: MIT */
/*
 * Fixture of the device tests: a mem whose shared pools have a small block
 * geometry, helpers to read where a private pool was carved (src/internal.h),
 * the invariant checker wrapped as assertions, and the free-run counters a
 * never-used pool must have.
 */
#ifndef IOTLB_TESTS_DEVICES_DEVFX_H
#define IOTLB_TESTS_DEVICES_DEVFX_H

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"
#include "region.h"
#include "scale.h"

#define DF_SLOT 2048ull
#define DF_SHIFT 11u
#define DF_MAX_POOLS 4

/* Device address of the first pool; later pools follow at DF_POOL_GAP steps. */
#define DF_DMA 0x40000000ull
#define DF_POOL_GAP 0x10000000ull

struct df_region {
	unsigned char *va;
	uint64_t dma;
	uint64_t nslots;
	void *map;
	size_t map_len;
};

struct df {
	struct iotlb_mem_config cfg;
	struct iotlb_mem *mem;
	struct df_region pool[DF_MAX_POOLS]; /* oldest first */
	unsigned npools;
	unsigned seg;	/* segment_slots */
	unsigned block; /* block_slots */
};

static inline void *df_mmap(size_t len, size_t align, void **map, size_t *map_len)
{
	struct test_mapping m;
	void *p = test_mmap_aligned(len, align, false, &m);

	assert_non_null(p);
	*map = m.map;
	*map_len = m.len;
	return p;
}

static inline struct df_region df_region_new(unsigned idx, uint64_t nslots)
{
	struct df_region r;

	r.nslots = nslots;
	r.dma = DF_DMA + (uint64_t)idx * DF_POOL_GAP;
	r.va = df_mmap((size_t)(nslots * DF_SLOT), 0x10000, &r.map, &r.map_len);
	memset(r.va, 0xCD, (size_t)(nslots * DF_SLOT));
	return r;
}

/*
 * Creates a mem over a first pool of `nslots` slots: 2 KiB slots, the given
 * segment and block sizes, `nareas` areas, locks of `lock` kind, no log.
 */
static inline void df_create_lock(struct df *f, uint64_t nslots, unsigned seg, unsigned block,
				  unsigned nareas, enum iotlb_lock_kind lock)
{
	struct iotlb_mem_config c = IOTLB_MEM_CONFIG_INIT;

	memset(f, 0, sizeof(*f));
	f->seg = seg;
	f->block = block;
	f->pool[0] = df_region_new(0, nslots);
	f->npools = 1;
	c.vaddr = f->pool[0].va;
	c.dma_addr = f->pool[0].dma;
	c.size = (size_t)(nslots * DF_SLOT);
	c.segment_slots = seg;
	c.block_slots = block;
	c.nareas = nareas;
	c.lock = lock;
	f->cfg = c;
	assert_int_equal(iotlb_mem_create(&c, &f->mem), 0);
}

/* As df_create_lock, with mutex locks. */
static inline void df_create(struct df *f, uint64_t nslots, unsigned seg, unsigned block,
			     unsigned nareas)
{
	df_create_lock(f, nslots, seg, block, nareas, IOTLB_LOCK_MUTEX);
}

/* Adds a newer pool of `nslots` slots. */
static inline void df_add_pool(struct df *f, uint64_t nslots)
{
	struct df_region r;

	assert_true(f->npools < DF_MAX_POOLS);
	r = df_region_new(f->npools, nslots);
	assert_int_equal(iotlb_mem_add_pool(f->mem, r.va, r.dma, (size_t)(nslots * DF_SLOT)), 0);
	f->pool[f->npools++] = r;
}

static inline void df_destroy(struct df *f)
{
	assert_int_equal(iotlb_mem_destroy(f->mem), 0);
	for (unsigned i = 0; i < f->npools; i++)
		munmap(f->pool[i].map, f->pool[i].map_len);
	memset(f, 0, sizeof(*f));
}

static inline uint64_t df_block_bytes(const struct df *f)
{
	return (uint64_t)f->block * DF_SLOT;
}

/* ------------------------------------------------------------- checks */

#define df_check_mem(mem, step) df_check_mem_at((mem), (step), __FILE__, __LINE__)
#define df_check_dev(dev, step) df_check_dev_at((dev), (step), __FILE__, __LINE__)

static inline void df_check_mem_at(const struct iotlb_mem *mem, const char *step, const char *file,
				   int line)
{
	char why[256] = "";

	if (iotlb__check_mem(mem, why, sizeof(why)) != 0)
		fail_msg("%s:%d: iotlb__check_mem after \"%s\": %s", file, line, step, why);
}

static inline void df_check_dev_at(const struct iotlb_dev *dev, const char *step, const char *file,
				   int line)
{
	char why[256] = "";

	if (iotlb__check_dev(dev, why, sizeof(why)) != 0)
		fail_msg("%s:%d: iotlb__check_dev after \"%s\": %s", file, line, step, why);
}

/* ---------------------------------------------------------- white box */

/* The shared pool made from the idx-th region (oldest = 0). */
static inline struct iotlb__pool *df_shared_pool(const struct df *f, unsigned idx)
{
	for (struct iotlb__pool *p = f->mem->shared.pools; p; p = p->next)
		if (p->dma_addr == f->pool[idx].dma)
			return p;
	fail_msg("no shared pool at 0x%llx", (unsigned long long)f->pool[idx].dma);
	return NULL;
}

/* The private pool of a device (NULL for a shared device). */
static inline struct iotlb__pool *df_private_pool(const struct iotlb_dev *dev)
{
	return dev->domain == &dev->mem->shared ? NULL : dev->domain->pools;
}

struct df_where {
	unsigned pool;	/* index of the shared region it was carved from */
	uint64_t block; /* first block, counted from that region's start */
	uint64_t nblocks;
	uint64_t dma; /* device address of the private pool */
	uint64_t bytes;
};

/* Where the private pool of `dev` lies, from the private pool's addresses. */
static inline struct df_where df_where(const struct df *f, const struct iotlb_dev *dev)
{
	const struct iotlb__pool *p = df_private_pool(dev);
	struct df_where w = {0};
	unsigned i;

	assert_non_null(p);
	w.dma = p->dma_addr;
	w.bytes = p->nslots * DF_SLOT;
	for (i = 0; i < f->npools; i++) {
		const struct df_region *r = &f->pool[i];

		if (w.dma >= r->dma && w.dma < r->dma + r->nslots * DF_SLOT) {
			assert_true(w.dma + w.bytes <= r->dma + r->nslots * DF_SLOT);
			assert_int_equal((w.dma - r->dma) % df_block_bytes(f), 0);
			assert_int_equal(w.bytes % df_block_bytes(f), 0);
			/* The private pool is a window of the shared region, CPU side too. */
			assert_ptr_equal(p->vaddr, r->va + (w.dma - r->dma));
			w.pool = i;
			w.block = (w.dma - r->dma) / df_block_bytes(f);
			w.nblocks = w.bytes / df_block_bytes(f);
			return w;
		}
	}
	fail_msg("private pool at 0x%llx lies in no shared region", (unsigned long long)w.dma);
	return w;
}

/* Free-run counter of slot i in a never-used pool (docs/algorithm.md#slot-state). */
static inline uint32_t df_fresh_list(uint64_t i, uint64_t nslots, unsigned seg)
{
	uint64_t to_seg = seg - (i % seg), to_end = nslots - i;

	return (uint32_t)(to_seg < to_end ? to_seg : to_end);
}

static inline void df_assert_list_fresh(const struct iotlb__pool *p, unsigned seg)
{
	for (uint64_t i = 0; i < p->nslots; i++)
		if (iotlb__slots_free_run(p, i) != df_fresh_list(i, p->nslots, seg))
			fail_msg("pool 0x%llx: list[%llu] = %u, a fresh pool has %u",
				 (unsigned long long)p->dma_addr, (unsigned long long)i, iotlb__slots_free_run(p, i),
				 df_fresh_list(i, p->nslots, seg));
}

/* ---------------------------------------------------------- snapshots */

/* The bookkeeping of one shared pool: what carving must give back exactly. */
struct df_snap {
	const struct iotlb__pool *pool;
	uint32_t *list;
	struct iotlb__slot *slots;
	uint64_t index[64], used[64];
	unsigned nareas;
};

static inline void df_snap_take(const struct iotlb__pool *p, struct df_snap *s)
{
	size_t n = (size_t)p->nslots;

	s->pool = p;
	s->list = malloc(n * sizeof(*s->list));
	s->slots = malloc(n * sizeof(*s->slots));
	assert_true(s->list && s->slots);
	for (size_t i = 0; i < n; i++)
		s->list[i] = iotlb__slots_free_run(p, i);
	memcpy(s->slots, p->slots, n * sizeof(*s->slots));
	assert_true(p->nareas <= 64);
	s->nareas = p->nareas;
	for (unsigned a = 0; a < p->nareas; a++) {
		s->index[a] = iotlb__area_at(p, a)->index;
		s->used[a] = iotlb__area_at(p, a)->used;
	}
}

static inline void df_snap_free(struct df_snap *s)
{
	free(s->list);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

static inline bool df_slot_same(const struct iotlb__slot *x, const struct iotlb__slot *y)
{
	return x->orig == y->orig && x->alloc_size == y->alloc_size &&
	       x->pad_slots == y->pad_slots && x->owner == y->owner && x->kind == y->kind;
}

/*
 * Asserts the pool equals the snapshot except in the slots marked in
 * `carved` (NULL: none): there the slots must be taken (list 0). Cursors must
 * be the snapshot's, and each area's used count the snapshot's plus the
 * carved slots it holds.
 */
static inline void df_snap_expect_mask(const struct df_snap *s, const uint8_t *carved)
{
	const struct iotlb__pool *p = s->pool;

	for (uint64_t i = 0; i < p->nslots; i++) {
		if (carved && carved[i]) {
			if (iotlb__slots_free_run(p, i) != 0)
				fail_msg("carved slot %llu has list %u", (unsigned long long)i,
					 iotlb__slots_free_run(p, i));
			if (p->slots[i].kind == IOTLB__SLOT_FREE)
				fail_msg("carved slot %llu is free", (unsigned long long)i);
			continue;
		}
		if (iotlb__slots_free_run(p, i) != s->list[i])
			fail_msg("list[%llu] = %u, before carving %u", (unsigned long long)i,
				 iotlb__slots_free_run(p, i), s->list[i]);
		if (!df_slot_same(&p->slots[i], &s->slots[i]))
			fail_msg("slot %llu metadata differs from before carving",
				 (unsigned long long)i);
	}
	for (unsigned a = 0; a < s->nareas; a++) {
		const struct iotlb__area *area = iotlb__area_at(p, a);
		uint64_t extra = 0;

		for (uint64_t i = area->base; carved && i < area->base + area->nslots; i++)
			extra += carved[i] != 0;
		if (area->index != s->index[a])
			fail_msg("area %u cursor %llu, before carving %llu", a,
				 (unsigned long long)area->index, (unsigned long long)s->index[a]);
		if (area->used != s->used[a] + extra)
			fail_msg("area %u used %llu, expected %llu", a,
				 (unsigned long long)area->used,
				 (unsigned long long)(s->used[a] + extra));
	}
}

/* As above with one carved range [cs, ce) (empty when ce <= cs). */
static inline void df_snap_expect(const struct df_snap *s, uint64_t cs, uint64_t ce)
{
	uint8_t *carved = calloc((size_t)s->pool->nslots, 1);

	assert_non_null(carved);
	for (uint64_t i = cs; i < ce && i < s->pool->nslots; i++)
		carved[i] = 1;
	df_snap_expect_mask(s, carved);
	free(carved);
}

/* ---------------------------------------------------------- devices */

static inline int df_dev_try(struct iotlb_mem *mem, size_t private_size, unsigned nqueues,
			     struct iotlb_dev **out)
{
	struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;

	dc.private_size = private_size;
	dc.nqueues = nqueues;
	return iotlb_dev_create(mem, &dc, out);
}

static inline struct iotlb_dev *df_dev(struct iotlb_mem *mem, size_t private_size, unsigned nqueues)
{
	struct iotlb_dev *d = NULL;
	int rc = df_dev_try(mem, private_size, nqueues, &d);

	if (rc != 0)
		fail_msg("iotlb_dev_create(private_size %zu, nqueues %u) = %d (%s)", private_size,
			 nqueues, rc, iotlb_strerror(rc));
	assert_non_null(d);
	return d;
}

static inline struct iotlb_stats df_dev_stats(const struct iotlb_dev *d)
{
	struct iotlb_stats s = IOTLB_STATS_INIT;

	assert_int_equal(iotlb_dev_stats(d, &s), 0);
	return s;
}

static inline struct iotlb_stats df_mem_stats(const struct iotlb_mem *m)
{
	struct iotlb_stats s = IOTLB_STATS_INIT;

	assert_int_equal(iotlb_mem_stats(m, &s), 0);
	return s;
}

/* ---------------------------------------------------------- data */

static inline uint64_t df_rnd(uint64_t *state)
{
	/* splitmix64 */
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline void df_pattern(unsigned char *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 131u + seed * 7u + (i >> 8) + (seed >> 8)) & 0xff);
}

/* Index of the first byte of p[0..n) that differs from the pattern, or n. */
static inline size_t df_pattern_mismatch(const unsigned char *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)((i * 131u + seed * 7u + (i >> 8) + (seed >> 8)) & 0xff))
			return i;
	return n;
}

#endif /* IOTLB_TESTS_DEVICES_DEVFX_H */
