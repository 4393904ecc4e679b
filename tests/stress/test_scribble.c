/* SPDX-License-Identifier: MIT */
/*
 * The hostile host: the bounce region is writable by the other side, so its
 * bytes may change at any moment. These tests scribble over the whole region
 * while mappings come and go and prove that only mapped data is affected:
 * the allocator's metadata, its placement decisions and its refusals do not
 * depend on what the region holds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#define DMA_BASE 0x40000000ull
#define SEG_BYTES 262144u   /* default segment: 128 slots of 2 KiB */
#define NAREAS 4u
#define NDEVS 4u
#define NLIVE 12u           /* live mappings per mapper / script */
#define GUARD 4096u         /* canary bytes on each side of an original */
#define MAX_MAP (SEG_BYTES + 4096u) /* a little beyond what can ever fit */
#define SLAB (GUARD + 4096u + MAX_MAP + GUARD)
#define CANARY 0x5a
#define NMAPPERS 3u
#define COHERENT_MAX 65536u  /* coherent allocations: up to 16 pages */

/* ------------------------------------------------------------ helpers */

static bool reduced_scale(void)
{
	const char *s = getenv("IOTLB_TEST_SCALE");

	return s && (!strcmp(s, "asan") || !strcmp(s, "tsan"));
}

static uint64_t rnd(uint64_t *state)
{
	/* splitmix64: cheap, and good enough to pick sizes and bytes */
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t *state, uint64_t n)
{
	return rnd(state) % n;
}

static void *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

/*
 * Device constraints the mappings use: plain, the two common min-align
 * masks, and one with an allocation alignment and a 256 KiB boundary.
 */
static const struct {
	uint64_t min_align, alloc_align, boundary;
} dev_shapes[NDEVS] = {
	{ 0, 0, 0 },
	{ 0x7ff, 0, 0 },
	{ 0xfff, 0, 0 },
	{ 0x3, 0xfff, 0x3ffff },
};

struct inst {
	const char *name;
	unsigned char *region;
	size_t region_size;
	unsigned char *arena;   /* NLIVE slabs for originals, page aligned */
	struct iotlb_mem *mem;
	struct iotlb_dev *dev[NDEVS];
};

static void inst_create(struct inst *in, const char *name, size_t region_size)
{
	struct iotlb_mem_config c = IOTLB_MEM_CONFIG_INIT;

	memset(in, 0, sizeof(*in));
	in->name = name;
	in->region_size = region_size;
	in->region = map_anon(region_size);
	in->arena = map_anon((size_t)NLIVE * SLAB);
	c.vaddr = in->region;
	c.dma_addr = DMA_BASE; /* equal for every instance: placement depends on it */
	c.size = region_size;
	c.nareas = NAREAS;
	/*
	 * Coherent allocations take no queue; with the default CPU policy their
	 * area would follow the CPU the test happens to run on. Round robin
	 * makes the area a function of the call sequence, equal in lockstep.
	 */
	c.select = IOTLB_SELECT_ROUND_ROBIN;
	assert_int_equal(iotlb_mem_create(&c, &in->mem), 0);
	/* Created in the same order everywhere, so owner ids match too. */
	for (unsigned d = 0; d < NDEVS; d++) {
		struct iotlb_dev_config dc = IOTLB_DEV_CONFIG_INIT;

		dc.min_align_mask = dev_shapes[d].min_align;
		dc.alloc_align_mask = dev_shapes[d].alloc_align;
		dc.seg_boundary_mask = dev_shapes[d].boundary;
		assert_int_equal(iotlb_dev_create(in->mem, &dc, &in->dev[d]), 0);
	}
}

static void inst_destroy(struct inst *in)
{
	for (unsigned d = 0; d < NDEVS; d++)
		assert_int_equal(iotlb_dev_destroy(in->dev[d]), 0);
	assert_int_equal(iotlb_mem_destroy(in->mem), 0);
	munmap(in->arena, (size_t)NLIVE * SLAB);
	munmap(in->region, in->region_size);
}

static struct iotlb__pool *inst_pool(const struct inst *in)
{
	struct iotlb__pool *pool = in->mem->shared.pools;

	assert_non_null(pool);
	assert_null(pool->next); /* these tests use a single pool */
	return pool;
}

static void assert_consistent(const struct inst *in, const char *when)
{
	char why[256] = "";

	if (iotlb__check_mem(in->mem, why, sizeof(why)) != 0)
		fail_msg("%s: invariant broken %s: %s", in->name, when, why);
}

/* Originals: slab j, starting `off` bytes past the leading guard. */
static unsigned char *orig_at(const struct inst *in, unsigned j, size_t off)
{
	return in->arena + (size_t)j * SLAB + GUARD + off;
}

/* Canaries around [orig, orig + size) inside slab j. */
static void guards_set(const struct inst *in, unsigned j, size_t off, size_t size)
{
	unsigned char *slab = in->arena + (size_t)j * SLAB;

	memset(slab, CANARY, GUARD + off);
	memset(slab + GUARD + off + size, CANARY, SLAB - (GUARD + off + size));
}

static bool guards_intact(const struct inst *in, unsigned j, size_t off, size_t size)
{
	const unsigned char *slab = in->arena + (size_t)j * SLAB;

	for (size_t i = 0; i < GUARD + off; i++)
		if (slab[i] != CANARY)
			return false;
	/* Only the bytes right behind the buffer: a copy runs past the end there. */
	for (size_t i = GUARD + off + size; i < GUARD + off + size + GUARD && i < SLAB; i++)
		if (slab[i] != CANARY)
			return false;
	return true;
}

static bool all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* A size: mostly small, some large, a few that can never fit. */
static size_t pick_size(uint64_t *rng)
{
	uint64_t r = rnd_below(rng, 100);

	if (r < 50)
		return 1 + (size_t)rnd_below(rng, 4096);
	if (r < 80)
		return 4097 + (size_t)rnd_below(rng, 28672);
	if (r < 97)
		return 32769 + (size_t)rnd_below(rng, SEG_BYTES - 32768);
	return SEG_BYTES - 4096 + (size_t)rnd_below(rng, 8193);
}

/* Map errors allowed for a request: -ENOSPC any time, -E2BIG by size. */
static bool map_result_allowed(struct iotlb_dev *dev, size_t size, int err)
{
	if (size > SEG_BYTES)
		return err == -E2BIG;
	if (err == -E2BIG)
		return size > iotlb_max_mapping_size(dev);
	return err == 0 || err == -ENOSPC;
}

/* ------------------------------------------------------------ the scribbler */

/*
 * Writes random bytes (and runs of 0x00 / 0xff) over the whole region until
 * told to stop. Relaxed atomic stores keep the test itself free of undefined
 * behaviour; the library's own copies race with them on purpose, as a real
 * host's writes would.
 */
struct scribbler {
	uint64_t *words;
	size_t nwords;
	uint64_t seed;
	int stop;        /* atomic */
	uint64_t passes; /* atomic, for the report */
};

static void scribble_pass(uint64_t *words, size_t nwords, uint64_t *rng)
{
	switch (rnd_below(rng, 4)) {
	case 0: /* every word random */
		for (size_t i = 0; i < nwords; i++)
			__atomic_store_n(&words[i], rnd(rng), __ATOMIC_RELAXED);
		break;
	case 1:
	case 2: { /* a whole-region fill, as a memset would do */
		uint64_t v = rnd_below(rng, 2) ? 0 : UINT64_MAX;

		for (size_t i = 0; i < nwords; i++)
			__atomic_store_n(&words[i], v, __ATOMIC_RELAXED);
		break;
	}
	default: /* scattered single bytes */
		for (size_t i = 0; i < nwords / 8; i++) {
			size_t at = (size_t)rnd_below(rng, nwords * 8);

			__atomic_store_n((unsigned char *)words + at, (unsigned char)rnd(rng),
					 __ATOMIC_RELAXED);
		}
		break;
	}
}

static void *scribbler_main(void *arg)
{
	struct scribbler *s = arg;
	uint64_t rng = s->seed;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		scribble_pass(s->words, s->nwords, &rng);
		__atomic_fetch_add(&s->passes, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void scribbler_start(struct scribbler *s, pthread_t *tid, const struct inst *in,
			    uint64_t seed)
{
	s->words = (uint64_t *)(void *)in->region;
	s->nwords = in->region_size / sizeof(uint64_t);
	s->seed = seed;
	s->stop = 0;
	s->passes = 0;
	assert_int_equal(pthread_create(tid, NULL, scribbler_main, s), 0);
}

static void scribbler_stop(struct scribbler *s, pthread_t tid)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
	assert_int_equal(pthread_join(tid, NULL), 0);
}

/* ------------------------------------------------------------ mapper threads */

struct live {
	bool used;
	bool coherent;
	unsigned dev;
	size_t size, off;
	enum iotlb_dir dir;
	unsigned char fill;  /* what a TO_DEVICE original holds */
	uint64_t dma;
	void *vaddr;         /* coherent allocations */
};

/* What a mapper saw; every "bad" counter must stay 0. */
struct mapper_result {
	uint64_t maps, nospace, too_big, allocs, alloc_nospace;
	uint64_t unmaps, frees, syncs, bogus_refused;
	uint64_t bad_map_err, bad_unmap_enoent, bad_unmap_err, bad_free, bad_sync;
	uint64_t bad_align, bad_range, bad_guard, bad_to_device_copy_back, bad_bogus_unmap;
	char first_problem[160];
};

struct mapper {
	pthread_t tid;
	struct inst *in;    /* shared mem and devices; arena slice below */
	unsigned index;
	unsigned iters;
	uint64_t seed;
	struct live live[NLIVE];
	struct mapper_result r;
};

#define BAD(m, field, ...)                                                              \
	do {                                                                            \
		if (!(m)->r.first_problem[0])                                           \
			snprintf((m)->r.first_problem, sizeof((m)->r.first_problem),     \
				 __VA_ARGS__);                                          \
		(m)->r.field++;                                                         \
	} while (0)

/* Each mapper owns NLIVE / NMAPPERS slabs of the shared arena. */
static unsigned mapper_slab(const struct mapper *m, unsigned j)
{
	return m->index * (NLIVE / NMAPPERS) + j;
}

static void check_handle(struct mapper *m, struct iotlb_dev *dev, unsigned d, uint64_t dma,
			 const void *orig, size_t size)
{
	uint64_t mask = dev_shapes[d].min_align;

	if ((dma & mask) != ((uintptr_t)orig & mask))
		BAD(m, bad_align, "dev %u: dma %#llx for orig %p", d, (unsigned long long)dma,
		    orig);
	if (dma < DMA_BASE || dma + size > DMA_BASE + m->in->region_size ||
	    iotlb_dma_to_virt(dev, dma) != m->in->region + (dma - DMA_BASE))
		BAD(m, bad_range, "dev %u: dma %#llx size %zu outside the region", d,
		    (unsigned long long)dma, size);
}

static void mapper_map(struct mapper *m, uint64_t *rng, unsigned j)
{
	struct live *l = &m->live[j];
	unsigned slab = mapper_slab(m, j);
	unsigned d = (unsigned)rnd_below(rng, NDEVS);
	struct iotlb_dev *dev = m->in->dev[d];
	int queue = rnd_below(rng, 2) ? IOTLB_ANY_QUEUE : (int)rnd_below(rng, 8);
	bool coherent = rnd_below(rng, 10) == 0;
	size_t off = (size_t)rnd_below(rng, 4096);
	size_t size = coherent ? 1 + (size_t)rnd_below(rng, COHERENT_MAX) : pick_size(rng);
	unsigned char *orig = orig_at(m->in, slab, off);
	int err;

	*l = (struct live){ .dev = d, .off = off, .size = size };
	guards_set(m->in, slab, off, size);
	if (coherent) {
		/* A coherent allocation now and then: no original, nothing copied. */
		err = iotlb_alloc(dev, size, &l->vaddr, &l->dma);
		if (err == -ENOSPC) {
			m->r.alloc_nospace++;
			return;
		}
		if (err) {
			BAD(m, bad_map_err, "alloc %zu on dev %u: %d", size, d, err);
			return;
		}
		m->r.allocs++;
		check_handle(m, dev, 0, l->dma, orig, size); /* no min-align promise */
		l->coherent = true;
		l->used = true;
		return;
	}
	l->dir = (enum iotlb_dir)rnd_below(rng, 3);
	l->fill = (unsigned char)rnd(rng);
	memset(orig, l->fill, size);
	err = iotlb_map(dev, queue, orig, size, l->dir, IOTLB_ATTR_NO_WARN, &l->dma);
	if (!map_result_allowed(dev, size, err)) {
		BAD(m, bad_map_err, "map %zu on dev %u: %d", size, d, err);
		return;
	}
	if (err == -ENOSPC)
		m->r.nospace++;
	if (err == -E2BIG)
		m->r.too_big++;
	if (err)
		return;
	m->r.maps++;
	check_handle(m, dev, d, l->dma, orig, size);
	l->used = true;
}

/* Addresses that are not live handles must be refused, scribbled or not. */
static void mapper_bogus_unmap(struct mapper *m, uint64_t *rng, const struct live *l)
{
	struct iotlb_dev *dev = m->in->dev[l->dev];
	struct iotlb_dev *other = m->in->dev[(l->dev + 1) % NDEVS];
	int err;

	/* dma + 1 lies in this mapping's own data only when it holds 2 bytes or more. */
	if (l->size > 1 && rnd_below(rng, 2))
		err = iotlb_unmap(dev, l->dma + 1, l->size, l->dir, 0); /* inside the mapping */
	else
		err = iotlb_unmap(other, l->dma, l->size, l->dir, 0); /* another device's */
	if (err != -ENOENT)
		BAD(m, bad_bogus_unmap, "bogus unmap near %#llx: %d",
		    (unsigned long long)l->dma, err);
	else
		m->r.bogus_refused++;
}

static void mapper_sync(struct mapper *m, uint64_t *rng, const struct live *l)
{
	struct iotlb_dev *dev = m->in->dev[l->dev];
	/* A partial range inside the mapping: never past its end. */
	size_t from = (size_t)rnd_below(rng, l->size);
	size_t len = 1 + (size_t)rnd_below(rng, l->size - from);
	int err;

	if (rnd_below(rng, 2))
		err = iotlb_sync_for_cpu(dev, l->dma + from, len, l->dir);
	else
		err = iotlb_sync_for_device(dev, l->dma + from, len, l->dir);
	if (err)
		BAD(m, bad_sync, "sync %#llx+%zu len %zu: %d", (unsigned long long)l->dma, from,
		    len, err);
	else
		m->r.syncs++;
}

static void mapper_release(struct mapper *m, unsigned j)
{
	struct live *l = &m->live[j];
	unsigned slab = mapper_slab(m, j);
	struct iotlb_dev *dev = m->in->dev[l->dev];
	int err;

	if (l->coherent) {
		err = iotlb_free(dev, l->dma, l->size);
		if (err)
			BAD(m, bad_free, "free %#llx: %d", (unsigned long long)l->dma, err);
		else
			m->r.frees++;
	} else {
		err = iotlb_unmap(dev, l->dma, l->size, l->dir, 0);
		if (err == -ENOENT)
			BAD(m, bad_unmap_enoent, "live handle %#llx refused",
			    (unsigned long long)l->dma);
		else if (err)
			BAD(m, bad_unmap_err, "unmap %#llx: %d", (unsigned long long)l->dma, err);
		else
			m->r.unmaps++;
		/* TO_DEVICE copies nothing back: scribbles must not reach the original. */
		if (l->dir == IOTLB_TO_DEVICE &&
		    !all_bytes(orig_at(m->in, slab, l->off), l->size, l->fill))
			BAD(m, bad_to_device_copy_back, "TO_DEVICE original %#llx changed",
			    (unsigned long long)l->dma);
	}
	/* A copy back never writes outside the original, whatever the bounce holds. */
	if (!guards_intact(m->in, slab, l->off, l->size))
		BAD(m, bad_guard, "guard around %#llx (size %zu) overwritten",
		    (unsigned long long)l->dma, l->size);
	l->used = false;
}

static void *mapper_main(void *arg)
{
	struct mapper *m = arg;
	uint64_t rng = m->seed;
	const unsigned nlive = NLIVE / NMAPPERS;

	for (unsigned it = 0; it < m->iters; it++) {
		unsigned j = (unsigned)rnd_below(&rng, nlive);
		struct live *l = &m->live[j];

		if (!l->used) {
			mapper_map(m, &rng, j);
			continue;
		}
		if (!l->coherent && rnd_below(&rng, 4) == 0)
			mapper_sync(m, &rng, l);
		if (!l->coherent && rnd_below(&rng, 16) == 0)
			mapper_bogus_unmap(m, &rng, l);
		mapper_release(m, j);
	}
	for (unsigned j = 0; j < nlive; j++)
		if (m->live[j].used)
			mapper_release(m, j);
	return NULL;
}

static void assert_mapper_clean(const struct mapper *m)
{
	const struct mapper_result *r = &m->r;

	if (r->bad_map_err || r->bad_unmap_enoent || r->bad_unmap_err || r->bad_free ||
	    r->bad_sync || r->bad_align || r->bad_range || r->bad_guard ||
	    r->bad_to_device_copy_back || r->bad_bogus_unmap)
		fail_msg("mapper %u: map_err %llu unmap_enoent %llu unmap_err %llu free %llu "
			 "sync %llu align %llu range %llu guard %llu to_device_copy_back %llu "
			 "bogus_unmap %llu; first: %s",
			 m->index, (unsigned long long)r->bad_map_err,
			 (unsigned long long)r->bad_unmap_enoent,
			 (unsigned long long)r->bad_unmap_err, (unsigned long long)r->bad_free,
			 (unsigned long long)r->bad_sync, (unsigned long long)r->bad_align,
			 (unsigned long long)r->bad_range, (unsigned long long)r->bad_guard,
			 (unsigned long long)r->bad_to_device_copy_back,
			 (unsigned long long)r->bad_bogus_unmap, r->first_problem);
}

/* ------------------------------------------------------------ lockstep scripts */

/*
 * A fixed script of maps, allocations, syncs and releases applied to several
 * instances in lockstep. The first instance is the reference; after every
 * operation the others must return the same results and hold the same
 * metadata (free runs, per-slot records, cursors, used counts).
 */
enum fill_mode {
	FILL_NONE = -1,       /* the reference: nobody touches the region */
	FILL_RANDOM = 256,    /* random bytes between operations */
	FILL_CONCURRENT = 257 /* a scribbler thread runs throughout */
};

struct step_live {
	bool used, coherent;
	unsigned dev;
	unsigned map_step;     /* the originals hold orig_byte(map_step, i) */
	size_t size, off;
	enum iotlb_dir dir;
	uint64_t dma;
};

static void fill_region(struct inst *in, int mode, uint64_t *rng)
{
	if (mode == FILL_NONE || mode == FILL_CONCURRENT)
		return;
	if (mode == FILL_RANDOM) {
		uint64_t *w = (uint64_t *)(void *)in->region;

		for (size_t i = 0; i < in->region_size / sizeof(*w); i++)
			w[i] = rnd(rng);
	} else {
		memset(in->region, mode, in->region_size);
	}
}

static void assert_same_state(const struct inst *ref, const struct inst *in, unsigned step,
			      bool cursors)
{
	const struct iotlb__pool *a = inst_pool(ref), *b = inst_pool(in);
	struct iotlb_stats sa = IOTLB_STATS_INIT, sb = IOTLB_STATS_INIT;

	assert_int_equal(a->nslots, b->nslots);
	assert_int_equal(a->nareas, b->nareas);
	for (uint64_t i = 0; i < a->nslots; i++) {
		const struct iotlb__slot *x = &a->slots[i], *y = &b->slots[i];
		uint64_t xo = x->orig ? x->orig - (uintptr_t)ref->arena : 0;
		uint64_t yo = y->orig ? y->orig - (uintptr_t)in->arena : 0;

		if (a->list[i] != b->list[i] || x->kind != y->kind || x->owner != y->owner ||
		    x->alloc_size != y->alloc_size || x->pad_slots != y->pad_slots || xo != yo)
			fail_msg("step %u, %s vs %s, slot %llu: list %u/%u kind %u/%u owner %u/%u "
				 "alloc_size %lld/%lld pad %u/%u orig+%llu/+%llu",
				 step, ref->name, in->name, (unsigned long long)i, a->list[i],
				 b->list[i], x->kind, y->kind, x->owner, y->owner,
				 (long long)x->alloc_size, (long long)y->alloc_size, x->pad_slots,
				 y->pad_slots, (unsigned long long)xo, (unsigned long long)yo);
	}
	for (unsigned k = 0; k < a->nareas; k++) {
		const struct iotlb__area *x = iotlb__area_at(a, k), *y = iotlb__area_at(b, k);

		if ((cursors && x->index != y->index) || x->used != y->used)
			fail_msg("step %u, %s vs %s, area %u: cursor %llu/%llu used %llu/%llu",
				 step, ref->name, in->name, k, (unsigned long long)x->index,
				 (unsigned long long)y->index, (unsigned long long)x->used,
				 (unsigned long long)y->used);
	}
	assert_int_equal(iotlb_mem_stats(ref->mem, &sa), 0);
	assert_int_equal(iotlb_mem_stats(in->mem, &sb), 0);
	assert_int_equal(sa.used, sb.used);
}

static unsigned char orig_byte(unsigned step, size_t i)
{
	return (unsigned char)(i * 7u + step);
}

static bool holds_orig_bytes(const unsigned char *p, size_t n, unsigned step)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != orig_byte(step, i))
			return false;
	return true;
}

/* The bytes a pretend device writes into a FROM_DEVICE / BIDIRECTIONAL bounce. */
static unsigned char device_byte(unsigned step, size_t i)
{
	return (unsigned char)(step * 13u + i * 5u + 1u);
}

struct script {
	struct inst *in;
	const int *mode;
	unsigned ninst;
	struct step_live live[NLIVE];
	uint64_t rng;          /* drives the script: the same for every instance */
	uint64_t fill_rng[4];  /* drives FILL_RANDOM, per instance */
	unsigned char *before; /* bounce bytes just before an unmap */
	unsigned maps, nospace, too_big;
};

static void script_map(struct script *s, unsigned step, unsigned j)
{
	struct step_live *l = &s->live[j];
	unsigned d = (unsigned)rnd_below(&s->rng, NDEVS);
	int queue = (int)rnd_below(&s->rng, 8); /* explicit, to start in every area */
	bool coherent = rnd_below(&s->rng, 8) == 0;
	int err0 = 0;

	*l = (struct step_live){ .dev = d, .coherent = coherent, .map_step = step };
	l->off = (size_t)rnd_below(&s->rng, 4096);
	l->size = coherent ? 1 + (size_t)rnd_below(&s->rng, COHERENT_MAX) : pick_size(&s->rng);
	l->dir = (enum iotlb_dir)rnd_below(&s->rng, 3);

	for (unsigned k = 0; k < s->ninst; k++) {
		struct inst *in = &s->in[k];
		unsigned char *orig = orig_at(in, j, l->off);
		struct iotlb_dev *dev = in->dev[d];
		uint64_t dma = 0;
		void *va = NULL;
		int err;

		guards_set(in, j, l->off, l->size);
		for (size_t i = 0; i < l->size; i++)
			orig[i] = orig_byte(step, i);
		if (coherent)
			err = iotlb_alloc(dev, l->size, &va, &dma);
		else
			err = iotlb_map(dev, queue, orig, l->size, l->dir, IOTLB_ATTR_NO_WARN,
					&dma);
		if (k == 0) {
			err0 = err;
			l->dma = dma;
			if (coherent)
				assert_true(err == 0 || err == -ENOSPC);
			else if (!map_result_allowed(dev, l->size, err))
				fail_msg("step %u: map %zu on dev %u: %d", step, l->size, d, err);
		} else if (err != err0 || (!err && dma != l->dma)) {
			fail_msg("step %u, %s: %s %zu on dev %u gave %d %#llx, reference %d %#llx",
				 step, in->name, coherent ? "alloc" : "map", l->size, d, err,
				 (unsigned long long)dma, err0, (unsigned long long)l->dma);
		}
		if (err)
			continue;
		if (coherent) {
			assert_ptr_equal(va, in->region + (dma - DMA_BASE));
			if (s->mode[k] != FILL_CONCURRENT)
				assert_true(all_bytes(va, l->size, 0));
			continue;
		}
		assert_int_equal(dma & dev_shapes[d].min_align,
				 (uintptr_t)orig & dev_shapes[d].min_align);
		if (s->mode[k] == FILL_CONCURRENT)
			continue;
		/* The map copied the original in, over whatever the region held. */
		assert_memory_equal(in->region + (dma - DMA_BASE), orig, l->size);
		if (l->dir != IOTLB_TO_DEVICE)
			for (size_t i = 0; i < l->size; i++)
				in->region[dma - DMA_BASE + i] = device_byte(step, i);
	}
	l->used = err0 == 0;
	s->maps += err0 == 0;
	s->nospace += err0 == -ENOSPC;
	s->too_big += err0 == -E2BIG;
}

static void script_sync(struct script *s, unsigned step, unsigned j)
{
	struct step_live *l = &s->live[j];
	size_t from = (size_t)rnd_below(&s->rng, l->size);
	size_t len = 1 + (size_t)rnd_below(&s->rng, l->size - from);
	bool to_cpu = rnd_below(&s->rng, 2);

	for (unsigned k = 0; k < s->ninst; k++) {
		struct iotlb_dev *dev = s->in[k].dev[l->dev];
		int err = to_cpu ? iotlb_sync_for_cpu(dev, l->dma + from, len, l->dir)
				 : iotlb_sync_for_device(dev, l->dma + from, len, l->dir);

		if (err)
			fail_msg("step %u, %s: sync of a live mapping: %d", step, s->in[k].name,
				 err);
	}
}

static void script_release(struct script *s, unsigned step, unsigned j)
{
	struct step_live *l = &s->live[j];

	for (unsigned k = 0; k < s->ninst; k++) {
		struct inst *in = &s->in[k];
		struct iotlb_dev *dev = in->dev[l->dev];
		unsigned char *orig = orig_at(in, j, l->off);
		const unsigned char *bounce = in->region + (l->dma - DMA_BASE);
		bool racy = s->mode[k] == FILL_CONCURRENT;
		int err;

		if (l->coherent) {
			assert_int_equal(iotlb_free(dev, l->dma, l->size), 0);
		} else {
			if (!racy)
				memcpy(s->before, bounce, l->size);
			err = iotlb_unmap(dev, l->dma, l->size, l->dir, 0);
			if (err)
				fail_msg("step %u, %s: unmap of live %#llx: %d", step, in->name,
					 (unsigned long long)l->dma, err);
			/* Exactly the mapped bytes come back: what the bounce held. */
			if (!racy && l->dir != IOTLB_TO_DEVICE)
				assert_memory_equal(orig, s->before, l->size);
			/* TO_DEVICE copies nothing back, whatever the bounce holds. */
			if (l->dir == IOTLB_TO_DEVICE &&
			    !holds_orig_bytes(orig, l->size, l->map_step))
				fail_msg("step %u, %s: TO_DEVICE original changed", step, in->name);
		}
		if (!guards_intact(in, j, l->off, l->size))
			fail_msg("step %u, %s: guard around %#llx overwritten", step, in->name,
				 (unsigned long long)l->dma);
	}
	l->used = false;
}

/* Runs `nsteps` operations in lockstep, filling regions before each one. */
static void script_run(struct script *s, unsigned nsteps)
{
	s->before = malloc(MAX_MAP);
	assert_non_null(s->before);
	for (unsigned step = 0; step < nsteps + NLIVE; step++) {
		/* After nsteps, only releases: every script ends empty. */
		unsigned j = step < nsteps ? (unsigned)rnd_below(&s->rng, NLIVE) : step - nsteps;

		for (unsigned k = 0; k < s->ninst; k++)
			fill_region(&s->in[k], s->mode[k], &s->fill_rng[k]);
		if (!s->live[j].used) {
			if (step < nsteps)
				script_map(s, step, j);
		} else {
			if (step < nsteps && !s->live[j].coherent && rnd_below(&s->rng, 3) == 0) {
				script_sync(s, step, j);
				for (unsigned k = 0; k < s->ninst; k++)
					fill_region(&s->in[k], s->mode[k], &s->fill_rng[k]);
			}
			script_release(s, step, j);
		}
		for (unsigned k = 0; k < s->ninst; k++) {
			assert_consistent(&s->in[k], "during the script");
			if (k)
				assert_same_state(&s->in[0], &s->in[k], step, true);
		}
	}
	free(s->before);
}

/* ------------------------------------------------------------ tests */

/*
 * Mapper threads map, sync and release at random on four devices while a
 * scribbler thread overwrites the whole region. Afterwards the allocator is
 * consistent, empty, and places a fixed script exactly where a mem that was
 * never scribbled on places it.
 */
static void test_scribbling_host_leaves_allocator_state_intact(void **state)
{
	const size_t region_size = 4u << 20;
	struct inst in[2];
	struct mapper *m;
	struct scribbler sc;
	pthread_t sc_tid;
	struct iotlb_stats st = IOTLB_STATS_INIT;
	uint64_t maps = 0, unmaps = 0, nospace = 0, too_big = 0, allocs = 0, frees = 0;
	uint64_t alloc_nospace = 0, bogus = 0;
	unsigned iters = reduced_scale() ? 3000 : 25000;
	(void)state;

	inst_create(&in[0], "scribbled", region_size);
	m = calloc(NMAPPERS, sizeof(*m));
	assert_non_null(m);

	scribbler_start(&sc, &sc_tid, &in[0], 0xfeedface);
	for (unsigned i = 0; i < NMAPPERS; i++) {
		m[i].in = &in[0];
		m[i].index = i;
		m[i].iters = iters;
		m[i].seed = 0x1234 + i * 0x9876543ull;
		assert_int_equal(pthread_create(&m[i].tid, NULL, mapper_main, &m[i]), 0);
	}
	for (unsigned i = 0; i < NMAPPERS; i++)
		assert_int_equal(pthread_join(m[i].tid, NULL), 0);
	scribbler_stop(&sc, sc_tid);

	for (unsigned i = 0; i < NMAPPERS; i++) {
		assert_mapper_clean(&m[i]);
		maps += m[i].r.maps;
		unmaps += m[i].r.unmaps;
		nospace += m[i].r.nospace;
		too_big += m[i].r.too_big;
		allocs += m[i].r.allocs;
		frees += m[i].r.frees;
		alloc_nospace += m[i].r.alloc_nospace;
		bogus += m[i].r.bogus_refused;
	}
	print_message("scribbler: %llu passes; %llu maps, %llu allocs, %llu ENOSPC, %llu E2BIG, "
		      "%llu bogus unmaps refused\n",
		      (unsigned long long)sc.passes, (unsigned long long)maps,
		      (unsigned long long)allocs, (unsigned long long)(nospace + alloc_nospace),
		      (unsigned long long)too_big, (unsigned long long)bogus);
	/* The run must really have overlapped mappings with scribbling. */
	assert_true(sc.passes > 0);
	assert_true(maps > 0);

	assert_consistent(&in[0], "after the threaded run");
	assert_int_equal(iotlb_mem_stats(in[0].mem, &st), 0);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.maps, maps);
	assert_int_equal(st.unmaps, unmaps);
	assert_int_equal(st.allocs, allocs);
	assert_int_equal(st.frees, frees);
	assert_int_equal(st.map_fail_nospace, nospace + alloc_nospace);
	assert_int_equal(st.map_fail_too_big, too_big);
	assert_int_equal(maps, unmaps);
	assert_int_equal(allocs, frees);

	/*
	 * The metadata is that of a fresh mem: same free runs, every slot free.
	 * Only the cursors (and the round-robin counter) are where the threads'
	 * interleaving left them; the fresh mem is given the same values
	 * (metadata, not region contents), then both run one script, the
	 * scribbled one under fire again.
	 */
	inst_create(&in[1], "fresh", region_size);
	assert_same_state(&in[1], &in[0], 0, false);
	for (unsigned k = 0; k < inst_pool(&in[0])->nareas; k++)
		iotlb__area_at(inst_pool(&in[1]), k)->index =
			iotlb__area_at(inst_pool(&in[0]), k)->index;
	in[1].mem->rr_counter = in[0].mem->rr_counter;
	{
		static const int modes[2] = { FILL_NONE, FILL_CONCURRENT };
		struct inst pair[2] = { in[1], in[0] };
		struct script s = { .in = pair, .mode = modes, .ninst = 2, .rng = 77 };

		scribbler_start(&sc, &sc_tid, &in[0], 0xabcdef);
		script_run(&s, reduced_scale() ? 200 : 800);
		scribbler_stop(&sc, sc_tid);
		assert_true(s.maps > 0);
	}
	assert_consistent(&in[0], "after the replay");
	assert_int_equal(iotlb_mem_stats(in[0].mem, &st), 0);
	assert_int_equal(st.used, 0);

	inst_destroy(&in[1]);
	inst_destroy(&in[0]);
	free(m);
}

/*
 * Single-threaded and deterministic: one script on four mems, the region
 * filled with 0x00, 0xff or random bytes before every operation on three of
 * them. Handles, free runs, slot records and cursors match the untouched
 * reference after every step; unmaps copy back exactly the bounce bytes.
 */
static void test_region_contents_never_change_placement(void **state)
{
	static const int modes[4] = { FILL_NONE, 0x00, 0xff, FILL_RANDOM };
	static const char *const names[4] = { "untouched", "zeroed", "ones", "random" };
	struct inst in[4];
	struct script s = { .in = in, .mode = modes, .ninst = 4, .rng = 2024 };
	(void)state;

	for (unsigned k = 0; k < 4; k++) {
		inst_create(&in[k], names[k], 512u << 10);
		s.fill_rng[k] = 1000 + k;
	}
	script_run(&s, reduced_scale() ? 250 : 600);
	print_message("script: %u maps/allocs served, %u ENOSPC, %u E2BIG\n", s.maps, s.nospace,
		      s.too_big);
	assert_true(s.maps > 0);
	assert_true(s.nospace > 0); /* the 512 KiB region was full at times */
	for (unsigned k = 0; k < 4; k++) {
		struct iotlb_stats st = IOTLB_STATS_INIT;

		assert_int_equal(iotlb_mem_stats(in[k].mem, &st), 0);
		assert_int_equal(st.used, 0);
		inst_destroy(&in[k]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_region_contents_never_change_placement),
		cmocka_unit_test(test_scribbling_host_leaves_allocator_state_intact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
