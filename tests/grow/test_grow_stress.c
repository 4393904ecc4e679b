/* SPDX-License-Identifier: MIT */
/*
 * Growth under threads (docs/algorithm.md#growth): mappers map and unmap random sizes
 * on a small growable mem, so it grows and hands out transient pools, while
 * another thread adds pools and another reads statistics. At pauses the
 * structure is checked; at the end every provider region came back once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "internal.h"
#include "provider.h"
#include "rng.h"
#include "scale.h"

#define SLOT 2048ull
#define SEG_BYTES (128 * SLOT)
#define NMAPPERS 4
#define LIVE 24                         /* mappings a mapper may keep live at once */
#define MAX_MAP (128u << 10)
#define BUF_STRIDE (MAX_MAP + 8192)     /* room for a random start offset */
#define INIT_SLOTS 256                  /* 2 areas of 128 with nareas 4 */
#define INIT_DMA 0x10000000ull
#define GROW_SLOTS 256                  /* grown pools: 2 areas (nareas 4 requested) */
#define ADD_SLOTS 128                   /* added pools: 1 area */
#define MAX_ADDED 8
#define ADD_DMA 0x100000000000ull       /* added pools, 1 GiB apart */
#define PROVIDER_DMA 0x200000000000ull  /* provider regions, above all else */
#define NDEVS 3
#define PHASE_MS 400
#define PHASES_NORMAL 8
#define PHASES_SANITIZED 3

enum kind { K_NONE, K_MAP, K_COHERENT };

struct item {
	enum kind kind;
	struct iotlb_dev *dev;
	uint64_t dma;
	size_t size;
	unsigned char *orig;   /* streaming: the original; coherent: the CPU address */
	enum iotlb_dir dir;
	uint64_t seed;         /* what the bounce holds now */
	uint64_t orig_seed;    /* what the original must hold after the unmap */
	uint64_t nslots;       /* slots it occupies (docs/algorithm.md#map, #coherent) */
};

struct ctx;

struct mapper {
	pthread_t tid;
	struct ctx *c;
	unsigned id;
	uint64_t rng;
	unsigned char *buf;
	struct item live[LIVE];
	uint64_t maps, unmaps, allocs, frees, syncs;
	char failure[240];
};

struct ctx {
	struct test_provider tp;
	struct iotlb_mem *mem;
	struct iotlb_dev *devs[NDEVS];
	uint64_t min_align[NDEVS];
	unsigned char *spare;   /* memory in no pool, for refused add_pool calls */
	void *added[MAX_ADDED];
	unsigned nadded;
	pthread_barrier_t paused, resume;
	int pause_req, stop;   /* atomics */
	struct mapper m[NMAPPERS];
	pthread_t adder, reader;
	char adder_failure[240], reader_failure[240];
	uint64_t reader_rounds, add_refusals;
};

#define PATTERN_STEP 0x9e3779b97f4a7c15ull

static void pattern_fill(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t w = seed;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8, w += PATTERN_STEP)
		memcpy(p + i, &w, 8);
	memcpy(p + i, &w, n - i);
}

/* Offset of the first wrong byte, or n when all match. */
static size_t pattern_check(const unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t w = seed;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8, w += PATTERN_STEP)
		if (memcmp(p + i, &w, 8))
			return i;
	for (size_t j = 0; i < n; i++, j++)
		if (p[i] != ((const unsigned char *)&w)[j])
			return i;
	return n;
}

__attribute__((format(printf, 2, 3))) static void fail_to(char *buf, const char *fmt, ...)
{
	va_list ap;

	if (buf[0])
		return;
	va_start(ap, fmt);
	vsnprintf(buf, 240, fmt, ap);
	va_end(ap);
}

static bool flag(int *f)
{
	return __atomic_load_n(f, __ATOMIC_ACQUIRE);
}

/* Every thread but main calls this between operations. */
static void maybe_pause(struct ctx *c)
{
	if (flag(&c->pause_req)) {
		pthread_barrier_wait(&c->paused);
		pthread_barrier_wait(&c->resume);
	}
}

/* Half log-uniform (every size up to MAX_MAP occurs, small ones often),
 * half large, so that the pools run full and the mem has to grow. */
static size_t random_size(uint64_t *rng)
{
	uint64_t r = xorshift64(rng);

	if (r & 1)
		return 1 + (size_t)((r >> 8) % ((uint64_t)1 << ((r >> 1) % 18)));
	return (MAX_MAP / 4) + (size_t)((r >> 8) % (MAX_MAP - MAX_MAP / 4)) + 1;
}

static uint64_t slots_of(uint64_t bytes)
{
	return (bytes + SLOT - 1) / SLOT;
}

/* ------------------------------------------------------------ mappers */

static void release(struct mapper *w, struct item *it)
{
	int err;
	size_t bad;

	if (it->kind == K_COHERENT) {
		bad = pattern_check(it->orig, it->size, it->seed);
		if (bad != it->size)
			fail_to(w->failure, "coherent %#llx+%zu overwritten at byte %zu",
				(unsigned long long)it->dma, it->size, bad);
		err = iotlb_free(it->dev, it->dma, it->size);
		if (err)
			fail_to(w->failure, "free of %#llx: %s", (unsigned long long)it->dma,
				iotlb_strerror(err));
		w->frees++;
		it->kind = K_NONE;
		return;
	}
	bad = pattern_check(iotlb_dma_to_virt(it->dev, it->dma), it->size, it->seed);
	if (bad != it->size)
		fail_to(w->failure, "bounce %#llx+%zu overwritten at byte %zu before unmap",
			(unsigned long long)it->dma, it->size, bad);
	if (it->dir != IOTLB_TO_DEVICE)
		memset(it->orig, 0, it->size); /* the copy back must restore all of it */
	err = iotlb_unmap(it->dev, it->dma, it->size, it->dir, 0);
	if (err) {
		fail_to(w->failure, "unmap of %#llx (%zu bytes): %s", (unsigned long long)it->dma,
			it->size, iotlb_strerror(err));
	} else {
		bad = pattern_check(it->orig, it->size, it->orig_seed);
		if (bad != it->size)
			fail_to(w->failure, "round trip of %#llx (%zu bytes, dir %d) wrong at %zu",
				(unsigned long long)it->dma, it->size, it->dir, bad);
		w->unmaps++;
	}
	it->kind = K_NONE;
}

static void take_coherent(struct mapper *w, struct item *it, uint64_t seed)
{
	void *va = NULL;
	int err;

	it->dev = w->c->devs[xorshift64(&w->rng) % NDEVS];
	it->size = 1 + (size_t)(xorshift64(&w->rng) % (32u << 10));
	err = iotlb_alloc(it->dev, it->size, &va, &it->dma);
	if (err) {
		fail_to(w->failure, "alloc of %zu bytes: %s", it->size, iotlb_strerror(err));
		return;
	}
	if (iotlb_dma_to_virt(it->dev, it->dma) != va)
		fail_to(w->failure, "alloc %#llx: dma_to_virt differs", (unsigned long long)it->dma);
	it->kind = K_COHERENT;
	it->orig = va;
	it->seed = seed;
	it->nslots = slots_of(it->size);
	pattern_fill(va, it->size, seed);
	w->allocs++;
}

static void take_mapping(struct mapper *w, struct item *it, uint64_t seed)
{
	static const enum iotlb_dir dirs[3] = { IOTLB_TO_DEVICE, IOTLB_FROM_DEVICE,
						IOTLB_BIDIRECTIONAL };
	unsigned d = (unsigned)(xorshift64(&w->rng) % NDEVS);
	unsigned slot = (unsigned)(it - w->live);
	int queue = xorshift64(&w->rng) % 3 ? (int)(xorshift64(&w->rng) % 16) : IOTLB_ANY_QUEUE;
	unsigned char *bounce;
	uint64_t off;
	size_t bad;
	int err;

	it->dev = w->c->devs[d];
	it->size = random_size(&w->rng);
	it->orig = w->buf + (size_t)slot * BUF_STRIDE + xorshift64(&w->rng) % 8192;
	it->dir = dirs[xorshift64(&w->rng) % 3];
	it->seed = it->orig_seed = seed;
	pattern_fill(it->orig, it->size, seed);
	err = iotlb_map(it->dev, queue, it->orig, it->size, it->dir, 0, &it->dma);
	if (err) {
		fail_to(w->failure, "map of %zu bytes: %s", it->size, iotlb_strerror(err));
		return;
	}
	it->kind = K_MAP;
	w->maps++;
	/* alloc_align 0: the min-align offset stays inside the first slot, no padding */
	off = (uint64_t)(uintptr_t)it->orig & w->c->min_align[d] & (SLOT - 1);
	it->nslots = slots_of(it->size + off);
	if ((it->dma & w->c->min_align[d]) != ((uint64_t)(uintptr_t)it->orig & w->c->min_align[d]))
		fail_to(w->failure, "map %#llx breaks min_align %#llx of orig %p",
			(unsigned long long)it->dma, (unsigned long long)w->c->min_align[d],
			(void *)it->orig);
	if ((it->dma - off) / SEG_BYTES != (it->dma - off + it->nslots * SLOT - 1) / SEG_BYTES &&
	    it->dma < PROVIDER_DMA)
		fail_to(w->failure, "map %#llx+%zu crosses a segment", (unsigned long long)it->dma,
			it->size);
	bounce = iotlb_dma_to_virt(it->dev, it->dma);
	if (!bounce || !iotlb_is_bounce(it->dev, it->dma)) {
		fail_to(w->failure, "no bounce memory behind %#llx", (unsigned long long)it->dma);
		return;
	}
	bad = pattern_check(bounce, it->size, seed);
	if (bad != it->size)
		fail_to(w->failure, "map %#llx+%zu bounced wrong byte %zu", (unsigned long long)it->dma,
			it->size, bad);
	if (it->dir == IOTLB_TO_DEVICE)
		return;
	/* The device answers; a sync may bring it back early. */
	pattern_fill(bounce, it->size, seed ^ 1);
	it->seed = it->orig_seed = seed ^ 1;
	if (xorshift64(&w->rng) % 4 == 0) {
		err = iotlb_sync_for_cpu(it->dev, it->dma, it->size, it->dir);
		bad = pattern_check(it->orig, it->size, seed ^ 1);
		if (err || bad != it->size)
			fail_to(w->failure, "sync of %#llx+%zu: err %d, wrong byte %zu",
				(unsigned long long)it->dma, it->size, err, bad);
		w->syncs++;
	}
}

static void *mapper_main(void *arg)
{
	struct mapper *w = arg;
	struct ctx *c = w->c;

	for (uint64_t op = 1; !flag(&c->stop) && !w->failure[0]; op++) {
		struct item *it = &w->live[xorshift64(&w->rng) % LIVE];
		uint64_t seed = ((uint64_t)w->id << 56) ^ (op << 4);

		maybe_pause(c);
		if (it->kind != K_NONE)
			release(w, it);
		else if (xorshift64(&w->rng) % 16 == 0)
			take_coherent(w, it, seed);
		else
			take_mapping(w, it, seed);
	}
	/* Keep taking part in pauses until main stops everyone. */
	while (!flag(&c->stop)) {
		maybe_pause(c);
		tp_sleep_ms(1);
	}
	return NULL;
}

/* ------------------------------------------------------------ adder, reader */

static void *adder_main(void *arg)
{
	struct ctx *c = arg;
	unsigned ticks = 0;

	while (!flag(&c->stop)) {
		maybe_pause(c);
		tp_sleep_ms(5);
		if (++ticks % 10 || c->nadded == MAX_ADDED)
			continue;
		{
			size_t len = ADD_SLOTS * SLOT;
			uint64_t dma = ADD_DMA + ((uint64_t)c->nadded << 30);
			void *va = mmap(NULL, len, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			int err;

			if (va == MAP_FAILED) {
				fail_to(c->adder_failure, "mmap failed");
				return NULL;
			}
			err = iotlb_mem_add_pool(c->mem, va, dma, len);
			if (err) {
				fail_to(c->adder_failure, "add_pool %u: %s", c->nadded,
					iotlb_strerror(err));
				munmap(va, len);
				return NULL;
			}
			c->added[c->nadded++] = va;
			/* The same device range again, from other memory: refused. */
			err = iotlb_mem_add_pool(c->mem, c->spare, dma, len);
			if (err != -EINVAL)
				fail_to(c->adder_failure, "overlapping add_pool gave %d", err);
			c->add_refusals++;
		}
	}
	return NULL;
}

static void discard_line(void *ctx, const char *line)
{
	(void)ctx;
	(void)line;
}

/* Statistics never stop mapping; they are read all the time here. */
static void *reader_main(void *arg)
{
	struct ctx *c = arg;

	while (!flag(&c->stop)) {
		struct iotlb_stats s = IOTLB_STATS_INIT;
		struct iotlb_area_stats as = IOTLB_AREA_STATS_INIT;

		maybe_pause(c);
		if (iotlb_mem_stats(c->mem, &s) || iotlb_dev_stats(c->devs[1], &s))
			fail_to(c->reader_failure, "stats failed");
		if (iotlb_mem_area_stats(c->mem, 0, 1, &as))
			fail_to(c->reader_failure, "area stats of the first pool failed");
		if (as.cursor >= as.nslots)
			fail_to(c->reader_failure, "cursor %llu of %llu", (unsigned long long)as.cursor,
				(unsigned long long)as.nslots);
		if (c->reader_rounds % 64 == 0)
			iotlb_stats_print(c->mem, NULL, discard_line, NULL);
		c->reader_rounds++;
		tp_sleep_ms(1);
	}
	return NULL;
}

/* ------------------------------------------------------------ checks */

static int cmp_item(const void *a, const void *b)
{
	const struct item *x = *(const struct item *const *)a;
	const struct item *y = *(const struct item *const *)b;

	return x->dma < y->dma ? -1 : x->dma > y->dma;
}

/*
 * With every thread paused: the invariant checker passes (under the writer
 * lock, so the growth worker cannot publish a pool meanwhile), used equals
 * what the live items occupy, no two items overlap, every bounce is intact.
 */
static void check_quiescent(struct ctx *c, const char *when)
{
	struct item *all[NMAPPERS * LIVE];
	struct iotlb_stats s = IOTLB_STATS_INIT;
	uint64_t used = 0;
	unsigned n = 0;
	char why[256] = "";
	int err;

	pthread_mutex_lock(&c->mem->writer_lock);
	err = iotlb__check_mem(c->mem, why, sizeof(why));
	pthread_mutex_unlock(&c->mem->writer_lock);
	if (err)
		fail_msg("%s: invariant check: %s", when, why);

	for (unsigned t = 0; t < NMAPPERS; t++)
		for (unsigned j = 0; j < LIVE; j++)
			if (c->m[t].live[j].kind != K_NONE) {
				all[n++] = &c->m[t].live[j];
				used += c->m[t].live[j].nslots;
			}
	assert_int_equal(iotlb_mem_stats(c->mem, &s), 0);
	if (s.used != used)
		fail_msg("%s: stats used %llu, live items occupy %llu", when,
			 (unsigned long long)s.used, (unsigned long long)used);
	qsort(all, n, sizeof(all[0]), cmp_item);
	for (unsigned i = 1; i < n; i++)
		if (all[i - 1]->dma + all[i - 1]->size > all[i]->dma)
			fail_msg("%s: live %#llx+%zu and %#llx+%zu overlap", when,
				 (unsigned long long)all[i - 1]->dma, all[i - 1]->size,
				 (unsigned long long)all[i]->dma, all[i]->size);
	for (unsigned i = 0; i < n; i++) {
		const unsigned char *b = iotlb_dma_to_virt(all[i]->dev, all[i]->dma);

		if (!b || pattern_check(b, all[i]->size, all[i]->seed) != all[i]->size)
			fail_msg("%s: live %#llx+%zu lost its bytes", when,
				 (unsigned long long)all[i]->dma, all[i]->size);
	}
}

static void check_failures(struct ctx *c)
{
	for (unsigned t = 0; t < NMAPPERS; t++)
		if (c->m[t].failure[0])
			fail_msg("mapper %u: %s", t, c->m[t].failure);
	if (c->adder_failure[0])
		fail_msg("adder: %s", c->adder_failure);
	if (c->reader_failure[0])
		fail_msg("reader: %s", c->reader_failure);
}

/* Maps until a transient pool serves one, so growth happens at least once. */
static void force_growth(struct ctx *c, unsigned char *orig)
{
	uint64_t dma[3];

	/* 256 slots in 2 areas of 128: two whole-segment maps fill the mem. */
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(iotlb_map(c->devs[0], (int)i, orig, SEG_BYTES, IOTLB_TO_DEVICE, 0,
					   &dma[i]),
				 0);
	assert_true(dma[2] >= PROVIDER_DMA);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(iotlb_unmap(c->devs[0], dma[i], SEG_BYTES, IOTLB_TO_DEVICE, 0), 0);
}

static void test_maps_grow_and_add_pools_concurrently(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct iotlb_mem_config cfg = IOTLB_MEM_CONFIG_INIT;
	unsigned phases = PHASES_NORMAL;
	uint64_t maps = 0, unmaps = 0, allocs = 0, frees = 0, syncs = 0;
	struct iotlb_stats s = IOTLB_STATS_INIT;
	char why[256] = "", when[32];
	unsigned char *region;
	struct tp_counts tc;

	(void)state;
	if (test_scale_reduced())
		phases = PHASES_SANITIZED;
	assert_non_null(c);
	tp_init(&c->tp, PROVIDER_DMA);
	region = mmap(NULL, INIT_SLOTS * SLOT, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(region != MAP_FAILED);
	c->spare = mmap(NULL, ADD_SLOTS * SLOT, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(c->spare != MAP_FAILED);
	cfg.vaddr = region;
	cfg.dma_addr = INIT_DMA;
	cfg.size = INIT_SLOTS * SLOT;
	cfg.nareas = 4;
	cfg.lock = IOTLB_LOCK_MUTEX;
	cfg.select = IOTLB_SELECT_THREAD;
	cfg.flags = IOTLB_MEM_GROW;
	cfg.region_ops = &tp_ops;
	cfg.region_ctx = &c->tp;
	cfg.grow_size = GROW_SLOTS * SLOT;
	assert_int_equal(iotlb_mem_create(&cfg, &c->mem), 0);
	for (unsigned d = 0; d < NDEVS; d++) {
		struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;

		c->min_align[d] = d == 0 ? 0 : d == 1 ? 0x7ff : 0xfff;
		dc.min_align_mask = c->min_align[d];
		assert_int_equal(iotlb_dev_create(c->mem, &dc, &c->devs[d]), 0);
	}

	for (unsigned t = 0; t < NMAPPERS; t++) {
		c->m[t].c = c;
		c->m[t].id = t;
		c->m[t].rng = 0x2545f4914f6cdd1dull * (t + 1);
		c->m[t].buf = malloc((size_t)LIVE * BUF_STRIDE);
		assert_non_null(c->m[t].buf);
	}
	force_growth(c, c->m[0].buf);

	/* mappers + adder + reader + main */
	pthread_barrier_init(&c->paused, NULL, NMAPPERS + 3);
	pthread_barrier_init(&c->resume, NULL, NMAPPERS + 3);
	for (unsigned t = 0; t < NMAPPERS; t++)
		assert_int_equal(pthread_create(&c->m[t].tid, NULL, mapper_main, &c->m[t]), 0);
	assert_int_equal(pthread_create(&c->adder, NULL, adder_main, c), 0);
	assert_int_equal(pthread_create(&c->reader, NULL, reader_main, c), 0);

	for (unsigned p = 0; p < phases; p++) {
		tp_sleep_ms(PHASE_MS);
		__atomic_store_n(&c->pause_req, 1, __ATOMIC_RELEASE);
		pthread_barrier_wait(&c->paused);
		__atomic_store_n(&c->pause_req, 0, __ATOMIC_RELEASE);
		snprintf(when, sizeof(when), "pause %u", p);
		check_quiescent(c, when);
		pthread_barrier_wait(&c->resume);
	}
	__atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
	for (unsigned t = 0; t < NMAPPERS; t++)
		assert_int_equal(pthread_join(c->m[t].tid, NULL), 0);
	assert_int_equal(pthread_join(c->adder, NULL), 0);
	assert_int_equal(pthread_join(c->reader, NULL), 0);
	check_failures(c);
	check_quiescent(c, "end");

	for (unsigned t = 0; t < NMAPPERS; t++) {
		for (unsigned j = 0; j < LIVE; j++)
			if (c->m[t].live[j].kind != K_NONE)
				release(&c->m[t], &c->m[t].live[j]);
		if (c->m[t].failure[0])
			fail_msg("mapper %u, final release: %s", t, c->m[t].failure);
		maps += c->m[t].maps;
		unmaps += c->m[t].unmaps;
		allocs += c->m[t].allocs;
		frees += c->m[t].frees;
		syncs += c->m[t].syncs;
	}
	assert_int_equal(maps, unmaps);
	assert_int_equal(allocs, frees);

	/* Everything released: transient pools go back after their grace period. */
	assert_true(TP_WAIT_FOR(iotlb_mem_stats(c->mem, &s) == 0 && s.transient_nslots == 0));
	check_quiescent(c, "released");
	assert_int_equal(s.used, 0);
	assert_int_equal(s.maps, maps + 3);   /* force_growth's three */
	assert_int_equal(s.unmaps, unmaps + 3);
	assert_int_equal(s.allocs, allocs);
	assert_int_equal(s.frees, frees);
	assert_int_equal(s.map_fail_nospace, 0);
	assert_int_equal(s.map_fail_too_big, 0);
	assert_true(s.transient_pools >= 1);
	assert_true(s.grow_attempts >= 1);
	assert_int_equal(s.grow_failures, 0);
	tc = tp_counts(&c->tp);
	assert_int_equal(tc.bad_frees, 0);
	/* Live regions now: the grown pools only (npools = 1 + grown + added). */
	assert_int_equal(tc.live, s.npools - 1 - c->nadded);
	print_message("grow stress: %u phases, %llu maps, %llu allocs, %llu syncs, %llu pools "
		      "(%u added), %llu transient pools, %u provider regions, %llu stats reads\n",
		      phases, (unsigned long long)maps, (unsigned long long)allocs,
		      (unsigned long long)syncs, (unsigned long long)s.npools, c->nadded,
		      (unsigned long long)s.transient_pools, tc.allocs,
		      (unsigned long long)c->reader_rounds);

	for (unsigned d = 0; d < NDEVS; d++)
		assert_int_equal(iotlb_dev_destroy(c->devs[d]), 0);
	assert_int_equal(iotlb_mem_destroy(c->mem), 0);
	if (tp_all_returned_once(&c->tp, why, sizeof(why)))
		fail_msg("provider after destroy: %s", why);

	pthread_barrier_destroy(&c->paused);
	pthread_barrier_destroy(&c->resume);
	for (unsigned i = 0; i < c->nadded; i++)
		munmap(c->added[i], ADD_SLOTS * SLOT);
	for (unsigned t = 0; t < NMAPPERS; t++)
		free(c->m[t].buf);
	munmap(region, INIT_SLOTS * SLOT);
	munmap(c->spare, ADD_SLOTS * SLOT);
	tp_fini(&c->tp);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_grow_and_add_pools_concurrently),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
