/* SPDX-License-Identifier: MIT */
/*
 * Shared fixture of the unit tests: a mem over a caller-style aligned region
 * with the docs/algorithm.md#scenarios geometry, a log recorder, white-box readers
 * of the pool state (src/internal.h) and before/after snapshots of it.
 */
#ifndef IOTLB_TESTS_UNIT_FIXTURE_H
#define IOTLB_TESTS_UNIT_FIXTURE_H

/* cmocka.h needs these before it */
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

#include "devices.h"
#include "internal.h"
#include "region.h"

/* The fixture of docs/algorithm.md#scenarios. */
#define FX_B 0x10000000ull /* device address of slot 0 */
#define FX_SLOT 2048ull	   /* slot size */
#define FX_SEG 128u	   /* segment_slots */
#define FX_PAGE 4096ull
#define FX_SEG_BYTES (FX_SEG * FX_SLOT) /* 262144, the largest mapping */

/* Byte that fills fresh bounce memory, so stale and copied bytes differ. */
#define FX_REGION_FILL 0xCD
/* Originals come from an arena aligned to 64 KiB, so tests pick low bits. */
#define FX_ARENA_ALIGN 0x10000ull
#define FX_ARENA_LEN (4u << 20)
#define FX_MAX_DEVS 16
#define FX_LOG_MAX 64
#define FX_LOG_LEN 512

/* Sentinels pre-filled into out-parameters of calls that must fail. */
#define FX_DMA_SENTINEL 0xdeadbeefcafef00dull
#define FX_PTR_SENTINEL ((void *)(uintptr_t)0x5a5a5a5a)

struct fx_log {
	unsigned count;
	int level[FX_LOG_MAX];
	char msg[FX_LOG_MAX][FX_LOG_LEN];
};

struct fx {
	struct iotlb_mem_config cfg;
	struct iotlb_mem *mem;
	struct iotlb_dev *dev; /* masks all default */
	struct iotlb_dev *devs[FX_MAX_DEVS];
	unsigned ndevs;
	uint64_t nslots;
	unsigned char *region; /* aligned start of the bounce region */
	void *region_map;
	size_t region_map_len;
	unsigned char *arena; /* originals */
	void *arena_map;
	size_t arena_map_len;
	struct fx_log log;
};

/* -------------------------------------------------------------- memory */

/* Anonymous memory of `len` bytes aligned to `align`; *map / *map_len get
 * what to munmap. `noreserve` for address space that is mostly untouched. */
static inline void *fx_mmap_aligned(size_t len, size_t align, bool noreserve, void **map,
				    size_t *map_len)
{
	struct test_mapping m;
	void *p = test_mmap_aligned(len, align, noreserve, &m);

	assert_non_null(p);
	*map = m.map;
	*map_len = m.len;
	return p;
}

/* ----------------------------------------------------------------- log */

static inline void fx_log_cb(void *ctx, int level, const char *msg)
{
	struct fx_log *l = ctx;
	size_t n;

	if (l->count < FX_LOG_MAX) {
		l->level[l->count] = level;
		snprintf(l->msg[l->count], FX_LOG_LEN, "%s", msg);
		n = strlen(l->msg[l->count]);
		while (n && (l->msg[l->count][n - 1] == '\n'))
			l->msg[l->count][--n] = '\0';
	}
	l->count++;
}

/* Messages recorded so far that contain `needle`. */
static inline unsigned fx_log_count(const struct fx *f, const char *needle)
{
	unsigned i, n = 0;

	for (i = 0; i < f->log.count && i < FX_LOG_MAX; i++)
		if (strstr(f->log.msg[i], needle))
			n++;
	return n;
}

static inline void fx_log_clear(struct fx *f)
{
	memset(&f->log, 0, sizeof(f->log));
}

/* ------------------------------------------------------------ lifetime */

/*
 * Fills f->cfg for a fresh pool of `nslots` slots (section 9 fixture, one
 * area, mutex locks, log recorder) and maps the region and the arena. Tests
 * may change f->cfg before fx_create().
 */
static inline void fx_prepare(struct fx *f, uint64_t nslots)
{
	struct iotlb_mem_config c = IOTLB_MEM_CONFIG_INIT;
	size_t len = (size_t)(nslots * FX_SLOT);

	f->nslots = nslots;
	f->region = fx_mmap_aligned(len, 0x10000, false, &f->region_map, &f->region_map_len);
	memset(f->region, FX_REGION_FILL, len);
	if (!f->arena) {
		f->arena = fx_mmap_aligned(FX_ARENA_LEN, FX_ARENA_ALIGN, false, &f->arena_map,
					   &f->arena_map_len);
		memset(f->arena, 0x11, FX_ARENA_LEN);
	}
	c.vaddr = f->region;
	c.dma_addr = FX_B;
	c.size = len;
	c.nareas = 1;
	c.lock = IOTLB_LOCK_MUTEX;
	c.log = fx_log_cb;
	c.log_ctx = &f->log;
	f->cfg = c;
}

/* Creates a device with the given masks and remembers it for teardown. */
static inline struct iotlb_dev *fx_dev(struct fx *f, uint64_t min_align, uint64_t alloc_align,
				       uint64_t seg_boundary)
{
	struct iotlb_dev *d = NULL;

	assert_int_equal(test_dev_create(f->mem, min_align, alloc_align, seg_boundary, &d), 0);
	assert_non_null(d);
	assert_true(f->ndevs < FX_MAX_DEVS);
	f->devs[f->ndevs++] = d;
	return d;
}

/* Creates the mem from f->cfg and the default device. */
static inline void fx_create(struct fx *f)
{
	assert_int_equal(iotlb_mem_create(&f->cfg, &f->mem), 0);
	assert_non_null(f->mem);
	f->dev = fx_dev(f, 0, 0, 0);
}

static inline void fx_init(struct fx *f, uint64_t nslots)
{
	fx_prepare(f, nslots);
	fx_create(f);
}

/* Forgets a device the test destroyed itself. */
static inline void fx_forget_dev(struct fx *f, struct iotlb_dev *d)
{
	unsigned i;

	for (i = 0; i < f->ndevs; i++)
		if (f->devs[i] == d) {
			f->devs[i] = f->devs[--f->ndevs];
			break;
		}
	if (f->dev == d)
		f->dev = NULL;
}

/* cmocka setup / teardown: every test gets a zeroed struct fx. */
static inline int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	*state = f;
	return 0;
}

/*
 * Teardown checks the structure is consistent and that everything the test
 * created goes away cleanly; a test must unmap what it mapped.
 */
static inline int fx_teardown(void **state)
{
	struct fx *f = *state;
	int ret = 0;
	char why[256] = "";

	if (f->mem) {
		if (iotlb__check_mem(f->mem, why, sizeof(why)) != 0) {
			print_error("invariant check failed at teardown: %s\n", why);
			ret = -1;
		}
		while (f->ndevs) {
			struct iotlb_dev *d = f->devs[--f->ndevs];

			if (iotlb_dev_destroy(d) != 0) {
				print_error("device not destroyable at teardown\n");
				ret = -1;
			}
		}
		if (ret == 0 && iotlb_mem_destroy(f->mem) != 0) {
			print_error("mem not destroyable at teardown\n");
			ret = -1;
		}
	}
	if (f->region_map)
		munmap(f->region_map, f->region_map_len);
	if (f->arena_map)
		munmap(f->arena_map, f->arena_map_len);
	free(f);
	return ret;
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

/* ------------------------------------------------------------ white box */

static inline struct iotlb__pool *fx_pool(const struct fx *f)
{
	return f->mem->shared.pools;
}

static inline uint32_t fx_list(const struct fx *f, uint64_t i)
{
	return iotlb__slots_free_run(fx_pool(f), i);
}

static inline const struct iotlb__slot *fx_slot(const struct fx *f, uint64_t i)
{
	return &fx_pool(f)->slots[i];
}

static inline uint64_t fx_cursor(const struct fx *f, unsigned a)
{
	return iotlb__area_at(fx_pool(f), a)->index;
}

static inline uint64_t fx_area_used(const struct fx *f, unsigned a)
{
	return iotlb__area_at(fx_pool(f), a)->used;
}

/* Device address of slot k. */
static inline uint64_t fx_slot_dma(uint64_t k)
{
	return FX_B + k * FX_SLOT;
}

static inline unsigned char *fx_bounce(const struct fx *f, uint64_t dma)
{
	return f->region + (dma - FX_B);
}

/* An original buffer whose address is FX_ARENA_ALIGN-aligned plus `off`. */
static inline unsigned char *fx_orig(const struct fx *f, size_t off)
{
	assert_true(off < FX_ARENA_LEN);
	return f->arena + off;
}

static inline uint64_t fx_addr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static inline void fx_pattern(unsigned char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 131u + seed * 7u + (i >> 8)) & 0xff);
}

/* Asserts every byte of p[0..n) equals v. */
static inline void fx_assert_bytes(const unsigned char *p, size_t n, unsigned char v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != v)
			fail_msg("byte %zu is 0x%02x, expected 0x%02x", i, p[i], v);
}

static inline struct iotlb_stats fx_stats(const struct fx *f)
{
	struct iotlb_stats s = IOTLB_STATS_INIT;

	assert_int_equal(iotlb_mem_stats(f->mem, &s), 0);
	return s;
}

/* Maps `size` bytes of arena+off on `d`, queue 0; asserts success. */
static inline uint64_t fx_map(struct fx *f, struct iotlb_dev *d, size_t off, size_t size,
			      enum iotlb_dir dir)
{
	uint64_t dma = FX_DMA_SENTINEL;

	assert_int_equal(iotlb_map(d, 0, fx_orig(f, off), size, dir, 0, &dma), 0);
	assert_true(dma != FX_DMA_SENTINEL);
	return dma;
}

static inline void fx_unmap(struct fx *f, struct iotlb_dev *d, uint64_t dma, size_t size,
			    enum iotlb_dir dir)
{
	(void)f;
	assert_int_equal(iotlb_unmap(d, dma, size, dir, 0), 0);
}

/* Free-run counter of slot i recomputed from the occupancy (list == 0)
 * rule of docs/algorithm.md#slot-state: consecutive free slots up to the segment end. */
static inline void fx_assert_list_consistent(const struct fx *f)
{
	const struct iotlb__pool *pool = fx_pool(f);
	uint64_t i = pool->nslots;
	uint32_t run = 0;

	while (i-- > 0) {
		bool seg_end = (i + 1) % FX_SEG == 0 || i + 1 == pool->nslots;

		if (iotlb__slots_free_run(pool, i) == 0)
			run = 0;
		else
			run = seg_end ? 1 : run + 1;
		if (iotlb__slots_free_run(pool, i) != run)
			fail_msg("list[%llu] = %u, recomputed %u", (unsigned long long)i,
				 iotlb__slots_free_run(pool, i), run);
	}
}

/* The initial free-run counters of section 2 hold for slots [s, e). */
static inline void fx_assert_list_fresh(const struct fx *f, uint64_t s, uint64_t e)
{
	uint64_t i;

	for (i = s; i < e; i++) {
		uint64_t to_seg = FX_SEG - (i % FX_SEG), to_end = f->nslots - i;
		uint64_t want = to_seg < to_end ? to_seg : to_end;

		if (fx_list(f, i) != want)
			fail_msg("list[%llu] = %u, expected %llu", (unsigned long long)i,
				 fx_list(f, i), (unsigned long long)want);
	}
}

/* ------------------------------------------------------------ snapshots */

/*
 * Everything a failed call must leave alone: statistics, per-slot metadata,
 * area cursors and counts, the bounce region and the originals.
 */
struct fx_snap {
	struct iotlb_stats st;
	uint32_t *list;
	struct iotlb__slot *slots;
	uint64_t index[64], used[64];
	unsigned nareas;
	unsigned char *region;
	unsigned char *arena;
	uint64_t ndevs;
};

static inline void fx_snap_take(const struct fx *f, struct fx_snap *s)
{
	const struct iotlb__pool *pool = fx_pool(f);
	size_t n = (size_t)pool->nslots;
	unsigned a;

	memset(s, 0, sizeof(*s));
	s->st = fx_stats(f);
	s->list = malloc(n * sizeof(*s->list));
	s->slots = malloc(n * sizeof(*s->slots));
	s->region = malloc(n * FX_SLOT);
	s->arena = malloc(FX_ARENA_LEN);
	assert_true(s->list && s->slots && s->region && s->arena);
	for (size_t i = 0; i < n; i++)
		s->list[i] = iotlb__slots_free_run(pool, i);
	memcpy(s->slots, pool->slots, n * sizeof(*s->slots));
	memcpy(s->region, f->region, n * FX_SLOT);
	memcpy(s->arena, f->arena, FX_ARENA_LEN);
	s->nareas = pool->nareas < 64 ? pool->nareas : 64;
	for (a = 0; a < s->nareas; a++) {
		s->index[a] = iotlb__area_at(pool, a)->index;
		s->used[a] = iotlb__area_at(pool, a)->used;
	}
	s->ndevs = f->mem->ndevs;
}

static inline void fx_snap_free(struct fx_snap *s)
{
	free(s->list);
	free(s->slots);
	free(s->region);
	free(s->arena);
	memset(s, 0, sizeof(*s));
}

/* Counters a failed call may legitimately move. */
#define FX_ALLOW_NOSPACE (1u << 0) /* map_fail_nospace += 1, area_fallbacks */
#define FX_ALLOW_TOO_BIG (1u << 1) /* map_fail_too_big += 1 */

static inline bool fx_stat_ignored(const char *name)
{
	/* lock counters move whenever a lock is taken, even to refuse a call */
	return strncmp(name, "lock_", 5) == 0;
}

/* Asserts nothing changed since `s` was taken (then frees `s`). */
static inline void fx_snap_expect_same(const struct fx *f, struct fx_snap *s, unsigned allow)
{
	const struct iotlb__pool *pool = fx_pool(f);
	struct iotlb_stats now = fx_stats(f);
	size_t n = (size_t)pool->nslots;
	uint64_t i;
	unsigned a;

#define FX_CMP_(name, desc)                                                               \
	do {                                                                              \
		uint64_t want = s->st.name;                                               \
		if (fx_stat_ignored(#name))                                               \
			break;                                                            \
		if ((allow & FX_ALLOW_NOSPACE) && !strcmp(#name, "map_fail_nospace"))     \
			want++;                                                           \
		if ((allow & FX_ALLOW_NOSPACE) && !strcmp(#name, "area_fallbacks"))       \
			break;                                                            \
		if ((allow & FX_ALLOW_TOO_BIG) && !strcmp(#name, "map_fail_too_big"))     \
			want++;                                                           \
		if (now.name != want)                                                     \
			fail_msg("stat %s is %llu, expected %llu", #name,                 \
				 (unsigned long long)now.name, (unsigned long long)want); \
	} while (0);
	IOTLB_STATS_FIELDS(FX_CMP_)
#undef FX_CMP_

	for (i = 0; i < n; i++) {
		const struct iotlb__slot *x = &pool->slots[i], *y = &s->slots[i];

		if (iotlb__slots_free_run(pool, i) != s->list[i])
			fail_msg("list[%llu] changed: %u -> %u", (unsigned long long)i, s->list[i],
				 iotlb__slots_free_run(pool, i));
		if (x->orig != y->orig || x->alloc_size != y->alloc_size ||
		    x->pad_slots != y->pad_slots || x->owner != y->owner || x->kind != y->kind)
			fail_msg("slot %llu metadata changed", (unsigned long long)i);
	}
	for (a = 0; a < s->nareas; a++) {
		assert_int_equal(iotlb__area_at(pool, a)->index, s->index[a]);
		assert_int_equal(iotlb__area_at(pool, a)->used, s->used[a]);
	}
	if (memcmp(s->region, f->region, n * FX_SLOT) != 0)
		fail_msg("bounce region bytes changed");
	if (memcmp(s->arena, f->arena, FX_ARENA_LEN) != 0)
		fail_msg("original buffers changed");
	assert_int_equal(f->mem->ndevs, s->ndevs);
	fx_snap_free(s);
}

#endif /* IOTLB_TESTS_UNIT_FIXTURE_H */
